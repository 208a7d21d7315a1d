"""The REST client against the REST simulator (rest-sim), in-process and once over a real socket.
Every request the client sends and every answer it reads is validated against e-Boekhouden's own
openapi.json (contract.py); what the client books over REST reads back the same over SOAP."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from functools import lru_cache

import httpx
import pytest

from core.eboekhouden.rest.client import RestClient
from core.eboekhouden.rest.errors import InvoiceAlreadyBooked, RelationCodeTaken, TokenRejected
from core.eboekhouden.rest.simulator import RestSimulator
from core.eboekhouden.simulated_service import EboekhoudenService
from core.model import EbRelation
from core.secrets import Secret
from core.soap.caller import MemoryCallMeter, RetryPolicy
from core.soap.loopback import InProcessTransport, LoopbackServer
from core.soap.transport import make_http_client

from ..conftest import client_for
from ..test_client import sales_invoice
from .contract import ContractError, patched_document, require_document, validate_request, validate_response, \
    validate_schema

# openapi-core cannot read the document's `{id}` path parameter (`type: ["integer", "string"]`: "Expected
# a string value, got list"; reported to rest-sim): requests to /v1/x/{id} are checked here by hand, the
# id against the document's pattern and the body against the operation's own schema.
ID_PATH = re.compile(r"^(/v1/[a-z]+)/([^/]+)$")


@lru_cache(maxsize=1)
def _document():
    return patched_document(require_document())


def validate_id_request(method: str, path: str, body) -> None:
    from openapi_schema_validator import OAS31Validator

    base, ident = ID_PATH.match(path).groups()
    operation = _document()["paths"][f"{base}/{{id}}"][method.lower()]
    (parameter,) = [p for p in operation["parameters"] if p["name"] == "id"]
    if not re.fullmatch(parameter["schema"]["pattern"], ident):
        raise ContractError(f"{method} {path}: id {ident!r} does not match the document's pattern")
    if "requestBody" in operation:
        content = operation["requestBody"]["content"]
        schema = {**content[next(iter(content))]["schema"], "components": _document()["components"]}
        errors = sorted(OAS31Validator(schema).iter_errors(body), key=str)
        if errors:
            raise ContractError(f"{method} {path}: {errors[0].message}")
    elif body is not None:
        raise ContractError(f"{method} {path}: the operation takes no body")


class Contract(httpx.BaseTransport):
    """Passes requests on, validating each request and answer against the document first."""

    def __init__(self, inner: httpx.BaseTransport):
        self.inner = inner
        self.checked = 0
        self.paths: set[str] = set()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        query = dict(request.url.params.multi_items())
        headers = {"Authorization": request.headers["Authorization"]} if "Authorization" in request.headers else {}
        if ID_PATH.match(request.url.path):
            validate_id_request(request.method, request.url.path, body)
        else:
            validate_request(request.method, request.url.path, query, body, headers)
        self.paths.add(request.method + " " + ID_PATH.sub(r"\1/{id}", request.url.path))
        response = self.inner.handle_request(request)
        response.read()
        answer = json.loads(response.content) if response.content else None
        if response.status_code in (429, 500):
            if answer is not None:
                validate_schema("Error", answer)
        else:
            validate_response(request.method, request.url.path, response.status_code, answer, query)
        self.checked += 1
        return response


@pytest.fixture
def wire(sim):
    return Contract(InProcessTransport(app=sim))


@pytest.fixture
def rest(sim, wire):
    client = RestClient("http://127.0.0.1", Secret(sim.api_token), http=make_http_client(transport=wire),
                        meter=MemoryCallMeter(), retry=RetryPolicy(attempts=3, base_delay=0.0), rate=1000.0)
    with client:
        yield client
    client.close()


def test_relations_index_details_create_and_update(rest, wire):
    index = rest.relation_index()
    assert "D10004" in index and all(isinstance(i, int) and i > 0 for i in index.values())
    (found,) = rest.relations_by_code(["D10004"])
    assert found.code == "D10004" and found.bedrijf and found.id == index["D10004"]
    new_id = rest.add_relation(EbRelation(code="R900", bedrijf="Nieuw B.V.", plaats="Gouda", email="a@nieuw.nl"))
    rest.update_relation(EbRelation(code="R900", bedrijf="Nieuw B.V.", plaats="Delft", email="a@nieuw.nl"))
    again = rest.relation("R900")
    assert (again.id, again.plaats, again.email) == (new_id, "Delft", "a@nieuw.nl")
    with pytest.raises(RelationCodeTaken):
        rest.add_relation(EbRelation(code="R900", bedrijf="Tweede"))
    assert wire.checked >= 8


def test_a_booking_is_sent_read_back_and_refused_a_second_time(rest):
    sent = sales_invoice("RC-2026-0001", relation="D10004")
    number = rest.add_booking(sent)
    (found,) = rest.bookings(invoice_number="RC-2026-0001", purpose="exactly_once")
    assert (found.number, found.relation_code, found.ledger, found.in_ex_vat) == (number, "D10004", "1300", "EX")
    assert found.total_incl_vat() == sent.total_incl_vat() and found.total_vat() == sent.total_vat()
    assert found.lines[0].ledger == "8000" and found.datum == sent.datum
    with pytest.raises(InvoiceAlreadyBooked) as caught:
        rest.add_booking(sent)
    assert caught.value.code in ("MUT_019", "MUT_020") and "traceId" in str(caught.value)
    items = {item.invoice_number: item for item in rest.open_items("Debiteuren")}
    assert items["RC-2026-0001"].outstanding == Decimal("121.00")
    assert items["RC-2026-0001"].relation_code == "D10004"


def test_sales_bookings_without_a_filter_carry_their_relation(rest):
    rest.add_booking(sales_invoice("RC-2026-0002", relation="D10004"))
    codes = {b.relation_code for b in rest.bookings(purpose="other")}
    assert "D10004" in codes


def test_ledgers_by_code(rest):
    codes = {ledger.code: ledger for ledger in rest.ledgers()}
    assert codes["1300"].category == "DEB" and codes["8000"].id > 0


def test_an_expired_token_is_a_clear_message(sim, wire):
    sim.token_state = "expired"
    client = RestClient("http://127.0.0.1", Secret(sim.api_token), http=make_http_client(transport=wire))
    with pytest.raises(TokenRejected) as caught:
        client.__enter__()
    assert "e-Boekhouden API" in str(caught.value) and sim.api_token not in str(caught.value)


def test_booked_over_rest_reads_the_same_over_soap(contract):
    service = EboekhoudenService()
    client = RestClient("http://127.0.0.1", Secret(service.credentials.api_token), rate=1000.0,
                        http=make_http_client(transport=InProcessTransport(app=service)))
    sent = sales_invoice("RS-2026-0001", relation="D10004")
    with client:
        number = client.add_booking(sent)
    client.close()
    with client_for(service.soap, transport=InProcessTransport(app=service)) as soap:
        (booking,) = soap.bookings(invoice_number="RS-2026-0001", purpose="other")
    assert (booking.number, booking.relation_code, booking.ledger) == (number, "D10004", "1300")
    assert booking.total_incl_vat() == sent.total_incl_vat() and booking.total_vat() == sent.total_vat()


@pytest.mark.loopback
def test_over_a_real_socket(contract):
    sim = RestSimulator()
    with LoopbackServer(sim) as server:
        client = RestClient(server.url("").rstrip("/"), Secret(sim.api_token), rate=1000.0)
        with client:
            number = client.add_booking(sales_invoice("RL-2026-0001", relation="D10004"))
            (found,) = client.bookings(invoice_number="RL-2026-0001", purpose="exactly_once")
        client.close()
    assert found.number == number and sim.calls["DELETE /v1/session"] == 1


def test_every_endpoint_the_client_uses_was_validated(sim, wire):
    client = RestClient("http://127.0.0.1", Secret(sim.api_token), http=make_http_client(transport=wire),
                        rate=1000.0)
    with client:
        client.relations_by_code(["D10004"])
        client.add_relation(EbRelation(code="R901", bedrijf="Alles B.V."))
        client.update_relation(EbRelation(code="R901", bedrijf="Alles B.V.", plaats="Gouda"))
        client.add_booking(sales_invoice("RC-2026-0009", relation="D10004"))
        client.bookings(invoice_number="RC-2026-0009", purpose="exactly_once")
        client.open_items("Debiteuren")
    client.close()
    assert wire.paths == {"POST /v1/session", "DELETE /v1/session", "GET /v1/relation", "GET /v1/relation/{id}",
                          "POST /v1/relation", "PATCH /v1/relation/{id}", "GET /v1/ledger", "POST /v1/mutation",
                          "GET /v1/mutation", "GET /v1/mutation/{id}", "GET /v1/mutation/invoice/outstanding"}


def test_a_payment_booked_over_rest_settles_its_invoice_for_the_payments_job(rest):
    from core.sync.payments import settlement_of
    from ..test_client import payment

    invoice = sales_invoice("RC-2026-0010", relation="D10004")
    rest.add_booking(invoice)
    paid = rest.add_booking(payment(invoice, "121.00"))
    found = rest.bookings(invoice_number="RC-2026-0010", purpose="other")
    settlement = settlement_of("RC-2026-0010", "D10004", found)
    assert settlement.amount == Decimal("121.00") and settlement.mutations == (paid,)
    items = {item.invoice_number: item for item in rest.open_items("Debiteuren")}
    assert "RC-2026-0010" not in items or items["RC-2026-0010"].outstanding == 0
