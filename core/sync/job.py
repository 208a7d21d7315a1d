"""What a sync job gets to work with (RunContext) and what it hands back (JobResult).

Here, below both the engine and the jobs: the jobs import this module and the engine
imports the jobs, so neither needs the other's module to load first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable, Protocol

from core.store import Store


@dataclass(frozen=True)
class JobResult:
    """What one job did. `failures` counts actions that failed (the run becomes partial);
    `complete` is False when the job stopped early because the run was asked to stop."""

    counters: dict[str, int] = field(default_factory=dict)
    failures: int = 0
    complete: bool = True
    summary: str = ""


class RunContext:
    """Everything a job may touch during one run."""

    def __init__(self, *, store: Store, config: Any, run_id: int, job: str, dry_run: bool, force: bool,
                 should_stop: Callable[[], bool], report_progress: Callable[[str, dict[str, Any]], None],
                 services: Any = None):
        self.store = store
        self.services = services  # core.engine.services.RunServices: the run's service clients
        self.config = config
        self.run_id = run_id
        self.job = job
        self.dry_run = dry_run
        self.force = force
        self._should_stop = should_stop
        self._report_progress = report_progress

    def should_stop(self) -> bool:
        """True once the engine is stopping or the run deadline passed: finish the current
        action, then return a JobResult with complete=False."""
        return self._should_stop()

    def progress(self, phase: str, done: int, total: int, **counts: int) -> None:
        self._report_progress(phase, {"done": done, "total": total, **counts})

    def log(self, level: str, kind: str, message: str, *, subject: str = "",
            details: dict[str, Any] | None = None) -> int:
        return self.store.log(level, kind, message, run_id=self.run_id, subject=subject, details=details)


class Job(Protocol):
    name: str

    def interval(self, config: Any) -> timedelta: ...

    def enabled(self, config: Any) -> bool: ...

    def run(self, ctx: RunContext) -> JobResult: ...
