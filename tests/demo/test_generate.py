"""The large-organisation generator: what it puts in the simulators is what the services'
own APIs give back, it passes their rules, and the same seed makes the same organisation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from stdnum import iban as stdnum_iban

from core.demo import generate as generator
from core.demo.generate import generate
from core.demo.world import SimulatedWorld
from core.eboekhouden.errors import EboekhoudenError
from core.eboekhouden.soap.simulator import EboekhoudenSimulator, Refusal
from core.model import EbRelation, RelationKind, VatRule
from core.perfectview.simulator import PerfectViewSimulator, Refused
from core.sync.mapping import crm_relation_problems

TODAY = date(2026, 3, 9)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    with SimulatedWorld(tmp_path_factory.mktemp("generated"), seed="empty") as world:
        made = generate(world, relations=200, invoices=120, open_items=True, seed=11, today=TODAY)
        yield world, made


def test_relations_read_back_through_the_client_as_generated(generated):
    world, made = generated
    everyone = {r.id: r for r in world.perfectview_client().relations()}
    employees = {u["RelationId"] for u in world.perfectview.db["users"]}  # the database comes with them
    assert set(everyone) == set(made.relation_ids) | employees
    relations = {i: everyone[i] for i in made.relation_ids}
    customers = {r.id: r.debtor_number for r in relations.values() if r.debtor_number}
    assert customers == made.customers
    assert 0.55 < len(customers) / len(relations) < 0.78, "about two in three have a Debiteurnummer"
    assert {r.relation_type for r in relations.values()} >= {"Klant", "Persoon", "Prospect"}
    assert all(stdnum_iban.is_valid(r.iban) for r in relations.values())
    assert not [p for r in relations.values() for p in crm_relation_problems(r, "Voornaam Achternaam")]
    main = [r.visiting_address if r.kind is RelationKind.ORGANISATION else r.private_address
            for r in relations.values()]
    assert all(a.street and a.postcode and a.city for a in main)
    assert 0.9 * len(main) < sum(a.country == "NL" for a in main) < len(main), "a few customers abroad"


def test_invoices_read_back_with_mixed_vat_credit_notes_and_their_pdf(generated):
    world, made = generated
    invoices = {i.activity_id: i for i in world.perfectview_client().sales_invoices()}
    assert set(invoices) == set(made.invoice_ids)
    vat = {line.vat_description for i in invoices.values() for line in i.lines}
    assert vat >= {"BTW hoog 21%", "BTW laag 9%", "BTW verlegd", "BTW EU 0%"}
    assert any(sum(line.total_amount for line in i.lines) < 0 for i in invoices.values()), "a credit invoice"
    assert all(len(i.attachments) == 1 for i in invoices.values())
    steps = {i.step for i in invoices.values()}
    assert steps == {"Concept", "Verstuurd"}
    booked_numbers = {i.invoice_number for i in invoices.values() if i.booked_marker}
    assert booked_numbers == set(made.booked)
    unbooked_sent = {i.activity_id for i in invoices.values() if i.step == "Verstuurd" and not i.booked_marker}
    assert unbooked_sent == set(made.sent_invoice_ids)
    assert all(i.relation_id in made.customers for i in invoices.values())


def test_eboekhouden_holds_the_booked_invoices_their_relations_and_open_items(generated):
    world, made = generated
    assert made.booked and made.open_items and made.paid_in_full
    with world.eboekhouden_client() as eb:
        assert sorted(r.code for r in eb.relations()) == sorted(made.eboekhouden_relations)
        open_items = {item.invoice_number: item.outstanding for item in eb.open_items()}
        assert open_items == made.open_items
        assert not set(made.paid_in_full) & set(open_items)
        number = next(iter(made.booked))
        found = eb.bookings(invoice_number=number, purpose="other")
    invoice = next(found_booking for found_booking in found if found_booking.soort.value == "FactuurVerstuurd")
    assert invoice.number == made.booked[number]
    assert invoice.relation_code in made.eboekhouden_relations
    assert sum(line.amount_incl_vat for line in invoice.lines) == invoice.total_incl_vat() != 0


def test_without_open_items_eboekhouden_keeps_only_its_chart_of_accounts(tmp_path):
    with SimulatedWorld(tmp_path, seed="empty") as world:
        made = generate(world, relations=30, invoices=20, open_items=False, seed=3, today=TODAY)
        assert not made.booked and not world.eboekhouden.relations and not world.eboekhouden.mutations
        assert made.sent_invoice_ids, "sent invoices wait for pvsync to book them"
        assert not any(rec["values"].get(_booked_marker_id(world)) for rec in world.perfectview.db["activities"].values())


def _booked_marker_id(world) -> str:
    return next(f["Id"] for f in world.perfectview.db["fields"] if f["Label"] == "Geboekt in e-Boekhouden")


def test_the_same_seed_makes_the_same_organisation():
    def content(seed: int):
        eb, pv = EboekhoudenSimulator(seed_data="empty"), PerfectViewSimulator(seed_data="empty")
        made = generate((eb, pv), relations=60, invoices=40, open_items=True, seed=seed, today=TODAY)
        names = sorted(r["DisplayName"] for r in pv.db["relations"].values())
        lines = sorted((line["Description"], line["TotalAmount"]) for lines in pv.db["lines"].values()
                       for line in lines)
        return names, lines, sorted(made.customers.values()), sorted(made.open_items.items())

    assert content(5) == content(5)
    assert content(5) != content(6)


def test_generated_records_pass_the_perfectview_rules(monkeypatch):
    """An organisation name longer than PerfectView's field is refused, as the API would refuse it."""
    monkeypatch.setattr(generator, "TRADES", ("Installatiebedrijf" * 6,))
    with pytest.raises(Refused, match="longer than 100"):
        generate((EboekhoudenSimulator(seed_data="empty"), PerfectViewSimulator(seed_data="empty")),
                 relations=10, invoices=0, open_items=False, seed=1, today=TODAY)


def test_generated_bookings_pass_the_eboekhouden_rules(monkeypatch):
    """A booking on a ledger the administration lacks is refused, as AddMutatie would refuse it."""
    monkeypatch.setattr(generator, "DEFAULT_VAT_RULES",
                        {name: VatRule(name, rule.btw_code, "9999") for name, rule in
                         generator.DEFAULT_VAT_RULES.items()})
    with pytest.raises(Refusal, match="9999"):
        generate((EboekhoudenSimulator(seed_data="empty"), PerfectViewSimulator(seed_data="empty")),
                 relations=40, invoices=40, open_items=True, seed=2, today=TODAY)


def test_after_generating_the_simulator_still_refuses_a_duplicate_code(generated):
    world, made = generated
    code = made.eboekhouden_relations[0]
    with world.eboekhouden_client() as eb:
        with pytest.raises(EboekhoudenError, match="bestaat al"):
            eb.add_relation(EbRelation(code=code, bedrijf="Dubbel B.V."))
    assert world.eboekhouden.relation_by_code(code).bedrijf != "Dubbel B.V."
    assert world.eboekhouden.booking(made.booked[next(iter(made.booked))]).total_incl_vat() != Decimal(0)


def test_an_organisation_without_customers_cannot_be_invoiced():
    with pytest.raises(ValueError, match="no customer relations"):
        generate((EboekhoudenSimulator(seed_data="empty"), PerfectViewSimulator(seed_data="empty")),
                 relations=0, invoices=5, open_items=False, seed=1, today=TODAY)
