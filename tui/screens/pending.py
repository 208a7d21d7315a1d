"""Pending invoices (key 4): every invoice not yet booked or paid, with its state and the reason in words.

The rows come from the invoice journal through the store (`pending_invoices`, and, when
the payments job is on, `unpaid_invoices` with each one's open amount), read in a worker
whenever the database changed. Actions: retry now and choose the invoice document (both
requests the engine claims, so they work the same embedded and attached; their outcome
comes back as a notice), details with the booking the current config would make, the
open items report, filter and sort.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from core.model import format_euro
from core.store import Request
from core.sync.invoice_commands import InvoiceCommandError, InvoiceListing, pending_invoices
from tui.commands import PaletteCommand
from tui.formatting import age_text, full_moment_text
from tui.messages import InvoiceRetryRequested
from tui.screens.base import ModeScreen
from tui.screens.details import DetailsScreen
from tui.state import ConsoleState

STATE_WORDS = {"seen": "SEEN", "blocked": "BLOCKED", "ready": "READY", "booking": "BOOKING",
               "unknown": "UNKNOWN OUTCOME", "booked": "BOOKED"}
SORTS = ("age", "invoice", "state", "amount", "open")
# The reason last: on a narrow terminal it is the column that may be cut.
COLUMNS = (("invoice", "Invoice"), ("state", "State"), ("amount", "Amount"), ("age", "Age"),
           ("relation", "Relation"), ("reason", "Reason"))


@dataclass
class PendingRead(Message, bubble=False):
    invoices: list[InvoiceListing]
    answered: list[Request]  # requests this screen wrote that the engine has answered since


@dataclass
class DocumentChoiceRequested(Message, bubble=False):
    activity_id: str
    attachment_id: str
    request_id: int


def sort_key(name: str):
    return {"age": lambda i: i.updated_at, "invoice": lambda i: i.invoice_number,
            "state": lambda i: i.state, "amount": lambda i: i.total_incl_vat or Decimal(0),
            "open": lambda i: i.open_amount or Decimal(0)}[name]


def matches(invoice: InvoiceListing, text: str) -> bool:
    text = text.lower()
    return any(text in str(value).lower() for value in (invoice.invoice_number, invoice.relation_code,
                                                        invoice.state, invoice.notes()))


def read_pending(store, config_path) -> list[InvoiceListing]:
    """What the screen lists: booked invoices too while the payments job watches them."""
    from core.sync.invoice_commands import unpaid_invoices
    from tui.console_config import read_settings

    config = read_settings(config_path).config
    watched = config is not None and config.invoices.enabled and config.payments.enabled
    return pending_invoices(store) + (unpaid_invoices(store) if watched else [])


class PendingScreen(ModeScreen):
    HELP = ("Invoices pvsync has seen but not booked yet, with the reason they wait, and (when the payments job "
            "is on) booked invoices not yet paid, with their open amount. BLOCKED clears itself once the cause "
            "is fixed (map a VAT code, link a relation); UNKNOWN OUTCOME is looked up in e-Boekhouden before "
            "anything is sent again. r asks the engine to retry the selected invoice now; d chooses the invoice "
            "document of one that waits for it; p compares the open items of both services.")

    BINDINGS = [
        Binding("r", "retry", "Retry now", id="pending-retry", tooltip="Ask the engine to try this invoice now"),
        Binding("enter", "details", "Details", id="pending-details", priority=True,
                tooltip="Everything about the selected invoice, and the booking it would make"),
        Binding("slash", "filter", "Filter", key_display="/", id="pending-filter", tooltip="Filter by text"),
        Binding("o", "next_sort", "Sort", id="pending-sort", tooltip="Sort by age, invoice, state, amount or open"),
        Binding("p", "open_items", "Open items", id="pending-open-items",
                tooltip="Where PerfectView and e-Boekhouden disagree about payment (calls both services)"),
        Binding("d", "choose_document", "Document", id="pending-document", show=False,
                tooltip="Choose the invoice document of an invoice with several attachments"),
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.invoices: list[InvoiceListing] = []
        self.sort = "age"
        self.text = ""
        self.seen_version: int | None = None
        self.awaiting: dict[int, str] = {}  # request id -> what was asked, until the engine answers

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
                PaletteCommand("Choose invoice document", "For the selected invoice, when it has several "
                               "attachments", self.action_choose_document),
                PaletteCommand("Open items report", "Where PerfectView and e-Boekhouden disagree about payment",
                               self.action_open_items),
                PaletteCommand("Sort pending invoices", "Age, invoice, state, amount or open amount",
                               self.action_next_sort)]

    def show_state(self, state: ConsoleState) -> None:
        if state.data_version != self.seen_version:
            self.seen_version = state.data_version
            self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="pending",
          description="Reading the pending invoices")
    def load(self) -> None:
        store = self.console.store
        if store is None:
            return
        invoices = read_pending(store, self.console.config_path)
        answered = [r for r in (store.request(i) for i in list(self.awaiting)) if r is not None and r.state == "done"]
        self.post_message(PendingRead(invoices, answered))

    def on_pending_read(self, message: PendingRead) -> None:
        self.invoices = message.invoices
        self._draw()
        for request in message.answered:
            asked = self.awaiting.pop(request.id, None)
            if asked is None:
                continue
            failed = request.outcome != "ok"
            self.notify(f"{asked}: {request.message or request.outcome}", title="Pending invoices",
                        severity="warning" if failed else "information", timeout=12 if failed else 6)

    def _shown(self) -> list[InvoiceListing]:
        chosen = [invoice for invoice in self.invoices if not self.text or matches(invoice, self.text)]
        # age: longest waiting first; amounts: largest first
        return sorted(chosen, key=sort_key(self.sort), reverse=self.sort in ("amount", "open"))

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
                          age_text(now, invoice.updated_at), invoice.relation_code or "-", invoice.notes() or "-",
                          key=invoice.activity_id)
        if selected is not None and selected.activity_id in table.rows:
            table.move_cursor(row=table.get_row_index(selected.activity_id))
        filtered = f" matching \"{self.text}\"" if self.text else ""
        summary = f"{len(shown)} of {len(self.invoices)} pending invoice(s){filtered}; sorted by {self.sort}."
        choosing = sum(invoice.waits_for_document_choice for invoice in self.invoices)
        if choosing:
            summary += f" {choosing} wait(s) for a choice of document: d."
        self.query_one("#pending-summary", Static).update(Text(summary))

    def _selected(self) -> InvoiceListing | None:
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

    # ------------------------------------------------------------------ details

    def action_details(self) -> None:
        invoice = self._selected()
        if invoice is not None:
            self.read_details(invoice)

    @work(thread=True, exit_on_error=False, group="details", description="Reading the invoice details")
    def read_details(self, invoice: InvoiceListing) -> None:
        from core.sync.invoice_commands import invoice_details
        from tui.console_config import read_settings

        settings = read_settings(self.console.config_path)
        more = invoice_details(self.console.store, invoice.activity_id, settings.config, settings.problem)
        self.app.call_from_thread(self.app.push_screen,
                                  DetailsScreen(f"Invoice {invoice.invoice_number}", summary_lines(invoice) + more))

    # ------------------------------------------------------------------ retry

    def _selected_to_request(self) -> InvoiceListing | None:
        """The selected invoice when the engine can be asked about it; else None, and a notice why not."""
        invoice = self._selected()
        if invoice is None:
            self.notify("No invoice is selected.", severity="warning")
        elif not self.console.can_request_sync():
            self.notify("No engine runs for this state folder; nothing was requested.", severity="warning")
        else:
            return invoice
        return None

    def action_retry(self) -> None:
        invoice = self._selected_to_request()
        if invoice is not None:
            self.request_retry(invoice.activity_id)

    @work(thread=True, exit_on_error=False, group="requests", description="Requesting a retry")
    def request_retry(self, activity_id: str) -> None:
        request_id = self.console.store.add_request("retry_invoice", {"activity_id": activity_id})
        self.post_message(InvoiceRetryRequested(activity_id, request_id))

    def on_invoice_retry_requested(self, message: InvoiceRetryRequested) -> None:
        self.awaiting[message.request_id] = f"Retry (request {message.request_id})"
        self.notify(f"Retry requested (request {message.request_id}).", title="Pending invoices")

    # ------------------------------------------------------------------ the invoice document

    def action_choose_document(self) -> None:
        invoice = self._selected_to_request()
        if invoice is None:
            return
        if not invoice.waits_for_document_choice:
            what = f" ({invoice.document})" if invoice.document else ""
            self.notify(f"Invoice {invoice.invoice_number} does not wait for a choice of document{what}; "
                        "nothing to choose.", title="Choose the invoice document")
            return
        self.offer_documents(invoice.activity_id)

    @work(thread=True, exit_on_error=False, group="requests", description="Reading the attachments")
    def offer_documents(self, activity_id: str) -> None:
        from core.sync.invoice_commands import document_choice
        from tui.screens.document_choice import DocumentChoiceScreen

        try:
            choice = document_choice(self.console.store, activity_id)
        except InvoiceCommandError as error:
            self.app.call_from_thread(self.notify, str(error), title="Choose the invoice document",
                                      severity="warning")
            return

        def chosen(attachment_id: str | None) -> None:
            if attachment_id is not None:
                self.request_document(activity_id, attachment_id)

        self.app.call_from_thread(self.app.push_screen, DocumentChoiceScreen(choice), chosen)

    @work(thread=True, exit_on_error=False, group="requests", description="Requesting the invoice document")
    def request_document(self, activity_id: str, attachment_id: str) -> None:
        # The same request `pvsync invoices choose-document` answers through the engine.
        request_id = self.console.store.add_request("choose_document", {"activity_id": activity_id,
                                                                        "attachment": attachment_id})
        self.post_message(DocumentChoiceRequested(activity_id, attachment_id, request_id))

    def on_document_choice_requested(self, message: DocumentChoiceRequested) -> None:
        self.awaiting[message.request_id] = f"Invoice document (request {message.request_id})"
        self.notify(f"Choice sent to the engine (request {message.request_id}); it records it and mails the "
                    "document in its next run.", title="Choose the invoice document")

    # ------------------------------------------------------------------ open items

    def action_open_items(self) -> None:
        from tui.screens.report import OpenItemsScreen

        self.app.push_screen(OpenItemsScreen())


def summary_lines(invoice: InvoiceListing) -> list[str]:
    amount = format_euro(invoice.total_incl_vat) if invoice.total_incl_vat is not None else "-"
    changed = full_moment_text(invoice.updated_at) if invoice.updated_at is not None else "-"
    lines = [f"Invoice number   {invoice.invoice_number}",
             f"State            {STATE_WORDS.get(invoice.state, invoice.state.upper())}",
             f"Reason           {invoice.reason or '-'}", f"Relation         {invoice.relation_code or '-'}",
             f"Amount incl. VAT {amount}", f"Attempts         {invoice.attempts}",
             f"Last change      {changed}", f"PerfectView id   {invoice.activity_id}"]
    if invoice.mutatienummer:
        lines.append(f"Mutatienummer    {invoice.mutatienummer}")
    if invoice.document:
        lines.append(f"Document         {invoice.document}")
    return lines
