"""The relation plan, table by table: every rule of issue 5 as a pure function."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.model import Address, CrmRelation, EbRelation, RelationKind
from core.sync.mapping import RelationProblem, crm_hash, eboekhouden_hash, merge_into
from core.sync.relations_plan import (CreateInEboekhouden, ImportIntoPerfectView, LinkUnchanged, RelationBlocked,
                                      RelationDisappeared, RelationLink, RelationSyncSettings, UpdateInEboekhouden,
                                      plan_relations)

FMT = "Voornaam Achternaam"


def org(pv_id: str, code: str, name: str, **kw) -> CrmRelation:
    return CrmRelation(id=pv_id, kind=RelationKind.ORGANISATION, debtor_number=code, name=name,
                       visiting_address=Address("Markt", "1", "", "1000 AA", "Amsterdam"), **kw)


def eb_of(crm: CrmRelation, eb_id: int) -> EbRelation:
    return replace(merge_into(None, crm, FMT), id=eb_id)


def link(crm: CrmRelation, eb: EbRelation) -> RelationLink:
    return RelationLink(crm.id, crm.debtor_number, eb.id, crm_hash(crm, FMT), eboekhouden_hash(eb))


def plan(pv, eb, links=(), *, export=True, imp=False, customers=None, **kw):
    settings = RelationSyncSettings(export_to_eboekhouden=export, import_from_eboekhouden=imp,
                                    person_name_format=FMT, max_change_share=kw.pop("share", 0.5))
    codes = customers if customers is not None else {r.code for r in eb}
    return plan_relations(perfectview=pv, eboekhouden=eb, links=links, settings=settings, customer_codes=codes, **kw)


A, B, C = org("pv-a", "D1", "Alfa BV"), org("pv-b", "D2", "Beta BV"), org("pv-c", "", "Gamma zonder nummer")


def test_new_perfectview_customer_is_created_and_one_without_debtor_number_is_ignored():
    result = plan([A, C], [])
    assert [type(a) for a in result.actions] == [CreateInEboekhouden]
    assert result.actions[0].wanted.bedrijf == "Alfa BV" and result.stop is None


def test_unchanged_relation_costs_no_write():
    eb = eb_of(A, 11)
    result = plan([A], [eb], [link(A, eb)])
    assert [type(a) for a in result.actions] == [LinkUnchanged] and result.writes() == []


def test_perfectview_wins_and_every_overwritten_field_is_listed():
    eb = eb_of(A, 11).with_changes(plaats="Haarlem", email="oud@alfa.nl", notitie="kept")
    result = plan([replace(A, email="nieuw@alfa.nl")], [eb], [link(A, eb)], imp=True)
    (update,) = result.of(UpdateInEboekhouden)
    assert [c.describe() for c in update.changes] == ["Plaats: Haarlem -> Amsterdam", "E-mail: oud@alfa.nl -> nieuw@alfa.nl"]
    assert update.wanted.notitie == "kept", "fields pvsync does not map keep their e-Boekhouden value"
    assert result.of(ImportIntoPerfectView) == [], "a linked relation is never imported back"


def test_duplicate_debtor_number_blocks_both_and_the_rest_goes_on():
    dup = org("pv-x", "D1", "Alfa Kopie BV")
    result = plan([A, dup, B], [])
    blocked = result.of(RelationBlocked)
    assert {b.pv_id for b in blocked} == {"pv-a", "pv-x"}
    assert "used by 2 PerfectView relations" in blocked[0].problems[0].message
    assert [a.code for a in result.of(CreateInEboekhouden)] == ["D2"]


@pytest.mark.parametrize("change, field", [
    ({"name": ""}, "bedrijf"),
    ({"iban": "NL00BANK0123456789"}, "iban"),
    ({"bic": "NOPE"}, "bic"),
])
def test_relation_with_bad_fields_is_blocked_with_reason(change, field):
    result = plan([replace(A, **change), B], [])
    (blocked,) = result.of(RelationBlocked)
    assert blocked.problems[0].field == field
    assert len(result.of(CreateInEboekhouden)) == 1


def test_eboekhouden_limits_are_applied_to_the_merged_record():
    def limits(rel):
        return [RelationProblem("bedrijf", f"Bedrijf is {len(rel.bedrijf)} characters; at most 100", "shorten it")] \
            if len(rel.bedrijf) > 100 else []
    result = plan([replace(A, name="X" * 101)], [], eboekhouden_limits=limits)
    (blocked,) = result.of(RelationBlocked)
    assert "at most 100" in str(blocked.problems[0]) and result.writes() == []


def test_import_creates_customers_only_and_never_duplicates():
    eb_known, eb_new, eb_supplier = eb_of(A, 11), EbRelation(id=12, code="D9", bedrijf="Nieuw BV", bp="B"), \
        EbRelation(id=13, code="L1", bedrijf="Leverancier", bp="B")
    result = plan([A], [eb_known, eb_new, eb_supplier], [link(A, eb_known)], imp=True, customers={"D1", "D9"})
    (imported,) = result.of(ImportIntoPerfectView)
    assert imported.code == "D9" and imported.relation.debtor_number == "D9"
    assert imported.relation.relation_type == "Klant"


def test_import_only_direction_does_not_write_to_eboekhouden():
    result = plan([A], [EbRelation(id=12, code="D9", bedrijf="Nieuw BV")], export=False, imp=True)
    assert [type(a) for a in result.actions] == [ImportIntoPerfectView]


def test_relation_gone_from_perfectview_is_reported_not_propagated():
    eb_a, eb_b = eb_of(A, 11), eb_of(B, 12)
    result = plan([B], [eb_a, eb_b], [link(A, eb_a), link(B, eb_b)], imp=True)
    (gone,) = result.of(RelationDisappeared)
    assert gone.side == "PerfectView" and gone.code == "D1"
    assert result.writes() == [], "not re-imported, not deleted"


def test_relation_gone_from_eboekhouden_is_reported_not_recreated():
    eb_a, eb_b = eb_of(A, 11), eb_of(B, 12)
    result = plan([A, B], [eb_b], [link(A, eb_a), link(B, eb_b)])
    (gone,) = result.of(RelationDisappeared)
    assert gone.side == "e-Boekhouden" and gone.code == "D1" and result.writes() == []


def test_incremental_pass_does_not_judge_missing_relations():
    eb_a, eb_b = eb_of(A, 11), eb_of(B, 12)
    result = plan([], [eb_a, eb_b], [link(A, eb_a), link(B, eb_b)], full_pass=False)
    assert result.actions == [] and result.stop is None


@pytest.mark.parametrize("pv_empty", [True, False])
def test_a_side_that_suddenly_returns_nothing_stops_the_run(pv_empty):
    eb_a = eb_of(A, 11)
    result = plan([] if pv_empty else [A], [] if not pv_empty else [eb_a], [link(A, eb_a)])
    assert result.stop is not None and not result.stop.needs_force
    assert ("PerfectView" if pv_empty else "e-Boekhouden") in result.stop.reason
    assert result.actions == []


def test_plan_changing_too_large_a_share_stops_unless_forced():
    relations = [org(f"pv-{i}", f"D{i}", f"Firma {i}") for i in range(10)]
    ebs = [eb_of(r, i) for i, r in enumerate(relations)]
    links = [link(r, e) for r, e in zip(relations, ebs)]
    changed = [replace(r, phone="010-9999999") for r in relations[:6]] + relations[6:]
    stopped = plan(changed, ebs, links)
    assert stopped.stop is not None and stopped.stop.needs_force and "6 of 10" in stopped.stop.reason
    assert plan(changed, ebs, links, force=True).stop is None
    assert plan(changed, ebs, links, share=0.7).stop is None


def test_few_updates_never_trip_the_share_guard():
    relations = [org(f"pv-{i}", f"D{i}", f"Firma {i}") for i in range(4)]
    ebs = [eb_of(r, i) for i, r in enumerate(relations)]
    changed = [replace(r, phone="010-9999999") for r in relations]
    assert plan(changed, ebs, [link(r, e) for r, e in zip(relations, ebs)]).stop is None


def test_first_contact_with_an_administration_whose_codes_match_is_guarded_too():
    relations = [org(f"pv-{i}", f"D{i}", f"Firma {i}") for i in range(10)]
    ebs = [eb_of(r, i).with_changes(telefoon="010-0000000") for i, r in enumerate(relations[:6])] + \
        [eb_of(r, i) for i, r in enumerate(relations) if i >= 6]
    stopped = plan(relations, ebs, links=())
    assert stopped.stop is not None and "6 of 10" in stopped.stop.reason


def test_a_code_left_behind_by_a_renumbered_relation_is_not_imported_back():
    eb_old = EbRelation(id=12, code="D9", bedrijf="Alfa BV", bp="B")
    result = plan([A], [eb_old], imp=True, retired_codes={"D9"})
    assert result.of(ImportIntoPerfectView) == []
    assert [type(a) for a in plan([A], [eb_old], imp=True).actions] == [CreateInEboekhouden, ImportIntoPerfectView]
