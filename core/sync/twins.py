"""Twins: a PerfectView relation without a Debiteurnummer that is most likely the same
customer as an e-Boekhouden relation about to be imported.

Importing it anyway makes the duplicate people later merge by hand, the most common
complaint about first syncs. So the import planner asks this module first, and a relation
with a twin is proposed for linking instead (a person accepts or rejects the proposal).

Evidence is what identifies a customer, never a likeness: the same IBAN (valid, compared
compact), KvK number (eight digits), or e-mail address (case ignored); or the same name
together with the same postcode (spacing and case ignored). A similar IBAN, another
postcode or a name alone is no evidence. Pure functions: the planner hands in both sides.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from stdnum import iban as iban_number

from core.model import CrmRelation, EbRelation, RelationKind
from core.sync.mapping import crm_to_eboekhouden_values


@dataclass(frozen=True)
class TwinCandidate:
    """One PerfectView relation that looks like the e-Boekhouden relation, and why."""

    pv_id: str
    name: str
    evidence: tuple[str, ...]  # "IBAN NL91ABNA0417164300", "same name and postcode 3511AB", ...

    def describe(self) -> str:
        return f"{self.name} ({'; '.join(self.evidence)})"


def compact_iban(value: str) -> str:
    """The IBAN without spaces, upper case; "" when it is not a valid IBAN (a typo proves nothing)."""
    compact = iban_number.compact(value or "")
    return compact if compact and iban_number.is_valid(compact) else ""


def compact_kvk(value: str) -> str:
    digits = re.sub(r"[\s.\-]", "", value or "")
    return digits if re.fullmatch(r"\d{8}", digits) else ""


def compact_email(value: str) -> str:
    text = (value or "").strip().casefold()
    return text if "@" in text else ""


def compact_name(value: str) -> str:
    return " ".join((value or "").casefold().split())


def compact_postcode(value: str) -> str:
    return "".join((value or "").split()).upper()


def _keys_of_eboekhouden(relation: EbRelation) -> dict[str, set[str]]:
    name = compact_name(relation.bedrijf)
    return {
        "iban": {compact_iban(relation.iban)} - {""},
        "kvk": {compact_kvk(relation.kvk_nummer)} - {""},
        "email": {compact_email(relation.email)} - {""},
        "name_postcode": {f"{name}|{p}" for p in map(compact_postcode, (relation.postcode, relation.postcode2)) if p}
        if name else set(),
    }


def _keys_of_perfectview(relation: CrmRelation, name_format: str) -> dict[str, set[str]]:
    name = compact_name(crm_to_eboekhouden_values(relation, name_format)["bedrijf"])
    addresses = ((relation.visiting_address, relation.postal_address) if relation.kind is RelationKind.ORGANISATION
                 else (relation.private_address, relation.deviating_address))
    return {
        "iban": {compact_iban(relation.iban)} - {""},
        "kvk": {compact_kvk(relation.kvk_number)} - {""},
        "email": {compact_email(relation.email)} - {""},
        "name_postcode": {f"{name}|{p}" for p in (compact_postcode(a.postcode) for a in addresses) if p}
        if name else set(),
    }


def _evidence(kind: str, key: str) -> str:
    if kind == "name_postcode":
        name, _, postcode = key.partition("|")
        return f"same name and postcode {postcode}"
    return {"iban": "IBAN", "kvk": "KvK number", "email": "e-mail address"}[kind] + f" {key}"


class TwinFinder:
    """The PerfectView relations without a Debiteurnummer, indexed by every piece of evidence."""

    def __init__(self, perfectview: Iterable[CrmRelation], name_format: str):
        self.name_format = name_format
        self.relations: dict[str, CrmRelation] = {}
        self.index: dict[tuple[str, str], list[str]] = defaultdict(list)
        for relation in perfectview:
            if relation.debtor_number.strip():
                continue  # linked, or about to be: never someone else's twin
            self.relations[relation.id] = relation
            for kind, keys in _keys_of_perfectview(relation, name_format).items():
                for key in keys:
                    self.index[(kind, key)].append(relation.id)

    def candidates(self, relation: EbRelation) -> list[TwinCandidate]:
        """Every PerfectView relation with evidence of being `relation`, each with all its evidence."""
        found: dict[str, list[str]] = defaultdict(list)
        for kind, keys in _keys_of_eboekhouden(relation).items():
            for key in sorted(keys):
                for pv_id in self.index.get((kind, key), ()):
                    found[pv_id].append(_evidence(kind, key))
        return [TwinCandidate(pv_id, self.label(pv_id), tuple(evidence)) for pv_id, evidence in sorted(found.items())]

    def label(self, pv_id: str) -> str:
        relation = self.relations[pv_id]
        return crm_to_eboekhouden_values(relation, self.name_format)["bedrijf"] or pv_id


def twins_of(eboekhouden: Sequence[EbRelation], perfectview: Iterable[CrmRelation],
             name_format: str) -> dict[str, list[TwinCandidate]]:
    """e-Boekhouden code -> its PerfectView twin candidates, for the relations that have any."""
    finder = TwinFinder(perfectview, name_format)
    return {r.code: found for r in eboekhouden if (found := finder.candidates(r))}
