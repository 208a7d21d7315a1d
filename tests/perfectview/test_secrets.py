"""The PerfectView credentials never show: not in errors, not in logs at DEBUG, not in the
simulator's own event log, not in the client's repr."""

from __future__ import annotations

import logging

import pytest

from core.perfectview.client import PerfectViewClient
from core.perfectview.simulator import PerfectViewSimulator, SimCredentials
from core.secrets import Secret
from core.soap.errors import ServiceError
from core.soap.simulator import Knobs

from tests.perfectview.conftest import connect, organisation

CANARIES = SimCredentials(api_key="cafe0001-0000-4000-8000-0000000000a1",
                          database_id="cafe0002-0000-4000-8000-0000000000b2",
                          user_id="cafe0003-0000-4000-8000-0000000000c3")
WRONG_KEY = "cafe0004-0000-4000-8000-0000000000d4"


def test_canary_credentials_never_leak(caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("zeep", "zeep.transports", "httpx", "httpcore", "core"):
        caplog.set_level(logging.DEBUG, logger=name)
    sim = PerfectViewSimulator(Knobs(seed=9), seed_data="empty", credentials=CANARIES)
    client = connect(sim)
    texts = [repr(client), str(client)]

    relation_id = client.create_relation(organisation(), "Klant", "Sanne de Vries")
    assert client.relation(relation_id).name, "the canaries work as credentials"
    failures = []
    for fault in ("malformed", "http500", "lost"):
        sim.knobs.faults = {fault: 1.0}
        with pytest.raises(ServiceError) as failed:
            client.add_relation_note(relation_id, "x")
        failures.append(failed.value)
    sim.knobs.faults = {}
    with pytest.raises(ServiceError) as refused:
        connect(sim, api_key=WRONG_KEY).entity_types()
    failures.append(refused.value)
    with pytest.raises(ServiceError) as faulted:
        client.relation("not-a-guid")
    failures.append(faulted.value)

    texts += [str(f) for f in failures] + [repr(f.args) for f in failures]
    texts += [caplog.text, "\n".join(sim.events)]
    leaked = [value for value in (*vars(CANARIES).values(), WRONG_KEY) for text in texts if value in text]
    assert leaked == []
    assert "Access denied" in str(refused.value), "the refusal itself is still readable"


def test_client_refuses_credentials_that_are_not_secrets():
    sim = PerfectViewSimulator(Knobs(seed=9), seed_data="empty")
    with pytest.raises(TypeError, match="Secret"):
        PerfectViewClient("http://127.0.0.1/V1/perfectview.asmx", sim.credentials.api_key,
                          Secret(sim.credentials.database_id), Secret(sim.credentials.user_id))
