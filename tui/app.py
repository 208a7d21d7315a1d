"""The pvsync console: the admin's window on the engine, over SSH.

The console is disposable. All state lives in the state folder's database; the console
reads it in worker threads (refreshing only when `PRAGMA data_version` says another
connection committed) and asks for work by writing request rows. When no daemon runs,
the console runs the engine itself in a background worker (see `tui.engine_link`).
`create_app` builds the app without running it, for tests and snapshots.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from textual import on, work
from textual.actions import SkipAction
from textual.app import App
from textual.binding import Binding
from textual.signal import Signal
from textual.widgets import Input, TextArea
from textual.worker import Worker, WorkerState

from core.engine.health import Watch, read_watch
from core.secrets import scrub
from core.store import Store
from core.store.records import utc_now
from tui.commands import PvsyncCommands
from tui.engine_link import ATTACHED, EMBEDDED, NO_ENGINE, EngineLink, EngineMode, Policy
from tui.messages import EngineModeChanged, StateRefreshed, SyncRequested
from tui.screens.approvals import ApprovalsScreen
from tui.screens.base import ModeScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen
from tui.screens.logbook import LogbookScreen
from tui.screens.pending import PendingScreen
from tui.screens.setup import SetupScreen
from tui.screens.status import StatusScreen
from tui.screens.vat import VatScreen
from tui.state import ConsoleState, read_state, run_summary

if TYPE_CHECKING:
    from core.sync.invoice_commands import InvoiceListing

REFRESH_SECONDS = 1.0
# Keys typed right after a screen switch wait at most this long for the new screen's first
# rows (a read of the state folder takes milliseconds; a stuck one must not take the keyboard).
FIRST_ROWS_WAIT_SECONDS = 2.0
# While a sync is asked for or a run goes on, read this often: a forced run takes under a
# second, and a once-a-second read could miss it altogether.
BUSY_REFRESH_SECONDS = 0.2
# A run that ended stays in the header at least this long, so even the shortest is seen.
RUN_SHOWN_SECONDS = 3.0
# Re-read even without a commit this often: a daemon that died commits nothing, and its
# heartbeat only turns stale with time.
STALE_AFTER = timedelta(seconds=5)

# Who runs the engine this console attached to (engine row's mode -> words).
ENGINE_HOLDERS = {"daemon": "daemon", "embedded": "another console's engine", "cli": "pvsync sync"}

# What a failing worker was doing, for the notice (worker name -> words).
WORKER_TASKS = {
    "run_engine": "The engine",
    "refresh_state": "Reading the state",
    "request_sync": "Requesting a sync",
}


class PvsyncApp(App[int]):
    """One console on one state folder and one config file."""

    TITLE = "pvsync"
    CSS_PATH = "app.tcss"
    MODES = {
        "status": StatusScreen,
        "logbook": LogbookScreen,
        "vat": VatScreen,
        "pending": PendingScreen,
        "setup": SetupScreen,
    }
    COMMANDS = App.COMMANDS | {PvsyncCommands}
    # The screen keys are priority bindings: the app handles them the moment they arrive, so a
    # key typed right after (4 then Enter) is handled after the switch, on the new screen. As
    # ordinary bindings they went to the old screen's focused widget first and came back to
    # the app later, after the next key had already acted on the old screen.
    BINDINGS = [
        Binding("1", "switch_mode('status')", "Status", id="mode-status",
                tooltip="Engine, jobs, the run in progress and call budgets", priority=True),
        Binding("2", "switch_mode('logbook')", "Logbook", id="mode-logbook",
                tooltip="Every event the engine recorded, live", priority=True),
        Binding("3", "switch_mode('vat')", "VAT", id="mode-vat",
                tooltip="PerfectView VAT codes to e-Boekhouden BTW-codes", priority=True),
        Binding("4", "switch_mode('pending')", "Pending", id="mode-pending",
                tooltip="Invoices not yet booked or paid", priority=True),
        Binding("s", "sync_now", "Sync now", id="sync-now",
                tooltip="Run all jobs now: writes a sync request the engine carries out"),
        # Not in the footer: it matters on a first run and when twins are proposed, and then
        # Needs attention on the Status screen names the key.
        Binding("w", "approvals", "Approvals", id="approvals", show=False,
                tooltip="The plan that waits for your approval, and proposed twins to link or import"),
        Binding("question_mark", "help", "Help", id="help", key_display="?",
                tooltip="The keys of this screen"),
        Binding("f1", "help", "Help", id="help-f1", show=False, tooltip="The keys of this screen"),
        Binding("q", "quit", "Quit", id="quit",
                tooltip="Close the console; a daemon, if one runs, goes on"),
    ]

    def __init__(self, config_path: Path, state_dir: Path, *, engine_mode: Policy = "auto",
                 clock: Callable[[], datetime] = utc_now, deterministic: bool = False,
                 initial_mode: str | None = None):
        super().__init__()
        self.initial_mode = initial_mode
        self.config_path = Path(config_path)
        self.state_dir = Path(state_dir)
        self.clock = clock
        self.deterministic = deterministic
        if deterministic:
            # A snapshot must not catch a progress bar halfway through its animation.
            self.animation_level = "none"
        self.link = EngineLink(self.state_dir, self.config_path, policy=engine_mode)
        self.store: Store | None = None
        self.state: ConsoleState | None = None
        self.state_signal: Signal[ConsoleState] = Signal(self, "state")
        self._refresh_worker: Worker | None = None
        self._watch: Watch | None = None
        self._watch_stamp: int | None = None
        self._runs_before: int | None = None  # the newest run when the console started: history, not news
        self._announced_run = 0  # the newest run whose end was announced
        self._sync_asked = False  # a sync request not yet picked up by a run
        self._run_shown_until = 0.0

    # ------------------------------------------------------------------ start and stop

    def on_mount(self) -> None:
        self.apply_keymap()
        if not self.config_path.exists():
            self.switch_mode("setup")
        else:
            self.switch_mode(self.initial_mode or "status")
        self.sub_title = "starting"
        self.run_engine()
        self.set_interval(REFRESH_SECONDS, self._tick)
        self.set_interval(BUSY_REFRESH_SECONDS, self._busy_tick)
        if not self.is_headless:
            # A dropped SSH session hangs up the terminal: stop the embedded engine cleanly
            # (after its current step) instead of dying half-way.
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.terminal_lost)

    def apply_keymap(self) -> None:
        """The user's own keys from `[console.keys]`; an entry with a problem keeps its default key."""
        from core.config.keymap import read_keymap

        keymap, problems = read_keymap(self.config_path)
        self.set_keymap(keymap)
        for problem in problems:
            self.notify(f"{problem}. The console's own key is used meanwhile.", title="Console keys",
                        severity="warning", timeout=15)

    def terminal_lost(self) -> None:
        self.link.stop()
        self.exit(return_code=0)

    def on_unmount(self) -> None:
        self.link.stop()
        if self.store is not None:
            self.store.close()

    async def action_switch_mode(self, mode: str) -> None:
        """Switch, and wait until the new screen is mounted and has drawn its first rows: keys
        typed right after the number (4 then Enter) are handled after this action, so they reach
        the new screen and act on what it shows (Textual's own action does not wait, and Enter
        went to the old screen or found the new one's table still empty)."""
        if not isinstance(self.screen, ModeScreen) or isinstance(self.focused, (Input, TextArea)):
            # The number keys are priority bindings (see BINDINGS) but stay text in an input box,
            # and a dialog on top keeps them. Skipped, not refused: the footer stays as it is.
            raise SkipAction()
        await self.switch_mode(mode)
        if isinstance(self.screen, ModeScreen):
            await self.screen.wait_loaded(FIRST_ROWS_WAIT_SECONDS)

    async def action_quit(self) -> None:
        """Quit; while this console's own engine runs a run, ask first (quitting stops it after
        its current step, and the rest waits for the next run)."""
        run = self.state.current_run if self.state is not None else None
        if self.link.embedded and run is not None and not isinstance(self.screen, ConfirmScreen):
            def answered(yes: bool | None) -> None:
                if yes:
                    self.link.stop()
                    self.exit(return_code=0)

            self.push_screen(ConfirmScreen(
                "Quit during a run?", f"Run {run.id} of this console's engine is in progress. Quitting stops "
                "it after its current step; what is left is done in the next run (by the daemon, or the next "
                "console).", yes="quit now", no="stay"), answered)
            return
        self.link.stop()
        self.exit(return_code=0)

    @work(thread=True, exclusive=True, exit_on_error=False, group="engine")
    def run_engine(self) -> None:
        """Open the state, decide embedded or attached, and serve the embedded engine."""
        if self.store is None:
            self.store = Store.open(self.state_dir)
        self.refresh_state(force=True)
        mode = self.link.connect()
        self.post_message(EngineModeChanged(mode))
        if mode.kind == EMBEDDED:
            self.link.serve()
            self.post_message(EngineModeChanged(self.link.mode))

    def config_written(self) -> None:
        """Setup wrote a config: try again to start (or attach to) the engine."""
        if self.link.mode.kind == NO_ENGINE:
            self.run_engine()

    def on_engine_mode_changed(self, message: EngineModeChanged) -> None:
        self.sub_title = self.engine_summary()
        self.refresh_state(force=True)

    # ------------------------------------------------------------------ reading the state

    def _tick(self) -> None:
        if self.store is not None and (self._refresh_worker is None or self._refresh_worker.is_finished):
            self._refresh_worker = self.refresh_state()
        if not self.is_headless and not os.isatty(sys.__stdin__.fileno()):
            self.terminal_lost()

    @property
    def busy(self) -> bool:
        """A sync was asked for, or a run goes on (as far as the last read knows)."""
        state = self.state
        running = state is not None and state.newest_run is not None and state.newest_run.finished_at is None
        return self._sync_asked or running

    def _busy_tick(self) -> None:
        if self.busy:
            self._tick()
        elif self._run_shown_until and time.monotonic() >= self._run_shown_until:
            self._run_shown_until = 0.0
            self.title = self.TITLE

    @work(thread=True, exclusive=True, exit_on_error=False, group="refresh")
    def refresh_state(self, force: bool = False) -> None:
        if self.store is None:
            return
        now = self.clock()
        last = self.state
        if (not force and last is not None and self.store.data_version() == last.data_version
                and now - last.read_at < STALE_AFTER):
            return
        self.post_message(StateRefreshed(read_state(self.store, now, watch=self.watch())))

    def watch(self) -> Watch:
        """What the watchdog measures against, from the config; read again when the file changed."""
        try:
            stamp = self.config_path.stat().st_mtime_ns
        except OSError:
            stamp = None
        if self._watch is None or stamp != self._watch_stamp:
            self._watch, self._watch_stamp = read_watch(self.config_path), stamp
        return self._watch

    def on_state_refreshed(self, message: StateRefreshed) -> None:
        self.state = message.state
        self.sub_title = self.engine_summary()
        self._follow_runs(message.state)
        self.state_signal.publish(message.state)

    def _follow_runs(self, state: ConsoleState) -> None:
        """The run indicator in the header, and a notice with what each run did when it ends.
        Runs that ended before this console started are history: the logbook has them."""
        newest = state.newest_run
        newest_id = newest.id if newest is not None else 0
        if self._runs_before is None:
            self._runs_before = newest_id if newest is None or newest.finished_at is not None else newest_id - 1
            self._announced_run = self._runs_before
        if newest is None or newest.id <= self._runs_before:
            return
        self._sync_asked = False
        if newest.finished_at is None:
            self.title = f"{self.TITLE}  ▶ RUN {newest.id} RUNNING"
            return
        if newest.id > self._announced_run:
            self._announced_run = newest.id
            self.title = f"{self.TITLE}  ■ RUN {newest.id} {newest.outcome.upper()}"
            self._run_shown_until = time.monotonic() + RUN_SHOWN_SECONDS
            failed = newest.outcome not in ("ok",)
            self.notify(run_summary(newest, state.waiting_invoices), title="Run finished",
                        severity="warning" if failed else "information", timeout=10)

    def engine_summary(self) -> str:
        """The engine in words: runs here, attached to which process, or none and why."""
        mode, state = self.link.mode, self.state
        up = state is not None and state.health.engine_up
        show_pid = not self.deterministic
        if mode.kind == EMBEDDED:
            return mode.describe(show_pid=show_pid) + ("" if up or state is None else " - starting")
        if up:
            engine = state.health.engine
            pid = f" (pid {engine.pid})" if show_pid and engine.pid else ""
            holder = ENGINE_HOLDERS.get(engine.mode or "", "daemon")
            return f"attached to {holder}{pid}"
        if mode.kind == ATTACHED:
            return mode.describe(show_pid=show_pid) + " - not responding"
        reason = mode.reason or (state.health.problems[0] if state is not None and state.health.problems else "")
        return f"no engine: {reason}" if reason else "no engine"

    # ------------------------------------------------------------------ actions

    def can_request_sync(self) -> bool:
        if self.store is None:
            return False
        if self.link.mode.kind in (EMBEDDED, ATTACHED):
            return True
        return self.state is not None and self.state.health.engine_up

    def action_sync_now(self) -> None:
        if not self.can_request_sync():
            reason = self.link.mode.reason or "no engine runs for this state folder"
            self.notify(f"Nothing was requested: {reason}.", title="Sync not possible", severity="warning",
                        timeout=8)
            return
        self.request_sync()

    @work(thread=True, exit_on_error=False, group="requests")
    def request_sync(self) -> None:
        self._sync_asked = True
        self.post_message(SyncRequested(self.store.add_request("sync", {"only": None})))

    def on_sync_requested(self, message: SyncRequested) -> None:
        who = "this console's engine" if self.link.mode.kind == EMBEDDED else "the daemon"
        self.title = f"{self.TITLE}  ▶ SYNC REQUESTED"
        self.notify(f"Sync requested (request {message.request_id}); {who} starts it within seconds.",
                    title="Sync now")
        self.refresh_state(force=True)

    def action_approvals(self) -> None:
        if isinstance(self.screen, ApprovalsScreen) or self.store is None:
            return
        self.push_screen(ApprovalsScreen())

    def go_to_fix(self, invoice: InvoiceListing) -> None:
        """Where a person fixes what holds an invoice: its VAT code's row in VAT mapping (the
        editor opened), the document choice, or the invoice's details with the way out."""
        code = blocking_vat_code(invoice)
        if code is not None:
            self.switch_mode("vat")
            self.call_after_refresh(lambda: self.screen.open_code(code))
            return
        self.switch_mode("pending")
        self.call_after_refresh(lambda: self.screen.select_and_fix(invoice.activity_id))

    def offer_sync(self, why: str) -> None:
        """After a fix: ask whether to sync now, and show the pending invoices while it runs."""
        def answered(yes: bool | None) -> None:
            if yes:
                self.action_sync_now()
                self.switch_mode("pending")

        self.push_screen(ConfirmScreen("Sync now?", f"{why}\nSync now, so the waiting invoices are booked in this "
                                       "run rather than the next scheduled one?", yes="sync now", no="later"),
                         answered)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.screen))

    # ------------------------------------------------------------------ failures

    @on(Worker.StateChanged)
    def report_worker_failure(self, event: Worker.StateChanged) -> None:
        """Every failing worker, app or screen, becomes a notice: never a traceback on screen."""
        if event.state != WorkerState.ERROR:
            return
        worker = event.worker
        task = WORKER_TASKS.get(worker.name, worker.description or worker.name)
        error = worker.error
        text = scrub(f"{task} failed: {type(error).__name__}: {error}")
        if worker.group == "engine":
            self.link.mode = EngineMode(NO_ENGINE, reason=scrub(f"the engine stopped: {error}"))
            self.sub_title = self.engine_summary()
        self.notify(text, title="Something went wrong", severity="error", timeout=15)


def blocking_vat_code(invoice: InvoiceListing) -> str | None:
    """The PerfectView VAT code an invoice is blocked on, or None. The journal keeps the
    reason in words only, and each VAT reason quotes the code's description ('BTW 6%')."""
    if invoice.state != "blocked" or not invoice.block_code.startswith("vat_"):
        return None
    quoted = re.search(r"'([^']+)'", invoice.reason)
    return quoted.group(1) if quoted else None


def create_app(config_path: Path, state_dir: Path, *, engine_mode: Policy = "auto",
               clock: Callable[[], datetime] = utc_now, deterministic: bool = False,
               initial_mode: str | None = None) -> PvsyncApp:
    """The console, not yet running. `engine_mode="attach"` never runs an engine here;
    `deterministic` hides pids and folder names (for snapshots)."""
    return PvsyncApp(config_path, state_dir, engine_mode=engine_mode, clock=clock, deterministic=deterministic,
                     initial_mode=initial_mode)


def run_console(config_path: Path, state_dir: Path) -> int:
    app = create_app(config_path, state_dir)
    app.run()
    return app.return_code or 0


def run_demo(smoke: bool = False, api: str = "rest") -> int:
    """`pvsync demo`: the console on the built-in simulators with a seeded organisation and
    a scenario clock. `smoke` runs it headless, lets it settle and quits (a test)."""
    from core.demo.scenario import build_demo

    folder = Path(tempfile.mkdtemp(prefix="pvsync-demo-"))
    demo = None
    try:
        demo = build_demo(folder, api=api)
        demo.start_clock()
        app = create_app(demo.config_path, demo.state_dir)

        async def start_and_quit(pilot) -> None:
            await pilot.pause()
            await pilot.pause()
            await pilot.press("q")
            if isinstance(app.screen, ConfirmScreen):  # a run was going on: quit anyway
                await pilot.press("y")

        app.run(headless=smoke, auto_pilot=start_and_quit if smoke else None)
        return app.return_code or 0
    finally:
        if demo is not None:
            demo.close()
        shutil.rmtree(folder, ignore_errors=True)
