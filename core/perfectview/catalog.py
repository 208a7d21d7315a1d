"""What this PerfectView database is made of, read once per run and looked up by name.

Relation types (entity types), fields, users, workflows and their steps, VAT codes,
countries and products are data that differ per database. pvsync's configuration names
them the way a person sees them in PerfectView ("Klant", "Verkoopfactuur", "Verstuurd",
"Administratie / Debiteurnummer"); this module turns those names into the database's
GUIDs, caches the answers for the life of the client (one client per run), and says
clearly what exists when a name does not.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from core.model import PvVatCode, RelationKind
from core.perfectview.errors import NotInDatabase
from core.perfectview.fields import FieldRef


@dataclass(frozen=True)
class PvEntityType:
    id: str
    name: str  # DescriptionSingular: "Klant", "Persoon", "Relatie", "Verkoopfactuur"
    plural: str
    base_entity_type: str
    base_relation_type: str  # NotApplicable | Person | Organisation

    @property
    def relation_kind(self) -> RelationKind | None:
        return {"Organisation": RelationKind.ORGANISATION, "Person": RelationKind.PERSON}.get(self.base_relation_type)


@dataclass(frozen=True)
class PvUser:
    id: str
    display_name: str
    relation_id: str
    relationship_id: str


@dataclass(frozen=True)
class PvWorkflow:
    id: str
    name: str
    entity_type_id: str


@dataclass(frozen=True)
class PvWorkflowStep:
    id: str
    name: str
    code: str
    type: str


@dataclass(frozen=True)
class PvCountry:
    id: str
    code: str
    name: str
    is_eu_member: bool


@dataclass(frozen=True)
class PvProduct:
    id: str
    code: str
    name: str
    sales_price: Decimal
    sales_vat_id: str
    price_includes_vat: bool


@dataclass(frozen=True)
class PvField:
    id: str
    name: str
    label: str
    category: str
    control: str
    type: str
    length: int
    is_required: bool

    def __str__(self) -> str:
        return f"{self.category} / {self.label}"


def items(container: Any, name: str) -> list:
    """The list inside an ArrayOf... answer (zeep gives None for an absent or empty one)."""
    if container is None:
        return []
    return list(getattr(container, name, None) or [])


def _guid(value: Any) -> str:
    return str(value or "").lower()


def _pick(things: list, name: str, key: Callable[[Any], str], kind: str):
    """The thing called `name`, or whose Id is `name` (a name that two things share in a
    database is then still reachable)."""
    wanted = name.strip().casefold()
    for thing in things:
        if key(thing).strip().casefold() == wanted or getattr(thing, "id", None) == wanted:
            return thing
    raise NotInDatabase(kind, name, [key(t) for t in things])


class Catalog:
    """The metadata half of the client. `_read(operation, **arguments)` is the client's."""

    def __init__(self) -> None:
        self._cache: dict[tuple, Any] = {}
        self._loading = threading.RLock()  # calls from several threads load each entry once

    def _read(self, operation: str, *, record: str = "", **arguments: Any) -> Any:
        raise NotImplementedError

    def _cached(self, key: tuple, load: Callable[[], Any]) -> Any:
        if key not in self._cache:
            with self._loading:
                if key not in self._cache:
                    self._cache[key] = load()
        return self._cache[key]

    # ------------------------------------------------------------------ service

    def version(self) -> str:
        return self._cached(("version",), lambda: self._read("ApiGetVersion").Version or "")

    def calls_today(self) -> int:
        """Calls this database's API key made today, as the service counts them (not cached)."""
        return int(self._read("ApiGetCalls").UsedCallsToday or 0)

    # ------------------------------------------------------------------ entity types

    def entity_types(self) -> list[PvEntityType]:
        def load():
            result = self._read("EntityTypeGetAll")
            return [PvEntityType(_guid(t.Id), t.DescriptionSingular or "", t.DescriptionPlural or "",
                                 t.BaseEntityType or "", t.BaseRelationType or "")
                    for t in items(result.EntityTypes, "PvEntityTypeData")]
        return self._cached(("entity_types",), load)

    def entity_type(self, entity_type_id: str) -> PvEntityType | None:
        return next((t for t in self.entity_types() if t.id == _guid(entity_type_id)), None)

    def relation_types(self, kind: RelationKind | None = None) -> list[PvEntityType]:
        return [t for t in self.entity_types()
                if t.relation_kind is not None and (kind is None or t.relation_kind is kind)]

    def relation_type_id(self, name: str, kind: RelationKind | None = None) -> str:
        """The entity type of a relation type ("Klant", "Te beoordelen"), optionally of one kind."""
        kind_text = f"{kind.value} relation type" if kind else "relation type"
        return _pick(self.relation_types(kind), name, lambda t: t.name, kind_text).id

    def relationship_type_id(self, name: str) -> str:
        types = [t for t in self.entity_types() if t.base_entity_type == "Relationship"]
        return _pick(types, name, lambda t: t.name, "relationship type").id

    # ------------------------------------------------------------------ users

    def users(self) -> list[PvUser]:
        def load():
            result = self._read("UsersGetActive", includeImages=False)
            return [PvUser(_guid(u.Id), u.DisplayName or "", _guid(u.RelationId), _guid(u.RelationshipId))
                    for u in items(result.Users, "PvUserData")]
        return self._cached(("users",), load)

    def user_id(self, display_name: str) -> str:
        return _pick(self.users(), display_name, lambda u: u.display_name, "user").id

    # ------------------------------------------------------------------ workflows

    def workflows(self) -> list[PvWorkflow]:
        def load():
            result = self._read("WorkflowGetAll")
            return [PvWorkflow(_guid(w.Id), w.Name or "", _guid(w.EntityTypeId))
                    for w in items(result.Workflows, "PvWorkflowData")]
        return self._cached(("workflows",), load)

    def workflow(self, name: str) -> PvWorkflow:
        return _pick(self.workflows(), name, lambda w: w.name, "workflow")

    def workflow_id(self, name: str) -> str:
        return self.workflow(name).id

    def workflow_steps(self, workflow: str) -> list[PvWorkflowStep]:
        workflow_id = self.workflow_id(workflow)

        def load():
            result = self._read("WorkflowStepGetAll", workflowId=workflow_id)
            return [PvWorkflowStep(_guid(s.Id), s.Name or "", s.Code or "", s.Type or "")
                    for s in items(result.WorkflowSteps, "PvWorkflowStepData")]
        return self._cached(("steps", workflow_id), load)

    def step_id(self, workflow: str, name: str) -> str:
        return _pick(self.workflow_steps(workflow), name, lambda s: s.name, f"step of workflow {workflow!r}").id

    def is_step(self, workflow: str, step_name: str, configured: str) -> bool:
        """Whether an invoice in step `step_name` is in the step the config names (by name or Id)."""
        wanted = configured.strip().casefold()
        if step_name.casefold() == wanted:
            return True
        return any(s.id == wanted and s.name == step_name for s in self.workflow_steps(workflow))

    def step_name(self, workflow: str, step_id: str) -> str:
        step = next((s for s in self.workflow_steps(workflow) if s.id == _guid(step_id)), None)
        return step.name if step else ""

    # ------------------------------------------------------------------ VAT, countries, products

    def vat_codes(self) -> list[PvVatCode]:
        def load():
            result = self._read("ProductGetVatCodes")
            return [PvVatCode(_guid(v.Id), int(v.Percentage or 0), v.Description or "")
                    for v in items(result.Vats, "PvVatData")]
        return self._cached(("vat",), load)

    def vat_code(self, id_or_description: str) -> PvVatCode:
        wanted = id_or_description.strip().casefold()
        found = next((v for v in self.vat_codes() if wanted in (v.id, v.description.casefold())), None)
        if found is None:
            raise NotInDatabase("VAT code", id_or_description, [v.description for v in self.vat_codes()])
        return found

    def countries(self) -> list[PvCountry]:
        def load():
            result = self._read("DatastoreGetCountries")
            return [PvCountry(_guid(c.Id), (c.Code or "").upper(), c.Name or "", bool(c.IsEuMember))
                    for c in items(result.Countries, "PvCountryData")]
        return self._cached(("countries",), load)

    def country_code(self, country_id: str) -> str:
        """ISO code of a country GUID; a value that is no known GUID is returned as it is."""
        found = next((c for c in self.countries() if c.id == _guid(country_id)), None)
        return found.code if found else country_id

    def country_id(self, code_or_name: str) -> str:
        wanted = code_or_name.strip().casefold()
        for country in self.countries():
            if wanted in (country.code.casefold(), country.name.casefold()):
                return country.id
        raise NotInDatabase("country", code_or_name, [f"{c.code} {c.name}" for c in self.countries()])

    def products(self) -> list[PvProduct]:
        def load():
            result = self._read("ProductGetAll")
            return [PvProduct(_guid(p.Id), p.Code or "", p.Name or "", Decimal(p.SalesPrice or 0),
                              _guid(p.SalesVatId), bool(p.IsSalesPriceInclusiveVat))
                    for p in items(result.Products, "PvProductData") if not p.IsInactive]
        return self._cached(("products",), load)

    def product(self, code_or_name: str) -> PvProduct:
        wanted = code_or_name.strip().casefold()
        for product in self.products():
            if wanted in (product.code.casefold(), product.name.casefold()):
                return product
        raise NotInDatabase("product", code_or_name, [p.name for p in self.products()])

    # ------------------------------------------------------------------ fields

    def relation_fields(self, kind: RelationKind) -> list[PvField]:
        base = "Organisation" if kind is RelationKind.ORGANISATION else "Person"
        return self._cached(("fields", base),
                            lambda: _fields(self._read("RelationGetFields", baseRelationType=base)))

    def entity_type_fields(self, entity_type_id: str) -> list[PvField]:
        return self._cached(("fields", entity_type_id),
                            lambda: _fields(self._read("EntityTypeGetFields", entityTypeId=entity_type_id)))

    def activity_fields(self, workflow: str) -> list[PvField]:
        workflow_id = self.workflow_id(workflow)
        return self._cached(("fields", workflow_id),
                            lambda: _fields(self._read("ActivityGetFields", workflowId=workflow_id)))


def _fields(result: Any) -> list[PvField]:
    return [PvField(_guid(f.Id), f.Name or "", f.Label or "", f.CategoryName or "", f.Control or "",
                    f.Type or "", int(f.Length or 0), bool(f.IsRequired))
            for f in items(result.Fields, "PvFieldData")]


def resolve_fields(table: dict[str, FieldRef], fields: list[PvField], where: str,
                   optional: frozenset[str] = frozenset()) -> dict[str, PvField]:
    """Every attribute of a field table mapped to the database's field; the first one the
    database lacks raises NotInDatabase listing the fields it does have, unless it is
    `optional` (then it is left out of the map)."""
    resolved: dict[str, PvField] = {}
    for attribute, ref in table.items():
        match = next((f for f in fields if ref.matches(f.category, f.label, f.name)), None)
        if match is None and attribute in optional:
            continue
        if match is None:
            listing = [f"{f.name}" if ref.name else str(f) for f in fields]
            raise NotInDatabase(f"field ({where}, for {attribute})", str(ref), listing)
        resolved[attribute] = match
    return resolved
