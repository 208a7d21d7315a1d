"""Relation field mapping between PerfectView and e-Boekhouden (functional description, section E).

Pure functions: no I/O, so the planner and its table-driven tests can use them directly.
The mapping owns a fixed set of e-Boekhouden fields per kind of relation; every other
field of an e-Boekhouden relation is left as it is there (UpdateRelatie replaces the
whole record, so pvsync reads, merges its own fields, and writes back).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace

from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumError

from core.model import PERSON_NAME_FORMATS, Address, CrmRelation, EbRelation, Gender, Problem, RelationKind

# The e-Boekhouden fields pvsync writes, per kind, in the order of section E.
ORGANISATION_FIELDS = ("code", "bedrijf", "adres", "postcode", "plaats", "adres2", "postcode2", "plaats2",
                       "iban", "bic", "telefoon", "email", "site")
PERSON_FIELDS = ("code", "bedrijf", "geslacht", "adres", "postcode", "plaats", "adres2", "postcode2", "plaats2",
                 "iban", "bic", "telefoon", "gsm", "email", "site")

# e-Boekhouden's name for each field, for messages and the audit lines in the logbook.
FIELD_LABELS = {
    "code": "Code", "bedrijf": "Bedrijf/Naam", "geslacht": "Geslacht", "adres": "Adres", "postcode": "Postcode",
    "plaats": "Plaats", "adres2": "Adres 2", "postcode2": "Postcode 2", "plaats2": "Plaats 2", "iban": "IBAN",
    "bic": "BIC", "telefoon": "Telefoon", "gsm": "GSM", "email": "E-mail", "site": "Site", "bp": "BP",
}



def mapped_fields(kind: RelationKind) -> tuple[str, ...]:
    return ORGANISATION_FIELDS if kind is RelationKind.ORGANISATION else PERSON_FIELDS


def person_name(relation: CrmRelation, name_format: str) -> str:
    """The name e-Boekhouden shows for a person, in the configured format.

    "Achternaam" keeps the tussenvoegsel with the surname ("de Vries"), as Dutch
    administrations sort and show it.
    """
    first, middle, last = relation.first_name.strip(), relation.middle_name.strip(), relation.last_name.strip()
    surname = " ".join(p for p in (middle, last) if p)
    if name_format == "Achternaam":
        return surname
    if name_format == "Voornaam Achternaam" or name_format == "Voornaam Tussenvoegsel Achternaam":
        return " ".join(p for p in (first, middle, last) if p)
    if name_format == "Achternaam, Voornaam":
        return ", ".join(p for p in (surname, first) if p)
    if name_format == "Achternaam, Voornaam Tussenvoegsel":
        return ", ".join(p for p in (last, " ".join(q for q in (first, middle) if q)) if p)
    raise ValueError(f"unknown person name format {name_format!r}; use one of: {', '.join(PERSON_NAME_FORMATS)}")


def _normalise_iban(value: str) -> str:
    return re.sub(r"\s+", "", value).upper()


def crm_to_eboekhouden_values(relation: CrmRelation, name_format: str) -> dict[str, str]:
    """The e-Boekhouden values section E gives for this PerfectView relation."""
    if relation.kind is RelationKind.ORGANISATION:
        main, second = relation.visiting_address, relation.postal_address
        values = {"bedrijf": relation.name.strip()}
    else:
        main, second = relation.private_address, relation.deviating_address
        values = {"bedrijf": person_name(relation, name_format), "geslacht": relation.gender.value,
                  "gsm": relation.mobile.strip()}
    values.update({
        "code": relation.debtor_number.strip(),
        "adres": main.street_line(), "postcode": main.postcode.strip(), "plaats": main.city.strip(),
        "adres2": second.street_line(), "postcode2": second.postcode.strip(), "plaats2": second.city.strip(),
        "iban": _normalise_iban(relation.iban), "bic": relation.bic.strip().upper(),
        "telefoon": relation.phone.strip(), "email": relation.email.strip(), "site": relation.website.strip(),
    })
    return {name: values[name] for name in mapped_fields(relation.kind)}


def merge_into(current: EbRelation | None, relation: CrmRelation, name_format: str, *,
               values: dict[str, str] | None = None) -> EbRelation:
    """Read-merge-write: the e-Boekhouden relation with pvsync's fields laid over it.

    Fields pvsync does not map keep the values they have in e-Boekhouden. `values` are the
    relation's crm_to_eboekhouden_values when the caller has them already.
    """
    values = crm_to_eboekhouden_values(relation, name_format) if values is None else values
    bp = "B" if relation.kind is RelationKind.ORGANISATION else "P"
    return EbRelation(bp=bp, **values) if current is None else replace(current, bp=bp, **values)


def eboekhouden_values(relation: EbRelation, kind: RelationKind) -> dict[str, str]:
    return {name: getattr(relation, name) or "" for name in mapped_fields(kind)}


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str
    new: str

    def describe(self) -> str:
        return f"{FIELD_LABELS.get(self.field, self.field)}: {self.old or '(leeg)'!s} -> {self.new or '(leeg)'}"


def changes(current: EbRelation | None, wanted: EbRelation, kind: RelationKind) -> list[FieldChange]:
    """Every mapped field whose value differs (the audit trail when PerfectView wins)."""
    old = eboekhouden_values(current, kind) if current else {name: "" for name in mapped_fields(kind)}
    new = eboekhouden_values(wanted, kind)
    result = [FieldChange(name, old[name], new[name]) for name in mapped_fields(kind)
              if _comparable(name, old[name]) != _comparable(name, new[name])]
    if current is not None and current.bp != wanted.bp:
        result.append(FieldChange("bp", current.bp, wanted.bp))
    return result


def _comparable(name: str, value: str) -> str:
    """An IBAN or BIC that differs only in case or spaces is the same account: rewriting it
    in e-Boekhouden would be a write on every import of a relation typed that way."""
    if name == "iban":
        return _normalise_iban(value)
    return value.strip().upper() if name == "bic" else value


def content_hash(values: dict[str, str]) -> str:
    """A stable hash of mapped values: an unchanged hash means no write is needed."""
    blob = json.dumps(values, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:32]


def crm_hash(relation: CrmRelation, name_format: str, *, values: dict[str, str] | None = None) -> str:
    values = dict(crm_to_eboekhouden_values(relation, name_format) if values is None else values)
    values["kind"] = relation.kind.value
    return content_hash(values)


def eboekhouden_hash(relation: EbRelation) -> str:
    kind = RelationKind.PERSON if relation.bp == "P" else RelationKind.ORGANISATION
    values = eboekhouden_values(relation, kind)
    values["kind"] = kind.value
    return content_hash(values)


# Why a relation is not written, in words, with what to do about it: the same shape as
# e-Boekhouden's own limit problems, so the planner lists both alike.
RelationProblem = Problem
_CONTROL_CHARACTER = re.compile("[\x00-\x1f]")  # line breaks and tabs among them


def crm_relation_problems(relation: CrmRelation, name_format: str, *,
                          values: dict[str, str] | None = None) -> list[RelationProblem]:
    """Problems in the PerfectView data itself, before e-Boekhouden's limits are checked."""
    problems: list[RelationProblem] = []
    values = crm_to_eboekhouden_values(relation, name_format) if values is None else values
    # A person needs a surname whatever the name format: "Anna" alone is no customer record,
    # and PerfectView itself requires the Achternaam.
    nameless = not values["bedrijf"] if relation.kind is RelationKind.ORGANISATION else not relation.last_name.strip()
    if nameless:
        what = "organisation name" if relation.kind is RelationKind.ORGANISATION else "surname"
        problems.append(RelationProblem("bedrijf", f"the relation has no {what}",
                                        f"fill in the {what} in PerfectView"))
    if values["iban"]:
        try:
            stdnum_iban.validate(values["iban"])
        except StdnumError as exc:
            problems.append(RelationProblem("iban", f"IBAN {values['iban']} is not valid ({exc})",
                                            "correct the IBAN under Financieel - Bank in PerfectView"))
    if values["bic"]:
        try:
            stdnum_bic.validate(values["bic"])
        except StdnumError as exc:
            problems.append(RelationProblem("bic", f"BIC {values['bic']} is not valid ({exc})",
                                            "correct the BIC under Financieel - Bank in PerfectView"))
    # One look at all the values together first: a first run checks 10,000 relations.
    for name, value in values.items() if _CONTROL_CHARACTER.search("".join(values.values())) else ():
        if _CONTROL_CHARACTER.search(value):
            problems.append(RelationProblem(name, f"{FIELD_LABELS[name]} contains control characters",
                                            "remove the line breaks or tabs from that field in PerfectView"))
    return problems


# --------------------------------------------------------------------------- import (e-Boekhouden -> PerfectView)

# The house number is the last number standing on its own; the street is everything before it.
_STREET_LINE = re.compile(r"^(?P<street>.+)\s+(?P<number>\d+)(?P<suffix>\s*[-/]?\s*[A-Za-z0-9]{1,6})?$")


def split_street_line(line: str) -> tuple[str, str, str]:
    """'Kerkstraat 12a' -> ('Kerkstraat', '12', 'a'); a line without a number stays whole."""
    match = _STREET_LINE.match(line.strip())
    if not match:
        return line.strip(), "", ""
    return match["street"].strip(), match["number"], (match["suffix"] or "").strip()


def _address(line: str, postcode: str, city: str, country: str) -> Address:
    street, number, suffix = split_street_line(line or "")
    return Address(street=street, house_number=number, house_number_suffix=suffix,
                   postcode=(postcode or "").strip(), city=(city or "").strip(), country=(country or "").strip())


def eboekhouden_to_crm(relation: EbRelation, *, relation_type: str, account_manager_id: str) -> CrmRelation:
    """The PerfectView relation to create for an e-Boekhouden customer (import direction)."""
    main = _address(relation.adres, relation.postcode, relation.plaats, relation.land)
    second = _address(relation.adres2, relation.postcode2, relation.plaats2, relation.land2)
    common = dict(debtor_number=relation.code, iban=_normalise_iban(relation.iban or ""),
                  bic=(relation.bic or "").upper(), phone=relation.telefoon or "", email=relation.email or "",
                  website=relation.site or "", relation_type=relation_type, account_manager_id=account_manager_id)
    if relation.bp == "P":
        gender = {g.value: g for g in Gender}.get((relation.geslacht or "").lower(), Gender.NONE)
        return CrmRelation(id="", kind=RelationKind.PERSON, last_name=relation.bedrijf.strip(), gender=gender,
                           private_address=main, deviating_address=second, mobile=relation.gsm or "", **common)
    return CrmRelation(id="", kind=RelationKind.ORGANISATION, name=relation.bedrijf.strip(),
                       visiting_address=main, postal_address=second, **common)
