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
from tui.state_colours import GREEN, RED, coloured
from tui.messages import InvoiceRetryRequested
from tui.screens.base import ModeScreen
from tui.screens.details import DetailsScreen
from tui.state import ConsoleState

STATE_WORDS = {"seen": "SEEN", "blocked": "BLOCKED", "ready": "READY", "booking": "BOOKING",
               "unknown": "UNKNOWN", "booked": "BOOKED"}
SORTS = ("age", "invoice", "state", "amount", "open")
# What waits for a person comes first, then what pvsync itself still does, then booked
# invoices not yet paid: the one row that needs you must not sink below forty BOOKED ones.
NEEDS_YOU, IN_HAND, UNPAID = 0, 1, 2
STATE_WIDTH = 9  # "PART PAID", "PICK DOC", "DOC ERROR": the state words fit in nine
AGE_WIDTH = 10
WIDE = 100  # from this many columns on, the age and a longer relation name fit too


def state_word(invoice: InvoiceListing) -> str:
    """The state column: what a person must do comes before what the journal says."""
    if invoice.state in ("blocked", "unknown"):
        return STATE_WORDS[invoice.state]
    if invoice.waits_for_document_choice:
        return "PICK DOC"
    if invoice.document_failed:
        return "DOC ERROR"
    if invoice.state == "booked" and invoice.outstanding is not None and invoice.outstanding > 0:
        whole = invoice.total_incl_vat is None or invoice.outstanding >= invoice.total_incl_vat
        return "UNPAID" if whole else "PART PAID"
    return STATE_WORDS.get(invoice.state, invoice.state.upper())


def group_of(invoice: InvoiceListing) -> int:
    if invoice.waits_for_person:
        return NEEDS_YOU
    return UNPAID if invoice.state == "booked" else IN_HAND


def amount_text(invoice: InvoiceListing) -> str:
    return format_euro(invoice.total_incl_vat) if invoice.total_incl_vat is not None else "-"


def column_widths(invoices: list[InvoiceListing], width: int) -> list[tuple[str, str, int]]:
    """(key, label, width) of each column for a table `width` cells wide.

    Number, state and amount are sized to their longest value, so they are always whole;
    the relation gets a fixed share and the reason all that is left (the detail line under
    the table has it whole). Each column has one cell of padding either side, and two
    cells stay free for the scrollbar."""
    number = max([7, *(len(invoice.invoice_number) for invoice in invoices)])
    amount = max([6, *(len(amount_text(invoice)) for invoice in invoices)])
    wide = width >= WIDE
    relation = 24 if wide else 13
    columns = [("invoice", "Invoice", number), ("state", "State", STATE_WIDTH), ("amount", "Amount", amount)]
    if wide:
        columns.append(("age", "Changed", AGE_WIDTH))
    columns.append(("relation", "Relation", relation))
    used = sum(size + 2 for _, _, size in columns) + 2 + 2
    columns.append(("reason", "Reason", max(width - used, 12)))
    return columns


@dataclass
class PendingRead(Message, bubble=False):
    invoices: list[InvoiceListing]
    answered: list[Request]  # requests this screen wrote that the engine has answered since


@dataclass
class DocumentChoiceRequested(Message, bubble=False):
    activity_id: str
    attachment_id: str
    request_id: int


def reason_cell(invoice: InvoiceListing, width: int) -> str:
    """The reason as far as it fits, cut at a word with an ellipsis rather than mid-word."""
    notes = invoice.notes() or "-"
    if len(notes) <= width:
        return notes
    cut = notes[:width - 1]
    if " " in cut[width // 2:]:
        cut = cut[:cut.rindex(" ")]
    return cut.rstrip(" ,;:—-") + "…"


def relation_cell(invoice: InvoiceListing, columns: list[tuple[str, str, int]]) -> str:
    """Name and code when they fit, else the name cut with an ellipsis (the detail line has both)."""
    width = next(size for key, _, size in columns if key == "relation")
    whole = invoice.relation or "-"
    if len(whole) <= width:
        return whole
    name = invoice.relation_name or invoice.relation_code
    return name if len(name) <= width else name[:width - 1] + "…"


def fix_hint(invoice: InvoiceListing) -> str:
    """The key that leads to the fix of an invoice that waits for a person, in words."""
    if invoice.block_code.startswith("vat_"):
        return "f: map the VAT code"
    if invoice.waits_for_document_choice:
        return "d: choose the document"
    if invoice.state == "blocked" or invoice.document_failed:
        return "fix it in PerfectView, then r: retry"
    return ""


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
    HELP = ("What waits for you comes first: BLOCKED (fix the cause: f goes to it, e.g. the VAT code's row), "
            "UNKNOWN (no answer to a booking; looked up in e-Boekhouden before anything is sent again), PICK DOC "
            "(d chooses which attachment is the invoice document) and DOC ERROR. Then what pvsync books itself "
            "(SEEN, READY, BOOKING), then, when the payments job is on, booked invoices not yet paid (UNPAID, "
            "PART PAID) with their open amount. The line under the table has the selected invoice's reason whole. "
            "r asks the engine to retry the selected invoice now; o sorts within each group; p compares the "
            "open items of both services.")

    BINDINGS = [
        Binding("f", "fix", "Fix", id="pending-fix",
                tooltip="Go to the fix of the selected invoice (a VAT code opens its row in VAT mapping)"),
        Binding("r", "retry", "Retry now", id="pending-retry", tooltip="Ask the engine to try this invoice now"),
        Binding("enter", "details", "Details", id="pending-details", priority=True,
                tooltip="Everything about the selected invoice, and the booking it would make"),
        Binding("slash", "filter", "Filter", key_display="/", id="pending-filter", tooltip="Filter by text",
                priority=True),  # see ModeScreen.focus_now
        Binding("o", "next_sort", "Sort", id="pending-sort", show=False, tooltip="Sort by age, invoice, state, amount or open"),
        Binding("p", "open_items", "Open items", id="pending-open-items", show=False,
                tooltip="Where PerfectView and e-Boekhouden disagree about payment (calls both services)"),
        Binding("d", "choose_document", "Document", id="pending-document", show=False,
                tooltip="Choose the invoice document of an invoice with several attachments"),
    ]

    LOADS_IN_WORKER = True
    # The table has the focus from the moment the screen shows, not the filter box above it:
    # Enter typed right after 4 opens an invoice instead of applying an empty filter.
    AUTO_FOCUS = "#pending-table"

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
        yield Static(id="pending-detail")

    def on_mount(self) -> None:
        # At once (see ModeScreen.focus_now): Widget.focus() moved it after the keys typed with the
        # 4, and took the filter box's focus from a / typed among them.
        self.focus_now(self.query_one("#pending-table", DataTable))

    def on_resize(self) -> None:
        self._draw()

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
        self.mark_loaded()
        for request in message.answered:
            asked = self.awaiting.pop(request.id, None)
            if asked is None:
                continue
            failed = request.outcome != "ok"
            self.notify(f"{asked}: {request.message or request.outcome}", title="Pending invoices",
                        severity="warning" if failed else "information", timeout=12 if failed else 6)

    def _shown(self) -> list[InvoiceListing]:
        chosen = [invoice for invoice in self.invoices if not self.text or matches(invoice, self.text)]
        # Within each group: age, longest waiting first; amounts, largest first.
        ordered = sorted(chosen, key=sort_key(self.sort), reverse=self.sort in ("amount", "open"))
        return sorted(ordered, key=group_of)

    def _draw(self) -> None:
        if not self.is_mounted:
            return
        now = self.console.clock()
        shown = self._shown()
        table = self.query_one("#pending-table", DataTable)
        # Rebuilt in order (sorting moves rows); the cursor stays on the same invoice. The
        # columns are rebuilt too: their widths follow the terminal's.
        selected = self._selected()
        table.clear(columns=True)
        columns = column_widths(shown, self.size.width or self.app.size.width)
        for key, label, width in columns:
            table.add_column(Text(label, justify="right") if key == "amount" else label, key=key, width=width)
        reason_width = columns[-1][2]
        for invoice in shown:
            word = state_word(invoice)
            cells = {"invoice": invoice.invoice_number, "state": coloured(word),
                     "amount": Text(amount_text(invoice), justify="right"), "age": age_text(now, invoice.updated_at),
                     "relation": relation_cell(invoice, columns), "reason": reason_cell(invoice, reason_width)}
            table.add_row(*(cells[key] for key, _, _ in columns), key=invoice.activity_id)
        if selected is not None and selected.activity_id in table.rows:
            table.move_cursor(row=table.get_row_index(selected.activity_id))
        self.query_one("#pending-summary", Static).update(self._summary(shown))
        self._show_detail()

    def _summary(self, shown: list[InvoiceListing]) -> Text:
        groups = [group_of(invoice) for invoice in shown]
        text = Text()
        waiting = groups.count(NEEDS_YOU)
        if waiting:
            text.append(f"{waiting} wait{'s' if waiting == 1 else ''} for you (at the top)", style=RED)
        else:
            text.append("Nothing waits for you", style=GREEN)
        in_hand, unpaid = groups.count(IN_HAND), groups.count(UNPAID)
        if in_hand:
            text.append(f"; {in_hand} for pvsync to book")
        if unpaid:
            text.append(f"; {unpaid} booked, unpaid")
        filtered = f" matching \"{self.text}\"" if self.text else ""
        hidden = len(self.invoices) - len(shown)
        if hidden or filtered:
            text.append(f"; {len(shown)} of {len(self.invoices)} shown{filtered}")
        text.append(f". By {self.sort} (o).")
        return text

    @on(DataTable.RowHighlighted, "#pending-table")
    def _highlighted(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        """The selected invoice in full under the table: the reason column may be cut, this line is not."""
        invoice = self._selected()
        detail = self.query_one("#pending-detail", Static)
        if invoice is None:
            detail.update("")
            return
        text = Text.assemble((invoice.invoice_number, "bold"), " ", coloured(state_word(invoice)),
                             f" {amount_text(invoice)}, {invoice.relation or 'no relation'}: ",
                             invoice.notes() or "nothing to do")
        fix = fix_hint(invoice)
        if fix:
            text.append(f" ({fix})", style="bold")
        detail.update(text)

    def _selected(self) -> InvoiceListing | None:
        table = self.query_one("#pending-table", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((invoice for invoice in self.invoices if invoice.activity_id == key), None)

    def action_filter(self) -> None:
        self.focus_text_box(self.query_one("#pending-text", Input))

    @on(Input.Submitted, "#pending-text")
    def apply_filter(self, event: Input.Submitted) -> None:
        self.text = event.value.strip()
        self._draw()
        self.focus_now(self.query_one("#pending-table", DataTable))

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

    # ------------------------------------------------------------------ the fix

    def action_fix(self) -> None:
        invoice = self._selected()
        if invoice is None:
            self.notify("No invoice is selected.", severity="warning")
            return
        self.console.go_to_fix(invoice)

    def select_and_fix(self, activity_id: str) -> None:
        """Select an invoice (from Needs attention) and open what fixes it: the document
        choice, or its details with the way out."""
        table = self.query_one("#pending-table", DataTable)
        if activity_id in table.rows:
            table.move_cursor(row=table.get_row_index(activity_id))
        invoice = self._selected()
        if invoice is None or invoice.activity_id != activity_id:
            return
        if invoice.waits_for_document_choice:
            self.action_choose_document()
        else:
            self.action_details()

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
