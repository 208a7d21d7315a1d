"""The e-Boekhouden.nl REST client: the same port as the SOAP client, over `api.e-boekhouden.nl/v1`.

One session per run: `with client:` opens it (`POST /v1/session`), renews it before its
`expiresIn` runs out, and closes it (`DELETE /v1/session`). A 401 mid-run opens a new
session once; the request is repeated only when it was a read, because a write is never
sent twice without looking first (e-Boekhouden cannot undo a booking).

REST names ledgers and relations by numeric id where people configure codes: the ledger
list is read once per client (one run) and relation codes are resolved through the thin
relation list (`relation_index`), also once. Calls are paced by an adaptive client-side
rate (core.eboekhouden.rest.throttle) and counted with the same CallMeter as SOAP.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from core.eboekhouden.errors import SERVICE, InvalidForEboekhouden, SessionLost
from core.eboekhouden.limits import Problem, booking_problems, relation_problems
from core.eboekhouden.port import ANY_DATE_FROM, ANY_DATE_TO, OpenItemKind, Purpose, RelationWrite, count_ahead_with
from core.eboekhouden.rest import translate
from core.eboekhouden.rest.errors import NotFound, describe, error_from_body
from core.eboekhouden.rest.throttle import MAX_RETRY_AFTER, START_RATE, AdaptiveRate, retry_after_seconds
from core.model import Booking, EbRelation, Ledger, MutatieSoort, OpenItem
from core.secrets import Secret, quiet_wire_loggers
from core.soap.caller import CallMeter, MemoryCallMeter, RetryPolicy
from core.soap.errors import ResponseInvalid, ServiceError, TransportFailure
from core.soap.transport import MAX_RESPONSE_BYTES, Timeouts, check_endpoint, make_http_client

DEFAULT_URL = "https://api.e-boekhouden.nl"
PAGE_SIZE = 2000  # the largest `limit` the API accepts
# Renew the session this long before e-Boekhouden says it ends (a tenth of its life at most).
RENEW_MARGIN = 60.0
# A session said to last longer than this is renewed after this anyway (a lifetime of years is a wrong answer,
# and a session past its real end would only meet a 401).
LONGEST_SESSION = 24 * 3600.0
SESSION_TRIES = 3  # a read: the first try and two more, each on a newly opened session
THROTTLED = (429, 503)


class RestClient:
    """A session-scoped REST client for one administration. Use as `with client:`."""

    def __init__(self, url: str, api_token: Secret, *, source: str = "pvsync", http: httpx.Client | None = None,
                 timeouts: Timeouts = Timeouts(), ca_file: str | Path | None = None,
                 meter: CallMeter | None = None, retry: RetryPolicy = RetryPolicy(),
                 log: logging.Logger | logging.LoggerAdapter = logging.getLogger(__name__),
                 rate: float = START_RATE, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None):
        if not isinstance(api_token, Secret):
            raise TypeError("api_token must be a core.secrets.Secret, so it can never be printed")
        quiet_wire_loggers()
        self.url = check_endpoint(url).rstrip("/")
        self._token = api_token
        self.source = source
        self._own_http = http is None
        self.http = http or make_http_client(timeouts=timeouts, ca_file=ca_file)
        self.meter = meter or MemoryCallMeter()
        self.retry = retry
        self.log = log
        self.clock, self.sleep = clock, sleep
        self.rng = rng or random.Random()
        self.pace = AdaptiveRate(rate, clock=clock, sleep=sleep)
        self._session: Secret | None = None
        self._session_ends = 0.0
        self._session_opened = 0.0
        # A call answered on a session proves the token; before that, SECURITY_010 means the token is no good.
        self._token_proven = False
        self._session_lock = threading.Lock()
        self._depth = 0
        self._ledger_ids: dict[str, int] | None = None
        self._relation_ids: dict[str, int] | None = None
        self._relation_codes: dict[int, str] = {}
        self._cache_lock = threading.Lock()
        self._said_cut = False
        self._said_throttled = False

    # ------------------------------------------------------------------ session

    def __enter__(self) -> RestClient:
        if self._depth == 0:
            with self._session_lock:
                self._open_session()
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._close_session()

    def session(self) -> RestClient:
        return self

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def _open_session(self) -> None:
        """POST /v1/session. Called with the session lock held."""
        body = {"accessToken": self._token.reveal(), "source": self.source}
        answer = self._send("POST", "/v1/session", operation="POST /v1/session", json_body=body, write=False,
                            authorised=False, fresh_session=True)
        with answer_fits("POST /v1/session", "the session"):
            token = translate.required(answer, "token", str)
            lifetime = translate.required(answer, "expiresIn", int)
            if not token.strip():
                raise translate.AnswerUnfit("token is empty")
            if lifetime <= 0:  # renewing before every call would double the calls, and never be proven
                raise translate.AnswerUnfit(f"expiresIn is {lifetime} seconds: a session that has already ended")
        lifetime = min(lifetime, LONGEST_SESSION)
        self._session = Secret(token)  # registered with the redactor: it never reaches a log
        now = self.clock()
        self._session_opened = now
        self._session_ends = now + lifetime - min(RENEW_MARGIN, lifetime / 10)

    def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        try:
            self._send("DELETE", "/v1/session", operation="DELETE /v1/session", write=True, session=session)
        except ServiceError as error:
            # The session ends on its own; failing to close it must not hide the run's outcome.
            self.log.warning("could not close the e-Boekhouden session: %s", error)

    def _current_session(self) -> Secret:
        with self._session_lock:
            if self._session is None:
                raise RuntimeError("e-Boekhouden calls need an open session: use `with client:`")
            if self.clock() >= self._session_ends:
                self.log.debug("e-Boekhouden session about to expire; opening a new one")
                self._open_session()
            return self._session

    def _renew_after_401(self, lost: Secret, operation: str) -> None:
        with self._session_lock:
            if self._session is lost:  # calls in flight together lose the session together: one renews
                self.log.info("e-Boekhouden session lost during %s; opening a new one", operation)
                self._open_session()

    # ------------------------------------------------------------------ one request

    def _request(self, method: str, path: str, *, operation: str, params: Mapping[str, Any] | None = None,
                 json_body: Any = None, record: str = "") -> Any:
        """A request with the session; a read is repeated after a 401 with a new session, twice at most.

        A session can end at any moment (the service's restarts, its expiry), even one opened a moment
        ago: once a call has been answered the token is proven, and SECURITY_010 is taken for a lost
        session unless the sessions opened to repeat a read are refused too.
        """
        write = method != "GET"
        for attempt in range(1, SESSION_TRIES + 1):
            session = self._current_session()
            try:
                return self._send(method, path, operation=operation, params=params, json_body=json_body,
                                  write=write, record=record, session=session,
                                  fresh_session=attempt == SESSION_TRIES)
            except SessionLost:
                if attempt == SESSION_TRIES:
                    raise
                self._renew_after_401(session, operation)
                if write:
                    # Refused before any work, but a write is never sent again without the caller deciding.
                    raise
        raise AssertionError("unreachable")

    def _send(self, method: str, path: str, *, operation: str, write: bool, params: Mapping[str, Any] | None = None,
              json_body: Any = None, record: str = "", authorised: bool = True, session: Secret | None = None,
              fresh_session: bool = False) -> Any:
        """One call, paced and counted. Reads are retried on transport trouble and 5xx; a write only after
        429 (throttled: refused before any work), never after a timeout or 5xx (its outcome is unknown)."""
        attempts = max(1, self.retry.attempts)
        headers = {"Accept": "application/json"}
        if authorised and session is not None:
            headers["Authorization"] = f"Bearer {session.reveal()}"
        content = None
        if json_body is not None:
            content = translate.dumps(json_body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        # SECURITY_010 on a session opened moments ago, before any call was answered: the token is no good.
        fresh = fresh_session or (authorised and not self._token_proven and self.clock() - self._session_opened < 5.0)
        for attempt in range(1, attempts + 1):
            self.pace.wait_turn()
            self.meter.record(SERVICE, operation)
            try:
                status, reply_headers, body = self._exchange(method, path, params, content, headers)
            except TransportFailure as failure:
                if write or attempt >= attempts:
                    raise self._failure(TransportFailure, operation, record, failure.detail,
                                        maybe_processed=failure.maybe_processed) from None
                self._back_off(attempt, attempts, f"{failure.detail}")
                continue
            if status in THROTTLED:
                wait = retry_after_seconds(reply_headers.get("Retry-After"))
                pause = self.pace.throttled(wait)
                may_repeat = (status == 429 or not write) and attempt < attempts and pause <= MAX_RETRY_AFTER
                # Said once a run in the logbook; a busy service can throttle hundreds of calls.
                level = logging.DEBUG if self._said_throttled else logging.INFO
                self._said_throttled = True
                self.log.log(level, "e-Boekhouden throttled %s (HTTP %d); pvsync slows down to %.1f calls/s%s",
                             operation, status, self.pace.rate, f" and waits {pause:.0f} s" if may_repeat else "")
                if may_repeat:
                    continue
                raise self._failure(TransportFailure, operation, record, f"{server_error(status, body)} (throttled)",
                                    maybe_processed=write and status != 429, status_code=status)
            if status >= 500:
                if write or attempt >= attempts:
                    raise self._failure(TransportFailure, operation, record, server_error(status, body),
                                        status_code=status)
                self._back_off(attempt, attempts, f"HTTP {status}")
                continue
            self.pace.succeeded()
            try:
                parsed = self._parse(operation, record, status, body)
            except ResponseInvalid:
                if write or attempt >= attempts:
                    raise  # a write's answer that cannot be read: booked or not is unknown
                self._back_off(attempt, attempts, "an answer that is not JSON")
                continue
            if status >= 400:
                raise error_from_body(operation, status, parsed, record=record, fresh_session=fresh)
            self._token_proven = self._token_proven or authorised
            return parsed
        raise AssertionError("unreachable")

    def _exchange(self, method: str, path: str, params: Mapping[str, Any] | None, content: bytes | None,
                  headers: dict[str, str]) -> tuple[int, httpx.Headers, bytes]:
        fail = lambda message, **kw: TransportFailure(SERVICE, method, message, **kw)  # noqa: E731
        try:
            with self.http.stream(method, self.url + path, params=params, content=content,
                                  headers=headers) as response:
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_RESPONSE_BYTES:
                        raise fail(f"answer larger than {MAX_RESPONSE_BYTES // (1024 * 1024)} MB")
                    chunks.append(chunk)
                return response.status_code, response.headers, b"".join(chunks)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise fail(f"could not connect ({type(exc).__name__})", maybe_processed=False) from None
        except httpx.TimeoutException as exc:
            raise fail(f"no answer in time ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise fail(f"connection broke ({type(exc).__name__})") from None

    def _parse(self, operation: str, record: str, status: int, body: bytes) -> Any:
        if status == 204 or not body.strip():
            return None
        try:
            return json.loads(body, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            if status >= 400:
                return None  # an error page that is not JSON: the status says enough
            raise self._failure(ResponseInvalid, operation, record, "the answer is not JSON") from None

    def _failure(self, kind: type[TransportFailure], operation: str, record: str, message: str,
                 **kw: Any) -> TransportFailure:
        return kind(SERVICE, operation, message, record=record, **kw)

    def _back_off(self, attempt: int, attempts: int, why: str) -> None:
        delay = self.retry.delay(attempt, self.rng)
        self.log.debug("e-Boekhouden: %s; retrying in %.1f s (attempt %d of %d)", why, delay, attempt + 1, attempts)
        self.sleep(delay)

    def _list(self, path: str, *, operation: str, params: Mapping[str, Any] | None = None,
              record: str = "") -> list[dict[str, Any]]:
        """Every item of a paged list: pages of PAGE_SIZE until a short one."""
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self._request("GET", path, operation=operation, record=record,
                                 params={**(params or {}), "limit": PAGE_SIZE, "offset": offset})
            with answer_fits(operation, record):
                items = translate.page_items(page, offset=offset, limit=PAGE_SIZE)
            found.extend(items)
            if len(items) < PAGE_SIZE:
                return found
            offset += PAGE_SIZE

    # ------------------------------------------------------------------ ledgers

    def ledgers(self, code: str | None = None, category: str | None = None) -> list[Ledger]:
        params = {**eq("code", code), **eq("category", category)}
        record = f"ledger {code}" if code else ""
        items = self._list("/v1/ledger", operation="GET /v1/ledger", params=params, record=record)
        return each_item("GET /v1/ledger", record, items, translate.ledger_from_rest, noun="ledger", key="code")

    def _ledgers_by_code(self) -> dict[str, int]:
        with self._cache_lock:
            if self._ledger_ids is None:
                self._ledger_ids = {ledger.code: ledger.id for ledger in self.ledgers()}
            return self._ledger_ids

    def _ledger_code(self, ledger_id: int) -> str:
        for code, known in self._ledgers_by_code().items():
            if known == ledger_id:
                return code
        return str(ledger_id) if ledger_id else ""

    # ------------------------------------------------------------------ relations

    def relation_index(self) -> dict[str, int]:
        """GET /v1/relation: code -> id of every relation (the list carries no other fields)."""
        items = self._list("/v1/relation", operation="GET /v1/relation")
        index = dict(each_item("GET /v1/relation", "", items, translate.relation_entry, noun="relation", key="code"))
        with self._cache_lock:
            self._relation_ids = dict(index)
            self._relation_codes = {rid: code for code, rid in index.items()}
        return index

    def relations_by_code(self, codes: Iterable[str]) -> list[EbRelation]:
        """GET /v1/relation/{id} for each of `codes` e-Boekhouden has, in the order asked."""
        index = self._relation_ids if self._relation_ids is not None else self.relation_index()
        found = []
        for code in dict.fromkeys(codes):
            relation_id = index.get(code)
            if relation_id:
                relation = self._relation_by_id(relation_id, f"relation {code}")
                if relation is not None:
                    found.append(relation)
        return found

    def relations(self, code: str | None = None, keyword: str | None = None) -> list[EbRelation]:
        if code:
            items = self._list("/v1/relation", operation="GET /v1/relation", params=eq("code", code),
                               record=f"relation {code}")
        elif keyword:
            items = self._list("/v1/relation", operation="GET /v1/relation",
                               params={"name[like]": f"%{keyword}%"})
        else:
            return self.relations_by_code(self.relation_index())
        ids = [relation_id for _, relation_id in each_item("GET /v1/relation", f"relation {code}" if code else "",
                                                             items, translate.relation_entry, noun="relation",
                                                             key="code")]
        found = []
        for relation_id in ids:
            relation = self._relation_by_id(relation_id, f"relation {code or ''}".strip())
            if relation is not None:
                found.append(relation)
        return found

    def relation(self, code: str) -> EbRelation | None:
        found = [r for r in self.relations(code=code) if r.code == code]
        return found[0] if found else None

    def has_relation(self, code: str) -> bool:
        return self._relation_id(code, f"relation {code}") is not None

    def _relation_by_id(self, relation_id: int, record: str) -> EbRelation | None:
        try:
            item = self._request("GET", f"/v1/relation/{relation_id}", operation="GET /v1/relation/{id}",
                                 record=record)
        except NotFound:
            return None
        # A relation without its code, or under another id, would be taken for a different one (or none).
        with answer_fits("GET /v1/relation/{id}", record):
            relation = translate.relation_from_rest(item)
        if relation.id != relation_id or not relation.code:
            raise ResponseInvalid(SERVICE, "GET /v1/relation/{id}", f"the answer is not relation {relation_id} "
                                  "with its code", record=record)
        self._remember_relation(relation.code, relation.id)
        return relation

    def _remember_relation(self, code: str, relation_id: int) -> None:
        with self._cache_lock:
            if self._relation_ids is not None:
                self._relation_ids[code] = relation_id
            self._relation_codes[relation_id] = code

    def _relation_id(self, code: str, record: str) -> int | None:
        with self._cache_lock:
            if self._relation_ids is not None and code in self._relation_ids:
                return self._relation_ids[code]
            known = [rid for rid, c in self._relation_codes.items() if c == code]
        if known:
            return known[0]
        items = self._list("/v1/relation", operation="GET /v1/relation", params=eq("code", code), record=record)
        for found, relation_id in each_item("GET /v1/relation", record, items, translate.relation_entry,
                                            noun="relation", key="code"):
            if found == code:
                self._remember_relation(code, relation_id)
                return relation_id
        return None

    def _relation_code(self, relation_id: int) -> str:
        code = self._relation_codes.get(relation_id)
        if code is None:
            relation = self._relation_by_id(relation_id, f"relation id {relation_id}")
            code = relation.code if relation is not None else str(relation_id)
        return code

    def add_relation(self, rel: EbRelation) -> int:
        """POST /v1/relation; returns the new relation's id. REL_049 (the code exists) raises RelationCodeTaken."""
        record = f"relation {rel.code}"
        _refuse("POST /v1/relation", record, relation_problems(rel) + translate.relation_problems(rel))
        answer = self._request("POST", "/v1/relation", operation="POST /v1/relation", record=record,
                               json_body=translate.relation_to_rest(rel))
        relation_id = translate.field(answer, "id") if isinstance(answer, dict) else None
        if not isinstance(relation_id, int) or isinstance(relation_id, bool) or relation_id <= 0:
            # It may well be created: the caller treats this as no answer and looks the code up.
            raise ResponseInvalid(SERVICE, "POST /v1/relation", "the answer has no id", record=record)
        self._remember_relation(rel.code, int(relation_id))
        return int(relation_id)

    def count_ahead(self, write: RelationWrite) -> None:
        count_ahead_with(self.meter, {"add_relation": "POST /v1/relation",
                                      "update_relation": "PATCH /v1/relation/{id}"}[write])

    def update_relation(self, rel: EbRelation) -> None:
        """PATCH /v1/relation/{id} with every mapped field (the PATCH needs `name`)."""
        record = f"relation {rel.code}"
        problems = relation_problems(rel) + translate.relation_problems(rel)
        relation_id = rel.id if rel.id > 0 else self._relation_id(rel.code, record)
        if not relation_id:
            problems.append(Problem("ID", "the relation is not in e-Boekhouden", "create it first"))
        _refuse("PATCH /v1/relation/{id}", record, problems)
        self._request("PATCH", f"/v1/relation/{relation_id}", operation="PATCH /v1/relation/{id}", record=record,
                      json_body=translate.relation_to_rest(rel))

    # ------------------------------------------------------------------ bookings

    def add_booking(self, b: Booking) -> int:
        """POST /v1/mutation; returns the mutation id. Never repeated: after a lost answer, look it up.
        MUT_019/MUT_020 (the invoice number exists) raise InvoiceAlreadyBooked."""
        record = f"invoice {b.invoice_number}" if b.invoice_number else f"booking {b.boekstuk or b.description}"
        problems = booking_problems(b)
        ledgers = self._ledgers_by_code()
        for code in dict.fromkeys([b.ledger, *(line.ledger for line in b.lines)]):
            if code and code not in ledgers:
                problems.append(Problem("Grootboekrekening", f"ledger {code} does not exist in e-Boekhouden",
                                        f"create grootboekrekening {code} in e-Boekhouden, or correct the setting"))
        relation_id = None
        if b.relation_code:
            relation_id = self._relation_id(b.relation_code, record)
            if relation_id is None:
                problems.append(Problem("RelatieCode", f"relation {b.relation_code} does not exist in e-Boekhouden",
                                        "let the relations job create it first"))
        _refuse("POST /v1/mutation", record, problems)
        body = translate.booking_to_rest(b, ledger_id=ledgers.__getitem__, relation_id=relation_id)
        if body.get("description", "") != b.description and b.description:
            self._say_cut(b.description, body["description"], record)
        answer = self._request("POST", "/v1/mutation", operation="POST /v1/mutation", record=record,
                               json_body=body)
        number = translate.field(answer, "id") if isinstance(answer, dict) else None
        if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
            # It may well be booked: the caller treats this as no answer and looks the invoice up.
            raise ResponseInvalid(SERVICE, "POST /v1/mutation", "the answer has no id", record=record)
        return number

    def _say_cut(self, whole: str, cut: str, record: str) -> None:
        if self._said_cut:
            return
        self._said_cut = True
        self.log.info("e-Boekhouden's REST API takes at most %d characters of description: %s was booked as "
                      "'%s' (from '%s'); later cuts this run are not reported", translate.MAX_DESCRIPTION,
                      record, cut, whole)

    def bookings(self, *, invoice_number: str | None = None, number: int | None = None,
                 date_from: date | None = None, date_to: date | None = None,
                 purpose: Purpose) -> list[Booking]:
        """GET /v1/mutation with the filters, then GET /v1/mutation/{id} per hit for the rows (the list has
        none). With no filter at all (customers with sales), only the sales invoices (type 2)."""
        record = f"invoice {invoice_number}" if invoice_number else (f"booking {number}" if number else "")
        params: dict[str, Any] = {**eq("invoiceNumber", invoice_number), **eq("id", number)}
        if date_from or date_to:
            params["date[range]"] = (f"{(date_from or ANY_DATE_FROM).isoformat()},"
                                     f"{(date_to or ANY_DATE_TO).isoformat()}")
        if purpose == "exactly_once" or not params:
            params["type"] = translate.MUTATION_TYPE[MutatieSoort.FACTUUR_VERSTUURD]
        items = self._list("/v1/mutation", operation="GET /v1/mutation", params=params, record=record)
        mutation_ids = each_item("GET /v1/mutation", record, items, lambda item: translate.required(item, "id", int),
                                 noun="invoice", key="invoiceNumber")
        found = []
        for mutation_id in mutation_ids:
            if mutation_id == 0:  # the opening balance appears in lists as id 0; it has no detail
                continue
            where = record or f"booking {mutation_id}"
            try:
                detail = self._request("GET", f"/v1/mutation/{mutation_id}", operation="GET /v1/mutation/{id}",
                                       record=where)
            except NotFound:
                continue
            with answer_fits("GET /v1/mutation/{id}", where):
                booking = translate.booking_from_rest(detail, ledger_code=self._ledger_code,
                                                      relation_code=self._relation_code)
            if booking.number != mutation_id:  # compared or counted as payment evidence: it must be the one asked
                raise ResponseInvalid(SERVICE, "GET /v1/mutation/{id}", f"the answer is not mutation {mutation_id}",
                                      record=where)
            found.append(booking)
        return found

    def open_items(self, kind: OpenItemKind = "Debiteuren") -> list[OpenItem]:
        if kind not in translate.CRED_DEB:
            raise InvalidForEboekhouden("open items", [Problem("credDeb", f"kind is {kind!r}",
                                                               "use Debiteuren or Crediteuren")],
                                        operation="GET /v1/mutation/invoice/outstanding")
        operation = "GET /v1/mutation/invoice/outstanding"
        items = self._list("/v1/mutation/invoice/outstanding", operation=operation,
                           params={"credDeb": translate.CRED_DEB[kind]})
        return each_item(operation, "", items, lambda item: translate.open_item_from_rest(item, self._relation_code),
                         noun="invoice", key="invoiceNumber")

    def mutaties_budget_status(self) -> tuple[int, int | None]:
        """(mutation lists read this month, None): REST publishes no quota, but the calls are still counted."""
        return self.meter.count_this_month(SERVICE, "GET /v1/mutation"), None


@contextmanager
def answer_fits(operation: str, record: str) -> Iterator[None]:
    """Reading an answer that does not fit the API document is a ResponseInvalid naming the call and the
    record. Only the reading is inside: a fault of pvsync's own elsewhere is not taken for a bad answer."""
    try:
        yield
    except (translate.AnswerUnfit, TypeError, ValueError, ArithmeticError, AttributeError, KeyError) as error:
        raise ResponseInvalid(SERVICE, operation, f"the answer does not fit the API: {error}",
                              record=record) from None


def each_item(operation: str, record: str, items: list[dict[str, Any]], read: Callable[[dict[str, Any]], Any],
              *, noun: str, key: str) -> list[Any]:
    """`read` of every list item; a refusal names the call and the item (`noun` and its `key` field
    where that is readable text, else its place in the list)."""
    found = []
    for position, item in enumerate(items, start=1):
        named = translate.field(item, key)
        with answer_fits(operation, record or (f"{noun} {named}" if isinstance(named, str) and named
                                               else f"{noun} {position} of the list")):
            found.append(read(item))
    return found


def server_error(status: int, body: bytes) -> str:
    """A 5xx in words: the status, and the error body's code, words and traceId when it has them
    (support finds the call by its traceId)."""
    try:
        parsed = json.loads(body) if body.strip() else None
    except (ValueError, UnicodeDecodeError):
        parsed = None
    code, text, trace = describe(status, parsed)
    text = text.removeprefix(f"HTTP {status}").removeprefix(":").strip()
    return (f"HTTP {status}" + (f" {code}" if code else "") + (f": {text}" if text else "")
            + (f" [traceId {trace}]" if trace else ""))


def eq(name: str, value: Any) -> dict[str, Any]:
    """A `param[eq]=value` filter, or nothing when there is no value (one filter per parameter)."""
    if value is None or value == "":
        return {}
    return {f"{name}[eq]": value}


def _refuse(operation: str, record: str, problems: list[Problem]) -> None:
    if problems:
        raise InvalidForEboekhouden(record, problems, operation=operation)

