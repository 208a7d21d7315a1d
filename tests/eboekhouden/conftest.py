"""Fixtures: a fresh simulator and clients talking to it in-process."""

from __future__ import annotations

import httpx
import pytest

from core.eboekhouden.soap.client import EboekhoudenClient
from core.eboekhouden.soap.simulator import EboekhoudenSimulator, SimCredentials
from core.secrets import Secret
from core.soap.caller import MemoryCallMeter, RetryPolicy
from core.soap.loopback import InProcessTransport
from core.soap.transport import Timeouts, make_http_client

URL = "http://127.0.0.1/soap.asmx"
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.0)


def client_for(sim: EboekhoudenSimulator, *, url: str = URL, transport: httpx.BaseTransport | None = None,
               credentials: SimCredentials | None = None, timeouts: Timeouts = Timeouts(),
               **kw) -> EboekhoudenClient:
    creds = credentials or sim.credentials
    http = make_http_client(timeouts=timeouts,
                            transport=transport if transport is not None else InProcessTransport(app=sim))
    kw.setdefault("retry", FAST_RETRY)
    kw.setdefault("meter", MemoryCallMeter())
    return EboekhoudenClient(url, Secret(creds.username), Secret(creds.security_code_1),
                             Secret(creds.security_code_2), http=http, **kw)


@pytest.fixture
def sim() -> EboekhoudenSimulator:
    return EboekhoudenSimulator()


@pytest.fixture
def client(sim):
    with client_for(sim) as opened:
        yield opened
