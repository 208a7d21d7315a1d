"""A client-side request rate that backs off when e-Boekhouden throttles and recovers when it does not.

No rate limit is published, and bursts are reportedly throttled (NOTES.md §2.11), so pvsync
paces itself: it starts at a few requests a second, halves the rate on a 429 or 503 (and
waits what Retry-After says), and adds a little back after each call that went through.
"""

from __future__ import annotations

import threading
import time
from email.utils import parsedate_to_datetime
from typing import Callable

START_RATE = 5.0  # requests per second
MIN_RATE = 0.2
RECOVERY_STEP = 0.1  # requests per second regained per successful call
MAX_RETRY_AFTER = 120.0  # a longer wait than this is not worth blocking a run on; the call fails instead
DEFAULT_BACKOFF = 2.0  # seconds, when a 429/503 does not say how long


class AdaptiveRate:
    """Spaces calls `1 / rate` seconds apart, across threads."""

    def __init__(self, rate: float = START_RATE, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.ceiling = rate
        self.rate = rate
        self.clock, self.sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait_turn(self) -> None:
        with self._lock:
            now = self.clock()
            start = max(now, self._next)
            self._next = start + 1.0 / self.rate
        if start > now:
            self.sleep(start - now)

    def throttled(self, retry_after: float | None) -> float:
        """Slow down after a 429/503; returns the seconds the next call waits at least."""
        with self._lock:
            self.rate = max(MIN_RATE, self.rate / 2)
            pause = DEFAULT_BACKOFF if retry_after is None else retry_after
            self._next = max(self._next, self.clock() + pause)
            return pause

    def succeeded(self) -> None:
        with self._lock:
            self.rate = min(self.ceiling, self.rate + RECOVERY_STEP)


def retry_after_seconds(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())
