"""Status (key 1): is the engine alive, how did each job last end, what runs now, what needs a person.

Everything is said in words (OK, FAILED, OVERDUE, not responding): colour only repeats it,
so the screen reads the same in 256 colours, with NO_COLOR, and to a screen reader.
"""

from __future__ import annotations

import re

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Label, ProgressBar, Static

from core.engine.jobs import JOB_ORDER
from tui.formatting import age_text, counters_text, due_text, moment_text, path_text, span_text
from tui.screens.base import ModeScreen
from tui.state import ConsoleState

OUTCOME_WORDS = {"ok": "OK", "partial": "PARTIAL", "failed": "FAILED", "interrupted": "INTERRUPTED",
                 "running": "RUNNING", "skipped": "SKIPPED"}
# Fixed widths: cells are updated in place as runs go, and a column sized by its first
# value would cut later, longer ones ("2026-03-09 14:29 (run 3)"). The counts come last:
# at 80 columns they are the part that may be cut, at 120 they fit.
JOB_COLUMNS = (("job", "Job", 9), ("last", "Last run", 24), ("outcome", "Outcome", 9), ("took", "Took", 6),
               ("next", "Next due", 13), ("counts", "Counts", 40))


def phase_id(phase: str) -> str:
    return "phase-" + re.sub(r"[^A-Za-z0-9_-]", "_", phase)


class PhaseProgress(Horizontal):
    """One phase of the run in progress: its name, a bar, and its counts in numbers."""

    DEFAULT_CSS = """
    PhaseProgress { height: 1; }
    PhaseProgress > .phase-name { width: 20; }
    PhaseProgress > ProgressBar { width: 26; }
    PhaseProgress > .phase-counts { width: 1fr; }
    """

    def __init__(self, phase: str, values: dict, **kwargs):
        super().__init__(**kwargs)
        self.phase = phase
        self.values = values

    def compose(self) -> ComposeResult:
        yield Label(self.phase, classes="phase-name")
        # No percentage or ETA: the counts say it in numbers, and an ETA would jitter.
        yield ProgressBar(show_eta=False, show_percentage=False, classes="phase-bar")
        yield Label("", classes="phase-counts")

    def on_mount(self) -> None:
        self.show(self.values)

    def show(self, values: dict) -> None:
        self.values = values
        done, total = int(values.get("done", 0)), int(values.get("total", 0))
        self.query_one(ProgressBar).update(total=total or None, progress=done)
        extra = {k: v for k, v in values.items() if k not in ("done", "total")}
        counts = f"{done} of {total}" + (f"; {counters_text(extra)}" if extra else "")
        self.query_one(".phase-counts", Label).update(counts)


class StatusScreen(ModeScreen):
    # A link's line is cut rather than wrapped: the whole failure is in the logbook.
    DEFAULT_CSS = """
    StatusScreen #connections { text-wrap: nowrap; text-overflow: ellipsis; }
    """
    HELP = ("The engine (embedded in this console, or a daemon this console is attached to), each job's last "
            "run and when it is next due, the run in progress, the API call budgets, and what needs you.")

    def body(self) -> ComposeResult:
        with VerticalScroll(id="status-body"):
            yield Static(id="engine-line")
            yield Static(id="paths-line")
            yield Static(id="run-line")
            yield Vertical(id="progress")
            yield DataTable(id="jobs", cursor_type="row", zebra_stripes=False)
            yield Static(id="calls-line")
            yield Static(id="connections")
            yield Static(id="attention")

    def on_mount(self) -> None:
        jobs = self.query_one("#jobs", DataTable)
        for key, label, width in JOB_COLUMNS:
            jobs.add_column(label, key=key, width=width)
        self.query_one("#paths-line", Static).update(self._paths_text())

    def _paths_text(self) -> Text:
        full = not self.console.deterministic
        return Text.assemble(("Config  ", "bold"), path_text(self.console.config_path, full=full),
                             ("   State  ", "bold"), path_text(self.console.state_dir, full=full))

    def show_state(self, state: ConsoleState) -> None:
        now = self.console.clock()
        health = state.health
        engine = health.engine
        line = Text.assemble(("Engine  ", "bold"), self.console.engine_summary())
        if health.engine_up:
            line.append(f"; {engine.state}, heartbeat {age_text(now, engine.heartbeat_at)}")
        self.query_one("#engine-line", Static).update(line)
        self._show_run(state)
        self._show_jobs(state, now)
        calls = state.calls
        self.query_one("#calls-line", Static).update(Text.assemble(
            ("Calls   ", "bold"), f"PerfectView {calls.perfectview_today} today; {calls.eboekhouden_text()}"))
        self.query_one("#connections", Static).update(self._connections_text(state))
        attention = Text("Needs attention\n", style="bold")
        if state.attention:
            for item in state.attention:
                attention.append(f"  - {item}\n", style="")
        else:
            attention.append("  nothing\n", style="")
        self.query_one("#attention", Static).update(attention)

    def _connections_text(self, state: ConsoleState) -> Text:
        """How each service last answered, in words (FAILING also in bold, never in colour alone)."""
        text = Text()
        for number, service in enumerate(state.health.services):
            text.append("Links   " if number == 0 else "        ", style="bold")
            text.append(f"{service.service:<13}")
            verdict = service.verdict(moment_text(service.at) if service.at else "")
            text.append(verdict + "\n", style="bold" if service.state == "FAILING" else "")
        return text

    def _show_run(self, state: ConsoleState) -> None:
        run = state.current_run
        if run is None:
            text = Text.assemble(("Run     ", "bold"), "none in progress (s: sync now)")
        else:
            text = Text.assemble(("Run     ", "bold"), f"run {run.id} ({run.trigger}) RUNNING since "
                                                       f"{moment_text(run.started_at)}: {', '.join(run.jobs)}")
        self.query_one("#run-line", Static).update(text)
        progress = state.health.engine.progress if run is not None else {}
        box = self.query_one("#progress", Vertical)
        wanted = {phase_id(phase): phase for phase in progress}
        for row in list(box.query(PhaseProgress)):
            if row.id not in wanted:
                row.remove()
        for key, phase in wanted.items():
            rows = box.query(f"#{key}")
            if rows:
                rows.first(PhaseProgress).show(progress[phase])
            else:
                box.mount(PhaseProgress(phase, progress[phase], id=key))

    def _show_jobs(self, state: ConsoleState, now) -> None:
        table = self.query_one("#jobs", DataTable)
        by_name = {job.job: job for job in state.health.jobs}
        for name in [*JOB_ORDER, *sorted(set(by_name) - set(JOB_ORDER))]:
            job = by_name.get(name)
            if job is None:
                continue
            run = job.last_run
            if run is None:
                cells = {"job": name, "last": "never run", "outcome": "-", "took": "-", "counts": "-"}
            else:
                outcome = run.job_outcomes.get(name, run.outcome)
                cells = {"job": name, "last": f"{moment_text(run.started_at)} (run {run.id})",
                         "outcome": OUTCOME_WORDS.get(outcome, outcome.upper()),
                         "took": span_text(run.started_at, run.finished_at),
                         "counts": counters_text(run.counters.get(name, {})) or "-"}
            cells["next"] = due_text(now, job.next_due) + (" OVERDUE" if job.overdue else "")
            if name in table.rows:
                for column, value in cells.items():
                    table.update_cell(name, column, value)
            else:
                table.add_row(*(cells[key] for key, _, _ in JOB_COLUMNS), key=name)
