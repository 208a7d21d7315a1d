"""Approvals (key w, what waits for you): the plan that waits for a person before the engine writes, and the
proposed twins, with a key for each decision.

A modal over any screen, so it is one key away wherever the admin is. Reading happens in a
worker (the store may be busy); every decision is a request row the engine carries out,
the same as `pvsync approve` and `pvsync relations accept|reject` write beside a daemon.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from core import clock
from core.store import Store
from core.store.approvals import ApprovalWait, Approvals
from core.store.twin_proposals import TwinProposal, TwinProposals


@dataclass(frozen=True)
class ApprovalsView:
    waiting: ApprovalWait | None
    proposals: list[TwinProposal]


def read_approvals(store: Store) -> ApprovalsView:
    return ApprovalsView(Approvals(store).waiting(), TwinProposals(store).all("pending"))


class ApprovalsScreen(ModalScreen[None]):
    HELP = ("The plan that waits for your approval before pvsync writes (a first run, or the first after "
            "changed assumptions), and e-Boekhouden customers PerfectView most likely has already: link one to "
            "its twin, or import it as a new relation.")
    BINDINGS = [
        Binding("a", "approve", "Approve", id="approvals-approve",
                tooltip="Let the engine write the plan shown (recorded with your name and the time)"),
        Binding("l", "decide('accept')", "Link twin", id="approvals-link",
                tooltip="Link the customer to the highlighted PerfectView relation (fills its Debiteurnummer)"),
        Binding("n", "decide('reject')", "New relation", id="approvals-new",
                tooltip="Not a twin: import the customer as a new PerfectView relation"),
        Binding("escape,x", "dismiss", "Close", id="approvals-close", tooltip="Back to the screen"),
    ]
    DEFAULT_CSS = """
    ApprovalsScreen { align: center middle; }
    ApprovalsScreen > #approvals-body { width: 100%; height: 100%; border: round $accent; padding: 0 1; }
    ApprovalsScreen #plan { margin-bottom: 1; }
    ApprovalsScreen #twins { height: auto; max-height: 12; }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="approvals-body"):
            yield Static("Approvals", classes="modal-title")
            yield Static(id="plan")
            yield Static(id="twins-title")
            yield DataTable(id="twins", cursor_type="row", zebra_stripes=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#twins", DataTable)
        # 76 columns inside the frame at 80: the evidence gets what is left.
        table.add_column("Code", key="code", width=6)
        table.add_column("e-Boekhouden", key="name", width=18)
        table.add_column("PerfectView twin and evidence", key="twin", width=46)
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="approvals")
    def load(self) -> None:
        view = read_approvals(self.app.store)
        self.app.call_from_thread(self.show, view)

    def show(self, view: ApprovalsView) -> None:
        self.view = view
        self.query_one("#plan", Static).update(plan_text(view.waiting))
        count = len(view.proposals)
        title = Text("Proposed twins", style="bold")
        title.append(f"  {count} wait for you (l: link, n: new relation)" if count else "  none wait")
        self.query_one("#twins-title", Static).update(title)
        table = self.query_one("#twins", DataTable)
        table.clear()
        for proposal in view.proposals:
            for number, candidate in enumerate(proposal.candidates):
                first = number == 0
                table.add_row(proposal.code if first else "", proposal.name if first else "",
                              f"{candidate.name}: {'; '.join(candidate.evidence)}",
                              key=f"{proposal.code}\t{candidate.pv_id}")
        if table.row_count:
            table.focus()  # the arrow keys pick the candidate l links

    def action_approve(self) -> None:
        if getattr(self, "view", None) is None or self.view.waiting is None:
            self.notify("Nothing waits for approval.", title="Approve")
            return
        if not self.app.can_request_sync():
            self.notify("Nothing was approved: no engine runs for this state folder.", severity="warning")
            return
        self.send("approve", {"by": getpass.getuser()}, "Approved: the engine writes the plan now.")

    def action_decide(self, decision: str) -> None:
        table = self.query_one("#twins", DataTable)
        if table.row_count == 0:
            self.notify("No proposed twin waits for a decision.", title="Twins")
            return
        if not self.app.can_request_sync():
            self.notify("Nothing was decided: no engine runs for this state folder.", severity="warning")
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        code, pv_id = key.split("\t")
        payload = {"code": code, "decision": decision, "relation": pv_id if decision == "accept" else "",
                   "by": getpass.getuser()}
        done = f"{code}: linked in the next run." if decision == "accept" else f"{code}: imported in the next run."
        self.send("relation_twin", payload, done)

    @work(thread=True, exit_on_error=False, group="requests")
    def send(self, kind: str, payload: dict, done: str) -> None:
        self.app.store.add_request(kind, payload)
        self.app.call_from_thread(self.notify, done, title="Approvals")
        self.app.call_from_thread(self.dismiss)


def plan_text(wait: ApprovalWait | None) -> Text:
    text = Text("Waiting for approval\n", style="bold")
    if wait is None:
        text.append("  nothing: the engine writes on its schedule")
        return text
    # Amsterdam time, as the other screens show it (not tui.formatting: that module sits in an import circle).
    text.append(f"  Since {clock.shown(wait.since)}: the {wait.reason}.\n")
    for line in wait.summary:
        if line.lstrip().startswith(("Approve with", "Waits for approval")):
            continue
        text.append(f"  {line}\n")
    text.append("  a: approve (recorded with your name and the time)", style="bold")
    return text
