"""Running a simulator: in-process through httpx, or on a real loopback socket."""

from __future__ import annotations

import socket
import struct
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

import httpx

from core.soap.simulator import SimulatedDisconnect


class InProcessTransport(httpx.WSGITransport):
    """httpx's WSGI transport, with the simulator's dropped connections raised as the
    error httpx gives for a real one (the client cannot tell the difference)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except SimulatedDisconnect:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.",
                                            request=request) from None


class _Handler(WSGIRequestHandler):
    def log_message(self, format, *args):  # the simulators keep their own event log
        pass

    def handle(self):
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536 or not self.raw_requestline or not self.parse_request():
            return
        handler = ServerHandler(self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True)
        handler.request_handler = self
        dropped = []

        def app(environ, start_response):
            try:
                return self.server.get_app()(environ, start_response)
            except SimulatedDisconnect:
                dropped.append(True)
                raise

        handler.run(app)
        if dropped:
            # RST instead of FIN: what a client sees when a proxy or server dies mid-call.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


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

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
