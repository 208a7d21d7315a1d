"""core.sync.in_flight: a few remote calls at a time, finished one by one in start order."""

from __future__ import annotations

import threading

import pytest

from core.sync.in_flight import InFlight

WAIT = 5.0


class Calls:
    """Remote calls that wait until the test releases them, counting how many run at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.started = threading.Semaphore(0)
        self.release: dict[str, threading.Event] = {}

    def remote(self, name: str, result: object = None):
        self.release[name] = threading.Event()

        def call():
            with self.lock:
                self.running += 1
                self.most = max(self.most, self.running)
            self.started.release()
            try:
                assert self.release[name].wait(WAIT), f"{name} was never released"
                if isinstance(result, Exception):
                    raise result
                return result if result is not None else name
            finally:
                with self.lock:
                    self.running -= 1
        return call

    def wait_started(self, count: int) -> None:
        for _ in range(count):
            assert self.started.acquire(timeout=WAIT), "a call that should be under way did not start"


def test_no_more_calls_in_flight_than_the_limit_and_answers_are_finished_in_start_order():
    calls, finished = Calls(), []
    with InFlight(2) as writes:
        writes.start(calls.remote("a"), lambda outcome: finished.append(outcome()))
        writes.start(calls.remote("b"), lambda outcome: finished.append(outcome()))
        calls.wait_started(2)
        calls.release["b"].set()  # the later one answers first
        releaser = threading.Timer(0.05, calls.release["a"].set)
        releaser.start()
        # A third call waits for a free slot; "a" and "b" are finished in their order.
        writes.start(calls.remote("c"), lambda outcome: finished.append(outcome()))
        calls.release["c"].set()
    releaser.join()
    assert calls.most == 2
    assert finished == ["a", "b", "c"]


def test_a_failed_call_reaches_its_own_finish_and_the_others_go_on():
    calls, finished = Calls(), []

    def finish(outcome):
        try:
            finished.append(outcome())
        except ValueError as error:
            finished.append(f"failed: {error}")

    with InFlight(3) as writes:
        for name, result in (("a", None), ("b", ValueError("refused")), ("c", None)):
            writes.start(calls.remote(name, result), finish)
            calls.release[name].set()
    assert finished == ["a", "failed: refused", "c"]


def test_two_calls_for_the_same_record_are_never_in_flight_together():
    calls, finished = Calls(), []
    with InFlight(4) as writes:
        writes.start(calls.remote("first"), lambda outcome: finished.append(outcome()), keys=("D1",))
        calls.wait_started(1)
        threading.Timer(0.05, calls.release["first"].set).start()
        writes.start(calls.remote("second"), lambda outcome: finished.append(outcome()), keys=("D1",))
        assert finished == ["first"], "the second call for D1 started only after the first was finished"
        calls.release["second"].set()
    assert calls.most == 1 and finished == ["first", "second"]


def test_an_action_without_a_remote_call_is_finished_in_its_turn():
    calls, finished = Calls(), []
    with InFlight(2) as writes:
        writes.start(None, lambda _: finished.append("local before"))
        writes.start(calls.remote("remote"), lambda outcome: finished.append(outcome()))
        writes.start(None, lambda _: finished.append("local after"))
        assert finished == ["local before"], "the later local action waits for the remote one before it"
        calls.release["remote"].set()
    assert finished == ["local before", "remote", "local after"]


def test_an_error_while_finishing_stops_finishing_but_waits_for_the_calls_already_sent():
    calls = Calls()
    with pytest.raises(RuntimeError, match="crash"):
        with InFlight(2) as writes:
            writes.start(calls.remote("a"), lambda outcome: None)
            calls.wait_started(1)
            threading.Timer(0.05, calls.release["a"].set).start()
            raise RuntimeError("crash")
    assert calls.running == 0, "the call in flight ran to its end before the error went on"


def a_under_way_and_b_queued(writes: InFlight, calls: Calls, finished: list) -> None:
    """With one slot and one queued: "a" is sent, "b" waits in the queue (starting it did not wait for "a")."""
    writes.start(calls.remote("a"), lambda outcome: finished.append(outcome()))
    calls.wait_started(1)
    writes.start(calls.remote("b"), lambda outcome: finished.append(outcome()))


def test_the_next_call_waits_queued_so_a_worker_sends_it_without_this_thread():
    calls, finished = Calls(), []
    with InFlight(1, queued=1) as writes:
        a_under_way_and_b_queued(writes, calls, finished)
        assert calls.running == 1 and finished == []
        calls.release["a"].set()
        calls.wait_started(1)  # "b" is sent by the worker as "a" comes back; this thread did nothing
        assert finished == [], "nothing was finished on this thread yet"
        calls.release["b"].set()
    assert calls.most == 1 and finished == ["a", "b"]


def test_a_stop_drops_the_queued_calls_unsent_and_finishes_the_one_under_way():
    calls, finished = Calls(), []
    with InFlight(1, queued=1) as writes:
        a_under_way_and_b_queued(writes, calls, finished)
        threading.Timer(0.05, calls.release["a"].set).start()
        writes.stop()
    assert finished == ["a"] and calls.most == 1
    assert not calls.started.acquire(timeout=0.2), "the queued call was never sent"


def test_without_queued_calls_none_waits_beyond_the_limit():
    calls = Calls()
    with InFlight(1) as writes:
        writes.start(calls.remote("a"), lambda outcome: None)
        calls.wait_started(1)
        threading.Timer(0.05, calls.release["a"].set).start()
        writes.start(calls.remote("b"), lambda outcome: None)  # waits until "a" came back
        assert calls.release["a"].is_set(), "the second call was handed over only after the first answered"
        calls.release["b"].set()
