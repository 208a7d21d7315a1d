"""AddRelatie, UpdateRelatie and AddMutatie are written without zeep's type walk
(core.soap.fast_write): the request must be byte for byte the one zeep writes, and whatever
zeep would refuse must still be refused by zeep, in zeep's words."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zeep.wsdl.utils import etree_to_string

from core.eboekhouden.soap import translate
from core.eboekhouden.soap.simulator import EboekhoudenSimulator
from core.model import EbRelation
from core.soap.errors import RequestInvalid
from core.soap.fast_write import MessageWriter, NotPlainRequest
from tests.eboekhouden.conftest import client_for
from tests.eboekhouden.test_client import sales_invoice

# Text a record may hold: XML specials, accents, emoji, spaces and tabs, empty.
TEXT = st.text(alphabet=st.sampled_from(list("ab Zé&<>\"'🙂-.,/\t]]>")), max_size=12)


def by_zeep(client, operation: str, arguments: dict) -> tuple[bytes, dict]:
    binding = client.caller.proxy._binding
    envelope, headers = binding._create(operation, (), dict(arguments), client=client.zeep)
    return etree_to_string(envelope), headers


def by_writer(client, operation: str, arguments: dict) -> tuple[bytes, dict]:
    writer = MessageWriter(client.caller.proxy._binding, operation)
    return writer.envelope(arguments), writer.headers


def session(**values) -> dict:
    return {"SessionID": "s-1", "SecurityCode2": "code", **values}


@settings(max_examples=40, deadline=None)
@given(company=TEXT, city=TEXT, note=TEXT, email=TEXT, relation_id=st.integers(0, 2**40), soap12=st.booleans(),
       operation=st.sampled_from(["AddRelatie", "UpdateRelatie"]))
def test_relations_are_written_as_zeep_writes_them(company, city, note, email, relation_id, soap12, operation):
    relation = EbRelation(code="K1", id=relation_id, bedrijf=company, plaats=city, notitie=note, email=email, bp="B")
    arguments = session(oRel=translate.relation_to_soap(relation, today=date(2026, 3, 1)))
    with client_for(EboekhoudenSimulator(), soap12=soap12) as client:
        assert by_writer(client, operation, arguments) == by_zeep(client, operation, arguments)


@settings(max_examples=25, deadline=None)
@given(description=TEXT, lines=st.integers(1, 4), cents=st.integers(0, 10**9), soap12=st.booleans(),
       relation=st.sampled_from(["", "D1"]))
def test_bookings_are_written_as_zeep_writes_them(description, lines, cents, soap12, relation):
    invoice = sales_invoice("F1", excl=str(Decimal(cents) / 100))
    invoice = replace(invoice, description=description, relation_code=relation, lines=invoice.lines * lines)
    arguments = session(oMut=translate.booking_to_soap(invoice))
    with client_for(EboekhoudenSimulator(), soap12=soap12) as client:
        assert by_writer(client, "AddMutatie", arguments) == by_zeep(client, "AddMutatie", arguments)


@pytest.mark.parametrize("change", [
    lambda rel: {**rel, "Woonplaats": "Delft"},  # an element the schema does not know
    lambda rel: {**rel, "ID": None},  # a required element missing
    lambda rel: {**rel, "Bedrijf": ["a", "b"]},  # a collection where a value belongs
])
def test_what_the_writer_does_not_write_is_left_to_zeep(change):
    relation = change(translate.relation_to_soap(EbRelation(code="K1", bedrijf="B"), today=date(2026, 3, 1)))
    with client_for(EboekhoudenSimulator()) as client:
        with pytest.raises(NotPlainRequest):
            by_writer(client, "AddRelatie", session(oRel=relation))
        with pytest.raises(RequestInvalid) as caught:  # zeep's refusal, before anything is sent
            client._call("AddRelatie", write=True, oRel=relation)
    assert "does not fit the WSDL" in str(caught.value)


def test_a_relation_with_characters_xml_cannot_hold_is_refused_before_sending():
    sim = EboekhoudenSimulator()
    with client_for(sim) as client:
        before = sim.calls["AddRelatie"]
        with pytest.raises(RequestInvalid):
            client.add_relation(EbRelation(code="K9", bedrijf="Bakkerij\x01Zoet", bp="B"))
    assert sim.calls["AddRelatie"] == before


def test_written_quickly_the_relation_and_booking_arrive_whole():
    sim = EboekhoudenSimulator()
    with client_for(sim) as client:
        new_id = client.add_relation(EbRelation(code="K2", bedrijf="Zoet & Zout <B.V.>", plaats="Delft", bp="B"))
        stored = client.relation("K2")
        assert (stored.id, stored.bedrijf, stored.plaats) == (new_id, "Zoet & Zout <B.V.>", "Delft")
        client.update_relation(stored.with_changes(plaats="Gouda"))
        assert client.relation("K2").plaats == "Gouda"
        number = client.add_booking(sales_invoice("F77", relation="K2"))
        [booked] = client.bookings(invoice_number="F77", purpose="other")
    assert number > 0 and booked.relation_code == "K2" and booked.lines[0].amount_excl_vat == Decimal("100.00")
