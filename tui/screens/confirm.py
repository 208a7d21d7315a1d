"""A yes/no question in a dialog (quit during a run, sync after a fix): y or Enter says yes, n or Escape no.

Single keys on purpose: over a slow SSH link Escape arrives late, and a question the
admin answers with the key named in it is one they can answer without looking twice.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes", id="confirm-yes", tooltip="Yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm-no", tooltip="No, back to the screen"),
    ]

    def __init__(self, title: str, question: str, *, yes: str = "yes", no: str = "no"):
        super().__init__()
        self.title_text = title
        self.question = question
        self.yes, self.no = yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-body confirm-body"):
            yield Static(self.title_text, classes="modal-title")
            yield Static(Text(self.question), id="confirm-question")
            yield Static(f"y or Enter: {self.yes}    n or Escape: {self.no}", classes="modal-hint")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
