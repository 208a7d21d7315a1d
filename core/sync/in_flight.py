"""Remote writes in flight, a few at a time, finished one by one in the order they started.

A run spends its time waiting on the services (20 ms and more per call); sending the
next write while earlier ones are still under way is what brings a run of thousands of
writes near its floor. Only the remote call runs in a worker thread. What follows it
(the link or journal row, its logbook line) runs on the job's own thread, one action at
a time and in plan order, exactly as a run without concurrency would do it: the SQLite
connection is used from one thread per action, and the logbook tells the story in the
order of the plan.

Two remote calls that touch the same record (share a key) are never in flight together.
"""

from __future__ import annotations

from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Collection, TypeVar

T = TypeVar("T")
Outcome = Callable[[], T]  # returns what the remote call returned, or raises what it raised


def _nothing() -> None:
    """The outcome of an action without a remote part."""


class InFlight:
    """`with InFlight(limit) as writes: writes.start(remote, finish, keys)`; leaving the
    block finishes every action still under way (also when the job stops half-way)."""

    def __init__(self, limit: int, *, name: str = "pvsync-write", queued: int = 0):
        self.limit = max(1, int(limit))
        # Actions started but not finished; past this many, starting waits for finishing.
        self.backlog = 4 * self.limit
        # `limit` workers send; `queued` calls more may wait in the pool's queue, so a worker whose
        # answer came back sends the next call at once instead of waiting for this thread to hand
        # it over (this thread may be busy finishing, or waiting for the interpreter lock). Only
        # for calls that may be dropped unsent (`stop`): nothing is written ahead of them that a
        # later run must clear up (an invoice's intent in the journal is; a relation's count is not).
        self.queued = max(0, int(queued))
        self._pool = ThreadPoolExecutor(max_workers=self.limit, thread_name_prefix=name)
        self._pending: deque[tuple[Future | None, Callable[[Outcome], Any], frozenset[str]]] = deque()
        self._sending: set[Future] = set()
        self._keys: Counter[str] = Counter()  # keys of the remote calls not finished yet

    def start(self, remote: Callable[[], T] | None, finish: Callable[[Outcome[T]], Any],
              keys: Collection[str] = ()) -> None:
        """Send `remote()` from a worker (None: nothing to send); `finish(outcome)` runs on
        this thread once every action started before it is finished.

        A call is sent as soon as one of the `limit` slots is free; what came back is
        finished while the next calls are under way.
        """
        keys = frozenset(keys) if remote is not None else frozenset()
        while self._pending and (len(self._pending) >= self.backlog or any(self._keys[key] for key in keys)):
            self.finish_next()
        if remote is None:
            if self._pending:
                self._pending.append((None, finish, keys))
            else:
                finish(_nothing)
            return
        self._free_a_slot()
        future = self._pool.submit(remote)
        self._sending.add(future)
        self._pending.append((future, finish, keys))
        self._keys.update(keys)

    def _free_a_slot(self) -> None:
        """Return once fewer than `limit` calls are under way or queued for a worker (`queued`
        more). What came back is finished only while every slot is busy: a slot that comes
        free is refilled first, so the finishing work of this thread never keeps the next
        call waiting."""
        while True:
            self._sending = {future for future in self._sending if not future.done()}
            if len(self._sending) < self.limit + self.queued:
                return
            if self._pending and (self._pending[0][0] is None or self._pending[0][0].done()):
                self.finish_next()
                continue
            wait(self._sending, return_when=FIRST_COMPLETED)

    def finish_next(self) -> None:
        """Wait for the oldest action and finish it."""
        work, finish, keys = self._pending.popleft()
        if work is None:
            finish(_nothing)
            return
        work.exception()  # wait without raising: `finish` decides what a failure means
        self._sending.discard(work)
        self._keys.subtract(keys)
        finish(work.result)

    def finish_all(self) -> None:
        while self._pending:
            self.finish_next()

    def stop(self) -> None:
        """The job stops half-way: the calls still queued for a worker are dropped unsent (their
        `finish` never runs), the calls under way are finished. Nothing new goes out after a stop."""
        self._pending = deque(entry for entry in self._pending if entry[0] is None or not entry[0].cancel())
        self._sending = {future for future in self._sending if not future.cancelled()}
        self._keys = Counter(key for entry in self._pending for key in entry[2])
        self.finish_all()

    def __enter__(self) -> InFlight:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        try:
            if kind is None:
                self.finish_all()
        finally:
            # After an error (or a crash a test provokes) nothing more is finished, but the
            # writes already sent run to their end: a thread cannot be cut off mid-call.
            self._pool.shutdown(wait=True, cancel_futures=True)
