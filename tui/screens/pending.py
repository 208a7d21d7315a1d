"""Pending invoices (key 4): every invoice not yet booked, with its state and the reason in words.

The rows come from the invoice journal through the store (`pending_invoices`), read in a
worker whenever the database changed. Actions: retry now (a request the engine claims,
so it works the same embedded and attached), details, filter and sort.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, Static

from core.model import format_euro
from core.sync.invoice_commands import pending_invoices
from tui.commands import PaletteCommand
from tui.formatting import age_text, full_moment_text
from tui.messages import InvoiceRetryRequested
from tui.screens.base import ModeScreen
from tui.screens.details import DetailsScreen
from tui.state import ConsoleState

STATE_WORDS = {"seen": "SEEN", "blocked": "BLOCKED", "ready": "READY", "booking": "BOOKING",
               "unknown": "UNKNOWN OUTCOME"}
SORTS = ("age", "invoice", "state", "amount")
# The reason last: on a narrow terminal it is the column that may be cut.
COLUMNS = (("invoice", "Invoice"), ("state", "State"), ("amount", "Amount"), ("age", "Age"),
           ("relation", "Relation"), ("reason", "Reason"))


class PendingInvoice(Protocol):
    """What the screen reads of one journal row (the store's record for the `invoices` table)."""

    activity_id: str
    invoice_number: str
    relation_code: str
    state: str
    reason: str
    attempts: int
    total_incl_vat: Decimal | None
    updated_at: datetime


def sort_key(name: str):
    return {"age": lambda i: i.updated_at, "invoice": lambda i: i.invoice_number,
            "state": lambda i: i.state, "amount": lambda i: i.total_incl_vat or Decimal(0)}[name]


def matches(invoice: PendingInvoice, text: str) -> bool:
    text = text.lower()
    return any(text in str(value).lower() for value in (invoice.invoice_number, invoice.relation_code,
                                                        invoice.state, invoice.reason))


class PendingScreen(ModeScreen):
    HELP = ("Invoices pvsync has seen but not booked yet, with the reason they wait. BLOCKED clears itself "
            "once the cause is fixed (map a VAT code, link a relation); UNKNOWN OUTCOME is looked up in "
            "e-Boekhouden before anything is sent again. r asks the engine to retry the selected invoice now.")

    BINDINGS = [
        Binding("r", "retry", "Retry now", id="pending-retry", tooltip="Ask the engine to try this invoice now"),
        Binding("enter", "details", "Details", id="pending-details", priority=True,
                tooltip="Everything about the selected invoice"),
        Binding("slash", "filter", "Filter", key_display="/", id="pending-filter", tooltip="Filter by text"),
        Binding("o", "next_sort", "Sort", id="pending-sort", tooltip="Sort by age, invoice, state or amount"),
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.invoices: list[PendingInvoice] = []
        self.sort = "age"
        self.text = ""
        self.seen_version: int | None = None

    def body(self) -> ComposeResult:
        yield Input(placeholder="/ filter by invoice, relation, state or reason; Enter applies",
                    id="pending-text", compact=True)
        yield Static(id="pending-summary")
        yield DataTable(id="pending-table", cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one("#pending-table", DataTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        table.focus()

    def palette_commands(self) -> list[PaletteCommand]:
        return [PaletteCommand("Retry selected invoice", "Ask the engine to try it now", self.action_retry),
                PaletteCommand("Sort pending invoices", "Age, invoice, state or amount", self.action_next_sort)]

    def show_state(self, state: ConsoleState) -> None:
        if state.data_version != self.seen_version:
            self.seen_version = state.data_version
            self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="pending",
          description="Reading the pending invoices")
    def load(self) -> None:
        if self.console.store is None:
            return
        invoices = pending_invoices(self.console.store)
        self.app.call_from_thread(self.show_invoices, invoices)

    def show_invoices(self, invoices: list[PendingInvoice]) -> None:
        self.invoices = invoices
        self._draw()

    def _shown(self) -> list[PendingInvoice]:
        chosen = [invoice for invoice in self.invoices if not self.text or matches(invoice, self.text)]
        return sorted(chosen, key=sort_key(self.sort), reverse=self.sort == "amount")  # age: longest waiting first

    def _draw(self) -> None:
        now = self.console.clock()
        shown = self._shown()
        table = self.query_one("#pending-table", DataTable)
        # Rebuilt in order (sorting moves rows); the cursor stays on the same invoice.
        selected = self._selected()
        table.clear()
        for invoice in shown:
            table.add_row(invoice.invoice_number, STATE_WORDS.get(invoice.state, invoice.state.upper()),
                          format_euro(invoice.total_incl_vat) if invoice.total_incl_vat is not None else "-",
                          age_text(now, invoice.updated_at), invoice.relation_code or "-", invoice.reason or "-",
                          key=invoice.activity_id)
        if selected is not None and selected.activity_id in table.rows:
            table.move_cursor(row=table.get_row_index(selected.activity_id))
        filtered = f" matching \"{self.text}\"" if self.text else ""
        summary = f"{len(shown)} of {len(self.invoices)} pending invoice(s){filtered}; sorted by {self.sort}."
        self.query_one("#pending-summary", Static).update(Text(summary))

    def _selected(self) -> PendingInvoice | None:
        table = self.query_one("#pending-table", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((invoice for invoice in self.invoices if invoice.activity_id == key), None)

    def action_filter(self) -> None:
        self.query_one("#pending-text", Input).focus()

    @on(Input.Submitted, "#pending-text")
    def apply_filter(self, event: Input.Submitted) -> None:
        self.text = event.value.strip()
        self._draw()
        self.query_one("#pending-table", DataTable).focus()

    def action_next_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._draw()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Enter belongs to the filter box while it has focus.
        return not (action == "details" and isinstance(self.focused, Input))

    def action_details(self) -> None:
        invoice = self._selected()
        if invoice is None:
            return
        amount = format_euro(invoice.total_incl_vat) if invoice.total_incl_vat is not None else "-"
        lines = [f"Invoice number   {invoice.invoice_number}",
                 f"State            {STATE_WORDS.get(invoice.state, invoice.state.upper())}",
                 f"Reason           {invoice.reason or '-'}", f"Relation         {invoice.relation_code or '-'}",
                 f"Amount incl. VAT {amount}", f"Attempts         {invoice.attempts}",
                 f"Last change      {full_moment_text(invoice.updated_at)}",
                 f"PerfectView id   {invoice.activity_id}"]
        self.app.push_screen(DetailsScreen(f"Invoice {invoice.invoice_number}", lines))

    def action_retry(self) -> None:
        invoice = self._selected()
        if invoice is None:
            self.notify("No invoice is selected.", severity="warning")
            return
        if not self.console.can_request_sync():
            self.notify("No engine runs for this state folder; nothing was requested.", severity="warning")
            return
        self.request_retry(invoice.activity_id)

    @work(thread=True, exit_on_error=False, group="requests", description="Requesting a retry")
    def request_retry(self, activity_id: str) -> None:
        request_id = self.console.store.add_request("retry_invoice", {"activity_id": activity_id})
        self.post_message(InvoiceRetryRequested(activity_id, request_id))

    def on_invoice_retry_requested(self, message: InvoiceRetryRequested) -> None:
        self.notify(f"Retry requested (request {message.request_id}).", title="Pending invoices")
