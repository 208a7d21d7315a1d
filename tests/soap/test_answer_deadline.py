"""A server that drips its answer a byte at a time, each byte inside the read timeout, must not
hold a call (and so a run) for ever: the whole answer has a deadline of a few read timeouts."""

from __future__ import annotations

import time

import pytest

from core.soap.errors import TransportFailure
from core.soap.loopback import LoopbackServer
from core.soap.caller import RetryPolicy, SoapCaller
from core.soap.transport import ANSWER_DEADLINE_READS, Timeouts, make_http_client, make_service
from tests.soap.test_soap_layer import NS, WSDL

pytestmark = pytest.mark.loopback


def dripping(pause: float, seconds: float):
    """A WSGI app whose answer never stops arriving within `seconds`: one space every `pause`."""

    def app(environ, start_response):
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])

        def body():
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                yield b" "
                time.sleep(pause)

        return body()

    return app


def test_a_dripping_answer_is_given_up_after_its_deadline():
    read = 0.2
    with LoopbackServer(dripping(pause=0.02, seconds=15)) as server:
        http = make_http_client(timeouts=Timeouts(connect=1, read=read))
        client, proxy = make_service(WSDL, f"{{{NS}}}EchoSoap", server.url("/echo.asmx"), http)
        caller = SoapCaller("echo", proxy, retry=RetryPolicy(attempts=1), transport=client.transport)
        started = time.monotonic()
        with pytest.raises(TransportFailure) as caught:
            caller.call_once("Echo", Text="x", Times=1)
        took = time.monotonic() - started
    deadline = ANSWER_DEADLINE_READS * read
    assert deadline <= took < deadline + 2.0
    assert "still arriving" in str(caught.value) and caught.value.maybe_processed
