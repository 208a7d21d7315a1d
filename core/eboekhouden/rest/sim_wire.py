"""How the simulated REST service reads requests and writes answers.

Facts from the vendor's OpenAPI document (../shared/reference/eboekhouden/rest/openapi.json)
and the live behaviour recorded in NOTES.md §2: the error body
`{type, title, status, code, message, propertyName, traceId, errors}` with the titles of the
document's error table; lists as `{items, count}` where count is the size of this page;
`limit` 1..2000 (PAGE_001), `offset` >= 0 (PAGE_002); filters as `param[op]=value`, one per
parameter. JSON bodies bind like ASP.NET's: property names case-insensitive, a value of the
wrong JSON type or (as this service is strict about) an unknown property is a 400.
"""

from __future__ import annotations

import fnmatch
import json
import re
import uuid
from datetime import date
from decimal import Decimal
from typing import Any, Callable

# The titles of the error table in the document's info.description, for the codes served here.
TITLES = {
    "ERR_001": "Something went wrong.",
    "ERR_002": "Your request contains an invalid value.",
    "DATA_01": "No content body provided.",
    "PAGE_001": "Limit must be between 1 and 2000.",
    "PAGE_002": "Offset must be greater than or equal to 0.",
    "SECURITY_010": "Not authenticated. Check your Authorization header.",
    "API_SESSION_001": "Source is missing.",
    "API_SESSION_002": "Source does not match pattern.",
    "API_SESSION_003": "Access token is missing or empty.",
    "API_SESSION_004": "Access token has expired.",
    "REL_001": "Relation type is invalid (B,P).",
    "REL_002": "Name is mandatory.",
    "REL_003": "Name is too long.",
    "REL_004": "Gender is invalid (m,v,a).",
    "REL_005": "Code is invalid.",
    "REL_006": "Code is too long.",
    "REL_007": "Iban is invalid.",
    "REL_008": "Company registration number must be numeric.",
    "REL_009": "Contact is too long.",
    "REL_010": "Salutation is too long.",
    "REL_011": "Address is too long.",
    "REL_012": "Postal code is too long.",
    "REL_013": "City is too long.",
    "REL_014": "Country is too long.",
    "REL_015": "Address 2 is too long.",
    "REL_016": "Postal code 2 is too long.",
    "REL_017": "City 2 is too long.",
    "REL_018": "Country 2 is too long.",
    "REL_019": "Phone is too long.",
    "REL_020": "Mobile is too long.",
    "REL_021": "Fax is too long.",
    "REL_022": "Email is too long.",
    "REL_023": "Email is invalid.",
    "REL_024": "Email invoice is too long.",
    "REL_025": "Email invoice is invalid.",
    "REL_026": "Email reminder is too long.",
    "REL_027": "Email reminder is invalid.",
    "REL_028": "Website is too long.",
    "REL_029": "Iban is too long.",
    "REL_030": "Term of payment too low.",
    "REL_031": "Term of payment too high.",
    "REL_032": "BIC is too long.",
    "REL_033": "Mandate type is too long.",
    "REL_034": "Mandate ID is too long.",
    "REL_035": "VAT number is too long.",
    **{f"REL_0{36 + n}": f"Free text {n} is too long." for n in range(1, 11)},
    "REL_047": "Note too long.",
    "REL_048": "Ledger not found.",
    "REL_049": "Code already exists.",
    "REL_050": "Company registration number is too long.",
    "REL_051": "Mandate type is invalid (E,D).",
    "REL_055": "Relation not found.",
    "LEDG_009": "Ledger ID is missing.",
    "MUTA_001": "Ledger id is missing.",
    "MUTA_002": "Type is missing",
    "MUTA_003": "Vat amount must be used with vatCode: 'AFW' or 'AFW_VERK'",
    "MUTA_004": "Ledger ID for row is missing.",
    "MUTA_005": "In/Ex VAT is missing.",
    "MUTA_006": "Credit/Debit is missing.",
    "MUTA_007": "Credit/Debit must be 'C' or 'D'.",
    "MUTA_009": "Type is unknown.",
    "MUT_001": "Type is invalid.",
    "MUT_002": "Invoice number is missing.",
    "MUT_003": "Date is missing.",
    "MUT_004": "Date is invalid.",
    "MUT_007": "Unknown ledger for mutation.",
    "MUT_009": "Invalid ledger category for mutation.",
    "MUT_010": "Ledger must be of category creditor.",
    "MUT_011": "Ledger must be of category debtor.",
    "MUT_012": "Relation is missing.",
    "MUT_013": "Relation not found.",
    "MUT_016": "Term of payment is prohibited.",
    "MUT_017": "In/Ex VAT must be 'IN' or 'EX'.",
    "MUT_018": "Invoice number is too long.",
    "MUT_019": "Invoice number already exists.",
    "MUT_020": "Combination relation/invoice number already exists.",
    "MUT_100": "Rows are missing.",
    "MUT_101": "Too many rows.",
    "MUT_104": "Unknown ledger for row.",
    "MUT_106": "Invalid ledger category for row.",
    "MUT_109": "Invalid VAT code.",
    "MUT_110": "VAT code must be of type purchase.",
    "MUT_111": "VAT code must be of type sale.",
    "MUT_112": "Relation is missing.",
    "MUT_113": "Relation not found.",
    "MUT_115": "Invoice not found.",
    "MUT_120": "Invoice number is missing.",
    "MUT_300": "Mutation not found.",
}

# The SOAP simulator's fault kinds (core.soap.simulator.FAULT_KINDS) and REST's own: 429 "throttle".
REST_FAULT_KINDS = ("reset", "lost", "http500", "fault", "malformed", "slow", "session", "spike", "throttle")
MAX_LIMIT = 2000
DEFAULT_LIMIT = 100
STRING_OPS = ("eq", "not_eq", "like", "not_like")
ORDERED_OPS = ("eq", "not_eq", "gt", "gte", "lt", "lte", "range")
_FILTER_KEY = re.compile(r"^([A-Za-z]+)(?:\[([a-z_]+)\])?$")
_INT = re.compile(r"^\s*[+-]?\d{1,10}\s*$")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


class RestError(Exception):
    """An answer other than 2xx: the service's error body (or none, for a plain 404)."""

    def __init__(self, status: int, code: str = "", property_name: str = "", message: str = "",
                 kind: str = "validation", headers: tuple[tuple[str, str], ...] = ()):
        self.status = status
        self.code = code
        self.property_name = property_name
        self.message = message
        self.kind = kind
        self.headers = headers
        super().__init__(f"{status} {code} {property_name} {message}".strip())

    def body(self) -> dict[str, Any] | None:
        if not self.code:
            return None
        body: dict[str, Any] = {"type": self.kind, "title": TITLES.get(self.code, self.code), "status": self.status,
                                "code": self.code, "traceId": uuid.uuid4().hex}
        if self.kind == "security":
            body["securityType"] = 0  # generic; .NET writes the enum as a number
        if self.property_name:
            body["propertyName"] = self.property_name
        if self.message:
            body["message"] = self.message
        if self.kind == "validation":
            body["errors"] = [self.message or TITLES.get(self.code, self.code)]
        return body


def invalid(code: str, property_name: str = "", message: str = "") -> RestError:
    return RestError(400, code, property_name, message)


def unauthenticated() -> RestError:
    return RestError(401, "SECURITY_010", kind="security")


# --------------------------------------------------------------------------- JSON


def dump(value: Any) -> bytes:
    """JSON with Decimals written as exact numbers (never through a float)."""
    marks: dict[str, str] = {}

    def walk(v: Any) -> Any:
        if isinstance(v, Decimal):
            key = f"\x00{len(marks)}\x00"
            marks[key] = format(v, "f")
            return key
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    text = json.dumps(walk(value), ensure_ascii=False)
    if marks:
        text = re.sub(r'"\\u0000(\d+)\\u0000"', lambda m: marks[f"\x00{m[1]}\x00"], text)
    return text.encode("utf-8")


def read_body(raw: bytes, fields: dict[str, str]) -> dict[str, Any]:
    """The request's JSON object with the document's property names; `fields` maps each known
    property to its JSON kind (str, int, bool, number, date, array, object, any; "?" suffix: null allowed)."""
    if not raw.strip():
        raise invalid("DATA_01")
    try:
        data = json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid("ERR_002", "", f"The JSON could not be read: {exc}") from None
    if not isinstance(data, dict):
        raise invalid("ERR_002", "", "The JSON value could not be converted to an object.")
    by_lower = {name.lower(): name for name in fields}
    found: dict[str, Any] = {}
    for key, value in data.items():
        name = by_lower.get(key.lower())
        if name is None:
            raise invalid("ERR_002", key, f"Unknown property '{key}'.")
        check_kind(name, value, fields[name])
        found[name] = value
    return found


def check_kind(name: str, value: Any, kind: str) -> None:
    nullable = kind.endswith("?")
    kind = kind.rstrip("?")
    if value is None:
        if nullable or kind in ("str", "any"):
            return
        raise invalid("ERR_002", name, f"The JSON value null could not be converted for '{name}'.")
    ok = {"str": isinstance(value, str),
          "int": isinstance(value, int) and not isinstance(value, bool),
          "bool": isinstance(value, bool),
          "number": isinstance(value, (int, Decimal)) and not isinstance(value, bool),
          "array": isinstance(value, list),
          "object": isinstance(value, dict),
          "any": True}[kind]
    if kind == "int" and ok and not -2**31 <= value < 2**31:
        ok = False
    if not ok:
        raise invalid("ERR_002", name, f"The JSON value could not be converted for '{name}'.")


def parse_date(text: str) -> date | None:
    match = _DATE.match(text or "")
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


# --------------------------------------------------------------------------- lists


def page(query: dict[str, list[str]]) -> tuple[int, int]:
    """(limit, offset) of a list request."""
    limit = _query_int(query, "limit", DEFAULT_LIMIT)
    offset = _query_int(query, "offset", 0)
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid("PAGE_001", "limit")
    if offset < 0:
        raise invalid("PAGE_002", "offset")
    return limit, offset


def envelope(records: list[Any], limit: int, offset: int, shape: Callable[[Any], dict]) -> dict[str, Any]:
    chosen = [shape(r) for r in records[offset:offset + limit]]
    return {"items": chosen, "count": len(chosen)}  # count: this page, not a grand total (NOTES §2.10)


def _query_int(query: dict[str, list[str]], name: str, default: int) -> int:
    values = query.get(name)
    if not values:
        return default
    if not _INT.match(values[-1]):
        raise invalid("ERR_002", name, f"The value '{values[-1][:40]}' is not valid for {name}.")
    return int(values[-1])


def plain_int(query: dict[str, list[str]], name: str) -> int | None:
    """A parameter that is a plain integer, not a filter (e.g. the mutation list's `type`)."""
    return _query_int(query, name, 0) if query.get(name) else None


Predicate = Callable[[Any], bool]


def filters(query: dict[str, list[str]], kinds: dict[str, str]) -> dict[str, Predicate]:
    """`param[op]=value` for the parameters in `kinds` (string, int, date) -> a test per parameter."""
    found: dict[str, Predicate] = {}
    for key, values in query.items():
        match = _FILTER_KEY.match(key)
        if not match or match[1] not in kinds:
            continue
        name, op = match[1], match[2] or "eq"
        if name in found:
            raise invalid("ERR_002", name, "Only one filter can be applied to a parameter.")
        found[name] = _predicate(name, op, values[-1], kinds[name])
    return found


def _predicate(name: str, op: str, text: str, kind: str) -> Predicate:
    if kind == "string":
        if op not in STRING_OPS:
            raise invalid("ERR_002", name, f"Filter '{op}' is not valid for {name}.")
        wanted = text.lower()  # the service's database compares without case
        if op in ("eq", "not_eq"):
            return (lambda v: (v or "").lower() == wanted) if op == "eq" else (lambda v: (v or "").lower() != wanted)
        pattern = re.compile(fnmatch.translate(wanted.replace("%", "*")), re.DOTALL)
        return ((lambda v: bool(pattern.match((v or "").lower()))) if op == "like"
                else (lambda v: not pattern.match((v or "").lower())))
    if op not in ORDERED_OPS:
        raise invalid("ERR_002", name, f"Filter '{op}' is not valid for {name}.")

    def convert(raw: str) -> Any:
        value = parse_date(raw.strip()) if kind == "date" else (int(raw) if _INT.match(raw) else None)
        if value is None:
            raise invalid("ERR_002", name, f"The value '{raw[:40]}' is not valid for {name}.")
        return value

    if op == "range":
        low, sep, high = text.partition(",")
        if not sep:
            raise invalid("ERR_002", name, "A range filter takes two values: a,b.")
        lo, hi = convert(low), convert(high)
        return lambda v: lo <= v <= hi
    wanted_value = convert(text)
    return {"eq": lambda v: v == wanted_value, "not_eq": lambda v: v != wanted_value,
            "gt": lambda v: v > wanted_value, "gte": lambda v: v >= wanted_value,
            "lt": lambda v: v < wanted_value, "lte": lambda v: v <= wanted_value}[op]
