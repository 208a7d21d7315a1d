"""Planted canary credentials and the SessionIDs issued never show up in an error, a log
record (zeep and httpx loggers at DEBUG included) or the simulator's event list."""

from __future__ import annotations

import logging
import traceback

import pytest

from core.eboekhouden.errors import EboekhoudenError, SessionLost
from core.eboekhouden.soap.simulator import EboekhoudenSimulator, SimCredentials
from core.model import EbRelation
from core.secrets import Secret
from core.soap.errors import ServiceError

from .conftest import client_for
from .test_client import sales_invoice

CANARY = SimCredentials(username="canary-user-5b1e", security_code_1="c4a7e1f00d5e4b2a9c3e8f6a1b2d3c4e",
                        security_code_2="CA7A2B1E-9F3C-4D5E-8A6B-0C1D2E3F4A5B")
WIRE_LOGGERS = ("zeep", "zeep.transports", "zeep.wsdl", "zeep.xsd", "httpx", "httpcore", "core")


@pytest.fixture
def wire_logs_at_debug(caplog):
    caplog.set_level(logging.DEBUG)
    previous = {name: logging.getLogger(name).level for name in WIRE_LOGGERS}
    yield caplog
    for name, level in previous.items():
        logging.getLogger(name).setLevel(level)


def test_canaries_never_leak(wire_logs_at_debug):
    caplog = wire_logs_at_debug
    sim = EboekhoudenSimulator(credentials=CANARY)
    issued: set[str] = set()
    original_open = sim._open_session

    def remembering_open(*args):
        session_id = original_open(*args)
        issued.add(session_id)
        return session_id

    sim._open_session = remembering_open
    texts: list[str] = []

    def capture(error: BaseException) -> None:
        texts.extend([str(error), repr(error), "".join(traceback.format_exception(error))])

    client = client_for(sim, credentials=CANARY)
    for name in WIRE_LOGGERS:  # after the client quieted them: someone turned them up on purpose
        logging.getLogger(name).setLevel(logging.DEBUG)
    with client:
        texts.append(repr(client.__dict__))
        client.relations()
        with pytest.raises(EboekhoudenError) as err:
            client.add_relation(client.relation("D10001"))
        capture(err.value)
        sim.knobs.faults = {"session": 1.0}
        with pytest.raises(SessionLost) as lost:
            client.add_booking(sales_invoice("2025-6001"))
        capture(lost.value)
        sim.knobs.faults = {"lost": 1.0}
        with pytest.raises(ServiceError) as dropped:
            client.add_relation(EbRelation(code="D40001", bedrijf="Canary B.V."))
        capture(dropped.value)
        sim.knobs.faults = {}
        client._code2 = Secret("00000000-0000-4000-8000-000000000000")
        with pytest.raises(EboekhoudenError) as wrong:
            client.ledgers()
        capture(wrong.value)
        client._code2 = Secret(CANARY.security_code_2)
    bad_login = SimCredentials(username=CANARY.username, security_code_1="0" * 32,
                               security_code_2=CANARY.security_code_2)
    with pytest.raises(EboekhoudenError) as refused:
        with client_for(sim, credentials=bad_login):
            pass
    capture(refused.value)

    assert len(issued) >= 2, "the run opened a session, lost it and reopened one"
    records = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    assert any("session lost" in r for r in records), "logging was captured"
    haystacks = {"errors": texts, "logs": records, "simulator events": sim.events}
    for canary in (CANARY.username, CANARY.security_code_1, CANARY.security_code_2, *issued):
        for where, haystack in haystacks.items():
            assert not [t for t in haystack if canary in t], f"a secret leaked into the {where}"
