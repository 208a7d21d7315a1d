"""What a run costs when nothing changed since the last one (issue 15's no-op run, counted, not
timed): 120 relations and 60 invoices (booked, to book, paid, open) in step, the run that brought
them in step an hour back as PerfectView tells it, and then the next scheduled run of every job. It must read no page
of invoices or relations beyond the modified-since answers, no invoice's lines, write nothing,
and stay within five e-Boekhouden calls, on SOAP and REST alike. The benchmark
(tests/perf/bench_noop.py) times the same run at 10,000 relations and 5,000 invoices; this test
keeps a regression in what it calls visible in the default suite.
"""

from __future__ import annotations

from collections import Counter

import pytest

from core.demo.generate import generate
from core.demo.world import SimulatedWorld
from core.soap.fast_read import ListReader
from core.sync.invoices import InvoicesJob
from core.sync.payments import PaymentsJob
from core.sync.relations import RelationsJob
from tests.eb_apis import APIS, reset_eb_calls, simulator
from tests.sync.relations_world import RelationWorld, organisation

# Every PerfectView VAT code mapped, so every sent invoice is booked and none waits; the REST
# client's pace raised so bringing the world in step takes seconds (the no-op makes five calls).
SETTINGS = {"vat.NL.BTW 0%": {"btw_code": "BU_EU_VERK", "ledger": "8040"}, "eboekhouden.calls_per_second": 100}
EBOEKHOUDEN_WRITES = {"AddRelatie", "UpdateRelatie", "AddMutatie", "POST /v1/relation", "PATCH /v1/relation/{id}",
                      "POST /v1/mutation"}
PERFECTVIEW_WRITES = {"RelationCreate", "RelationUpdate", "RelationshipUpdate", "RelationAddNote", "ActivityCreate",
                      "ActivityUpdate", "ActivityFlow", "ActivityAddProductLine", "ActivityAddNote",
                      "ActivityAddAttachment"}
# Listings that read a whole table: one page each at this size, one per 100 at 10,000.
WHOLE_LISTINGS = {"RelationGetAll", "ActivitySearchByField", "ActivitySearchByFieldInPeriod"}
# Reads per invoice or per relation: none of them when nothing changed.
PER_RECORD = {"ActivityGetProductLines", "ActivityGetAttachments", "ActivityGet", "RelationGet",
              "RelationshipGet", "GetMutaties", "GET /v1/mutation", "GET /v1/relation/{id}"}


def in_step(tmp_path, api: str) -> tuple[SimulatedWorld, object]:
    """A generated world brought in step, the runs that did it an hour back."""
    world = SimulatedWorld(tmp_path, seed="empty", settings=SETTINGS, eboekhouden_api=api)
    made = generate(world, relations=120, invoices=60, open_items=True, seed=1)
    engine = world.engine(jobs=[RelationsJob(), InvoicesJob(), PaymentsJob()])
    first = engine.run()
    assert first.outcome == "ok", first.summary_lines()
    engine.run()  # reads back the markers and notes the first run wrote in PerfectView
    world.perfectview.age(60)
    assert made.counts()["booked"] and made.counts()["sent_unbooked"], "the world has invoices to book and booked"
    return world, engine


def calls_of_the_next_run(world: SimulatedWorld, engine) -> tuple[Counter, Counter, object]:
    reset_eb_calls(world)
    world.perfectview.calls.clear()
    report = engine.run()
    return Counter(simulator(world).calls), Counter(world.perfectview.calls), report


@pytest.mark.parametrize("api", APIS)
def test_a_run_where_nothing_changed_reads_no_listing_and_writes_nothing(tmp_path, api):
    world, engine = in_step(tmp_path, api)
    try:
        eboekhouden, perfectview, report = calls_of_the_next_run(world, engine)
    finally:
        engine.close()
        world.close()
    assert report.outcome == "ok"
    assert {o.job: o.status for o in report.jobs} == {"relations": "ok", "invoices": "ok", "payments": "ok"}
    assert not EBOEKHOUDEN_WRITES & set(eboekhouden) and not PERFECTVIEW_WRITES & set(perfectview), \
        (eboekhouden, perfectview)
    assert sum(eboekhouden.values()) <= 5, eboekhouden
    assert not WHOLE_LISTINGS & set(perfectview), f"a whole listing read: {perfectview}"
    assert not PER_RECORD & (set(perfectview) | set(eboekhouden)) - {"RelationGet"}, (eboekhouden, perfectview)
    # The modified-since answers, one page each; the own organisation once (its country, for the VAT rules).
    assert perfectview["RelationGetModified"] == 1 and perfectview["RelationGetActivitiesModified_V2"] == 1
    assert perfectview["RelationGet"] <= 1
    # SOAP's one GetRelaties carries every relation's details: an edit made in e-Boekhouden alone is
    # seen on every run. REST lists 2,000 codes a call (five calls at 10,000) and shows no details:
    # with nothing changed in PerfectView there is nothing to look up, so it is not listed at all.
    assert eboekhouden["GetRelaties"] == (1 if api == "soap" else 0)
    assert eboekhouden["GET /v1/relation"] == 0
    assert {o.job: o.result.counters.get("read", 0) for o in report.jobs}["invoices"] == 0


@pytest.fixture
def list_parses(monkeypatch) -> list[str]:
    """One entry per GetRelaties answer pvsync parsed (the whole list or a lookup by code)."""
    parsed: list[str] = []
    original = ListReader.read

    def counted(reader, document):
        if reader.tag.endswith("GetRelatiesResponse"):
            parsed.append(reader.tag)
        return original(reader, document)

    monkeypatch.setattr(ListReader, "read", counted)
    return parsed


def test_soap_parses_the_relation_list_only_when_it_differs_from_the_one_every_link_was_compared_with(
        tmp_path, list_parses):
    with RelationWorld(tmp_path) as world:
        for number in ("D1", "D2", "D3"):
            world.pv_add(organisation(number, f"Bedrijf {number}"))
        world.sync()  # creates them: the list reads differently afterwards
        world.sync()  # compares every link with the list and writes nothing: the list is remembered
        list_parses.clear()
        world.reset_calls()
        world.sync()
        assert world.world.eboekhouden.calls["GetRelaties"] == 1 and list_parses == [], "asked for, not parsed"
        assert world.writes() == {}

        world.eb_edit("D2", plaats="Haarlem")  # a change made in e-Boekhouden only, between two runs
        list_parses.clear()
        world.reset_calls()
        world.sync()
        assert list_parses, "the list differs: parsed"
        assert world.writes() == {"UpdateRelatie": 1} and world.eb("D2").plaats != "Haarlem", "PerfectView won"

        world.sync()  # the list after that update: compared, in step, remembered
        list_parses.clear()
        world.sync()
        assert list_parses == [] and world.writes() == {"UpdateRelatie": 1}


def test_a_run_that_writes_to_eboekhouden_forgets_the_remembered_list_before_it_writes(tmp_path, list_parses):
    """Stopped half-way after a write, the run must not leave behind the digest of a list that an
    edit in e-Boekhouden could bring back byte for byte while a link holds the newer record."""
    with RelationWorld(tmp_path) as world:
        alfa = world.pv_add(organisation("D1", "Alfa BV"))
        world.sync()
        world.sync()
        assert world.state.eboekhouden_list_digest()

        def crash(point: str) -> None:
            if point == "after_update_relation":
                raise RuntimeError("killed")

        world.pv_edit(alfa, name="Alfa Twee BV")
        world.job.crash_at = crash
        world.sync()
        assert world.eb("D1").bedrijf == "Alfa Twee BV", "written before the crash"
        assert world.state.eboekhouden_list_digest() is None

        world.job.crash_at = lambda point: None
        list_parses.clear()
        world.sync()
        assert list_parses, "parsed and compared again"
        assert world.state.eboekhouden_list_digest(), "in step again: remembered"
