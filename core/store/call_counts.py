"""Counting a run's API calls without a transaction per read.

Every call pvsync sends is counted in the store (`api_calls`): for PerfectView's daily
limit, e-Boekhouden's monthly GetMutaties budget and `pvsync status`. Counted one by one,
each call costs an fsync'd transaction, and the calls of a run in flight wait for each
other's on the store's lock. So plain reads are counted in memory and written in
batches (every `BATCH` reads, every `FLUSH_SECONDS`, and when the run closes its
services); a crash forgets at most that many read counts.

Everything else is written before it is sent, as one call at a time would: GetMutaties
spends a monthly budget that must survive a crash, and the count of writes sent is the
record of what pvsync did to the services (the crash tests compare it with what the
services hold). The budget's count waits for the disk; a write's count does not (a crash
of pvsync loses nothing, a power cut at most the last few counts, and what was booked is
the invoice journal's to say, not the counter's), which saves an fsync per write sent.
Counts asked for include what is still waiting to be written.

A write that a job hands to a worker thread to send (a first run's thousands of new
relations, four at a time) is counted by the job's thread as it hands it over
(`count_ahead`), and the worker's `record` of it then writes nothing: the count is still
stored before the call goes out, but the worker does not first wait for the store, which
the job's thread holds for the links and logbook lines of the calls that came back.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from core.soap.caller import CountedAhead
from core.store.store import Store, amsterdam_day

BUDGETED = frozenset({"GetMutaties"})
BATCH = 200
FLUSH_SECONDS = 5.0


def is_plain_read(operation: str) -> bool:
    """The SOAP operations of both services name every read Get.../...Get.../...Search... and no
    write carries those words; the REST client names each call by its method and path."""
    if operation in BUDGETED:
        return False
    return operation.startswith("GET ") or "Get" in operation or "Search" in operation


class BatchedCallMeter:
    """A CallMeter over the store that writes read counts in batches (see the module docstring).
    Safe to use from the threads of one run."""

    def __init__(self, store: Store, *, batch: int = BATCH, flush_seconds: float = FLUSH_SECONDS):
        self.store = store
        self.batch, self.flush_seconds = batch, flush_seconds
        self._waiting: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()
        self._flushed_at = time.monotonic()
        self._ahead = CountedAhead()

    def count_ahead(self, service: str, operation: str) -> None:
        """Count a write now, on the thread that hands it to another thread to send; that
        thread's `record` of the call then stores nothing more (see the module docstring)."""
        if is_plain_read(operation) or operation in BUDGETED:
            raise ValueError(f"{operation} is not a write that may be counted ahead")
        self.flush(also={(service, operation, amsterdam_day()): 1}, durable=False)
        self._ahead.add(service, operation)

    def record(self, service: str, operation: str) -> None:
        key = (service, operation, amsterdam_day())
        if not is_plain_read(operation):
            if self._ahead.take(service, operation):  # counted when it was handed over
                return
            self.flush(also={key: 1}, durable=operation in BUDGETED)  # stored before the call is sent
            return
        with self._lock:
            self._waiting[key] += 1
            due = (sum(self._waiting.values()) >= self.batch
                   or time.monotonic() - self._flushed_at >= self.flush_seconds)
        if due:
            self.flush()

    def flush(self, also: dict[tuple[str, str, str], int] | None = None, *, durable: bool = True) -> None:
        """Write the waiting counts (and `also`) in one transaction."""
        with self._lock:
            counts = self._waiting + Counter(also or {})
            self._waiting = Counter()
            self._flushed_at = time.monotonic()
            if counts:
                try:
                    self.store.record_calls(counts, durable=durable)
                except BaseException:
                    self._waiting.update(counts - Counter(also or {}))  # kept for the next try
                    raise

    def count_this_month(self, service: str, operation: str) -> int:
        month = amsterdam_day()[:7]
        with self._lock:
            waiting = sum(n for (s, o, day), n in self._waiting.items() if (s, o) == (service, operation)
                          and day.startswith(month))
        return self.store.count_this_month(service, operation) + waiting

    def count_today(self, service: str, operation: str | None = None) -> int:
        today = amsterdam_day()
        with self._lock:
            waiting = sum(n for (s, o, day), n in self._waiting.items()
                          if s == service and operation in (None, o) and day == today)
        return self.store.count_today(service, operation) + waiting
