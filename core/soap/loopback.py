"""Running a simulator: in-process through httpx, or on a real loopback socket.

On a socket the simulators keep connections open between calls (HTTP/1.1 keep-alive), as
the real services do: a client that had to connect anew for every call would spend its
CPU on connections the services never make it open.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from socketserver import ThreadingMixIn
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

import httpx

from core.soap.simulator import WIRE, SimulatedDisconnect, WireTiming

# A connection nobody sent anything on for this long is closed (the clients give theirs up
# after 5 s idle, httpx's default; a server that closes first risks cutting a call in two).
IDLE_SECONDS = 30.0


class InProcessTransport(httpx.WSGITransport):
    """httpx's WSGI transport, with the simulator's dropped connections raised as the
    error httpx gives for a real one (the client cannot tell the difference)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except SimulatedDisconnect:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.",
                                            request=request) from None


class _Body:
    """The request body as the app reads it: at most Content-Length bytes of the stream, so
    the next request on the connection starts where this one ends (`rest` skips what the
    app left unread)."""

    def __init__(self, stream, length: int):
        self.stream, self.left = stream, length

    def read(self, size: int = -1) -> bytes:
        size = self.left if size is None or size < 0 else min(size, self.left)
        data = self.stream.read(size) if size else b""
        self.left -= len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        size = self.left if size is None or size < 0 else min(size, self.left)
        data = self.stream.readline(size) if size else b""
        self.left -= len(data)
        return data

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(iter(self.readline, b""))

    def __iter__(self):
        return iter(self.readline, b"")

    def rest(self) -> bool:
        """Read what the app left; False when the client went away before sending it all."""
        while self.left > 0:
            if not self.read(min(self.left, 65536)):
                return False
        return True


class _Answer(ServerHandler):
    """wsgiref's handler for one request, remembering whether the app failed (its answer is
    then an error page, or cut off if it had started: either way the connection ends)."""

    failed = False

    def handle_error(self):
        self.failed = True
        super().handle_error()


class _Handler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"  # parse_request keeps an HTTP/1.1 connection open unless asked to close
    timeout = IDLE_SECONDS

    def log_message(self, format, *args):  # the simulators keep their own event log
        pass

    def setup(self):
        super().setup()
        # wsgiref writes the status line, the headers and the body one by one: on a kept-alive
        # connection Nagle's algorithm would hold each answer's tail for the client's delayed ACK
        # (40 ms). The services answer in one piece.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.opened(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.closed(self.connection)

    def handle(self):
        self.close_connection = True
        self.handle_one()
        while not self.close_connection:
            self.handle_one()

    def handle_one(self):
        self.close_connection = True
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except (TimeoutError, OSError):  # idle past IDLE_SECONDS, or the client is gone
            return
        wire = WireTiming(time.monotonic())
        if len(self.raw_requestline) > 65536 or not self.raw_requestline or not self.parse_request():
            self.close_connection = True
            return
        # parse_request decided from the request's version and Connection header; a body we
        # cannot delimit (no Content-Length) ends the connection.
        keep_alive = not self.close_connection and "chunked" not in self.headers.get("Transfer-Encoding", "")
        try:
            length = max(0, int(self.headers.get("Content-Length") or 0))
        except ValueError:
            length, keep_alive = 0, False
        body = _Body(self.rfile, length)
        environ = self.get_environ()
        # The simulated latency counts from the request's first line, and the simulator learns
        # when its answers are out: reading the headers and writing the answer (wsgiref, in
        # Python) are inside the round trip, as a real service's are inside what its clients
        # time (see NetworkFaults.network_delay and answer_due).
        environ[WIRE] = wire
        handler = _Answer(body, self.wfile, self.get_stderr(), environ, multithread=True)
        handler.request_handler = self
        handler.http_version = "1.1"
        dropped, framed = [], []

        def app(environ, start_response):
            def respond(status, headers, exc_info=None):
                write = start_response(status, headers, exc_info)
                # An answer without Content-Length (a stream) ends where the connection closes.
                if any(name.lower() == "content-length" for name, _ in headers):
                    framed.append(True)
                else:
                    handler.headers["Connection"] = "close"  # the app may not set hop-by-hop headers
                return write

            try:
                return self.server.get_app()(environ, respond)
            except SimulatedDisconnect:
                dropped.append(True)
                raise

        handler.run(app)
        wire.written(time.monotonic())
        if dropped:
            # RST instead of FIN: what a client sees when a proxy or server dies mid-call.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        # Only an answer that was framed and sent whole leaves the connection usable.
        self.close_connection = not (keep_alive and framed and not handler.failed and body.rest())


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, *args, **kwargs):
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def opened(self, connection: socket.socket) -> None:
        with self._open_lock:
            self._open.add(connection)

    def closed(self, connection: socket.socket) -> None:
        with self._open_lock:
            self._open.discard(connection)

    def close_connections(self) -> None:
        """End the kept-alive connections too: a stopped simulator answers nothing more."""
        with self._open_lock:
            connections, self._open = list(self._open), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class LoopbackServer:
    """A simulator on 127.0.0.1 in a background thread. Use as a context manager."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        self.app = app
        self.server = _Server((host, port), _Handler)
        self.server.set_app(app)
        self.thread = threading.Thread(target=self.server.serve_forever, name="simulator", daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> LoopbackServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.server.close_connections()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
