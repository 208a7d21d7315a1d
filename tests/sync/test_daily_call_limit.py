"""perfectview.daily_call_limit: pvsync stops calling PerfectView once its share of the day is spent."""

from __future__ import annotations

from core.demo.world import SimulatedWorld
from core.store import Store
from core.sync.relations import RelationsJob


def test_a_run_stops_calling_perfectview_at_the_daily_limit(tmp_path):
    with SimulatedWorld(tmp_path, settings={"perfectview.daily_call_limit": 3}) as world:
        engine = world.engine(jobs=[RelationsJob()])
        try:
            report = engine.run()
        finally:
            engine.close()
        assert report.outcome in ("failed", "partial")
        assert sum(world.perfectview.calls.values()) == 3, "not one call past the limit"
        with Store.open(world.state_dir) as store:
            assert store.count_today("PerfectView") == 3
            errors = [e.message for e in store.logbook_page(level="ERROR")]
        assert any("daily_call_limit" in message for message in errors)


def test_without_a_limit_the_same_run_succeeds(tmp_path):
    with SimulatedWorld(tmp_path) as world:
        engine = world.engine(jobs=[RelationsJob()])
        try:
            assert engine.run().outcome == "ok"
        finally:
            engine.close()
        assert sum(world.perfectview.calls.values()) > 3
