"""The base of both service simulators: a WSGI app that speaks SOAP 1.1 and 1.2 like an
ASP.NET ASMX service, serves its WSDL, and injects the faults and latency a real
network and a real service produce.

A concrete simulator (e-Boekhouden, PerfectView) subclasses `SoapSimulator` and
implements `handle(operation, request)`; everything about envelopes, faults, knobs,
call counts and keeping state in a file lives here once.
"""

from __future__ import annotations

import json
import os
import random
import re
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, NamedTuple
from urllib.parse import parse_qs

from lxml import etree

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
MAX_REQUEST_BYTES = 16 * 1024 * 1024
# The WSGI environ key under which core.soap.loopback hands a simulator the call's WireTiming;
# without one (in process) a call arrives when the app is called and nothing is learnt.
WIRE = "pvsync.wire"

FAULT_KINDS = ("reset", "lost", "http500", "fault", "malformed", "slow", "session", "spike")
FAULT_HELP = {
    "reset": "connection reset before the request is processed (nothing happens)",
    "lost": "the request is processed and committed, then the connection drops (response lost)",
    "http500": "HTTP 500 with an HTML error page, nothing processed",
    "fault": "HTTP 500 with a soap:Server fault (an unhandled error in the service), nothing processed",
    "malformed": "the request is processed and committed, the answer is truncated XML",
    "slow": "the answer's body stalls for `slow_seconds` halfway (a read timeout on the client)",
    "session": "the session expires just before this call (in-band session error)",
    "spike": "this call takes `spike_ms` extra latency",
}


class SimulatedDisconnect(ConnectionAbortedError):
    """Raised inside the app to make the server drop the connection without an answer.

    A ConnectionAbortedError on purpose: wsgiref's handler then writes nothing, and the
    loopback server resets the socket; the in-process transport turns it into the
    error httpx raises for a dropped connection.
    """

    def __init__(self, committed: bool):
        self.committed = committed
        super().__init__("simulated disconnect" + (" after commit" if committed else ""))


class ClientFault(Exception):
    """The request cannot be read: HTTP 500 with a soap:Client / soap:Sender fault."""


class ServerFault(Exception):
    """The service failed while processing: HTTP 500 with a soap:Server / soap:Receiver fault."""


@dataclass
class Knobs:
    """What the network and the service do to each call. All rates are per call, 0..1."""

    latency_ms: float = 0.0
    faults: dict[str, float] = field(default_factory=dict)
    slow_seconds: float = 30.0
    spike_ms: float = 2000.0
    seed: int | None = None

    @classmethod
    def parse_faults(cls, spec: str, kinds: tuple[str, ...] = FAULT_KINDS) -> dict[str, float]:
        """'lost=0.05,http500=0.1' -> {'lost': 0.05, 'http500': 0.1}; 'all=0.2' spreads 0.2 evenly
        over the `kinds` this simulator knows (spikes apart)."""
        rates: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in (spec or "").split(","))):
            name, _, value = part.partition("=")
            name = name.strip()
            try:
                rate = float(value)
            except ValueError:
                raise ValueError(f"fault {part!r}: the rate must be a number between 0 and 1") from None
            if not 0 <= rate <= 1:
                raise ValueError(f"fault {part!r}: the rate must be between 0 and 1")
            if name == "all":
                for kind in kinds:
                    if kind != "spike":
                        rates[kind] = rate / (len(kinds) - 1)
            elif name in kinds:
                rates[name] = rate
            else:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(kinds)}, all")
        return rates


def secure_parser() -> etree.XMLParser:
    # No DTDs, no entities, no network: a request with a DOCTYPE is refused before parsing.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           remove_comments=True, huge_tree=False)


_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


def write_state_file(path: Path, data: Any) -> None:
    """A simulator's state as JSON, replaced whole (a crash leaves the old file, never half a new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".sim-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, default=str)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def read_state_file(path: Path | None) -> Any | None:
    """What `write_state_file` wrote, or None when there is no such file."""
    if path and path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    return None


class StateFile:
    """A simulator's data kept in a state file: `state_file`, `dirty`, and the subclass's
    `state_to_json` / `state_from_json`."""

    state_file: Path | None
    dirty: bool

    def state_to_json(self) -> Any:
        raise NotImplementedError

    def state_from_json(self, data: Any) -> None:
        raise NotImplementedError

    def load_state(self) -> bool:
        data = read_state_file(self.state_file)
        if data is not None:
            self.state_from_json(data)
        return data is not None

    def save_state(self) -> None:
        if not self.state_file:
            return
        write_state_file(self.state_file, self.state_to_json())
        self.dirty = False


IIS_ERROR_PAGE = b"<html><body><h1>500 - Internal server error.</h1></body></html>"


class WireTiming:
    """One call's time on a loopback socket, as core.soap.loopback sees it: when its request's
    first line came in, and (told after the answer is written) when the answer was out."""

    def __init__(self, arrived: float):
        self.arrived = arrived
        self.on_written: Callable[[float], None] | None = None

    def written(self, at: float) -> None:
        if self.on_written is not None:
            self.on_written(at)


class Deadline(NamedTuple):
    due: float  # time.monotonic() when the answer is due
    woke: float  # when the latency's wait was to end and the call's work to begin
    wire: WireTiming | None = None


class NetworkFaults:
    """What the network and the web server do to a call before the service sees it, for both
    APIs' simulators alike: `knobs`, `rng` and `events` are the simulator's."""

    knobs: Knobs
    rng: random.Random
    events: list[str]

    def roll(self, kind: str) -> bool:
        rate = self.knobs.faults.get(kind, 0.0)
        return rate > 0 and self.rng.random() < rate

    def connection_faults(self, start_response) -> list[bytes] | None:
        """A reset connection (raised), or IIS's own error page (its body returned); None for neither."""
        if self.roll("reset"):
            self.events.append("fault reset")
            raise SimulatedDisconnect(committed=False)
        if self.roll("http500"):
            self.events.append("fault http500")
            start_response("500 Internal Server Error", [("Content-Type", "text/html"),
                                                         ("Content-Length", str(len(IIS_ERROR_PAGE)))])
            return [IIS_ERROR_PAGE]
        return None

    # What the simulator's own work for a call took lately (seconds), from when the latency's
    # wait was to end (so the sleep's waking late counts too): see `network_delay`.
    _work_seconds: float = 0.0
    # How long after `answer_due` let an answer go it was out on a loopback socket, lately
    # (seconds): the second sleep's waking late and writing the answer. See `answer_due`.
    _late_seconds: float = 0.0

    def network_delay(self, environ: dict) -> Deadline:
        """Wait out the call's latency (now and then with a spike), outside any lock so concurrent
        callers overlap like on a real network; `answer_due` waits out the rest before answering.

        The latency is the call's whole round trip, as a client times it on a real service, and
        the simulator's own work (reading the request, the administration, writing the answer)
        is done inside it, not on top of it: this wait leaves room for that work as the last
        calls took it (at most half the latency). Added on top, that work was a few ms a call
        with four callers queued on one interpreter lock: a slower service than the knob says,
        which no client can make up for and a benchmark's floor (calls x latency) cannot see.
        The call came in when its request's first line did (on a loopback socket: reading the
        headers is the simulator's work too), else now."""
        wire = environ.get(WIRE)
        arrived = wire.arrived if wire is not None else time.monotonic()
        delay = self.knobs.latency_ms / 1000.0
        if self.roll("spike"):
            self.events.append("fault spike")
            delay += self.knobs.spike_ms / 1000.0
        due = arrived + delay
        wake = due - min(self._work_seconds + self._late_seconds, delay / 2)
        now = time.monotonic()
        if wake > now:
            time.sleep(wake - now)
        return Deadline(due, max(wake, now), wire)

    def answer_due(self, deadline: Deadline) -> None:
        """Wait until the answer is due (see `network_delay`), learning how long the work took.

        On a loopback socket an answer is out some time after this returns (the sleep wakes
        late, wsgiref writes the status line, the headers and the body in Python): answers go
        that much earlier, as the last ones needed, so that they are out when due. A minimal
        client on this machine timed 20.7 ms a call at 20 ms before, 20.3 ms after (the rest is
        its own sending and reading). At most a quarter of the latency, and nothing is learnt
        from an answer that took longer than that (a dripped one): a simulator that writes
        slowly shows, it is not hidden."""
        now = time.monotonic()
        self._work_seconds += 0.2 * (now - deadline.woke - self._work_seconds)
        cap = self.knobs.latency_ms / 4000.0
        release = deadline.due - min(self._late_seconds, cap)
        if release > now:
            time.sleep(release - now)
        if deadline.wire is not None:
            could_go = max(release, now)

            def learn(written: float) -> None:
                late = written - could_go
                if 0 <= late <= cap:
                    self._late_seconds += 0.2 * (late - self._late_seconds)

            deadline.wire.on_written = learn


class SoapSimulator(StateFile, NetworkFaults):
    """Base WSGI app. Subclasses set `namespace`, `path`, `wsdl_file`, `service_name`."""

    namespace: str = ""
    path: str = "/"
    wsdl_file: Path
    service_name: str = "simulator"

    def __init__(self, knobs: Knobs | None = None, state_file: str | os.PathLike | None = None):
        self.knobs = knobs or Knobs()
        self.rng = random.Random(self.knobs.seed)
        self.calls: Counter[str] = Counter()
        self.lock = threading.RLock()
        self.state_file = Path(state_file) if state_file else None
        self.dirty = False
        self.events: list[str] = []  # what the simulator did, for its own log (no secrets)
        self._wsdl_template = self.wsdl_file.read_text(encoding="utf-8")

    # ------------------------------------------------------------------ for subclasses

    def handle(self, operation: str, request: etree._Element) -> etree._Element:
        """Process one operation; return the `<OperationResponse>` element."""
        raise NotImplementedError

    def expire_sessions(self) -> None:
        """Fault 'session': make the caller's session invalid (services with sessions)."""

    # ------------------------------------------------------------------ helpers

    def element(self, name: str, text: Any = None, *children: etree._Element) -> etree._Element:
        el = etree.Element(f"{{{self.namespace}}}{name}", nsmap={None: self.namespace})
        if text is not None:
            el.text = text if isinstance(text, str) else str(text)
        el.extend(children)
        return el

    def child_text(self, parent: etree._Element, name: str, default: str | None = None) -> str | None:
        el = parent.find(f"{{{self.namespace}}}{name}")
        if el is None:
            return default
        return el.text or ""

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if path.rstrip("/").lower() != self.path.rstrip("/").lower():
            return self._plain(start_response, "404 Not Found", f"no service at {path}")
        if method == "GET":
            if any(k.lower() == "wsdl" for k in query):
                return self._wsdl(environ, start_response)
            return self._plain(start_response, "200 OK", f"{self.service_name} simulator; WSDL at {self.path}?WSDL")
        if method != "POST":
            return self._plain(start_response, "405 Method Not Allowed", "POST a SOAP envelope")
        return self._post(environ, start_response)

    def _wsdl(self, environ, start_response):
        host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
        url = f"{environ.get('wsgi.url_scheme', 'http')}://{host}{self.path}"
        text = re.sub(r'(<(?:soap|soap12|wsdl):address\s+location=")[^"]*(")', rf"\g<1>{url}\g<2>", self._wsdl_template)
        body = text.encode("utf-8")
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]

    def _plain(self, start_response, status: str, text: str):
        body = text.encode("utf-8")
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]

    def _post(self, environ, start_response):
        content_type = environ.get("CONTENT_TYPE", "")
        soap12 = "application/soap+xml" in content_type
        envelope_ns = SOAP12_NS if soap12 else SOAP11_NS
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_REQUEST_BYTES:
            return self._fault(start_response, envelope_ns, ClientFault("Request too large."))
        raw = environ["wsgi.input"].read(length) if length else b""

        page = self.connection_faults(start_response)
        if page is not None:
            return page
        deadline = self.network_delay(environ)

        # A refused call takes its round trip too (answer_due), as the service's faults do; the
        # wait is outside the administration's lock.
        try:
            operation, request = self._read_request(raw, envelope_ns, soap12, environ)
        except ClientFault as fault:
            self.answer_due(deadline)
            return self._fault(start_response, envelope_ns, fault)
        if self.roll("fault"):
            self.events.append(f"fault fault (soap:Server) before {operation}")
            self.answer_due(deadline)
            return self._fault(start_response, envelope_ns, ServerFault(
                "Server was unable to process request. ---> Object reference not set to an instance of an object."))
        refused: ClientFault | ServerFault | None = None
        with self.lock:
            self.calls[operation] += 1
            if self.roll("session"):
                self.events.append(f"fault session before {operation}")
                self.expire_sessions()
            try:
                response = self.handle(operation, request)
            except (ClientFault, ServerFault) as fault:
                refused = fault
            else:
                if self.dirty:
                    self.save_state()
        if refused is not None:
            self.answer_due(deadline)
            return self._fault(start_response, envelope_ns, refused)
        if self.roll("lost"):
            self.events.append(f"fault lost after {operation}")
            raise SimulatedDisconnect(committed=True)
        body = self._envelope(envelope_ns, response)
        if self.roll("malformed"):
            self.events.append(f"fault malformed after {operation}")
            body = body[: max(1, len(body) // 2)]
        headers = [("Content-Type", ("application/soap+xml" if soap12 else "text/xml") + "; charset=utf-8"),
                   ("Content-Length", str(len(body)))]
        self.answer_due(deadline)
        start_response("200 OK", headers)
        if self.roll("slow"):
            self.events.append(f"fault slow after {operation}")
            return self._slow_body(body)
        return [body]

    def _slow_body(self, body: bytes):
        half = len(body) // 2
        yield body[:half]
        time.sleep(self.knobs.slow_seconds)
        yield body[half:]

    def _read_request(self, raw: bytes, envelope_ns: str, soap12: bool, environ) -> tuple[str, etree._Element]:
        if not raw:
            raise ClientFault("Server was unable to read request. ---> Root element is missing.")
        if _DOCTYPE.search(raw[:4096]) or _DOCTYPE.search(raw):
            raise ClientFault("Server was unable to read request. ---> DTD is prohibited in this XML document.")
        try:
            root = etree.fromstring(raw, secure_parser())
        except etree.XMLSyntaxError as exc:
            raise ClientFault(f"Server was unable to read request. ---> There is an error in the XML document. {exc}") from None
        if root.tag != f"{{{envelope_ns}}}Envelope":
            raise ClientFault("Possible SOAP version mismatch: Envelope namespace "
                              f"{etree.QName(root).namespace} was unexpected. Expecting {envelope_ns}.")
        body = root.find(f"{{{envelope_ns}}}Body")
        if body is None or len(body) == 0:
            raise ClientFault("Server was unable to read request. ---> The SOAP body is empty.")
        request = body[0]
        qname = etree.QName(request)
        if qname.namespace != self.namespace:
            raise ClientFault(f"Server did not recognize the value of HTTP Header SOAPAction: {qname.text}.")
        operation = qname.localname
        if not soap12:
            action = environ.get("HTTP_SOAPACTION", "").strip('"')
            expected = f"{self.namespace.rstrip('/')}/{operation}"
            if action != expected:
                raise ClientFault(f"Server did not recognize the value of HTTP Header SOAPAction: {action}.")
        return operation, request

    def _envelope(self, envelope_ns: str, response: etree._Element) -> bytes:
        nsmap = {"soap": envelope_ns, "xsi": XSI_NS, "xsd": XSD_NS}
        env = etree.Element(f"{{{envelope_ns}}}Envelope", nsmap=nsmap)
        body = etree.SubElement(env, f"{{{envelope_ns}}}Body")
        body.append(response)
        return etree.tostring(env, xml_declaration=True, encoding="utf-8")

    def _fault(self, start_response, envelope_ns: str, fault: Exception):
        client = isinstance(fault, ClientFault)
        nsmap = {"soap": envelope_ns, "xsi": XSI_NS, "xsd": XSD_NS}
        env = etree.Element(f"{{{envelope_ns}}}Envelope", nsmap=nsmap)
        body = etree.SubElement(env, f"{{{envelope_ns}}}Body")
        node = etree.SubElement(body, f"{{{envelope_ns}}}Fault")
        if envelope_ns == SOAP11_NS:
            etree.SubElement(node, "faultcode").text = "soap:Client" if client else "soap:Server"
            etree.SubElement(node, "faultstring").text = str(fault)
            etree.SubElement(node, "detail")
        else:
            code = etree.SubElement(node, f"{{{envelope_ns}}}Code")
            etree.SubElement(code, f"{{{envelope_ns}}}Value").text = "soap:Sender" if client else "soap:Receiver"
            reason = etree.SubElement(node, f"{{{envelope_ns}}}Reason")
            text = etree.SubElement(reason, f"{{{envelope_ns}}}Text")
            text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
            text.text = str(fault)
            etree.SubElement(node, f"{{{envelope_ns}}}Detail")
        payload = etree.tostring(env, xml_declaration=True, encoding="utf-8")
        ctype = ("application/soap+xml" if envelope_ns == SOAP12_NS else "text/xml") + "; charset=utf-8"
        start_response("500 Internal Server Error", [("Content-Type", ctype), ("Content-Length", str(len(payload)))])
        return [payload]
