"""Sessions: opened once, renewed before expiresIn runs out, reopened once after a 401;
reads repeated after that, writes never; an expired token says where a new one is made."""

from __future__ import annotations

import pytest

from core.eboekhouden.errors import SessionLost
from core.eboekhouden.rest.errors import SourceRejected, TokenRejected


def test_one_session_per_run_closed_at_the_end(make_client, service):
    service.add_relation("D1", "Bakkerij Jansen")
    with make_client() as client:
        client.relation_index()
        client.relation_index()
    assert len(service.calls("POST", "/v1/session")) == 1
    assert service.bodies("POST", "/v1/session") == [{"accessToken": service.token, "source": "pvsync"}]
    assert len(service.calls("DELETE", "/v1/session")) == 1
    # Every call after the session carries its token, never the API token.
    for request in service.calls("GET", "/v1/relation"):
        assert request.headers["Authorization"] == f"Bearer {service.sessions[0]}"


def test_the_session_is_renewed_before_it_expires(make_client, service, clock):
    service.expires_in = 600
    with make_client() as client:
        client.ledgers()
        clock.now += 600 - 59  # inside the last minute of the session's life
        client.ledgers()
    assert len(service.calls("POST", "/v1/session")) == 2
    assert not any(r.headers.get("Authorization") == f"Bearer {service.sessions[0]}"
                   for r in service.calls("GET", "/v1/ledger")[1:])


def test_a_read_after_a_401_is_repeated_once_with_a_new_session(make_client, service, clock):
    service.add_relation("D1", "Bakkerij Jansen")
    with make_client() as client:
        clock.now += 30
        service.revoked_sessions.add(service.sessions[0])
        assert client.relation_index() == {"D1": 5001}
    assert len(service.calls("POST", "/v1/session")) == 2
    assert len(service.calls("GET", "/v1/relation")) == 2


def test_a_session_lost_moments_after_the_token_was_proven_is_reopened_not_taken_for_a_bad_token(make_client,
                                                                                                   service):
    # Regression: a 401 within 5 s of opening was always "token expired or revoked", so on a fast
    # run a session the service dropped early stopped the job and sent the user to make a new token.
    service.add_relation("D1", "Bakkerij Jansen")
    with make_client() as client:
        client.ledgers()  # answered: the token is good
        service.revoked_sessions.add(service.sessions[0])
        assert client.relation_index() == {"D1": 5001}
        service.revoked_sessions.add(service.sessions[1])  # and the new one, at once
        assert client.relation_index() == {"D1": 5001}
    assert len(service.calls("POST", "/v1/session")) == 3


def test_a_write_after_a_401_is_not_repeated(make_client, service, clock):
    with make_client() as client:
        clock.now += 30
        service.revoked_sessions.add(service.sessions[0])
        with pytest.raises(SessionLost) as caught:
            client.add_relation(_relation("D2"))
        assert caught.value.maybe_processed is False
    assert len(service.calls("POST", "/v1/relation")) == 1
    assert len(service.calls("POST", "/v1/session")) == 2  # renewed for whatever comes next
    assert service.relations == {}


def test_an_expired_token_says_where_a_new_one_is_made(make_client, service):
    service.token_expired = True
    with pytest.raises(TokenRejected) as caught:
        make_client().__enter__()
    message = str(caught.value)
    assert "API_SESSION_004" in message and "Beheer > Inrichting > Koppelingen > API > e-Boekhouden API" in message
    assert "TRACE-" in message and service.token not in message


def test_a_session_refused_right_after_opening_is_a_token_problem(make_client, service):
    service.script("GET", "/v1/ledger", 401, {"type": "security", "code": "SECURITY_010", "title": "Invalid",
                                              "status": 401, "traceId": "T-1"})
    with make_client() as client, pytest.raises(TokenRejected) as caught:
        client.ledgers()  # the first call on a session opened a moment ago
    assert "e-Boekhouden API" in str(caught.value) and "T-1" in str(caught.value)
    assert len(service.calls("GET", "/v1/ledger")) == 1


def test_a_source_the_service_refuses_is_named(make_client):
    with pytest.raises(SourceRejected) as caught:
        make_client(source="pv-sync").__enter__()
    assert "eboekhouden.source" in str(caught.value)


def _relation(code: str):
    from core.model import EbRelation

    return EbRelation(code=code, bedrijf=f"Relatie {code}")
