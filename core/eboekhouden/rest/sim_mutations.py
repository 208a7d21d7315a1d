"""Mutations (bookings) as the REST API takes and shows them, over the shared administration.

REST names ledgers by numeric id and relations by id; the administration keeps SOAP's codes,
so each request is translated both ways. The rules are those of the document's
CreateMutation schema and error table (NOTES.md §2.4): required type/date/ledgerId, the
description at most 50, MUT_019 / MUT_020 for invoice numbers, MUT_106 for a row on a
FIN/CRED/DEB ledger in types 1, 2, 5 and 6, MUT_109 for a code outside the VatCode enum.
`inExVat` says whether a row's amount includes VAT; left out, the service takes EX (its own
default, NOTES §4: a client that omitted it billed 24.19 for a 19.99 incl. VAT price).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from core.eboekhouden.administration import Administration, Refusal
from core.eboekhouden.rest.sim_wire import RestError, check_kind, invalid, parse_date, read_body
from core.model import BTW_CODES, Booking, BookingLine, Ledger, MutatieSoort, VatSide, round_cents

TYPES: dict[int, MutatieSoort] = {
    1: MutatieSoort.FACTUUR_ONTVANGEN, 2: MutatieSoort.FACTUUR_VERSTUURD,
    3: MutatieSoort.FACTUURBETALING_ONTVANGEN, 4: MutatieSoort.FACTUURBETALING_VERSTUURD,
    5: MutatieSoort.GELD_ONTVANGEN, 6: MutatieSoort.GELD_UITGEGEVEN, 7: MutatieSoort.MEMORIAAL,
}
TYPE_OF = {soort: number for number, soort in TYPES.items()}
# The document's VatCode enum: what a request may carry (the description table lists more).
VAT_CODES = ("HOOG_VERK_21", "LAAG_VERK_9", "VERL_VERK", "VERL_VERK_L9", "AFW", "BU_EU_VERK", "BI_EU_VERK",
             "BI_EU_VERK_D", "AFST_VERK", "LAAG_INK_9", "HOOG_INK_21", "VERL_INK", "AFW_VERK", "BU_EU_INK",
             "BI_EU_INK", "GEEN")
HEADER_KINDS = {"type": "any", "date": "str", "ledgerId": "int", "invoiceNumber": "str?", "entryNumber": "str?",
                "termOfPayment": "int?", "checkPaymentReference": "bool", "paymentReference": "str?",
                "inExVat": "str?", "description": "str?", "relationId": "int?", "rows": "array?"}
ROW_KINDS = {"ledgerId": "int?", "vatCode": "str?", "vatAmount": "number?", "costCenterId": "int?",
             "amount": "number", "description": "str?", "invoiceNumber": "str?", "relationId": "int?"}
MAX_DESCRIPTION = 50
MAX_INVOICE_NUMBER = 50
MAX_ROWS = 500
_ROW_FORBIDDEN = ("FIN", "CRED", "DEB")  # MUT_106, for types 1, 2, 5 and 6
_INVOICE_TYPES = (1, 2)
_PAYMENT_TYPES = (3, 4)


def create(admin: Administration, raw: bytes) -> int:
    body = read_body(raw, HEADER_KINDS)
    kind = _type(body)
    if "date" not in body or not body["date"]:
        raise invalid("MUT_003", "date")
    day = parse_date(body["date"])
    if day is None:
        raise invalid("MUT_004", "date")
    if "ledgerId" not in body:
        raise invalid("MUTA_001", "ledgerId")
    ledger = admin.ledgers.get(body["ledgerId"])
    if ledger is None:
        raise invalid("MUT_007", "ledgerId")
    _header_ledger_category(kind, ledger)
    description = body.get("description") or ""
    if len(description) > MAX_DESCRIPTION:
        raise invalid("ERR_002", "description", f"The field description must be at most {MAX_DESCRIPTION} "
                                                "characters long.")
    invoice_number = body.get("invoiceNumber") or ""
    if len(invoice_number) > MAX_INVOICE_NUMBER:
        raise invalid("MUT_018", "invoiceNumber")
    if kind in _INVOICE_TYPES and not invoice_number:
        raise invalid("MUT_002", "invoiceNumber")
    if body.get("termOfPayment") is not None and kind not in _INVOICE_TYPES:
        raise invalid("MUT_016", "termOfPayment")
    in_ex = body.get("inExVat", "EX")  # left out: the service's own default, EX
    if in_ex is None or in_ex == "":
        raise invalid("MUTA_005", "inExVat")
    if in_ex not in ("IN", "EX"):
        raise invalid("MUT_017", "inExVat")
    relation_code = ""
    if body.get("relationId") is not None:
        relation = admin.relations.get(body["relationId"])
        if relation is None:
            raise invalid("MUT_013", "relationId")
        relation_code = relation.code
    elif kind in _INVOICE_TYPES:
        raise invalid("MUT_012", "relationId")
    rows = body.get("rows") or []
    if not rows:
        raise invalid("MUT_100", "rows")
    if len(rows) > MAX_ROWS:
        raise invalid("MUT_101", "rows")
    soort = TYPES[kind]
    lines = []
    for position, row in enumerate(rows):
        line, row_invoice, row_relation = _row(admin, kind, soort, in_ex, row, position)
        invoice_number = invoice_number or row_invoice
        relation_code = relation_code or row_relation
        lines.append(line)
    if kind in _INVOICE_TYPES:
        _unique_invoice(admin, soort, relation_code, invoice_number)
    booking = Booking(soort=soort, datum=day, ledger=ledger.code, relation_code=relation_code,
                      invoice_number=invoice_number, boekstuk=body.get("entryNumber") or "",
                      description=description, payment_term_days=body.get("termOfPayment"),
                      payment_reference=body.get("paymentReference") or "", in_ex_vat=in_ex, lines=tuple(lines))
    try:
        return admin.store_mutation(booking, "" if booking.payment_term_days is None
                                    else str(booking.payment_term_days))
    except Refusal as refusal:
        raise invalid("ERR_002", "", refusal.description) from None


def detail(admin: Administration, b: Booking) -> dict[str, Any]:
    """GET /v1/mutation/{id}: the header, its rows (amounts as entered, per inExVat) and VAT per code."""
    relation = admin.relation_by_code(b.relation_code) if b.relation_code else None
    out: dict[str, Any] = {"id": b.number, "type": TYPE_OF.get(b.soort, 0), "date": b.datum.isoformat(),
                           "description": b.description, "termOfPayment": b.payment_term_days or 0,
                           "ledgerId": _ledger_id(admin, b.ledger), "inExVat": b.in_ex_vat,
                           "invoiceNumber": b.invoice_number, "entryNumber": b.boekstuk}
    if relation is not None:
        out["relationId"] = relation.id
    rows, vat = [], defaultdict(Decimal)
    for line in b.lines:
        row: dict[str, Any] = {"ledgerId": _ledger_id(admin, line.ledger), "vatCode": line.btw_code,
                               "amount": _entered(b, line), "description": "",
                               "invoiceNumber": line.invoice_number or b.invoice_number}
        if relation is not None:
            row["relationId"] = relation.id
        if line.cost_centre_id:
            row["costCenterId"] = line.cost_centre_id
        rows.append(row)
        vat[line.btw_code] += line.vat_amount
    out["rows"] = rows
    out["vat"] = [{"vatCode": code, "amount": amount} for code, amount in vat.items()]
    return out


def list_item(admin: Administration, b: Booking) -> dict[str, Any]:
    """GET /v1/mutation: no rows, one amount (NOTES §2.4, live)."""
    return {"id": b.number, "type": TYPE_OF.get(b.soort, 0), "date": b.datum.isoformat(),
            "invoiceNumber": b.invoice_number, "ledgerId": _ledger_id(admin, b.ledger),
            "amount": b.total_incl_vat(), "entryNumber": b.boekstuk}


def _type(body: dict[str, Any]) -> int:
    """`type` is a string enum in the document while every example sends a number: both are taken."""
    if "type" not in body or body["type"] is None:
        raise invalid("MUTA_002", "type")
    value = body["type"]
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid("ERR_002", "type", "The JSON value could not be converted to MutationType.")
    if value not in TYPES:
        raise invalid("MUT_001", "type")
    return value


def _header_ledger_category(kind: int, ledger: Ledger) -> None:
    if kind == 2 and ledger.category != "DEB":
        raise invalid("MUT_011", "ledgerId")
    if kind == 1 and ledger.category != "CRED":
        raise invalid("MUT_010", "ledgerId")
    if kind in (3, 4, 5, 6) and ledger.category != "FIN":
        raise invalid("MUT_009", "ledgerId")


def _row(admin: Administration, kind: int, soort: MutatieSoort, in_ex: str, row: Any,
         position: int) -> tuple[BookingLine, str, str]:
    where = f"rows[{position}]"
    check_kind(where, row, "object")
    by_lower = {name.lower(): name for name in ROW_KINDS}
    fields: dict[str, Any] = {}
    for key, value in row.items():
        name = by_lower.get(key.lower())
        if name is None:
            raise invalid("ERR_002", f"{where}.{key}", f"Unknown property '{key}'.")
        check_kind(f"{where}.{name}", value, ROW_KINDS[name])
        fields[name] = value
    if "amount" not in fields:
        raise invalid("ERR_002", f"{where}.amount", "The amount is required.")
    code = fields.get("vatCode") or ""
    if code not in VAT_CODES:
        raise invalid("MUT_109", f"{where}.vatCode")
    btw = BTW_CODES[code]
    if kind in (2, 5) and btw.side is VatSide.PURCHASE:
        raise invalid("MUT_111", f"{where}.vatCode")
    if kind in (1, 6) and btw.side is VatSide.SALES:
        raise invalid("MUT_110", f"{where}.vatCode")
    if fields.get("vatAmount") is not None and code not in ("AFW", "AFW_VERK"):
        raise invalid("MUTA_003", f"{where}.vatAmount")
    row_invoice, row_relation = fields.get("invoiceNumber") or "", ""
    if fields.get("relationId") is not None:
        relation = admin.relations.get(fields["relationId"])
        if relation is None:
            raise invalid("MUT_113", f"{where}.relationId")
        row_relation = relation.code
    if kind in _PAYMENT_TYPES:
        if not row_invoice:
            raise invalid("MUT_120", f"{where}.invoiceNumber")
        if not row_relation:
            raise invalid("MUT_112", f"{where}.relationId")
        invoice_soort = TYPES[2 if kind == 3 else 1]  # money received settles an invoice sent
        if admin.invoice(invoice_soort, row_relation, row_invoice) is None:
            raise invalid("MUT_115", f"{where}.invoiceNumber")
    ledger = _row_ledger(admin, kind, fields, where)
    amount = Decimal(fields["amount"])
    return _amounts(amount, in_ex, btw.rate, code, ledger.code, fields), row_invoice, row_relation


def _row_ledger(admin: Administration, kind: int, fields: dict[str, Any], where: str) -> Ledger:
    if fields.get("ledgerId") is None:
        if kind in _PAYMENT_TYPES:
            # A payment row settles an invoice: its contra account is the debtors (creditors) ledger.
            category = "DEB" if kind == 3 else "CRED"
            found = next((g for g in admin.ledgers.values() if g.category == category), None)
            if found is not None:
                return found
        raise invalid("MUTA_004", f"{where}.ledgerId")
    ledger = admin.ledgers.get(fields["ledgerId"])
    if ledger is None:
        raise invalid("MUT_104", f"{where}.ledgerId")
    if kind in (1, 2, 5, 6) and ledger.category in _ROW_FORBIDDEN:
        raise invalid("MUT_106", f"{where}.ledgerId")
    return ledger


def _amounts(amount: Decimal, in_ex: str, rate: Decimal | None, code: str, ledger: str,
             fields: dict[str, Any]) -> BookingLine:
    """The row's amount is incl. VAT when the mutation says IN, excl. VAT when EX."""
    if code in ("AFW", "AFW_VERK"):
        vat = Decimal(fields.get("vatAmount") or 0)
    elif rate is None or rate == 0:
        vat = Decimal("0.00")
    elif in_ex == "IN":
        vat = round_cents(amount * rate / (100 + rate))
    else:
        vat = round_cents(amount * rate / 100)
    excl, incl = (amount - vat, amount) if in_ex == "IN" else (amount, amount + vat)
    return BookingLine(amount_excl_vat=excl, vat_amount=vat, amount_incl_vat=incl, btw_code=code,
                       btw_percentage=rate or Decimal(0), ledger=ledger, amount_entered=amount,
                       cost_centre_id=fields.get("costCenterId") or 0)


def _unique_invoice(admin: Administration, soort: MutatieSoort, relation_code: str, number: str) -> None:
    same_number = [b for b in admin.bookings_for_invoice(number) if b.soort is soort]
    if any(b.relation_code == relation_code for b in same_number):
        raise invalid("MUT_020", "invoiceNumber")
    if same_number:
        raise invalid("MUT_019", "invoiceNumber")


def _entered(b: Booking, line: BookingLine) -> Decimal:
    if line.amount_entered is not None:
        return line.amount_entered
    return line.amount_incl_vat if b.in_ex_vat == "IN" else line.amount_excl_vat


def _ledger_id(admin: Administration, code: str) -> int:
    ledger = admin.ledger_by_code(code)
    return ledger.id if ledger is not None else 0


def not_found() -> RestError:
    return RestError(404, "MUT_300", "id")
