"""What the status screen shows, read from the store in one go.

Runs in a worker thread and never imports Textual: the console reads, the engine writes,
and the only thing they share is the database. Health (is the engine beating, how did
each job last end, what is overdue) is `core.engine.health.assess`, the same verdict
`pvsync status` prints, so the console and monitoring never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Callable

from core.engine.health import Health, assess, pid_alive
from core.store import Run, Store

# e-Boekhouden publishes a budget of GetMutaties calls per calendar month; pvsync's
# client refuses the last tenth of it for anything but invoice lookups.
MUTATIES_MONTHLY_BUDGET = 5000
EBOEKHOUDEN, PERFECTVIEW = "e-Boekhouden", "PerfectView"  # service names as the call meter records them


@dataclass(frozen=True)
class CallCounts:
    perfectview_today: int
    mutaties_this_month: int
    mutaties_budget: int = MUTATIES_MONTHLY_BUDGET


@dataclass(frozen=True)
class ConsoleState:
    """One consistent picture of the state folder, as of `read_at`."""

    read_at: datetime
    data_version: int
    health: Health
    current_run: Run | None
    calls: CallCounts
    attention: list[str] = field(default_factory=list)


@cache
def perfectview_operations() -> tuple[str, ...]:
    """Every operation of the PerfectView WSDL: its daily quota counts all of them together."""
    from lxml import etree

    from core.perfectview.client import WSDL

    wsdl = "{http://schemas.xmlsoap.org/wsdl/}"
    tree = etree.parse(str(WSDL))
    return tuple(sorted({op.get("name") for op in tree.iter(f"{wsdl}operation") if op.get("name")}))


def read_calls(store: Store) -> CallCounts:
    today = sum(store.count_today(PERFECTVIEW, operation) for operation in perfectview_operations())
    return CallCounts(today, store.count_this_month(EBOEKHOUDEN, "GetMutaties"))


def read_state(store: Store, now: datetime, *, alive: Callable[[int], bool] = pid_alive) -> ConsoleState:
    version = store.data_version()
    health = assess(store, now, alive=alive)
    current = store.run(health.engine.current_run_id) if health.engine_up and health.engine.current_run_id else None
    return ConsoleState(read_at=now, data_version=version, health=health, current_run=current,
                        calls=read_calls(store), attention=list(health.problems))
