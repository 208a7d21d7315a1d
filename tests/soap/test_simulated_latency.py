"""A simulator's latency is the call's whole round trip, as a client times it on a real service:
the simulator's own work for the call is done inside it, not on top of it (core.soap.simulator,
NetworkFaults.network_delay), and on a loopback socket so is writing the answer (answer_due).
Timed on a fake clock, so the figures are exact on any machine."""

from __future__ import annotations

from functools import partial
from types import SimpleNamespace
from typing import Callable

import httpx
import pytest

import core.eboekhouden.rest.simulator as rest_simulator
import core.soap.simulator as soap_simulator
from core.eboekhouden.rest.simulator import RestSimulator
from core.eboekhouden.soap.simulator import EboekhoudenSimulator
from core.soap.loopback import InProcessTransport
from core.soap.simulator import WIRE, Knobs, WireTiming
from tests.eboekhouden.rest.conftest import FakeClock
from tests.eboekhouden.test_simulator import open_session


@pytest.fixture(params=[FakeClock, "oversleeping"])
def clock(monkeypatch, request) -> FakeClock:
    clock = FakeClock() if request.param is FakeClock else Oversleeping()
    fake_time = SimpleNamespace(monotonic=clock, sleep=clock.sleep)
    monkeypatch.setattr(soap_simulator, "time", fake_time)
    monkeypatch.setattr(rest_simulator, "time", fake_time)
    return clock


class Timed:
    """Wraps a simulator app: for each call, when the service's work began and when its answer
    went out, counted from the call's arrival (ms)."""

    def __init__(self, app, clock: FakeClock):
        self.app, self.clock = app, clock
        self.answers: list[float] = []
        self.work_began: list[float] = []
        self._arrived = 0.0

    def __call__(self, environ, start_response):
        self._arrived = self.clock.now

        def answer(*args):
            self.answers.append(round((self.clock.now - self._arrived) * 1000, 6))
            return start_response(*args)
        return self.app(environ, answer)

    def working(self, work_ms: float) -> None:
        """The service's work for a call: noted, and `work_ms` of (fake) time."""
        self.work_began.append(round((self.clock.now - self._arrived) * 1000, 6))
        self.clock.now += work_ms / 1000


class OnTheWire(Timed):
    """As core.soap.loopback runs a simulator: the call arrives with its WireTiming, and writing
    the answer takes `write_ms` after the app returns it; `answers` are when it was out."""

    def __init__(self, app, clock: FakeClock, *, write_ms: float):
        super().__init__(app, clock)
        self.write_ms = write_ms

    def __call__(self, environ, start_response):
        wire = WireTiming(self.clock.now)
        self._arrived = wire.arrived
        body = list(self.app({**environ, WIRE: wire}, start_response))
        self.clock.now += self.write_ms / 1000
        wire.written(self.clock.now)
        self.answers.append(round((self.clock.now - wire.arrived) * 1000, 6))
        return body


class Oversleeping(FakeClock):
    """time.sleep wakes a little late, as it does on a real machine."""

    overshoot_ms = 0.1

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds + self.overshoot_ms / 1000)


def soap_calls(clock: FakeClock, latency_ms: float, work_ms: float, calls: int, timing: Callable[..., Timed] = Timed,
               refused_after: int = 0) -> Timed:
    """`calls` GetRelaties; then `refused_after` requests for an operation the service does not have."""
    sim = EboekhoudenSimulator(Knobs(latency_ms=latency_ms))
    timed = timing(sim, clock)
    handle = sim.handle

    def working_handle(operation, request):
        timed.working(work_ms)
        return handle(operation, request)

    sim.handle = working_handle
    session = open_session(sim)  # not through `timed`: only the calls below are timed
    headers = {"Content-Type": "text/xml; charset=utf-8",
               "SOAPAction": '"http://www.e-boekhouden.nl/soap/GetRelaties"'}
    with httpx.Client(transport=InProcessTransport(app=timed)) as http:
        for _ in range(calls):
            reply = http.post("http://sim/soap.asmx", content=post_body(session, sim), headers=headers)
            assert reply.status_code == 200, reply.text
        for _ in range(refused_after):
            unknown = post_body(session, sim).replace(b"GetRelaties", b"GetNothing")
            reply = http.post("http://sim/soap.asmx", content=unknown, headers=headers)
            assert reply.status_code == 500 and "Fault" in reply.text, reply.text
    return timed


def post_body(session: str, sim: EboekhoudenSimulator) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/'
            f'envelope/"><soap:Body><GetRelaties xmlns="http://www.e-boekhouden.nl/soap"><SessionID>{session}'
            f'</SessionID><SecurityCode2>{sim.credentials.security_code_2}</SecurityCode2><cFilter><Trefwoord>'
            '</Trefwoord><Code>D10001</Code><ID>0</ID></cFilter></GetRelaties></soap:Body></soap:Envelope>').encode()


def rest_calls(clock: FakeClock, latency_ms: float, work_ms: float, calls: int, timing: Callable[..., Timed] = Timed) -> Timed:
    sim = RestSimulator(knobs=Knobs(latency_ms=latency_ms))
    timed = timing(sim, clock)
    authenticate = sim._authenticate

    def working_authenticate(header):  # inside the call's work, under the administration's lock
        timed.working(work_ms)
        return authenticate(header)

    with httpx.Client(transport=InProcessTransport(app=sim), base_url="http://127.0.0.1") as http:
        token = http.post("/v1/session", json={"accessToken": sim.api_token, "source": "pvsync"}).json()["token"]
    sim._authenticate = working_authenticate
    with httpx.Client(transport=InProcessTransport(app=timed), base_url="http://127.0.0.1") as http:
        for _ in range(calls):
            reply = http.get("/v1/relation", params={"code": "D10001"}, headers={"Authorization": token})
            assert reply.status_code == 200, reply.text
    return timed


CALLS = {"soap": soap_calls, "rest": rest_calls}


@pytest.mark.parametrize("api", ["soap", "rest"])
def test_the_simulators_work_is_inside_the_latency_not_on_top(clock, api):
    """20 ms latency and 4 ms of the simulator's own work: once it has seen some calls, each
    answer leaves 20 ms after the call came in, not 24; and never before the 20 ms."""
    timed = CALLS[api](clock, latency_ms=20, work_ms=4, calls=30)
    assert all(answer >= 20 for answer in timed.answers), timed.answers
    assert timed.answers[0] > 22, "the first calls: it is still learning how long its work takes"
    assert timed.answers[-1] == pytest.approx(20, abs=0.05), timed.answers
    # The work (what changes the administration) still comes late in the call, as before.
    assert all(began >= 10 for began in timed.work_began), timed.work_began


@pytest.mark.parametrize("api", ["soap", "rest"])
def test_work_longer_than_half_the_latency_shows(clock, api):
    """At most half the latency is left for the work: a slow simulator is not hidden."""
    timed = CALLS[api](clock, latency_ms=20, work_ms=15, calls=30)
    late = getattr(clock, "overshoot_ms", 0)  # the sleep woke that late, and the work began then
    assert timed.answers[-1] == pytest.approx(10 + late + 15, abs=0.05), timed.answers
    assert min(timed.work_began) == pytest.approx(10 + late, abs=0.05)


def test_without_latency_nothing_waits(clock):
    timed = soap_calls(clock, latency_ms=0, work_ms=3, calls=5)
    assert clock.slept == [] and timed.answers == [pytest.approx(3)] * 5


@pytest.mark.parametrize("api", ["soap", "rest"])
def test_on_a_socket_the_answer_is_out_when_due_not_after_writing_it(clock, api):
    """Over loopback, 0.4 ms of writing the answer after the app returns it and every sleep
    0.1 ms late: the simulator learns it and lets answers go that much earlier, so that once it
    has seen some calls each is out 20 ms after it came in (20.7 ms a call before, by a minimal
    client on this machine); never earlier than due."""
    timed = CALLS[api](clock, latency_ms=20, work_ms=1, calls=40, timing=partial(OnTheWire, write_ms=0.4))
    assert timed.answers[0] >= 20.4, "the first call: nothing learnt yet"
    assert timed.answers[-1] == pytest.approx(20, abs=0.02), timed.answers
    assert min(timed.answers) >= 19.98, timed.answers


@pytest.mark.parametrize("api", ["soap", "rest"])
def test_an_answer_slower_to_write_than_a_quarter_of_the_latency_is_not_made_up_for(clock, api):
    """Writing that takes 8 ms (a dripped answer, a starved machine) is not learnt: a slow
    simulator shows, it is not hidden."""
    timed = CALLS[api](clock, latency_ms=20, work_ms=1, calls=20, timing=partial(OnTheWire, write_ms=8))
    assert all(answer >= 28 for answer in timed.answers), timed.answers


def test_a_refused_call_takes_its_round_trip_too(clock):
    """Once the simulator has learnt that its work takes 4 ms, a call it refuses with a SOAP fault
    (an operation it does not have) is answered when the latency is up, not 4 ms early."""
    timed = soap_calls(clock, latency_ms=20, work_ms=4, calls=30, refused_after=3)
    assert all(answer >= 20 for answer in timed.answers[-3:]), timed.answers[-3:]
