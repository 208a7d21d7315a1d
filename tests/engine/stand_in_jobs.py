"""Stand-ins for the three sync jobs, for the engine and CLI tests.

Those tests are about the engine's lifecycle (locks, schedule, requests, signals, exit
codes), not about syncing: a stand-in says it ran and counts nothing, so they need no
simulators. The real jobs are tested in tests/sync against both simulators.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable

from core.engine import jobs
from core.sync.job import JobResult, RunContext


class StandInJob:
    def __init__(self, name: str, kind: str, interval: Callable[[Any], timedelta],
                 enabled: Callable[[Any], bool]):
        self.name = name
        self.kind = kind
        self._interval = interval
        self._enabled = enabled

    def interval(self, config: Any) -> timedelta:
        return self._interval(config)

    def enabled(self, config: Any) -> bool:
        return self._enabled(config)

    def run(self, ctx: RunContext) -> JobResult:
        message = f"nothing to do yet: {self.name} arrives with its own issue"
        ctx.log("INFO", self.kind, message)
        return JobResult(summary=message)


def stand_ins() -> dict[str, StandInJob]:
    return {
        "relations": StandInJob("relations", "relation", lambda c: c.schedule.relations,
                                lambda c: bool(c.relations.import_from_eboekhouden or c.relations.export_to_eboekhouden)),
        "invoices": StandInJob("invoices", "invoice", lambda c: c.schedule.invoices, lambda c: bool(c.invoices.enabled)),
        "payments": StandInJob("payments", "payment", lambda c: c.schedule.payments, lambda c: bool(c.payments.enabled)),
    }


def install() -> None:
    """For a subprocess: the stand-ins take the registry before the real jobs would."""
    jobs._REGISTRY.update(stand_ins())
