"""Fixtures: the REST simulator in-process, every answer checked against the vendor's document;
and the client's own tests: a REST client bound to the stand-in service (fake_service.py),
with a fake clock so pacing costs no time."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from core.eboekhouden.administration import Administration
from core.eboekhouden.demo_data import seed
from core.eboekhouden.rest.client import RestClient
from core.eboekhouden.rest.simulator import RestSimulator
from core.secrets import Secret
from core.soap.caller import MemoryCallMeter, RetryPolicy
from core.soap.loopback import InProcessTransport
from core.soap.transport import make_http_client
from tests.eboekhouden.rest.fake_service import TOKEN, FakeRest

from .contract import openapi, validate_response, validate_schema

TEMPLATES = (("/v1/relation/", "/v1/relation/{id}"), ("/v1/ledger/", "/v1/ledger/{id}"))


class Api:
    """A thin caller that validates each answer: against its operation when the document lists
    the status, else (429, 500) against the document's Error schema or an empty body."""

    def __init__(self, sim: RestSimulator, token: Secret | None = None):
        self.sim = sim
        self.http = httpx.Client(transport=InProcessTransport(app=sim), base_url="http://127.0.0.1")
        self.token = token or Secret(sim.api_token)
        self.session = ""

    def login(self, source: str = "pvsync") -> str:
        reply = self.call("POST", "/v1/session", json={"accessToken": self.token.reveal(), "source": source},
                          auth=False)
        assert reply.status_code == 200, reply.text
        self.session = reply.json()["token"]
        return self.session

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
             auth: bool = True, content: bytes | None = None, header: str | None = None) -> httpx.Response:
        headers = {}
        if auth:
            headers["Authorization"] = header if header is not None else self.session
        reply = self.http.request(method, path, params=params, json=json, content=content, headers=headers)
        body = reply.json() if reply.content else None
        if reply.status_code in (415, 429, 500):  # answers the document does not list
            if body is not None:
                validate_schema("Error", body)
        else:
            validate_response(method, path, reply.status_code, body, params)
        return reply

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.call("GET", path, params=params)

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.call("POST", path, json=body)

    def ledger_id(self, code: str) -> int:
        return self.get("/v1/ledger", code=code).json()["items"][0]["id"]

    def relation_id(self, code: str) -> int:
        return self.get("/v1/relation", code=code).json()["items"][0]["id"]


def refused(reply: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert the service's error body with this code; return it."""
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["code"] == code and body["status"] == status, body
    return body


@pytest.fixture(scope="session")
def contract():
    return openapi()  # loads (or skips) once: the document is large


@pytest.fixture
def sim(contract) -> RestSimulator:
    return RestSimulator()


@pytest.fixture
def api(sim) -> Api:
    caller = Api(sim)
    caller.login()
    return caller


@pytest.fixture
def shared_admin() -> Administration:
    admin = Administration()
    seed(admin, "demo")
    return admin


# ---------------------------------------------------------------------- the client against the stand-in service

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
