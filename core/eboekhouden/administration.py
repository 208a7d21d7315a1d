"""One simulated e-Boekhouden administration, served by both simulators (SOAP and REST).

The administration is the data and the business rules every API shares: relations (by ID
and by code), ledgers (a numeric ID and a code), mutations with their numbers, and open
items derived from the bookings, never stored: an invoice's open amount is its total minus
the payment bookings with its number. Each API simulator translates its own requests into
these records and its own refusal codes; because they sit on one model, a test can book
over one API and read the result back over the other.

Refusals here carry the SOAP simulator's SIM_ codes (the real SOAP codes are not public);
the REST simulator checks its own documented rules first and maps what is left.
"""

from __future__ import annotations

import os
import threading
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, fields, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from core.eboekhouden.limits import (FIRST_BOOKING_YEAR, GESLACHT_VALUES, IN_EX_VALUES, INVOICE_SOORTEN,
                                     LAST_BOOKING_YEAR, MAX_BETALINGSKENMERK, MAX_BOEKSTUK, MAX_INVOICE_NUMBER,
                                     MAX_LEDGER_CODE, MAX_OMSCHRIJVING, MAX_RELATION_CODE, PAYMENT_SOORTEN,
                                     RELATION_TEXT_FIELDS, VAT_SIDE_FOR)
from core.model import BTW_CODES, Booking, BookingLine, EbRelation, Ledger, MutatieSoort
from core.soap.simulator import StateFile

# Which bookings an open item is made of, per kind: (invoice, payment).
OPEN_ITEM_SOORTEN = {
    "Debiteuren": (MutatieSoort.FACTUUR_VERSTUURD, MutatieSoort.FACTUURBETALING_ONTVANGEN),
    "Crediteuren": (MutatieSoort.FACTUUR_ONTVANGEN, MutatieSoort.FACTUURBETALING_VERSTUURD),
}
FIRST_RELATION_ID = 1001
# Ledger IDs are large numbers, as live (the spec's example uses 10111230), so a client that sends a
# ledger code where an id belongs is refused; SOAP's GetGrootboekrekeningen shows the same IDs.
FIRST_LEDGER_ID = 10111201


class Refusal(Exception):
    """A business rule refused the record (SOAP: ErrorMsg filled, HTTP 200)."""

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


@dataclass(frozen=True)
class OpenItem:
    """An invoice with what has been paid on it (derived, never stored)."""

    invoice: Booking
    paid: Decimal

    @property
    def total(self) -> Decimal:
        return self.invoice.total_incl_vat()

    @property
    def outstanding(self) -> Decimal:
        return self.total - self.paid


class Administration(StateFile):
    """The records and rules of one administration, shared by every API that serves it.

    `lock` serialises every request of every API on it; `dirty` says the state file is
    behind. `extras` keeps per-relation values only the REST API has (e.g. a separate
    invoice e-mail address), so a PATCH over REST does not lose them.
    """

    def __init__(self, state_file: str | os.PathLike | None = None):
        self.lock = threading.RLock()
        self.state_file = Path(state_file) if state_file else None
        self.dirty = False
        self.events: list[str] = []  # what happened, for the simulators' own log (no secrets)
        self.relations = relation_table()
        self.ledgers: dict[int, Ledger] = {}
        self.mutations = mutation_table()
        self.extras: dict[int, dict[str, Any]] = {}
        self.mutaties_calls: Counter[str] = Counter()  # SOAP GetMutaties calls per month "YYYY-MM"
        self.next_relation_id = FIRST_RELATION_ID
        self.next_mutation_number = 1

    # ------------------------------------------------------------------ lookups

    def relation_codes(self) -> list[str]:
        return sorted(r.code for r in self.relations.values())

    def relation_by_code(self, code: str) -> EbRelation | None:
        return next(iter(self.relations.find(code)), None)

    def booking(self, number: int) -> Booking | None:
        return self.mutations.get(number)

    def bookings_for_invoice(self, invoice_number: str) -> list[Booking]:
        return self.mutations.find(invoice_number)

    def ledger_codes(self) -> list[str]:
        return sorted(g.code for g in self.ledgers.values())

    def ledger_by_code(self, code: str) -> Ledger | None:
        return next((g for g in self.ledgers.values() if g.code == code), None) if code else None

    def invoice(self, soort: MutatieSoort, relation_code: str, invoice_number: str) -> Booking | None:
        return next((b for b in self.mutations.find(invoice_number) if b.soort is soort
                     and b.relation_code == relation_code), None)

    def open_items(self, kind: str = "Debiteuren") -> list[OpenItem]:
        """Every invoice of this kind (Debiteuren, Crediteuren) with its payments, by number; paid ones too."""
        invoice_soort, payment_soort = OPEN_ITEM_SOORTEN[kind]
        paid: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for b in self.mutations.values():
            if b.soort is payment_soort:
                paid[(b.relation_code, b.invoice_number)] += b.total_incl_vat()
        return [OpenItem(b, paid[(b.relation_code, b.invoice_number)])
                for b in sorted(self.mutations.values(), key=lambda m: m.number) if b.soort is invoice_soort]

    def open_item(self, invoice_number: str, kind: str = "Debiteuren") -> tuple[Decimal, Decimal, Decimal] | None:
        """(Bedrag, Voldaan, Openstaand) of an invoice, also when it is fully paid; None when unknown."""
        for item in self.open_items(kind):
            if item.invoice.invoice_number == invoice_number:
                return item.total, item.paid, item.outstanding
        return None

    # ------------------------------------------------------------------ the rules

    def add_ledger(self, code: str, description: str, category: str, group: str = "") -> Ledger:
        ledger = Ledger(id=FIRST_LEDGER_ID + len(self.ledgers), code=code, description=description,
                        category=category, group=group)
        self.ledgers[ledger.id] = ledger
        self.dirty = True
        return ledger

    def store_relation(self, rel: EbRelation) -> int:
        """A valid record with a new Code gets the next ID."""
        self.check_relation(rel)
        if self.relation_by_code(rel.code) is not None:
            raise Refusal("SIM_REL_CODE_EXISTS", f"Relatiecode '{rel.code}' bestaat al.")
        rel = replace(rel, id=self.next_relation_id)
        self.next_relation_id += 1
        self.relations[rel.id] = rel
        self.dirty = True
        self.events.append(f"AddRelatie {rel.code} -> {rel.id}")
        return rel.id

    def replace_relation(self, rel: EbRelation) -> None:
        """The record with this ID is replaced whole (what is left out is cleared)."""
        if rel.id not in self.relations:
            raise Refusal("SIM_REL_NOT_FOUND", f"Relatie met ID {rel.id} niet gevonden.")
        self.check_relation(rel)
        other = self.relation_by_code(rel.code)
        if other is not None and other.id != rel.id:
            raise Refusal("SIM_REL_CODE_EXISTS", f"Relatiecode '{rel.code}' bestaat al.")
        self.relations[rel.id] = rel
        self.dirty = True
        self.events.append(f"UpdateRelatie {rel.code} ({rel.id})")

    def store_mutation(self, b: Booking, payment_term: str = "") -> int:
        """Known relation and ledgers, unique invoice numbers, matching BTW-codes; the next number."""
        self.check_mutation(b, payment_term)
        b = replace(b, number=self.next_mutation_number,
                    lines=tuple(replace(line, invoice_number=b.invoice_number) for line in b.lines))
        self.next_mutation_number += 1
        self.mutations[b.number] = b
        self.dirty = True
        self.events.append(f"AddMutatie {b.soort.value} {b.invoice_number or b.boekstuk} -> {b.number}")
        return b.number

    def check_relation(self, rel: EbRelation) -> None:
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

    def check_mutation(self, b: Booking, payment_term: str = "") -> None:
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
        if not self.ledger_by_code(b.ledger):
            raise Refusal("SIM_MUT_LEDGER_UNKNOWN", f"Grootboekrekening '{b.ledger}' bestaat niet.")
        if b.relation_code and self.relation_by_code(b.relation_code) is None:
            raise Refusal("SIM_MUT_RELATION_UNKNOWN", f"Relatie '{b.relation_code}' bestaat niet.")
        if b.soort in INVOICE_SOORTEN + PAYMENT_SOORTEN:
            if not b.relation_code:
                raise Refusal("SIM_MUT_RELATION_REQUIRED", f"Bij {b.soort.value} is een relatie verplicht.")
            if not b.invoice_number:
                raise Refusal("SIM_MUT_INVOICE_REQUIRED", f"Bij {b.soort.value} is een factuurnummer verplicht.")
        if b.soort in INVOICE_SOORTEN and self.invoice(b.soort, b.relation_code, b.invoice_number):
            raise Refusal("SIM_MUT_INVOICE_EXISTS",
                          f"Factuurnummer '{b.invoice_number}' bestaat al voor relatie '{b.relation_code}'.")
        if b.soort in PAYMENT_SOORTEN:
            invoice_soort = INVOICE_SOORTEN[PAYMENT_SOORTEN.index(b.soort)]
            if not self.invoice(invoice_soort, b.relation_code, b.invoice_number):
                raise Refusal("SIM_MUT_INVOICE_NOT_FOUND",
                              f"Factuur '{b.invoice_number}' van relatie '{b.relation_code}' niet gevonden.")
        if not b.lines:
            raise Refusal("SIM_MUT_NO_LINES", "Een mutatie heeft minstens één regel.")
        for position, line in enumerate(b.lines, start=1):
            if len(line.ledger) > MAX_LEDGER_CODE:
                raise Refusal("SIM_FIELD_TOO_LONG", f"Regel {position}: TegenrekeningCode is te lang "
                                                    f"(maximaal {MAX_LEDGER_CODE} tekens).")
            if not self.ledger_by_code(line.ledger):
                raise Refusal("SIM_MUT_LEDGER_UNKNOWN",
                              f"Regel {position}: grootboekrekening '{line.ledger}' bestaat niet.")
            btw = BTW_CODES.get(line.btw_code)
            if btw is None:
                raise Refusal("SIM_MUT_BTWCODE", f"Regel {position}: BTW-code '{line.btw_code}' is ongeldig.")
            sides = VAT_SIDE_FOR.get(b.soort)
            if sides is not None and btw.side not in sides:
                raise Refusal("SIM_MUT_BTWCODE_SIDE", f"Regel {position}: BTW-code {btw.code} past niet bij "
                                                      f"{b.soort.value}.")

    # ------------------------------------------------------------------ state file

    def state_to_json(self) -> Any:
        return {
            "relations": [_relation_json(r) for r in self.relations.values()],
            "ledgers": [asdict(g) for g in self.ledgers.values()],
            "mutations": [_booking_json(b) for b in self.mutations.values()],
            "extras": {str(k): v for k, v in self.extras.items()},
            "mutaties_calls": dict(self.mutaties_calls),
            "next_relation_id": self.next_relation_id,
            "next_mutation_number": self.next_mutation_number,
        }

    def state_from_json(self, data: Any) -> None:
        self.relations = relation_table({r.id: r for r in map(_relation_from_json, data["relations"])})
        self.ledgers = {g["id"]: Ledger(**g) for g in data["ledgers"]}
        self.mutations = mutation_table({b.number: b for b in map(_booking_from_json, data["mutations"])})
        self.extras = {int(k): v for k, v in data.get("extras", {}).items()}
        self.mutaties_calls = Counter(data["mutaties_calls"])
        self.next_relation_id = data["next_relation_id"]
        self.next_mutation_number = data["next_mutation_number"]


def relation_table(records: dict[int, EbRelation] | None = None) -> IndexedTable:
    return IndexedTable(lambda relation: relation.code, records)


def mutation_table(records: dict[int, Booking] | None = None) -> IndexedTable:
    return IndexedTable(lambda booking: booking.invoice_number, records)


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
