"""What every mode screen shares: header and footer, and the state the app reads for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header
from textual.worker import Worker

from tui.state import ConsoleState

if TYPE_CHECKING:
    from tui.app import PvsyncApp


class ModeScreen(Screen):
    """A main screen. Subclasses compose `body()` and draw the state in `show_state`."""

    HELP = ""

    @property
    def console(self) -> PvsyncApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield from self.body()
        yield Footer()

    def body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.console.state_signal.subscribe(self, self._state_arrived)
        if self.console.state is not None:
            self.show_state(self.console.state)

    def on_screen_resume(self) -> None:
        if self.console.state is not None:
            self.show_state(self.console.state)

    def _state_arrived(self, state: ConsoleState) -> None:
        if self.is_current:
            self.show_state(state)

    def show_state(self, state: ConsoleState) -> None:
        """Draw what changed; called on the UI thread, so no I/O here."""

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        # StateChanged does not bubble from a screen's worker to the app, whose handler turns a
        # failure into a notice (never a traceback, never silence).
        self.console.report_worker_failure(event)

    def palette_commands(self) -> list:
        return []
