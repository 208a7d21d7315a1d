"""Is the engine healthy? The answer `pvsync status` and monitoring read.

Read from the database only (no config needed): the engine row tells whether an engine
beats and when each enabled job is due; the runs tell how the last ones ended.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from core.engine.engine import HEARTBEAT_SECONDS
from core.engine.jobs import JOB_ORDER
from core.store import EngineStatus, Run, Store
from core.store.records import to_text, utc_now

HEALTHY, LAST_RUN_FAILED, ENGINE_DOWN, OVERDUE = 0, 1, 2, 3
HEARTBEAT_STALE = timedelta(seconds=3 * HEARTBEAT_SECONDS)
# A due job may wait this long (a run in progress, a slow start) before it counts as overdue.
OVERDUE_GRACE = timedelta(minutes=30)


@dataclass(frozen=True)
class JobHealth:
    job: str
    last_run: Run | None
    last_success: Run | None
    next_due: datetime | None  # None: not scheduled (switched off, or no engine has run yet)
    overdue: bool


@dataclass(frozen=True)
class Health:
    exit_code: int
    problems: list[str]
    engine_up: bool
    engine: EngineStatus
    jobs: list[JobHealth]
    last_run: Run | None
    checked_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "healthy": self.exit_code == HEALTHY,
            "exit_code": self.exit_code,
            "problems": self.problems,
            "checked_at": to_text(self.checked_at),
            "engine": {
                "up": self.engine_up, "pid": self.engine.pid, "mode": self.engine.mode,
                "state": self.engine.state, "heartbeat_at": to_text(self.engine.heartbeat_at),
                "started_at": to_text(self.engine.started_at), "current_run_id": self.engine.current_run_id,
                "progress": self.engine.progress,
            },
            "jobs": {
                job.job: {
                    "last_run_id": job.last_run.id if job.last_run else None,
                    "last_outcome": job.last_run.job_outcomes.get(job.job) if job.last_run else None,
                    "last_run_at": to_text(job.last_run.started_at) if job.last_run else None,
                    "last_success_at": to_text(job.last_success.started_at) if job.last_success else None,
                    "next_due": to_text(job.next_due), "overdue": job.overdue,
                } for job in self.jobs
            },
            "last_run": _run_json(self.last_run),
        }


def _run_json(run: Run | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {"id": run.id, "trigger": run.trigger, "jobs": run.jobs, "dry_run": run.dry_run,
            "started_at": to_text(run.started_at), "finished_at": to_text(run.finished_at),
            "outcome": run.outcome, "job_outcomes": run.job_outcomes, "counters": run.counters, "error": run.error}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def engine_up(engine: EngineStatus, now: datetime, alive: Callable[[int], bool] = pid_alive) -> bool:
    return (engine.state != "stopped" and engine.heartbeat_at is not None and engine.pid is not None
            and now - engine.heartbeat_at <= HEARTBEAT_STALE and alive(engine.pid))


def assess(store: Store, now: datetime | None = None, *, alive: Callable[[int], bool] = pid_alive) -> Health:
    """Exit code by severity: engine down (2), else last run failed (1), else overdue (3)."""
    now = now or utc_now()
    engine = store.engine_status()
    up = engine_up(engine, now, alive)
    current = store.run(engine.current_run_id) if up and engine.current_run_id else None
    jobs = []
    for name in [*JOB_ORDER, *sorted(set(engine.next_due) - set(JOB_ORDER))]:
        due = engine.next_due.get(name)
        in_current_run = current is not None and name in current.jobs
        overdue = up and due is not None and now - due > OVERDUE_GRACE and not in_current_run
        jobs.append(JobHealth(name, store.last_run(name), store.last_run(name, successful=True), due, overdue))
    last = next((run for run in store.runs(limit=50) if run.finished_at and not run.dry_run), None)

    problems = []
    if not up:
        problems.append(_down_reason(engine, now))
    if last is not None and last.outcome in ("failed", "partial"):
        problems.append(f"the last run ({last.id}) {last.outcome}: {last.error or 'see pvsync log'}")
    problems += [f"{job.job} is overdue: it was due {job.next_due.astimezone():%Y-%m-%d %H:%M}" for job in jobs if job.overdue]
    if not up:
        code = ENGINE_DOWN
    elif last is not None and last.outcome in ("failed", "partial"):
        code = LAST_RUN_FAILED
    elif any(job.overdue for job in jobs):
        code = OVERDUE
    else:
        code = HEALTHY
    return Health(code, problems, up, engine, jobs, last, now)


def _down_reason(engine: EngineStatus, now: datetime) -> str:
    if engine.heartbeat_at is None:
        return "no engine has run with this state folder yet (start one: pvsync daemon)"
    if engine.state == "stopped":
        return f"the engine is stopped (since {engine.heartbeat_at.astimezone():%Y-%m-%d %H:%M})"
    seconds = int((now - engine.heartbeat_at).total_seconds())
    return f"the engine (pid {engine.pid}) stopped beating {seconds} s ago: it crashed or hangs"
