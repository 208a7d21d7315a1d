"""The engine's side of the REST client: built from a config with api = "rest", its session shared by
the run, what it notices in the run's logbook, `pvsync check`'s line, and no token anywhere."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import pytest

from core.config import load_config
from core.eboekhouden.rest.client import RestClient
from core.engine import services
from core.engine.services import RunServices
from core.model import Booking, BookingLine, MutatieSoort
from core.soap.caller import MemoryCallMeter
from core.soap.errors import ServiceError
from core.soap.transport import make_http_client
from core.store import Store
from tests.config.conftest import GUID_A, GUID_B, SAMPLE, sample_with, write
from tests.eboekhouden.rest.fake_service import TOKEN, FakeRest

URL = "http://127.0.0.1:8417"


@pytest.fixture
def config(tmp_path):
    text, _ = sample_with("eboekhouden.url", f'"{URL}"', SAMPLE)
    env = {"PVSYNC_EBOEKHOUDEN_API_TOKEN": TOKEN, "PVSYNC_PERFECTVIEW_API_KEY": GUID_A,
           "PVSYNC_PERFECTVIEW_DATABASE_ID": GUID_B, "PVSYNC_PERFECTVIEW_USER_ID": GUID_A}
    return load_config(write(tmp_path / "config.toml", text), env=env)


@pytest.fixture
def service():
    service = FakeRest()
    service.add_relation("D1", "Bakkerij Jansen")
    return service


def booking(description: str) -> Booking:
    return Booking(MutatieSoort.FACTUUR_VERSTUURD, date(2026, 11, 30), "1300", relation_code="D1",
                   invoice_number="F1", description=description, in_ex_vat="IN",
                   lines=(BookingLine(Decimal("100"), Decimal("21"), Decimal("121"), "HOOG_VERK_21", Decimal("21"),
                                      "8000"),))


def test_api_rest_builds_the_rest_client(config, service):
    client = services.eboekhouden_client(config, http=make_http_client(transport=service.transport()))
    assert isinstance(client, RestClient) and client.url == URL and client.source == "pvsync"
    assert client.pace.rate == client.pace.ceiling == 5.0  # eboekhouden.calls_per_second
    client.close()


def test_check_says_the_rest_token_was_accepted_or_where_to_make_a_new_one(config, service, monkeypatch):
    build = services.eboekhouden_client
    monkeypatch.setattr(services, "eboekhouden_client", lambda c, m=None, **kw: build(
        c, m, http=make_http_client(transport=service.transport()), **kw))
    check = services.check_eboekhouden(config, MemoryCallMeter())
    assert check.ok and check.message == "reachable, credentials accepted (REST API, API token)"
    service.token_expired = True
    check = services.check_eboekhouden(config)
    assert (check.reachable, check.credentials_ok) == (True, False)
    assert "Beheer > Inrichting > Koppelingen > API > e-Boekhouden API" in check.message
    assert TOKEN not in check.message


def test_a_run_shares_one_session_and_its_notices_reach_the_logbook_without_a_secret(config, service, tmp_path,
                                                                                      caplog):
    # A careless service echoes the credentials in its error bodies: pvsync must still not store them.
    store = Store.open(tmp_path / "state")
    run = RunServices(config, store, eboekhouden_http=make_http_client(transport=service.transport()))
    run.run_id = 1
    with caplog.at_level(logging.DEBUG):
        eb = run.eboekhouden()
        assert run.eboekhouden() is eb and len(service.sessions) == 1
        eb.add_booking(booking("Factuur F1 voor Bakkerij Jansen en Zonen te Gouda, Hoofdstraat 1"))
        session = service.sessions[0]
        service.script("GET", "/v1/ledger", 400, {"type": "validation", "code": "ERR_002", "status": 400,
                                                  "title": f"token {TOKEN} session {session}", "traceId": "T-77"})
        with pytest.raises(ServiceError) as caught:
            eb.ledgers()
        store.log("ERROR", "eboekhouden", str(caught.value))
        run.close()
    logbook = [entry.message for entry in store.logbook_page(limit=50)]
    store.close()
    assert any("at most 50 characters" in line for line in logbook), logbook
    assert any("T-77" in line for line in logbook)
    assert len(service.calls("DELETE", "/v1/session")) == 1
    everything = "\n".join([str(caught.value), repr(caught.value), caplog.text, *logbook]).encode()
    files = b"".join(p.read_bytes() for p in (tmp_path / "state").iterdir() if p.is_file())
    for secret in (TOKEN, session):
        assert secret.encode() not in everything and secret.encode() not in files, secret
