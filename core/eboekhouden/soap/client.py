"""The e-Boekhouden.nl SOAP client every feature uses.

One session per run: `with client:` opens it (OpenSession) and always closes it
(CloseSession in a finally); calls from several threads share it. Every call carries
SessionID and SecurityCode2, every answer's ErrorMsg is checked, and a session that is
lost mid-run is reopened once. Reads are
retried by the shared caller; writes (AddRelatie, UpdateRelatie, AddMutatie) never are,
because e-Boekhouden cannot undo a booking: after a transport failure on a write the
caller looks the record up before sending it again. Records are checked against
e-Boekhouden's limits before anything is sent.

GetMutaties is the one operation with a published budget (5,000 calls a month). It is
counted through the call meter (which the state store keeps across runs); the last 10 %
is kept for exactly-once lookups, the ones that decide whether an invoice was booked.
"""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable

import httpx

from core.eboekhouden.soap import translate
from core.eboekhouden.errors import (SERVICE, EboekhoudenError, InvalidForEboekhouden, SessionLost,
                                     is_session_error)
from core.eboekhouden.limits import Problem, booking_problems, relation_problems
from core.eboekhouden.port import ANY_DATE_FROM, ANY_DATE_TO, OpenItemKind, Purpose, RelationWrite, count_ahead_with
from core.model import AMSTERDAM, Booking, EbRelation, Ledger, OpenItem
from core.secrets import Secret
from core.soap.caller import CallMeter, MemoryCallMeter, RetryPolicy, SoapCaller
from core.soap.errors import BudgetExhausted, ResponseInvalid, ServiceError
from core.soap.fast_read import UNCHANGED, ListReader, RememberedAnswer
from core.soap.transport import Timeouts, check_endpoint, make_http_client, make_service

NAMESPACE = "http://www.e-boekhouden.nl/soap"
WSDL_FILE = Path(__file__).with_name("soap.asmx.wsdl")
DEFAULT_URL = "https://soap.e-boekhouden.nl/soap.asmx"
BINDING_SOAP11 = f"{{{NAMESPACE}}}soapAppSoap"
BINDING_SOAP12 = f"{{{NAMESPACE}}}soapAppSoap12"

MUTATIES_WARN_SHARE = 0.8
MUTATIES_RESERVED_SHARE = 0.9  # from here on only exactly-once lookups may spend calls
MUTATIES_MAX_ANSWER = 500  # GetMutaties never returns more than the latest 500 matches


class EboekhoudenClient:
    """A session-scoped client for one administration. Use as `with client:` or `with client.session():`."""

    def __init__(self, url: str, username: Secret, security_code_1: Secret, security_code_2: Secret, *,
                 http: httpx.Client | None = None, timeouts: Timeouts = Timeouts(), ca_file: str | Path | None = None,
                 meter: CallMeter | None = None, source: str = "pvsync", mutaties_budget: int = 5000,
                 retry: RetryPolicy = RetryPolicy(), log: logging.Logger = logging.getLogger(__name__),
                 soap12: bool = False):
        for name, value in (("username", username), ("security_code_1", security_code_1),
                            ("security_code_2", security_code_2)):
            if not isinstance(value, Secret):
                raise TypeError(f"{name} must be a core.secrets.Secret, so it can never be printed")
        self.url = check_endpoint(url)
        self._username, self._code1, self._code2 = username, security_code_1, security_code_2
        self._own_http = http is None
        self.http = http or make_http_client(timeouts=timeouts, ca_file=ca_file)
        self.zeep, proxy = make_service(WSDL_FILE, BINDING_SOAP12 if soap12 else BINDING_SOAP11, self.url, self.http)
        self.caller = SoapCaller(SERVICE, proxy, meter=meter or MemoryCallMeter(), retry=retry,
                                 transport=self.zeep.transport)
        # GetRelaties answers with every relation (10,000 and more) and GetOpenPosten with every
        # open item, on every run: read without zeep's type walk.
        self._relaties_reader = ListReader(self.zeep, f"{{{NAMESPACE}}}GetRelatiesResponse")
        self._open_posten_reader = ListReader(self.zeep, f"{{{NAMESPACE}}}GetOpenPostenResponse")
        # A first run writes thousands of relations, and zeep takes 0.25 ms of CPU to read each
        # small answer; these are plain too. (AddMutatie's answer stays with zeep: a booking's
        # answer is read as it always was, down to the words of a refusal.)
        self._write_readers = {operation: ListReader(self.zeep, f"{{{NAMESPACE}}}{operation}Response")
                               for operation in ("AddRelatie", "UpdateRelatie")}
        self.source = source
        self.mutaties_budget = mutaties_budget
        self.log = log
        self._session: Secret | None = None
        self._reopening = threading.Lock()
        self._depth = 0
        self._warned_budget = False
        self._relations_read: dict[str, EbRelation] | None = None  # this session's GetRelaties, by code
        self._codes_known: set[str] = set()  # relation codes this session read or added
        self.relations_digest: str | None = None  # SHA-256 of this session's whole GetRelaties answer

    # ------------------------------------------------------------------ session

    def __enter__(self) -> EboekhoudenClient:
        if self._depth == 0:
            self._open_session()
        self._depth += 1
        return self

    def __exit__(self, *exc) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._close_session()

    def session(self) -> EboekhoudenClient:
        """`with client.session():` reads better at call sites that hold the client elsewhere."""
        return self

    def close(self) -> None:
        """Close the http client if this client made it."""
        if self._own_http:
            self.http.close()

    def _open_session(self) -> None:
        self._relations_read, self._codes_known = None, set()
        result = self.caller.call("OpenSession", write=False, Username=self._username.reveal(),
                                  SecurityCode1=self._code1.reveal(), SecurityCode2=self._code2.reveal(),
                                  Source=self.source)
        error = _error_of(result)
        if error:
            code, description = error
            raise EboekhoudenError("OpenSession", code, f"{description}; check the username and both security "
                                                        "codes (Beheer > Instellingen > API/SOAP)")
        session_id = translate.text(getattr(result, "SessionID", None))
        if not session_id:
            raise ResponseInvalid(SERVICE, "OpenSession", "the answer has no SessionID")
        self._session = Secret(session_id)  # registered with the redactor: it never reaches a log

    def _close_session(self) -> None:
        session, self._session = self._session, None
        self._relations_read, self._codes_known = None, set()
        if session is None:
            return
        try:
            self.caller.call("CloseSession", write=True, SessionID=session.reveal())
        except ServiceError as error:
            # The session expires on its own; failing to close it must not hide the run's outcome.
            self.log.warning("could not close the e-Boekhouden session: %s", error)

    def _call(self, operation: str, *, write: bool, record: str = "", **arguments: Any) -> Any:
        """Call with the session; reopen once when e-Boekhouden says the session is gone.

        Repeating a write after a session error is safe: the service refused it in-band
        before processing anything.
        """
        for attempt in (1, 2):
            session = self._session
            if session is None:
                raise RuntimeError("e-Boekhouden calls need an open session: use `with client:`")
            result = self.caller.call(operation, write=write, record=record, SessionID=session.reveal(),
                                      SecurityCode2=self._code2.reveal(), **arguments)
            if result is UNCHANGED:  # the bytes of an answer that was read and checked before
                return result
            try:
                return self._checked(operation, result, record)
            except SessionLost:
                if attempt == 2:
                    raise
                with self._reopening:  # calls in flight together lose the session together: one reopens
                    if self._session is session:
                        self.log.info("e-Boekhouden session lost during %s; opening a new one", operation)
                        self._open_session()
        raise AssertionError("unreachable")

    def _checked(self, operation: str, result: Any, record: str) -> Any:
        if result is None:
            raise ResponseInvalid(SERVICE, operation, "the answer has no result element", record=record)
        error = _error_of(result)
        if error:
            code, description = error
            kind = SessionLost if is_session_error(code, description) else EboekhoudenError
            raise kind(operation, code, description, record=record)
        return result

    # ------------------------------------------------------------------ reads

    def administraties(self) -> list[translate.Administratie]:
        result = self._call("GetAdministraties", write=False)
        return [translate.administratie_from_soap(a) for a in translate.items(result.Administraties,
                                                                               "cAdministratie")]

    def relations(self, code: str | None = None, keyword: str | None = None) -> list[EbRelation]:
        """Relations matching `code` exactly or `keyword` anywhere; all of them when neither is given."""
        record = f"relation {code}" if code else ""
        return self._relations(self._relaties_reader, record, cFilter={"Trefwoord": keyword or None,
                                                                        "Code": code or None, "ID": 0})

    def _relations(self, reader: ListReader | RememberedAnswer, record: str = "", **arguments: Any
                   ) -> list[EbRelation] | None:
        result = self._call("GetRelaties", write=False, record=record, reader=reader, **arguments)
        if result is UNCHANGED:
            return None
        return [translate.relation_from_soap(r) for r in translate.items(result.Relaties, "cRelatie")]

    # GetRelaties answers with every field of every relation: the details come with the index.
    relation_details_are_free = True

    def relation_index(self) -> dict[str, int]:
        """Code -> ID of every relation: one GetRelaties, kept for the session, so the
        `relations_by_code` that follows costs no call."""
        return {code: r.id for code, r in self._read_relations().items()}

    def relation_index_if_changed(self, digest: str | None) -> dict[str, int] | None:
        """`relation_index`, or None when e-Boekhouden answers GetRelaties with exactly the bytes
        whose `relations_digest` is given: every relation as it was, so 10,000 records are not
        parsed again to find that out (the call itself is made all the same)."""
        read = self._read_relations(known=digest)
        return None if read is None else {code: r.id for code, r in read.items()}

    def relations_by_code(self, codes: Iterable[str]) -> list[EbRelation]:
        """The relations with these codes (those that exist), from this session's index read."""
        read = self._relations_read
        if read is None:
            read = self._read_relations()
        return [read[code] for code in dict.fromkeys(codes) if code in read]

    def _read_relations(self, known: str | None = None) -> dict[str, EbRelation] | None:
        reader = RememberedAnswer(self._relaties_reader, known)
        found = self._relations(reader, cFilter={"Trefwoord": None, "Code": None, "ID": 0})
        self.relations_digest = reader.digest
        if found is None:
            return None
        read = self._relations_read = {r.code: r for r in found}
        self._codes_known.update(read)
        return read

    def relation(self, code: str) -> EbRelation | None:
        found = [r for r in self.relations(code=code) if r.code == code]
        return found[0] if found else None

    def has_relation(self, code: str) -> bool:
        """A code this session listed or added exists (codes are never deleted by pvsync); any
        other is looked up, so a relation added in doubt or by someone else is still found."""
        if code not in self._codes_known and self.relation(code) is not None:
            self._codes_known.add(code)
        return code in self._codes_known

    def ledgers(self, code: str | None = None, category: str | None = None) -> list[Ledger]:
        result = self._call("GetGrootboekrekeningen", write=False, record=f"ledger {code}" if code else "",
                            cFilter={"ID": 0, "Code": code or None, "Categorie": category or None})
        return [translate.ledger_from_soap(g) for g in translate.items(result.Rekeningen, "cGrootboekrekening")]

    def open_items(self, kind: OpenItemKind = "Debiteuren") -> list[OpenItem]:
        if kind not in ("Debiteuren", "Crediteuren"):
            # zeep does not check enumerations; the service would answer with a fault.
            raise InvalidForEboekhouden("open items", [Problem("OpSoort", f"OpSoort is {kind!r}",
                                                               "use Debiteuren or Crediteuren")],
                                        operation="GetOpenPosten")
        result = self._call("GetOpenPosten", write=False, reader=self._open_posten_reader, OpSoort=kind)
        return [translate.open_item_from_soap(p) for p in translate.items(result.Openposten, "cOpenPost")]

    def bookings(self, *, invoice_number: str | None = None, number: int | None = None,
                 date_from: date | None = None, date_to: date | None = None,
                 purpose: Purpose) -> list[Booking]:
        """Mutations matching the filter (at most the latest 500: the service's own cap).

        `purpose` says what the call is for: "exactly_once" for the lookup that decides
        whether an invoice is booked, "other" for everything else. Only the first may
        spend the last 10 % of the month's budget.
        """
        record = f"invoice {invoice_number}" if invoice_number else (f"booking {number}" if number else "")
        self._spend_mutaties_call(purpose, record)
        result = self._call("GetMutaties", write=False, record=record, cFilter={
            "MutatieNr": number or 0,
            "Factuurnummer": invoice_number or None,
            "DatumVan": translate.soap_datetime(date_from or ANY_DATE_FROM),
            "DatumTm": translate.soap_datetime(date_to or ANY_DATE_TO),
        })
        found = [translate.booking_from_soap(m) for m in translate.items(result.Mutaties, "cMutatieList")]
        if len(found) >= MUTATIES_MAX_ANSWER:
            self.log.warning("e-Boekhouden returned %d mutations, its maximum per call; older matches are "
                             "not included (narrow the filter)", len(found))
        return found

    def mutaties_budget_status(self) -> tuple[int, int]:
        """(GetMutaties calls made this month, the monthly budget)."""
        return self.caller.meter.count_this_month(SERVICE, "GetMutaties"), self.mutaties_budget

    def _spend_mutaties_call(self, purpose: Purpose, record: str) -> None:
        used, cap = self.mutaties_budget_status()
        if used >= cap:
            raise BudgetExhausted(SERVICE, "GetMutaties", f"the monthly budget of {cap} calls is spent ({used} "
                                                          "made); lookups resume on the 1st of next month",
                                  record=record)
        if purpose != "exactly_once" and used >= cap * MUTATIES_RESERVED_SHARE:
            raise BudgetExhausted(SERVICE, "GetMutaties", f"{used} of {cap} calls made this month; the rest is "
                                                          "kept for checking whether invoices were booked",
                                  record=record)
        if used >= cap * MUTATIES_WARN_SHARE and not self._warned_budget:
            self._warned_budget = True
            # Not "e-Boekhouden GetMutaties: ...": that is how a failed call reads (core.engine.health).
            self.log.warning("the GetMutaties budget runs low: %d of %d e-Boekhouden calls made this month; from "
                             "%d on only exactly-once lookups are made", used, cap,
                             int(cap * MUTATIES_RESERVED_SHARE))

    # ------------------------------------------------------------------ writes

    def add_relation(self, rel: EbRelation) -> int:
        """AddRelatie; returns the new relation's ID (Rel_ID)."""
        record = f"relation {rel.code}"
        _refuse_problems("AddRelatie", record, relation_problems(rel))
        result = self._call("AddRelatie", write=True, record=record, reader=self._write_readers["AddRelatie"],
                            oRel=translate.relation_to_soap(rel.with_changes(id=0), today=_today()))
        self._relations_read = None  # the index read no longer holds every relation as it is
        self._codes_known.add(rel.code)
        return int(result.Rel_ID)

    def count_ahead(self, write: RelationWrite) -> None:
        count_ahead_with(self.caller.meter, {"add_relation": "AddRelatie", "update_relation": "UpdateRelatie"}[write])

    def update_relation(self, rel: EbRelation) -> None:
        """UpdateRelatie; replaces the whole record, so pass the relation as read, with the changes merged in."""
        record = f"relation {rel.code}"
        problems = relation_problems(rel)
        if rel.id <= 0:
            problems.append(Problem("ID", "the relation has no e-Boekhouden ID",
                                    "read it with relation(code) and update that record"))
        _refuse_problems("UpdateRelatie", record, problems)
        self._call("UpdateRelatie", write=True, record=record, reader=self._write_readers["UpdateRelatie"],
                   oRel=translate.relation_to_soap(rel, today=_today()))
        self._relations_read = None

    def add_booking(self, b: Booking) -> int:
        """AddMutatie; returns the Mutatienummer. Never retried: on a transport failure, look it up."""
        record = f"invoice {b.invoice_number}" if b.invoice_number else f"booking {b.boekstuk or b.description}"
        _refuse_problems("AddMutatie", record, booking_problems(b))
        result = self._call("AddMutatie", write=True, record=record, oMut=translate.booking_to_soap(b))
        if result.Mutatienummer is None:  # it may well be booked: the caller treats this as no answer
            raise ResponseInvalid(SERVICE, "AddMutatie", "the answer has no Mutatienummer", record=record)
        return int(result.Mutatienummer)


def _refuse_problems(operation: str, record: str, problems: list[Problem]) -> None:
    if problems:
        raise InvalidForEboekhouden(record, problems, operation=operation)


def _error_of(result: Any) -> tuple[str, str] | None:
    """(code, description) of a filled ErrorMsg, or None on success.

    Most answers wrap a cError in ErrorMsg; UpdateRelatie's result is the bare cError.
    e-Boekhouden sends both fields empty on success.
    """
    error = result.ErrorMsg if hasattr(result, "ErrorMsg") else result
    if error is None:
        return None
    code = translate.text(getattr(error, "LastErrorCode", None)).strip()
    description = translate.text(getattr(error, "LastErrorDescription", None)).strip()
    if code or description:
        return code, description or "e-Boekhouden refused the call without saying why"
    return None


def _today() -> date:
    return datetime.now(AMSTERDAM).date()
