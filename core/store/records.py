"""What the store hands out: plain, frozen records with aware UTC times and decoded JSON.

Callers never see rows or JSON text, so the schema can change behind them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
RUN_OUTCOMES = ("running", "ok", "failed", "partial", "interrupted")
ENGINE_MODES = ("daemon", "embedded", "cli")
ENGINE_STATES = ("idle", "running", "stopped")
REQUEST_KINDS = ("sync", "retry_invoice", "choose_document", "reload_config", "approve", "relation_twin")
# A job that ran through counts as done for its schedule, even when some of its items
# failed ("partial"): those items are retried by the job itself on its next run.
JOB_COMPLETED = ("ok", "partial")


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_text(moment: datetime | None) -> str | None:
    """One spelling for every stored moment, so text order is time order."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no place in the store; give it a timezone")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_text(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def level_name(level: str | int) -> str:
    """'info', 'INFO' or logging.INFO -> 'INFO'; anything else is refused."""
    if isinstance(level, int):
        names = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "ERROR"}
        if level in names:
            return names[level]
    elif level.upper() in LEVELS:
        return level.upper()
    elif level.upper() == "WARN":
        return "WARNING"
    raise ValueError(f"unknown log level {level!r}; use one of {', '.join(LEVELS)}")


def levels_at_least(level: str | int) -> tuple[str, ...]:
    return LEVELS[LEVELS.index(level_name(level)):]


@dataclass(frozen=True)
class LogEntry:
    id: int
    at: datetime
    level: str
    kind: str
    run_id: int | None
    subject: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    id: int
    trigger: str
    jobs: list[str]
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    counters: dict[str, Any]
    error: str | None
    dry_run: bool = False
    job_outcomes: dict[str, str] = field(default_factory=dict)
    config_hash: str = ""

    def succeeded(self, job: str) -> bool:
        return not self.dry_run and self.job_outcomes.get(job) in JOB_COMPLETED


@dataclass(frozen=True)
class EngineStatus:
    pid: int | None
    mode: str | None
    state: str
    heartbeat_at: datetime | None
    current_run_id: int | None
    progress: dict[str, dict[str, Any]]
    next_due: dict[str, datetime]
    started_at: datetime | None = None
    installed_at: datetime | None = None


@dataclass(frozen=True)
class Request:
    id: int
    kind: str
    payload: dict[str, Any]
    created_at: datetime
    state: str
    outcome: str | None = None
    message: str = ""
