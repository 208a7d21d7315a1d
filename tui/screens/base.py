"""What every mode screen shares: header and footer, and the state the app reads for it."""

from __future__ import annotations

import asyncio
from functools import cached_property
from typing import TYPE_CHECKING

from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import ActiveBinding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, Input, TextArea
from textual.worker import Worker

from tui.state import ConsoleState

if TYPE_CHECKING:
    from tui.app import PvsyncApp


# The keys every screen shares, shown first in the footer: at 80 columns the footer cuts
# what comes last, and these must stay visible on every screen.
GLOBAL_ACTIONS = ("sync_now", "help", "quit")


def footer_rank(active: ActiveBinding) -> int:
    action = active.binding.action
    if action in GLOBAL_ACTIONS:
        return 0
    return 2 if action.startswith("switch_mode") else 1


class ModeScreen(Screen):
    """A main screen. Subclasses compose `body()` and draw the state in `show_state`."""

    HELP = ""
    # True for a screen whose rows come from a worker; it calls `mark_loaded` once they are
    # drawn, and keys typed right after switching to it wait for that (4 then Enter opens the
    # first pending invoice instead of finding an empty table).
    LOADS_IN_WORKER = False

    @cached_property
    def _loaded(self) -> asyncio.Event:
        return asyncio.Event()

    def mark_loaded(self) -> None:
        self._loaded.set()

    async def wait_loaded(self, timeout: float) -> None:
        """Until the first rows are drawn, at most `timeout` seconds (a slow or absent state
        folder must not swallow the keyboard: after that the keys go to the screen as it is)."""
        if not self.LOADS_IN_WORKER:
            return
        try:
            await asyncio.wait_for(self._loaded.wait(), timeout)
        except TimeoutError:
            pass

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The footer's order: sync, help and quit first, then this screen's keys, then the other screens."""
        return dict(sorted(super().active_bindings.items(), key=lambda item: footer_rank(item[1])))

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

    def focus_now(self, widget: Widget) -> None:
        """Give widget the focus before the next key is handed out. A text box's key (/) is a
        priority binding whose action calls this: the app then hands the characters typed right
        after it to the box. Widget.focus() moves it only later, and a person typing / F2026
        quickly over SSH saw the 2 switch to the Logbook and the 1 back to Status."""
        self.set_focus(widget)

    def focus_text_box(self, box: Input) -> None:
        """The action of a key that opens a text box; skipped while a box has the focus, so
        that the same key typed there is text."""
        if isinstance(self.focused, (Input, TextArea)):
            raise SkipAction()
        self.focus_now(box)
