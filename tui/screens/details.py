"""A read-only page of details (a logbook entry, an invoice), closed with q, Enter or Escape."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.screens.help import CLOSE_BINDINGS


class DetailsScreen(ModalScreen[None]):
    BINDINGS = CLOSE_BINDINGS

    def __init__(self, title: str, lines: list[str]):
        super().__init__()
        self.title_text = title
        self.lines = lines

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="modal-body"):
            yield Static(self.title_text, classes="modal-title")
            # Text, not markup: a logged message may contain [brackets].
            yield Static(Text("\n".join(self.lines)), id="details-text")
            yield Static("Close with q, Enter or Escape.", classes="modal-hint")
