"""Lists, filters, bookings, errors and throttling of the REST client against the stand-in service."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import pytest

from core.eboekhouden.errors import InvalidForEboekhouden
from core.eboekhouden.rest.client import PAGE_SIZE
from core.eboekhouden.rest.errors import InvoiceAlreadyBooked, RelationCodeTaken, RestRefused
from core.model import Booking, BookingLine, EbRelation, MutatieSoort
from core.soap.errors import ApiError, TransportFailure


def invoice(number: str = "F2026-0001", *, description: str = "Factuur F2026-0001 Bakkerij Jansen",
            in_ex: str = "IN") -> Booking:
    return Booking(MutatieSoort.FACTUUR_VERSTUURD, date(2026, 11, 30), "1300", relation_code="D1",
                   invoice_number=number, boekstuk="A-17", description=description, payment_term_days=14,
                   in_ex_vat=in_ex, lines=(
                       BookingLine(Decimal("100.00"), Decimal("21.00"), Decimal("121.00"), "HOOG_VERK_21",
                                   Decimal("21"), "8000"),
                       BookingLine(Decimal("50.00"), Decimal("10.50"), Decimal("60.50"), "HOOG_VERK_21",
                                   Decimal("21"), "8000"),
                       BookingLine(Decimal("10.00"), Decimal("0.90"), Decimal("10.90"), "LAAG_VERK_9",
                                   Decimal("9"), "8010"),
                   ))


@pytest.fixture
def with_customer(service):
    service.add_relation("D1", "Bakkerij Jansen")
    return service


def test_lists_are_read_in_pages_of_2000_until_a_short_page(make_client, service):
    for n in range(PAGE_SIZE + 5):
        service.add_relation(f"R{n:05d}", f"Relatie {n}")
    with make_client() as client:
        index = client.relation_index()
    assert len(index) == PAGE_SIZE + 5 and index["R02004"] == service.relations[max(service.relations)]["id"]
    pages = [(r.url.params["limit"], r.url.params["offset"]) for r in service.calls("GET", "/v1/relation")]
    assert pages == [("2000", "0"), ("2000", "2000")]


def test_relation_details_are_read_only_for_the_codes_asked(make_client, with_customer, service):
    service.add_relation("D2", "Slagerij Pieters", city="Utrecht")
    service.add_relation("D3", "Groenteboer")
    with make_client() as client:
        found = client.relations_by_code(["D2", "D9"])
    assert [r.code for r in found] == ["D2"]
    assert found[0].plaats == "Utrecht" and found[0].bedrijf == "Slagerij Pieters"
    assert [r.url.path for r in service.requests if r.url.path.startswith("/v1/relation/")] == ["/v1/relation/5002"]


def test_a_relation_by_code_uses_the_eq_filter(make_client, with_customer, service):
    with make_client() as client:
        assert client.relation("D1").bedrijf == "Bakkerij Jansen"
        assert client.relation("D7") is None
    assert [r.url.params["code[eq]"] for r in service.calls("GET", "/v1/relation")] == ["D1", "D7"]


def test_a_relation_code_that_exists_is_a_distinct_error(make_client, with_customer):
    with make_client() as client, pytest.raises(RelationCodeTaken) as caught:
        client.add_relation(EbRelation(code="D1", bedrijf="Bakkerij Jansen"))
    assert caught.value.code == "REL_049" and "traceId TRACE-" in str(caught.value)


def test_an_update_patches_by_id_with_the_name(make_client, with_customer, service):
    with make_client() as client:
        client.update_relation(EbRelation(code="D1", bedrijf="Bakkerij Jansen BV", plaats="Gouda"))
    (body,) = service.bodies("PATCH", "/v1/relation/5001")
    assert body["name"] == "Bakkerij Jansen BV" and body["city"] == "Gouda"


def test_a_booking_sends_inexvat_ledger_ids_and_one_row_per_code_and_ledger(make_client, with_customer, service):
    with make_client() as client:
        number = client.add_booking(invoice())
    (body,) = service.bodies("POST", "/v1/mutation")
    assert body["type"] == 2 and body["inExVat"] == "IN" and body["ledgerId"] == 10111230
    assert body["relationId"] == 5001 and body["invoiceNumber"] == "F2026-0001" and body["entryNumber"] == "A-17"
    assert body["termOfPayment"] == 14
    assert body["rows"] == [{"ledgerId": 10111231, "vatCode": "HOOG_VERK_21", "amount": Decimal("181.50")},
                            {"ledgerId": 10111232, "vatCode": "LAAG_VERK_9", "amount": Decimal("10.90")}]
    assert number == max(service.mutations)


def test_ex_vat_is_sent_too_never_left_to_the_default(make_client, with_customer, service):
    with make_client() as client:
        client.add_booking(invoice(in_ex="EX"))
    (body,) = service.bodies("POST", "/v1/mutation")
    assert body["inExVat"] == "EX" and body["rows"][0]["amount"] == Decimal("150.00")


def test_amounts_are_written_digit_for_digit(make_client, with_customer, service):
    with make_client() as client:
        client.add_booking(invoice())
    raw = service.calls("POST", "/v1/mutation")[0].content.decode()
    assert '"amount":181.50' in raw and '"amount":10.90' in raw


def test_a_long_description_is_cut_with_an_ellipsis_and_said_once(make_client, with_customer, service, caplog):
    long = "Factuur F2026-0001 Bakkerij Jansen en Zonen, Hoofdstraat 1, Gouda"
    with caplog.at_level(logging.INFO, logger="test.rest"), make_client() as client:
        client.add_booking(invoice(description=long))
        client.add_booking(invoice("F2026-0002", description=long))
    first, second = service.bodies("POST", "/v1/mutation")
    assert len(first["description"]) == 50 and first["description"].endswith("…")
    assert first["description"][:-1] == long[:49]
    cut_lines = [r for r in caplog.records if "at most 50 characters" in r.getMessage()]
    assert len(cut_lines) == 1 and "invoice F2026-0001" in cut_lines[0].getMessage()


def test_an_invoice_number_that_exists_raises_already_booked(make_client, with_customer):
    with make_client() as client:
        client.add_booking(invoice())
        with pytest.raises(InvoiceAlreadyBooked) as caught:
            client.add_booking(invoice())
    # The invoices job looks up, compares and links an ApiError that may have been processed.
    assert isinstance(caught.value, ApiError) and caught.value.maybe_processed
    assert caught.value.code == "MUT_019" and "TRACE-" in str(caught.value)


def test_an_unknown_ledger_or_relation_is_refused_before_sending(make_client, service):
    with make_client() as client, pytest.raises(InvalidForEboekhouden) as caught:
        client.add_booking(invoice().__class__(**{**invoice().__dict__, "ledger": "1310"}))
    assert "ledger 1310 does not exist" in str(caught.value) and "relation D1 does not exist" in str(caught.value)
    assert service.calls("POST", "/v1/mutation") == []


def test_a_lookup_by_invoice_number_reads_the_rows_back_for_comparison(make_client, with_customer, service):
    with make_client() as client:
        sent = invoice()
        number = client.add_booking(sent)
        (found,) = client.bookings(invoice_number="F2026-0001", purpose="exactly_once")
    query = service.calls("GET", "/v1/mutation")[0].url.params
    assert query["invoiceNumber[eq]"] == "F2026-0001" and query["type"] == "2"
    assert found.number == number and found.relation_code == "D1" and found.ledger == "1300"
    assert found.soort is MutatieSoort.FACTUUR_VERSTUURD and found.datum == sent.datum
    assert found.total_incl_vat() == sent.total_incl_vat()
    assert found.total_vat() == sent.total_vat()


def test_open_items_ask_for_debtors(make_client, service):
    service.outstanding = [{"date": "2026-11-30", "mutationId": 7, "invoiceNumber": "F1", "relationId": 5001,
                            "relationCode": "D1", "company": "Bakkerij Jansen", "totalAmount": 121.0,
                            "paidAmount": 21, "outstandingAmount": 100}]
    with make_client() as client:
        (item,) = client.open_items("Debiteuren")
    assert service.calls("GET", "/v1/mutation/invoice/outstanding")[0].url.params["credDeb"] == "D"
    assert (item.invoice_number, item.relation_code, item.amount, item.paid, item.outstanding) == \
        ("F1", "D1", Decimal("121.00"), Decimal("21.00"), Decimal("100.00"))


def test_a_refusal_carries_code_title_and_trace_id(make_client, service):
    service.script("GET", "/v1/ledger", 400, {"type": "validation", "code": "PAGE_001", "title": "Limit invalid",
                                              "message": "between 1 and 2000", "status": 400, "traceId": "ABC-9"})
    with make_client() as client, pytest.raises(RestRefused) as caught:
        client.ledgers()
    assert caught.value.code == "PAGE_001"
    assert "Limit invalid: between 1 and 2000 [traceId ABC-9]" in str(caught.value)


def test_429_slows_down_and_honours_retry_after(make_client, service, clock):
    service.script("GET", "/v1/ledger", 429, None, **{"Retry-After": "7"})
    with make_client() as client:
        before = client.pace.rate
        assert [ledger.code for ledger in client.ledgers()] == ["1300", "8000", "8010"]
        assert client.pace.rate < before
        assert any(pause >= 7 for pause in clock.slept)
        for _ in range(40):
            client.ledgers()
        assert client.pace.rate == before  # sped up again once calls went through


def test_the_client_keeps_its_own_pace(make_client, service, clock):
    with make_client(rate=5.0) as client:
        start = clock.now
        for _ in range(10):
            client.ledgers()
    # 11 calls (session included) at 5 per second: at least 2 seconds.
    assert clock.now - start >= 1.8


def test_a_booking_is_never_repeated_after_a_5xx(make_client, with_customer, service):
    service.script("POST", "/v1/mutation", 503, None)
    with make_client() as client, pytest.raises(TransportFailure) as caught:
        client.add_booking(invoice())
    assert caught.value.maybe_processed
    assert len(service.calls("POST", "/v1/mutation")) == 1


def test_a_booking_throttled_with_429_was_not_processed_and_is_sent_after_the_wait(make_client, with_customer,
                                                                                     service):
    service.script("POST", "/v1/mutation", 429, None, **{"Retry-After": "2"})
    with make_client() as client:
        client.add_booking(invoice())
    assert len(service.calls("POST", "/v1/mutation")) == 2 and len(service.mutations) == 1


def test_a_read_is_repeated_after_a_5xx(make_client, service):
    service.script("GET", "/v1/ledger", 502, None)
    with make_client() as client:
        assert len(client.ledgers()) == 3
    assert len(service.calls("GET", "/v1/ledger")) == 2


def test_calls_are_counted_like_soap(make_client, with_customer):
    with make_client() as client:
        client.relation("D1")
        meter = client.meter
    assert meter.count("e-Boekhouden", "GET /v1/relation") == 1
    assert meter.count("e-Boekhouden", "GET /v1/relation/{id}") == 1
    assert meter.count("e-Boekhouden", "POST /v1/session") == 1


def test_a_broken_answer_to_a_read_is_read_again_and_to_a_write_is_unknown(make_client, with_customer, service):
    service.script("GET", "/v1/ledger", 200, b'{"items": [{"id": 1')
    service.script("POST", "/v1/mutation", 201, b'{"id": ')
    with make_client() as client:
        assert len(client.ledgers()) == 3
        assert len(service.calls("GET", "/v1/ledger")) == 2
        with pytest.raises(TransportFailure) as caught:
            client.add_booking(invoice())
    assert caught.value.maybe_processed and "not JSON" in str(caught.value)
    assert len(service.calls("POST", "/v1/mutation")) == 1
