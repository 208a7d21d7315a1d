"""A simulator of e-Boekhouden.nl's REST API (v1), strict enough that passing against it means something.

It serves the endpoints pvsync needs as the vendor's OpenAPI document describes them and as the
live service behaves where the two differ (NOTES.md §2.15): `{items, count}` lists with thin
items, `credDeb` required on the outstanding items, the `source` pattern without hyphens,
`Authorization` with or without `Bearer `, and the service's error body. It sits on the same
`Administration` as the SOAP simulator, so what one API books the other reads.

Faults and latency use the SOAP simulator's knobs (core.soap.simulator.FAULT_HELP; here "fault" is a
500 with the service's ERR_001 body, "session" a 401 and "malformed" truncated JSON), plus what a REST
client must survive: 429 with Retry-After ("throttle", `retry_after_seconds`), sessions that run out
(`session_ttl_seconds`, the "session" fault, `expire_sessions()`), and an API token that expires
(`expire_token()`) or is revoked (`revoke_token()`).
"""

from __future__ import annotations

import random
import re
import secrets
import time
from collections import Counter
from typing import Any, Callable, Iterable, Literal
from urllib.parse import parse_qs

from core.eboekhouden.administration import Administration
from core.eboekhouden.demo_data import load_or_seed
from core.eboekhouden.rest import sim_mutations, sim_relations
from core.eboekhouden.rest.sim_wire import (RestError, dump, envelope, filters, invalid, page, plain_int, read_body,
                                            unauthenticated)
from core.eboekhouden.soap.simulator import SimCredentials
from core.soap.simulator import Knobs, NetworkFaults, SimulatedDisconnect

SOURCE_PATTERN = re.compile(r"^[\w_ ]{1,10}$")  # .NET's \w is Unicode-aware, like Python's
DEMO_API_TOKEN = SimCredentials().api_token  # printed by `pvsync simulate`
MAX_BODY_BYTES = 4 * 1024 * 1024
# The request body types the document lists: application/json, application/json-patch+json, application/*+json.
_JSON_TYPES = re.compile(r"^\s*application/(json|[\w.-]+\+json)\s*(;.*)?$", re.IGNORECASE)
_ID = r"(-?\d+)"


class RestSimulator(NetworkFaults):
    """The WSGI app for /v1/…; `calls` counts requests per "METHOD /path template"."""

    def __init__(self, administration: Administration | None = None, knobs: Knobs | None = None, *,
                 api_token: str = DEMO_API_TOKEN, session_ttl_seconds: int = 3600, retry_after_seconds: int = 1,
                 seed_data: Literal["demo", "empty"] = "demo", state_file=None,
                 clock: Callable[[], float] = time.time):
        self.knobs = knobs or Knobs()
        self.rng = random.Random(self.knobs.seed)
        if administration is None:
            administration = load_or_seed(state_file, seed_data, self.knobs.seed)
        self.admin = administration
        self.api_token = api_token
        self.token_state: Literal["valid", "expired", "revoked"] = "valid"
        self.session_ttl_seconds = session_ttl_seconds
        self.retry_after_seconds = retry_after_seconds
        self.clock = clock
        self.sessions: dict[str, float] = {}  # session token -> expiry (clock)
        self.calls: Counter[str] = Counter()
        self.routes: list[tuple[str, re.Pattern[str], str, Callable[..., Any]]] = [
            (method, re.compile(f"^{pattern}$"), template, handler) for method, pattern, template, handler in (
                ("POST", "/v1/session", "/v1/session", self._start_session),
                ("DELETE", "/v1/session", "/v1/session", self._end_session),
                ("GET", "/v1/administration/linked", "/v1/administration/linked", self._linked),
                ("GET", "/v1/relation", "/v1/relation", self._relations),
                ("POST", "/v1/relation", "/v1/relation", self._create_relation),
                ("GET", f"/v1/relation/{_ID}", "/v1/relation/{id}", self._relation),
                ("PATCH", f"/v1/relation/{_ID}", "/v1/relation/{id}", self._patch_relation),
                ("GET", "/v1/ledger", "/v1/ledger", self._ledgers),
                ("GET", f"/v1/ledger/{_ID}", "/v1/ledger/{id}", self._ledger),
                ("GET", "/v1/mutation/invoice/outstanding", "/v1/mutation/invoice/outstanding", self._outstanding),
                ("GET", "/v1/mutation", "/v1/mutation", self._mutations),
                ("POST", "/v1/mutation", "/v1/mutation", self._create_mutation),
                ("GET", f"/v1/mutation/{_ID}", "/v1/mutation/{id}", self._mutation),
            )]

    @property
    def events(self) -> list[str]:
        """What the simulators did, shared with the SOAP one (no secrets: neither tokens nor codes)."""
        return self.admin.events

    # ------------------------------------------------------------------ what tests and the demo change

    def expire_sessions(self) -> None:
        self.sessions.clear()
        self.events.append("REST sessions expired")

    def expire_token(self) -> None:
        """The API token's end date has passed: POST /v1/session answers API_SESSION_004."""
        self.token_state = "expired"

    def revoke_token(self) -> None:
        """The token was deleted in e-Boekhouden: sessions end, a new one is refused."""
        self.token_state = "revoked"
        self.sessions.clear()

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/").rstrip("/") or "/"
        route = self._route(method, path)
        if route is None:
            return self._answer(start_response, 404, None)
        if route == "method":
            return self._answer(start_response, 405, None)
        template, handler, args = route
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            return self._answer(start_response, 413, None)
        raw = environ["wsgi.input"].read(length) if length else b""
        if raw and not _JSON_TYPES.match(environ.get("CONTENT_TYPE", "")):
            return self._answer(start_response, 415, None)  # ASP.NET's answer to a body it has no reader for

        page = self.connection_faults(start_response)
        if page is not None:
            return page
        if self.roll("throttle"):
            self.events.append(f"fault throttle before {template}")
            return self._answer(start_response, 429, None, (("Retry-After", str(self.retry_after_seconds)),))
        deadline = self.network_delay(environ)
        if self.roll("fault"):
            self.events.append(f"fault ERR_001 before {template}")
            error = RestError(500, "ERR_001")
            return self._answer(start_response, 500, error.body())

        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        with self.admin.lock:
            self.calls[f"{method} {template}"] += 1
            if self.roll("session"):
                self.events.append(f"fault session before {template}")
                self.expire_sessions()
            try:
                token = ""
                if template != "/v1/session" or method != "POST":
                    token = self._authenticate(environ.get("HTTP_AUTHORIZATION", ""))
                status, payload = handler(*args, query=query, raw=raw, token=token)
            except RestError as error:
                self.events.append(f"{method} {template} refused: {error.status} {error.code}")
                refused = error
            else:
                refused = None
                if self.admin.dirty:
                    self.admin.save_state()
        if refused is not None:
            self.answer_due(deadline)
            return self._answer(start_response, refused.status, refused.body(), refused.headers)
        if self.roll("lost"):
            self.events.append(f"fault lost after {method} {template}")
            raise SimulatedDisconnect(committed=True)
        body = b"" if payload is None else dump(payload)
        if self.roll("malformed"):
            self.events.append(f"fault malformed after {method} {template}")
            body = body[: max(1, len(body) // 2)]
        self.answer_due(deadline)
        if self.roll("slow"):
            self.events.append(f"fault slow after {method} {template}")
            return self._slow(start_response, status, body)
        return self._raw(start_response, status, body)

    def _route(self, method: str, path: str):
        allowed = False
        for route_method, pattern, template, handler in self.routes:
            match = pattern.match(path)
            if match:
                if route_method == method:
                    return template, handler, tuple(int(g) for g in match.groups())
                allowed = True
        return "method" if allowed else None

    def _answer(self, start_response, status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()):
        return self._raw(start_response, status, b"" if payload is None else dump(payload), headers)

    def _raw(self, start_response, status: int, body: bytes, headers: tuple[tuple[str, str], ...] = ()):
        reason = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
                  403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large",
                  415: "Unsupported Media Type",
                  429: "Too Many Requests", 500: "Internal Server Error"}[status]
        head = [("Content-Length", str(len(body))), *headers]
        if body:
            head.insert(0, ("Content-Type", "application/json; charset=utf-8"))
        start_response(f"{status} {reason}", head)
        return [body]

    def _slow(self, start_response, status: int, body: bytes):
        """The headers and half the body, then a stall: a read timeout on the client."""
        first = self._raw(start_response, status, body)[0]

        def stalled():
            yield first[: len(first) // 2]
            time.sleep(self.knobs.slow_seconds)
            yield first[len(first) // 2:]
        return stalled()

    # ------------------------------------------------------------------ sessions

    def _authenticate(self, header: str) -> str:
        """The caller's session token; the raw token and "Bearer <token>" are both taken (NOTES §2.1)."""
        token = header[7:].strip() if header[:7].lower() == "bearer " else header.strip()
        expires = self.sessions.get(token) if token else None
        if expires is None:
            raise unauthenticated()
        if self.clock() >= expires:
            del self.sessions[token]
            raise unauthenticated()
        return token

    def _start_session(self, query, raw, token):
        body = read_body(raw, {"accessToken": "str?", "source": "str?"})
        if not body.get("accessToken"):
            raise invalid("API_SESSION_003", "accessToken")
        source = body.get("source") or ""
        if not source:
            raise invalid("API_SESSION_001", "source")
        if not SOURCE_PATTERN.match(source):
            raise invalid("API_SESSION_002", "source")
        if not secrets.compare_digest(body["accessToken"].encode(), self.api_token.encode()) \
                or self.token_state == "revoked":
            self.events.append("REST session refused: unknown token")
            raise RestError(403, "SECURITY_010", "accessToken", kind="security")
        if self.token_state == "expired":
            raise invalid("API_SESSION_004", "accessToken")
        token = secrets.token_urlsafe(32)
        self.sessions[token] = self.clock() + self.session_ttl_seconds
        self.events.append(f"REST session for source {source!r}")
        return 200, {"token": token, "expiresIn": int(self.session_ttl_seconds)}

    def _end_session(self, query, raw, token):
        self.sessions.pop(token, None)
        self.events.append("REST session ended")
        return 204, None

    # ------------------------------------------------------------------ administrations

    def _linked(self, query, raw, token):
        limit, offset = page(query)
        linked = [{"guid": "5D2B8E4C-1A7F-4C39-B6E0-93F1A2C4D8B7", "company": "Demo Installatietechniek B.V."}]
        return 200, envelope(linked, limit, offset, lambda a: a)

    # ------------------------------------------------------------------ relations

    def _relations(self, query, raw, token):
        limit, offset = page(query)
        tests = filters(query, {"code": "string", "type": "string", "email": "string", "name": "string",
                                "contact": "string", "city": "string"})
        values = {"code": lambda r: r.code, "type": lambda r: r.bp, "email": lambda r: r.email,
                  "name": lambda r: r.bedrijf, "contact": lambda r: r.contactpersoon, "city": lambda r: r.plaats}
        found = sorted((r for r in self.admin.relations.values() if all(test(values[name](r)) for name, test in tests.items())),
                       key=lambda r: r.id)
        return 200, envelope(found, limit, offset, sim_relations.list_item)

    def _relation(self, relation_id, query, raw, token):
        relation = self.admin.relations.get(relation_id)
        if relation is None:
            raise RestError(404, "REL_055", "id")
        return 200, sim_relations.detail(self.admin, relation)

    def _create_relation(self, query, raw, token):
        body = read_body(raw, sim_relations.BODY_KINDS)
        relation = sim_relations.create(self.admin, body)
        return 201, {"id": relation.id, "code": relation.code}

    def _patch_relation(self, relation_id, query, raw, token):
        body = read_body(raw, sim_relations.BODY_KINDS)
        sim_relations.patch(self.admin, relation_id, body)
        return 204, None

    # ------------------------------------------------------------------ ledgers

    def _ledgers(self, query, raw, token):
        limit, offset = page(query)
        tests = filters(query, {"code": "string", "category": "string"})
        found = [g for g in sorted(self.admin.ledgers.values(), key=lambda g: g.id)
                 if all(test(g.code if name == "code" else g.category) for name, test in tests.items())]
        return 200, envelope(found, limit, offset, lambda g: {"id": g.id, "code": g.code, "description": g.description,
                                                              "category": g.category, "group": None})

    def _ledger(self, ledger_id, query, raw, token):
        ledger = self.admin.ledgers.get(ledger_id)
        if ledger is None:
            raise RestError(404, "LEDG_009", "id")
        return 200, {"id": ledger.id, "code": ledger.code, "description": ledger.description,
                     "category": ledger.category, "group": ledger.group}

    # ------------------------------------------------------------------ mutations

    def _mutations(self, query, raw, token):
        limit, offset = page(query)
        wanted_type = plain_int(query, "type")
        tests = filters(query, {"id": "int", "description": "string", "invoiceNumber": "string", "date": "date"})
        values = {"id": lambda b: b.number, "description": lambda b: b.description,
                  "invoiceNumber": lambda b: b.invoice_number, "date": lambda b: b.datum}
        plain_number = query.get("invoiceNumber")
        candidates = (self.admin.bookings_for_invoice(plain_number[-1]) if plain_number
                      else self.admin.mutations.values())
        found = sorted((b for b in candidates
                        if (wanted_type is None or sim_mutations.TYPE_OF.get(b.soort) == wanted_type)
                        and all(test(values[name](b)) for name, test in tests.items())), key=lambda b: b.number)
        return 200, envelope(found, limit, offset, lambda b: sim_mutations.list_item(self.admin, b))

    def _mutation(self, number, query, raw, token):
        booking = self.admin.booking(number)
        if booking is None:
            raise sim_mutations.not_found()
        return 200, sim_mutations.detail(self.admin, booking)

    def _create_mutation(self, query, raw, token):
        number = sim_mutations.create(self.admin, raw)
        return 201, {"id": number}

    def _outstanding(self, query, raw, token):
        cred_deb = (query.get("credDeb") or [""])[-1]
        if not cred_deb:
            raise invalid("MUTA_006", "credDeb")  # required live, though the list would make sense without
        if cred_deb not in ("C", "D"):
            raise invalid("MUTA_007", "credDeb")
        limit, offset = page(query)
        tests = filters(query, {"invoiceNumber": "string"})
        items = [item for item in self.admin.open_items("Debiteuren" if cred_deb == "D" else "Crediteuren")
                 if item.outstanding != 0 and all(test(item.invoice.invoice_number) for test in tests.values())]

        def shape(item):
            relation = self.admin.relation_by_code(item.invoice.relation_code)
            return {"date": item.invoice.datum.isoformat(), "mutationId": item.invoice.number,
                    "invoiceNumber": item.invoice.invoice_number, "relationId": relation.id if relation else 0,
                    "relationCode": item.invoice.relation_code, "company": relation.bedrijf if relation else "",
                    "totalAmount": item.total, "paidAmount": item.paid, "outstandingAmount": item.outstanding}
        return 200, envelope(items, limit, offset, shape)

