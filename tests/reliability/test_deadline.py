"""The run deadline (engine.run_deadline) through the real jobs, and the read timeout that
bounds one call whose answer stalls (issue 10: no run hangs)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import httpx
import pytest

from core.engine import engine as engine_module
from core.soap.errors import TransportFailure
from core.soap.loopback import LoopbackServer
from core.soap.simulator import Knobs
from core.soap.transport import Timeouts
from core.store import Store
from core.sync.invoice_states import NEEDS_LOOKUP
from core.store.invoice_journal import InvoiceJournal
from tests.reliability.fault_world import FaultWorld, around
from tests.soap.test_soap_layer import EchoSimulator, caller_for


@pytest.fixture
def engine_clock(monkeypatch):
    """The engine's monotonic clock, moved on by hand (a run that has taken hours)."""
    offset = [0.0]
    monkeypatch.setattr(engine_module, "time", SimpleNamespace(monotonic=lambda: time.monotonic() + offset[0]))
    return offset


def test_a_run_past_its_deadline_stops_between_bookings_and_the_next_run_carries_on(tmp_path, engine_clock):
    world = FaultWorld(tmp_path, relations=10, invoices=12, seed=3, settings={"engine.concurrency": 1})
    eb = world.world.eboekhouden

    def three_hours_pass() -> None:  # while the fifth booking is sent (the default deadline is 2h)
        if eb.calls["AddMutatie"] == 5:
            engine_clock[0] = 3 * 3600.0

    around(eb, "AddMutatie", 5, after=three_hours_pass)

    first = world.run()

    assert first.outcome == "interrupted"
    # Writes already under way when the deadline passed are finished (engine.concurrency may
    # have one more in flight); nothing new is started after it.
    booked = len(eb.mutations)
    assert 5 <= booked <= 6
    assert first.error.startswith("stopped by the run deadline (2h, engine.run_deadline); left for the next run: "
                                  f"invoices stopped part-way ({booked} booked, ")
    assert first.error.endswith("payments not started")
    with Store.open(world.world.state_dir) as store:
        journal = InvoiceJournal(store)
        assert not [e for e in journal.entries() if e.state in NEEDS_LOOKUP], "never cut between intent and answer"
        assert len([e for e in journal.entries() if e.mutatienummer]) == booked, "every booking made is recorded"
        assert len(journal.entries()) == 12
        run = store.run(first.run_id)
        assert run.outcome == "interrupted" and run.error == first.error  # what `pvsync status` shows
        assert run.job_outcomes == {"relations": "ok", "invoices": "interrupted", "payments": "interrupted"}
    assert f"run {first.run_id} interrupted" in "\n".join(world.logbook())

    engine_clock[0] = 0.0
    second = world.run()

    assert second.outcome == "ok"
    verdict = world.verdict()
    assert verdict.exactly_once, (verdict.duplicates, verdict.lost)
    assert eb.calls["AddMutatie"] == 12


@pytest.mark.loopback
def test_an_answer_that_stalls_half_way_fails_after_the_read_timeout_not_after_the_stall():
    sim = EchoSimulator(Knobs(faults={"slow": 1.0}, slow_seconds=5.0, seed=1))
    with LoopbackServer(sim) as server:
        caller = caller_for(sim, url=server.url("/echo.asmx"), transport=httpx.HTTPTransport(),
                            timeouts=Timeouts(read=0.3))
        started = time.monotonic()
        with pytest.raises(TransportFailure, match="no answer in time") as err:
            caller.call("Store", Text="x", write=True)
        took = time.monotonic() - started
    assert 0.3 <= took < 1.5, f"the call took {took:.1f} s; the body stalls for 5 s"
    assert err.value.maybe_processed and sim.stored == ["x"], "processed, answer not read: unknown, never retried"
