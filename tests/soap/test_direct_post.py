"""A SOAP request from a client made by `make_http_client` goes straight to its transport
(core.soap.transport, HttpxTransport._posted): the same request as httpx's own sending would
make, without its CPU. Whatever httpx's sending would change (a proxy, a cookie) takes its way."""

from __future__ import annotations

import httpx
import pytest

from core.soap.transport import USER_AGENT, HttpxTransport, Timeouts, make_http_client

URL = "https://soap.example.test/soap.asmx"


class Service:
    """An httpx.MockTransport handler that notes each request and answers a little XML,
    setting a cookie when asked to."""

    def __init__(self, set_cookie: str = ""):
        self.requests: list[httpx.Request] = []
        self.set_cookie = set_cookie

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        if self.set_cookie:
            headers["Set-Cookie"] = self.set_cookie
        return httpx.Response(200, headers=headers, content=b"<answer>\xc3\xa9</answer>")


def test_a_post_goes_straight_to_the_transport_with_the_clients_headers_and_timeouts(monkeypatch):
    service = Service()
    http = make_http_client(timeouts=Timeouts(connect=3, read=7, write=5, pool=2),
                            transport=httpx.MockTransport(service))
    monkeypatch.setattr(httpx.Client, "send", lambda *a, **k: pytest.fail("httpx's own sending was used"))
    reply = HttpxTransport(http).post(URL, b"<envelope/>", {"SOAPAction": '"urn:AddRelatie"',
                                                           "Content-Type": "text/xml; charset=utf-8"})
    assert (reply.status_code, reply.content, reply.encoding) == (200, "<answer>é</answer>".encode(), "utf-8")
    (request,) = service.requests
    assert request.headers["User-Agent"] == USER_AGENT and request.headers["SOAPAction"] == '"urn:AddRelatie"'
    assert request.headers["Content-Length"] == str(len(b"<envelope/>")) and request.read() == b"<envelope/>"
    assert request.extensions["timeout"] == {"connect": 3, "read": 7, "write": 5, "pool": 2}


def test_a_cookie_the_service_sets_is_sent_back_from_then_on():
    service = Service(set_cookie="ARRAffinity=abc123; Path=/; Secure")
    transport = HttpxTransport(make_http_client(transport=httpx.MockTransport(service)))
    transport.post(URL, b"<one/>", {})
    transport.post(URL, b"<two/>", {})
    assert "cookie" not in service.requests[0].headers
    assert service.requests[1].headers["Cookie"] == "ARRAffinity=abc123"


def test_behind_a_proxy_httpx_sends_it(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.test:3128")
    http = make_http_client()
    assert getattr(http, "pvsync_transport", None) is None, "every request takes httpx's way, proxies and all"
    http.close()
