"""Times, ages and counts as the console writes them: in words, in the display zone.

Times come from `core.clock`, the one clock the command line and the log lines use too
(`[display] timezone`, Amsterdam by default), so the console and `pvsync log` agree; one
zone also keeps snapshot tests the same on every machine.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from core import clock
from core.clock import clock_time, format_duration

__all__ = ["age_text", "clock_time", "counters_text", "due_text", "full_moment_text", "moment_text", "path_text",
           "span_text"]


def moment_text(moment: datetime | None) -> str:
    """'2026-12-02 14:05 CET': the display zone named, as everywhere a time is shown."""
    return clock.shown(moment)


def full_moment_text(moment: datetime) -> str:
    return clock.shown(moment, seconds=True)


def age_text(now: datetime, moment: datetime | None) -> str:
    """'12 s ago'; coarse above an hour, because nobody reads '3 h 12 min 5 s ago'."""
    if moment is None:
        return "never"
    span = max(now - moment, timedelta(0))
    return f"{_coarse(span)} ago"


def due_text(now: datetime, moment: datetime | None) -> str:
    if moment is None:
        return "not scheduled"
    if moment <= now:
        return "due now"
    return f"in {_coarse(moment - now)}"


def span_text(start: datetime, end: datetime | None) -> str:
    return "-" if end is None else format_duration(end - start)


# Counters whose name alone says it badly; the others read as their name with spaces.
COUNTER_WORDS = {"marked_paid": "marked Betaald", "booked_unpaid": "booked and unpaid",
                 "would_mark_paid": "would be marked Betaald", "read": "read", "held": "held back",
                 "waiting_for_invoices_job": "wait for the invoices job"}


def counters_text(counters: dict) -> str:
    """{'created': 3, 'booked_unpaid': 1} -> '3 created, 1 booked, not yet paid' (nested job
    counters flattened): counts in words, never a snake_case name."""
    parts = []
    for name, value in counters.items():
        if isinstance(value, dict):
            parts.append(counters_text(value))
        else:
            parts.append(f"{value} {COUNTER_WORDS.get(name, name.replace('_', ' '))}")
    return ", ".join(part for part in parts if part)


def _coarse(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds >= 3600:
        seconds -= seconds % 60
    return format_duration(timedelta(seconds=seconds))


def path_text(path: Path, *, full: bool) -> str:
    """Snapshots must not show a temporary folder's name; people want the whole path."""
    return str(path) if full else path.name
