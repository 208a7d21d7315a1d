"""PerfectView records <-> core.model, given the database's resolved fields.

Pure functions: the client hands in the answer objects, the field map of the right kind
and the country lookups, and gets model objects (or field-value lists) back. Every
PerfectView field value is a string; dates travel as ISO dates (yyyy-mm-dd), checkboxes
as "True"/"False", the Land fields as the GUID of a DatastoreGetCountries entry.
"""

from __future__ import annotations

from dataclasses import fields as dataclass_fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable

from core.model import (Address, Attachment, CrmRelation, Gender, InvoiceLine, Problem, PvVatCode, RelationKind,
                        SalesInvoice, money)
from core.perfectview.catalog import PvField, items

GENDERS = {"man": Gender.MALE, "vrouw": Gender.FEMALE, "onbekend": Gender.UNKNOWN}
GENDER_VALUES = {Gender.MALE: "Man", Gender.FEMALE: "Vrouw", Gender.UNKNOWN: "Onbekend", Gender.NONE: ""}
ADDRESSES = ("visiting_address", "postal_address", "private_address", "deviating_address")
NIL_GUIDS = {"", "00000000-0000-0000-0000-000000000000"}


def field_values(data: Any) -> dict[str, str]:
    """{field GUID: value} of a PvRelationData / PvActivityData / PvRelationshipData."""
    holder = getattr(data, "FieldValues", None)
    return {str(v.Id).lower(): v.Value or "" for v in items(getattr(holder, "Items", None), "PvFieldValueData")}


def _reader(values: dict[str, str], fields: dict[str, PvField]) -> Callable[[str], str]:
    return lambda attribute: values.get(fields[attribute].id, "").strip() if attribute in fields else ""


# CrmRelation's attributes that a field fills as it is (not the gender, not the addresses).
_PLAIN = frozenset({f.name for f in dataclass_fields(CrmRelation)} - {"gender", *ADDRESSES})
_ADDRESS_PARTS = ("street", "house_number", "house_number_suffix", "postcode", "city", "country")


class _Layout:
    """Which field GUID fills which attribute, for one field map. A first run translates 10,000
    relations with the same map: working this out per relation was half of translating them."""

    def __init__(self, fields: dict[str, PvField]):
        self.fields = fields  # held, so the id() it is cached under cannot be another map's
        self.plain = tuple((a, field.id) for a, field in fields.items() if a in _PLAIN)
        self.addresses = tuple(
            (address, tuple((part, fields[f"{address}.{part}"].id if f"{address}.{part}" in fields else None)
                            for part in _ADDRESS_PARTS))
            for address in sorted({a.split(".")[0] for a in fields if "." in a}))
        self.gender = fields["gender"].id if "gender" in fields else None


_LAYOUTS: dict[int, _Layout] = {}


def _layout(fields: dict[str, PvField]) -> _Layout:
    layout = _LAYOUTS.get(id(fields))
    if layout is None or layout.fields is not fields:
        if len(_LAYOUTS) > 32:  # a daemon makes new clients (and field maps) run after run
            _LAYOUTS.clear()
        layout = _LAYOUTS[id(fields)] = _Layout(fields)
    return layout


def relation_from(data: Any, kind: RelationKind, relation_type: str, fields: dict[str, PvField],
                  country_code: Callable[[str], str], account_manager_id: str = "") -> CrmRelation:
    value = field_values(data).get
    layout = _layout(fields)
    attributes: dict[str, Any] = {a: value(field_id, "").strip() for a, field_id in layout.plain}
    for address, parts in layout.addresses:
        found = {part: value(field_id, "").strip() if field_id else "" for part, field_id in parts}
        found["country"] = country_code(found["country"]) if found["country"] else ""
        attributes[address] = Address(**found)
    if layout.gender is not None:
        attributes["gender"] = GENDERS.get(value(layout.gender, "").strip().casefold(), Gender.NONE)
    return CrmRelation(id=str(data.Id).lower(), kind=kind, relation_type=relation_type,
                       account_manager_id=account_manager_id, is_inactive=bool(data.IsInactive), **attributes)


def relation_values(relation: CrmRelation, fields: dict[str, PvField], country_id: Callable[[str], str],
                    *, skip_empty: bool) -> list[dict[str, str]]:
    """The mapped fields of `relation` as FieldValues; empty values clear a field on update."""
    result = []
    for attribute, field in fields.items():
        if "." in attribute:
            address, part = attribute.split(".")
            text = getattr(getattr(relation, address), part)
            if part == "country" and text:
                text = country_id(text)
        elif attribute == "gender":
            text = GENDER_VALUES[relation.gender]
        else:
            text = getattr(relation, attribute)
        if text or not skip_empty:
            result.append({"Id": field.id, "Value": text})
    return result


def parse_date(text: str) -> date | None:
    """An ISO date (a date-time is cut to its date); dd-mm-yyyy as the web app shows it is read too."""
    text = (text or "").strip()
    if not text:
        return None
    for pattern in ("%Y-%m-%d", "%d-%m-%Y"):
        try:
            return datetime.strptime(text[:10], pattern).date()
        except ValueError:
            continue
    return None  # unreadable: the invoice planner blocks an invoice without a date


def parse_checkbox(text: str) -> bool:
    return (text or "").strip().casefold() in ("true", "1", "ja", "yes")


def line_from(data: Any, vat: Callable[[str], PvVatCode]) -> InvoiceLine:
    vat_id = str(data.VatId or "").lower()
    code = vat(vat_id) if vat_id not in NIL_GUIDS else None
    return InvoiceLine(description=data.Description or "", quantity=Decimal(data.Quantity or 0),
                       amount=Decimal(data.Amount or 0), total_amount=Decimal(data.TotalAmount or 0),
                       vat_id=code.id if code else None, vat_description=code.description if code else "",
                       vat_percentage=Decimal(code.percentage) if code else None, id=str(data.Id).lower())


def attachment_from(data: Any, content: bytes | None = None) -> Attachment:
    return Attachment(id=str(data.Id).lower(), file_name=data.FileName or "", extension=data.Extension or "",
                      created_at=data.CreationDate, content=content)


def invoice_total(text: str, field: PvField) -> tuple[Decimal | None, tuple[Problem, ...]]:
    """PerfectView's invoice total: None when the invoice has none (empty, or a database
    without the field); a value that is no amount is a problem that holds the invoice back."""
    if not text:
        return None, ()
    try:
        return money(text), ()
    except ValueError:
        return None, (Problem(str(field), f"PerfectView's invoice total '{text}' is not an amount",
                              f"correct the field {field} of the invoice in PerfectView"),)


def invoice_from(data: Any, fields: dict[str, PvField], *, relation_id: str, step: str,
                 lines: list[InvoiceLine], attachments: list[Attachment]) -> SalesInvoice:
    value = _reader(field_values(data), fields)
    audit = getattr(data, "AuditData", None)
    total, problems = invoice_total(value("total"), fields["total"]) if "total" in fields else (None, ())
    return SalesInvoice(
        activity_id=str(data.Id).lower(), activity_number=data.Number or "",
        invoice_number=value("invoice_number"), relation_id=relation_id,
        invoice_date=parse_date(value("invoice_date")), due_date=parse_date(value("due_date")),
        step=step, lines=tuple(lines), amounts_include_vat=parse_checkbox(value("amounts_include_vat")),
        booked_marker=value("booked_marker"), attachments=tuple(attachments),
        modified_at=getattr(audit, "ModifiedAt", None), total=total, problems=problems)
