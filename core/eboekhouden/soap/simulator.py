"""A simulator of e-Boekhouden.nl's SOAP service, strict enough that passing against it means something.

It serves pvsync's WSDL at /soap.asmx?WSDL and behaves like the service as far as the public
record tells (NOTES.md): sessions with a time to live and SecurityCode2 on every call;
business errors in ErrorMsg with HTTP 200 (codes start with SIM_ because the real ones are
not public); unreadable requests, bad numbers or dates and invalid enumeration values as
an HTTP 500 soap:Client fault, the way ASP.NET answers them; every documented limit
enforced. Open items are derived from the bookings, never stored: an invoice's open amount
is its total minus the FactuurbetalingOntvangen bookings with its number, so tests and the
demo pay an invoice the way a bookkeeper does, through AddMutatie.

The records and the rules live in the administration (core.eboekhouden.administration), which
the REST simulator serves too; envelopes, faults and latency live in the shared SOAP base
(core.soap.simulator). This module is the SOAP API's behaviour only.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Literal

from lxml import etree

from core.eboekhouden.administration import Administration, IndexedTable, Refusal
from core.eboekhouden.demo_data import load_or_seed
from core.eboekhouden.limits import relation_field_names
from core.model import AMSTERDAM, Booking, BookingLine, EbRelation, Ledger, MutatieSoort
from core.soap.simulator import ClientFault, Knobs, SoapSimulator

__all__ = ["EboekhoudenSimulator", "IndexedTable", "Refusal", "SimCredentials"]

NAMESPACE = "http://www.e-boekhouden.nl/soap"
WSDL_FILE = Path(__file__).with_name("soap.asmx.wsdl")

MUTATIE_SOORTEN = tuple(s.value for s in MutatieSoort)
OPENPOSTEN_SOORTEN = ("Debiteuren", "Crediteuren")
MAX_MUTATIES_PER_ANSWER = 500
_RELATION_NAMES = relation_field_names()
_RELATION_NUMBERS = ("id", "gb_id", "geen_email", "nieuwsbriefgroepen_count")
_LONG = re.compile(r"^\s*[+-]?\d{1,19}\s*$")
_DECIMAL = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$")
_DATETIME = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?)?\s*$")


@dataclass(frozen=True)
class SimCredentials:
    """What the simulators accept: SOAP OpenSession's three values and REST's API token. Demo values,
    not anyone's secrets."""

    username: str = "pvsync-demo"
    security_code_1: str = "3f9a6c1e8b2d47f0a5c9e1b7d3f6a2c8"  # 32 hex, like the real ones
    security_code_2: str = "7C2E9A41-5B3D-4F86-9E1A-2D6C8B0F4A37"  # a GUID, like the real ones
    api_token: str = "pvsync-demo-rest-token-5b1f0c9e7a3d42c8b6e0f2a4d8c1e7b3"  # the REST API's one token


def _shared(name: str) -> property:
    """An attribute that lives on the administration (tests and the demo reach it through the simulator)."""
    return property(lambda sim: getattr(sim.admin, name), lambda sim, value: setattr(sim.admin, name, value))


class EboekhoudenSimulator(SoapSimulator):
    namespace = NAMESPACE
    path = "/soap.asmx"
    wsdl_file = WSDL_FILE
    service_name = "e-Boekhouden"

    def __init__(self, knobs: Knobs | None = None, state_file=None,
                 seed_data: Literal["demo", "empty"] = "demo", session_ttl_seconds: float = 1800,
                 mutaties_monthly_cap: int = 5000, credentials: SimCredentials | None = None,
                 clock: Callable[[], float] = time.time, administration: Administration | None = None):
        """`administration`: serve this one (shared with the REST simulator) instead of a new one;
        it is then neither loaded nor seeded here, and its own state file is used; otherwise the
        administration comes from `state_file` when it exists, else from `seed_data`."""
        self.admin = (administration if administration is not None
                      else load_or_seed(state_file, seed_data, (knobs or Knobs()).seed))
        super().__init__(knobs, self.admin.state_file)
        self.lock = self.admin.lock  # one lock per administration, whichever API a request comes in on
        self.credentials = credentials or SimCredentials()
        self.session_ttl_seconds = session_ttl_seconds
        self.mutaties_monthly_cap = mutaties_monthly_cap
        self.clock = clock
        self.sessions: dict[str, float] = {}  # SessionID -> last use (clock)

    # ------------------------------------------------------------------ the administration, as before

    relations = _shared("relations")
    ledgers = _shared("ledgers")
    mutations = _shared("mutations")
    mutaties_calls = _shared("mutaties_calls")
    next_relation_id = _shared("next_relation_id")
    next_mutation_number = _shared("next_mutation_number")
    dirty = _shared("dirty")
    state_file = _shared("state_file")
    events = _shared("events")

    def relation_codes(self) -> list[str]:
        return self.admin.relation_codes()

    def relation_by_code(self, code: str) -> EbRelation | None:
        return self.admin.relation_by_code(code)

    def booking(self, number: int) -> Booking | None:
        return self.admin.booking(number)

    def bookings_for_invoice(self, invoice_number: str) -> list[Booking]:
        return self.admin.bookings_for_invoice(invoice_number)

    def open_item(self, invoice_number: str, kind: str = "Debiteuren") -> tuple[Decimal, Decimal, Decimal] | None:
        """(Bedrag, Voldaan, Openstaand) of an invoice, also when it is fully paid; None when unknown."""
        return self.admin.open_item(invoice_number, kind)

    def ledger_codes(self) -> list[str]:
        return self.admin.ledger_codes()

    def add_ledger(self, code: str, description: str, category: str, group: str = "") -> Ledger:
        return self.admin.add_ledger(code, description, category, group)

    def store_relation(self, rel: EbRelation) -> int:
        """AddRelatie's rules: a valid record with a new Code gets the next ID."""
        return self.admin.store_relation(rel)

    def replace_relation(self, rel: EbRelation) -> None:
        """UpdateRelatie's rules: the record with this ID is replaced whole (what is left out is cleared)."""
        self.admin.replace_relation(rel)

    def store_mutation(self, b: Booking, payment_term: str = "") -> int:
        """AddMutatie's rules: known relation and ledgers, unique invoice numbers, matching BTW-codes."""
        return self.admin.store_mutation(b, payment_term)

    # ------------------------------------------------------------------ sessions

    def expire_sessions(self) -> None:
        self.sessions.clear()
        self.events.append("sessions expired")

    def _open_session(self, username: str, code1: str, code2: str, source: str) -> str:
        c = self.credentials
        if (username, code1, code2) != (c.username, c.security_code_1, c.security_code_2):
            self.events.append("OpenSession refused: wrong credentials")
            raise Refusal("SIM_LOGIN_FAILED", "Gebruikersnaam of beveiligingscode onjuist.")
        session_id = "{" + str(uuid.uuid4()).upper() + "}"
        self.sessions[session_id] = self.clock()
        self.events.append(f"OpenSession for source {source[:50]!r}")
        return session_id

    def _check_session(self, request: etree._Element) -> None:
        session_id = self.child_text(request, "SessionID", "") or ""
        started = self.sessions.get(session_id)
        if started is None:
            raise Refusal("SIM_SESSION_UNKNOWN", "Sessie niet gevonden of verlopen; open een nieuwe sessie.")
        if self.clock() - started > self.session_ttl_seconds:
            del self.sessions[session_id]
            raise Refusal("SIM_SESSION_EXPIRED", "Sessie is verlopen; open een nieuwe sessie.")
        if (self.child_text(request, "SecurityCode2", "") or "") != self.credentials.security_code_2:
            raise Refusal("SIM_SECURITYCODE2", "Beveiligingscode 2 onjuist.")
        self.sessions[session_id] = self.clock()

    # ------------------------------------------------------------------ dispatch

    def handle(self, operation: str, request: etree._Element) -> etree._Element:
        handler = getattr(self, f"_op_{operation}", None)
        if handler is None:
            raise ClientFault(f"Server did not recognize the value of HTTP Header SOAPAction: "
                              f"{NAMESPACE}/{operation}.")
        return handler(request)

    def _answer(self, operation: str, request: etree._Element, work: Callable[[], list[etree._Element]],
                on_error: Callable[[], list[etree._Element]] = list) -> etree._Element:
        """Session check, then the work; a Refusal becomes a filled ErrorMsg (HTTP 200)."""
        try:
            self._check_session(request)
            error, payload = None, work()
        except Refusal as refusal:
            self.events.append(f"{operation} refused: {refusal.code}")
            error, payload = refusal, on_error()
        result = self.element(f"{operation}Result", None, self._error(error), *payload)
        return self.element(f"{operation}Response", None, result)

    def _error(self, refusal: Refusal | None, name: str = "ErrorMsg") -> etree._Element:
        code, description = (refusal.code, refusal.description) if refusal else ("", "")
        return self.element(name, None, self.element("LastErrorCode", code),
                            self.element("LastErrorDescription", description))

    # ------------------------------------------------------------------ operations

    def _op_OpenSession(self, request):
        values = [self.child_text(request, n, "") or "" for n in ("Username", "SecurityCode1", "SecurityCode2",
                                                                  "Source")]
        try:
            error, payload = None, [self.element("SessionID", self._open_session(*values))]
        except Refusal as refusal:
            error, payload = refusal, []
        result = self.element("OpenSessionResult", None, self._error(error), *payload)
        return self.element("OpenSessionResponse", None, result)

    def _op_CloseSession(self, request):
        if self.sessions.pop(self.child_text(request, "SessionID", "") or "", None) is not None:
            self.events.append("CloseSession")
        return self.element("CloseSessionResponse")

    def _op_GetAdministraties(self, request):
        def work():
            admin = self.element("cAdministratie", None, self.element("Bedrijf", "Demo Installatietechniek B.V."),
                                 self.element("Plaats", "Utrecht"),
                                 self.element("Guid", "5D2B8E4C-1A7F-4C39-B6E0-93F1A2C4D8B7"),
                                 self.element("StartBoekjaar", "2015"))
            return [self.element("Administraties", None, admin)]
        return self._answer("GetAdministraties", request, work)

    def _op_GetRelaties(self, request):
        flt = _child(request, "cFilter")
        keyword = (_text(flt, "Trefwoord") or "").lower()
        code = _text(flt, "Code") or ""
        wanted_id = _long(flt, "ID")

        def work():
            candidates = self.relations.find(code) if code else self.relations.values()
            found = [r for r in sorted(candidates, key=lambda r: r.id)
                     if (not wanted_id or r.id == wanted_id) and (not code or r.code == code)
                     and (not keyword or any(keyword in v.lower() for v in (r.code, r.bedrijf, r.plaats,
                                                                           r.contactpersoon, r.email, r.bp)))]
            return self._list("Relaties", [self._relation_element(r) for r in found])
        return self._answer("GetRelaties", request, work)

    def _op_AddRelatie(self, request):
        rel = _parse_relation(_child(request, "oRel"))
        return self._answer("AddRelatie", request, lambda: [self.element("Rel_ID", self.store_relation(rel))],
                            on_error=lambda: [self.element("Rel_ID", 0)])

    def _op_UpdateRelatie(self, request):
        rel = _parse_relation(_child(request, "oRel"))
        try:
            self._check_session(request)
            self.replace_relation(rel)
            error = None
        except Refusal as refusal:
            self.events.append(f"UpdateRelatie refused: {refusal.code}")
            error = refusal
        return self.element("UpdateRelatieResponse", None, self._error(error, "UpdateRelatieResult"))

    def _op_AddMutatie(self, request):
        booking, payment_term = _parse_mutation(_child(request, "oMut"))
        return self._answer("AddMutatie", request,
                            lambda: [self.element("Mutatienummer", self.store_mutation(booking, payment_term))],
                            on_error=lambda: [self.element("Mutatienummer", 0)])

    def _op_GetMutaties(self, request):
        flt = _child(request, "cFilter")
        number, invoice = _long(flt, "MutatieNr"), _text(flt, "Factuurnummer") or ""
        # ASMX fills a value-type element left out with 0 or DateTime.MinValue, and public clients
        # list every mutation with a filter that leaves the dates and numbers out: such a 0 or
        # MinValue is no bound, not a bound that nothing passes.
        low, high = _optional_long(flt, "MutatieNrVan") or None, _optional_long(flt, "MutatieNrTm") or None
        date_from, date_to = _datetime(flt, "DatumVan"), _datetime(flt, "DatumTm")
        if date_to == date.min:
            date_to = date.max

        def work():
            month = datetime.fromtimestamp(self.clock(), AMSTERDAM).strftime("%Y-%m")
            if self.mutaties_calls[month] >= self.mutaties_monthly_cap:
                raise Refusal("SIM_MUT_MONTHLY_CAP", f"Maximum van {self.mutaties_monthly_cap} aanroepen van "
                                                     "GetMutaties per maand bereikt.")
            self.mutaties_calls[month] += 1
            self.dirty = True
            candidates = self.mutations.find(invoice) if invoice else self.mutations.values()
            found = [b for b in sorted(candidates, key=lambda m: m.number)
                     if (not number or b.number == number) and (low is None or b.number >= low)
                     and (high is None or b.number <= high) and (not invoice or b.invoice_number == invoice)
                     and date_from <= b.datum <= date_to]
            return self._list("Mutaties", [self._mutation_element(b) for b in found[-MAX_MUTATIES_PER_ANSWER:]])
        return self._answer("GetMutaties", request, work)

    def _op_GetOpenPosten(self, request):
        kind = _enum(request, "OpSoort", OPENPOSTEN_SOORTEN, "enOpenpostenSoort")

        def work():
            posts = []
            for item in self.admin.open_items(kind):
                invoice, paid, total = item.invoice, item.paid, item.total
                if total - paid == 0:
                    continue
                relation = self.relation_by_code(invoice.relation_code)
                posts.append(self.element(
                    "cOpenPost", None, self.element("MutDatum", _xml_datetime(invoice.datum)),
                    self.element("MutFactuur", invoice.invoice_number),
                    self.element("RelCode", invoice.relation_code),
                    self.element("RelBedrijf", relation.bedrijf if relation else ""),
                    self.element("Bedrag", _xml_double(total)), self.element("Voldaan", _xml_double(paid)),
                    self.element("Openstaand", _xml_double(total - paid))))
            return self._list("Openposten", posts)
        return self._answer("GetOpenPosten", request, work)

    def _op_GetGrootboekrekeningen(self, request):
        flt = _child(request, "cFilter")
        wanted_id, code, category = _long(flt, "ID"), _text(flt, "Code") or "", _text(flt, "Categorie") or ""

        def work():
            found = [g for g in sorted(self.ledgers.values(), key=lambda g: g.id)
                     if (not wanted_id or g.id == wanted_id) and (not code or g.code == code)
                     and (not category or g.category == category)]
            return self._list("Rekeningen", [
                self.element("cGrootboekrekening", None, self.element("ID", g.id), self.element("Code", g.code),
                             self.element("Omschrijving", g.description), self.element("Categorie", g.category),
                             self.element("Groep", g.group)) for g in found])
        return self._answer("GetGrootboekrekeningen", request, work)

    # ------------------------------------------------------------------ answer shapes

    def _list(self, wrapper: str, members: list[etree._Element]) -> list[etree._Element]:
        # e-Boekhouden leaves the wrapper of an empty list out altogether.
        return [self.element(wrapper, None, *members)] if members else []

    def _relation_element(self, rel: EbRelation) -> etree._Element:
        # SubElement under one parent: GetRelaties answers with every relation (10,000 and
        # more), and an element with its own namespace map per field costs three times as much.
        node = self.element("cRelatie")
        for attr, name in _RELATION_NAMES.items():
            value = getattr(rel, attr)
            if attr == "add_datum":
                value = _xml_datetime(value or date(1, 1, 1))
            etree.SubElement(node, f"{{{self.namespace}}}{name}").text = "" if value is None else str(value)
        return node

    def _mutation_element(self, b: Booking) -> etree._Element:
        lines = [self.element("cMutatieListRegel", None, *(self.element(n, v) for n, v in (
            ("BedragInvoer", _xml_decimal(line.amount_entered if line.amount_entered is not None
                                          else line.amount_incl_vat)),
            ("BedragExclBTW", _xml_decimal(line.amount_excl_vat)), ("BedragBTW", _xml_decimal(line.vat_amount)),
            ("BedragInclBTW", _xml_decimal(line.amount_incl_vat)), ("BTWCode", line.btw_code),
            ("BTWPercentage", _xml_decimal(line.btw_percentage)), ("Factuurnummer", line.invoice_number),
            ("TegenrekeningCode", line.ledger), ("KostenplaatsID", line.cost_centre_id)))) for line in b.lines]
        header = (("MutatieNr", b.number), ("Soort", b.soort.value), ("Datum", _xml_datetime(b.datum)),
                  ("Rekening", b.ledger), ("RelatieCode", b.relation_code), ("Factuurnummer", b.invoice_number),
                  ("Boekstuk", b.boekstuk), ("Omschrijving", b.description),
                  ("Betalingstermijn", "" if b.payment_term_days is None else str(b.payment_term_days)),
                  ("InExBTW", b.in_ex_vat))
        return self.element("cMutatieList", None, *(self.element(n, v) for n, v in header),
                            *self._list("MutatieRegels", lines))

    # ------------------------------------------------------------------ state file

    def state_to_json(self) -> Any:
        return self.admin.state_to_json()

    def state_from_json(self, data: Any) -> None:
        self.admin.state_from_json(data)


# --------------------------------------------------------------------------- reading requests strictly
# ASP.NET reads the whole request before running anything: a value it cannot convert
# is a soap:Client fault and nothing happens. A value-type element left out becomes
# 0 or DateTime.MinValue, which the business rules then refuse where it matters.


def _unreadable(detail: str) -> ClientFault:
    return ClientFault(f"Server was unable to read request. ---> There is an error in XML document. ---> {detail}")


def _child(parent: etree._Element | None, name: str) -> etree._Element | None:
    return None if parent is None else parent.find(f"{{{NAMESPACE}}}{name}")


def _text(parent: etree._Element | None, name: str) -> str | None:
    el = _child(parent, name)
    return None if el is None else (el.text or "")


def _optional_long(parent, name) -> int | None:
    value = _text(parent, name)
    if value is None:
        return None
    if not _LONG.match(value):
        raise _unreadable(f"Input string '{value[:40]}' was not in a correct format (element {name}, long).")
    return int(value)


def _long(parent, name) -> int:
    value = _optional_long(parent, name)
    return 0 if value is None else value


def _decimal(parent, name) -> Decimal:
    value = _text(parent, name)
    if value is None:
        return Decimal(0)
    try:
        if not _DECIMAL.match(value):
            raise InvalidOperation
        return Decimal(value.strip())
    except InvalidOperation:
        raise _unreadable(f"Input string '{value[:40]}' was not in a correct format (element {name}, "
                          "decimal).") from None


def _datetime(parent, name) -> date:
    value = _text(parent, name)
    if value is None:
        return date.min  # DateTime.MinValue
    match = _DATETIME.match(value)
    try:
        if not match:
            raise ValueError
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise _unreadable(f"The string '{value[:40]}' is not a valid AllXsd value (element {name}).") from None


def _enum(parent, name, allowed: tuple[str, ...], type_name: str) -> str:
    value = _text(parent, name)
    if value is None:
        return allowed[0]  # the enumeration's default
    if value not in allowed:
        raise _unreadable(f"Instance validation error: '{value[:40]}' is not a valid value for {type_name}.")
    return value


def _parse_relation(el: etree._Element | None) -> EbRelation:
    values: dict[str, Any] = {}
    for attr, name in _RELATION_NAMES.items():
        if attr == "add_datum":
            values[attr] = _datetime(el, name)
        elif attr in _RELATION_NUMBERS:
            values[attr] = _long(el, name)
        else:
            values[attr] = _text(el, name) or ""
    return EbRelation(**values)


def _parse_mutation(el: etree._Element | None) -> tuple[Booking, str]:
    """The booking and its raw Betalingstermijn (a string in the WSDL, checked as a business rule)."""
    lines = []
    regels = _child(el, "MutatieRegels")
    for regel in regels.findall(f"{{{NAMESPACE}}}cMutatieRegel") if regels is not None else ():
        lines.append(BookingLine(
            amount_entered=_decimal(regel, "BedragInvoer"), amount_excl_vat=_decimal(regel, "BedragExclBTW"),
            vat_amount=_decimal(regel, "BedragBTW"), amount_incl_vat=_decimal(regel, "BedragInclBTW"),
            btw_code=_text(regel, "BTWCode") or "", btw_percentage=_decimal(regel, "BTWPercentage"),
            ledger=_text(regel, "TegenrekeningCode") or "", cost_centre_id=_long(regel, "KostenplaatsID")))
    _long(el, "MutatieNr")  # ignored on Add, but it must still be a number
    term = _text(el, "Betalingstermijn") or ""
    booking = Booking(
        soort=MutatieSoort(_enum(el, "Soort", MUTATIE_SOORTEN, "enMutatieSoorten")),
        datum=_datetime(el, "Datum"), ledger=_text(el, "Rekening") or "",
        relation_code=_text(el, "RelatieCode") or "", invoice_number=_text(el, "Factuurnummer") or "",
        boekstuk=_text(el, "Boekstuk") or "", description=_text(el, "Omschrijving") or "",
        payment_term_days=int(term) if term.isdigit() and len(term) <= 4 else None,
        payment_reference=_text(el, "Betalingskenmerk") or "", in_ex_vat=_text(el, "InExBTW") or "",
        lines=tuple(lines))
    return booking, term


# --------------------------------------------------------------------------- writing answers


def _xml_datetime(day: date) -> str:
    return f"{day.isoformat()}T00:00:00"


def _xml_decimal(value: Decimal) -> str:
    return format(value, "f")


def _xml_double(value: Decimal) -> str:
    """How .NET writes a double: shortest form, no trailing zeros ("121", "60.5")."""
    text = format(value.normalize(), "f")
    return text if text not in ("-0",) else "0"
