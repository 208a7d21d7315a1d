"""Which attachment is the invoice document: a list to pick from, for an invoice with several.

The list is what the invoices job last read from PerfectView (names, types, when they
were added; PerfectView lists no sizes without sending the files). Choosing closes the
modal with the attachment's id; the pending screen writes the request the engine answers.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from core.sync.invoice_commands import DocumentChoice, attachment_added


class DocumentChoiceScreen(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape,q", "dismiss(None)", "Cancel", id="document-cancel", tooltip="Close without choosing"),
        Binding("enter", "choose", "Choose", id="document-choose", priority=True,
                tooltip="This attachment is the invoice document"),
    ]

    def __init__(self, choice: DocumentChoice):
        super().__init__()
        self.choice = choice

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-body"):
            yield Static(f"Invoice {self.choice.invoice_number}: which attachment is the invoice document?",
                         classes="modal-title")
            yield DataTable(id="document-table", cursor_type="row")
            yield Static(Text("The chosen file is mailed to e-Boekhouden's archive in the next run. PerfectView "
                              "lists no file sizes without sending the files."), classes="modal-hint")
            yield Static("Enter chooses; Escape cancels.", classes="modal-hint")

    def on_mount(self) -> None:
        table = self.query_one("#document-table", DataTable)
        table.add_columns("File", "Type", "Added")
        for attachment in self.choice.attachments:
            table.add_row(attachment.file_name, attachment.extension or "-", attachment_added(attachment),
                          key=attachment.id)
        table.styles.height = min(len(self.choice.attachments) + 1, 10)
        table.focus()

    @on(DataTable.RowSelected, "#document-table")
    def row_clicked(self, event: DataTable.RowSelected) -> None:
        self.action_choose()

    def action_choose(self) -> None:
        table = self.query_one("#document-table", DataTable)
        if not table.row_count:
            self.dismiss(None)
            return
        self.dismiss(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
