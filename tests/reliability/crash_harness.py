"""pvsync killed with SIGKILL at a named crash point, in its own process, against simulators
in two other processes that keep their data in state files.

Three kinds of process, as in production:
- the simulators: `pvsync simulate eboekhouden|perfectview --state FILE`; they outlive the
  engine and write every change to their state file before answering;
- the engine: a process forked by the launcher (`python -m tests.reliability.crash_harness`,
  see `launcher_main`) builds the real relations, invoices and payments jobs with a
  `crash_at` that kills the process (SIGKILL, no cleanup of any kind) the Nth time a named
  point is reached, and runs them once on ROOT/state with ROOT/config.toml, as `pvsync sync`
  does;
- the test (or the soak script), which builds the world, edits it through the services'
  APIs as people would, and checks the invariants (`check`) from the e-Boekhouden state file,
  PerfectView's API and the store.

A world is small on purpose (20 relations, 10 invoices by default) and its first run reaches
every crash point: new customers to create in e-Boekhouden, customers whose e-Boekhouden
record differs (updates), e-Boekhouden customers missing in PerfectView (imports), sent
invoices to book, and booked invoices paid in full (payments).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from core.model import MutatieSoort
from core.sync import invoices, payments, relations

REPO = Path(__file__).resolve().parents[2]
JOB_POINTS: dict[str, tuple[str, ...]] = {"relations": relations.CRASH_POINTS, "invoices": invoices.CRASH_POINTS,
                                          "payments": payments.CRASH_POINTS}
CRASH_POINTS = tuple(point for points in JOB_POINTS.values() for point in points)
# Every invoice is bookable (the demo leaves "BTW 0%" unmapped on purpose), and every
# e-Boekhouden relation counts as a customer, so the import path is taken.
WORLD_SETTINGS: dict[str, Any] = {"vat.NL.BTW 0%": {"btw_code": "BU_EU_VERK", "ledger": "8040"},
                                  "relations.import_from_eboekhouden": True, "relations.customers": "all"}


# --------------------------------------------------------------------------- the engine's process


class KillAt:
    """A `crash_at` hook: SIGKILL this process the `nth` time `point` is reached."""

    def __init__(self, point: str, nth: int = 1):
        if point not in CRASH_POINTS:
            raise ValueError(f"unknown crash point {point!r}; the points are {', '.join(CRASH_POINTS)}")
        self.point, self.nth, self.seen = point, nth, 0

    def __call__(self, reached: str) -> None:
        if reached == self.point:
            self.seen += 1
            if self.seen == self.nth:
                os.kill(os.getpid(), signal.SIGKILL)


def sync_jobs(crash_at: Callable[[str], None] | None = None) -> list[Any]:
    return [relations.RelationsJob(crash_at=crash_at), invoices.InvoicesJob(crash_at=crash_at),
            payments.PaymentsJob(crash_at=crash_at)]


def engine_main(root: Path, point: str | None, nth: int) -> None:
    """One forced run of the three jobs; prints its outcome as one JSON line."""
    from core.engine.engine import Engine

    engine = Engine(root / "state", root / "config.toml", mode="cli",
                    jobs=sync_jobs(KillAt(point, nth) if point else None))
    if not engine.acquire():
        raise engine.busy
    try:
        report = engine.run(trigger="forced")
    finally:
        engine.close()
    print(json.dumps({"outcome": report.outcome, "summary": report.summary_lines()}), flush=True)


def launcher_main() -> None:
    """Import pvsync once, then fork one engine process per request line on stdin and
    answer with one JSON line: how it ended (a signal, or its exit code) and its output.

    Forking a process that has already imported everything makes an engine start in
    milliseconds instead of half a second; the engine is still a process of its own that
    SIGKILL ends without any cleanup. The launcher itself runs no threads, so forking is safe.
    """
    import traceback

    import core.engine.engine  # noqa: F401  (the imports every engine process needs)
    import core.engine.services  # noqa: F401

    for line in sys.stdin:
        request = json.loads(line)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            os.dup2(write_end, 1)
            os.dup2(write_end, 2)
            code = 0
            try:
                engine_main(Path(request["root"]), request.get("crash"), request.get("nth", 1))
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.close(write_end)
        with os.fdopen(read_end, encoding="utf-8", errors="replace") as output:
            text = output.read()
        _, status = os.waitpid(pid, 0)
        signalled = os.WIFSIGNALED(status)
        print(json.dumps({"signal": os.WTERMSIG(status) if signalled else None,
                          "code": None if signalled else os.WEXITSTATUS(status), "output": text}), flush=True)


@dataclass(frozen=True)
class EngineExit:
    killed: bool
    outcome: str | None  # the run's outcome when it was not killed
    output: str


def clean_env() -> dict[str, str]:
    # The config file holds the (simulated) secrets; the environment must not override them.
    return {k: v for k, v in os.environ.items() if not k.startswith("PVSYNC_")}


class EngineLauncher:
    """The launcher process (see `launcher_main`); `run()` runs one engine. A context manager."""

    def __enter__(self) -> EngineLauncher:
        self.process = subprocess.Popen([sys.executable, "-m", "tests.reliability.crash_harness"], cwd=REPO,
                                        env=clean_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()

    def run(self, root: Path, crash: str | None = None, nth: int = 1) -> EngineExit:
        """One engine run on `root`, SIGKILLed the `nth` time it reaches `crash` (if given)."""
        self.process.stdin.write(json.dumps({"root": str(root), "crash": crash, "nth": nth}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the engine launcher died (exit {self.process.wait()})")
        answer = json.loads(line)
        if answer["signal"] == signal.SIGKILL:
            return EngineExit(True, None, answer["output"])
        if answer["code"] != 0:
            raise RuntimeError(f"the engine process failed ({answer}):\n{answer['output'][-3000:]}")
        return EngineExit(False, json.loads(answer["output"].strip().splitlines()[-1])["outcome"], answer["output"])


# --------------------------------------------------------------------------- the world


def build_world(root: Path, *, relations_count: int = 20, invoices_count: int = 10, seed: int = 7,
                api: str = "soap") -> None:
    """Simulator state files, config and an empty state folder under `root` (in-process); pvsync
    talks to e-Boekhouden over `api` ("soap" or "rest"), both served from the one state file."""
    from core.demo.generate import generate
    from core.demo.world import SimulatedWorld
    from core.model import EbRelation

    # The REST client keeps to 5 calls/s for the live service; the simulator does not throttle, and
    # at that pace one crash test would wait ~10 s on the client's own clock.
    pace = {"eboekhouden.calls_per_second": 100} if api == "rest" else {}
    world = SimulatedWorld(root, seed="empty", persist=True, settings={**WORLD_SETTINGS, **pace},
                           eboekhouden_api=api)
    made = generate(world, relations=relations_count, invoices=invoices_count, open_items=True, seed=seed,
                    concept_share=0)
    eb = world.eboekhouden
    # A bookkeeper edited two linked customers in e-Boekhouden: PerfectView wins (updates).
    for code in made.eboekhouden_relations[:2]:
        current = eb.relation_by_code(code)
        eb.replace_relation(replace(current, bedrijf=f"{current.bedrijf} (oud)", telefoon="030-0000000"))
    # Two customers only e-Boekhouden knows (imports into PerfectView).
    extra = [f"EB{seed:03d}{n}" for n in (1, 2)]
    for n, code in enumerate(extra, start=1):
        eb.store_relation(EbRelation(code=code, bedrijf=f"Alleen in e-Boekhouden {n} B.V.", adres="Markt 1",
                                     postcode="3511 AB", plaats="Utrecht", land="NL", email=f"info{n}@example.nl"))
    for simulator in (world.eboekhouden, world.perfectview):
        simulator.save_state()
    world.close()


class Simulators:
    """Both simulators served by `pvsync simulate` from the state files under `root`; the
    config is pointed at them. A context manager.

    On exit they are killed rather than stopped: each has written its state file before
    answering any call, so nothing is lost, and PerfectView's serve loop would take half a
    second to notice SIGTERM."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.processes: list[subprocess.Popen] = []
        self.urls: dict[str, str] = {}

    def __enter__(self) -> Simulators:
        from core.config.write import update_config

        pvsync = Path(sys.executable).with_name("pvsync")
        api = ["--api", config_of(self.root).eboekhouden.api]  # the URL printed is that API's
        try:
            for service in ("eboekhouden", "perfectview"):
                self.processes.append(subprocess.Popen(
                    [str(pvsync), "simulate", service, "--port", "0", "--seed", "empty",
                     "--state", str(self.root / f"{service}.json"), *(api if service == "eboekhouden" else [])],
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=clean_env(), cwd=REPO))
            for service, process in zip(("eboekhouden", "perfectview"), self.processes, strict=True):
                line = process.stdout.readline()
                if not line:
                    raise RuntimeError(f"the {service} simulator did not start (exit {process.wait()})")
                self.urls[service] = json.loads(line)["url"]
        except BaseException:
            self.__exit__()
            raise
        update_config(self.root / "config.toml", {"eboekhouden.url": self.urls["eboekhouden"],
                                                  "perfectview.url": self.urls["perfectview"]})
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            process.kill()
        for process in self.processes:
            process.wait(timeout=30)
            process.stdout.close()
        self.processes = []


class People:
    """What people do between runs, through the services' APIs (the simulators must be
    running): a customer added or edited in PerfectView, an invoice sent, a customer added
    in e-Boekhouden, an invoice paid. A context manager (it holds both clients)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def __enter__(self) -> People:
        from core.engine.services import eboekhouden_client, perfectview_client

        config = config_of(self.root)
        self.pv = perfectview_client(config)
        self.eb = eboekhouden_client(config).__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.eb.__exit__(None, None, None)
        self.eb.close()
        self.pv.close()

    def customers(self) -> list[Any]:
        return [r for r in self.pv.relations() if r.debtor_number.strip()]

    def new_customer(self, code: str) -> str:
        from core.model import Address, CrmRelation, RelationKind

        return self.pv.create_relation(
            CrmRelation(id="", kind=RelationKind.ORGANISATION, name=f"Nieuwe klant {code} B.V.", debtor_number=code,
                        visiting_address=Address("Kerkstraat", "1", "", "3511 AA", "Utrecht", "NL")), "Klant", None)

    def edit_customer(self, relation: Any, phone: str) -> None:
        """A new phone number (organisations) or e-mail address (persons)."""
        from core.model import RelationKind

        if relation.kind is RelationKind.ORGANISATION:
            self.pv.update_relation(relation.id, replace(relation, phone=phone))
        else:
            self.pv.update_relation(relation.id, replace(relation, email=f"{phone.replace('-', '')}@example.nl"))

    def send_invoice(self, relation_id: str, number: str, amount: str) -> str:
        from datetime import date, timedelta
        from decimal import Decimal

        today = date.today()
        activity = self.pv.create_invoice(relation_id, number, today, today + timedelta(days=14))
        self.pv.add_product_line(activity, "Advies", Decimal(1), Decimal(amount), "BTW hoog 21%")
        self.pv.move_to_step(activity, "Verstuurd")
        return activity

    def new_eboekhouden_customer(self, code: str) -> None:
        from core.model import EbRelation

        self.eb.add_relation(EbRelation(code=code, bedrijf=f"Klant {code} (e-Boekhouden)", adres="Markt 2",
                                        postcode="3511 AB", plaats="Utrecht", land="NL"))

    def pay(self, invoice_number: str) -> bool:
        """The customer pays the booked invoice in full; False when it is not booked (yet)."""
        from datetime import date
        from decimal import Decimal

        from core.model import Booking, BookingLine, MutatieSoort

        booked = [b for b in self.eb.bookings(invoice_number=invoice_number, purpose="other")
                  if b.soort is MutatieSoort.FACTUUR_VERSTUURD]
        if len(booked) != 1:
            return False
        total = booked[0].total_incl_vat()
        self.eb.add_booking(Booking(
            MutatieSoort.FACTUURBETALING_ONTVANGEN, date.today(), "1010", relation_code=booked[0].relation_code,
            invoice_number=invoice_number, description=f"Betaling {invoice_number}", in_ex_vat="EX",
            lines=(BookingLine(total, Decimal(0), total, "GEEN", Decimal(0), "1300", amount_entered=total),)))
        return True


# --------------------------------------------------------------------------- the invariants


@dataclass
class Findings:
    """Violations by kind; empty lists everywhere means the world is whole."""

    duplicates: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    local: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return self.duplicates + self.lost + self.local


def config_of(root: Path) -> Any:
    from core.config import load_config

    return load_config(root / "config.toml", env=clean_env())


def eboekhouden_state(root: Path) -> Any:
    """e-Boekhouden's data as its simulator last wrote it (GetMutaties shows only 500)."""
    from core.eboekhouden.soap.simulator import EboekhoudenSimulator

    return EboekhoudenSimulator(state_file=root / "eboekhouden.json")


# e-Boekhouden's write operations (SOAP's names; the REST twins are counted the same), and how to
# count what they made.
WRITES: dict[str, Callable[[Any], int]] = {
    "AddMutatie": lambda eb: sum(b.soort is MutatieSoort.FACTUUR_VERSTUURD for b in eb.mutations.values()),
    "AddRelatie": lambda eb: len(eb.relations),
}


@dataclass(frozen=True)
class Writes:
    """Per e-Boekhouden write operation: how often pvsync sent it (its own call meter, in
    the store) and how many records e-Boekhouden holds.

    Taken before a run that is not killed, it shows whether that run sent a write twice:
    e-Boekhouden refuses a relation code or invoice number it has, so a write sent again
    leaves no second record, only a second count in pvsync's meter. The window starts after
    the last kill: a killed run's meter may count a call the kill stopped on its way. A call
    the kill did not stop may still land just after it (e-Boekhouden holds one record more
    than the run sent), so only more sends than records is a violation.
    """

    sent: dict[str, int]
    held: dict[str, int]

    @classmethod
    def now(cls, root: Path) -> Writes:
        from core.store import Store

        from tests.eb_apis import wire_name

        eb = eboekhouden_state(root)
        api = config_of(root).eboekhouden.api
        store = Store.open(root / "state")
        try:
            sent = {op: store.conn.execute("SELECT coalesce(sum(count), 0) FROM api_calls WHERE service = ? AND "
                                           "operation = ?", ("e-Boekhouden", wire_name(api, op))).fetchone()[0]
                    for op in WRITES}
        finally:
            store.close()
        return cls(sent, {op: count(eb) for op, count in WRITES.items()})

    def since(self, before: Writes) -> list[str]:
        return [f"pvsync sent {op} {self.sent[op] - before.sent[op]} times and e-Boekhouden holds "
                f"{self.held[op] - before.held[op]} new records" for op in WRITES
                if self.sent[op] - before.sent[op] > self.held[op] - before.held[op]]


def check(root: Path, since: Writes) -> Findings:
    """The invariants after a completed run that started at `since` (the simulators must be running)."""
    from core.engine.services import perfectview_client
    from core.store import Store
    from core.store.invoice_journal import InvoiceJournal
    from core.sync.invoice_states import InvoiceState as S

    found = Findings()
    config = config_of(root)
    eb = eboekhouden_state(root)
    booked = Counter(b.invoice_number for b in eb.mutations.values() if b.soort is MutatieSoort.FACTUUR_VERSTUURD)
    eb_codes = Counter(r.code for r in eb.relations.values())
    found.duplicates += [f"invoice {n} is booked {c} times in e-Boekhouden" for n, c in booked.items() if c > 1]
    found.duplicates += [f"relation {code} is in e-Boekhouden {c} times" for code, c in eb_codes.items() if c > 1]
    found.duplicates += Writes.now(root).since(since)

    with perfectview_client(config) as pv:
        crm = list(pv.relations())
        sent = [i for i in pv.sales_invoices(config.invoices.workflow) if i.invoice_number.strip()
                and i.step in (config.invoices.sent_step, config.invoices.paid_step)]
        notes = {i.activity_id: pv.activity_notes(i.activity_id) for i in sent}
    pv_codes = Counter(r.debtor_number.strip() for r in crm if r.debtor_number.strip())
    found.duplicates += [f"Debiteurnummer {code} is in PerfectView {c} times" for code, c in pv_codes.items() if c > 1]
    found.lost += [f"PerfectView customer {code} is not in e-Boekhouden" for code in pv_codes if code not in eb_codes]
    found.lost += [f"e-Boekhouden customer {code} is not in PerfectView" for code in eb_codes if code not in pv_codes]

    store = Store.open(root / "state", create=False)
    try:
        found.local += [f"store: {problem}" for problem in store.quick_check()]
        found.local += [f"run {r.id} is left running" for r in store.runs(limit=1000) if r.outcome == "running"]
        entries = {e.activity_id: e for e in InvoiceJournal(store).entries()}
    finally:
        store.close()
    found.local += [f"invoice {e.invoice_number} is left {e.state.value}: {e.reason}"
                    for e in entries.values() if e.state not in (S.BOOKED, S.PAID)]
    for invoice in sent:
        number, entry = invoice.invoice_number.strip(), entries.get(invoice.activity_id)
        if booked[number] == 0:
            found.lost += [f"sent invoice {number} is not booked in e-Boekhouden"]
        if entry is None:
            found.lost += [f"sent invoice {number} is not in the journal"]
            continue
        if entry.state in (S.BOOKED, S.PAID) and not entry.perfectview_done:
            found.lost += [f"invoice {number}: PerfectView was never told it is booked"]
        if not invoice.booked_marker.strip():
            found.lost += [f"invoice {number} has no booked marker in PerfectView"]
        texts = notes[invoice.activity_id]
        told = sum(text.startswith(f"pvsync: invoice {number} ") and "is paid" not in text for text in texts)
        if told > 1 or (told == 0 and not entry.linked):  # linked from a marker: no note of its own
            found.duplicates += [f"invoice {number} has {told} booked notes in PerfectView"]
        paid_notes = sum(text.startswith(payments.note_marker(number)) for text in texts)
        item = eb.open_item(number)
        if item is not None and item[2] == 0 and (invoice.step != config.invoices.paid_step
                                                  or entry.state is not S.PAID or paid_notes != 1):
            found.lost += [f"invoice {number} is paid in e-Boekhouden but is {invoice.step} in PerfectView, "
                           f"{entry.state.value} in the journal, with {paid_notes} paid notes"]
        if paid_notes > 1:
            found.duplicates += [f"invoice {number} has {paid_notes} paid notes in PerfectView"]
    return found


if __name__ == "__main__":
    launcher_main()
