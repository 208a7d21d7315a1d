"""A generated organisation synced by the real engine and jobs while the simulators inject
faults, and the exactly-once verdict on what both services hold afterwards.

Shared by the fault tests (tests/reliability/test_faults.py, small and per fault kind) and
the soak script (tests/soak/fault_soak.py, 1,000 invoices and relations, all kinds mixed).

The verdict is read from the simulators' own records, never from pvsync's journal alone:
- every sent invoice is in e-Boekhouden exactly once, under the Mutatienummer pvsync
  recorded, and PerfectView carries its booked marker and exactly one pvsync note;
- every customer (a PerfectView relation with a Debiteurnummer) is in e-Boekhouden once;
- no write reached e-Boekhouden twice: the simulator refuses a second AddMutatie for an
  invoice number and a second AddRelatie for a code (on REST: MUT_019/MUT_020 and REL_049),
  and logs the refusal. The real service may not refuse, so each such refusal counts as a
  duplicate pvsync caused.

`api="rest"` has pvsync talk to e-Boekhouden's REST API; both APIs share one administration and
one set of knobs, so the faults, the records and the verdict are the same.
"""

from __future__ import annotations

import json
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from core.demo.generate import generate
from core.demo.world import SimulatedWorld
from core.engine.engine import RunReport
from core.soap.caller import RetryPolicy
from core.soap.simulator import Knobs, SimulatedDisconnect
from core.store import Store
from core.store.invoice_journal import InvoiceJournal
from core.sync.invoice_states import InvoiceState

# Every PerfectView VAT code mapped, so every invoice can be booked (the demo leaves one out).
ALL_VAT = {"vat.NL.BTW 0%": {"btw_code": "BU_EU_VERK", "ledger": "8040"}}
DONE = (InvoiceState.BOOKED, InvoiceState.PAID)
# What a refused second write looks like in the e-Boekhouden simulator's event log.
DUPLICATE_EVENTS = {"invoice": ("AddMutatie refused: SIM_MUT_INVOICE_EXISTS", "POST /v1/mutation refused: 400 MUT_019",
                                "POST /v1/mutation refused: 400 MUT_020"),
                    "relation": ("AddRelatie refused: SIM_REL_CODE_EXISTS", "POST /v1/relation refused: 400 REL_049")}


@dataclass
class Verdict:
    """What both services hold after the runs, against what the organisation asks for."""

    invoices: int = 0
    relations: int = 0
    duplicates: list[str] = field(default_factory=list)  # written twice (or refused as already there)
    lost: list[str] = field(default_factory=list)  # should be there, is not (yet)

    @property
    def exactly_once(self) -> bool:
        return not self.duplicates and not self.lost


@contextmanager
def quick_retries() -> Iterator[None]:
    """Read retries without their backoff sleeps: the retry path is what is tested, not the wait."""
    original = RetryPolicy.delay
    RetryPolicy.delay = lambda self, attempt, rng: 0.0  # type: ignore[method-assign]
    try:
        yield
    finally:
        RetryPolicy.delay = original  # type: ignore[method-assign]


class FaultWorld:
    """Both simulators filled by core/demo/generate.py; every sent invoice and customer is to be synced."""

    def __init__(self, root: Path, *, relations: int, invoices: int, seed: int, loopback: bool = False,
                 settings: dict[str, Any] | None = None, api: str = "soap"):
        self.world = SimulatedWorld(root, seed="empty", loopback=loopback, eboekhouden_api=api,
                                    eboekhouden_knobs=Knobs(seed=seed), perfectview_knobs=Knobs(seed=seed + 1),
                                    settings={**ALL_VAT, **(settings or {})})
        self.made = generate(self.world, relations=relations, invoices=invoices, open_items=False, seed=seed,
                             concept_share=0.0)
        self.reports: list[RunReport] = []

    @property
    def simulators(self) -> tuple[Any, Any]:
        return self.world.eboekhouden, self.world.perfectview

    def set_faults(self, rates: dict[str, float], **knobs: float) -> None:
        """The same fault rates on both services (and e.g. slow_seconds, spike_ms)."""
        for sim in self.simulators:
            sim.knobs.faults = dict(rates)
            for name, value in knobs.items():
                setattr(sim.knobs, name, value)

    def injected(self) -> Counter[str]:
        """Faults the simulators injected so far, per kind."""
        counts: Counter[str] = Counter()
        for sim in self.simulators:
            for event in sim.events:
                if event.startswith("fault "):
                    counts[event.split()[1]] += 1
                elif event in ("sessions expired", "REST sessions expired"):
                    counts["session"] += 1
        return counts

    def calls(self) -> int:
        """Calls both services answered (e-Boekhouden's over either API)."""
        return sum(sum(sim.calls.values()) for sim in (*self.simulators, self.world.eboekhouden_service.rest))

    def run(self) -> RunReport:
        """One `pvsync sync`: a fresh engine on the same state folder, every job, then closed."""
        engine = self.world.engine()
        try:
            report = engine.run(trigger="forced")
        finally:
            engine.close()
        self.reports.append(report)
        return report

    def run_until_done(self, max_runs: int) -> Verdict:
        """Run until nothing is left to sync (or `max_runs`); the verdict of the last state."""
        verdict = self.verdict()
        while verdict.lost and len(self.reports) < max_runs:
            self.run()
            verdict = self.verdict()
        return verdict

    def logbook(self) -> list[str]:
        with Store.open(self.world.state_dir) as store:
            return [e.message for e in store.logbook_page(limit=100_000)]

    # ------------------------------------------------------------------ the verdict

    def verdict(self) -> Verdict:
        eb, pv = self.simulators
        verdict = Verdict(invoices=len(self.made.sent_invoice_ids), relations=len(self.made.customers))
        for event in eb.events:
            for what, refusal in DUPLICATE_EVENTS.items():
                if event.startswith(refusal):  # a tuple: any of them
                    verdict.duplicates.append(f"{what} sent again after it was stored ({event})")
        codes = Counter(r.code for r in eb.relations.values())
        for code in sorted(set(self.made.customers.values())):
            if codes[code] == 0:
                verdict.lost.append(f"relation {code} is not in e-Boekhouden")
            elif codes[code] > 1:
                verdict.duplicates.append(f"relation {code} is in e-Boekhouden {codes[code]} times")
        with Store.open(self.world.state_dir) as store:
            journal = InvoiceJournal(store)
            pending = {e.activity_id for e in journal.perfectview_pending()}
            for activity_id in self.made.sent_invoice_ids:
                self._check_invoice(verdict, journal.get(activity_id), activity_id, activity_id in pending)
        return verdict

    def _check_invoice(self, verdict: Verdict, entry: Any, activity_id: str, pending: bool) -> None:
        eb, pv = self.simulators
        if entry is None or entry.state not in DONE:
            state = "never seen" if entry is None else entry.state.value
            verdict.lost.append(f"invoice activity {activity_id} is {state}")
            return
        number = entry.invoice_number
        booked = eb.bookings_for_invoice(number)
        if len(booked) > 1:
            verdict.duplicates.append(f"invoice {number} is booked {len(booked)} times")
        elif not booked or booked[0].number != entry.mutatienummer:
            verdict.lost.append(f"invoice {number} is not in e-Boekhouden as mutatie {entry.mutatienummer}")
        notes = [n for n in pv.notes(activity_id) if n.startswith(f"pvsync: invoice {number} ")]
        if len(notes) > 1:
            verdict.duplicates.append(f"invoice {number} has {len(notes)} pvsync notes in PerfectView")
        elif pending or not notes:
            verdict.lost.append(f"PerfectView was not told that invoice {number} is booked")


def figures(world: FaultWorld, verdict: Verdict, **extra: Any) -> str:
    """The one JSON object a soak run prints."""
    longest = max((r.seconds for r in world.reports), default=0.0)
    return json.dumps({
        "runs_needed": len(world.reports), "calls_made": world.calls(),
        "faults_injected": dict(sorted(world.injected().items())),
        "invoices": verdict.invoices, "relations": verdict.relations,
        "duplicates_found": len(verdict.duplicates), "lost_found": len(verdict.lost),
        "longest_run_s": round(longest, 2), **extra,
        "duplicates": verdict.duplicates[:20], "lost": verdict.lost[:20],
    })



def lose_answers(simulator: Any, operation: str, times: int = 1) -> None:
    """The next `times` calls of `operation` are processed and committed, then the
    connection drops: the "lost" fault aimed at one operation."""
    around(simulator, operation, times, after=lambda: raise_(SimulatedDisconnect(committed=True)))


def expire_session_before(simulator: Any, operation: str, times: int = 1) -> None:
    """The session expires just before each of the next `times` calls of `operation`."""
    around(simulator, operation, times, before=simulator.expire_sessions)


def raise_(error: BaseException) -> None:
    raise error


def around(simulator: Any, operation: str, times: int, *, before: Any = None, after: Any = None) -> None:
    """Call `before()` / `after()` around the simulator's processing of the next `times` calls of `operation`."""
    original = simulator.handle  # bound, and already wrapped when aimed at another operation too
    left = [times]

    def handle(operation_name: str, request: Any) -> Any:
        mine = operation_name == operation and left[0] > 0
        if mine:
            left[0] -= 1
            if before:
                before()
        answer = original(operation_name, request)
        if mine and after:
            after()
        return answer

    simulator.handle = handle
