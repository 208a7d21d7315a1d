"""The shared SOAP layer: envelopes both ways, SOAP 1.1 and 1.2, fault injection and
error classification, in-process and over a loopback socket."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from core.soap.caller import RetryPolicy, SoapCaller
from core.soap.errors import RequestInvalid, ResponseInvalid, SoapFault, TransportFailure
from core.soap.loopback import InProcessTransport, LoopbackServer
from core.soap.simulator import ClientFault, Knobs, SoapSimulator
from core.soap.transport import Timeouts, make_http_client, make_service

WSDL = Path(__file__).with_name("echo.wsdl")
NS = "http://example.test/echo"


class EchoSimulator(SoapSimulator):
    namespace = NS
    path = "/echo.asmx"
    wsdl_file = WSDL
    service_name = "echo"

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.stored: list[str] = []

    def handle(self, operation, request):
        if operation == "Echo":
            times = self.child_text(request, "Times")
            if times is None or not times.lstrip("-").isdigit():
                raise ClientFault("Server was unable to read request. ---> Times is not an int.")
            text = self.child_text(request, "Text", "")
            return self.element("EchoResponse", None, self.element("EchoResult", text * int(times)))
        if operation == "Store":
            self.stored.append(self.child_text(request, "Text", ""))
            self.dirty = True
            return self.element("StoreResponse", None, self.element("StoreResult", len(self.stored)))
        raise ClientFault(f"unknown operation {operation}")

    def state_to_json(self):
        return {"stored": self.stored}

    def state_from_json(self, data):
        self.stored = list(data["stored"])


def caller_for(sim, *, url="http://127.0.0.1/echo.asmx", transport=None, soap12=False, timeouts=Timeouts()):
    http = make_http_client(timeouts=timeouts, transport=transport if transport is not None else InProcessTransport(app=sim))
    binding = f"{{{NS}}}EchoSoap12" if soap12 else f"{{{NS}}}EchoSoap"
    client, proxy = make_service(WSDL, binding, url, http)
    return SoapCaller("echo", proxy, retry=RetryPolicy(attempts=3, base_delay=0), sleep=lambda s: None,
                      transport=client.transport)


@pytest.mark.parametrize("soap12", [False, True])
def test_round_trip_in_process(soap12):
    sim = EchoSimulator()
    caller = caller_for(sim, soap12=soap12)
    assert caller.call("Echo", Text="ab", Times=3, write=False) == "ababab"
    assert caller.call("Store", Text="x", write=True) == 1
    assert sim.calls == {"Echo": 1, "Store": 1}
    assert caller.meter.count("echo", "Echo") == 1


def test_client_fault_is_typed_and_not_processed():
    sim = EchoSimulator()
    caller = caller_for(sim)
    sim.handle = lambda op, req: (_ for _ in ()).throw(ClientFault("Server was unable to read request."))
    with pytest.raises(SoapFault) as err:
        caller.call("Store", Text="x", write=True)
    assert err.value.maybe_processed is False
    assert "Store" in str(err.value)


def test_request_that_does_not_fit_the_wsdl_is_never_sent():
    sim = EchoSimulator()
    caller = caller_for(sim)
    with pytest.raises(RequestInvalid):
        caller.call("Echo", Text="a", write=False)  # Times is required
    assert sim.calls == {}


def test_lost_response_is_unknown_and_the_write_is_not_retried():
    sim = EchoSimulator(Knobs(faults={"lost": 1.0}, seed=1))
    caller = caller_for(sim)
    with pytest.raises(TransportFailure) as err:
        caller.call("Store", Text="x", write=True)
    assert err.value.maybe_processed is True
    assert sim.stored == ["x"], "the write was committed before the connection dropped"
    assert sim.calls["Store"] == 1, "a write is never retried blindly"


def test_reads_are_retried_through_transient_faults():
    sim = EchoSimulator(Knobs(faults={"http500": 0.5}, seed=3))
    caller = caller_for(sim)
    results = [caller.call("Echo", Text="a", Times=1, write=False) for _ in range(20)]
    assert results == ["a"] * 20
    assert sum(sim.calls.values()) < sum(caller.meter.counts.values()) + 1


def test_malformed_answer_is_response_invalid():
    sim = EchoSimulator(Knobs(faults={"malformed": 1.0}, seed=1))
    caller = caller_for(sim)
    with pytest.raises(ResponseInvalid):
        caller.call("Store", Text="x", write=True)


def test_state_file_survives_a_restart(tmp_path):
    state = tmp_path / "echo.json"
    sim = EchoSimulator(state_file=state)
    caller_for(sim).call("Store", Text="kept", write=True)
    again = EchoSimulator(state_file=state)
    assert again.load_state() and again.stored == ["kept"]


@pytest.mark.loopback
def test_loopback_socket_round_trip_faults_and_wsdl():
    sim = EchoSimulator(Knobs(seed=7))
    with LoopbackServer(sim) as server:
        url = server.url("/echo.asmx")
        wsdl = httpx.get(url + "?WSDL").text
        assert f'location="{url}"' in wsdl
        caller = caller_for(sim, url=url, transport=httpx.HTTPTransport())
        assert caller.call("Echo", Text="z", Times=2, write=False) == "zz"
        sim.knobs.faults = {"reset": 1.0}
        with pytest.raises(TransportFailure) as err:
            caller.call("Store", Text="x", write=True)
        assert sim.stored == [] and err.value.maybe_processed
        sim.knobs.faults = {"slow": 1.0}
        sim.knobs.slow_seconds = 2.0
        slow = caller_for(sim, url=url, transport=httpx.HTTPTransport(), timeouts=Timeouts(read=0.3))
        with pytest.raises(TransportFailure, match="no answer in time"):
            slow.call("Store", Text="y", write=True)


def test_dtd_in_request_is_refused():
    sim = EchoSimulator()
    body = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
            b'<soap:Body><Echo xmlns="http://example.test/echo"><Text>&a;</Text><Times>1</Times></Echo></soap:Body></soap:Envelope>')
    with httpx.Client(transport=InProcessTransport(app=sim)) as http:
        reply = http.post("http://sim/echo.asmx", content=body,
                          headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"http://example.test/echo/Echo"'})
    assert reply.status_code == 500 and b"DTD is prohibited" in reply.content


def test_wrong_soapaction_is_refused():
    sim = EchoSimulator()
    body = (b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
            b'<Echo xmlns="http://example.test/echo"><Text>a</Text><Times>1</Times></Echo></soap:Body></soap:Envelope>')
    with httpx.Client(transport=InProcessTransport(app=sim)) as http:
        reply = http.post("http://sim/echo.asmx", content=body,
                          headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"http://example.test/echo/Store"'})
    assert reply.status_code == 500 and b"SOAPAction" in reply.content
