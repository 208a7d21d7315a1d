"""`pvsync demo`: a realistic organisation on the built-in simulators, and a clock that
keeps the world moving (an invoice sent now and then, a payment arriving in e-Boekhouden)
so the admin sees the live flow.

Everything is filled through the services' own APIs, the way people fill a real
PerfectView database and a real administration; pvsync only sees it through its sync.
"""

from __future__ import annotations

import logging
import random
import shlex
import sys
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal

import httpx

from core.demo.mail_sink import SINK_HOST, MailSink
from core.demo.world import SimulatedWorld
from core.eboekhouden.port import EboekhoudenPort
from core.engine.services import eboekhouden_client, perfectview_client
from core.model import AMSTERDAM, Booking, BookingLine, MutatieSoort
from core.perfectview import demo as perfectview_demo
from core.soap.loopback import InProcessTransport

log = logging.getLogger(__name__)

EXTRA_RELATIONS = 100  # on top of the simulator's own demo seed: about 120 in all
EXTRA_INVOICES = 50  # likewise about 60 invoices
# e-Boekhouden hands new customers a REST API token; SOAP stays for those with security codes.
DEMO_API: Literal["rest", "soap"] = "rest"
DEMO_SCHEDULE = {"schedule.relations": "30m", "schedule.invoices": "2m", "schedule.payments": "10m"}
# The simulator does not throttle; at the real default pace (5 calls/s) the demo's first run
# takes most of a minute, all of it spent waiting on the client's own pace.
DEMO_CALLS_PER_SECOND = 25


@dataclass
class DemoWorld:
    """The running demo: its world, the scenario clock, and what it did."""

    world: SimulatedWorld
    mail_sink: MailSink | None = None  # where the invoice documents are mailed
    events: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def config_path(self) -> Path:
        return self.world.config_path

    @property
    def state_dir(self) -> Path:
        return self.world.state_dir

    def start_clock(self, every_seconds: float = 20.0, seed: int = 7) -> None:
        """Every `every_seconds`, something happens in the world outside pvsync."""
        rng = random.Random(seed)

        def tick() -> None:
            while not self._stop.wait(every_seconds):
                try:
                    self.events.append(step(self.world, rng))
                except Exception as exc:  # the demo goes on; the admin sees pvsync, not the clock
                    log.warning("demo clock: %s", exc)

        self._thread = threading.Thread(target=tick, name="demo-clock", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.world.close()
        if self.mail_sink is not None:
            self.mail_sink.stop()


def _in_process(app) -> httpx.Client:
    # Filling the world goes straight to the simulator objects, not through the sockets
    # pvsync uses: quicker, and it does not show up as traffic in pvsync's counters.
    return httpx.Client(transport=InProcessTransport(app=app))


def open_clients(world: SimulatedWorld):
    """Clients for the people in the world, on the API the world's config names (the
    e-Boekhouden service answers both, on one administration)."""
    config = world.config()
    eb = eboekhouden_client(config, http=_in_process(world.eboekhouden_service))
    pv = perfectview_client(config, http=_in_process(world.perfectview))
    return eb, pv


def build_demo(folder: Path, *, relations: int = EXTRA_RELATIONS, invoices: int = EXTRA_INVOICES,
               seed: int = 2026, api: Literal["rest", "soap"] = DEMO_API) -> DemoWorld:
    """Start both simulators on loopback and fill them with the demo organisation; pvsync
    talks to e-Boekhouden over `api` (REST, as a customer who sets pvsync up today).
    Invoice documents are mailed to a mail sink on loopback that keeps them in `folder`/mail,
    so the invoice with two attachments waits for a person to choose its document."""
    sink = MailSink(Path(folder) / "mail").start()
    try:
        world = SimulatedWorld(folder, seed="demo", loopback=True, eboekhouden_api=api,
                               settings={**DEMO_SCHEDULE, "eboekhouden.calls_per_second": DEMO_CALLS_PER_SECOND,
                                         **sink.settings()})
    except BaseException:
        sink.stop()
        raise
    demo = DemoWorld(world, mail_sink=sink)
    rng = random.Random(seed)
    eb, pv = open_clients(world)
    try:
        perfectview_demo.populate(pv, rng, relations=relations, invoices=invoices)
        add_special_invoices(pv, rng)
    except BaseException:
        demo.close()
        raise
    finally:
        eb.close()
        pv.close()
    return demo


def add_special_invoices(pv, rng: random.Random) -> None:
    """The invoices every demo shows: reverse charge, a credit invoice, an unmapped VAT code
    (it waits until the admin maps "BTW 0%"), and one with two attachments (it waits until
    the admin chooses the invoice document)."""
    customers = [r.id for r in pv.relations() if r.debtor_number]
    today = date.today()
    specials = [
        ("V", [("Installatie warmtepomp (btw verlegd)", Decimal("1"), Decimal("4850.00"), "BTW verlegd")]),
        ("C", [("Creditering onderhoudsbeurt", Decimal("-1"), Decimal("89.00"), "BTW hoog 21%")]),
        ("N", [("Levering zonder btw", Decimal("1"), Decimal("120.00"), "BTW 0%")]),
        ("A", [("Adviesrapport energielabel", Decimal("1"), Decimal("250.00"), "BTW hoog 21%")]),
    ]
    for index, (kind, lines) in enumerate(specials):
        number = f"F{today.year}-9{index:02d}{kind}"
        activity = pv.create_invoice(rng.choice(customers), number, today - timedelta(days=index),
                                     today + timedelta(days=30 - index))
        for description, quantity, amount, vat in lines:
            pv.add_product_line(activity, description, quantity, amount, vat)
        pv.add_attachment(activity, f"{number}.pdf", perfectview_demo.DEMO_PDF)
        if kind == "A":
            pv.add_attachment(activity, "offerte-bijlage.pdf", perfectview_demo.DEMO_PDF)
        pv.move_to_step(activity, "Verstuurd")


def step(world: SimulatedWorld, rng: random.Random) -> str:
    """One tick of the scenario clock: send an invoice, or pay an open one."""
    eb, pv = open_clients(world)
    try:
        if rng.random() < 0.5:
            return send_an_invoice(pv, rng)
        with eb:
            return pay_an_open_item(eb, rng)
    finally:
        eb.close()
        pv.close()


def send_an_invoice(pv, rng: random.Random) -> str:
    drafts = [i for i in pv.sales_invoices() if i.step == "Concept" and i.invoice_number]
    if drafts:
        invoice = rng.choice(drafts)
        pv.move_to_step(invoice.activity_id, "Verstuurd")
        return f"invoice {invoice.invoice_number} sent in PerfectView"
    customers = [r.id for r in pv.relations() if r.debtor_number]
    number = f"F{date.today().year}-{rng.randint(10000, 99999)}"
    activity = pv.create_invoice(rng.choice(customers), number, date.today(), date.today() + timedelta(days=14))
    pv.add_product_line(activity, "Arbeid monteur per uur", Decimal(rng.choice(["1", "2", "4"])), Decimal("62.50"),
                        "BTW hoog 21%")
    pv.add_attachment(activity, f"{number}.pdf", perfectview_demo.DEMO_PDF)
    pv.move_to_step(activity, "Verstuurd")
    return f"invoice {number} created and sent in PerfectView"


def pay_an_open_item(eb: EboekhoudenPort, rng: random.Random) -> str:
    """A customer pays: a FactuurbetalingOntvangen booking from the bank to the debtors."""
    open_items = [item for item in eb.open_items() if item.outstanding > 0]
    if not open_items:
        return "no open items to pay"
    item = rng.choice(open_items)
    amount = item.outstanding if rng.random() < 0.8 else (item.outstanding / 2).quantize(Decimal("0.01"))
    payment = Booking(MutatieSoort.FACTUURBETALING_ONTVANGEN, datetime.now(AMSTERDAM).date(), "1010",
                      relation_code=item.relation_code, invoice_number=item.invoice_number,
                      description=f"Betaling {item.invoice_number}", in_ex_vat="EX",
                      lines=(BookingLine(amount, Decimal("0"), amount, "GEEN", Decimal("0"), "1300",
                                         amount_entered=amount, invoice_number=item.invoice_number),))
    eb.add_booking(payment)
    return f"payment of {amount} received in e-Boekhouden for invoice {item.invoice_number}"


def run_headless(folder: Path, *, clock_seconds: float = 20.0, stop: threading.Event | None = None,
                 out=print, api: Literal["rest", "soap"] = DEMO_API) -> int:
    """`pvsync demo --headless`: the demo world with the engine and no console, until stopped."""
    import signal

    from core.store import logging_to_stderr

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        # Before the world is built, so a stop while it is being built is not lost either.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    demo = build_demo(folder, api=api)
    try:
        engine = demo.world.engine(mode="daemon")  # the state folder exists from here: the commands work
    except BaseException:
        demo.close()
        raise
    where = f"--config {shlex.quote(str(demo.config_path))} --state-dir {shlex.quote(str(demo.state_dir))}"
    command = pvsync_command()
    out(f"pvsync demo (headless): config {demo.config_path}")
    out(f"  state folder {demo.state_dir}")
    out(f"  e-Boekhouden simulator {demo.world.eboekhouden_config_url} ({demo.world.eboekhouden_api.upper()} API)")
    out(f"  PerfectView simulator {demo.world.perfectview_url}")
    if demo.mail_sink is not None:
        out(f"  invoice documents are mailed to {SINK_HOST}:{demo.mail_sink.port} and kept in {demo.mail_sink.folder}")
    out(f"  watch it with: {command} {where} log --follow")
    out(f"  its health:    {command} {where} status")
    out("  stop with Ctrl-C")
    demo.start_clock(clock_seconds)
    try:
        with logging_to_stderr("INFO"):
            engine.serve(stop)
    finally:
        engine.close()
        demo.close()
    return 0


def pvsync_command() -> str:
    """How to call pvsync from any folder and shell: this installation's own script when there
    is one (a checkout run with `uv run` has no `pvsync` on PATH), else the name."""
    script = Path(sys.executable).with_name("pvsync")
    return shlex.quote(str(script)) if script.exists() else "pvsync"
