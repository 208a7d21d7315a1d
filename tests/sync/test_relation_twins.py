"""A first import without twins: an e-Boekhouden customer PerfectView already holds without a
Debiteurnummer is proposed for linking, not created a second time; near-misses are not.

The finder on its own (what counts as evidence, after normalising), then the relations job
against both simulators: proposal in the dry run, accept fills the Debiteurnummer and links,
reject imports as before, and a world full of near-twins imports every one of them.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.model import Address, EbRelation
from core.store.twin_proposals import TwinProposals
from core.sync.twin_commands import TwinCommandError, accept_twin, list_proposals, reject_twin
from core.sync.twins import TwinFinder
from tests.sync.relations_world import RelationWorld, organisation, person, sale

IBAN = "NL91ABNA0417164300"
SIMILAR_VALID_IBAN = "NL15ABNA0417164310"  # two digits apart, a valid IBAN of another account
TYPO_IBAN = "NL91ABNA0417164301"  # one digit apart, fails the check digits
FORMAT = "Voornaam Achternaam"


def pv_org(pv_id: str, label: str, **changes) -> object:
    base = organisation("", label, iban="", email="", website="", phone="",
                        visiting_address=Address("Dorpsstraat", "1", "", "1234 AB", "Utrecht", "NL"),
                        postal_address=Address())
    return replace(base, id=pv_id, **changes)


def eb_customer(code: str, name: str, **changes) -> EbRelation:
    return EbRelation(code=code, bedrijf=name, bp="B", postcode="9999 ZZ", plaats="Groningen", **changes)


def evidence(eb: EbRelation, *perfectview) -> dict[str, tuple[str, ...]]:
    return {c.pv_id: c.evidence for c in TwinFinder(perfectview, FORMAT).candidates(eb)}


# --------------------------------------------------------------------------- the finder


@pytest.mark.parametrize("pv_changes, eb_changes, expected", [
    ({"iban": "nl91 abna 0417 1643 00"}, {"iban": IBAN}, "IBAN NL91ABNA0417164300"),
    ({"kvk_number": "1234 5678"}, {"kvk_nummer": "12345678"}, "KvK number 12345678"),
    ({"email": " Info@Bakker.NL"}, {"email": "info@bakker.nl"}, "e-mail address info@bakker.nl"),
    ({"name": "Bakkerij  de Vries"}, {"bedrijf": "bakkerij de vries", "postcode": "1234ab"},
     "same name and postcode 1234AB"),
], ids=["iban-spacing-and-case", "kvk-spacing", "email-case", "name-and-postcode-spacing-and-case"])
def test_evidence_is_compared_after_normalising(pv_changes, eb_changes, expected):
    pv = pv_org("pv-1", "Iets Anders BV", **pv_changes)
    eb = replace(eb_customer("1004", "Nog Iets Anders"), **eb_changes)
    assert evidence(eb, pv) == {"pv-1": (expected,)}


@pytest.mark.parametrize("pv_changes, eb_changes", [
    ({"name": "Bakkerij de Vries"}, {"bedrijf": "Bakkerij de Vries", "postcode": "1234 AC"}),
    ({"name": "Bakkerij de Vries"}, {"bedrijf": "Bakkerij de Vries BV", "postcode": "1234 AB"}),
    ({"iban": IBAN}, {"iban": SIMILAR_VALID_IBAN}),
    ({"iban": TYPO_IBAN}, {"iban": TYPO_IBAN}),  # the same typo on both sides proves nothing
    ({"email": "info@bakker.nl"}, {"email": "info@bakkers.nl"}),
    ({"kvk_number": "12345678"}, {"kvk_nummer": "12345679"}),
    ({"kvk_number": "1234567"}, {"kvk_nummer": "1234567"}),  # not a KvK number
    ({"email": "geen"}, {"email": "geen"}),
], ids=["other-postcode", "other-name", "similar-iban", "invalid-iban", "other-email", "other-kvk", "short-kvk",
        "no-email"])
def test_near_misses_are_no_evidence(pv_changes, eb_changes):
    pv = pv_org("pv-1", "Iets Anders BV", **pv_changes)
    eb = replace(eb_customer("1004", "Nog Iets Anders"), **eb_changes)
    assert evidence(eb, pv) == {}


def test_a_relation_with_a_debiteurnummer_is_nobodys_twin_and_two_candidates_are_both_listed():
    eb = eb_customer("1004", "Bakkerij de Vries", iban=IBAN, email="info@bakker.nl")
    linked = pv_org("pv-0", "Bakkerij de Vries", debtor_number="1001", iban=IBAN)
    by_iban = pv_org("pv-1", "Bakkerij de Vries", iban=IBAN)
    by_email = pv_org("pv-2", "De Vries Holding", email="INFO@bakker.nl")
    assert evidence(eb, linked, by_iban, by_email) == {"pv-1": ("IBAN " + IBAN,),
                                                       "pv-2": ("e-mail address info@bakker.nl",)}


def test_a_person_is_matched_by_the_name_as_e_boekhouden_holds_it():
    pv = replace(person("", "Anna", "de", "Vries", iban="", email=""), id="pv-3")
    eb = EbRelation(code="1005", bedrijf="Anna de Vries", bp="P", postcode="3511AA")
    assert evidence(eb, pv) == {"pv-3": ("same name and postcode 3511AA",)}


# --------------------------------------------------------------------------- the job


@pytest.fixture
def world(tmp_path):
    with RelationWorld(tmp_path, import_from_eboekhouden=True, export_to_eboekhouden=True, customers="all") as world:
        yield world


def pv_ids_named(world, name):
    return [r.id for r in world.pv_relations() if r.name == name]


def test_a_customer_with_a_twin_is_proposed_in_the_dry_run_and_not_created_a_second_time(world):
    twin_id = world.pv_add(replace(organisation("", "Bakkerij de Vries"), iban=IBAN))
    world.eb_add(eb_customer("1004", "Bakkerij De Vries B.V.", iban="NL91 ABNA 0417 1643 00"))

    dry = world.sync(dry_run=True)
    summary = dry.jobs[0].result.summary
    assert "1 proposed as twins" in summary and "0 to import" in summary
    assert f"propose linking 1004 (Bakkerij De Vries B.V.) to PerfectView's Bakkerij de Vries (IBAN {IBAN})" \
        in summary
    assert [p.code for p in TwinProposals(world.engine.store).all("pending")] == ["1004"]
    assert any("pvsync relations accept 1004" in m for m in world.messages(level="WARNING"))

    world.reset_calls()
    report = world.sync()
    assert report.outcome == "ok"
    assert report.jobs[0].result.counters.get("proposed") == 1
    assert "RelationCreate" not in world.writes()
    assert world.pv_by_number("1004") == []

    assert "linked to PerfectView's Bakkerij de Vries" in accept_twin(world.engine.store, "1004", by="anna")
    world.sync()

    assert world.pv_get(twin_id).debtor_number == "1004"
    assert len(pv_ids_named(world, "Bakkerij de Vries")) == 1 and world.pv_by_number("1004")[0].id == twin_id
    assert {link.code: link.pv_id for link in world.state.links()}["1004"] == twin_id
    assert world.eb("1004").bedrijf == "Bakkerij de Vries"  # linked now: PerfectView wins, as for every link
    world.reset_calls()
    world.sync()
    assert world.writes() == {}


def test_a_rejected_proposal_is_imported_as_before(world):
    world.pv_add(replace(organisation("", "Bakkerij de Vries"), iban=IBAN))
    world.eb_add(eb_customer("1004", "Bakkerij de Vries", iban=IBAN))
    world.sync()

    reject_twin(world.engine.store, "1004", by="piet")
    world.sync()

    assert [r.name for r in world.pv_by_number("1004")] == ["Bakkerij de Vries"]
    assert len(pv_ids_named(world, "Bakkerij de Vries")) == 2
    assert "rejected (imported as a new relation) by piet" in "\n".join(
        list_proposals(world.engine.store, everything=True))


def test_two_candidates_need_the_person_to_name_one(world):
    first = world.pv_add(replace(organisation("", "Bakkerij de Vries"), iban=IBAN, email=""))
    second = world.pv_add(replace(organisation("", "De Vries Holding"), iban="", email="info@bakker.nl"))
    world.eb_add(eb_customer("1004", "Bakkerij de Vries", iban=IBAN, email="Info@Bakker.nl"))
    world.sync()

    listing = "\n".join(list_proposals(world.engine.store))
    assert first in listing and second in listing
    with pytest.raises(TwinCommandError, match="2 candidate twins"):
        accept_twin(world.engine.store, "1004", by="anna")
    accept_twin(world.engine.store, "1004", by="anna", pv_id=second)
    world.sync()

    assert world.pv_get(second).debtor_number == "1004" and world.pv_get(first).debtor_number == ""


def test_a_proposal_whose_twin_got_its_debiteurnummer_by_hand_is_dropped(world):
    twin_id = world.pv_add(replace(organisation("", "Bakkerij de Vries"), iban=IBAN))
    world.eb_add(eb_customer("1004", "Bakkerij de Vries", iban=IBAN))
    world.sync()
    world.pv_edit(twin_id, debtor_number="1004")

    world.sync()

    assert TwinProposals(world.engine.store).all() == []
    assert {link.code: link.pv_id for link in world.state.links()}["1004"] == twin_id


def test_a_world_full_of_near_twins_imports_every_customer_and_proposes_none(tmp_path):
    with RelationWorld(tmp_path, import_from_eboekhouden=True, export_to_eboekhouden=False,
                       customers="with_sales") as world:
        near = [
            (dict(name="Bakkerij de Vries", visiting_address=Address("A", "1", "", "1234 AB", "Utrecht", "NL")),
             dict(bedrijf="Bakkerij de Vries", postcode="1234 AC")),
            (dict(name="Slagerij Smit", iban=IBAN), dict(bedrijf="Slagerij Smit BV", iban=SIMILAR_VALID_IBAN)),
            (dict(name="Kapsalon Knip", email="info@knip.nl"), dict(bedrijf="Kapsalon Knip", email="info@knip.com")),
            (dict(name="Garage Jansen", kvk_number="12345678"), dict(bedrijf="Garage Jansen", kvk_nummer="12345670")),
            (dict(name="Bloemen Bos", iban=TYPO_IBAN), dict(bedrijf="Bloemen Bos", iban=TYPO_IBAN)),
        ]
        for number, (pv, eb) in enumerate(near, start=1):
            world.pv_add(replace(organisation("", pv["name"], iban="", email="", website="", phone=""), **pv))
            world.eb_add(EbRelation(code=f"20{number}", bp="B", plaats="Zwolle", **eb))
            world.eb_book(sale(f"20{number}", f"F{number}"))

        report = world.sync()

        assert report.outcome == "ok" and report.jobs[0].result.counters.get("imported") == len(near)
        assert TwinProposals(world.engine.store).all() == []
        assert sorted(r.debtor_number for r in world.pv_relations() if r.debtor_number) == \
            [f"20{n}" for n in range(1, len(near) + 1)]


def test_a_twin_that_did_not_change_lately_is_found_between_full_passes(world):
    world.pv_add(replace(organisation("", "Bakkerij de Vries"), iban=IBAN))
    assert "full pass" in world.sync().jobs[0].result.summary
    assert "changes only" in world.sync().jobs[0].result.summary  # nothing new: a modified-since read

    world.eb_add(eb_customer("1004", "Bakkerij de Vries", iban=IBAN))  # the PerfectView relation is unchanged
    world.reset_calls()
    report = world.sync()

    assert "full pass" in report.jobs[0].result.summary
    assert "RelationCreate" not in world.writes()
    assert [p.code for p in TwinProposals(world.engine.store).all("pending")] == ["1004"]
    reject_twin(world.engine.store, "1004", by="piet")
    world.sync()
    assert "changes only" in world.sync().jobs[0].result.summary  # decided and imported: reads are small again


def test_an_accepted_twin_that_took_another_debiteurnummer_is_reported_and_can_be_decided_again(world):
    twin_id = world.pv_add(replace(organisation("", "Bakkerij de Vries"), iban=IBAN))
    world.eb_add(eb_customer("1004", "Bakkerij de Vries", iban=IBAN))
    world.sync()
    accept_twin(world.engine.store, "1004", by="anna")
    world.pv_edit(twin_id, debtor_number="1099")  # someone numbered it by hand meanwhile

    world.sync()

    assert world.pv_get(twin_id).debtor_number == "1099"
    problems = [p for p in world.state.problems() if p.code == "1004"]
    assert problems and "has Debiteurnummer 1099 by now" in problems[0].problems[0].message
    reject_twin(world.engine.store, "1004", by="anna")
    world.sync()
    assert [r.name for r in world.pv_by_number("1004")] == ["Bakkerij de Vries"]
    assert not [p for p in world.state.problems() if p.code == "1004"]


def test_over_loopback_a_decision_sent_as_a_request_links_the_twin_in_the_run_it_asks_for(tmp_path):
    with RelationWorld(tmp_path, loopback=True, import_from_eboekhouden=True, customers="all") as world:
        twin_id = world.pv_add(replace(organisation("", "Bakkerij de Vries"), email="info@devries.nl"))
        world.eb_add(eb_customer("1004", "Bakkerij de Vries", email="INFO@devries.nl"))
        world.sync()
        store = world.engine.store

        request_id = store.add_request("relation_twin", {"code": "1004", "decision": "accept", "relation": "",
                                                         "by": "anna"})
        world.engine._answer_requests()  # the decision, then the relations run it asked for

        assert store.request(request_id).outcome == "ok"
        assert world.pv_get(twin_id).debtor_number == "1004"
        assert world.pv_by_number("1004")[0].id == twin_id
