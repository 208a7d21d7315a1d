"""The client against the simulator, in-process: what pvsync reads and writes in PerfectView."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from core.model import Address, Gender, RelationKind
from core.perfectview.demo import populate
from core.perfectview.simulator import PerfectViewSimulator
from core.soap.simulator import Knobs

from tests.perfectview.conftest import connect, organisation, person


def test_metadata_is_read_by_name_and_cached_for_the_run(sim, client):
    organisation_types = {t.name for t in client.relation_types(RelationKind.ORGANISATION)}
    assert {"Klant", "Prospect", "Suspect", "Te beoordelen"} <= organisation_types
    assert [t.name for t in client.relation_types(RelationKind.PERSON)] == ["Persoon"]
    assert [s.name for s in client.workflow_steps("Verkoopfactuur")] == ["Concept", "Verstuurd", "Betaald"]
    assert {(v.percentage, v.description) for v in client.vat_codes()} >= {(21, "BTW hoog 21%"), (9, "BTW laag 9%")}
    assert len(client.users()) == 3 and client.user_id("Joost Bakker")
    assert client.own_country() == "NL"
    assert "simulator" in client.version()
    client.entity_types(), client.workflow_steps("Verkoopfactuur"), client.vat_codes()
    assert sim.calls["EntityTypeGetAll"] == 1 and sim.calls["WorkflowStepGetAll"] == 1
    assert sim.calls["ProductGetVatCodes"] == 1


def test_daily_call_counter_is_read_from_the_service(sim, client):
    client.entity_types()
    client.users()
    assert client.calls_today() == 3  # the two reads and ApiGetCalls itself
    assert client.calls_today() == 4, "the counter is read fresh, never cached"


@pytest.mark.parametrize("soap12", [False, True])
def test_organisation_round_trip_through_the_field_table(sim, soap12):
    client = connect(sim, soap12=soap12)
    relation_id = client.create_relation(organisation(), "Klant", "Joost Bakker")

    stored = sim.relation(relation_id)
    assert stored["type"] == "Klant" and stored["account_manager"] == "Joost Bakker"
    assert stored["fields"]["Administratie / Debiteurnummer"] == "2001"
    assert stored["fields"]["Bezoekadres / Toevoeging"] == "a"
    assert stored["fields"]["Communicatie / Website"] == "https://www.korenschoof.nl"
    assert stored["fields"]["Bezoekadres / Land"] != "NL", "Land holds the country's GUID, not its code"

    read = client.relation(relation_id)
    assert read == replace(organisation(), id=relation_id, relation_type="Klant",
                           account_manager_id=client.user_id("Joost Bakker"))


def test_person_round_trip_with_private_and_deviating_address(sim, client):
    relation_id = client.create_relation(person(), "Persoon", None)
    stored = sim.relation(relation_id)
    assert stored["display_name"] == "Anouk van der Meer"
    assert stored["fields"]["Privé communicatie / Mobiel"] == "06-12345678"
    assert stored["fields"]["Algemeen / Geslacht"] == "Vrouw"
    read = client.relation(relation_id)
    assert read == replace(person(), id=relation_id, relation_type="Persoon")
    assert read.deviating_address.country == "BE"


def test_update_writes_every_mapped_field_and_clears_empty_ones(sim, client):
    relation_id = client.create_relation(organisation(), "Klant", None)
    moved = replace(organisation(), visiting_address=Address("Biltstraat", "100", "", "3572 BJ", "Utrecht", "NL"),
                    website="")
    client.update_relation(relation_id, moved)
    fields = sim.relation(relation_id)["fields"]
    assert fields["Bezoekadres / Straat"] == "Biltstraat" and "Bezoekadres / Toevoeging" not in fields
    assert "Communicatie / Website" not in fields
    assert client.relation(relation_id).visiting_address.street_line() == "Biltstraat 100"


def test_account_manager_can_be_changed_and_contacts_listed(sim, client):
    relation_id = client.create_relation(organisation(), "Klant", "Sanne de Vries")
    client.set_account_manager(relation_id, "Fatima el Amrani")
    assert sim.relation(relation_id)["account_manager"] == "Fatima el Amrani"
    assert client.contact_ids(relation_id) == []


def test_relation_notes_land_on_the_relation(sim, client):
    relation_id = client.create_relation(organisation(), "Klant", None)
    client.add_relation_note(relation_id, "Relatie aangemaakt vanuit e-Boekhouden (code 2001)")
    assert sim.notes(relation_id) == ["Relatie aangemaakt vanuit e-Boekhouden (code 2001)"]


@pytest.mark.parametrize("extra", [0, 1])
def test_relations_are_paged_until_a_short_page(sim, extra):
    client = connect(sim, page_size=5)
    # The empty database holds the root and three employees; make the total a multiple of 5 (+extra).
    for number in range(6 + extra):
        client.create_relation(organisation(debtor_number=str(3000 + number), name=f"Klant {number}"), "Klant", None)
    total = len(sim.db["relations"])
    read = list(client.relations())
    assert len(read) == total - 1, "everything but the own organisation"
    assert len({r.id for r in read}) == len(read)
    # No totals: a full last page costs one more (empty) page.
    assert sim.calls["RelationGetAll"] == total // 5 + 1 == math.ceil((total + 1) / 5)


def test_relations_by_debtor_number_is_exact_although_the_search_is_not(sim, client):
    wanted = client.create_relation(organisation(debtor_number="12", name="Twaalf"), "Klant", None)
    client.create_relation(organisation(debtor_number="123", name="Honderddrieentwintig"), "Prospect", None)
    client.create_relation(person(debtor_number="4125"), "Persoon", None)
    assert [r.id for r in client.relations_by_debtor_number("12")] == [wanted]
    assert client.relations_by_debtor_number("999") == []


def test_modified_since_returns_only_relations_changed_in_the_window(sim, client):
    configured = set(sim.db["relations"])  # the employees, stamped when the database was set up (now)
    sim.add_minutes(-180)
    old = client.create_relation(organisation(debtor_number="1", name="Oud"), "Klant", None)
    sim.add_minutes(60)
    since = sim.now()
    sim.add_minutes(1)
    new = client.create_relation(organisation(debtor_number="2", name="Nieuw"), "Klant", None)
    sim.add_minutes(30)
    until = sim.now()
    sim.add_minutes(1)
    later = client.create_relation(organisation(debtor_number="3", name="Later"), "Klant", None)

    assert [r.id for r in client.relations(modified_since=since, until=until)] == [new]
    assert [r.id for r in client.relations(modified_since=since) if r.id not in configured] == [new, later]
    client.update_relation(old, organisation(debtor_number="1", name="Oud maar gewijzigd"))
    assert {r.id for r in client.relations(modified_since=since)} - configured == {old, new, later}


def test_aged_records_fall_out_of_a_recent_modified_since_window(sim, client):
    changed = client.create_relation(organisation(debtor_number="7", name="Gewijzigd"), "Klant", None)
    window = sim.now() - timedelta(minutes=10)
    assert changed in {r.id for r in client.relations(modified_since=window)}
    sim.age(60)  # what the benchmarks use for "nothing changed in the last hour"
    assert changed not in {r.id for r in client.relations(modified_since=window)}
    assert changed in {r.id for r in client.relations(modified_since=window - timedelta(minutes=60))}


def _invoice(client, relation_id, number="F2025-0042", **kw):
    invoice_date = date(2025, 3, 14)
    activity_id = client.create_invoice(relation_id, number, invoice_date, invoice_date + timedelta(days=30), **kw)
    client.add_product_line(activity_id, "Onderhoudsbeurt cv-ketel", Decimal("1"), Decimal("89.00"),
                            "BTW hoog 21%", "ONDH")
    client.add_product_line(activity_id, "Na-isolatie spouwmuur", Decimal("12.5"), Decimal("24.75"),
                            "BTW laag 9%", "ISO")
    client.add_product_line(activity_id, "Werkzaamheden in België", Decimal("3"), Decimal("62.50"), "BTW EU 0%")
    return activity_id


def test_sales_invoice_is_read_with_lines_vat_attachments_and_step(sim, client):
    relation_id = client.create_relation(organisation(), "Klant", None)
    activity_id = _invoice(client, relation_id)
    attachment_id = client.add_attachment(activity_id, "F2025-0042.pdf", b"%PDF-1.4 factuur")
    client.move_to_step(activity_id, "Verstuurd")

    [invoice] = list(client.sales_invoices())
    assert (invoice.activity_id, invoice.invoice_number, invoice.relation_id) == (activity_id, "F2025-0042",
                                                                                  relation_id)
    assert (invoice.invoice_date, invoice.due_date) == (date(2025, 3, 14), date(2025, 4, 13))
    assert invoice.step == "Verstuurd" and invoice.activity_number == sim.activity(activity_id)["number"]
    assert [(line.quantity, line.amount, line.total_amount, line.vat_percentage) for line in invoice.lines] == [
        (Decimal("1"), Decimal("89.00"), Decimal("89.00"), Decimal("21")),
        (Decimal("12.5"), Decimal("24.75"), Decimal("309.38"), Decimal("9")),
        (Decimal("3"), Decimal("62.50"), Decimal("187.50"), Decimal("0"))]
    assert all(isinstance(line.amount, Decimal) for line in invoice.lines)
    assert invoice.lines[2].vat_description == "BTW EU 0%"
    assert [a.file_name for a in invoice.attachments] == ["F2025-0042.pdf"]
    assert invoice.attachments[0].content is None, "the list carries metadata only"
    assert client.attachment(attachment_id).content == b"%PDF-1.4 factuur"
    assert invoice.amounts_include_vat is False and invoice.booked_marker == ""


def test_booked_marker_notes_and_steps_are_written(sim, client):
    relation_id = client.create_relation(organisation(), "Klant", None)
    activity_id = _invoice(client, relation_id, amounts_include_vat=True)
    client.move_to_step(activity_id, "Verstuurd")
    client.set_booked_marker(activity_id, "Geboekt 2025-03-15, mutatie 4711")
    client.add_activity_note(activity_id, "Factuur geboekt in e-Boekhouden (mutatie 4711)")
    client.move_to_step(activity_id, "Betaald")

    invoice = client.invoice(activity_id)
    assert invoice.booked_marker == "Geboekt 2025-03-15, mutatie 4711"
    assert invoice.step == "Betaald" and invoice.amounts_include_vat is True
    assert client.activity_notes(activity_id) == ["Factuur geboekt in e-Boekhouden (mutatie 4711)"]
    assert sim.activity(activity_id)["fields"]["Boekhouding / Geboekt in e-Boekhouden"].endswith("4711")


def test_invoices_modified_since_and_by_invoice_date(sim, client):
    relation_id = client.create_relation(organisation(), "Klant", None)
    sim.add_minutes(-120)
    first = _invoice(client, relation_id, "F-1")
    sim.add_minutes(30)
    since = sim.now()
    sim.add_minutes(1)
    second = client.create_invoice(relation_id, "F-2", date(2025, 5, 2))
    assert [i.activity_id for i in client.sales_invoices(modified_since=since)] == [second]
    client.set_booked_marker(first, "geboekt")
    assert {i.activity_id for i in client.sales_invoices(modified_since=since)} == {first, second}
    assert [i.invoice_number for i in client.sales_invoices_dated(date(2025, 5, 1), date(2025, 6, 1))] == ["F-2"]


def test_demo_seed_is_a_believable_database():
    sim = PerfectViewSimulator(Knobs(seed=5))
    client = connect(sim)
    relations = list(client.relations(with_account_manager=True))
    customers = [r for r in relations if r.debtor_number]
    assert len(relations) >= 20 and len(customers) >= 8
    assert {r.kind for r in relations} == {RelationKind.ORGANISATION, RelationKind.PERSON}
    assert all(r.account_manager_id for r in customers)
    assert all(r.iban.startswith("NL") and len(r.iban) == 18 for r in customers)
    invoices = list(client.sales_invoices())
    assert len(invoices) == 6 and {i.step for i in invoices} <= {"Concept", "Verstuurd"}
    assert "Verstuurd" in {i.step for i in invoices}
    assert len({line.vat_percentage for i in invoices for line in i.lines}) >= 2
    assert all(i.invoice_number and i.attachments and i.lines for i in invoices)
    assert {i.relation_id for i in invoices} <= {r.id for r in customers}


def test_populate_adds_through_the_api_to_an_existing_database(sim, client):
    done = populate(client, random.Random(3), relations=8, invoices=3)
    assert sim.calls["RelationCreate"] == 8 and sim.calls["ActivityCreate"] == 3
    assert sim.calls["ActivityAddProductLine"] >= 3
    assert len(done.invoice_ids) == 3 and all(sim.activity(i)["lines"] for i in done.invoice_ids)
    assert {r.gender for r in client.relations() if r.kind is RelationKind.PERSON and r.debtor_number} <= {
        Gender.MALE, Gender.FEMALE}

