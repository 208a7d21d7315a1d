"""Logbook (key 2): every event, live, filtered by level, kind, run and text.

Reads happen in worker threads a page at a time (see `LogbookView`); each answer carries
the filter it was read for, so an answer to an outdated filter is dropped, not shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from core import clock
from core.store import LogEntry
from tui.commands import PaletteCommand
from tui.formatting import full_moment_text
from tui.logbook_query import LogFilter, export_csv, newer_page, newest_page, older_page
from tui.messages import LogbookExported
from tui.screens.base import ModeScreen
from tui.screens.details import DetailsScreen
from tui.state import ConsoleState
from tui.widgets.logbook_view import PAGE, LogbookView


@dataclass
class PageRead(Message, bubble=False):
    """A page the worker read: where it goes, for which filter, and whether more lies beyond."""

    where: str  # newest | oldest | older | newer | live
    log_filter: LogFilter
    entries: list[LogEntry]
    more: bool


def entry_details(entry: LogEntry) -> list[str]:
    lines = [f"Entry     {entry.id}", f"Time      {full_moment_text(entry.at)}", f"Level     {entry.level}",
             f"Kind      {entry.kind}", f"Run       {entry.run_id if entry.run_id is not None else '-'}",
             f"Subject   {entry.subject or '-'}", "", entry.message]
    if entry.details:
        lines += ["", "Details", json.dumps(entry.details, indent=2, ensure_ascii=False, sort_keys=True)]
    return lines


class ExportScreen(ModalScreen[Path | None]):
    """Asks where to write the CSV; Enter writes, Escape or the button cancels."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="export-cancel", tooltip="Do not export")]

    def __init__(self, suggestion: Path, filter_text: str):
        super().__init__()
        self.suggestion = suggestion
        self.filter_text = filter_text

    def compose(self) -> ComposeResult:
        with Static(classes="modal-body"):
            yield Static("Export logbook to CSV", classes="modal-title")
            yield Label(f"Entries: {self.filter_text}")
            yield Input(str(self.suggestion), id="export-path", placeholder="path of the CSV file")
            with Horizontal(classes="modal-buttons"):
                yield Button("Export", id="export-go", variant="primary")
                yield Button("Cancel", id="export-cancel")

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export-go")
    def export(self) -> None:
        text = self.query_one("#export-path", Input).value.strip()
        if not text:
            self.notify("Give a path for the CSV file.", severity="warning")
            return
        self.dismiss(Path(text).expanduser())

    @on(Button.Pressed, "#export-cancel")
    def cancel(self) -> None:
        self.dismiss(None)


class LogbookScreen(ModeScreen):
    HELP = ("The logbook, newest at the bottom. At the bottom it follows new entries; scroll up to read "
            "back (older pages load as you go). Filters: l level, k kind, r the run of the selected entry, "
            "/ text. Enter shows an entry in full; e exports what the filters show to CSV.")

    BINDINGS = [
        Binding("slash", "search", "Search", key_display="/", id="log-search", tooltip="Filter by text",
                priority=True),  # see ModeScreen.focus_now
        Binding("l", "next_level", "Level", id="log-level", tooltip="Show this level and worse; cycles"),
        Binding("k", "next_kind", "Kind", id="log-kind", tooltip="Show one kind of entry; cycles"),
        Binding("r", "run_filter", "Run", id="log-run", tooltip="Only the selected entry's run; again for all"),
        Binding("e", "export", "Export", id="log-export", tooltip="Write the entries shown to a CSV file"),
        Binding("f", "follow", "Follow", id="log-follow", show=False, tooltip="Jump to the newest and follow"),
        Binding("c", "clear_filters", "Clear", id="log-clear", show=False, tooltip="Show everything"),
    ]

    LOADS_IN_WORKER = True
    AUTO_FOCUS = "#log-view"  # Enter typed right after 2 opens an entry, not the search box

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.log_filter = LogFilter()
        self.seen_version: int | None = None

    def body(self) -> ComposeResult:
        yield Input(placeholder="/ search text, Enter applies", id="log-text", compact=True)
        yield Static(id="log-filters")
        yield LogbookView(id="log-view")

    @property
    def view(self) -> LogbookView:
        return self.query_one(LogbookView)

    def on_mount(self) -> None:
        self._show_filters()
        self.focus_now(self.view)  # at once, as on the Pending screen

    def palette_commands(self) -> list[PaletteCommand]:
        return [PaletteCommand("Export logbook to CSV", "Write the entries the filters show to a file",
                               self.action_export),
                PaletteCommand("Logbook: follow newest", "Jump to the newest entry and follow",
                               self.action_follow),
                PaletteCommand("Logbook: clear filters", "Show every entry", self.action_clear_filters)]

    # ------------------------------------------------------------------ reading

    def show_state(self, state: ConsoleState) -> None:
        if self.seen_version is None:
            self.seen_version = state.data_version
            self.read_page("newest")
        elif state.data_version != self.seen_version:
            self.seen_version = state.data_version
            if self.view.following and self.view.entries:
                self.read_page("live", self.view.entries[-1].id)
            elif self.view.following:
                self.read_page("newest")
            else:
                self.view.has_newer = True

    @work(thread=True, exit_on_error=False, group="logbook")
    def read_page(self, where: str, anchor: int = 0) -> None:
        store, log_filter = self.console.store, self.log_filter
        if store is None:
            return
        if where == "newest":
            entries = newest_page(store, log_filter, PAGE + 1)
            more, entries = len(entries) > PAGE, entries[-PAGE:]
        elif where == "older":
            entries = older_page(store, log_filter, anchor, PAGE + 1)
            more, entries = len(entries) > PAGE, entries[-PAGE:]
        else:  # newer, live, oldest: forward from an id
            entries = newer_page(store, log_filter, anchor, PAGE + 1)
            more, entries = len(entries) > PAGE, entries[:PAGE]
        self.post_message(PageRead(where, log_filter, entries, more))

    def on_page_read(self, message: PageRead) -> None:
        if message.log_filter != self.log_filter:
            return  # read for a filter that has since changed
        view = self.view
        if message.where == "newest":
            view.replace(message.entries, has_older=message.more, has_newer=False)
        elif message.where == "oldest":
            view.replace(message.entries, has_older=False, has_newer=message.more, at_end=False)
        elif message.where == "older":
            view.add_older(message.entries, more=message.more)
        elif message.where == "live" and message.more:
            self.read_page("newest")  # more arrived than a page: jump to the newest
        else:
            view.add_newer(message.entries, more=message.more)
        self._show_filters()
        self.mark_loaded()

    def on_logbook_view_need_older(self, message: LogbookView.NeedOlder) -> None:
        self.read_page("older", message.before_id)

    def on_logbook_view_need_newer(self, message: LogbookView.NeedNewer) -> None:
        self.read_page("newer", message.after_id)

    def on_logbook_view_need_end(self, message: LogbookView.NeedEnd) -> None:
        self.read_page("newest" if message.newest else "oldest")

    def on_logbook_view_moved(self, message: LogbookView.Moved) -> None:
        self._show_filters()

    def on_logbook_view_chosen(self, message: LogbookView.Chosen) -> None:
        self.app.push_screen(DetailsScreen(f"Logbook entry {message.entry.id}", entry_details(message.entry)))

    # ------------------------------------------------------------------ filters

    def _set_filter(self, log_filter: LogFilter) -> None:
        self.log_filter = log_filter
        self._show_filters()
        self.read_page("newest")

    def _show_filters(self) -> None:
        view = self.view
        position = ("following new entries" if view.following
                    else "scrolled away from the newest: End or f goes back and follows")
        self.query_one("#log-filters", Static).update(f"Showing {self.log_filter.describe()}; {position}")

    def action_search(self) -> None:
        self.focus_text_box(self.query_one("#log-text", Input))

    @on(Input.Submitted, "#log-text")
    def apply_text(self, event: Input.Submitted) -> None:
        self._set_filter(LogFilter(self.log_filter.level, self.log_filter.kind, self.log_filter.run_id,
                                   event.value.strip()))
        self.focus_now(self.view)

    def action_next_level(self) -> None:
        self._set_filter(self.log_filter.next_level())

    def action_next_kind(self) -> None:
        self._set_filter(self.log_filter.next_kind())

    def action_run_filter(self) -> None:
        if self.log_filter.run_id is not None:
            run_id = None
        else:
            entry = self.view.current
            if entry is None or entry.run_id is None:
                self.notify("The selected entry belongs to no run.", severity="warning")
                return
            run_id = entry.run_id
        self._set_filter(LogFilter(self.log_filter.level, self.log_filter.kind, run_id, self.log_filter.text))

    def action_clear_filters(self) -> None:
        self.query_one("#log-text", Input).value = ""
        self._set_filter(LogFilter())

    def action_follow(self) -> None:
        self.read_page("newest")

    # ------------------------------------------------------------------ export

    def action_export(self) -> None:
        stamp = clock.now().strftime("%Y%m%d-%H%M")
        suggestion = Path("~").expanduser() / f"pvsync-logbook-{stamp}.csv"
        log_filter = self.log_filter

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.export(path, log_filter)

        self.app.push_screen(ExportScreen(suggestion, log_filter.describe()), chosen)

    @work(thread=True, exit_on_error=False, group="export", description="Exporting the logbook")
    def export(self, path: Path, log_filter: LogFilter) -> None:
        count = export_csv(self.console.store, log_filter, path)
        self.post_message(LogbookExported(path, count))

    def on_logbook_exported(self, message: LogbookExported) -> None:
        self.notify(f"{message.entries} entries written to {message.path}.", title="Logbook exported")
