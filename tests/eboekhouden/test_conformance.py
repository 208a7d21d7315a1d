"""Messages pvsync sends and the simulator answers are messages of the public service.

Checked against the schema in the WSDL e-Boekhouden itself serves (a copy in
../shared/reference, present in CI): every request the client puts on the wire and every
answer the simulator gives, for every operation pvsync uses, over SOAP 1.1 and 1.2. A
second check compares pvsync's own WSDL with the reference definition by definition.
Where ../shared is absent these tests are skipped and say why.
"""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import httpx
import pytest
from lxml import etree

from core.eboekhouden.soap.client import WSDL_FILE
from core.eboekhouden.errors import EboekhoudenError
from core.model import EbRelation
from core.soap.loopback import InProcessTransport
from core.soap.simulator import SOAP11_NS, SOAP12_NS

from .conftest import client_for
from .test_client import payment, sales_invoice

SHARED = Path(__file__).parents[2].parent / "shared"
REFERENCE = SHARED / "reference" / "eboekhouden" / "soap.wsdl"
XSD = "http://www.w3.org/2001/XMLSchema"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
USED_OPERATIONS = {"OpenSession", "CloseSession", "GetAdministraties", "GetRelaties", "AddRelatie", "UpdateRelatie",
                   "AddMutatie", "GetMutaties", "GetOpenPosten", "GetGrootboekrekeningen"}


@pytest.fixture(scope="module")
def reference() -> etree._Element:
    if not REFERENCE.exists():
        reason = f"reference WSDL not found at {REFERENCE}; the conformance test runs where ../shared exists (CI)"
        print(reason)
        pytest.skip(reason)
    return etree.parse(str(REFERENCE)).getroot()


def schema_of(wsdl_root: etree._Element) -> etree._Element:
    """The <s:schema> inside a WSDL as a document of its own (it needs the WSDL's prefixes in scope)."""
    inner = wsdl_root.find(f".//{{{XSD}}}schema")
    standalone = etree.Element(inner.tag, attrib=dict(inner.attrib), nsmap={**wsdl_root.nsmap, **inner.nsmap})
    standalone.extend(copy.deepcopy(child) for child in inner if isinstance(child.tag, str))
    return standalone


@pytest.fixture(scope="module")
def reference_schema(reference) -> etree.XMLSchema:
    return etree.XMLSchema(schema_of(reference))


class Recorder(InProcessTransport):
    """Keeps every request and answer body that passes."""

    def __init__(self, app):
        super().__init__(app=app)
        self.exchanges: list[tuple[bytes, int, bytes]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        content = response.read()
        self.exchanges.append((request.content, response.status_code, content))
        return response


def body_child(envelope: bytes) -> etree._Element:
    root = etree.fromstring(envelope)
    body = root.find(f"{{{SOAP11_NS}}}Body")
    if body is None:
        body = root.find(f"{{{SOAP12_NS}}}Body")
    return body[0]


def run_every_operation(sim, soap12: bool) -> Recorder:
    """One run touching every operation, with successes, errors and empty answers."""
    recorder = Recorder(sim)
    with client_for(sim, transport=recorder, soap12=soap12) as client:
        client.administraties()
        existing = client.relation("D10001")
        client.relations(code="NOPE")  # empty answer
        client.relations(keyword="a")
        client.add_relation(EbRelation(code="D30001", bedrijf="Conformiteit B.V.", bp="B", geslacht="a"))
        with pytest.raises(EboekhoudenError):
            client.add_relation(existing)  # in-band error answer
        client.update_relation(existing.with_changes(plaats="Zeist"))
        with pytest.raises(EboekhoudenError):
            client.update_relation(existing.with_changes(id=999999))
        invoice = sales_invoice("2025-7001", relation="D10001")
        client.add_booking(invoice)
        client.add_booking(payment(invoice, "21.00"))
        client.bookings(invoice_number="2025-7001", purpose="exactly_once")
        client.bookings(date_from=date(2025, 1, 1), date_to=date(2025, 12, 31), purpose="other")
        client.open_items("Debiteuren")
        client.open_items("Crediteuren")  # nothing open: empty answer
        client.ledgers()
        client.ledgers(category="VW")
    return recorder


@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
def test_requests_and_answers_validate_against_the_public_schema(sim, reference_schema, soap12):
    recorder = run_every_operation(sim, soap12)
    seen = set()
    for request, status, answer in recorder.exchanges:
        sent = body_child(request)
        seen.add(etree.QName(sent).localname)
        assert reference_schema.validate(sent), (etree.QName(sent).localname, reference_schema.error_log)
        assert status == 200
        got = body_child(answer)
        assert reference_schema.validate(got), (etree.QName(got).localname, reference_schema.error_log)
    assert seen == USED_OPERATIONS


def test_the_schema_check_would_catch_a_wrong_message(reference_schema, sim):
    """The check is not vacuous: an element out of order or a date without time is refused."""
    recorder = run_every_operation(sim, soap12=False)
    request = next(body_child(r) for r, _, _ in recorder.exchanges if b"<ns0:AddMutatie" in r)
    mutation = request.find(f"{{{request.nsmap['ns0']}}}oMut")
    mutation.insert(0, mutation[2])  # Datum before MutatieNr
    assert not reference_schema.validate(request)
    answer = next(body_child(a) for r, _, a in recorder.exchanges if b"GetOpenPosten" in r and b"MutDatum" in a)
    answer.find(f".//{{{answer.nsmap[None]}}}MutDatum").text = "2025-03-14"
    assert not reference_schema.validate(answer)


def canonical(el: etree._Element):
    """A definition as (tag, attributes, children), independent of layout, comments and attribute order."""
    children = tuple(canonical(c) for c in el if isinstance(c.tag, str))
    attrs = tuple(sorted((k, v) for k, v in el.attrib.items()))
    return etree.QName(el).localname, attrs, children


def test_our_wsdl_defines_every_type_exactly_as_the_public_service(reference):
    ours = etree.parse(str(WSDL_FILE)).getroot()
    theirs = {(etree.QName(d).localname, d.get("name")): d for d in schema_of(reference)}
    definitions = list(schema_of(ours))
    assert len(definitions) >= 30
    for definition in definitions:
        key = (etree.QName(definition).localname, definition.get("name"))
        assert key in theirs, f"{key} is not in the public WSDL"
        assert canonical(definition) == canonical(theirs[key]), f"{key} differs from the public WSDL"


def test_our_wsdl_has_the_public_soap_actions_and_ports(reference):
    def actions(root):
        found = {}
        for binding in root.iter(f"{{{WSDL_NS}}}binding"):
            for op in binding.iter(f"{{{WSDL_NS}}}operation"):
                action = next((c.get("soapAction") for c in op if etree.QName(c).localname == "operation"), None)
                found[(binding.get("name"), op.get("name"))] = action
        return found

    ours, theirs = actions(etree.parse(str(WSDL_FILE)).getroot()), actions(reference)
    assert {op for _, op in ours} == USED_OPERATIONS
    assert {b for b, _ in ours} == {"soapAppSoap", "soapAppSoap12"}
    for key, action in ours.items():
        assert action == theirs[key] == f"http://www.e-boekhouden.nl/soap/{key[1]}"
    ports = {p.get("name") for p in etree.parse(str(WSDL_FILE)).getroot().iter(f"{{{WSDL_NS}}}port")}
    assert ports == {"soapAppSoap", "soapAppSoap12"}
