"""When a job is due, from the runs in the database (so a restart does not shift it).

Next due = start of the last successful run of the job + its interval. A job whose last
attempt failed waits `RETRY_AFTER_FAILURE` (at most its interval) before the next try,
so a service that is down is not hammered every second; an interrupted attempt (the
engine was stopped) does not count as a failure.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.store import Run

RETRY_AFTER_FAILURE = timedelta(minutes=15)
# How often a running engine writes its heartbeat; `health` reads it (an engine whose beat is
# three of these old is down), so it lives here, apart from the engine that imports health.
HEARTBEAT_SECONDS = 5.0


def due_at(job: str, interval: timedelta, *, last_success: Run | None, last_attempt: Run | None,
           now: datetime) -> datetime:
    due = last_success.started_at + interval if last_success else now
    failed_since = (last_attempt is not None and not last_attempt.dry_run
                    and last_attempt.job_outcomes.get(job) == "failed"
                    and (last_success is None or last_attempt.id > last_success.id))
    if failed_since:
        due = max(due, last_attempt.started_at + min(RETRY_AFTER_FAILURE, interval))
    return due
