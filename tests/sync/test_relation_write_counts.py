"""pvsync's own count of the relations it sent (the call meter in the store: `pvsync status`, the
crash tests' "sent") matches what e-Boekhouden received, now that a run counts each write as it
hands it to a worker thread instead of in the worker (core.store.call_counts, count_ahead)."""

from __future__ import annotations

import pytest

from core.demo.generate import generate
from core.demo.world import SimulatedWorld
from core.store import Store
from core.sync.relations import RelationsJob
from tests.eb_apis import APIS, eb_calls, wire_name


def counted(world: SimulatedWorld, operation: str) -> int:
    with Store.open(world.state_dir, create=False) as store:
        return store.conn.execute("SELECT coalesce(sum(count), 0) FROM api_calls WHERE operation = ?",
                                  (wire_name(world.eboekhouden_api, operation),)).fetchone()[0]


@pytest.mark.parametrize("api", APIS)
def test_the_relations_sent_are_counted_once_each(tmp_path, api):
    world = SimulatedWorld(tmp_path, seed="empty", settings={"eboekhouden.calls_per_second": 100},
                           eboekhouden_api=api)
    try:
        made = generate(world, relations=80, invoices=0, open_items=False, seed=5)
        engine = world.engine(jobs=[RelationsJob()])
        try:
            report = engine.run()
        finally:
            engine.close()
        assert report.outcome == "ok", report.summary_lines()
        created = report.jobs[0].result.counters["created"]
        assert created == len(made.customers) > 20
        assert counted(world, "AddRelatie") == eb_calls(world, "AddRelatie") == created
    finally:
        world.close()
