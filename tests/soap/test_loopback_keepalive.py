"""A simulator on a loopback socket keeps its connections open between calls, as the real
services do (core.soap.loopback): calls reuse one connection, an answer that cannot be framed
ends its connection, a body the app left unread does not spill into the next call, and a
stopped simulator answers nothing more on a connection kept open before."""

from __future__ import annotations

import httpx
import pytest

from core.soap.loopback import LoopbackServer
from core.soap.transport import make_http_client


def echo(environ, start_response):
    """Answers with the request body (or with a word, leaving the body unread)."""
    path = environ["PATH_INFO"]
    if path == "/unread":
        body = b"left unread"
    else:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    if path == "/stream":  # no Content-Length: the end of the connection ends the answer
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([body[:3], body[3:]])
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture
def served():
    """(connections the server accepted, the server, a client as pvsync makes them)."""
    with LoopbackServer(echo) as server, make_http_client() as http:
        accepted: list = []
        opened = server.server.opened
        server.server.opened = lambda connection: (accepted.append(connection), opened(connection))
        yield accepted, server, http


def test_calls_share_one_connection_and_each_gets_its_own_answer(served):
    accepted, server, http = served
    answers = [http.post(server.url("/"), content=f"call {n} ".encode() * 200).content for n in range(5)]
    assert answers == [f"call {n} ".encode() * 200 for n in range(5)]
    assert len(accepted) == 1
    assert all(http.post(server.url("/"), content=b"x").http_version == "HTTP/1.1" for _ in range(2))


def test_a_body_left_unread_does_not_reach_the_next_call(served):
    accepted, server, http = served
    assert http.post(server.url("/unread"), content=b"<Envelope>" * 1000).content == b"left unread"
    assert http.post(server.url("/"), content=b"next").content == b"next"
    assert len(accepted) == 1


def test_an_answer_without_length_ends_its_connection(served):
    accepted, server, http = served
    streamed = http.post(server.url("/stream"), content=b"streamed")
    assert streamed.content == b"streamed" and streamed.headers["Connection"] == "close"
    assert http.post(server.url("/"), content=b"after").content == b"after"
    assert len(accepted) == 2  # the second call came on a new connection


def test_a_stopped_simulator_answers_nothing_on_a_kept_connection(served):
    accepted, server, http = served
    assert http.post(server.url("/"), content=b"before").content == b"before"
    server.stop()
    with pytest.raises(httpx.TransportError):
        http.post(server.url("/"), content=b"after")
