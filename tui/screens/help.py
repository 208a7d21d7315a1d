"""Help (`?` or F1): the keys of the screen it was opened from, and what that screen is for."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

CLOSE_BINDINGS = [
    Binding("escape,q,enter", "dismiss", "Close", id="close", tooltip="Back to the screen"),
    Binding("question_mark,f1", "dismiss", "Close", id="close-help", show=False, tooltip="Back to the screen"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = CLOSE_BINDINGS

    def __init__(self, screen: Screen):
        super().__init__()
        self.about = getattr(screen, "HELP", "") or ""
        self.bindings_of = screen

    def key_rows(self) -> list[str]:
        """One line per action (a binding on two keys is listed once), hidden keys included."""
        rows = []
        seen: set[str] = set()
        for key, active in self.bindings_of.active_bindings.items():
            binding = active.binding
            if (binding.id or key) in seen:
                continue
            seen.add(binding.id or key)
            shown = binding.key_display or self.app.get_key_display(binding)
            rows.append(f"  {shown:<10} {binding.description:<14} {active.tooltip or binding.tooltip}")
        return rows

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body", classes="modal-body"):
            yield Static("Help", classes="modal-title")
            if self.about:
                yield Static(self.about, classes="help-about")
            yield Static(Text("Keys:\n" + "\n".join(self.key_rows())), id="help-keys")
            yield Static("Close with q, Enter or Escape.", classes="modal-hint")
