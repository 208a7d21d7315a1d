"""What the relations job reads where each e-Boekhouden relation's details cost a call (REST:
`GET /v1/relation` lists code and ID only): a no-op run reads none, a change reads the
relations it touches, and the daily full pass compares a rotating slice, not everything.

The SOAP simulator serves, with the client told that details are not free and every
detail read counted, as the REST adapter would pay for them.
"""

from __future__ import annotations

from datetime import timedelta
from math import ceil

import pytest

from core.demo.generate import generate
from core.eboekhouden.soap.client import EboekhoudenClient
from core.model import EbRelation
from core.store.records import utc_now
from core.store.relation_state import FULL_PASS_CURSOR
from core.sync.relations_plan import COMPARE_DAYS, compare_slice
from tests.sync.relations_world import RelationWorld, organisation, sale


class DetailReads:
    """The codes whose details the job asked for, run by run."""

    def __init__(self) -> None:
        self.codes: list[str] = []

    def reset(self) -> None:
        self.codes.clear()


@pytest.fixture
def detail_reads(monkeypatch) -> DetailReads:
    reads = DetailReads()
    by_code = EboekhoudenClient.relations_by_code

    def counted(client, codes):
        codes = list(codes)
        reads.codes.extend(codes)
        return by_code(client, codes)

    monkeypatch.setattr(EboekhoudenClient, "relation_details_are_free", False)
    monkeypatch.setattr(EboekhoudenClient, "relations_by_code", counted)
    return reads


def full_pass_due(world: RelationWorld) -> None:
    world.engine.store.set_cursor(FULL_PASS_CURSOR, (utc_now() - timedelta(days=2)).isoformat())


def test_a_run_where_nothing_changed_reads_no_details(tmp_path, detail_reads):
    with RelationWorld(tmp_path) as world:
        for number in ("D1", "D2", "D3"):
            world.pv_add(organisation(number, f"Bedrijf {number}"))
        world.sync()
        assert sorted(world.eb_codes()) == ["D1", "D2", "D3"]
        detail_reads.reset()
        world.reset_calls()
        world.sync()
        assert detail_reads.codes == [] and world.writes() == {}
        assert world.world.eboekhouden.calls["GetRelaties"] == 0, "nothing changed in PerfectView: not even the list"


def test_a_change_in_perfectview_reads_that_relation_only(tmp_path, detail_reads):
    with RelationWorld(tmp_path) as world:
        ids = {number: world.pv_add(organisation(number, f"Bedrijf {number}")) for number in ("D1", "D2", "D3")}
        world.sync()
        world.pv_edit(ids["D2"], name="Bedrijf Twee BV")
        detail_reads.reset()
        world.reset_calls()
        world.sync()
        assert detail_reads.codes == ["D2"]
        assert world.writes() == {"UpdateRelatie": 1} and world.eb("D2").bedrijf == "Bedrijf Twee BV"


def test_the_import_reads_the_new_customer_and_never_a_relation_that_is_no_customer(tmp_path, detail_reads):
    with RelationWorld(tmp_path, import_from_eboekhouden=True) as world:
        world.pv_add(organisation("D1", "Alfa BV"))
        world.sync()
        world.eb_add(EbRelation(code="D9", bedrijf="Nieuw BV", bp="B", plaats="Zeist"))
        world.eb_add(EbRelation(code="L1", bedrijf="Leverancier BV", bp="B"))  # no sales: not a customer
        world.eb_book(sale("D9", "2024-001"))
        detail_reads.reset()
        world.sync()
        assert "D9" in detail_reads.codes and "L1" not in detail_reads.codes
        # Besides the new customer, at most a full pass's slice of the links (D1 here).
        assert set(detail_reads.codes) - {"D9"} <= {link.code for link in world.state.links()}
        assert [r.name for r in world.pv_by_number("D9")] == ["Nieuw BV"] and world.pv_by_number("L1") == []


@pytest.mark.slow  # about 6 s of CPU: 1,000 relations created, then two full passes
def test_the_full_pass_over_1000_unchanged_relations_reads_only_its_slice(tmp_path, detail_reads):
    with RelationWorld(tmp_path) as world:
        generate(world.world, relations=1550, invoices=0, open_items=False, seed=5)
        world.sync()
        linked = world.state.links()
        assert len(linked) >= 1000
        slice_size = ceil(len(linked) / COMPARE_DAYS)
        world.eb_edit(linked[0].code, plaats="Haarlem")  # a change made in e-Boekhouden only
        seen: set[str] = set()
        for day in (1, 2):
            full_pass_due(world)
            detail_reads.reset()
            world.reset_calls()
            world.sync()
            assert len(detail_reads.codes) == slice_size, f"day {day}"
            assert not seen & set(detail_reads.codes), "the slice moves on"
            seen |= set(detail_reads.codes)
            told = [m for m in world.messages() if m.startswith("full pass:")]
            assert told and told[0].startswith(f"full pass: {slice_size} of {len(linked)} linked relations compared")
            assert world.writes() == ({"UpdateRelatie": 1} if day == 1 else {}), "the first slice holds the edit"
        assert world.eb(linked[0].code).plaats != "Haarlem", "PerfectView won on the full pass"


def test_the_slices_cover_every_link_within_compare_days_and_wrap_round():
    codes = [f"D{n:04d}" for n in range(1000)]
    seen, after = [], None
    for _ in range(COMPARE_DAYS):
        part = compare_slice(codes, after)
        seen += part
        after = part[-1]
    assert set(seen) == set(codes)
    assert compare_slice(codes, "D0999")[0] == "D0000", "after the last code it starts again"
    assert compare_slice(codes, "D0500.5")[0] == "D0501", "a code gone since is no hole in the rotation"
    assert compare_slice(codes[:10], None) == codes[:10], "a small administration: all of it every pass"
