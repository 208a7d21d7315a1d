"""Between pvsync's domain types (SOAP-flavoured names) and the REST API's JSON, both ways.

Ledgers and relations are numeric ids on REST and codes in the domain: the client resolves
them and hands the maps in. Amounts are read with `parse_float=Decimal` and written by
`dumps`, which writes a Decimal as a JSON number digit for digit: no float on the way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from core.eboekhouden.limits import Problem, too_long
from core.model import (AMSTERDAM, BTW_CODES, Booking, BookingLine, EbRelation, Ledger, MutatieSoort, OpenItem,
                        round_cents)

MAX_DESCRIPTION = 50  # POST /v1/mutation `description` (SOAP allowed 200)
ELLIPSIS = "…"
MAX_CONTACT = 50  # REST `contact` (SOAP Contactpersoon allowed 150)

MUTATION_TYPE: dict[MutatieSoort, int] = {
    MutatieSoort.FACTUUR_ONTVANGEN: 1,
    MutatieSoort.FACTUUR_VERSTUURD: 2,
    MutatieSoort.FACTUURBETALING_ONTVANGEN: 3,
    MutatieSoort.FACTUURBETALING_VERSTUURD: 4,
    MutatieSoort.GELD_ONTVANGEN: 5,
    MutatieSoort.GELD_UITGEGEVEN: 6,
    MutatieSoort.MEMORIAAL: 7,
}
SOORT_OF_TYPE = {number: soort for soort, number in MUTATION_TYPE.items()}
# Only these BTW-codes take a row vatAmount (the amount is given, not a rate).
GIVEN_VAT_CODES = ("AFW", "AFW_VERK")
PAYMENT_SOORTEN = (MutatieSoort.FACTUURBETALING_ONTVANGEN, MutatieSoort.FACTUURBETALING_VERSTUURD)

CRED_DEB = {"Debiteuren": "D", "Crediteuren": "C"}

# EbRelation attribute -> REST relation field, for the fields both sides have.
RELATION_FIELDS: dict[str, str] = {
    "code": "code", "bedrijf": "name", "contactpersoon": "contact", "geslacht": "gender",
    "adres": "address", "postcode": "postalCode", "plaats": "city", "land": "country",
    "adres2": "address2", "postcode2": "postalCode2", "plaats2": "city2", "land2": "country2",
    "telefoon": "phoneNumber", "gsm": "mobilePhoneNumber", "fax": "faxNumber", "email": "emailAddress",
    "site": "website", "notitie": "note", "btw_nummer": "vatNumber", "kvk_nummer": "companyRegistrationNumber",
    "aanhef": "salutation", "iban": "iban", "bic": "bic", "bp": "type",
    **{f"def{n}": f"freeText{n}" for n in range(1, 11)},
}


# --------------------------------------------------------------------------- JSON with exact numbers


def dumps(value: Any) -> str:
    """JSON text in which every Decimal is a number written exactly as the Decimal reads."""
    numbers: list[str] = []

    def mark(item: Any) -> Any:
        if isinstance(item, Decimal):
            numbers.append(format(item, "f"))
            return f"\x00{len(numbers) - 1}\x00"
        if isinstance(item, dict):
            return {key: mark(inner) for key, inner in item.items()}
        if isinstance(item, (list, tuple)):
            return [mark(inner) for inner in item]
        if isinstance(item, float):
            raise TypeError(f"a float ({item!r}) must not reach an e-Boekhouden request; use Decimal")
        return item

    text = json.dumps(mark(value), ensure_ascii=False, separators=(",", ":"))
    for index, number in enumerate(numbers):
        text = text.replace(f'"\\u0000{index}\\u0000"', number, 1)
    return text


def text(value: Any) -> str:
    return "" if value is None else str(value)


def day(value: Any) -> date | None:
    """A REST date: "2026-08-29", or a timestamp with an offset (read in Amsterdam), as the live service sends."""
    if not value:
        return None
    value = str(value)
    if len(value) == 10:
        return date.fromisoformat(value)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.astimezone(AMSTERDAM).date() if moment.tzinfo else moment.date()


def amount(value: Any) -> Decimal:
    if value is None:
        return Decimal("0")
    if isinstance(value, float):  # only when a caller parsed JSON without parse_float=Decimal
        raise TypeError("REST amounts must be read with parse_float=Decimal")
    return Decimal(str(value))


class AnswerUnfit(ValueError):
    """A REST answer that does not fit the API document. The message names the field and what is wrong
    with it, never its value (an answer is not trusted, and a session answer holds a token)."""


# What a JSON value must be, in words for the refusal.
KINDS: dict[type, str] = {int: "a whole number", Decimal: "a number", str: "text", bool: "true or false",
                          list: "a list", dict: "an object"}


def kind_of(value: Any) -> str:
    """A JSON value's kind, in words."""
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, Decimal):
        return "a number with decimals"
    return KINDS.get(type(value), type(value).__name__)


def typed(name: str, value: Any, kind: type) -> Any:
    """`value` when it is of `kind` (a bool is no number, a number with decimals no whole number)."""
    if isinstance(value, bool) and kind is not bool:
        fits = False
    elif kind is Decimal:
        fits = isinstance(value, (int, Decimal))
    else:
        fits = isinstance(value, kind)
    if not fits:
        raise AnswerUnfit(f"{name} is {kind_of(value)}, not {KINDS[kind]}")
    return value


def required(item: Any, name: str, kind: type) -> Any:
    """A field the API always sends, of `kind`; AnswerUnfit when it is missing or of another kind."""
    if not isinstance(item, Mapping):
        raise AnswerUnfit(f"the answer is {kind_of(item)}, not an object")
    value = field(item, name)
    if value is None:
        raise AnswerUnfit(f"{name} is missing")
    return typed(name, value, kind)


def optional(item: Mapping[str, Any], name: str, kind: type) -> Any:
    """A field the API may leave out or send as null (None then), else of `kind`."""
    value = field(item, name)
    return None if value is None else typed(name, value, kind)


def page_items(page: Any, *, offset: int, limit: int) -> list[dict[str, Any]]:
    """The items of one page of a list, after checking the `{items, count}` envelope.

    `count` is this page's size on the live service (NOTES §2.10) and may be a digit string
    (openapi.json); a grand total is accepted too. Anything else means the pages cannot be trusted
    to add up to the whole list, and a list that silently misses items makes pvsync create or mark
    paid what it should not.
    """
    if not isinstance(page, Mapping):
        raise AnswerUnfit(f"the answer is {kind_of(page)}, not an {{items, count}} list")
    items = field(page, "items")
    items = [] if items is None else items  # the document allows null for an empty page
    if not isinstance(items, list):
        raise AnswerUnfit(f"items is {kind_of(items)}, not a list")
    if len(items) > limit:
        raise AnswerUnfit(f"the page holds {len(items)} items, more than the {limit} asked for")
    count = field(page, "count")
    if isinstance(count, str) and count.lstrip("-").isdigit():
        count = int(count)
    if count is None:
        raise AnswerUnfit("count is missing")
    count = typed("count", count, int)
    if count < 0:
        raise AnswerUnfit(f"count is negative ({count})")
    held, through = len(items), offset + len(items)
    if count not in (held, through) and (held < limit or count < through):
        raise AnswerUnfit(f"count says {count}, but the page at offset {offset} holds {held} items")
    for position, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise AnswerUnfit(f"item {offset + position} is {kind_of(item)}, not an object")
    return items


def field(item: Mapping[str, Any], name: str) -> Any:
    """A field of a REST object whatever its case (the spec's examples are PascalCase, answers camelCase)."""
    if name in item:
        return item[name]
    lowered = name.lower()
    for key, value in item.items():
        if key.lower() == lowered:
            return value
    return None


# --------------------------------------------------------------------------- relations


def relation_to_rest(rel: EbRelation) -> dict[str, Any]:
    """A CreateRelation/PatchRelation body: every mapped field (PATCH replaces what it is given; `name` is
    required by both)."""
    body: dict[str, Any] = {}
    for attr, name in RELATION_FIELDS.items():
        value = getattr(rel, attr)
        if name in ("gender",) and not value:
            continue  # "" is no gender the service accepts; leaving it out keeps it as it is
        body[name] = value
    body["doNotReceiveNewsletters"] = bool(rel.geen_email)
    if rel.gb_id > 0:
        body["ledgerId"] = rel.gb_id
    return body


def relation_entry(item: Mapping[str, Any]) -> tuple[str, int]:
    """(code, id) of a relation list item (the list carries no other fields we use)."""
    return required(item, "code", str), required(item, "id", int)


def relation_from_rest(item: Mapping[str, Any]) -> EbRelation:
    values: dict[str, Any] = {attr: text(optional(item, name, str)) for attr, name in RELATION_FIELDS.items()}
    values["code"] = required(item, "code", str)
    values["bp"] = values["bp"] or "B"
    # A number on read (0 or 1), true or false on write (NOTES §2.3): either is taken.
    newsletters = field(item, "doNotReceiveNewsletters")
    if newsletters is not None and not isinstance(newsletters, int):
        raise AnswerUnfit(f"doNotReceiveNewsletters is {kind_of(newsletters)}, not 0, 1, true or false")
    return EbRelation(id=required(item, "id", int), add_datum=day(optional(item, "date", str)),
                      gb_id=optional(item, "ledgerId", int) or 0, geen_email=1 if newsletters else 0, **values)


def relation_problems(rel: EbRelation) -> list[Problem]:
    """What the REST API refuses beyond the limits both APIs share (core.eboekhouden.limits)."""
    found = [too_long("Contactpersoon", rel.contactpersoon, MAX_CONTACT)]
    if rel.kvk_nummer and not rel.kvk_nummer.isdigit():
        found.append(Problem("KvkNummer", "KvkNummer holds other characters than digits; e-Boekhouden's REST API "
                                          "accepts digits only", "write the KvK number as digits at the source"))
    return [p for p in found if p is not None]


# --------------------------------------------------------------------------- bookings


def short_description(description: str) -> str:
    if len(description) <= MAX_DESCRIPTION:
        return description
    return description[:MAX_DESCRIPTION - 1].rstrip() + ELLIPSIS


def booking_to_rest(b: Booking, *, ledger_id: Callable[[str], int], relation_id: int | None) -> dict[str, Any]:
    """A CreateMutation body. `inExVat` is always sent: the service's default (EX) would book a price incl.
    VAT as if VAT came on top. One row per (BTW-code, ledger)."""
    body: dict[str, Any] = {"type": MUTATION_TYPE[b.soort], "date": b.datum.isoformat(),
                            "ledgerId": ledger_id(b.ledger), "inExVat": b.in_ex_vat}
    if relation_id is not None:
        body["relationId"] = relation_id
    for name, value in (("invoiceNumber", b.invoice_number), ("entryNumber", b.boekstuk),
                        ("paymentReference", b.payment_reference)):
        if value:
            body[name] = value
    if b.description:
        body["description"] = short_description(b.description)
    if b.payment_term_days is not None:
        body["termOfPayment"] = b.payment_term_days
    body["rows"] = rows_to_rest(b, ledger_id, relation_id)
    return body


def rows_to_rest(b: Booking, ledger_id: Callable[[str], int], relation_id: int | None = None) -> list[dict[str, Any]]:
    grouped: dict[tuple[str, str], list[BookingLine]] = {}
    for line in b.lines:
        grouped.setdefault((line.btw_code, line.ledger), []).append(line)
    rows = []
    for (btw_code, ledger), lines in grouped.items():
        entered = sum((_entered(line, b.in_ex_vat) for line in lines), Decimal("0"))
        row: dict[str, Any] = {"ledgerId": ledger_id(ledger), "vatCode": btw_code, "amount": entered}
        if btw_code in GIVEN_VAT_CODES:
            row["vatAmount"] = sum((line.vat_amount for line in lines), Decimal("0"))
        invoice_numbers = {line.invoice_number for line in lines if line.invoice_number}
        if len(invoice_numbers) == 1:
            row["invoiceNumber"] = invoice_numbers.pop()
        elif not invoice_numbers and b.soort in PAYMENT_SOORTEN and b.invoice_number:
            row["invoiceNumber"] = b.invoice_number  # a payment row names the invoice it pays (MUT_120)
        if b.soort in PAYMENT_SOORTEN and relation_id is not None:
            row["relationId"] = relation_id  # and whose invoice it is (MUT_112)
        cost_centres = {line.cost_centre_id for line in lines if line.cost_centre_id}
        if len(cost_centres) == 1:
            row["costCenterId"] = cost_centres.pop()
        rows.append(row)
    return rows


def _entered(line: BookingLine, in_ex_vat: str) -> Decimal:
    if line.amount_entered is not None:
        return line.amount_entered
    return line.amount_incl_vat if in_ex_vat == "IN" else line.amount_excl_vat


def booking_from_rest(item: Mapping[str, Any], *, ledger_code: Callable[[int], str],
                      relation_code: Callable[[int], str]) -> Booking:
    """A Mutation (GET /v1/mutation/{id}) with its rows. AnswerUnfit when a field pvsync relies on is
    missing or of another kind: the exactly-once comparison and the payment evidence are read from it."""
    in_ex = optional(item, "inExVat", str) or "EX"
    if in_ex not in ("IN", "EX"):
        raise AnswerUnfit("inExVat is neither IN nor EX")
    vat = optional(item, "vat", list) or ()
    vat_totals = {text(optional(v, "vatCode", str)): amount(required(v, "amount", Decimal)) for v in vat}
    rows = optional(item, "rows", list) or ()
    for position, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise AnswerUnfit(f"row {position + 1} is {kind_of(row)}, not an object")
    per_code: dict[str, int] = {}
    for row in rows:
        per_code[text(optional(row, "vatCode", str))] = per_code.get(text(field(row, "vatCode")), 0) + 1
    lines = []
    for row in rows:
        code = text(field(row, "vatCode"))
        given = optional(row, "vatAmount", Decimal)
        vat_amount = amount(given) if given is not None else (vat_totals.get(code) if per_code[code] == 1 else None)
        lines.append(line_from_rest(row, in_ex, vat_amount, ledger_code))
    relation = optional(item, "relationId", int)
    if not relation:  # payments (types 3 and 4) may name the relation on their rows only
        on_rows = {optional(row, "relationId", int) for row in rows} - {None, 0}
        relation = on_rows.pop() if len(on_rows) == 1 else None
    term = optional(item, "termOfPayment", int)
    kind = required(item, "type", int)
    return Booking(
        soort=SOORT_OF_TYPE.get(kind, MutatieSoort.MEMORIAAL) if kind else MutatieSoort.OPENINGS_SALDO,
        datum=day(required(item, "date", str)),
        ledger=ledger_code(optional(item, "ledgerId", int) or 0),
        relation_code=relation_code(relation) if relation else "",
        invoice_number=text(optional(item, "invoiceNumber", str)),
        boekstuk=text(optional(item, "entryNumber", str)),
        description=text(optional(item, "description", str)),
        payment_term_days=term,
        in_ex_vat=in_ex,
        lines=tuple(lines),
        number=required(item, "id", int),
    )


def line_from_rest(row: Mapping[str, Any], in_ex_vat: str, vat: Decimal | None,
                   ledger_code: Callable[[int], str]) -> BookingLine:
    """A row as a BookingLine: the entered amount split into excl./VAT/incl. by the row's VAT (as the
    service reports it) or, when it reports none, by the BTW-code's rate."""
    code = text(optional(row, "vatCode", str))
    entered = amount(required(row, "amount", Decimal))
    btw = BTW_CODES.get(code)
    rate = btw.rate if btw is not None and btw.rate is not None else Decimal("0")
    if vat is None:
        if in_ex_vat == "IN":
            vat = entered - round_cents(entered * 100 / (100 + rate))
        else:
            vat = round_cents(entered * rate / 100)
    excl, incl = (entered - vat, entered) if in_ex_vat == "IN" else (entered, entered + vat)
    return BookingLine(amount_excl_vat=excl, vat_amount=vat, amount_incl_vat=incl, btw_code=code,
                       btw_percentage=rate, ledger=ledger_code(optional(row, "ledgerId", int) or 0),
                       amount_entered=entered, invoice_number=text(optional(row, "invoiceNumber", str)),
                       cost_centre_id=optional(row, "costCenterId", int) or 0)


# --------------------------------------------------------------------------- open items, ledgers


def open_item_from_rest(item: Mapping[str, Any], relation_code: Callable[[int], str]) -> OpenItem:
    """An outstanding invoice. Its three amounts are required: an item read as Openstaand 0 would be
    marked Betaald in PerfectView."""
    code = text(optional(item, "relationCode", str))
    relation_id = optional(item, "relationId", int)
    if not code and relation_id:
        code = relation_code(relation_id)
    return OpenItem(date=day(optional(item, "date", str)), invoice_number=text(optional(item, "invoiceNumber", str)),
                    relation_code=code, relation_name=text(optional(item, "company", str)),
                    amount=round_cents(amount(required(item, "totalAmount", Decimal))),
                    paid=round_cents(amount(required(item, "paidAmount", Decimal))),
                    outstanding=round_cents(amount(required(item, "outstandingAmount", Decimal))))


def ledger_from_rest(item: Mapping[str, Any]) -> Ledger:
    return Ledger(id=required(item, "id", int), code=required(item, "code", str),
                  description=text(optional(item, "description", str)),
                  category=text(optional(item, "category", str)))
