"""The open items report (`p` on the pending screen): where PerfectView and e-Boekhouden
disagree about payment, in the three sections of `pvsync report open-items`.

Making it calls both services (one GetOpenPosten, PerfectView's sales invoices), so it
runs in a thread worker while the modal says "reading…", with the config's secrets. Those
may live only in the daemon's environment: then the modal says so and names the command
to run there. Every failure ends as words in the modal and a notice, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from core import clock
from core.model import format_euro
from core.secrets import scrub
from core.sync.open_items_report import OpenItemsReport, ReportLine
from tui.screens.help import CLOSE_BINDINGS

CLI_COMMAND = "pvsync report open-items"
# What differs before who and how much: on 80 columns the last ones are scrolled to.
COLUMNS = ("Invoice", "Open", "PerfectView", "What differs", "Relation", "Amount")


@dataclass
class ReportRead(Message, bubble=False):
    report: OpenItemsReport


@dataclass
class ReportUnavailable(Message, bubble=False):
    """Why there is no report, in words a person acts on."""

    text: str


def report_row(line: ReportLine) -> tuple[str, ...]:
    return (line.invoice_number, format_euro(line.outstanding) if line.outstanding is not None else "not listed",
            line.perfectview_step or "-", line.detail, line.relation or "-",
            format_euro(line.amount) if line.amount is not None else "-")


class OpenItemsScreen(ModalScreen[None]):
    # Wider than the other modals (the app's .modal-body): the report has six columns.
    DEFAULT_CSS = """
    OpenItemsScreen #report-body {
        width: 100%;
        height: 100%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    OpenItemsScreen DataTable {
        height: auto;
        max-height: 12;
    }
    OpenItemsScreen .report-section {
        text-style: bold;
        margin-top: 1;
    }
    """
    BINDINGS = [
        *CLOSE_BINDINGS,
        Binding("r", "read", "Read again", id="report-read", tooltip="Ask both services again"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="report-body"):
            yield Static("Open items: PerfectView against e-Boekhouden", classes="modal-title")
            yield Static("", id="report-status")
            for key, title in OpenItemsReport.SECTIONS:
                yield Static(title, id=f"title-{key}", classes="report-section")
                yield DataTable(id=f"report-{key}", cursor_type="row")
            yield Static("Tab moves between the sections, arrows scroll a wide row; r reads again; close with q, "
                         "Enter or Escape.", classes="modal-hint")

    def on_mount(self) -> None:
        for key, _ in OpenItemsReport.SECTIONS:
            table = self.query_one(f"#report-{key}", DataTable)
            table.add_columns(*COLUMNS)
            table.display = False  # until there is something to list
        self.action_read()

    def action_read(self) -> None:
        if any(w.group == "report" and w.is_running for w in self.workers):
            return
        self.status("reading… (one GetOpenPosten in e-Boekhouden and PerfectView's sales invoices)")
        self.read_report()

    def status(self, text: str) -> None:
        self.query_one("#report-status", Static).update(Text(text))

    @work(thread=True, exclusive=True, exit_on_error=False, group="report", description="Making the open items report")
    def read_report(self) -> None:
        from core.config import ConfigError
        from core.soap.errors import ServiceError
        from core.sync.open_items_report import read_open_items_report
        from tui.console_config import CredentialsNotHere, load_with_secrets

        store = self.app.store  # type: ignore[attr-defined]
        if store is None:
            self.post_message(ReportUnavailable("The state folder is not open yet; try again in a moment (r)."))
            return
        try:
            config = load_with_secrets(self.app.config_path)  # type: ignore[attr-defined]
        except CredentialsNotHere as missing:
            self.post_message(ReportUnavailable(
                f"The report calls both services, but {missing}. The credentials may live only where the daemon "
                f"runs (its environment): run `{CLI_COMMAND}` there, as the daemon's user."))
            return
        except ConfigError as error:
            first = error.problems[0] if error.problems else error
            self.post_message(ReportUnavailable(scrub(f"The config has problems: {first} "
                                                      "(`pvsync config check` lists them all).")))
            return
        try:
            report = read_open_items_report(store, config)
        except ServiceError as error:
            self.post_message(ReportUnavailable(scrub(
                f"The report could not be made: {error}. Try again (r) or run `{CLI_COMMAND}`.")))
            return
        self.post_message(ReportRead(report))

    def on_report_read(self, message: ReportRead) -> None:
        report = message.report
        made = clock.shown(report.made_at)
        verdict = ("PerfectView and e-Boekhouden agree about every open item." if report.in_step
                   else "PerfectView and e-Boekhouden disagree: see below.")
        self.status(f"Read {made}. {verdict}")
        for key, title in OpenItemsReport.SECTIONS:
            lines: tuple[ReportLine, ...] = getattr(report, key)
            self.query_one(f"#title-{key}", Static).update(f"{title}: {len(lines) or 'none'}")
            table = self.query_one(f"#report-{key}", DataTable)
            table.clear()
            for line in lines:
                table.add_row(*report_row(line))
            table.display = bool(lines)

    def on_report_unavailable(self, message: ReportUnavailable) -> None:
        self.status(message.text)
        self.notify(message.text, title="Open items report", severity="warning", timeout=15)

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        # StateChanged does not bubble: hand the failure to the app's notice, and stop saying "reading…".
        if event.state == WorkerState.ERROR:
            self.app.report_worker_failure(event)  # type: ignore[attr-defined]
            self.status("The report failed: see the notice. Try again with r.")
