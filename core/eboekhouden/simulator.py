"""A simulator of e-Boekhouden.nl's SOAP service, strict enough that passing against it means something.

It serves pvsync's WSDL at /soap.asmx?WSDL and behaves like the service as far as the public
record tells (NOTES.md): sessions with a time to live and SecurityCode2 on every call;
business errors in ErrorMsg with HTTP 200 (codes start with SIM_ because the real ones are
not public); unreadable requests, bad numbers or dates and invalid enumeration values as
an HTTP 500 soap:Client fault, the way ASP.NET answers them; every documented limit
enforced. Open items are derived from the bookings, never stored: an invoice's open amount
is its total minus the FactuurbetalingOntvangen bookings with its number, so tests and the
demo pay an invoice the way a bookkeeper does, through AddMutatie.

Everything about envelopes, faults, latency and the state file lives in the shared base
(core.soap.simulator); this module is the service's behaviour only.
"""

from __future__ import annotations

import json
import re
import signal
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Literal

from lxml import etree

from core.eboekhouden.limits import (FIRST_BOOKING_YEAR, GESLACHT_VALUES, IN_EX_VALUES, INVOICE_SOORTEN,
                                     LAST_BOOKING_YEAR, MAX_BETALINGSKENMERK, MAX_BOEKSTUK, MAX_INVOICE_NUMBER,
                                     MAX_LEDGER_CODE, MAX_OMSCHRIJVING, MAX_RELATION_CODE, PAYMENT_SOORTEN,
                                     RELATION_TEXT_FIELDS, VAT_SIDE_FOR, relation_field_names)
from core.model import AMSTERDAM, BTW_CODES, Booking, BookingLine, EbRelation, Ledger, MutatieSoort
from core.soap.loopback import LoopbackServer
from core.soap.simulator import ClientFault, Knobs, SoapSimulator

NAMESPACE = "http://www.e-boekhouden.nl/soap"
WSDL_FILE = Path(__file__).with_name("soap.asmx.wsdl")

MUTATIE_SOORTEN = tuple(s.value for s in MutatieSoort)
OPENPOSTEN_SOORTEN = ("Debiteuren", "Crediteuren")
MAX_MUTATIES_PER_ANSWER = 500
# Which bookings an open item is made of, per GetOpenPosten kind: (invoice, payment).
OPEN_ITEM_SOORTEN = {
    "Debiteuren": (MutatieSoort.FACTUUR_VERSTUURD, MutatieSoort.FACTUURBETALING_ONTVANGEN),
    "Crediteuren": (MutatieSoort.FACTUUR_ONTVANGEN, MutatieSoort.FACTUURBETALING_VERSTUURD),
}
_RELATION_NAMES = relation_field_names()
_RELATION_NUMBERS = ("id", "gb_id", "geen_email", "nieuwsbriefgroepen_count")
_LONG = re.compile(r"^\s*[+-]?\d{1,19}\s*$")
_DECIMAL = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$")
_DATETIME = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?)?\s*$")


@dataclass(frozen=True)
class SimCredentials:
    """What the simulator accepts at OpenSession. Demo values, not anyone's secrets."""

    username: str = "pvsync-demo"
    security_code_1: str = "3f9a6c1e8b2d47f0a5c9e1b7d3f6a2c8"  # 32 hex, like the real ones
    security_code_2: str = "7C2E9A41-5B3D-4F86-9E1A-2D6C8B0F4A37"  # a GUID, like the real ones


class Refusal(Exception):
    """An in-band business error: ErrorMsg filled, HTTP 200."""

    def __init__(self, code: str, description: str):
        self.code = code
        self.description = description
        super().__init__(f"{code}: {description}")


class IndexedTable(dict):
    """Records by ID that are also found by a key of their own (a relation by Code, a booking
    by Factuurnummer) without a scan, so a large administration answers as fast as a small one.

    Every change goes through the dict's own methods (tests change the tables directly too),
    and each of them keeps the index in step.
    """

    def __init__(self, key: Callable[[Any], str], records: dict | None = None):
        super().__init__()
        self._key = key
        self._index: dict[str, dict[Any, None]] = defaultdict(dict)  # key -> IDs, oldest first
        self.update(records or {})

    def find(self, key: str) -> list[Any]:
        """The records with this key, oldest first."""
        return [self[record_id] for record_id in self._index.get(key, ())]

    def __setitem__(self, record_id: Any, record: Any) -> None:
        if record_id in self:
            self._unindex(record_id)
        super().__setitem__(record_id, record)
        self._index[self._key(record)][record_id] = None

    def __delitem__(self, record_id: Any) -> None:
        self._unindex(record_id)
        super().__delitem__(record_id)

    def _unindex(self, record_id: Any) -> None:
        key = self._key(self[record_id])
        ids = self._index[key]
        ids.pop(record_id, None)
        if not ids:
            del self._index[key]

    def pop(self, record_id: Any, *default: Any) -> Any:
        if record_id not in self:
            return super().pop(record_id, *default)
        record = self[record_id]
        del self[record_id]
        return record

    def popitem(self) -> tuple[Any, Any]:
        record_id = next(reversed(self))
        return record_id, self.pop(record_id)

    def clear(self) -> None:
        super().clear()
        self._index.clear()

    def setdefault(self, record_id: Any, default: Any = None) -> Any:
        if record_id not in self:
            self[record_id] = default
        return self[record_id]

    def update(self, *others: Any, **more: Any) -> None:
        for record_id, record in dict(*others, **more).items():
            self[record_id] = record

    def __ior__(self, other: Any) -> IndexedTable:
        self.update(other)
        return self


class EboekhoudenSimulator(SoapSimulator):
    namespace = NAMESPACE
    path = "/soap.asmx"
    wsdl_file = WSDL_FILE
    service_name = "e-Boekhouden"

    def __init__(self, knobs: Knobs | None = None, state_file=None,
                 seed_data: Literal["demo", "empty"] = "demo", session_ttl_seconds: float = 1800,
                 mutaties_monthly_cap: int = 5000, credentials: SimCredentials | None = None,
                 clock: Callable[[], float] = time.time):
        super().__init__(knobs, state_file)
        self.credentials = credentials or SimCredentials()
        self.session_ttl_seconds = session_ttl_seconds
        self.mutaties_monthly_cap = mutaties_monthly_cap
        self.clock = clock
        self.sessions: dict[str, float] = {}  # SessionID -> last use (clock)
        self.relations = _relation_table()
        self.ledgers: dict[int, Ledger] = {}
        self.mutations = _mutation_table()
        self.mutaties_calls: Counter[str] = Counter()  # GetMutaties calls per month "YYYY-MM"
        self.next_relation_id = 1001
        self.next_mutation_number = 1
        if not self.load_state():
            from core.eboekhouden.demo_data import seed

            seed(self, seed_data)
            self.save_state()

    # ------------------------------------------------------------------ plain helpers for tests and the demo

    def relation_codes(self) -> list[str]:
        return sorted(r.code for r in self.relations.values())

    def relation_by_code(self, code: str) -> EbRelation | None:
        return next(iter(self.relations.find(code)), None)

    def booking(self, number: int) -> Booking | None:
        return self.mutations.get(number)

    def bookings_for_invoice(self, invoice_number: str) -> list[Booking]:
        return self.mutations.find(invoice_number)

    def open_item(self, invoice_number: str, kind: str = "Debiteuren") -> tuple[Decimal, Decimal, Decimal] | None:
        """(Bedrag, Voldaan, Openstaand) of an invoice, also when it is fully paid; None when unknown."""
        for invoice, paid in self._invoices_with_payments(kind):
            if invoice.invoice_number == invoice_number:
                total = invoice.total_incl_vat()
                return total, paid, total - paid
        return None

    def ledger_codes(self) -> list[str]:
        return sorted(g.code for g in self.ledgers.values())

    # ------------------------------------------------------------------ the service's rules (also used by seeding)

    def add_ledger(self, code: str, description: str, category: str, group: str = "") -> Ledger:
        ledger = Ledger(id=len(self.ledgers) + 1, code=code, description=description, category=category,
                        group=group)
        self.ledgers[ledger.id] = ledger
        self.dirty = True
        return ledger

    def store_relation(self, rel: EbRelation) -> int:
        """AddRelatie's rules: a valid record with a new Code gets the next ID."""
        self._check_relation(rel)
        if self.relation_by_code(rel.code) is not None:
            raise Refusal("SIM_REL_CODE_EXISTS", f"Relatiecode '{rel.code}' bestaat al.")
        rel = replace(rel, id=self.next_relation_id)
        self.next_relation_id += 1
        self.relations[rel.id] = rel
        self.dirty = True
        self.events.append(f"AddRelatie {rel.code} -> {rel.id}")
        return rel.id

    def replace_relation(self, rel: EbRelation) -> None:
        """UpdateRelatie's rules: the record with this ID is replaced whole (what is left out is cleared)."""
        if rel.id not in self.relations:
            raise Refusal("SIM_REL_NOT_FOUND", f"Relatie met ID {rel.id} niet gevonden.")
        self._check_relation(rel)
        other = self.relation_by_code(rel.code)
        if other is not None and other.id != rel.id:
            raise Refusal("SIM_REL_CODE_EXISTS", f"Relatiecode '{rel.code}' bestaat al.")
        self.relations[rel.id] = rel
        self.dirty = True
        self.events.append(f"UpdateRelatie {rel.code} ({rel.id})")

    def store_mutation(self, b: Booking, payment_term: str = "") -> int:
        """AddMutatie's rules: known relation and ledgers, unique invoice numbers, matching BTW-codes."""
        self._check_mutation(b, payment_term)
        b = replace(b, number=self.next_mutation_number,
                    lines=tuple(replace(line, invoice_number=b.invoice_number) for line in b.lines))
        self.next_mutation_number += 1
        self.mutations[b.number] = b
        self.dirty = True
        self.events.append(f"AddMutatie {b.soort.value} {b.invoice_number or b.boekstuk} -> {b.number}")
        return b.number

    def _check_relation(self, rel: EbRelation) -> None:
        if not rel.code:
            raise Refusal("SIM_REL_CODE_REQUIRED", "Relatiecode is verplicht.")
        if not rel.bedrijf:
            raise Refusal("SIM_REL_BEDRIJF_REQUIRED", "Bedrijf is verplicht.")
        for attr, name, limit in RELATION_TEXT_FIELDS:
            value = getattr(rel, attr)
            if limit is not None and len(value) > limit and attr not in ("bp", "geslacht", "la"):
                raise Refusal("SIM_FIELD_TOO_LONG", f"{name} is te lang (maximaal {limit} tekens).")
        if rel.bp not in ("B", "P"):
            raise Refusal("SIM_REL_BP", "BP moet B (bedrijf) of P (particulier) zijn.")
        if rel.geslacht not in GESLACHT_VALUES:
            raise Refusal("SIM_REL_GESLACHT", "Geslacht moet m, v of a zijn.")
        if rel.la not in ("", "0", "1"):
            raise Refusal("SIM_REL_LA", "LA moet 0 of 1 zijn.")

    def _check_mutation(self, b: Booking, payment_term: str) -> None:
        if not FIRST_BOOKING_YEAR <= b.datum.year <= LAST_BOOKING_YEAR:
            raise Refusal("SIM_MUT_DATE", f"Datum {b.datum.isoformat()} valt buiten de toegestane periode.")
        for name, value, limit in (("Rekening", b.ledger, MAX_LEDGER_CODE),
                                   ("RelatieCode", b.relation_code, MAX_RELATION_CODE),
                                   ("Factuurnummer", b.invoice_number, MAX_INVOICE_NUMBER),
                                   ("Boekstuk", b.boekstuk, MAX_BOEKSTUK),
                                   ("Omschrijving", b.description, MAX_OMSCHRIJVING),
                                   ("Betalingskenmerk", b.payment_reference, MAX_BETALINGSKENMERK),
                                   ("Betalingstermijn", payment_term, 4)):
            if len(value) > limit:
                raise Refusal("SIM_FIELD_TOO_LONG", f"{name} is te lang (maximaal {limit} tekens).")
        if payment_term and not payment_term.isdigit():
            raise Refusal("SIM_MUT_PAYMENT_TERM", "Betalingstermijn moet een aantal dagen zijn.")
        if b.in_ex_vat not in IN_EX_VALUES:
            raise Refusal("SIM_MUT_INEXBTW", "InExBTW moet IN of EX zijn.")
        if not self._ledger(b.ledger):
            raise Refusal("SIM_MUT_LEDGER_UNKNOWN", f"Grootboekrekening '{b.ledger}' bestaat niet.")
        if b.relation_code and self.relation_by_code(b.relation_code) is None:
            raise Refusal("SIM_MUT_RELATION_UNKNOWN", f"Relatie '{b.relation_code}' bestaat niet.")
        if b.soort in INVOICE_SOORTEN + PAYMENT_SOORTEN:
            if not b.relation_code:
                raise Refusal("SIM_MUT_RELATION_REQUIRED", f"Bij {b.soort.value} is een relatie verplicht.")
            if not b.invoice_number:
                raise Refusal("SIM_MUT_INVOICE_REQUIRED", f"Bij {b.soort.value} is een factuurnummer verplicht.")
        if b.soort in INVOICE_SOORTEN and self._invoice(b.soort, b.relation_code, b.invoice_number):
            raise Refusal("SIM_MUT_INVOICE_EXISTS",
                          f"Factuurnummer '{b.invoice_number}' bestaat al voor relatie '{b.relation_code}'.")
        if b.soort in PAYMENT_SOORTEN:
            invoice_soort = INVOICE_SOORTEN[PAYMENT_SOORTEN.index(b.soort)]
            if not self._invoice(invoice_soort, b.relation_code, b.invoice_number):
                raise Refusal("SIM_MUT_INVOICE_NOT_FOUND",
                              f"Factuur '{b.invoice_number}' van relatie '{b.relation_code}' niet gevonden.")
        if not b.lines:
            raise Refusal("SIM_MUT_NO_LINES", "Een mutatie heeft minstens één regel.")
        for position, line in enumerate(b.lines, start=1):
            if len(line.ledger) > MAX_LEDGER_CODE:
                raise Refusal("SIM_FIELD_TOO_LONG", f"Regel {position}: TegenrekeningCode is te lang "
                                                    f"(maximaal {MAX_LEDGER_CODE} tekens).")
            if not self._ledger(line.ledger):
                raise Refusal("SIM_MUT_LEDGER_UNKNOWN",
                              f"Regel {position}: grootboekrekening '{line.ledger}' bestaat niet.")
            btw = BTW_CODES.get(line.btw_code)
            if btw is None:
                raise Refusal("SIM_MUT_BTWCODE", f"Regel {position}: BTW-code '{line.btw_code}' is ongeldig.")
            sides = VAT_SIDE_FOR.get(b.soort)
            if sides is not None and btw.side not in sides:
                raise Refusal("SIM_MUT_BTWCODE_SIDE", f"Regel {position}: BTW-code {btw.code} past niet bij "
                                                      f"{b.soort.value}.")

    def _ledger(self, code: str) -> Ledger | None:
        return next((g for g in self.ledgers.values() if g.code == code), None) if code else None

    def _invoice(self, soort: MutatieSoort, relation_code: str, invoice_number: str) -> Booking | None:
        return next((b for b in self.mutations.find(invoice_number) if b.soort is soort
                     and b.relation_code == relation_code), None)

    def _invoices_with_payments(self, kind: str) -> list[tuple[Booking, Decimal]]:
        invoice_soort, payment_soort = OPEN_ITEM_SOORTEN[kind]
        paid: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for b in self.mutations.values():
            if b.soort is payment_soort:
                paid[(b.relation_code, b.invoice_number)] += b.total_incl_vat()
        return [(b, paid[(b.relation_code, b.invoice_number)])
                for b in sorted(self.mutations.values(), key=lambda m: m.number) if b.soort is invoice_soort]

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
        low, high = _optional_long(flt, "MutatieNrVan"), _optional_long(flt, "MutatieNrTm")
        date_from, date_to = _datetime(flt, "DatumVan"), _datetime(flt, "DatumTm")

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
            for invoice, paid in self._invoices_with_payments(kind):
                total = invoice.total_incl_vat()
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
        return {
            "relations": [_relation_json(r) for r in self.relations.values()],
            "ledgers": [asdict(g) for g in self.ledgers.values()],
            "mutations": [_booking_json(b) for b in self.mutations.values()],
            "mutaties_calls": dict(self.mutaties_calls),
            "next_relation_id": self.next_relation_id,
            "next_mutation_number": self.next_mutation_number,
        }

    def state_from_json(self, data: Any) -> None:
        self.relations = _relation_table({r.id: r for r in map(_relation_from_json, data["relations"])})
        self.ledgers = {g["id"]: Ledger(**g) for g in data["ledgers"]}
        self.mutations = _mutation_table({b.number: b for b in map(_booking_from_json, data["mutations"])})
        self.mutaties_calls = Counter(data["mutaties_calls"])
        self.next_relation_id = data["next_relation_id"]
        self.next_mutation_number = data["next_mutation_number"]


def _relation_table(records: dict[int, EbRelation] | None = None) -> IndexedTable:
    return IndexedTable(lambda relation: relation.code, records)


def _mutation_table(records: dict[int, Booking] | None = None) -> IndexedTable:
    return IndexedTable(lambda booking: booking.invoice_number, records)


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


# --------------------------------------------------------------------------- state file shapes


def _relation_json(rel: EbRelation) -> dict[str, Any]:
    data = asdict(rel)
    data["add_datum"] = rel.add_datum.isoformat() if rel.add_datum else None
    return data


def _relation_from_json(data: dict[str, Any]) -> EbRelation:
    data = dict(data)
    data["add_datum"] = date.fromisoformat(data["add_datum"]) if data["add_datum"] else None
    return EbRelation(**data)


def _booking_json(b: Booking) -> dict[str, Any]:
    data = asdict(b)
    data["soort"] = b.soort.value
    data["datum"] = b.datum.isoformat()
    data["lines"] = [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(line).items()}
                     for line in b.lines]
    return data


def _booking_from_json(data: dict[str, Any]) -> Booking:
    decimals = {f.name for f in fields(BookingLine) if "Decimal" in str(f.type)}
    lines = tuple(BookingLine(**{k: (Decimal(v) if k in decimals and v is not None else v)
                                 for k, v in line.items()}) for line in data["lines"])
    return Booking(**{**data, "soort": MutatieSoort(data["soort"]), "datum": date.fromisoformat(data["datum"]),
                      "lines": lines})


# --------------------------------------------------------------------------- running it


def serve(port: int = 0, seed: Literal["demo", "empty"] = "demo", latency_ms: float = 0.0, faults: str = "",
          state: str | Path | None = None) -> None:
    """Run the simulator on 127.0.0.1:`port` until SIGINT or SIGTERM.

    Prints one JSON line with its URL and the credentials it accepts (demo values,
    printed on purpose so scripts can use them), then blocks.
    """
    knobs = Knobs(latency_ms=latency_ms, faults=Knobs.parse_faults(faults))
    sim = EboekhoudenSimulator(knobs, state_file=state, seed_data=seed)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with LoopbackServer(sim, port=port) as server:
        c = sim.credentials
        print(json.dumps({"service": "eboekhouden", "url": server.url(sim.path), "username": c.username,
                          "security_code_1": c.security_code_1, "security_code_2": c.security_code_2}), flush=True)
        stop.wait()
