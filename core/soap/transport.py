"""zeep over httpx: explicit timeouts, TLS verification on, a size cap on answers.

zeep's own transport uses requests with no operation timeout by default and logs whole
envelopes at DEBUG; this one uses an httpx.Client the caller builds (so tests can hand
in an in-process WSGI transport), loads WSDLs only from local files, and never logs a
body.
"""

from __future__ import annotations

import functools
import socket
import ssl
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

import certifi
import httpx
import zeep
from httpx._utils import get_environment_proxies  # httpx's own reading of HTTP(S)_PROXY and NO_PROXY
from zeep.wsdl import Document
from lxml import etree
from zeep.transports import Transport
from zeep.xsd.types.builtins import Boolean, treat_whitespace
from zeep.xsd.types.simple import AnySimpleType

from core.secrets import quiet_wire_loggers

USER_AGENT = "pvsync (+https://github.com/pvsync)"
# The largest answer pvsync will read. GetRelaties for a large administration is a few
# MB; anything far beyond that is a broken or hostile server, not data.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
NO_DELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    read: float = 60.0
    write: float = 30.0
    pool: float = 10.0

    def as_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


class ResponseTooLarge(Exception):
    pass


class AnswerTooSlow(Exception):
    """The answer kept arriving, slower than any real service sends, past the call's deadline."""


# A whole answer may take this many read timeouts. The read timeout bounds each pause between
# bytes; a server that drips a byte just inside it would otherwise hold a call (and the run)
# for ever. Five is far above what a few MB of GetRelaties needs on any working line.
ANSWER_DEADLINE_READS = 5


@functools.lru_cache(maxsize=16)
def _tls_context(ca_file: str | None, modified: float | None) -> ssl.SSLContext:
    """One verifying TLS context per CA file (and its modification time), shared by every client.

    Loading the CA bundle costs 100 to 200 ms of CPU, and each run makes two clients; a
    context is safe to share between connections and threads.
    """
    return ssl.create_default_context(cafile=ca_file or certifi.where())


def _modified(ca_file: str | Path | None) -> float | None:
    try:
        return Path(ca_file).stat().st_mtime if ca_file else None
    except OSError:
        return None  # ssl names the missing file when the context is made


def make_http_client(*, timeouts: Timeouts = Timeouts(), ca_file: str | Path | None = None,
                     transport: httpx.BaseTransport | None = None,
                     max_connections: int = 8) -> httpx.Client:
    """An httpx client for one service. Verification is always on; a custom CA file is
    the only way to trust another certificate (there is deliberately no switch to turn
    verification off)."""
    verify = _tls_context(str(ca_file) if ca_file else None, _modified(ca_file))
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    mounts = None
    if transport is None:
        # TCP_NODELAY, as curl and urllib3 set it: httpcore writes a request's headers and body
        # one after the other, and on a kept-alive connection Nagle's algorithm holds the body
        # until the server's delayed ACK of the headers (up to 40 ms a call). A transport of our
        # own turns off httpx's proxies from the environment, so they are mounted as httpx would.
        transport = httpx.HTTPTransport(verify=verify, limits=limits, socket_options=NO_DELAY)
        mounts = {pattern: None if url is None else httpx.HTTPTransport(
                      verify=verify, limits=limits, socket_options=NO_DELAY, proxy=httpx.Proxy(url))
                  for pattern, url in get_environment_proxies().items()}
    client = httpx.Client(timeout=timeouts.as_httpx(), verify=verify, transport=transport, mounts=mounts,
                          headers={"User-Agent": USER_AGENT}, follow_redirects=False, limits=limits)
    if not mounts:
        client.pvsync_transport = transport  # every address goes through it: see HttpxTransport.post
    return client


class _Reply:
    """The slice of a response zeep reads: status, headers, encoding and the body bytes."""

    def __init__(self, status_code: int, headers: httpx.Headers, content: bytes, response: httpx.Response):
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self._response = response

    @property
    def encoding(self) -> str | None:
        # Asked for by zeep only for a multipart answer: worked out then, not for every call.
        return self._response.encoding


class HttpxTransport(Transport):
    """A zeep Transport that posts through an httpx.Client."""

    def __init__(self, http: httpx.Client, max_response_bytes: int = MAX_RESPONSE_BYTES):
        quiet_wire_loggers()
        # Not calling super().__init__: it builds a requests.Session we never use.
        self.cache = None
        self.load_timeout = http.timeout.read
        self.operation_timeout = http.timeout.read
        self.http = http
        self.max_response_bytes = max_response_bytes
        self.answer_deadline = ANSWER_DEADLINE_READS * http.timeout.read if http.timeout.read else None
        self._close_session = False
        self._local = threading.local()
        # Per address its parsed URL, per set of a call's own headers the client's merged with
        # them: the same few for thousands of calls, worked out once (see `_posted`).
        self._urls: dict[str, httpx.URL] = {}
        self._headers: dict[tuple[tuple[str, str], ...], httpx.Headers] = {}

    def begin_call(self) -> None:
        self._local.posted = False
        self._local.status = None

    def posted(self) -> bool:
        """Whether the current thread's call got as far as sending its request."""
        return getattr(self._local, "posted", True)

    def status(self) -> int | None:
        """The HTTP status of the current thread's call, once its answer started."""
        return getattr(self._local, "status", None)

    def post(self, address, message, headers):
        self._local.posted = True
        started = time.monotonic()
        with self._posted(address, message, headers) as response:
            self._local.status = response.status_code
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise ResponseTooLarge(f"answer larger than {self.max_response_bytes // (1024 * 1024)} MB")
                if self.answer_deadline is not None and time.monotonic() - started > self.answer_deadline:
                    raise AnswerTooSlow(f"the answer was still arriving after {self.answer_deadline:g} s "
                                        f"({size} bytes so far); the call was given up")
                chunks.append(chunk)
            return _Reply(response.status_code, response.headers, b"".join(chunks), response)

    @contextmanager
    def _posted(self, address, message, headers) -> Iterator[httpx.Response]:
        """The answer to a POST, as a stream.

        httpx.Client's own sending (authentication, redirects, cookies, event hooks, merging
        the request with the client's defaults) costs more CPU than the HTTP exchange itself:
        0.6 ms against 0.35 ms a call, thousands of times in a first run, on the interpreter
        lock the other calls in flight wait for. None of it has work to do for pvsync's SOAP
        calls, so when the client was made by `make_http_client` without a proxy, the request
        goes straight to its one transport, with the client's headers and timeouts. Anything
        else (a proxy, a cookie the service set, a client made elsewhere) takes httpx's way.
        """
        http = self.http
        transport = getattr(http, "pvsync_transport", None)
        if transport is None or http.is_closed or http.cookies or http.auth is not None \
                or any(http.event_hooks.values()):
            with http.stream("POST", address, content=message, headers=headers) as response:
                yield response
            return
        url = self._urls.get(address)
        if url is None:
            url = self._urls[address] = httpx.URL(address)
        key = tuple(headers.items())
        merged = self._headers.get(key)
        if merged is None:
            merged = http.headers.copy()
            merged.update(headers)
            self._headers[key] = merged
        request = httpx.Request("POST", url, content=message, headers=merged,
                                extensions={"timeout": http.timeout.as_dict()})
        response = transport.handle_request(request)
        response.request = request
        try:
            if "set-cookie" in response.headers:
                http.cookies.extract_cookies(response)  # sent back from then on, as httpx would
            yield response
        finally:
            response.close()

    def post_xml(self, address, envelope, headers):
        from zeep.wsdl.utils import etree_to_string

        return self.post(address, etree_to_string(envelope), headers)

    def get(self, address, params, headers):
        response = self.http.get(address, params=params, headers=headers)
        return _Reply(response.status_code, response.headers, response.content, response)

    def load(self, url):
        # WSDLs ship inside the package; fetching schemas over the network at start-up
        # would make pvsync depend on the service being up just to start.
        if urlparse(str(url)).scheme in ("http", "https"):
            raise ValueError(f"pvsync loads WSDL and XSD documents from its package only, not from {url}")
        return Path(url).expanduser().read_bytes()

    def __del__(self):  # the http client belongs to whoever made it
        pass


class _RefusingValue:
    """zeep's AnySimpleType.parse_xmlelement, but a value that does not convert raises.

    Even in strict mode zeep logs "abc" for an int (or a date) and reads it as missing; an
    answer like that is not one to act on, so it is refused (the caller turns the ValueError
    into ResponseInvalid) instead of reaching a sync as an empty value.
    """

    def parse_xmlelement(self, xmlelement, schema=None, allow_none=True, context=None, schema_type=None):
        if xmlelement.text is None:
            return None
        try:
            return self.pythonvalue(xmlelement.text)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{etree.QName(xmlelement).localname} is not {type(self).__name__}: {exc}") from None


class _RefusingBoolean(_RefusingValue):
    @treat_whitespace("collapse")
    def pythonvalue(self, value):
        """zeep's Boolean.pythonvalue reads anything but "true"/"1" as false: "ja" or "yes" in
        Succeeded or IsInactive would silently become false. XML Schema knows four spellings."""
        if value in ("true", "1"):
            return True
        if value in ("false", "0"):
            return False
        raise ValueError(f"{value!r} is not true, false, 1 or 0")


@functools.cache
def _refusing_class(cls: type) -> type:
    mixin = _RefusingBoolean if issubclass(cls, Boolean) else _RefusingValue
    # The stock name (it is what error messages show), and the stock class for readers that
    # treat one zeep type specially (core.soap.fast_read takes strings as they are).
    return type(cls.__name__, (mixin, cls), {"stock_class": cls})


def refuse_unreadable_values(document: Document) -> None:
    """Make one parsed WSDL's simple types refuse what stock zeep reads as missing or false.

    Every zeep Schema makes its own instances of the XML Schema types (and of the WSDL's
    named simple types), and its elements point at those: giving these instances a
    stricter class changes pvsync's clients only, never zeep for another user in the process.
    """
    for schema_document in document.types.documents:
        for xsd_type in schema_document._types.values():
            if isinstance(xsd_type, AnySimpleType) and not isinstance(xsd_type, _RefusingValue):
                xsd_type.__class__ = _refusing_class(type(xsd_type))


def zeep_settings() -> zeep.Settings:
    # strict: never "recover" a broken answer; no DTDs or entities (XXE, billion laughs);
    # no huge trees (lxml's own size limits stay on).
    return zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True,
                         xml_huge_tree=False, raw_response=False)


@functools.lru_cache(maxsize=None)
def _parsed_wsdl(wsdl_file: Path) -> tuple[Document, zeep.Settings]:
    """The WSDL as zeep parsed it, once per process, with pvsync's strict simple types.

    Parsing a WSDL and its schemas costs 30 to 120 ms of CPU, and every run makes a client
    per service: the parsed document is only read once loaded, so all clients share it.
    It is loaded from the local file; its transport is never used for a call.
    """
    settings = zeep_settings()
    with httpx.Client(verify=_tls_context(None, None)) as loader:
        document = Document(str(wsdl_file), HttpxTransport(loader), settings=settings)
    refuse_unreadable_values(document)
    return document, settings


def make_service(wsdl_file: Path, binding: str, endpoint: str, http: httpx.Client):
    """A zeep service proxy for `binding` (a QName) bound to `endpoint`."""
    document, settings = _parsed_wsdl(Path(wsdl_file).resolve())
    client = zeep.Client(document, transport=HttpxTransport(http), settings=settings)
    return client, client.create_service(binding, endpoint)


def check_endpoint(url: str, *, allow_http_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")) -> str:
    """An endpoint must be https; plain http is accepted for loopback simulators only."""
    parsed = urlparse(url)
    if parsed.scheme == "https" and parsed.hostname:
        return url
    if parsed.scheme == "http" and parsed.hostname in allow_http_hosts:
        return url
    raise ValueError(f"endpoint {url!r} must be an https:// URL (plain http only for a simulator on this machine)")
