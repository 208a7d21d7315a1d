"""A stand-in for PerfectView CRM Online's SOAP API, for tests and the demo.

It serves pvsync's WSDL at /V1/perfectview.asmx?WSDL, speaks SOAP 1.1 and 1.2 (through
core.soap.SoapSimulator, which also brings the latency and fault knobs), and behaves like
the service where pvsync depends on it: the credentials block is checked on every call,
refusals come back in-band as Result{Succeeded=false, Number, Code, Description},
unknown GUIDs are refused, pages are 1-based with a capped size and no totals,
modified-since reads honour from/to, ActivityFlow only follows the workflow's
transitions, and a daily call counter answers ApiGetCalls.

Where the public record is silent, the simulator settles it one way and the client relies
on no more than that: a search with no field values matches every record of the type
(contains-match otherwise, as the service's search is not strict); ActivityFlow's
transitionId is the Id of the step to move to (in the "custom" variant database: the
transition's own Id); relationId nil in
RelationGetActivitiesModified_V2 means all relations; the relatiebeheerder is the
relationship field "Relatiebeheerder" (a user Id), surfaced as AccountManagerId; a refused
call is not counted, every admitted one is.

Messages are read and written through the WSDL's own schema (wire.py), so the simulator
cannot drift from the contract the client is built on. State is JSON-native (timestamps
as ISO strings, amounts as decimal strings) so it can be kept in a file as it is.
"""

from __future__ import annotations

import base64
import binascii
import json
import signal
import threading
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Mapping

from core.model import AMSTERDAM, round_cents
from core.perfectview import sim_database
from core.perfectview.wire import Schema, Unreadable
from core.soap.simulator import ClientFault, Knobs, SoapSimulator
from core.sync.booking import vat_for

WSDL = Path(__file__).with_name("perfectview.asmx.wsdl")
NIL = "00000000-0000-0000-0000-000000000000"
VERSION = "4.12.0 (pvsync simulator)"

NUMBERS = {"InvalidCredentials": 101, "DailyCallLimitExceeded": 102, "InvalidPageNumber": 201,
           "InvalidPageSize": 202, "InvalidPeriod": 203, "RelationNotFound": 301, "RelationshipNotFound": 302,
           "EntityTypeNotFound": 303, "FieldNotFound": 304, "FieldValueInvalid": 305, "RequiredFieldMissing": 306,
           "UserNotFound": 307, "WorkflowNotFound": 401, "WorkflowStepNotFound": 402, "TransitionNotAllowed": 403,
           "ActivityNotFound": 404, "VatNotFound": 501, "ProductNotFound": 502, "AttachmentNotFound": 503,
           "AttachmentInvalid": 504, "TextRequired": 505}


class Refused(Exception):
    """The service read the call and says no: Succeeded=false with a code and description."""

    def __init__(self, code: str, description: str, information: str = ""):
        self.code = code
        self.description = description
        self.information = information
        super().__init__(f"{code}: {description}")


@dataclass(frozen=True)
class SimCredentials:
    """The credentials the simulated database accepts (fake values, printed by `serve`)."""

    api_key: str
    database_id: str
    user_id: str


@lru_cache(maxsize=1)
def _schema() -> Schema:
    return Schema(WSDL)


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def _is_number(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


class PerfectViewSimulator(SoapSimulator):
    namespace = "https://Api.perfectview.nl"
    path = "/V1/perfectview.asmx"
    wsdl_file = WSDL
    service_name = "perfectview"

    def __init__(self, knobs: Knobs | None = None, state_file=None,
                 seed_data: Literal["demo", "empty"] = "demo", page_size_cap: int = 250,
                 credentials: SimCredentials | Mapping[str, str] | None = None, variant: str = "standard"):
        super().__init__(knobs, state_file)
        self.schema = _schema()
        self.page_size_cap = page_size_cap
        self.daily_call_limit: int | None = None  # None: no quota is enforced
        self.clock_offset = timedelta()
        if not self.load_state():
            if isinstance(credentials, Mapping):
                credentials = SimCredentials(**credentials)
            credentials = credentials or SimCredentials(self._new_id(), self._new_id(), self._new_id())
            if variant not in sim_database.LAYOUTS:
                raise ValueError(f"no PerfectView database variant {variant!r}; "
                                 f"choose from {', '.join(sim_database.LAYOUTS)}")
            self.db = sim_database.build(self._new_id, asdict(credentials), self._stamp(), variant)
            if seed_data == "demo":
                if variant != "standard":
                    # The demo fills a database by pvsync's default names, which this one lacks.
                    raise ValueError(f"the {variant!r} database starts empty: use seed 'empty' with it")
                self._seed_demo()
            self.save_state()
        self.credentials = SimCredentials(**self.db["credentials"])

    # ------------------------------------------------------------------ knobs and inspection (tests)

    def now(self) -> datetime:
        return datetime.now(AMSTERDAM) + self.clock_offset

    def add_minutes(self, minutes: float) -> None:
        """Move the simulator's clock (negative: into the past), so modified-since can be
        tested without sleeping."""
        self.clock_offset += timedelta(minutes=minutes)

    def age(self, minutes: float) -> None:
        """Everything that happened so far happened `minutes` earlier (modified stamps move back):
        a run "an hour later" without waiting an hour."""
        shift = timedelta(minutes=minutes)
        for table in ("relations", "relationships", "activities"):
            for record in self.db[table].values():
                if "modified" in record:
                    record["modified"] = (_parse(record["modified"]) - shift).isoformat()
        self.dirty = True

    def relation(self, relation_id: str) -> dict[str, Any]:
        rec = self.db["relations"][relation_id.lower()]
        link = self._customer_link(rec["Id"])
        manager = self._manager_of(link) if link else NIL
        return {"id": rec["Id"], "type": self._entity(rec["EntityTypeId"])["DescriptionSingular"],
                "display_name": rec["DisplayName"], "fields": self._labelled(rec["values"]),
                "account_manager": next((u["DisplayName"] for u in self.db["users"] if u["Id"] == manager), ""),
                "modified": rec["modified"]}

    def activity(self, activity_id: str) -> dict[str, Any]:
        act = self.db["activities"][activity_id.lower()]
        flow = self._workflow(act["WorkflowId"])
        link = self.db["relationships"][act["ParentRelationshipId"]]
        return {"id": act["Id"], "number": act["Number"], "workflow": flow["Name"],
                "step": self._step(flow, act["WorkflowStepId"])["Name"], "relation_id": link["ChildRelationId"],
                "fields": self._labelled(act["values"]), "lines": list(self.db["lines"].get(act["Id"], [])),
                "attachments": [a["FileName"] for a in self.db["attachments"].values()
                                if a["ActivityId"] == act["Id"]], "modified": act["modified"]}

    def notes(self, parent_id: str) -> list[str]:
        return [n["Text"] for n in self.db["notes"].get(parent_id.lower(), [])]

    def transition_id(self, workflow: str, from_step: str, to_step: str) -> str:
        """The Id of a transition, as an administrator reads it in PerfectView's workflow
        settings (the API has no call that lists transitions)."""
        flow = next(w for w in self.db["workflows"] if w["Name"] == workflow)
        steps = {s["Name"]: s["Id"] for s in flow["steps"]}
        found = next(t for t in flow["transitions"] if t[:2] == [steps[from_step], steps[to_step]])
        return found[2] if len(found) == 3 else found[1]

    def calls_today(self) -> int:
        return self.db["calls_per_day"].get(self.now().date().isoformat(), 0)

    # ------------------------------------------------------------------ state

    def state_to_json(self) -> Any:
        return self.db

    def state_from_json(self, data: Any) -> None:
        self.db = data

    # ------------------------------------------------------------------ dispatch

    def handle(self, operation, request):
        handler = getattr(self, f"op_{operation}", None)
        if handler is None or operation not in self.schema.types:
            raise ClientFault(f"Server did not recognize the value of HTTP Header SOAPAction: "
                              f"{self.namespace}/{operation}.")
        try:
            args = self.schema.decode(request, operation)
        except Unreadable as exc:
            raise ClientFault(f"Server was unable to read request. ---> There is an error in XML document. "
                              f"---> {exc}") from None
        result_member = self.schema.types[f"{operation}Response"][0]
        try:
            self._admit(args.get("credentials"))
            result = {"Result": {"Succeeded": True, "Number": 0, "Code": "", "Description": ""}, **handler(args)}
        except Refused as refusal:
            self.events.append(f"{operation} refused: {refusal.code}")
            result = {"Result": {"Succeeded": False, "Number": NUMBERS[refusal.code], "Code": refusal.code,
                                 "Description": refusal.description}}
            if any(m.name == "ErrorInformation" for m in self.schema.types[result_member.type]):
                result["ErrorInformation"] = refusal.information or None
        return self.schema.encode(f"{operation}Response", f"{operation}Response", {result_member.name: result})

    def _admit(self, credentials: dict | None) -> None:
        given = credentials or {}
        wanted = self.db["credentials"]
        if (given.get("ApiKey"), given.get("DatabaseId"), given.get("UserId")) != (
                wanted["api_key"], wanted["database_id"], wanted["user_id"]):
            # Never echo what was sent: the answer may end up in someone's log.
            raise Refused("InvalidCredentials", "Access denied: the combination of API key, database and user "
                                                "is not valid.")
        today = self.now().date().isoformat()
        used = self.db["calls_per_day"].get(today, 0)
        if self.daily_call_limit is not None and used >= self.daily_call_limit:
            raise Refused("DailyCallLimitExceeded", f"The maximum of {self.daily_call_limit} API calls per day "
                                                    "has been reached. Try again tomorrow.")
        self.db["calls_per_day"] = {today: used + 1}

    # ------------------------------------------------------------------ helpers

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _stamp(self) -> str:
        return self.now().isoformat()

    def _page(self, args: dict, rows: list) -> list:
        number, size = args.get("pageNumber"), args.get("pageSize")
        if number is None or number < 1:
            raise Refused("InvalidPageNumber", f"pageNumber {number} is not valid: pages are numbered from 1.")
        if size is None or not 1 <= size <= self.page_size_cap:
            raise Refused("InvalidPageSize", f"pageSize {size} is not valid: use 1 to {self.page_size_cap}.")
        return rows[(number - 1) * size: number * size]

    @staticmethod
    def _period(args: dict) -> tuple[datetime, datetime]:
        start, end = args.get("from"), args.get("to")
        if start is None or end is None or start > end:
            raise Refused("InvalidPeriod", "The period is not valid: 'from' must lie before 'to'.")
        return start, end

    def _entity(self, type_id: str) -> dict:
        found = next((t for t in self.db["entity_types"] if t["Id"] == type_id), None)
        if found is None:
            raise Refused("EntityTypeNotFound", f"Entity type {type_id} does not exist.")
        return found

    def _relation_type(self, type_id: str) -> dict:
        found = self._entity(type_id)
        if found["BaseRelationType"] == "NotApplicable":
            raise Refused("EntityTypeNotFound", f"Entity type {type_id} is not a relation type.")
        return found

    def _scope(self, type_id: str) -> str:
        """Which field list applies to records of this entity type."""
        found = self._entity(type_id)
        if found["BaseRelationType"] != "NotApplicable":
            return found["BaseRelationType"]
        return "Relationship" if found["BaseEntityType"] == "Relationship" else type_id

    def _fields(self, scope: str) -> list[dict]:
        return [f for f in self.db["fields"] if f["scope"] == scope]

    def _record(self, table: str, record_id: str, code: str, noun: str) -> dict:
        found = self.db[table].get(record_id)
        if found is None:
            raise Refused(code, f"{noun} {record_id} does not exist.")
        return found

    def _relation_rec(self, relation_id: str) -> dict:
        return self._record("relations", relation_id, "RelationNotFound", "Relation")

    def _relationship_rec(self, link_id: str) -> dict:
        return self._record("relationships", link_id, "RelationshipNotFound", "Relationship")

    def _activity_rec(self, activity_id: str) -> dict:
        return self._record("activities", activity_id, "ActivityNotFound", "Activity")

    def _workflow(self, workflow_id: str) -> dict:
        found = next((w for w in self.db["workflows"] if w["Id"] == workflow_id), None)
        if found is None:
            raise Refused("WorkflowNotFound", f"Workflow {workflow_id} does not exist.")
        return found

    @staticmethod
    def _step(flow: dict, step_id: str) -> dict:
        found = next((s for s in flow["steps"] if s["Id"] == step_id), None)
        if found is None:
            raise Refused("WorkflowStepNotFound", f"Step {step_id} is not a step of workflow '{flow['Name']}'.")
        return found

    def _user(self, user_id: str) -> dict:
        found = next((u for u in self.db["users"] if u["Id"] == user_id), None)
        if found is None:
            raise Refused("UserNotFound", f"User {user_id} does not exist or is not active.")
        return found

    def _api_user(self) -> dict:
        return self._user(self.db["credentials"]["user_id"])

    def _field_by_name(self, scope: str, name: str) -> dict | None:
        return next((f for f in self._fields(scope) if f["Name"] == name), None)

    def _field_id(self, flow: dict, name: str) -> str | None:
        """The Id of a field of the workflow's activities by Name; None when this database lacks it."""
        field = self._field_by_name(flow["EntityTypeId"], name)
        return field["Id"] if field else None

    def _labelled(self, values: dict[str, str]) -> dict[str, str]:
        fields = {f["Id"]: f for f in self.db["fields"]}
        return {f"{fields[k]['CategoryName']} / {fields[k]['Label']}": v for k, v in values.items() if v}

    def _check_values(self, scope: str, values: list[dict] | None, *, creating: bool = False) -> dict[str, str]:
        """Field values checked against the scope's fields; refused before anything changes."""
        known = {f["Id"]: f for f in self._fields(scope)}
        checked: dict[str, str] = {}
        for item in values or []:
            field = known.get(item["Id"])
            if field is None:
                raise Refused("FieldNotFound", f"Field {item['Id']} does not exist for this entity type.",
                              information=f"FieldId={item['Id']}")
            text = item.get("Value") or ""
            problem = self._value_problem(field, text)
            if problem:
                raise Refused("FieldValueInvalid", f"Field '{field['Label']}': {problem}.",
                              information=f"FieldId={field['Id']}")
            checked[field["Id"]] = text
        if creating:
            for field in known.values():
                if field["IsRequired"] and not checked.get(field["Id"], "").strip():
                    raise Refused("RequiredFieldMissing", f"Field '{field['Label']}' is required.",
                                  information=f"FieldId={field['Id']}")
        return checked

    def _value_problem(self, field: dict, text: str) -> str:
        if not text:
            return ""
        if field["Length"] and len(text) > field["Length"]:
            return f"the value is longer than {field['Length']} characters"
        if field["ComboboxValues"] == "Enumeration" and text not in field["ExtraInfo"].split(";"):
            return f"'{text}' is not one of {field['ExtraInfo'].replace(';', ', ')}"
        if field["Type"] == "Guid":
            pool = {"Countries": self.db["countries"], "Users": self.db["users"]}[field["ComboboxValues"]]
            if text.lower() not in {row["Id"] for row in pool}:
                return f"{text} is not a known {field['ComboboxValues'][:-1].lower()}"
        if field["Type"] == "DateTime":
            try:
                date.fromisoformat(text[:10])
            except ValueError:
                return f"'{text}' is not a date (yyyy-mm-dd)"
        if field["Type"] == "Boolean" and text not in ("True", "False"):
            return f"'{text}' is not True or False"
        if field["Type"] == "Decimal" and not _is_number(text):
            return f"'{text}' is not a number (use a point for decimals: 1234.56)"
        return ""

    @staticmethod
    def _matches(values: dict[str, str], wanted: dict[str, str]) -> bool:
        # Like the service, search is a contains-match, not an exact one.
        return all(v.casefold() in values.get(k, "").casefold() for k, v in wanted.items())

    # ------------------------------------------------------------------ shaping answers

    def _field_values(self, values: dict[str, str]) -> dict:
        return {"Items": [{"Id": k, "Value": v} for k, v in values.items()]}

    def _relation_out(self, rec: dict, include_fields: bool) -> dict:
        return {**rec, "FieldValues": self._field_values(rec["values"]) if include_fields else None}

    def _manager_of(self, link: dict) -> str:
        field = self._field_by_name("Relationship", "CON_accountmanager")
        return link["values"].get(field["Id"]) or NIL

    def _relationship_out(self, link: dict, include_fields: bool) -> dict:
        child = self.db["relations"][link["ChildRelationId"]]
        kind = self._entity(child["EntityTypeId"])["BaseRelationType"]
        audit_user = self._api_user()["Id"]
        return {**link, "Description": "", "DisplayName": child["DisplayName"], "SortingName": child["SortingName"],
                "DisplayCity": "", "IsContact": link["ParentRelationId"] != sim_database.ROOT_ID,
                "IsOrganisation": kind == "Organisation", "PreferredAddress": "Visiting", "AddresStyle": "Formal",
                "TittleId": NIL, "AccountManagerId": self._manager_of(link), "IsInactive": False, "OptOut": False,
                "AuditData": {"CreatedAt": link["created"], "CreatedByUser": audit_user,
                              "ModifiedAt": link["modified"], "ModifiedByUser": audit_user},
                "FieldValues": self._field_values(link["values"]) if include_fields else None}

    def _activity_out(self, act: dict, include_fields: bool) -> dict:
        child = act["ChildRelationshipId"]
        audit_user = self._api_user()["Id"]
        return {**act, "Info": "", "ViewSortingDate": act["created"],
                "Settings": {k: act[k] for k in ("WorkflowId", "WorkflowStepId", "ParentRelationshipId",
                                                 "ChildRelationshipId")},
                "ParentRelationship": self._relationship_out(self.db["relationships"][act["ParentRelationshipId"]],
                                                             False),
                "ChildRelationship": None if child == NIL else self._relationship_out(
                    self.db["relationships"][child], False),
                "FieldValues": self._field_values(act["values"]) if include_fields else None,
                "AuditData": {"CreatedAt": act["created"], "CreatedByUser": audit_user,
                              "ModifiedAt": act["modified"], "ModifiedByUser": audit_user},
                "ActivityAuditData": {"ClosedAt": None, "ClosedByUser": NIL}}

    def _attachment_out(self, rec: dict, include_file: bool) -> dict:
        return {**rec, "Base64EncodedFile": rec["Base64EncodedFile"] if include_file else None}

    def _names(self, rec: dict) -> None:
        kind = self._entity(rec["EntityTypeId"])["BaseRelationType"]
        by_name = {f["Name"]: rec["values"].get(f["Id"], "") for f in self._fields(kind)}
        if kind == "Organisation":
            rec["DisplayName"] = rec["SortingName"] = by_name.get("ORG_name", "")
        else:
            first, middle, last = by_name["PER_firstname"], by_name["PER_middlename"], by_name["PER_name"]
            rec["DisplayName"] = " ".join(p for p in (first, middle, last) if p)
            rec["SortingName"] = f"{last}, {' '.join(p for p in (first, middle) if p)}".strip(", ")

    def _customer_link(self, relation_id: str) -> dict | None:
        links = [r for r in self.db["relationships"].values() if r["ChildRelationId"] == relation_id]
        root = [r for r in links if r["ParentRelationId"] == sim_database.ROOT_ID]
        return (root or links or [None])[0]

    def _touch_activity(self, act: dict) -> None:
        act["modified"] = self._stamp()
        self.dirty = True

    def _recompute_total(self, act: dict) -> None:
        """Keep the invoice total as PerfectView does: VAT per rate total, rounded half-up to
        cents, on amounts excluding or including VAT as the invoice's checkbox says. A total
        typed over by hand stands until the lines or the checkbox change."""
        flow = self._workflow(act["WorkflowId"])
        total_field = self._field_id(flow, sim_database.TOTAL_FIELD)
        if total_field is None:
            return  # an older database: no total field
        includes_vat = act["values"].get(self._field_id(flow, sim_database.INCLUDES_VAT_FIELD) or "") == "True"
        rates = {v["Id"]: Decimal(v["Percentage"]) for v in self.db["vats"]}
        per_rate: dict[Decimal, Decimal] = defaultdict(Decimal)
        for line in self.db["lines"].get(act["Id"], []):
            per_rate[rates.get(line["VatId"], Decimal(0))] += Decimal(line["TotalAmount"])  # no VAT code: none
        total = sum((vat_for(base, rate, includes_vat=includes_vat)[2] for rate, base in per_rate.items()),
                    Decimal("0.00"))
        act["values"][total_field] = str(total)

    # ------------------------------------------------------------------ metadata operations

    def op_ApiGetVersion(self, args):
        return {"Version": VERSION}

    def op_ApiGetCalls(self, args):
        return {"UsedCallsToday": self.calls_today()}

    def op_EntityTypeGetAll(self, args):
        return {"EntityTypes": self.db["entity_types"]}

    def op_RelationGetFields(self, args):
        base = args["baseRelationType"]
        if base not in ("Organisation", "Person"):
            raise Refused("EntityTypeNotFound", f"Base relation type '{base}' has no fields; use Organisation "
                                                "or Person.")
        return {"Fields": self._fields(base)}

    def op_EntityTypeGetFields(self, args):
        return {"Fields": self._fields(self._scope(args["entityTypeId"]))}

    def op_UsersGetActive(self, args):
        return {"Users": self.db["users"]}

    def op_WorkflowGetAll(self, args):
        return {"Workflows": self.db["workflows"]}

    def op_WorkflowStepGetAll(self, args):
        return {"WorkflowSteps": self._workflow(args["workflowId"])["steps"]}

    def op_ActivityGetFields(self, args):
        return {"Fields": self._fields(self._workflow(args["workflowId"])["EntityTypeId"])}

    def op_ProductGetVatCodes(self, args):
        return {"Vats": self.db["vats"]}

    def op_DatastoreGetCountries(self, args):
        return {"Countries": self.db["countries"]}

    def op_ProductGetAll(self, args):
        return {"Products": self.db["products"]}

    # ------------------------------------------------------------------ relations

    def _relations_out(self, rows: list[dict], args: dict) -> dict:
        return {"Relations": [self._relation_out(r, bool(args.get("includeFields"))) for r in self._page(args, rows)]}

    def op_RelationGetAll(self, args):
        return self._relations_out(list(self.db["relations"].values()), args)

    def op_RelationGetModified(self, args):
        start, end = self._period(args)
        rows = [r for r in self.db["relations"].values() if start <= _parse(r["modified"]) < end]
        return self._relations_out(rows, args)

    def op_RelationGet(self, args):
        rec = self._relation_rec(args["relationId"])
        return {"Relation": self._relation_out(rec, bool(args["includeFields"]))}

    def op_RelationSearchByField(self, args):
        relation_type = self._relation_type(args["relationEntityTypeId"])
        wanted = self._check_values(relation_type["BaseRelationType"], args["fieldValues"])
        rows = [r for r in self.db["relations"].values()
                if r["EntityTypeId"] == relation_type["Id"] and self._matches(r["values"], wanted)]
        return {**self._relations_out(rows, args), "ErrorInformation": None}

    def op_RelationCreate(self, args):
        parent = self._relation_rec(args["parentRelationId"])
        relation_type = self._relation_type(args["relationEntityTypeId"])
        values = self._check_values(relation_type["BaseRelationType"], args["relationFieldValues"], creating=True)
        link_type = self._entity(args["relationshipEntityTypeId"])
        if link_type["BaseEntityType"] != "Relationship":
            raise Refused("EntityTypeNotFound", f"Entity type {link_type['Id']} is not a relationship type.")
        link_values = self._check_values("Relationship", args["relationshipFieldValues"])
        now = self._stamp()
        rec = sim_database.relation_record(self._new_id(), relation_type["Id"], now, values)
        self._names(rec)
        link = sim_database.relationship_record(self._new_id(), link_type["Id"], parent["Id"], rec["Id"], now,
                                                values=link_values)
        self.db["relations"][rec["Id"]] = rec
        self.db["relationships"][link["Id"]] = link
        self.dirty = True
        self.events.append(f"RelationCreate {rec['DisplayName']}")
        return {"Relationship": self._relationship_out(link, True), "Relation": self._relation_out(rec, True),
                "ErrorInformation": None}

    def op_RelationUpdate(self, args):
        rec = self._relation_rec(args["relationId"])
        kind = self._entity(rec["EntityTypeId"])["BaseRelationType"]
        values = self._check_values(kind, args["fieldValues"])
        merged = {**rec["values"], **values}
        missing = [f for f in self._fields(kind) if f["IsRequired"] and not merged.get(f["Id"], "").strip()]
        if missing:
            raise Refused("RequiredFieldMissing", f"Field '{missing[0]['Label']}' is required.")
        rec["values"] = merged
        rec["modified"] = self._stamp()
        self._names(rec)
        self.dirty = True
        return {"ErrorInformation": None}

    def op_RelationGetParentRelationships(self, args):
        rec = self._relation_rec(args["relationId"])
        links = [r for r in self.db["relationships"].values() if r["ChildRelationId"] == rec["Id"]]
        return {"Relationships": [self._relationship_out(r, bool(args["includeFields"])) for r in links]}

    def op_RelationGetChildRelationships(self, args):
        rec = self._relation_rec(args["relationId"])
        links = [r for r in self.db["relationships"].values() if r["ParentRelationId"] == rec["Id"]]
        return {"Relationships": [self._relationship_out(r, bool(args["includeFields"])) for r in links]}

    def op_RelationshipGet(self, args):
        link = self._relationship_rec(args["relationshipId"])
        return {"Relationship": self._relationship_out(link, bool(args["includeFields"]))}

    def op_RelationshipUpdate(self, args):
        link = self._relationship_rec(args["relationshipId"])
        link["values"] = {**link["values"], **self._check_values("Relationship", args["fieldValues"])}
        link["modified"] = self._stamp()
        self.dirty = True
        return {"ErrorInformation": None}

    def op_RelationAddNote(self, args):
        rec = self._relation_rec(args["relationId"])
        self._add_note(rec["Id"], args["text"])
        return {}

    # ------------------------------------------------------------------ activities

    def _activity_type(self, type_id: str) -> dict:
        found = self._entity(type_id)
        if found["BaseEntityType"] != "Activity":
            raise Refused("EntityTypeNotFound", f"Entity type {type_id} is not an activity type.")
        return found

    def _activities_out(self, rows: list[dict], args: dict) -> dict:
        page = self._page(args, rows)
        return {"Activities": [self._activity_out(a, bool(args["includeFields"])) for a in page]}

    def _of_type(self, type_id: str) -> list[dict]:
        flows = {w["Id"] for w in self.db["workflows"] if w["EntityTypeId"] == type_id}
        return [a for a in self.db["activities"].values() if a["WorkflowId"] in flows]

    def op_ActivitySearchByField(self, args):
        activity_type = self._activity_type(args["activityEntityTypeId"])
        wanted = self._check_values(activity_type["Id"], args["fieldValues"])
        rows = [a for a in self._of_type(activity_type["Id"]) if self._matches(a["values"], wanted)]
        return {**self._activities_out(rows, args), "ErrorInformation": None}

    def op_ActivitySearchByFieldInPeriod(self, args):
        activity_type = self._activity_type(args["activityEntityTypeId"])
        wanted = self._check_values(activity_type["Id"], args["fieldValues"])
        date_field = next((f for f in self._fields(activity_type["Id"])
                           if f["Id"] == args["dateFieldId"] and f["Type"] == "DateTime"), None)
        if date_field is None:
            raise Refused("FieldNotFound", f"Field {args['dateFieldId']} is not a date field of this activity type.")
        start, end = self._period(args)

        def in_period(act: dict) -> bool:
            text = act["values"].get(date_field["Id"], "")
            if not text:
                return False
            moment = datetime.combine(date.fromisoformat(text[:10]), datetime.min.time(), AMSTERDAM)
            return start <= moment < end

        rows = [a for a in self._of_type(activity_type["Id"]) if self._matches(a["values"], wanted) and in_period(a)]
        return {**self._activities_out(rows, args), "ErrorInformation": None}

    def op_RelationGetActivitiesModified_V2(self, args):
        start, end = self._period(args)
        relation_id = args["relationId"]
        if relation_id != NIL:
            self._relation_rec(relation_id)
        flows = {self._workflow(w)["Id"] for w in args["workflowIds"] or []}
        rows = [a for a in self.db["activities"].values()
                if start <= _parse(a["modified"]) < end and (not flows or a["WorkflowId"] in flows)
                and (relation_id == NIL
                     or self.db["relationships"][a["ParentRelationshipId"]]["ChildRelationId"] == relation_id)]
        return self._activities_out(rows, args)

    def op_ActivityGet(self, args):
        return {"Activity": self._activity_out(self._activity_rec(args["activityId"]), bool(args["includeFields"]))}

    def op_ActivityCreate(self, args):
        settings = args["settings"] or {}
        flow = self._workflow(settings.get("WorkflowId"))
        step = self._step(flow, settings.get("WorkflowStepId"))
        parent = self._relationship_rec(settings.get("ParentRelationshipId"))
        child = settings.get("ChildRelationshipId") or NIL
        if child != NIL:
            self._relationship_rec(child)
        values = self._check_values(flow["EntityTypeId"], args["fieldValues"], creating=True)
        if (args["connectToActivityId"] or NIL) != NIL:
            self._activity_rec(args["connectToActivityId"])
        now = self._stamp()
        act = {"Id": self._new_id(), "Number": str(self.db["next_number"]), "WorkflowId": flow["Id"],
               "WorkflowStepId": step["Id"], "ParentRelationshipId": parent["Id"], "ChildRelationshipId": child,
               "values": values, "created": now, "modified": now}
        if self._field_id(flow, sim_database.TOTAL_FIELD) not in values:
            self._recompute_total(act)
        self.db["next_number"] += 1
        self.db["activities"][act["Id"]] = act
        self.dirty = True
        self.events.append(f"ActivityCreate {flow['Name']} {act['Number']}")
        return {"Activity": self._activity_out(act, True), "ErrorInformation": None}

    def op_ActivityUpdate(self, args):
        act = self._activity_rec(args["activityId"])
        flow = self._workflow(act["WorkflowId"])
        values = self._check_values(flow["EntityTypeId"], args["fieldValues"])
        act["values"] = {**act["values"], **values}
        # The checkbox changes what the lines mean; a total written along with it is a person's own.
        if self._field_id(flow, sim_database.INCLUDES_VAT_FIELD) in values and \
                self._field_id(flow, sim_database.TOTAL_FIELD) not in values:
            self._recompute_total(act)
        self._touch_activity(act)
        return {"ErrorInformation": None, "Info": None}

    def op_ActivityFlow(self, args):
        act = self._activity_rec(args["activityId"])
        flow = self._workflow(act["WorkflowId"])
        current = self._step(flow, act["WorkflowStepId"])
        wanted = args["transitionId"]
        # A transition is [from, to] (transitionId: the step moved to) or [from, to, Id]
        # (transitionId: the transition's own Id), as the database is set up.
        by_own_id = any(len(t) == 3 for t in flow["transitions"])
        if by_own_id:
            found = next((t for t in flow["transitions"] if t[2] == wanted), None)
            target = self._step(flow, found[1]) if found else None
        else:
            target = next((s for s in flow["steps"] if s["Id"] == wanted), None)
        if target is None:
            raise Refused("WorkflowStepNotFound", f"Transition {wanted} does not exist in workflow "
                                                  f"'{flow['Name']}'.")
        if [current["Id"], target["Id"]] not in [t[:2] for t in flow["transitions"]]:
            allowed = [self._step(flow, t[1])["Name"] for t in flow["transitions"] if t[0] == current["Id"]]
            raise Refused("TransitionNotAllowed", f"Workflow '{flow['Name']}' has no transition from "
                                                  f"'{current['Name']}' to '{target['Name']}'. From "
                                                  f"'{current['Name']}' it allows: {', '.join(allowed) or 'none'}.")
        if (args["userId"] or NIL) != NIL:
            self._user(args["userId"])
        act["WorkflowStepId"] = target["Id"]
        self._touch_activity(act)
        self.events.append(f"ActivityFlow {act['Number']} {current['Name']} -> {target['Name']}")
        return {}

    def op_ActivityGetProductLines(self, args):
        act = self._activity_rec(args["activityId"])
        return {"ProductLines": self.db["lines"].get(act["Id"], [])}

    def op_ActivityAddProductLine(self, args):
        act = self._activity_rec(args["activityId"])
        vat_id = args["vatId"]
        if vat_id not in {v["Id"] for v in self.db["vats"]}:
            raise Refused("VatNotFound", f"VAT code {vat_id} does not exist.")
        product_id = args["productId"] or NIL
        if product_id != NIL and product_id not in {p["Id"] for p in self.db["products"]}:
            raise Refused("ProductNotFound", f"Product {product_id} does not exist.")
        quantity, amount = args["quantity"], args["amount"]
        line = {"Id": self._new_id(), "Quantity": str(quantity), "Amount": str(amount),
                "TotalAmount": str(round_cents(quantity * amount)), "PurchaseAmount": str(args["purchaseAmount"]),
                "VatId": vat_id, "ProductId": product_id, "Description": args["description"] or ""}
        self.db["lines"].setdefault(act["Id"], []).append(line)
        self._recompute_total(act)
        self._touch_activity(act)
        return {"ProductLineData": line}

    # ------------------------------------------------------------------ notes and attachments

    def _add_note(self, parent_id: str, text: str | None) -> None:
        if not (text or "").strip():
            raise Refused("TextRequired", "A note needs a text.")
        note = {"Id": self._new_id(), "ParentId": parent_id, "CreatedByUserRelationId": self._api_user()["RelationId"],
                "CreatedAt": self._stamp(), "Text": text, "TypeId": NIL}
        self.db["notes"].setdefault(parent_id, []).append(note)
        self.dirty = True

    def op_ActivityAddNote(self, args):
        act = self._activity_rec(args["activityId"])
        self._add_note(act["Id"], args["text"])
        self._touch_activity(act)
        return {}

    def op_ActivityGetNotes(self, args):
        act = self._activity_rec(args["activityId"])
        return {"Notes": self.db["notes"].get(act["Id"], [])}

    def op_ActivityGetAttachments(self, args):
        act = self._activity_rec(args["activityId"])
        return {"Attachments": [self._attachment_out(a, bool(args["includeFile"]))
                                for a in self.db["attachments"].values() if a["ActivityId"] == act["Id"]]}

    def op_ActivityAddAttachment(self, args):
        act = self._activity_rec(args["activityId"])
        name = (args["fileName"] or "").strip()
        try:
            base64.b64decode(args["base64EncodedFile"] or "", validate=True)
        except (binascii.Error, ValueError):
            raise Refused("AttachmentInvalid", "base64EncodedFile is not valid base64.") from None
        if not name:
            raise Refused("AttachmentInvalid", "An attachment needs a file name.")
        now = self._stamp()
        rec = {"Id": self._new_id(), "ActivityId": act["Id"], "CreationDate": now, "ModificationDate": now,
               "FileName": name, "Description": "", "Version": "1", "Extension": Path(name).suffix.lstrip("."),
               "ExternalDmsType": 0, "ExternalDmsId": "", "Base64EncodedFile": args["base64EncodedFile"]}
        self.db["attachments"][rec["Id"]] = rec
        self._touch_activity(act)
        return {"Attachment": self._attachment_out(rec, False)}

    def op_AttachmentGet(self, args):
        rec = self._record("attachments", args["attachmentId"], "AttachmentNotFound", "Attachment")
        return {"Attachment": self._attachment_out(rec, True)}

    # ------------------------------------------------------------------ demo data

    def _seed_demo(self) -> None:
        """Fill the database the way a real one is filled: through the API."""
        from core.perfectview.client import PerfectViewClient
        from core.perfectview.demo import DEMO_INVOICES, DEMO_RELATIONS, populate
        from core.secrets import Secret
        from core.soap.caller import NO_RETRY
        from core.soap.loopback import InProcessTransport
        from core.soap.transport import make_http_client

        knobs, state_file = self.knobs, self.state_file
        self.knobs, self.state_file = Knobs(), None  # no faults, latency or file writes while seeding
        try:
            creds = self.db["credentials"]
            with make_http_client(transport=InProcessTransport(app=self)) as http:
                client = PerfectViewClient(f"http://127.0.0.1{self.path}", Secret(creds["api_key"]),
                                           Secret(creds["database_id"]), Secret(creds["user_id"]),
                                           http=http, retry=NO_RETRY)
                populate(client, self.rng, relations=DEMO_RELATIONS, invoices=DEMO_INVOICES)
        finally:
            self.knobs, self.state_file = knobs, state_file
        self.calls.clear()
        self.events.clear()
        self.db["calls_per_day"] = {}


def serve(port: int, seed: Literal["demo", "empty"] = "demo", latency_ms: float = 0.0, faults: str = "",
          state: str | None = None, *, random_seed: int | None = None, variant: str = "standard") -> None:
    """Run the simulator on 127.0.0.1:`port` until SIGINT/SIGTERM, after printing one JSON
    line with its URL and the (fake) credentials it accepts."""
    from core.soap.loopback import LoopbackServer

    knobs = Knobs(latency_ms=latency_ms, faults=Knobs.parse_faults(faults), seed=random_seed)
    simulator = PerfectViewSimulator(knobs, state_file=state, seed_data=seed, variant=variant)
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    with LoopbackServer(simulator, port=port) as server:
        print(json.dumps({"service": "perfectview", "url": server.url(simulator.path),
                          **asdict(simulator.credentials)}), flush=True)
        while not stop.wait(0.5):
            pass
    with simulator.lock:
        simulator.save_state()
