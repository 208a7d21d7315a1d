"""What the status screen shows, read from the store in one go.

Runs in a worker thread and never imports Textual: the console reads, the engine writes,
and the only thing they share is the database. Health (is the engine beating, how did
each job last end, what is overdue) is `core.engine.health.assess`, the same verdict
`pvsync status` prints, so the console and monitoring never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from core.sync.invoice_commands import InvoiceListing
from core.engine.health import EBOEKHOUDEN, MUTATIES_MONTHLY_BUDGET, PERFECTVIEW, Health, Watch, assess, pid_alive
from core.store import Run, Store


@dataclass(frozen=True)
class CallCounts:
    perfectview_today: int
    mutaties_this_month: int
    mutaties_budget: int = MUTATIES_MONTHLY_BUDGET
    eboekhouden_today: int = 0
    eboekhouden_api: str | None = None  # "rest": no published quota, so calls are counted, not budgeted

    def eboekhouden_text(self) -> str:
        if self.eboekhouden_api == "rest":
            return f"e-Boekhouden {self.eboekhouden_today} REST calls today (no published quota)"
        return f"e-Boekhouden GetMutaties {self.mutaties_this_month} of {self.mutaties_budget} this month"


@dataclass(frozen=True)
class AttentionItem:
    """One thing that needs a person, in words; `invoice` when it is about one (Enter on it
    goes to the fix)."""

    text: str
    invoice: InvoiceListing | None = None

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class ConsoleState:
    """One consistent picture of the state folder, as of `read_at`."""

    read_at: datetime
    data_version: int
    health: Health
    current_run: Run | None
    calls: CallCounts
    attention: list[AttentionItem] = field(default_factory=list)
    newest_run: Run | None = None  # the newest run, running or finished (a run shorter than a refresh too)
    waiting_invoices: int = 0  # invoices that wait for a person


def read_calls(store: Store, watch: Watch | None = None) -> CallCounts:
    # PerfectView's daily quota counts every operation together.
    return CallCounts(store.count_today(PERFECTVIEW), store.count_this_month(EBOEKHOUDEN, "GetMutaties"),
                      eboekhouden_today=store.count_today(EBOEKHOUDEN),
                      eboekhouden_api=watch.eboekhouden_api if watch else None)


MAX_ATTENTION_LINES = 8


def invoice_attention(invoice: InvoiceListing) -> str:
    """"invoice F2026-001, Bakkerij Jansen (D1001), € 121,00: BLOCKED, PerfectView VAT code ..." """
    from core.model import format_euro

    if invoice.state in ("blocked", "unknown"):
        what = f"{invoice.state.upper()}, {invoice.reason}"
    elif invoice.waits_for_document_choice:
        what = "CHOOSE its invoice document (several attachments)"
    else:
        what = invoice.document or invoice.reason
    amount = f", {format_euro(invoice.total_incl_vat)}" if invoice.total_incl_vat is not None else ""
    relation = f", {invoice.relation}" if invoice.relation else ""
    return f"invoice {invoice.invoice_number}{relation}{amount}: {what}"


def read_attention(store: Store, health: Health) -> tuple[list[AttentionItem], int]:
    """What needs a person, in words: engine and run health, watchdog alerts, relations that
    are not written, and each invoice that waits, by number and name (Enter on it on the
    status screen goes to its fix), and how many invoices wait. The full lists are on their
    own screens."""
    from core.store.relation_state import RelationState
    from core.store.twin_proposals import TwinProposals
    from core.sync.invoice_commands import pending_invoices

    waiting = [invoice for invoice in pending_invoices(store) if invoice.waits_for_person]
    items = [AttentionItem(invoice_attention(invoice), invoice) for invoice in waiting[:MAX_ATTENTION_LINES]]
    if len(waiting) > MAX_ATTENTION_LINES:
        items.append(AttentionItem(f"... and {len(waiting) - MAX_ATTENTION_LINES} more invoices: "
                                   "see Pending invoices (4)"))
    items += [AttentionItem(text) for text in health.attention()]
    problems = RelationState(store).problems()
    for record in problems[:MAX_ATTENTION_LINES]:
        first = record.problems[0] if record.problems else None
        items.append(AttentionItem(f"relation {record.subject}: {first}" if first
                                   else f"relation {record.subject} ({record.kind})"))
    if len(problems) > MAX_ATTENTION_LINES:
        items.append(AttentionItem(f"... and {len(problems) - MAX_ATTENTION_LINES} more relations with problems "
                                   "(pvsync log --kind relation)"))
    twins = TwinProposals(store).all("pending")
    if twins:
        items.append(AttentionItem(f"{len(twins)} proposed twin(s) wait for you: link or import them under "
                                   "Approvals (w)"))
    return items, len(waiting)


# Counters a run summary names, in the order said (job, counter -> words).
SUMMARY_COUNTERS = (("relations", "created", "relation(s) created"), ("relations", "updated", "relation(s) updated"),
                    ("invoices", "booked", "booked"), ("payments", "marked_paid", "Betaald"))


def run_summary(run: Run, waiting: int) -> str:
    """"run 7: 2 booked, 1 Betaald, 1 waits for you": what a finished run did, for the notice."""
    parts = []
    for job, counter, words in SUMMARY_COUNTERS:
        value = run.counters.get(job, {}).get(counter, 0) if isinstance(run.counters.get(job), dict) else 0
        if value:
            parts.append(f"{value} {words}")
    if waiting:
        parts.append(f"{waiting} wait{'s' if waiting == 1 else ''} for you")
    if run.outcome not in ("ok", "running"):
        parts.append(f"{run.outcome.upper()}" + (f" ({run.error})" if run.error else ""))
    return f"run {run.id}: " + (", ".join(parts) if parts else "nothing to do")


def read_state(store: Store, now: datetime, *, alive: Callable[[int], bool] = pid_alive,
               watch: Watch | None = None) -> ConsoleState:
    version = store.data_version()
    health = assess(store, now, alive=alive, watch=watch)
    current = store.run(health.engine.current_run_id) if health.engine_up and health.engine.current_run_id else None
    attention, waiting = read_attention(store, health)
    newest = store.runs(limit=1)
    return ConsoleState(read_at=now, data_version=version, health=health, current_run=current,
                        calls=read_calls(store, watch), attention=attention, newest_run=newest[0] if newest else None,
                        waiting_invoices=waiting)
