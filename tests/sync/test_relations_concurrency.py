"""The relations job keeps `engine.concurrency` writes in flight, never more, and still
tells the story in plan order."""

from __future__ import annotations

import threading
from datetime import timedelta

from core.demo.world import SimulatedWorld
from core.store.relation_state import RelationState
from core.sync.relations import RelationsJob
from tests.sync.relations_world import organisation

CONCURRENCY = 3


class WritesInFlight:
    """Wraps the e-Boekhouden simulator: every AddRelatie waits until CONCURRENCY of them are
    under way (a run that sends one at a time breaks the barrier), and the most at once is kept."""

    def __init__(self, app):
        self.app = app
        self.barrier = threading.Barrier(CONCURRENCY, timeout=10)
        self.lock, self.now, self.most = threading.Lock(), 0, 0

    def __call__(self, simulator, environ, start_response):
        if "AddRelatie" not in environ.get("HTTP_SOAPACTION", ""):
            return self.app(simulator, environ, start_response)
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            self.barrier.wait()
            return self.app(simulator, environ, start_response)
        finally:
            with self.lock:
                self.now -= 1


def test_writes_go_out_concurrency_at_a_time_and_links_and_lines_follow_the_plan(tmp_path, monkeypatch):
    with SimulatedWorld(tmp_path, seed="empty", settings={"engine.concurrency": CONCURRENCY}) as world:
        pv = world.perfectview_client()
        codes = [f"D{n}" for n in range(1, 2 * CONCURRENCY + 1)]
        for code in codes:
            pv.create_relation(organisation(code, f"Klant {code}"), "Klant", None)
        pv.close()
        simulator = type(world.eboekhouden)
        watch = WritesInFlight(simulator.__call__)
        monkeypatch.setattr(simulator, "__call__", lambda sim, environ, start: watch(sim, environ, start))
        engine = world.engine(jobs=[RelationsJob(cursor_overlap=timedelta(0))])
        try:
            report = engine.run(trigger="forced")
            lines = [e.subject for e in reversed(engine.store.logbook_page(run_id=report.run_id, limit=100))
                     if e.message.startswith("created")]
            links = {link.code for link in RelationState(engine.store).links()}
        finally:
            engine.close()
    assert report.outcome == "ok" and not watch.barrier.broken
    assert watch.most == CONCURRENCY, "never more writes in flight than engine.concurrency"
    assert lines == codes, "the logbook tells it in plan order"
    assert links == set(codes)
