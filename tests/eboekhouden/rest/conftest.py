"""A REST client bound to the stand-in service, with a fake clock so pacing costs no time."""

from __future__ import annotations

import logging

import pytest

from core.eboekhouden.rest.client import RestClient
from core.secrets import Secret
from core.soap.caller import MemoryCallMeter, RetryPolicy
from core.soap.transport import make_http_client
from tests.eboekhouden.rest.fake_service import TOKEN, FakeRest

URL = "http://127.0.0.1:8417"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def service() -> FakeRest:
    return FakeRest()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_client(service, clock):
    made = []

    def make(**kw) -> RestClient:
        kw.setdefault("meter", MemoryCallMeter())
        kw.setdefault("retry", RetryPolicy(attempts=3, base_delay=0.0))
        kw.setdefault("log", logging.getLogger("test.rest"))
        client = RestClient(URL, Secret(kw.pop("token", TOKEN)), http=make_http_client(transport=service.transport()),
                            clock=clock, sleep=clock.sleep, **kw)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
