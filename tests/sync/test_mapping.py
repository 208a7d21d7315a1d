"""Section E of the functional description: PerfectView relation -> e-Boekhouden relation."""

from __future__ import annotations

import pytest

from core.model import Address, CrmRelation, EbRelation, Gender, RelationKind
from core.sync.mapping import (ORGANISATION_FIELDS, PERSON_FIELDS, changes, crm_hash, crm_relation_problems,
                               eboekhouden_hash, eboekhouden_to_crm, merge_into, person_name, split_street_line)

ORG = CrmRelation(
    id="pv-1", kind=RelationKind.ORGANISATION, debtor_number="D10001", name="Bakkerij Jansen B.V.",
    visiting_address=Address("Dorpsstraat", "12", "a", "1234 AB", "Utrecht", "Nederland"),
    postal_address=Address("Postbus", "100", "", "1200 AA", "Utrecht"),
    iban="nl91 abna 0417 1643 00", bic="abnanl2a", phone="030-1234567", email="info@jansen.nl",
    website="www.jansen.nl", mobile="06-11111111",
)
PERSON = CrmRelation(
    id="pv-2", kind=RelationKind.PERSON, debtor_number="D10002", first_name="Anna", middle_name="de",
    last_name="Vries", gender=Gender.FEMALE, private_address=Address("Laan", "3", "", "3511 AA", "Utrecht"),
    deviating_address=Address("Singel", "8", "bis", "1000 AA", "Amsterdam"), iban="NL91ABNA0417164300",
    phone="030-7654321", mobile="06-22222222", email="anna@example.nl", website="anna.example",
    visiting_address=Address("Wrong", "1"),  # organisation fields are not used for persons
)


def test_organisation_maps_the_13_fields_of_section_e():
    eb = merge_into(None, ORG, "Achternaam")
    assert len(ORGANISATION_FIELDS) == 13
    assert (eb.code, eb.bedrijf, eb.bp) == ("D10001", "Bakkerij Jansen B.V.", "B")
    assert (eb.adres, eb.postcode, eb.plaats) == ("Dorpsstraat 12a", "1234 AB", "Utrecht")
    assert (eb.adres2, eb.postcode2, eb.plaats2) == ("Postbus 100", "1200 AA", "Utrecht")
    assert (eb.iban, eb.bic) == ("NL91ABNA0417164300", "ABNANL2A")
    assert (eb.telefoon, eb.email, eb.site) == ("030-1234567", "info@jansen.nl", "www.jansen.nl")
    assert eb.gsm == "", "an organisation's mobile number is not in section E"


def test_person_maps_the_15_fields_of_section_e():
    eb = merge_into(None, PERSON, "Voornaam Achternaam")
    assert len(PERSON_FIELDS) == 15
    assert (eb.code, eb.bedrijf, eb.geslacht, eb.bp) == ("D10002", "Anna de Vries", "v", "P")
    assert (eb.adres, eb.plaats, eb.adres2, eb.plaats2) == ("Laan 3", "Utrecht", "Singel 8 bis", "Amsterdam")
    assert (eb.telefoon, eb.gsm, eb.email, eb.site) == ("030-7654321", "06-22222222", "anna@example.nl", "anna.example")


@pytest.mark.parametrize("fmt, expected", [
    ("Achternaam", "de Vries"),
    ("Voornaam Achternaam", "Anna de Vries"),
    ("Achternaam, Voornaam", "de Vries, Anna"),
    ("Achternaam, Voornaam Tussenvoegsel", "Vries, Anna de"),
])
def test_person_name_formats(fmt, expected):
    assert person_name(PERSON, fmt) == expected


def test_unknown_name_format_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="Achternaam, Voornaam"):
        person_name(PERSON, "Surname First")


def test_merge_keeps_fields_pvsync_does_not_map():
    current = EbRelation(id=77, code="D10001", bedrijf="Old name", notitie="betaalt altijd laat", kvk_nummer="12345678",
                         land="Nederland", fax="030-000", gb_id=5)
    eb = merge_into(current, ORG, "Achternaam")
    assert (eb.id, eb.notitie, eb.kvk_nummer, eb.land, eb.fax, eb.gb_id) == (77, "betaalt altijd laat", "12345678",
                                                                            "Nederland", "030-000", 5)
    assert eb.bedrijf == "Bakkerij Jansen B.V."


def test_changes_list_old_and_new_for_the_audit_trail():
    current = merge_into(None, ORG, "Achternaam").with_changes(email="old@jansen.nl", plaats="Zeist")
    wanted = merge_into(current, ORG, "Achternaam")
    described = [c.describe() for c in changes(current, wanted, RelationKind.ORGANISATION)]
    assert described == ["Plaats: Zeist -> Utrecht", "E-mail: old@jansen.nl -> info@jansen.nl"]


def test_hash_changes_only_with_mapped_content():
    eb = merge_into(None, ORG, "Achternaam")
    assert crm_hash(ORG, "Achternaam") == crm_hash(ORG, "Achternaam")
    assert eboekhouden_hash(eb) == eboekhouden_hash(eb.with_changes(notitie="unmapped note"))
    assert eboekhouden_hash(eb) != eboekhouden_hash(eb.with_changes(email="x@y.nl"))
    from dataclasses import replace
    assert crm_hash(ORG, "Achternaam") != crm_hash(replace(ORG, phone="010-1"), "Achternaam")
    assert crm_hash(PERSON, "Achternaam") != crm_hash(PERSON, "Voornaam Achternaam")


@pytest.mark.parametrize("changes_, field, words", [
    ({"name": ""}, "bedrijf", "no organisation name"),
    ({"iban": "NL00ABNA0000000000"}, "iban", "IBAN NL00ABNA0000000000 is not valid"),
    ({"bic": "XYZ"}, "bic", "BIC XYZ is not valid"),
    ({"name": "Jansen\nBakkerij"}, "bedrijf", "control characters"),
])
def test_crm_problems_name_the_field_and_the_fix(changes_, field, words):
    from dataclasses import replace
    problems = crm_relation_problems(replace(ORG, **changes_), "Achternaam")
    assert [p.field for p in problems] == [field]
    assert words in str(problems[0]) and "PerfectView" in problems[0].hint


def test_valid_relation_has_no_problems():
    assert crm_relation_problems(ORG, "Achternaam") == []
    assert crm_relation_problems(PERSON, "Achternaam") == []


@pytest.mark.parametrize("line, parts", [
    ("Kerkstraat 12a", ("Kerkstraat", "12", "a")),
    ("Laan van Meerdervoort 1024", ("Laan van Meerdervoort", "1024", "")),
    ("Singel 8 bis", ("Singel", "8", "bis")),
    ("Plein 1940-45 3", ("Plein 1940-45", "3", "")),
    ("Postbus", ("Postbus", "", "")),
])
def test_split_street_line(line, parts):
    assert split_street_line(line) == parts


def test_import_from_eboekhouden_builds_the_right_kind():
    org = eboekhouden_to_crm(EbRelation(code="D20001", bedrijf="Garage Pietersen", bp="B", adres="Weg 4",
                                        postcode="9999 ZZ", plaats="Assen", iban="nl91abna0417164300"),
                             relation_type="Klant", account_manager_id="u1")
    assert org.kind is RelationKind.ORGANISATION and org.name == "Garage Pietersen"
    assert org.debtor_number == "D20001" and org.visiting_address.street_line() == "Weg 4"
    assert org.iban == "NL91ABNA0417164300" and org.relation_type == "Klant" and org.account_manager_id == "u1"
    person = eboekhouden_to_crm(EbRelation(code="D20002", bedrijf="Karel Appel", bp="P", geslacht="m", gsm="06-1"),
                                relation_type="Te beoordelen", account_manager_id="")
    assert person.kind is RelationKind.PERSON and person.last_name == "Karel Appel"
    assert person.gender is Gender.MALE and person.mobile == "06-1"


@pytest.mark.parametrize("fmt", ["Voornaam Achternaam", "Achternaam"])
def test_a_person_without_surname_is_a_problem_in_every_name_format(fmt):
    from dataclasses import replace
    problems = crm_relation_problems(replace(PERSON, middle_name="", last_name="  "), fmt)
    assert [(p.field, p.message) for p in problems] == [("bedrijf", "the relation has no surname")]
