"""The relations job against both simulators in-process: what it writes, what it refuses,
what it tells the logbook, and what it costs in calls."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.eboekhouden.soap.client import EboekhoudenClient
from core.sync.job import RunContext
from core.model import EbRelation, Gender
from core.soap.errors import TransportFailure
from core.store.records import utc_now
from core.store.relation_state import FULL_PASS_CURSOR
from core.sync.mapping import crm_to_eboekhouden_values, eboekhouden_values
from tests.sync.relations_world import VALID_IBAN, RelationWorld, organisation, person, sale


@pytest.fixture
def world(tmp_path):
    with RelationWorld(tmp_path) as w:
        yield w


def mirrored(world: RelationWorld, pv_id: str, name_format: str = "Voornaam Achternaam") -> bool:
    relation = world.pv_get(pv_id)
    eb = world.eb(relation.debtor_number)
    return eb is not None and eboekhouden_values(eb, relation.kind) == crm_to_eboekhouden_values(relation,
                                                                                                  name_format)


# --------------------------------------------------------------------------- PerfectView -> e-Boekhouden


def test_customers_are_created_with_the_mapping_of_section_e(tmp_path):
    with RelationWorld(tmp_path, person_name_format="Achternaam, Voornaam") as world:
        org_id = world.pv_add(organisation("D1", "Bakkerij Jansen B.V."))
        per_id = world.pv_add(person("D2", "Anna", "de", "Vries"))
        world.pv_add(organisation("", "Prospect zonder nummer"), relation_type="Prospect")
        report = world.sync()
        assert report.outcome == "ok" and report.jobs[0].result.counters["created"] == 2
        org, per = world.eb("D1"), world.eb("D2")
        assert (org.bp, org.bedrijf, org.adres, org.adres2, org.iban) == ("B", "Bakkerij Jansen B.V.",
                                                                          "Dorpsstraat 12a", "Postbus 100", VALID_IBAN)
        assert (per.bp, per.bedrijf, per.geslacht, per.adres2, per.gsm) == ("P", "de Vries, Anna", "v",
                                                                            "Singel 8 bis", "06-22222222")
        assert mirrored(world, org_id, "Achternaam, Voornaam") and mirrored(world, per_id, "Achternaam, Voornaam")
        assert world.eb_codes() == ["D1", "D2"], "a relation without Debiteurnummer is not exported"
        assert {link.code: link.pv_id for link in world.state.links()} == {"D1": org_id, "D2": per_id}


def test_an_unchanged_relation_costs_no_write(world):
    world.pv_add(organisation("D1", "Alfa BV"))
    world.pv_add(person("D2", "Anna", "", "Smit"))
    world.sync()
    for compared in ({}, {"unchanged": 2}):  # an incremental pass (nothing changed), then a full pass
        world.reset_calls()
        report = world.sync()
        assert world.writes() == {} and report.jobs[0].result.counters == compared
        world.engine.store.set_cursor(FULL_PASS_CURSOR, (utc_now() - timedelta(days=2)).isoformat())
    assert world.world.perfectview.calls["RelationGetAll"] == 1, "the second round was a full pass"


def test_update_is_read_merge_write_and_every_overwritten_field_is_audited(world):
    pv_id = world.pv_add(organisation("D1", "Alfa BV"))
    world.sync()
    world.eb_edit("D1", notitie="betaalt altijd laat", kvk_nummer="12345678")
    world.pv_edit(pv_id, email="nieuw@alfa.nl", phone="")
    world.reset_calls()
    world.sync()
    assert world.writes() == {"UpdateRelatie": 1}
    eb = world.eb("D1")
    assert (eb.email, eb.telefoon) == ("nieuw@alfa.nl", "")
    assert (eb.notitie, eb.kvk_nummer) == ("betaalt altijd laat", "12345678"), "unmapped fields are kept"
    audit = [e for e in world.log() if "PerfectView overwrote" in e.message]
    assert [(e.subject, e.message) for e in audit] == [
        ("D1", "e-Boekhouden D1: PerfectView overwrote Telefoon: 030-1234567 -> (leeg)"),
        ("D1", "e-Boekhouden D1: PerfectView overwrote E-mail: info@d1.nl -> nieuw@alfa.nl")]
    assert audit[1].details == {"field": "email", "old": "info@d1.nl", "new": "nieuw@alfa.nl",
                                "perfectview_id": pv_id}


def test_perfectview_wins_over_an_edit_in_eboekhouden_between_full_passes(world):
    pv_id = world.pv_add(organisation("D1", "Alfa BV"))
    world.sync()
    world.eb_edit("D1", plaats="Haarlem", notitie="onze notitie")
    world.reset_calls()
    world.sync()  # an incremental pass: PerfectView did not change, e-Boekhouden did
    assert world.world.perfectview.calls["RelationGetAll"] == 0
    assert world.writes() == {"UpdateRelatie": 1} and mirrored(world, pv_id)
    assert world.eb("D1").notitie == "onze notitie"
    assert "e-Boekhouden D1: PerfectView overwrote Plaats: Haarlem -> Utrecht" in world.messages()


def test_person_gender_maps_to_m_v_a(world):
    for number, gender in (("P1", Gender.MALE), ("P2", Gender.FEMALE), ("P3", Gender.UNKNOWN)):
        world.pv_add(person(number, "Sam", "", f"Achter{number}", gender=gender))
    world.sync()
    assert [world.eb(code).geslacht for code in ("P1", "P2", "P3")] == ["m", "v", "a"]


# --------------------------------------------------------------------------- blocked, never truncated


@pytest.mark.parametrize("changes, words", [
    ({"iban": "NL00ABNA0000000000"}, "IBAN NL00ABNA0000000000 is not valid"),
    ({"bic": "XYZ"}, "BIC XYZ is not valid"),
    ({"website": "https://www." + "x" * 50 + ".nl"}, "Site is 65 characters; e-Boekhouden allows at most 50"),
])
def test_a_relation_that_breaks_the_limits_is_listed_and_the_rest_goes_on(world, changes, words):
    bad = world.pv_add(organisation("D1", "Alfa BV", **changes))
    world.pv_add(organisation("D2", "Beta BV"))
    report = world.sync()
    assert world.eb_codes() == ["D2"], "nothing is truncated and sent"
    assert report.outcome == "ok" and report.jobs[0].result.counters == {"created": 1, "blocked": 1}
    (warning,) = world.log(level="WARNING")
    assert warning.subject == "D1" and words in warning.message
    (problem,) = world.state.problems()
    assert problem.key == bad and problem.kind == "blocked" and words in str(problem.problems[0])
    assert problem.problems[0].hint in warning.message, "the hint says what to do"


def test_a_relation_without_surname_is_blocked_with_a_hint(world):
    pv_id = world.pv_add(person("D1", "Anna", "", "Vries"))
    # PerfectView requires a surname now; a relation from before that rule has none.
    sim = world.world.perfectview
    surname = next(f["Id"] for f in sim.db["fields"] if f["Name"] == "PER_name")
    sim.db["relations"][pv_id]["values"][surname] = ""
    world.sync()
    (warning,) = world.log(level="WARNING")
    assert "has no surname" in warning.message and "fill in the surname in PerfectView" in warning.message
    assert world.eb_codes() == []


def test_duplicate_debtor_number_blocks_both_until_fixed(world):
    first = world.pv_add(organisation("D1", "Alfa BV"))
    second = world.pv_add(organisation("D1", "Alfa Kopie BV"))
    world.sync()
    assert world.eb_codes() == []
    assert {p.key for p in world.state.problems()} == {first, second}
    assert all("used by 2 PerfectView relations" in m for m in world.messages(level="WARNING"))
    world.sync()
    assert world.messages(level="WARNING") == [], "the same problem is told once, not every run"
    world.pv_edit(second, debtor_number="D2")
    world.sync()
    assert world.eb_codes() == ["D1", "D2"] and world.state.problems() == []


def test_a_new_duplicate_of_an_unchanged_linked_relation_blocks_in_an_incremental_pass(world):
    world.pv_add(organisation("D1", "Alfa BV"))
    world.sync()
    world.pv_add(organisation("D1", "Indringer BV", email="x@indringer.nl"))
    world.reset_calls()
    world.sync()
    assert world.world.perfectview.calls["RelationGetAll"] == 0, "this was an incremental pass"
    assert world.writes() == {} and world.eb("D1").bedrijf == "Alfa BV"
    assert len(world.messages(level="WARNING")) == 2


def test_a_debtor_number_handed_to_another_relation_moves_its_link(world):
    old = world.pv_add(organisation("D1", "Alfa BV"))
    world.sync()
    world.pv_edit(old, debtor_number="D2")
    new = world.pv_add(organisation("D1", "Opvolger BV"))
    report = world.sync()
    assert report.outcome == "ok" and world.eb_codes() == ["D1", "D2"]
    assert world.eb("D1").bedrijf == "Opvolger BV" and world.eb("D2").bedrijf == "Alfa BV"
    assert {link.code: link.pv_id for link in world.state.links()} == {"D1": new, "D2": old}


# --------------------------------------------------------------------------- nothing is deleted


def test_relation_gone_from_eboekhouden_is_reported_not_recreated(world):
    world.pv_add(organisation("D1", "Alfa BV"))
    world.pv_add(organisation("D2", "Beta BV"))
    world.sync()
    world.eb_remove("D1")
    world.reset_calls()
    world.sync()
    assert world.writes() == {} and world.eb_codes() == ["D2"]
    (warning,) = world.log(level="WARNING")
    assert warning.subject == "D1" and "gone from e-Boekhouden" in warning.message
    assert [p.kind for p in world.state.problems()] == ["disappeared"]


def test_relation_gone_from_perfectview_is_reported_and_kept_in_eboekhouden(world):
    gone = world.pv_add(organisation("D1", "Alfa BV"))
    world.pv_add(organisation("D2", "Beta BV"))
    world.sync()
    world.pv_remove(gone)
    world.engine.store.set_cursor(FULL_PASS_CURSOR, (utc_now() - timedelta(days=2)).isoformat())
    world.reset_calls()
    world.sync()
    assert world.writes() == {} and world.eb_codes() == ["D1", "D2"]
    assert any("gone from PerfectView" in m for m in world.messages(level="WARNING"))


# --------------------------------------------------------------------------- guards


def test_eboekhouden_suddenly_empty_stops_the_run_before_any_write(world):
    world.pv_add(organisation("D1", "Alfa BV"))
    world.sync()
    world.eb_remove("D1")
    world.pv_add(organisation("D2", "Beta BV"))
    world.reset_calls()
    report = world.sync(force=True)
    assert report.outcome == "partial" and world.writes() == {}
    (error,) = world.log(level="ERROR")
    assert "e-Boekhouden returned no relations while 1 are linked" in error.message


def test_a_plan_overwriting_too_large_a_share_asks_for_force(world):
    ids = [world.pv_add(organisation(f"D{n}", f"Firma {n}")) for n in range(10)]
    world.sync()
    for pv_id in ids[:6]:
        world.pv_edit(pv_id, phone="010-9999999")
    world.reset_calls()
    stopped = world.sync()
    assert stopped.outcome == "partial" and world.writes() == {}
    assert "6 of 10" in world.messages(level="ERROR")[0] and "--force" in world.messages(level="ERROR")[0]
    forced = world.sync(force=True)
    assert forced.outcome == "ok" and world.writes() == {"UpdateRelatie": 6}


# --------------------------------------------------------------------------- dry run


def test_dry_run_shows_the_plan_with_field_diffs_and_writes_nothing(world):
    pv_id = world.pv_add(organisation("D1", "Alfa BV"))
    world.pv_add(organisation("D2", "Beta BV", bic="NOPE"))
    world.sync()
    world.pv_edit(pv_id, email="nieuw@alfa.nl")
    world.pv_add(organisation("D3", "Gamma BV"))
    world.reset_calls()
    report = world.sync(dry_run=True)
    assert world.writes() == {}
    text = "\n".join(report.summary_lines())
    assert "dry run" in text and "1 to create, 1 to update" in text
    assert "update D1 (Alfa BV) in e-Boekhouden: E-mail: info@d1.nl -> nieuw@alfa.nl" in text
    assert "create D3 (Gamma BV) in e-Boekhouden" in text and "skip D2 (Beta BV): BIC NOPE" in text
    planned = {e.subject: e.message for e in world.log() if e.message.startswith("plan: ")}
    assert set(planned) == {"D1", "D2", "D3"}
    world.sync()
    assert world.writes() == {"UpdateRelatie": 1, "AddRelatie": 1}, "the dry run moved no cursor"


# --------------------------------------------------------------------------- failures


def test_one_failing_write_does_not_stop_the_others_and_is_retried(world, monkeypatch):
    for n in range(3):
        world.pv_add(organisation(f"D{n}", f"Firma {n}"))
    original = EboekhoudenClient.add_relation

    def refuse_d1(self, rel):
        if rel.code == "D1":
            raise TransportFailure("e-Boekhouden", "AddRelatie", "connection refused", maybe_processed=False)
        return original(self, rel)

    monkeypatch.setattr(EboekhoudenClient, "add_relation", refuse_d1)
    report = world.sync()
    assert report.outcome == "partial" and report.jobs[0].result.failures == 1
    assert world.eb_codes() == ["D0", "D2"]
    assert "create D1 (Firma 1) in e-Boekhouden failed" in world.messages(level="ERROR")[0]
    monkeypatch.setattr(EboekhoudenClient, "add_relation", original)
    world.sync()
    assert world.eb_codes() == ["D0", "D1", "D2"]


def test_a_lost_answer_to_addrelatie_is_looked_up_and_never_added_twice(world, monkeypatch):
    pv_id = world.pv_add(organisation("D1", "Alfa BV"))
    original = EboekhoudenClient.add_relation

    def processed_but_lost(self, rel):
        original(self, rel)
        raise TransportFailure("e-Boekhouden", "AddRelatie", "read timed out", maybe_processed=True)

    monkeypatch.setattr(EboekhoudenClient, "add_relation", processed_but_lost)
    report = world.sync()
    assert report.outcome == "ok" and world.eb_codes() == ["D1"]
    assert world.world.eboekhouden.calls["AddRelatie"] == 1
    assert [link.pv_id for link in world.state.links()] == [pv_id]
    monkeypatch.setattr(EboekhoudenClient, "add_relation", original)
    world.reset_calls()
    world.sync()
    assert world.writes() == {}


def test_a_code_someone_else_just_added_is_adopted_not_added_twice(world, monkeypatch):
    world.pv_add(organisation("D1", "Alfa BV"))
    world.eb_add(EbRelation(code="D1", bedrijf="Alfa (handmatig)", bp="B"))
    original = EboekhoudenClient._relations  # every GetRelaties; `record` names a lookup by code

    def read_before_the_other_user(self, reader, record="", **arguments):
        found = original(self, reader, record, **arguments)
        return found if record else [r for r in found if r.code != "D1"]

    monkeypatch.setattr(EboekhoudenClient, "_relations", read_before_the_other_user)
    world.reset_calls()
    report = world.sync()
    assert report.outcome == "ok" and world.eb_codes() == ["D1"]
    assert "D1 was already in e-Boekhouden" in world.messages(level="WARNING")[0]
    monkeypatch.setattr(EboekhoudenClient, "_relations", original)
    world.sync()
    assert world.eb("D1").bedrijf == "Alfa BV", "the next run compares it and PerfectView wins"


def test_the_job_stops_between_actions_when_asked(world):
    for n in range(3):
        world.pv_add(organisation(f"D{n}", f"Firma {n}"))
    asked = iter([False, True, True, True])
    store = world.engine.store
    services = world.world.services(world.world.config(), store)
    ctx = RunContext(store=store, config=world.world.config(), run_id=0, job="relations", dry_run=False,
                     force=False, should_stop=lambda: next(asked), report_progress=lambda *a: None,
                     services=services)
    try:
        result = world.job.run(ctx)
    finally:
        services.close()
    assert not result.complete and world.eb_codes() == ["D0"]
    assert world.state.perfectview_cursor() is None, "the next run reads everything again"


def test_the_code_a_renumbered_relation_leaves_behind_is_kept_and_not_imported_back(tmp_path):
    with RelationWorld(tmp_path, import_from_eboekhouden=True, customers="all") as world:
        pv_id = world.pv_add(organisation("D1", "Alfa BV"))
        world.sync()
        world.pv_edit(pv_id, debtor_number="D7")
        world.reset_calls()
        world.sync()
        (warning,) = world.log(level="WARNING")
        assert warning.subject == "D1" and "now has Debiteurnummer D7" in warning.message
        world.sync()
        assert world.writes() == {"AddRelatie": 1} and world.eb_codes() == ["D1", "D7"]
        assert [r.id for r in world.pv_relations() if r.debtor_number] == [pv_id], "D1 is not imported back"
        assert world.messages(level="WARNING") == [] and world.state.retired_codes() == {"D1"}


# --------------------------------------------------------------------------- e-Boekhouden -> PerfectView


@pytest.fixture
def importing(tmp_path):
    with RelationWorld(tmp_path, import_from_eboekhouden=True, export_to_eboekhouden=False,
                       account_manager="Joost Bakker") as w:
        yield w


def test_import_creates_customers_with_a_sales_booking_only(importing):
    importing.eb_add(EbRelation(code="D9", bedrijf="Nieuw BV", bp="B", adres="Kerkstraat 12a", plaats="Zeist"))
    importing.eb_add(EbRelation(code="P9", bedrijf="Karel Appel", bp="P", geslacht="m", gsm="06-1"))
    importing.eb_add(EbRelation(code="L1", bedrijf="Leverancier BV", bp="B"))
    importing.eb_book(sale("D9", "2024-001"))
    importing.eb_book(sale("P9", "2024-002"))
    importing.reset_calls()
    report = importing.sync()
    assert report.jobs[0].result.counters == {"imported": 2}
    assert importing.world.eboekhouden.calls["GetMutaties"] == 1, "one GetMutaties per run, not per relation"
    (org,), (per,) = importing.pv_by_number("D9"), importing.pv_by_number("P9")
    assert importing.pv_by_number("L1") == [], "a relation without sales is not a customer"
    assert (org.name, org.visiting_address.street, org.visiting_address.house_number) == ("Nieuw BV", "Kerkstraat",
                                                                                          "12")
    seen = importing.world.perfectview.relation(org.id)
    assert (seen["type"], seen["account_manager"]) == ("Klant", "Joost Bakker")
    assert (per.kind.value, per.last_name, per.gender) == ("person", "Karel Appel", Gender.MALE)
    assert importing.world.perfectview.relation(per.id)["type"] == "Persoon"
    assert importing.writes() == {"RelationCreate": 2}, "nothing is written to e-Boekhouden"
    importing.reset_calls()
    importing.sync()
    assert importing.writes() == {} and importing.world.eboekhouden.calls["GetMutaties"] == 1


@pytest.mark.parametrize("rule, imported", [("with_open_items", ["D9"]), ("all", ["D9", "L1"])])
def test_which_relations_count_as_customers_is_a_config_choice(tmp_path, rule, imported):
    with RelationWorld(tmp_path, import_from_eboekhouden=True, customers=rule) as world:
        world.eb_add(EbRelation(code="D9", bedrijf="Nieuw BV", bp="B"))
        world.eb_add(EbRelation(code="L1", bedrijf="Leverancier BV", bp="B"))
        world.eb_book(sale("D9", "2024-001"))  # unpaid: an open item
        world.reset_calls()
        world.sync()
        assert sorted(r.debtor_number for r in world.pv_relations() if r.debtor_number) == imported
        assert world.world.eboekhouden.calls["GetMutaties"] == 0


def test_an_unknown_relatiebeheerder_is_a_config_error_naming_the_users(tmp_path):
    with RelationWorld(tmp_path, import_from_eboekhouden=True, customers="all",
                       account_manager="Piet Onbekend") as world:
        world.eb_add(EbRelation(code="D9", bedrijf="Nieuw BV", bp="B"))
        world.pv_add(organisation("D1", "Alfa BV"))
        report = world.sync()
        assert report.outcome == "partial" and world.eb_codes() == ["D1", "D9"], "the export goes on"
        config_error = next(e for e in world.log(level="ERROR") if e.kind == "config")
        assert "'Piet Onbekend'" in config_error.message and "'Joost Bakker'" in config_error.message


def test_a_relation_perfectview_refuses_is_listed_not_retried_as_a_failure(importing):
    importing.eb_add(EbRelation(code="D9", bedrijf="Nieuw BV", bp="B", telefoon="0" * 40))
    importing.eb_book(sale("D9", "2024-001"))
    report = importing.sync()
    assert report.outcome == "ok" and report.jobs[0].result.counters == {"blocked": 1}
    (problem,) = importing.state.problems()
    assert problem.key == "e-Boekhouden D9" and "Telefoonnummer" in problem.problems[0].message


def test_import_never_duplicates_a_customer_perfectview_has_but_did_not_change(tmp_path):
    # Import only: nothing is exported, so the PerfectView relation is never linked.
    with RelationWorld(tmp_path, import_from_eboekhouden=True, export_to_eboekhouden=False,
                       customers="all") as world:
        world.pv_add(organisation("D9", "Nieuw BV"))
        world.eb_add(EbRelation(code="D9", bedrijf="Nieuw BV", bp="B"))
        world.sync()
        world.reset_calls()
        world.sync()  # incremental: the PerfectView relation is not read again
        assert world.world.perfectview.calls["RelationGetAll"] == 0
        assert len(world.pv_by_number("D9")) == 1 and world.writes() == {}


def test_both_directions_perfectview_wins(tmp_path):
    with RelationWorld(tmp_path, import_from_eboekhouden=True, customers="all") as world:
        world.eb_add(EbRelation(code="D9", bedrijf="Nieuw BV", bp="B", email="oud@nieuw.nl"))
        world.sync()
        (imported,) = world.pv_by_number("D9")
        world.pv_edit(imported.id, email="nieuw@nieuw.nl")
        world.eb_edit("D9", email="ander@nieuw.nl")
        world.reset_calls()
        world.sync()
        assert world.eb("D9").email == "nieuw@nieuw.nl" and world.pv_get(imported.id).email == "nieuw@nieuw.nl"
        assert world.writes() == {"UpdateRelatie": 1}
        assert "e-Boekhouden D9: PerfectView overwrote E-mail: ander@nieuw.nl -> nieuw@nieuw.nl" in world.messages()

