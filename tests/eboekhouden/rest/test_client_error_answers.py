"""Error answers that do not follow e-Boekhouden's `type/code/title/message/status/traceId` shape,
and session answers that cannot be trusted: each still becomes the right project error, in words
that name the call and the record, with the traceId when the body has one (support finds the call
by it), and nothing of the token or the session in the words."""

from __future__ import annotations

import pytest

from core.eboekhouden.errors import SessionLost
from core.eboekhouden.rest import translate
from core.eboekhouden.rest.client import LONGEST_SESSION, PAGE_SIZE
from core.eboekhouden.rest.errors import NotFound, RestRefused, TokenRejected, error_from_body
from core.model import EbRelation
from core.soap.errors import ResponseInvalid, TransportFailure
from tests.eboekhouden.rest.fake_service import TOKEN
from tests.eboekhouden.rest.test_client_calls import invoice

TOKEN_PAGE = "Beheer > Inrichting > Koppelingen > API > e-Boekhouden API"


@pytest.fixture
def with_customer(service):
    service.add_relation("D1", "Bakkerij Jansen")
    return service


# ---------------------------------------------------------------------- refusals (4xx)


@pytest.mark.parametrize(("body", "code", "words"), [
    pytest.param(b"Bad Request", "HTTP 400", "HTTP 400", id="plain-text"),
    pytest.param(b"<html><body><h1>400 Bad Request</h1></body></html>", "HTTP 400", "HTTP 400", id="html-page"),
    pytest.param({"title": "Invalid date", "status": 400, "traceId": "T-77"}, "HTTP 400",
                 "Invalid date [traceId T-77]", id="json-without-code"),
    pytest.param({"code": "MUT_999", "title": "Something new", "message": "not known to pvsync", "status": 400,
                  "traceId": "T-78"}, "MUT_999", "Something new: not known to pvsync [traceId T-78]",
                 id="unknown-code"),
    pytest.param({"code": 4711, "title": None, "errors": {"date": ["required"]}}, "4711",
                 "HTTP 400 (date: ['required'])", id="odd-types"),
    pytest.param(b'["not", "an", "object"]', "HTTP 400", "HTTP 400", id="json-list"),
])
def test_a_refusal_in_any_shape_is_a_rest_refusal_naming_the_call_and_the_invoice(make_client, with_customer,
                                                                                   service, body, code, words):
    service.script("POST", "/v1/mutation", 400, body)
    with make_client() as client, pytest.raises(RestRefused) as caught:
        client.add_booking(invoice())
    message = str(caught.value)
    assert type(caught.value) is RestRefused and caught.value.code == code
    assert message.startswith("e-Boekhouden POST /v1/mutation for invoice F2026-0001: ") and words in message
    assert len(service.calls("POST", "/v1/mutation")) == 1, "a refusal is not sent again"


def test_the_status_of_the_answer_decides_not_the_status_in_its_body():
    refusal = error_from_body("GET /v1/ledger", 400, {"code": "X_1", "status": 200, "title": "fine"})
    assert isinstance(refusal, RestRefused) and refusal.code == "X_1"


def test_a_404_without_a_body_is_not_found_and_a_read_of_a_missing_relation_is_none(make_client, with_customer,
                                                                                      service):
    service.script("GET", "/v1/relation/5001", 404, b"")
    with make_client() as client:
        assert client.relations_by_code(["D1"]) == []
    assert isinstance(error_from_body("GET /v1/relation/{id}", 404, None), NotFound)


# ---------------------------------------------------------------------- server errors (5xx)


@pytest.mark.parametrize(("body", "words"), [
    pytest.param(b"Internal Server Error", "HTTP 500", id="plain-text"),
    pytest.param({"type": "error", "code": "ERR_001", "title": "An error occurred", "status": 500,
                  "traceId": "00-4bf92f35-01"}, "HTTP 500 ERR_001: An error occurred [traceId 00-4bf92f35-01]",
                 id="error-body"),
    pytest.param({"title": "Oops"}, "HTTP 500: Oops", id="json-without-code"),
])
def test_a_5xx_to_a_booking_is_unknown_never_sent_again_and_keeps_the_trace_id(make_client, with_customer, service,
                                                                               body, words):
    service.script("POST", "/v1/mutation", 500, body)
    with make_client() as client, pytest.raises(TransportFailure) as caught:
        client.add_booking(invoice())
    assert caught.value.maybe_processed and caught.value.status_code == 500
    assert str(caught.value) == f"e-Boekhouden POST /v1/mutation for invoice F2026-0001: {words}"
    assert len(service.calls("POST", "/v1/mutation")) == 1


def test_a_read_meeting_5xx_every_time_says_so_with_the_last_trace_id(make_client, service):
    for n in range(3):
        service.script("GET", "/v1/ledger", 502, {"code": "ERR_001", "title": "Busy", "traceId": f"T-{n}"})
    with make_client() as client, pytest.raises(TransportFailure) as caught:
        client.ledgers()
    assert "HTTP 502 ERR_001: Busy [traceId T-2]" in str(caught.value)
    assert len(service.calls("GET", "/v1/ledger")) == 3


# ---------------------------------------------------------------------- session answers


@pytest.mark.parametrize(("answer", "words"), [
    pytest.param({"token": "s-1"}, "expiresIn is missing", id="expires-missing"),
    pytest.param({"token": "s-1", "expiresIn": 0}, "expiresIn is 0 seconds", id="expires-zero"),
    pytest.param({"token": "s-1", "expiresIn": -60}, "expiresIn is -60 seconds", id="expires-negative"),
    pytest.param({"token": "s-1", "expiresIn": "3600"}, "expiresIn is text, not a whole number", id="expires-text"),
    pytest.param({"token": "s-1", "expiresIn": True}, "expiresIn is true or false", id="expires-boolean"),
    pytest.param({"token": "s-1", "expiresIn": 3600.5}, "expiresIn is a number with decimals", id="expires-decimal"),
    pytest.param({"expiresIn": 3600}, "token is missing", id="token-missing"),
    pytest.param({"token": "  ", "expiresIn": 3600}, "token is empty", id="token-empty"),
    pytest.param({"token": 12345, "expiresIn": 3600}, "token is a whole number, not text", id="token-number"),
    pytest.param(b'["s-1", 3600]', "the answer is a list, not an object", id="not-an-object"),
])
def test_a_session_answer_that_cannot_be_trusted_is_refused_before_any_call(make_client, service, answer, words):
    service.script("POST", "/v1/session", 200, answer)
    with pytest.raises(ResponseInvalid) as caught:
        make_client().__enter__()
    message = str(caught.value)
    assert message.startswith("e-Boekhouden POST /v1/session for the session: the answer does not fit the API: ")
    assert words in message and TOKEN not in message and "s-1" not in message
    assert [r.method for r in service.requests] == ["POST"], "no call is made on a session that is not one"


def test_a_huge_expires_in_is_trusted_a_day_at_most(make_client, service, clock):
    service.expires_in = 10**12  # some 31,000 years
    with make_client() as client:
        client.ledgers()
        clock.now += LONGEST_SESSION
        client.ledgers()
    assert len(service.calls("POST", "/v1/session")) == 2, "renewed after a day, as if it had said so"


@pytest.mark.parametrize(("status", "body"), [
    pytest.param(401, {"type": "security", "code": "SECURITY_010", "title": "Not authenticated",
                       "traceId": "T-9"}, id="security-010"),
    pytest.param(403, {"type": "security", "code": "API_SESSION_004", "title": "Access token has expired.",
                       "traceId": "T-9"}, id="token-expired"),
    pytest.param(401, b"Unauthorized", id="bare-401"),
    pytest.param(403, b"<html><h1>Forbidden</h1></html>", id="html-403"),
])
def test_a_token_refused_on_a_fresh_session_says_where_a_new_one_is_made(make_client, service, status, body):
    service.script("POST", "/v1/session", status, body)
    with pytest.raises(TokenRejected) as caught:
        make_client().__enter__()
    message = str(caught.value)
    assert message.startswith("e-Boekhouden POST /v1/session") and TOKEN_PAGE in message
    assert "eboekhouden.api_token" in message and TOKEN not in message
    assert caught.value.maybe_processed is False
    if isinstance(body, dict):
        assert "[traceId T-9]" in message


def test_a_bare_401_on_a_proven_session_is_a_lost_session_not_the_token(make_client, service):
    service.add_relation("D1", "Bakkerij Jansen")
    with make_client() as client:
        client.ledgers()  # the token is proven
        service.script("GET", "/v1/relation", 401, b"")
        assert client.relation_index() == {"D1": 5001}, "read again on a new session"
        service.script("POST", "/v1/relation", 401, b"")
        with pytest.raises(SessionLost):
            client.add_relation(EbRelation(code="D2", bedrijf="Relatie D2"))
    assert len(service.calls("POST", "/v1/relation")) == 1


# ---------------------------------------------------------------------- the list envelope


@pytest.mark.parametrize(("count", "offset", "held", "fits"), [
    pytest.param(3, 0, 3, True, id="this-page"),  # the live service's count (NOTES §2.10)
    pytest.param("3", 0, 3, True, id="digit-string"),  # openapi.json allows a string of digits
    pytest.param(2003, 2000, 3, True, id="grand-total-last-page"),
    pytest.param(5000, 0, 2000, True, id="grand-total-full-page"),
    pytest.param(7, 0, 3, False, id="more-than-the-pages-hold"),
    pytest.param(2, 0, 3, False, id="fewer-than-this-page-holds"),
    pytest.param(1999, 0, 2000, False, id="full-page-undercounted"),
])
def test_count_may_be_the_page_or_the_whole_list_but_never_disagree_with_the_items(count, offset, held, fits):
    page = {"items": [{"id": n} for n in range(held)], "count": count}
    if fits:
        assert len(translate.page_items(page, offset=offset, limit=PAGE_SIZE)) == held
    else:
        with pytest.raises(translate.AnswerUnfit, match="count says"):
            translate.page_items(page, offset=offset, limit=PAGE_SIZE)


def test_items_null_is_an_empty_page_as_the_document_allows():
    assert translate.page_items({"items": None, "count": 0}, offset=0, limit=PAGE_SIZE) == []


def test_an_error_body_that_echoes_the_token_or_the_session_shows_neither(make_client, service):
    service.script("POST", "/v1/session", 403, {"code": "API_SESSION_004", "title": f"Token {TOKEN} has expired",
                                                "traceId": "T-1"})
    with pytest.raises(TokenRejected) as refused:
        make_client().__enter__()
    with make_client() as client:
        session = service.sessions[-1]
        for _ in range(3):  # every try of the read
            service.script("GET", "/v1/ledger", 500, {"code": "ERR_001", "title": f"Session {session} broke"})
        with pytest.raises(TransportFailure) as failed:
            client.ledgers()
    assert "T-1" in str(refused.value) and "ERR_001" in str(failed.value)
    for error in (refused.value, failed.value):
        assert TOKEN not in str(error) and session not in str(error)
