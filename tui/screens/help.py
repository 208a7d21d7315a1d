"""Help (`?` or F1): the console's own keys on the screen or dialog it was opened from, grouped,
and what that screen is for. Textual's widget keys (arrows in a table, tab) are left out:
they work as everywhere, and listing them buried the console's own."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from core.config.console_keys import APP, BINDINGS

CLOSE = Binding("escape,q,enter", "dismiss", "Close", id="close", tooltip="Back to the screen")
# A dialog hides the app's keys (Textual stops at the modal), so a dialog binds ? itself:
# it explains the dialog rather than closing it.
CLOSE_BINDINGS = [CLOSE, Binding("question_mark,f1", "app.help", "Help", id="dialog-help", show=False,
                                 tooltip="The keys of this dialog")]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [CLOSE, Binding("question_mark,f1", "dismiss", "Close", id="close-help", show=False,
                               tooltip="Back to the screen")]

    def __init__(self, screen: Screen):
        super().__init__()
        self.about = getattr(screen, "HELP", "") or ""
        self.bindings_of = screen

    def key_groups(self) -> dict[str, list[str]]:
        """"This screen" (or "This dialog") and "Every screen": one line per action (a binding
        on two keys is listed once), hidden keys included, only the console's own."""
        here = "This dialog" if isinstance(self.bindings_of, ModalScreen) else "This screen"
        groups: dict[str, list[str]] = {here: [], "Every screen": []}
        seen: set[str] = set()
        for active in self.bindings_of.active_bindings.values():
            binding = active.binding
            # The console's own bindings all have an id; Textual's widget keys have none.
            if not binding.id or binding.system or binding.id in seen:
                continue
            seen.add(binding.id)
            shown = binding.key_display or self.app.get_key_display(binding)
            known = BINDINGS.get(binding.id)
            group = "Every screen" if known is not None and known.scope == APP else here
            groups[group].append(f"  {shown:<10} {binding.description:<14} {active.tooltip or binding.tooltip}")
        if isinstance(self.bindings_of, ModalScreen):
            groups.pop("Every screen")  # a dialog's keys are its own: the screens' wait behind it
        return {name: rows for name, rows in groups.items() if rows}

    def key_rows(self) -> list[str]:
        return [row for rows in self.key_groups().values() for row in rows]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body", classes="modal-body"):
            yield Static("Help", classes="modal-title")
            if self.about:
                yield Static(self.about, classes="help-about")
            text = Text()
            for name, rows in self.key_groups().items():
                text.append(f"{name}:\n", style="bold")
                text.append("\n".join(rows) + "\n")
            text.append("Ctrl+P opens the command palette: every action of this screen by name.")
            yield Static(text, id="help-keys")
            yield Static("Close with q, Enter or Escape.", classes="modal-hint")
