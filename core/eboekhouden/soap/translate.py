"""Between pvsync's domain types and e-Boekhouden's SOAP shapes, both ways.

Requests are plain dicts in WSDL element names that zeep renders; answers are zeep
objects read by attribute. Money stays Decimal: the decimals of cMutatieRegel come back
as Decimal already, the doubles of cOpenPost are turned into Decimal through their
shortest text form and rounded to cents (a double never reaches the domain).
Dates are calendar dates; e-Boekhouden's dateTime fields carry them as midnight with no
offset, which is also what the service itself sends back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from core.model import (AMSTERDAM, Booking, BookingLine, EbRelation, Ledger, MutatieSoort, OpenItem,
                        round_cents)
from core.eboekhouden.limits import relation_field_names

_RELATION_NAMES = relation_field_names()
_RELATION_NUMBERS = ("id", "gb_id", "geen_email", "nieuwsbriefgroepen_count")


@dataclass(frozen=True)
class Administratie:
    """One administration the credentials can reach (GetAdministraties)."""

    bedrijf: str
    plaats: str
    guid: str
    start_boekjaar: str


def soap_datetime(day: date) -> datetime:
    """A calendar date as e-Boekhouden's dateTime: midnight, no offset (never shifted by a timezone)."""
    return datetime(day.year, day.month, day.day)


def calendar_date(value: datetime | date | None) -> date | None:
    """The booking date of a dateTime from the service (an offset, if any, is read in Amsterdam)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(AMSTERDAM).date()
        return value.date()
    return value


def text(value: Any) -> str:
    """zeep gives None for an empty element; the domain has empty strings."""
    return "" if value is None else str(value)


def money_from_double(value: float | None) -> Decimal:
    """A cOpenPost double as cents: 60.5 -> Decimal('60.50'); never through binary arithmetic."""
    return round_cents(Decimal(str(value if value is not None else 0)))


# --------------------------------------------------------------------------- relations


def relation_to_soap(rel: EbRelation, *, today: date) -> dict[str, Any]:
    """A cRelatie with every field: UpdateRelatie replaces the whole record, so nothing is left out."""
    values: dict[str, Any] = {}
    for attr, name in _RELATION_NAMES.items():
        value = getattr(rel, attr)
        if attr == "add_datum":
            value = soap_datetime(value or today)
        values[name] = value
    return values


def relation_from_soap(obj: Any) -> EbRelation:
    values: dict[str, Any] = {}
    for attr, name in _RELATION_NAMES.items():
        value = getattr(obj, name, None)
        if attr == "add_datum":
            values[attr] = calendar_date(value)
        elif attr in _RELATION_NUMBERS:
            values[attr] = int(value or 0)
        else:
            values[attr] = text(value)
    return EbRelation(**values)


# --------------------------------------------------------------------------- bookings


def booking_to_soap(b: Booking) -> dict[str, Any]:
    """A cMutatie. MutatieNr is ignored by AddMutatie (the service numbers it) but required."""
    return {
        "MutatieNr": 0,
        "Soort": b.soort.value,
        "Datum": soap_datetime(b.datum),
        "Rekening": b.ledger,
        "RelatieCode": b.relation_code or None,
        "Factuurnummer": b.invoice_number or None,
        "Boekstuk": b.boekstuk or None,
        "Omschrijving": b.description or None,
        "Betalingstermijn": None if b.payment_term_days is None else str(b.payment_term_days),
        "Betalingskenmerk": b.payment_reference or None,
        "InExBTW": b.in_ex_vat,
        "MutatieRegels": {"cMutatieRegel": [line_to_soap(line, b.in_ex_vat) for line in b.lines]},
    }


def line_to_soap(line: BookingLine, in_ex_vat: str) -> dict[str, Any]:
    entered = line.amount_entered
    if entered is None:
        entered = line.amount_incl_vat if in_ex_vat == "IN" else line.amount_excl_vat
    return {
        "BedragInvoer": entered,
        "BedragExclBTW": line.amount_excl_vat,
        "BedragBTW": line.vat_amount,
        "BedragInclBTW": line.amount_incl_vat,
        "BTWCode": line.btw_code,
        "BTWPercentage": line.btw_percentage,
        "TegenrekeningCode": line.ledger,
        "KostenplaatsID": line.cost_centre_id,
    }


def booking_from_soap(obj: Any) -> Booking:
    """A cMutatieList (GetMutaties): no Betalingskenmerk, an invoice number per line."""
    regels = getattr(obj.MutatieRegels, "cMutatieListRegel", None) if obj.MutatieRegels is not None else None
    term = text(obj.Betalingstermijn).strip()
    return Booking(
        soort=MutatieSoort(obj.Soort),
        datum=calendar_date(obj.Datum),
        ledger=text(obj.Rekening),
        relation_code=text(obj.RelatieCode),
        invoice_number=text(obj.Factuurnummer),
        boekstuk=text(obj.Boekstuk),
        description=text(obj.Omschrijving),
        payment_term_days=int(term) if term.isdigit() else None,
        in_ex_vat=text(obj.InExBTW),
        lines=tuple(line_from_soap(regel) for regel in regels or () if regel is not None),
        number=int(obj.MutatieNr),
    )


def line_from_soap(obj: Any) -> BookingLine:
    return BookingLine(
        amount_excl_vat=Decimal(obj.BedragExclBTW),
        vat_amount=Decimal(obj.BedragBTW),
        amount_incl_vat=Decimal(obj.BedragInclBTW),
        btw_code=text(obj.BTWCode),
        btw_percentage=Decimal(obj.BTWPercentage),
        ledger=text(obj.TegenrekeningCode),
        amount_entered=Decimal(obj.BedragInvoer),
        invoice_number=text(obj.Factuurnummer),
        cost_centre_id=int(obj.KostenplaatsID or 0),
    )


# --------------------------------------------------------------------------- open items, ledgers, administrations


def open_item_from_soap(obj: Any) -> OpenItem:
    return OpenItem(
        date=calendar_date(obj.MutDatum),
        invoice_number=text(obj.MutFactuur),
        relation_code=text(obj.RelCode),
        relation_name=text(obj.RelBedrijf),
        amount=money_from_double(obj.Bedrag),
        paid=money_from_double(obj.Voldaan),
        outstanding=money_from_double(obj.Openstaand),
    )


def ledger_from_soap(obj: Any) -> Ledger:
    return Ledger(id=int(obj.ID), code=text(obj.Code), description=text(obj.Omschrijving),
                  category=text(obj.Categorie), group=text(getattr(obj, "Groep", None)))


def administratie_from_soap(obj: Any) -> Administratie:
    return Administratie(bedrijf=text(obj.Bedrijf), plaats=text(obj.Plaats), guid=text(obj.Guid),
                         start_boekjaar=text(obj.StartBoekjaar))


def items(wrapper: Any, name: str) -> list[Any]:
    """The members of a list wrapper; e-Boekhouden leaves an empty list's wrapper out."""
    if wrapper is None:
        return []
    return [item for item in getattr(wrapper, name, None) or () if item is not None]
