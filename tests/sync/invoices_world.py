"""A simulated world for the invoice tests: customers and invoices made through the
services' own APIs, the invoices job run through the real engine, and what a user would
see read back (simulator state, PerfectView fields and notes, the logbook, call counts)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from core.demo.world import SimulatedWorld
from core.model import Address, Booking, CrmRelation, EbRelation, RelationKind
from core.store.invoice_journal import InvoiceJournal, JournalEntry
from core.store.records import utc_now
from core.sync.invoices import InvoicesJob
from tests import eb_apis

INVOICE_DATE = date(2026, 3, 2)
DUE_DATE = date(2026, 3, 16)


class Crash(BaseException):
    """Stands in for the process dying at a named point (a BaseException, like a kill)."""


def crash_at(point: str) -> Callable[[str], None]:
    def hook(reached: str) -> None:
        if reached == point:
            raise Crash(point)
    return hook


class Clock:
    """pvsync's clock for the job, moved on by hand (the modified-since cursor follows it)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utc_now() + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


class InvoiceWorld:
    def __init__(self, root: Path, *, loopback: bool = False, api: str = "soap", **settings: Any):
        self.world = SimulatedWorld(root, seed="empty", loopback=loopback, settings=settings, eboekhouden_api=api)
        self.pv = self.world.perfectview_client()
        self.eb = self.world.eboekhouden_client()
        self.eb.__enter__()
        self.clock = Clock()
        self.engine = None
        self.restart()

    def close(self) -> None:
        self.engine.close()
        self.eb.__exit__(None, None, None)
        self.eb.close()
        self.pv.close()
        self.world.close()

    def __enter__(self) -> InvoiceWorld:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ pvsync

    def restart(self, crash: str | None = None) -> None:
        """A fresh engine and job on the same state folder and the same simulators."""
        if self.engine is not None:
            self.engine.close()
        self.job = InvoicesJob(crash_at=crash_at(crash) if crash else None, clock=self.clock)
        self.engine = self.world.engine(jobs=[self.job])

    def sync(self, *, dry_run: bool = False, force: bool = False):
        report = self.engine.run(trigger="forced", dry_run=dry_run, force=force)
        self.last_run_id = report.run_id
        return report

    def reload_config(self) -> None:
        self.engine.load_config()

    @property
    def journal(self) -> InvoiceJournal:
        return InvoiceJournal(self.engine.store)

    def entry(self, number: str) -> JournalEntry:
        (entry,) = self.journal.by_number(number)
        return entry

    def messages(self, *, level: str | None = None, all_runs: bool = False) -> list[str]:
        entries = self.engine.store.logbook_page(run_id=None if all_runs else self.last_run_id, limit=2000,
                                                 level=level, kinds=["invoice"])
        return [e.message for e in reversed(entries)]

    # ------------------------------------------------------------------ the other people's side

    def customer(self, code: str, name: str = "", *, in_eboekhouden: bool = True,
                 debtor_number: str | None = None) -> str:
        name = name or f"Klant {code} B.V."
        if in_eboekhouden:
            self.eb.add_relation(EbRelation(code=code, bedrijf=name))
        return self.pv.create_relation(
            CrmRelation(id="", kind=RelationKind.ORGANISATION, name=name,
                        debtor_number=code if debtor_number is None else debtor_number,
                        visiting_address=Address("Kerkstraat", "1", "", "3511 AA", "Utrecht", "NL")), "Klant", None)

    def invoice(self, relation_id: str, number: str, *lines: tuple[str, str, str, str], sent: bool = True,
                incl: bool = False, invoice_date: date = INVOICE_DATE, due_date: date | None = DUE_DATE) -> str:
        """An invoice with (description, quantity, price, VAT code) lines, sent unless told otherwise."""
        activity = self.pv.create_invoice(relation_id, number, invoice_date, due_date, amounts_include_vat=incl)
        for description, quantity, amount, vat in lines:
            self.pv.add_product_line(activity, description, Decimal(quantity), Decimal(amount), vat)
        if sent:
            self.pv.move_to_step(activity, "Verstuurd")
        return activity

    def edit_total(self, activity: str, text: str) -> None:
        """A person types over PerfectView's invoice total (or an add-in rounds it per line)."""
        self.pv.update_invoice(activity, {"total": text})

    def total(self, activity: str) -> str:
        """PerfectView's invoice total as the simulator keeps it."""
        return self.world.perfectview.activity(activity)["fields"].get("Factuur / Totaalbedrag", "")

    def booked(self, number: str) -> list[Booking]:
        """What e-Boekhouden holds for this invoice number (the simulator's own record)."""
        return self.world.eboekhouden.admin.bookings_for_invoice(number)

    def read_back(self, number: str) -> list[Booking]:
        """The invoice's mutations as a bookkeeper's client reads them (GetMutaties)."""
        return self.eb.bookings(invoice_number=number, purpose="other")

    def eb_calls(self, operation: str) -> int:
        """Calls of SOAP `operation`, or of its REST twin when the world talks REST."""
        return eb_apis.eb_calls(self.world, operation)

    def pv_calls(self) -> int:
        return sum(self.world.perfectview.calls.values())

    def lose_answers(self, operation: str, times: int = 1) -> None:
        """The next `times` calls of `operation` (SOAP's name; its REST twin on REST) are processed and
        committed, then the connection drops before the answer (the "lost" fault, for one operation only)."""
        eb_apis.lose_answers(self.world, operation, times)
