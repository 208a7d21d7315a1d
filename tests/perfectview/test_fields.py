"""The field table: names from config, GUIDs from the database, never from the code."""

from __future__ import annotations

import pytest

from core.model import RelationKind
from core.perfectview.fields import FieldRef, field_tables
from core.perfectview.simulator import PerfectViewSimulator
from core.soap.simulator import Knobs

from tests.perfectview.conftest import connect, organisation


def test_overrides_by_category_label_or_name_per_table_or_for_all():
    tables = field_tables({"debtor_number": ["Financieel", "Debiteurnr"], "person.phone": "PER_phone",
                           "invoice.booked_marker": "Boekhouding / Geboekt"})
    assert tables["organisation"]["debtor_number"] == tables["person"]["debtor_number"] == FieldRef(
        "Financieel", "Debiteurnr")
    assert tables["person"]["phone"] == FieldRef(name="PER_phone")
    assert tables["organisation"]["phone"] == FieldRef("Communicatie", "Telefoonnummer"), "only the person's"
    assert tables["invoice"]["booked_marker"] == FieldRef("Boekhouding", "Geboekt")
    assert field_tables()["organisation"]["visiting_address.country"] == FieldRef("Bezoekadres", "Land")


@pytest.mark.parametrize("key, value, message", [
    ("debiteur", "X", "unknown attribute 'debiteur'; known: invoice.amounts_include_vat"),
    ("organisation.mobile", "X", "unknown attribute 'organisation.mobile'"),
    ("iban", ["only one"], "give \\[category, label\\]"),
])
def test_bad_overrides_say_what_is_allowed(key, value, message):
    with pytest.raises(ValueError, match=message):
        field_tables({key: value})


def test_the_same_code_works_on_two_databases_with_different_guids():
    first = PerfectViewSimulator(Knobs(seed=1), seed_data="empty")
    second = PerfectViewSimulator(Knobs(seed=2), seed_data="empty")
    guids = [{f["Id"] for f in sim.db["fields"]} for sim in (first, second)]
    assert not guids[0] & guids[1]
    for sim in (first, second):
        client = connect(sim)
        relation_id = client.create_relation(organisation(), "Klant", None)
        assert client.relation(relation_id).debtor_number == "2001"
        debtor = client.relation_field_map(RelationKind.ORGANISATION)["debtor_number"]
        assert (debtor.category, debtor.label, debtor.name) == ("Administratie", "Debiteurnummer", "ORG_debtornumber")
