"""Booking many invoices does not look their relations up one by one: the invoices job asks
e-Boekhouden only whether a relation exists (`has_relation`), and the relation list the
relations job read in the same run, plus the relations it added, answers that without a call.
On REST a lookup cost a filtered list and a detail read per relation (628 of the 1,632 calls
of bench_booking's 1,000 invoices, about two minutes at 5 calls a second)."""

from __future__ import annotations

import pytest

from core.demo.generate import generate
from core.demo.world import SimulatedWorld
from core.sync.invoices import InvoicesJob
from core.sync.relations import RelationsJob
from tests.eb_apis import APIS, simulator

SETTINGS = {"vat.NL.BTW 0%": {"btw_code": "BU_EU_VERK", "ledger": "8040"}, "eboekhouden.calls_per_second": 100}
# The relation reads: the list (SOAP's GetRelaties with or without a filter, REST's list) and REST's detail read.
LIST = {"soap": "GetRelaties", "rest": "GET /v1/relation"}


@pytest.mark.parametrize("api", APIS)
def test_a_first_run_books_its_invoices_without_a_lookup_per_relation(tmp_path, api):
    world = SimulatedWorld(tmp_path, seed="empty", settings=SETTINGS, eboekhouden_api=api)
    try:
        made = generate(world, relations=60, invoices=40, open_items=False, seed=3)
        assert made.counts()["sent_unbooked"] >= 10, made.counts()
        engine = world.engine(jobs=[RelationsJob(), InvoicesJob()])
        try:
            report = engine.run()
        finally:
            engine.close()
        calls = simulator(world).calls
    finally:
        world.close()
    assert report.outcome == "ok", report.summary_lines()
    counters = {job.job: job.result.counters for job in report.jobs}
    booked = counters["invoices"].get("booked", 0)
    assert booked >= 10, report.summary_lines()
    # The relations job's one list (a page at this size); nothing per invoice or per relation.
    assert calls[LIST[api]] == 1, dict(calls)
    if api == "rest":
        created = counters["relations"].get("created", 0)
        assert calls["GET /v1/relation/{id}"] <= 60 - created, dict(calls)  # the relations job's own detail reads
