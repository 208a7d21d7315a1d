"""The open items reconciliation: where PerfectView and e-Boekhouden disagree about payment.

Three lists a bookkeeper acts on (`pvsync report open-items`, and the console):
- invoices pvsync booked that are unpaid in PerfectView but not open in e-Boekhouden
  (the payments job marks them on its next run, or says why it cannot);
- invoices Betaald in PerfectView that e-Boekhouden still lists as open;
- e-Boekhouden open items with no PerfectView invoice of that number.

It reads one GetOpenPosten and PerfectView's sales invoices, and never GetMutaties: a
report must not spend the monthly budget invoice booking relies on. "Not open" therefore
means what GetOpenPosten says (missing from it, or Openstaand 0); where the payments job
already proved the settlement, its evidence is shown.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from core import clock
from core.model import OpenItem, format_euro
from core.store import Store
from core.store.invoice_journal import InvoiceJournal
from core.store.payment_state import PaymentChecks
from core.store.records import utc_now
from core.sync.invoice_states import InvoiceState
from core.sync.payments import nothing_outstanding


@dataclass(frozen=True)
class ReportLine:
    invoice_number: str
    relation: str  # e-Boekhouden relation code (and name, when e-Boekhouden gave one)
    amount: Decimal | None  # the invoice total as e-Boekhouden lists it
    outstanding: Decimal | None  # Openstaand; None when e-Boekhouden does not list the item
    perfectview_step: str  # empty when PerfectView has no such invoice
    detail: str  # what disagrees, in words
    activity_id: str = ""


@dataclass(frozen=True)
class OpenItemsReport:
    made_at: datetime
    unpaid_but_settled: tuple[ReportLine, ...]
    paid_but_open: tuple[ReportLine, ...]
    open_without_invoice: tuple[ReportLine, ...]

    SECTIONS = (("unpaid_but_settled", "Unpaid in PerfectView, settled in e-Boekhouden"),
                ("paid_but_open", "Betaald in PerfectView, still open in e-Boekhouden"),
                ("open_without_invoice", "Open in e-Boekhouden, no PerfectView invoice"))

    @property
    def in_step(self) -> bool:
        return not (self.unpaid_but_settled or self.paid_but_open or self.open_without_invoice)

    def as_lines(self) -> list[str]:
        """Plain text for the terminal and the console (no markup)."""
        made = clock.shown(self.made_at)
        lines = [f"Open items: PerfectView against e-Boekhouden, {made}"]
        for key, title in self.SECTIONS:
            entries: tuple[ReportLine, ...] = getattr(self, key)
            lines.append(f"{title}: {len(entries) or 'none'}")
            for e in entries:
                amount = format_euro(e.amount) if e.amount is not None else "-"
                open_ = f"open {format_euro(e.outstanding)}" if e.outstanding is not None else "not listed"
                step = e.perfectview_step or "-"
                lines.append(f"  {e.invoice_number:<14} {e.relation:<24.24} {amount:>12}  {open_:<18} {step:<10} "
                             f"{e.detail}".rstrip())
        if self.in_step:
            lines.append("PerfectView and e-Boekhouden agree about every open item.")
        return lines

    def as_dict(self) -> dict[str, Any]:
        def line(e: ReportLine) -> dict[str, Any]:
            data = asdict(e)
            for name in ("amount", "outstanding"):
                data[name] = None if data[name] is None else str(data[name])  # exact, never a float
            return data
        return {"made_at": clock.iso(self.made_at),
                **{key: [line(e) for e in getattr(self, key)] for key, _ in self.SECTIONS}}

    def as_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2)


def _still_open(item: OpenItem) -> bool:
    return not nothing_outstanding(item, item.amount)


def open_items_report(store: Store, eb: Any, pv: Any, config: Any) -> OpenItemsReport:
    """Compare e-Boekhouden's debtor open items with PerfectView's sales invoices.

    `eb` needs an open session (`with eb:`); costs one GetOpenPosten and PerfectView's
    sales invoice reads.
    """
    items = eb.open_items("Debiteuren")
    invoices = [i for i in pv.sales_invoices(config.invoices.workflow) if i.invoice_number]
    journal = {e.activity_id: (e.state, e.relation_code)
               for e in InvoiceJournal(store).entries([InvoiceState.BOOKED, InvoiceState.PAID])}
    checks = PaymentChecks(store).all()
    by_key = {(item.relation_code, item.invoice_number): item for item in items}
    by_number: dict[str, list[OpenItem]] = {}
    for item in items:
        by_number.setdefault(item.invoice_number, []).append(item)
    paid_step = config.invoices.paid_step

    unpaid_but_settled, paid_but_open = [], []
    for invoice in invoices:
        number = invoice.invoice_number.strip()
        state, code = journal.get(invoice.activity_id, (None, ""))
        item = by_key.get((code, number)) if code else None
        if item is None and not code:
            candidates = by_number.get(number, [])
            item = candidates[0] if len(candidates) == 1 else None
        if pv.is_step(config.invoices.workflow, invoice.step, paid_step):
            if item is not None and _still_open(item):
                paid_but_open.append(ReportLine(
                    number, _relation(item), item.amount, item.outstanding, invoice.step,
                    f"{format_euro(item.paid)} of {format_euro(item.amount)} received in e-Boekhouden",
                    invoice.activity_id))
            continue
        if not state:
            continue  # not booked by pvsync: a missing item says nothing about payment
        if item is None:
            check = checks.get(invoice.activity_id)
            detail = check.evidence if check and check.evidence else "not in e-Boekhouden's open items"
            unpaid_but_settled.append(ReportLine(number, code, None, None, invoice.step, detail, invoice.activity_id))
        elif not _still_open(item):
            unpaid_but_settled.append(ReportLine(number, _relation(item), item.amount, item.outstanding, invoice.step,
                                                 f"Openstaand {format_euro(item.outstanding)}", invoice.activity_id))

    known_numbers = {i.invoice_number.strip() for i in invoices}
    open_without_invoice = [
        ReportLine(item.invoice_number, _relation(item), item.amount, item.outstanding, "",
                   "no PerfectView sales invoice has this number")
        for item in items if item.invoice_number not in known_numbers and _still_open(item)]

    def ordered(lines: list[ReportLine]) -> tuple[ReportLine, ...]:
        return tuple(sorted(lines, key=lambda e: (e.invoice_number, e.relation)))

    return OpenItemsReport(utc_now(), ordered(unpaid_but_settled), ordered(paid_but_open),
                           ordered(open_without_invoice))


def _relation(item: OpenItem) -> str:
    return f"{item.relation_code} {item.relation_name}".strip()


def read_open_items_report(store: Store, config: Any) -> OpenItemsReport:
    """The report with service clients of its own, closed afterwards; its calls are counted
    in `store` like a run's (they spend the same budgets)."""
    from core.engine.services import RunServices

    services = RunServices(config, store)
    try:
        return open_items_report(store, services.eboekhouden(), services.perfectview(), config)
    finally:
        services.close()
