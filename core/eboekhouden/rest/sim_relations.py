"""Relations as the REST API shows and takes them, over the shared administration's EbRelation.

A REST field maps onto the SOAP record where SOAP has one (name -> Bedrijf, contact ->
Contactpersoon, …); the few only REST has (a separate invoice and reminder address, payment
term, mandate, inactive) are kept beside the record in `Administration.extras`. Lengths and
codes are those of the document's CreateRelation / PatchRelation schemas (NOTES.md §2.3).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, time
from typing import Any

from stdnum import iban as stdnum_iban

from core.eboekhouden.administration import Administration, Refusal
from core.eboekhouden.rest.sim_wire import RestError, invalid
from core.model import AMSTERDAM, EbRelation

# (REST property, EbRelation attribute or "" for a REST-only value, JSON kind, max length, too-long code)
FIELDS: tuple[tuple[str, str, str, int | None, str], ...] = (
    ("type", "bp", "str", 1, "REL_001"),
    ("code", "code", "str", 15, "REL_006"),
    ("name", "bedrijf", "str", 100, "REL_003"),
    ("salutation", "aanhef", "str", 50, "REL_010"),
    ("contact", "contactpersoon", "str", 50, "REL_009"),
    ("gender", "geslacht", "str", 1, "REL_004"),
    ("address", "adres", "str", 150, "REL_011"),
    ("postalCode", "postcode", "str", 50, "REL_012"),
    ("city", "plaats", "str", 50, "REL_013"),
    ("country", "land", "str", 50, "REL_014"),
    ("address2", "adres2", "str", 150, "REL_015"),
    ("postalCode2", "postcode2", "str", 50, "REL_016"),
    ("city2", "plaats2", "str", 50, "REL_017"),
    ("country2", "land2", "str", 50, "REL_018"),
    ("phoneNumber", "telefoon", "str", 50, "REL_019"),
    ("mobilePhoneNumber", "gsm", "str", 50, "REL_020"),
    ("faxNumber", "fax", "str", 50, "REL_021"),
    ("emailAddress", "email", "str", 150, "REL_022"),
    ("emailAddressInvoice", "", "str", 150, "REL_024"),
    ("emailAddressReminder", "", "str", 150, "REL_026"),
    ("website", "site", "str", 50, "REL_028"),
    ("note", "notitie", "str", 40000, "REL_047"),
    ("vatNumber", "btw_nummer", "str", 50, "REL_035"),
    ("inactive", "", "bool?", None, ""),
    ("termOfPayment", "", "int?", None, ""),
    ("companyRegistrationNumber", "kvk_nummer", "str", 50, "REL_050"),
    ("iban", "iban", "str", 50, "REL_029"),
    ("bic", "bic", "str", 20, "REL_032"),
    *((f"freeText{n}", f"def{n}", "str", 100, f"REL_0{36 + n}") for n in range(1, 11)),
    ("doNotReceiveNewsletters", "geen_email", "bool?", None, ""),
    ("ledgerId", "gb_id", "int?", None, ""),
    ("mandate", "", "bool", None, ""),
    ("mandateType", "", "str", 1, "REL_033"),
    ("mandateId", "", "str", 35, "REL_034"),
    ("mandateSignedDate", "", "any", None, ""),
)
BODY_KINDS = {name: kind for name, _, kind, _, _ in FIELDS}
_EMAILS = {"emailAddress": "REL_023", "emailAddressInvoice": "REL_025", "emailAddressReminder": "REL_027"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_TERM_OF_PAYMENT = 999  # [inference] REL_031 exists; the bound itself is not published


def check(body: dict[str, Any], *, require_name: bool = True) -> None:
    """The document's per-field rules, in the order of its schema."""
    for name, _, kind, limit, too_long in FIELDS:
        value = body.get(name)
        if isinstance(value, str) and limit is not None and len(value) > limit:
            raise invalid(too_long, name)
    if require_name and not (body.get("name") or "").strip():
        raise invalid("REL_002", "name")
    if (body.get("type") or "B") not in ("B", "P"):
        raise invalid("REL_001", "type")
    if (body.get("gender") or "") not in ("", "m", "v", "a"):
        raise invalid("REL_004", "gender")
    code = body.get("code") or ""
    if code and (code != code.strip() or not code.isprintable()):
        raise invalid("REL_005", "code")
    for name, error in _EMAILS.items():
        if body.get(name) and not _EMAIL.match(body[name]):
            raise invalid(error, name)
    kvk = body.get("companyRegistrationNumber") or ""
    if kvk and not kvk.isdigit():
        raise invalid("REL_008", "companyRegistrationNumber")
    if body.get("iban") and not stdnum_iban.is_valid(body["iban"]):
        raise invalid("REL_007", "iban")
    term = body.get("termOfPayment")
    if term is not None and term < 0:
        raise invalid("REL_030", "termOfPayment")
    if term is not None and term > MAX_TERM_OF_PAYMENT:
        raise invalid("REL_031", "termOfPayment")
    if (body.get("mandateType") or "") not in ("", "E", "D"):
        raise invalid("REL_051", "mandateType")


def create(admin: Administration, body: dict[str, Any]) -> EbRelation:
    check(body)
    code = body.get("code") or ""
    if code and admin.relation_by_code(code) is not None:
        raise invalid("REL_049", "code")
    _check_ledger(admin, body)
    relation = _apply(EbRelation(add_datum=datetime.now(AMSTERDAM).date()), body)
    if not code:
        # Auto-generated when empty (the document says so; its scheme is not published):
        # the lowest free number, as a code.
        number = len(admin.relations) + 1
        while admin.relation_by_code(str(number)) is not None:
            number += 1
        relation = replace(relation, code=str(number))
    try:
        relation_id = admin.store_relation(relation)
    except Refusal as refusal:
        raise _mapped(refusal) from None
    _keep_extras(admin, relation_id, body)
    return admin.relations[relation_id]


def patch(admin: Administration, relation_id: int, body: dict[str, Any]) -> None:
    current = admin.relations.get(relation_id)
    if current is None:
        raise RestError(404, "REL_055", "id")
    check(body)  # name is required in a PATCH too (PatchRelation.required)
    code = body.get("code")
    if code:
        other = admin.relation_by_code(code)
        if other is not None and other.id != relation_id:
            raise invalid("REL_049", "code")
    _check_ledger(admin, body)
    updated = _apply(current, {k: v for k, v in body.items() if not (k == "code" and not v)})
    try:
        admin.replace_relation(updated)
    except Refusal as refusal:
        raise _mapped(refusal) from None
    _keep_extras(admin, relation_id, body)


def detail(admin: Administration, relation: EbRelation) -> dict[str, Any]:
    """GET /v1/relation/{id}: every field; strings as "" (the schema types them as plain strings)."""
    extras = admin.extras.get(relation.id, {})
    out: dict[str, Any] = {"id": relation.id}
    for name, attr, kind, _, _ in FIELDS:
        if name == "type":
            out["type"] = relation.bp or "B"
            out["code"] = relation.code
            # The vendor's example shows the creation date as a date-time with the Amsterdam offset.
            out["date"] = _amsterdam_midnight(relation.add_datum)
            continue
        if name == "code":
            continue
        value = getattr(relation, attr) if attr else extras.get(name)
        if name == "doNotReceiveNewsletters":
            value = int(bool(value))  # a bool on write, an int on read (NOTES §2.3)
        elif name == "ledgerId":
            value = value or None
        elif name in ("gender", "mandateType") and not value:
            continue  # an enum: left out rather than an empty string
        elif name == "mandate":
            value = bool(value)
        elif kind == "str" and value is None:
            value = ""
        out[name] = value
    out["isClubOrAssociationMember"] = 0
    return out


def list_item(relation: EbRelation) -> dict[str, Any]:
    """GET /v1/relation: only id, type and code (NOTES §2.3, live)."""
    return {"id": relation.id, "type": relation.bp or "B", "code": relation.code}


def _apply(relation: EbRelation, body: dict[str, Any]) -> EbRelation:
    changes: dict[str, Any] = {}
    for name, attr, _, _, _ in FIELDS:
        if not attr or name not in body:
            continue
        value = body[name]
        if name == "type":
            value = value or "B"
        elif name == "doNotReceiveNewsletters":
            value = int(bool(value))
        elif name == "ledgerId":
            value = value or 0
        elif value is None:
            value = ""
        changes[attr] = value
    return replace(relation, **changes)


def _keep_extras(admin: Administration, relation_id: int, body: dict[str, Any]) -> None:
    extras = admin.extras.setdefault(relation_id, {})
    for name, attr, _, _, _ in FIELDS:
        if not attr and name in body:
            extras[name] = body[name]
    admin.dirty = True


def _check_ledger(admin: Administration, body: dict[str, Any]) -> None:
    if body.get("ledgerId") and body["ledgerId"] not in admin.ledgers:
        raise invalid("REL_048", "ledgerId")


def _amsterdam_midnight(day: date | None) -> str:
    day = day or date(2000, 1, 1)
    return datetime.combine(day, time(0), AMSTERDAM).isoformat()


def _mapped(refusal: Refusal) -> RestError:
    """A shared rule the REST checks did not catch first (they should): a generic invalid value."""
    return invalid("ERR_002", "", refusal.description)
