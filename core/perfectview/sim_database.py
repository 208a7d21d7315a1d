"""How the simulated PerfectView database is set up before anyone uses it.

A real database arrives configured: relation types, the fields on each tab, users,
workflows with their steps, VAT codes, products and the country list. None of that is
created through the API, so the simulator builds it here, with fresh GUIDs per database
(seeded), so that a client that hard-codes a GUID fails against a second database.
Relations and invoices are *not* made here: they go in through the API (demo.populate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

ROOT_ID = "10000000-0000-0000-0000-000000000000"
OWN_ORGANISATION = "Voorbeeld Installatietechniek B.V."

# Field rows: (category, label, Name, control, type, length, required). Land holds a country's GUID.
_ADDRESS = [("Straat", "street", 100), ("Huisnummer", "housenumber", 10), ("Toevoeging", "housenumbersuffix", 10),
            ("Postcode", "zipcode", 10), ("Plaats", "city", 60)]


def _address_fields(category: str, prefix: str) -> list[tuple]:
    rows = [(category, label, f"{prefix}_{suffix}", "TextBox", "String", length, False)
            for label, suffix, length in _ADDRESS]
    rows.append((category, "Land", f"{prefix}_country", "PvComboBox", "Guid", 0, False))
    return rows


ORGANISATION_FIELDS = [
    ("Gegevens", "Organisatienaam", "ORG_name", "TextBox", "String", 100, True),
    ("Gegevens", "Relatiecode", "ORG_relationcode", "TextBox", "String", 20, False),
    ("Administratie", "Debiteurnummer", "ORG_debtornumber", "TextBox", "String", 15, False),
    *_address_fields("Bezoekadres", "VIS"),
    *_address_fields("Postadres", "POS"),
    *_address_fields("Factuuradres", "FAC"),
    ("Communicatie", "Telefoonnummer", "COM_phone", "TextBox", "String", 30, False),
    ("Communicatie", "E-mailadres", "COM_email", "PvMailTextBox", "String", 150, False),
    ("Communicatie", "Website", "COM_website", "PvUrlTextBox", "String", 150, False),
    ("Bank", "IBAN", "BANK_iban", "TextBox", "String", 34, False),
    ("Bank", "BIC", "BANK_bic", "TextBox", "String", 11, False),
    ("Identificatie", "KvK-nummer", "ORG_coc", "TextBox", "String", 20, False),
]

PERSON_FIELDS = [
    ("Naam", "Voornaam", "PER_firstname", "TextBox", "String", 50, False),
    ("Naam", "Tussenvoegsel", "PER_middlename", "TextBox", "String", 20, False),
    ("Naam", "Achternaam", "PER_name", "TextBox", "String", 80, True),
    ("Algemeen", "Geslacht", "PER_gender", "PvComboBox", "String", 10, False),
    ("Algemeen", "Relatiecode", "PER_relationcode", "TextBox", "String", 20, False),
    ("Administratie", "Debiteurnummer", "PER_debtornumber", "TextBox", "String", 15, False),
    *_address_fields("Privé adres", "PRI"),
    *_address_fields("Afwijkend adres", "DEV"),
    ("Privé communicatie", "Telefoonnummer", "PCOM_phone", "TextBox", "String", 30, False),
    ("Privé communicatie", "Mobiel", "PCOM_mobile", "TextBox", "String", 30, False),
    ("Privé communicatie", "E-mail", "PCOM_email", "PvMailTextBox", "String", 150, False),
    ("Privé communicatie", "Website", "PCOM_website", "PvUrlTextBox", "String", 150, False),
    ("Bank", "IBAN", "PBANK_iban", "TextBox", "String", 34, False),
    ("Bank", "BIC", "PBANK_bic", "TextBox", "String", 11, False),
]

RELATIONSHIP_FIELDS = [
    ("Algemeen", "Relatiebeheerder", "CON_accountmanager", "PvComboBox", "Guid", 0, False),
    ("Algemeen", "Functie", "CON_function", "TextBox", "String", 60, False),
    ("Communicatie", "E-mail", "CON_email", "PvMailTextBox", "String", 150, False),
]

TOTAL_FIELD = "INV_totalamount"
INCLUDES_VAT_FIELD = "INV_amountsinclvat"

INVOICE_FIELDS = [
    ("Algemeen", "Onderwerp", "COR_subject", "TextBox", "String", 200, False),
    ("Factuur", "Factuurnummer", "INV_number", "TextBox", "String", 30, False),
    ("Factuur", "Factuurdatum", "INV_date", "PvDateTimePicker", "DateTime", 0, False),
    ("Factuur", "Vervaldatum", "INV_duedate", "PvDateTimePicker", "DateTime", 0, False),
    ("Factuur", "Bedragen incl. BTW", INCLUDES_VAT_FIELD, "CheckBox", "Boolean", 0, False),
    # Kept by PerfectView from the product lines (the simulator's _recompute_total); a person
    # or an add-in may still overwrite it. Invented: the public record names no total field.
    ("Factuur", "Totaalbedrag", TOTAL_FIELD, "PvNumericTextBox", "Decimal", 0, False),
    ("Boekhouding", "Geboekt in e-Boekhouden", "INV_booked", "TextBox", "String", 200, False),
]

QUOTATION_FIELDS = [
    ("Algemeen", "Onderwerp", "COR_subject", "TextBox", "String", 200, False),
    ("Offerte", "Offertenummer", "QUO_number", "TextBox", "String", 30, False),
    ("Offerte", "Offertedatum", "QUO_date", "PvDateTimePicker", "DateTime", 0, False),
]

# name -> (steps, allowed transitions as (from, to) pairs)
WORKFLOWS = {
    "Verkoopfactuur": (["Concept", "Verstuurd", "Betaald"],
                       [("Concept", "Verstuurd"), ("Verstuurd", "Betaald"), ("Verstuurd", "Concept")]),
    "Offerte": (["Concept", "Verstuurd", "Geaccepteerd", "Afgewezen"],
                [("Concept", "Verstuurd"), ("Verstuurd", "Geaccepteerd"), ("Verstuurd", "Afgewezen")]),
}


@dataclass(frozen=True)
class Layout:
    """What a database is configured with: the parts a real database may name differently.

    "standard" is what pvsync's defaults expect. "custom" is a second database set up by
    another administrator: other labels on the fields pvsync uses (the technical Names stay,
    as PerfectView keeps them), other relation types, another name for the customer
    relationship, an invoice workflow called "Factuur" with other step names, and an
    ActivityFlow that wants the Id of a transition rather than of the step it leads to.
    """

    relation_types: tuple[str, ...] = ("Klant", "Prospect", "Suspect", "Te beoordelen")
    customer_relationship: str = "Relatie"
    invoice_workflow: str = "Verkoopfactuur"
    invoice_steps: dict[str, str] = field(default_factory=dict)  # default step name -> this database's
    relabel: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # (scope, Name) -> (cat, label)
    transition_ids: bool = False  # ActivityFlow takes a transition's own Id


CUSTOM = Layout(
    relation_types=("Debiteur", "Prospect", "Lead", "Nieuw"),
    customer_relationship="Klantrelatie",
    invoice_workflow="Factuur",
    invoice_steps={"Concept": "Nieuw", "Verstuurd": "Verzonden", "Betaald": "Voldaan"},
    relabel={("Organisation", "ORG_debtornumber"): ("Administratie", "Debiteurnr."),
             ("Organisation", "COM_email"): ("Communicatie", "E-mail"),
             ("Person", "PER_debtornumber"): ("Financieel", "Debiteurnr."),
             ("Relationship", "CON_accountmanager"): ("Algemeen", "Accountmanager"),
             ("invoice", "INV_number"): ("Factuurgegevens", "Factuurnr."),
             ("invoice", "INV_booked"): ("Boekhouding", "Geboekt")},
    transition_ids=True,
)
LAYOUTS = {"standard": Layout(), "custom": CUSTOM}
# Labels the custom database also has nearby, so a check has near misses to offer.
CUSTOM_EXTRA = {"Organisation": [("Administratie", "Crediteurnr.", "ORG_creditornumber", "TextBox", "String", 15,
                                  False)]}


USERS = [("Sanne de Vries", "SdV"), ("Joost Bakker", "JB"), ("Fatima el Amrani", "FeA")]

VAT_CODES = [(21, "BTW hoog 21%"), (9, "BTW laag 9%"), (0, "BTW 0%"), (0, "BTW verlegd"), (0, "BTW EU 0%")]

# code, name, price, VAT description, unit
PRODUCTS = [("ONDH", "Onderhoudsbeurt cv-ketel", "89.00", "BTW hoog 21%", "Piece"),
            ("UUR", "Arbeid monteur per uur", "62.50", "BTW hoog 21%", "Hour"),
            ("ISO", "Na-isolatie spouwmuur per m2", "24.75", "BTW laag 9%", "Piece"),
            ("ADV", "Adviesrapport energielabel", "250.00", "BTW hoog 21%", "Piece"),
            ("KM", "Voorrijkosten per km", "0.45", "BTW hoog 21%", "Kilometre")]

COUNTRIES = [("NL", "Nederland", True), ("BE", "België", True), ("DE", "Duitsland", True),
             ("FR", "Frankrijk", True), ("LU", "Luxemburg", True), ("AT", "Oostenrijk", True),
             ("ES", "Spanje", True), ("IT", "Italië", True), ("GB", "Verenigd Koninkrijk", False),
             ("US", "Verenigde Staten", False), ("CH", "Zwitserland", False), ("NO", "Noorwegen", False)]


def build(new_id: Callable[[], str], credentials: dict[str, str], now: str, variant: str = "standard"
          ) -> dict[str, Any]:
    """A configured, empty database (plus the own organisation and its employees), laid out
    as the `variant` (a key of LAYOUTS) says."""
    layout = LAYOUTS[variant]
    db: dict[str, Any] = {"credentials": credentials, "entity_types": [], "fields": [], "users": [],
                          "workflows": [], "relations": {}, "relationships": {}, "activities": {}, "lines": {},
                          "notes": {}, "attachments": {}, "calls_per_day": {}, "next_number": 1001,
                          "variant": variant}

    def entity_type(singular: str, plural: str, base: str, relation: str = "NotApplicable") -> str:
        type_id = new_id()
        db["entity_types"].append({"Id": type_id, "EntityId": new_id(), "BaseEntityType": base,
                                   "BaseRelationType": relation, "DescriptionSingular": singular,
                                   "DescriptionPlural": plural})
        return type_id

    def add_fields(scope: str, rows: list[tuple], relabel_as: str = "") -> None:
        categories: dict[str, int] = {}
        for index, (category, label, name, control, kind, length, required) in enumerate(rows):
            category, label = layout.relabel.get((relabel_as or scope, name), (category, label))
            categories.setdefault(category, len(categories))
            db["fields"].append({
                "scope": scope, "Id": new_id(), "Label": label, "Name": name, "SortIndex": index,
                "CategoryName": category, "CategorySortIndex": categories[category], "HideAtEntryForm": False,
                "UserFriendlyName": f"{category} - {label}", "IsReadOnly": False, "Description": "",
                "Control": control, "Type": kind, "Length": length,
                "ComboboxValues": "Countries" if name.endswith("_country") else
                {"CON_accountmanager": "Users", "PER_gender": "Enumeration"}.get(name, "None"),
                "ExtraInfo": "Man;Vrouw;Onbekend" if name == "PER_gender" else "", "IsRequired": required})

    for name in layout.relation_types:
        entity_type(name, name if name.endswith("en") else f"{name}s", "Relation", "Organisation")
    own_type = entity_type("Eigen organisatie", "Eigen organisatie", "Relation", "Organisation")
    person_type = entity_type("Persoon", "Personen", "Relation", "Person")
    entity_type(layout.customer_relationship, f"{layout.customer_relationship}s", "Relationship")
    employee_link = entity_type("Medewerker", "Medewerkers", "Relationship")
    entity_type("Contactpersoon", "Contactpersonen", "Relationship")
    add_fields("Organisation", ORGANISATION_FIELDS + (CUSTOM_EXTRA["Organisation"] if layout.relabel else []))
    add_fields("Person", PERSON_FIELDS)
    add_fields("Relationship", RELATIONSHIP_FIELDS)

    for name, (steps, transitions) in WORKFLOWS.items():
        is_invoice = name == "Verkoopfactuur"
        renamed = layout.invoice_steps if is_invoice else {}
        steps = [renamed.get(step, step) for step in steps]
        transitions = [(renamed.get(a, a), renamed.get(b, b)) for a, b in transitions]
        name = layout.invoice_workflow if is_invoice else name
        activity_type = entity_type(name, name, "Activity")
        add_fields(activity_type, INVOICE_FIELDS if is_invoice else QUOTATION_FIELDS, "invoice" if is_invoice else "")
        step_rows = [{"Id": new_id(), "Name": step, "Code": step[:3].upper(),
                      "Type": "Start" if i == 0 else "End" if i == len(steps) - 1 else "Intermediate"}
                     for i, step in enumerate(steps)]
        by_name = {s["Name"]: s["Id"] for s in step_rows}
        # [from step, to step] or, where ActivityFlow takes a transition's own Id, [from, to, Id].
        db["workflows"].append({"Id": new_id(), "Name": name, "EntityTypeId": activity_type, "steps": step_rows,
                                "transitions": [[by_name[a], by_name[b]] + ([new_id()] if layout.transition_ids
                                                                            else []) for a, b in transitions]})

    db["countries"] = [{"Id": new_id(), "Code": code, "Name": name, "IsEuMember": eu} for code, name, eu in COUNTRIES]
    db["vats"] = [{"Id": new_id(), "Percentage": pct, "Description": text} for pct, text in VAT_CODES]
    vat_ids = {v["Description"]: v["Id"] for v in db["vats"]}
    db["products"] = [{"Id": new_id(), "ProductGroupId": "00000000-0000-0000-0000-000000000000", "Code": code,
                       "Name": name, "Description": name, "ProductType": "Service", "UnitType": unit,
                       "IsDivisible": unit != "Piece", "SalesPrice": price, "IsSalesPriceInclusiveVat": False,
                       "SalesVatId": vat_ids[vat], "PurchasePrice": "0", "IsInactive": False,
                       "AllowChangePrice": True, "AllowChangeDescription": True, "AllowChangeVat": True,
                       "AutoEnableEdit": True} for code, name, price, vat, unit in PRODUCTS]

    fields = {(f["scope"], f["Name"]): f["Id"] for f in db["fields"]}
    netherlands = next(c["Id"] for c in db["countries"] if c["Code"] == "NL")
    db["relations"][ROOT_ID] = relation_record(ROOT_ID, own_type, now, {
        fields[("Organisation", "ORG_name")]: OWN_ORGANISATION,
        fields[("Organisation", "VIS_street")]: "Industrieweg", fields[("Organisation", "VIS_housenumber")]: "12",
        fields[("Organisation", "VIS_zipcode")]: "3542 AD", fields[("Organisation", "VIS_city")]: "Utrecht",
        fields[("Organisation", "VIS_country")]: netherlands}, is_root=True)
    for index, (display, initials) in enumerate(USERS):
        first, _, last = display.partition(" ")
        person_id = new_id()
        db["relations"][person_id] = relation_record(person_id, person_type, now, {
            fields[("Person", "PER_firstname")]: first, fields[("Person", "PER_name")]: last})
        link_id = new_id()
        db["relationships"][link_id] = relationship_record(link_id, employee_link, ROOT_ID, person_id, now,
                                                           is_employee=True)
        user_id = credentials["user_id"] if index == 0 else new_id()
        db["users"].append({"Id": user_id, "RelationshipId": link_id, "RelationId": person_id,
                            "DisplayName": display, "SortingName": f"{last}, {first}", "Initials": initials})
    return db


def relation_record(relation_id: str, entity_type: str, now: str, values: dict[str, str], *,
                    is_root: bool = False) -> dict[str, Any]:
    return {"Id": relation_id, "EntityTypeId": entity_type, "Info": "", "SortingName": "", "DisplayName": "",
            "IsRoot": is_root, "IsDummy": False, "ImportKey": "", "IsInactive": False, "values": dict(values),
            "created": now, "modified": now}


def relationship_record(link_id: str, entity_type: str, parent: str, child: str, now: str, *,
                        is_employee: bool = False, values: dict[str, str] | None = None) -> dict[str, Any]:
    return {"Id": link_id, "EntityTypeId": entity_type, "ParentRelationId": parent, "ChildRelationId": child,
            "IsEmployee": is_employee, "values": dict(values or {}), "created": now, "modified": now}
