"""Status (key 1): is the engine alive, how did each job last end, what runs now, what needs a person.

Everything is said in words (OK, FAILED, OVERDUE, not responding): colour only repeats it,
so the screen reads the same in 256 colours, with NO_COLOR, and to a screen reader.
"""

from __future__ import annotations

import re

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual import on
from textual.binding import Binding
from textual.widgets import DataTable, Label, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from core.engine.jobs import JOB_ORDER
from tui.formatting import age_text, counters_text, due_text, moment_text, path_text, span_text
from tui.screens.base import ModeScreen
from tui.screens.details import DetailsScreen
from tui.state import ConsoleState
from tui.state_colours import GREEN, RED, YELLOW, coloured

OUTCOME_WORDS = {"ok": "OK", "partial": "PARTIAL", "failed": "FAILED", "interrupted": "INTERRUPTED",
                 "running": "RUNNING", "skipped": "SKIPPED"}
# Widths fixed per terminal width (a column sized by its first value would cut later,
# longer ones). The counts come last and take what is left; below WIDE columns the start
# time and duration give way to the run number, and Enter shows a job's counts whole.
JOB_COLUMNS = (("job", "Job", 9), ("last", "Last run", 24), ("outcome", "Outcome", 11), ("took", "Took", 6),
               ("next", "Next due", 15), ("counts", "Counts", 0))
NARROW_JOB_COLUMNS = (("job", "Job", 9), ("last", "Last", 6), ("outcome", "Outcome", 11), ("next", "Next due", 15),
                      ("counts", "Counts", 0))
WIDE = 100


def job_columns(width: int) -> list[tuple[str, str, int]]:
    """(key, label, width) for a table `width` cells wide: the counts get the rest."""
    fixed = JOB_COLUMNS if width >= WIDE else NARROW_JOB_COLUMNS
    # cell padding, the counts' padding, the body's padding and scrollbar
    used = sum(size + 2 for _, _, size in fixed[:-1]) + 2 + 8
    return [*fixed[:-1], ("counts", "Counts", max(width - used, 12))]


def cut_at_comma(text: str, width: int) -> str:
    """A list of counts cut after a whole item ("7 booked, 2 blocked, …"), never inside one."""
    if len(text) <= width:
        return text
    cut = text[:width - 1]
    return (cut[:cut.rindex(",") + 1] if "," in cut else cut) + " …"


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
        if not self.query(ProgressBar):
            return  # not composed yet: on_mount shows the newest values
        done, total = int(values.get("done", 0)), int(values.get("total", 0))
        self.query_one(ProgressBar).update(total=total or None, progress=done)
        extra = {k: v for k, v in values.items() if k not in ("done", "total")}
        counts = f"{done} of {total}" + (f"; {counters_text(extra)}" if extra else "")
        self.query_one(".phase-counts", Label).update(counts)


class StatusScreen(ModeScreen):
    HELP = ("What needs you first (Enter on an invoice goes to its fix: a VAT code opens its row in VAT "
            "mapping), then the engine (embedded in this console, or a daemon this console is attached to), "
            "the run in progress, each job's last run and when it is next due (Enter on a job: its counts "
            "whole), the API call budgets and how each service last answered.")
    BINDINGS = [
        Binding("enter", "open_selected", "Open", id="status-open",
                tooltip="The fix of the selected item, or the selected job's last run in full"),
    ]

    def body(self) -> ComposeResult:
        with VerticalScroll(id="status-body"):
            yield Static(id="engine-line")
            yield Static(id="paths-line")
            yield Static(id="attention-title")
            yield OptionList(id="attention", compact=True)
            yield Static(id="run-line")
            yield Vertical(id="progress")
            yield DataTable(id="jobs", cursor_type="row", zebra_stripes=False)
            yield Static(id="calls-line")
            yield Static(id="connections")

    def on_mount(self) -> None:
        self.query_one("#paths-line", Static).update(self._paths_text())
        self.focus_now(self.query_one("#attention", OptionList))  # at once, as on the Pending screen

    def _paths_text(self) -> Text:
        full = not self.console.deterministic
        return Text.assemble(("Config  ", "bold"), path_text(self.console.config_path, full=full),
                             ("   State  ", "bold"), path_text(self.console.state_dir, full=full))

    def on_resize(self) -> None:
        if self.console.state is not None:
            self.show_state(self.console.state)

    def show_state(self, state: ConsoleState) -> None:
        now = self.console.clock()
        health = state.health
        engine = health.engine
        line = Text.assemble(("Engine  ", "bold"), self.console.engine_summary())
        if health.engine_up:
            # On a line of its own: appended to the summary it wrapped mid-phrase at 80 columns.
            line.append(f"\n        {engine.state}; heartbeat {age_text(now, engine.heartbeat_at)}")
        self.query_one("#engine-line", Static).update(line)
        self._show_attention(state)
        self._show_run(state)
        self._show_jobs(state, now)
        calls = state.calls
        self.query_one("#calls-line", Static).update(Text.assemble(
            ("Calls   ", "bold"), f"PerfectView {calls.perfectview_today} today; {calls.eboekhouden_text()}"))
        self.query_one("#connections", Static).update(self._connections_text(state))

    def _show_attention(self, state: ConsoleState) -> None:
        title = Text("Needs attention", style="bold")
        if state.attention:
            title.append(f"  {len(state.attention)} item(s); Enter on one goes to its fix", style="")
        else:
            title.append("  nothing", style=GREEN)
        self.query_one("#attention-title", Static).update(title)
        box = self.query_one("#attention", OptionList)
        texts = [str(item) for item in state.attention]
        if [str(option.prompt) for option in box.options] == texts:
            return
        highlighted = box.highlighted
        box.clear_options()
        box.add_options([Option(Text(item.text, style=RED if item.invoice is not None else YELLOW),
                                id=f"attention-{number}") for number, item in enumerate(state.attention)])
        box.display = bool(state.attention)
        if state.attention:
            box.highlighted = min(highlighted or 0, len(state.attention) - 1)
        self.attention = list(state.attention)

    @on(OptionList.OptionSelected, "#attention")
    def _attention_chosen(self, event: OptionList.OptionSelected) -> None:
        self._go_to(event.option_index)

    def _go_to(self, index: int) -> None:
        items = getattr(self, "attention", [])
        if not 0 <= index < len(items):
            return
        item = items[index]
        if item.invoice is not None:
            self.console.go_to_fix(item.invoice)
        elif "relation" in item.text:
            self.console.switch_mode("logbook")
        else:
            self.app.push_screen(DetailsScreen("Needs attention", [item.text]))

    def action_open_selected(self) -> None:
        focused = self.focused
        if isinstance(focused, OptionList) and focused.highlighted is not None:
            self._go_to(focused.highlighted)
        elif isinstance(focused, DataTable) and focused.row_count:
            self._show_job(focused.coordinate_to_cell_key(focused.cursor_coordinate).row_key.value)

    @on(DataTable.RowSelected, "#jobs")
    def _job_chosen(self, event: DataTable.RowSelected) -> None:
        self._show_job(str(event.row_key.value))

    def _show_job(self, name: str) -> None:
        state = self.console.state
        job = next((job for job in state.health.jobs if job.job == name), None) if state else None
        if job is None or job.last_run is None:
            self.app.push_screen(DetailsScreen(f"Job {name}", ["It has not run yet."]))
            return
        run = job.last_run
        outcome = run.job_outcomes.get(name, run.outcome)
        lines = [f"Last run   run {run.id} ({run.trigger}), {moment_text(run.started_at)}",
                 f"Outcome    {OUTCOME_WORDS.get(outcome, outcome.upper())}",
                 f"Took       {span_text(run.started_at, run.finished_at)}",
                 f"Counts     {counters_text(run.counters.get(name, {})) or '-'}"]
        if run.error:
            lines.append(f"Error      {run.error}")
        self.app.push_screen(DetailsScreen(f"Job {name}", lines))

    def _connections_text(self, state: ConsoleState) -> Text:
        """How each service last answered, in words (FAILING also in bold, never in colour alone)."""
        text = Text()
        for number, service in enumerate(state.health.services):
            text.append("Links   " if number == 0 else "        ", style="bold")
            text.append(f"{service.service:<13}")
            verdict = service.verdict(moment_text(service.at) if service.at else "")
            text.append(verdict + "\n", style=RED if service.state == "FAILING" else "")
        return text

    def _show_run(self, state: ConsoleState) -> None:
        run = state.current_run
        if run is None:
            text = Text.assemble(("Run     ", "bold"), "none in progress (s: sync now)")
        else:
            text = Text.assemble(("Run     ", "bold"), f"run {run.id} ({run.trigger}) ", ("RUNNING", YELLOW),
                                 f" since {moment_text(run.started_at)}: {', '.join(run.jobs)}")
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
        columns = job_columns(self.size.width or self.app.size.width)
        if [key for key, _, _ in columns] != [str(key.value) for key in table.columns] or \
                columns[-1][2] != table.columns["counts"].width:
            table.clear(columns=True)
            for key, label, width in columns:
                table.add_column(label, key=key, width=width)
        counts_width = columns[-1][2]
        wanted = {key for key, _, _ in columns}
        by_name = {job.job: job for job in state.health.jobs}
        for name in [*JOB_ORDER, *sorted(set(by_name) - set(JOB_ORDER))]:
            job = by_name.get(name)
            if job is None:
                continue
            run = job.last_run
            if run is None:
                cells = {"job": name, "last": "never", "outcome": "-", "took": "-", "counts": "-"}
            else:
                outcome = run.job_outcomes.get(name, run.outcome)
                wide = "took" in wanted
                cells = {"job": name, "last": f"{moment_text(run.started_at)} (run {run.id})" if wide
                         else f"run {run.id}",
                         "outcome": coloured(OUTCOME_WORDS.get(outcome, outcome.upper())),
                         "took": span_text(run.started_at, run.finished_at),
                         "counts": cut_at_comma(counters_text(run.counters.get(name, {})) or "-", counts_width)}
            cells["next"] = (coloured("OVERDUE " + due_text(now, job.next_due)) if job.overdue
                             else due_text(now, job.next_due))
            if name in table.rows:
                for column in wanted:
                    table.update_cell(name, column, cells[column])
            else:
                table.add_row(*(cells[key] for key, _, _ in columns), key=name)
