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
class ConsoleState:
    """One consistent picture of the state folder, as of `read_at`."""

    read_at: datetime
    data_version: int
    health: Health
    current_run: Run | None
    calls: CallCounts
    attention: list[str] = field(default_factory=list)


def read_calls(store: Store, watch: Watch | None = None) -> CallCounts:
    # PerfectView's daily quota counts every operation together.
    return CallCounts(store.count_today(PERFECTVIEW), store.count_this_month(EBOEKHOUDEN, "GetMutaties"),
                      eboekhouden_today=store.count_today(EBOEKHOUDEN),
                      eboekhouden_api=watch.eboekhouden_api if watch else None)


MAX_ATTENTION_LINES = 8


def read_attention(store: Store, health: Health) -> list[str]:
    """What needs a person, in words: engine and run health, watchdog alerts, relations that
    are not written, invoices that wait. The lists themselves are on their own screens."""
    from core.store.relation_state import RelationState
    from core.store.twin_proposals import TwinProposals
    from core.sync.invoice_commands import pending_invoices

    items = health.attention()
    problems = RelationState(store).problems()
    for record in problems[:MAX_ATTENTION_LINES]:
        first = record.problems[0] if record.problems else None
        items.append(f"relation {record.subject}: {first}" if first else f"relation {record.subject} ({record.kind})")
    if len(problems) > MAX_ATTENTION_LINES:
        items.append(f"... and {len(problems) - MAX_ATTENTION_LINES} more relations with problems (pvsync log --kind relation)")
    waiting = [invoice for invoice in pending_invoices(store) if invoice.state in ("blocked", "unknown")
               or "choose" in invoice.document]
    if waiting:
        items.append(f"{len(waiting)} invoice(s) wait for you: see Pending invoices (4)")
    twins = TwinProposals(store).all("pending")
    if twins:
        items.append(f"{len(twins)} proposed twin(s) wait for you: link or import them under Approvals (w)")
    return items


def read_state(store: Store, now: datetime, *, alive: Callable[[int], bool] = pid_alive,
               watch: Watch | None = None) -> ConsoleState:
    version = store.data_version()
    health = assess(store, now, alive=alive, watch=watch)
    current = store.run(health.engine.current_run_id) if health.engine_up and health.engine.current_run_id else None
    return ConsoleState(read_at=now, data_version=version, health=health, current_run=current,
                        calls=read_calls(store, watch), attention=read_attention(store, health))
