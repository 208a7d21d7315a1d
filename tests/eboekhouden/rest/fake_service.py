"""A small stand-in for e-Boekhouden's REST API behind httpx.MockTransport, answering as
openapi.json and NOTES.md §2.15 describe (the `{items, count}` envelope, thin list items,
error bodies with code and traceId), with the knobs the client tests need. The faithful
simulator is core.eboekhouden.rest.simulator (branch rest-sim); this one exists so the
client's own behaviour (sessions, paging, throttling, errors) can be pinned down exactly."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx

TOKEN = "api-token-7f3c9e2a-canary"
SOURCE_PATTERN = re.compile(r"^[\w_ ]{1,10}$")


@dataclass
class FakeRest:
    token: str = TOKEN
    expires_in: int = 3600
    ledgers: list[dict[str, Any]] = field(default_factory=lambda: [
        {"id": 10111230, "code": "1300", "description": "Debiteuren", "category": "DEB"},
        {"id": 10111231, "code": "8000", "description": "Omzet hoog", "category": "VW"},
        {"id": 10111232, "code": "8010", "description": "Omzet laag", "category": "VW"},
    ])
    relations: dict[int, dict[str, Any]] = field(default_factory=dict)
    mutations: dict[int, dict[str, Any]] = field(default_factory=dict)
    outstanding: list[dict[str, Any]] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    token_expired: bool = False
    # Scripted answers: (method, path prefix) -> list of (status, body, headers) used before normal service.
    scripted: list[tuple[str, str, int, Any, dict[str, str]]] = field(default_factory=list)
    revoked_sessions: set[str] = field(default_factory=set)
    _ids: Any = field(default_factory=lambda: itertools.count(5001))
    _trace: Any = field(default_factory=lambda: itertools.count(1))

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def add_relation(self, code: str, name: str, **more: Any) -> int:
        rid = next(self._ids)
        self.relations[rid] = {"id": rid, "type": "B", "code": code, "name": name, **more}
        return rid

    def script(self, method: str, path: str, status: int, body: Any = None, **headers: str) -> None:
        self.scripted.append((method, path, status, body, headers))

    def bodies(self, method: str, path: str) -> list[Any]:
        return [json.loads(r.content, parse_float=Decimal) for r in self.requests
                if r.method == method and r.url.path == path and r.content]

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]

    # ------------------------------------------------------------------ service

    def error(self, status: int, code: str, title: str, kind: str = "validation") -> httpx.Response:
        return httpx.Response(status, json={"type": kind, "code": code, "title": title, "message": title,
                                            "status": status, "traceId": f"TRACE-{next(self._trace):04d}"})

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        method, path = request.method, request.url.path
        for index, (m, p, status, body, headers) in enumerate(self.scripted):
            if m == method and path.startswith(p):
                del self.scripted[index]
                if isinstance(body, dict):
                    return httpx.Response(status, json=body, headers=headers)
                return httpx.Response(status, content=body or b"", headers=headers)
        if path == "/v1/session" and method == "POST":
            return self.open_session(json.loads(request.content))
        authorization = request.headers.get("Authorization", "")
        session = authorization.removeprefix("Bearer ")
        if session not in self.sessions or session in self.revoked_sessions:
            return self.error(401, "SECURITY_010", "Session is invalid", "security")
        if path == "/v1/session" and method == "DELETE":
            self.revoked_sessions.add(session)
            return httpx.Response(204)
        query = dict(parse_qsl(request.url.query.decode()))
        if path == "/v1/ledger":
            return self.page([l for l in self.ledgers if self.matches(l, query, "code")], query)
        if path == "/v1/relation" and method == "GET":
            items = [{"id": r["id"], "type": r["type"], "code": r["code"]} for r in self.relations.values()
                     if self.matches(r, query, "code")]
            return self.page(items, query)
        if path == "/v1/relation" and method == "POST":
            body = json.loads(request.content)
            if any(r["code"] == body.get("code") for r in self.relations.values()):
                return self.error(400, "REL_049", "Code already exists.")
            rid = self.add_relation(body["code"], body["name"], **{k: v for k, v in body.items()
                                                                  if k not in ("code", "name")})
            return httpx.Response(201, json={"id": rid, "code": body["code"]})
        match = re.fullmatch(r"/v1/relation/(\d+)", path)
        if match:
            rid = int(match.group(1))
            if rid not in self.relations:
                return self.error(404, "REL_404", "Relation not found")
            if method == "PATCH":
                self.relations[rid].update(json.loads(request.content))
                return httpx.Response(204)
            return httpx.Response(200, json=self.relations[rid])
        if path == "/v1/mutation" and method == "POST":
            body = json.loads(request.content, parse_float=Decimal)
            if "inExVat" not in body:
                return self.error(400, "MUTA_005", "InExVat is missing")
            if len(body.get("description", "")) > 50:
                return self.error(400, "MUT_999", "Description is too long")
            if any(m.get("invoiceNumber") == body.get("invoiceNumber") for m in self.mutations.values()):
                return self.error(400, "MUT_019", "Invoice number already exists")
            mid = next(self._ids)
            self.mutations[mid] = {"id": mid, **body}
            return httpx.Response(201, json={"id": mid})
        if path == "/v1/mutation" and method == "GET":
            items = [{"id": m["id"], "type": m["type"], "date": m["date"], "invoiceNumber": m.get("invoiceNumber"),
                      "ledgerId": m["ledgerId"], "entryNumber": m.get("entryNumber")}
                     for m in self.mutations.values()
                     if self.matches(m, query, "invoiceNumber") and str(m["type"]) == query.get("type", str(m["type"]))]
            return self.page(items, query)
        match = re.fullmatch(r"/v1/mutation/(\d+)", path)
        if match:
            mutation = self.mutations.get(int(match.group(1)))
            if mutation is None:
                return self.error(404, "MUT_404", "Mutation not found")
            return httpx.Response(200, content=_dumps(mutation), headers={"Content-Type": "application/json"})
        if path == "/v1/mutation/invoice/outstanding":
            if "credDeb" not in query:
                return self.error(400, "MUTA_006", "Credit/Debit is missing")
            return self.page(self.outstanding, query)
        return self.error(404, "EP_404", "No such endpoint")

    def open_session(self, body: dict[str, Any]) -> httpx.Response:
        if not SOURCE_PATTERN.match(body.get("source") or ""):
            return self.error(400, "API_SESSION_002", "Source does not match pattern.")
        if body.get("accessToken") != self.token or self.token_expired:
            return self.error(403, "API_SESSION_004", "Access token has expired.", "security")
        session = f"session-{len(self.sessions) + 1}-canary"
        self.sessions.append(session)
        return httpx.Response(200, json={"token": session, "expiresIn": self.expires_in})

    @staticmethod
    def matches(item: dict[str, Any], query: dict[str, str], name: str) -> bool:
        wanted = query.get(f"{name}[eq]", query.get(name))
        return wanted is None or str(item.get(name)) == wanted

    @staticmethod
    def page(items: list[dict[str, Any]], query: dict[str, str]) -> httpx.Response:
        limit, offset = int(query.get("limit", 100)), int(query.get("offset", 0))
        chunk = items[offset:offset + limit]
        return httpx.Response(200, content=_dumps({"items": chunk, "count": len(chunk)}),
                              headers={"Content-Type": "application/json"})


def _dumps(value: Any) -> bytes:
    return json.dumps(value, default=lambda d: float(d) if isinstance(d, Decimal) else str(d)).encode()
