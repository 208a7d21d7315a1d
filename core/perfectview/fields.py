"""Which PerfectView field holds which attribute of a relation or a sales invoice.

PerfectView has no fixed record layout: every business field is a (GUID, value) pair, and
the GUIDs differ per database. What is stable is how a database *describes* a field: its
category (the tab it sits on) and its label, as the functional description names them
("Financieel - Administratie - Debiteurnummer"). This table says, per semantic attribute,
which category and label to look for; the client resolves them to GUIDs at run time from
RelationGetFields / EntityTypeGetFields / ActivityGetFields and never hard-codes one.

A database whose fields are named differently is handled in config (`field_names`), by
category/label or by the field's technical Name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from core.model import RelationKind


@dataclass(frozen=True)
class FieldRef:
    """How to find one field in the database's field list: by category and label, or by Name."""

    category: str = ""
    label: str = ""
    name: str = ""

    def matches(self, category: str, label: str, name: str) -> bool:
        if self.name:
            return self.name.casefold() == (name or "").casefold()
        return (self.category.casefold() == (category or "").strip().casefold()
                and self.label.casefold() == (label or "").strip().casefold())

    def __str__(self) -> str:
        return self.name or f"{self.category} / {self.label}"


ADDRESS_PARTS = {
    "street": "Straat",
    "house_number": "Huisnummer",
    "house_number_suffix": "Toevoeging",
    "postcode": "Postcode",
    "city": "Plaats",
    "country": "Land",  # holds the GUID of a country from DatastoreGetCountries
}


def _address(attribute: str, category: str) -> dict[str, FieldRef]:
    return {f"{attribute}.{part}": FieldRef(category, label) for part, label in ADDRESS_PARTS.items()}


ORGANISATION_FIELDS: dict[str, FieldRef] = {
    "name": FieldRef("Gegevens", "Organisatienaam"),
    "debtor_number": FieldRef("Administratie", "Debiteurnummer"),
    **_address("visiting_address", "Bezoekadres"),
    **_address("postal_address", "Postadres"),
    "iban": FieldRef("Bank", "IBAN"),
    "bic": FieldRef("Bank", "BIC"),
    "phone": FieldRef("Communicatie", "Telefoonnummer"),
    "email": FieldRef("Communicatie", "E-mailadres"),
    "website": FieldRef("Communicatie", "Website"),
    # Read to recognise a relation e-Boekhouden already knows under its KvK number (a twin).
    "kvk_number": FieldRef("Identificatie", "KvK-nummer"),
}

PERSON_FIELDS: dict[str, FieldRef] = {
    "first_name": FieldRef("Naam", "Voornaam"),
    "middle_name": FieldRef("Naam", "Tussenvoegsel"),
    "last_name": FieldRef("Naam", "Achternaam"),
    "gender": FieldRef("Algemeen", "Geslacht"),
    "debtor_number": FieldRef("Administratie", "Debiteurnummer"),
    **_address("private_address", "Privé adres"),
    **_address("deviating_address", "Afwijkend adres"),
    "iban": FieldRef("Bank", "IBAN"),
    "bic": FieldRef("Bank", "BIC"),
    "phone": FieldRef("Privé communicatie", "Telefoonnummer"),
    "mobile": FieldRef("Privé communicatie", "Mobiel"),
    "email": FieldRef("Privé communicatie", "E-mail"),
    "website": FieldRef("Privé communicatie", "Website"),
}

# On the relationship (the link from the own organisation to the relation).
RELATIONSHIP_FIELDS: dict[str, FieldRef] = {
    "account_manager": FieldRef("Algemeen", "Relatiebeheerder"),  # value: a user's Id
}

# On the sales invoice workflow's activities.
INVOICE_FIELDS: dict[str, FieldRef] = {
    "invoice_number": FieldRef("Factuur", "Factuurnummer"),
    "invoice_date": FieldRef("Factuur", "Factuurdatum"),
    "due_date": FieldRef("Factuur", "Vervaldatum"),
    # A checkbox per invoice: whether the product lines' amounts include VAT.
    "amounts_include_vat": FieldRef("Factuur", "Bedragen incl. BTW"),
    # PerfectView's own invoice total (incl. VAT): what pvsync books is checked against it.
    "total": FieldRef("Factuur", "Totaalbedrag"),
    "booked_marker": FieldRef("Boekhouding", "Geboekt in e-Boekhouden"),
}
# Attributes a database may lack: pvsync then does without them (an older database has no
# invoice total, so the total check is off) instead of refusing to start.
# A database without a KvK field loses one kind of twin evidence, nothing else.
OPTIONAL: dict[str, frozenset[str]] = {"invoice": frozenset({"total"}), "organisation": frozenset({"kvk_number"})}

TABLES: dict[str, dict[str, FieldRef]] = {
    "organisation": ORGANISATION_FIELDS,
    "person": PERSON_FIELDS,
    "relationship": RELATIONSHIP_FIELDS,
    "invoice": INVOICE_FIELDS,
}

# The relationship type linking the own organisation to a customer (carries the relatiebeheerder).
CUSTOMER_RELATIONSHIP_TYPE = "Relatie"
ROOT_RELATION_ID = "10000000-0000-0000-0000-000000000000"
NIL_GUID = "00000000-0000-0000-0000-000000000000"


def table_for(kind: RelationKind) -> str:
    return "organisation" if kind is RelationKind.ORGANISATION else "person"


def field_tables(overrides: Mapping[str, object] | None = None) -> dict[str, dict[str, FieldRef]]:
    """The tables with config overrides applied.

    A key is `<attribute>` (every table that has it, e.g. `debtor_number`) or
    `<table>.<attribute>` (`person.phone`, `invoice.booked_marker`). A value is a
    [category, label] pair, a "Category / Label" string, or a field's technical Name.
    """
    tables = {kind: dict(table) for kind, table in TABLES.items()}
    for key, value in (overrides or {}).items():
        head, _, rest = key.partition(".")
        table_name, attribute = (head, rest) if head in TABLES and rest else ("", key)
        targets = [table_name] if table_name else [t for t, table in tables.items() if attribute in table]
        if not targets or any(attribute not in tables[t] for t in targets):
            known = sorted({f"{t}.{a}" for t, table in TABLES.items() for a in table})
            raise ValueError(f"field_names: unknown attribute {key!r}; known: {', '.join(known)}")
        for target in targets:
            tables[target][attribute] = _ref(key, value)
    return tables


def known_attributes() -> list[str]:
    """Every key `field_names` takes: each attribute, and each `table.attribute`."""
    plain = {attribute for table in TABLES.values() for attribute in table}
    return sorted(plain | {f"{name}.{attribute}" for name, table in TABLES.items() for attribute in table})


def field_reference(value: object) -> FieldRef:
    """A [category, label] pair, a "Category / Label" string or a field Name, as a FieldRef."""
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return FieldRef(value[0].strip(), value[1].strip())
    if isinstance(value, str) and " / " in value:
        category, _, label = value.partition(" / ")
        return FieldRef(category.strip(), label.strip())
    if isinstance(value, str) and value.strip():
        return FieldRef(name=value.strip())
    raise ValueError("give [category, label], \"Category / Label\" or a field Name")


def _ref(key: str, value: object) -> FieldRef:
    try:
        return field_reference(value)
    except ValueError as error:
        raise ValueError(f"field_names.{key}: {error}, not {value!r}") from None
