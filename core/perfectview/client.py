"""The PerfectView CRM Online client: relations and sales invoices in core.model terms.

zeep over the shared httpx transport (core.soap), one client per run. Every call carries
the credentials block, built here from Secrets at the moment the request is made; every
answer's Result.Succeeded=false becomes a PerfectViewError. Names in the configuration
are resolved to this database's GUIDs by the Catalog (metadata cached for the run), and
fields are found by category and label through core/perfectview/fields.py.
"""

from __future__ import annotations

import base64
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, datetime, time, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator, Mapping

import httpx

from core.model import AMSTERDAM, Attachment, CrmRelation, RelationKind, SalesInvoice
from core.secrets import Secret
from core.soap.caller import CallMeter, RetryPolicy, SoapCaller
from core.soap.errors import ResponseInvalid
from core.soap.fast_read import ListReader
from core.soap.transport import Timeouts, check_endpoint, make_http_client, make_service
from core.perfectview import translate
from core.perfectview.catalog import Catalog, PvField, PvWorkflow, items, resolve_fields
from core.perfectview.errors import SERVICE, NotInDatabase, PerfectViewError
from core.perfectview.fields import (CUSTOMER_RELATIONSHIP_TYPE, NIL_GUID, OPTIONAL, ROOT_RELATION_ID,
                                     field_tables, table_for)

WSDL = Path(__file__).with_name("perfectview.asmx.wsdl")
NAMESPACE = "https://Api.perfectview.nl"
PAGED_OPERATIONS = ("RelationGetAll", "RelationGetModified", "RelationSearchByField", "ActivitySearchByField",
                    "RelationGetActivitiesModified_V2", "ActivitySearchByFieldInPeriod")
ENDPOINT = "https://api.perfectview.nl/V1/perfectview.asmx"
DEFAULT_WORKFLOW = "Verkoopfactuur"
SOURCE_APPLICATION = {"Name": "pvsync", "Category": "Boekhouding", "Version": "0.1"}


def _field_list(values: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    return {"PvFieldValueData": values}


class PerfectViewClient(Catalog):
    """One PerfectView database, for one run."""

    def __init__(self, url: str, api_key: Secret, database_id: Secret, user_id: Secret, *,
                 http: httpx.Client | None = None, timeouts: Timeouts = Timeouts(),
                 ca_file: str | Path | None = None, meter: CallMeter | None = None, page_size: int = 100,
                 retry: RetryPolicy = RetryPolicy(), field_names: Mapping[str, object] | None = None,
                 soap12: bool = False, pages_at_once: int = 1,
                 customer_relationship_type: str = CUSTOMER_RELATIONSHIP_TYPE):
        super().__init__()
        for secret in (api_key, database_id, user_id):
            if not isinstance(secret, Secret):
                raise TypeError("PerfectView credentials must be core.secrets.Secret values")
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self._api_key, self._database_id, self._user_id = api_key, database_id, user_id
        self.tables = field_tables(field_names)
        # The relationship type linking the own organisation to a customer (carries the relatiebeheerder).
        self.customer_relationship_type = customer_relationship_type
        self.page_size = page_size
        self.pages_at_once = max(1, pages_at_once)
        self._owns_http = http is None
        self._http = http or make_http_client(timeouts=timeouts, ca_file=ca_file)
        binding = f"{{{NAMESPACE}}}PerfectViewSoap12" if soap12 else f"{{{NAMESPACE}}}PerfectViewSoap"
        zeep_client, proxy = make_service(WSDL, binding, check_endpoint(url), self._http)
        self._caller = SoapCaller(SERVICE, proxy, meter=meter, retry=retry, transport=zeep_client.transport)
        # Pages of relations and activities are the bulk of a run's reading: read them
        # without zeep's type walk (core.soap.fast_read), one reader per operation.
        self._page_readers = {operation: ListReader(zeep_client, f"{{{NAMESPACE}}}{operation}Response")
                              for operation in PAGED_OPERATIONS}

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> PerfectViewClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PerfectViewClient(page_size={self.page_size})"

    # ------------------------------------------------------------------ calling

    def _credentials(self) -> dict[str, Any]:
        return {"ApiKey": self._api_key.reveal(), "DatabaseId": self._database_id.reveal(),
                "UserId": self._user_id.reveal(), "SourceApplication": SOURCE_APPLICATION}

    def _call(self, operation: str, *, write: bool, record: str = "", **arguments: Any) -> Any:
        result = self._caller.call(operation, write=write, record=record, credentials=self._credentials(),
                                   **arguments)
        # zeep unwraps a result whose only member is Result (ActivityFlow, notes) to the Result itself.
        outcome = result if getattr(result, "Succeeded", None) is not None else getattr(result, "Result", None)
        if outcome is None or outcome.Succeeded is None:
            raise ResponseInvalid(SERVICE, operation, "the answer says neither success nor failure (no "
                                  "Result.Succeeded)", record=record)
        if not outcome.Succeeded:
            raise PerfectViewError(operation, outcome.Code or "", outcome.Description or "",
                                   number=outcome.Number or 0, record=record,
                                   error_information=getattr(result, "ErrorInformation", None) or "")
        return result

    def _read(self, operation: str, *, record: str = "", **arguments: Any) -> Any:
        return self._call(operation, write=False, record=record, **arguments)

    def _write(self, operation: str, *, record: str = "", **arguments: Any) -> Any:
        return self._call(operation, write=True, record=record, **arguments)

    def _pages(self, operation: str, list_name: str, item_name: str, **arguments: Any) -> Iterator[Any]:
        """Page 1, 2, ... until a page comes back short: the service gives no totals.

        Once page 1 comes back full, `pages_at_once` pages are asked for at a time, in order:
        a listing of thousands is read in a fraction of the time one page after another takes,
        for at most `pages_at_once - 1` calls past its end. A listing that fits one page (most
        modified-since reads) still costs exactly one call.
        """
        def page(number: int) -> list[Any]:
            result = self._read(operation, pageNumber=number, pageSize=self.page_size,
                                reader=self._page_readers[operation], **arguments)
            return items(getattr(result, list_name, None), item_name)

        batch = page(1)
        yield from batch
        if len(batch) < self.page_size:
            return
        if self.pages_at_once == 1:
            number = 2
            while len(batch := page(number)) == self.page_size:
                yield from batch
                number += 1
            yield from batch
            return
        with ThreadPoolExecutor(max_workers=self.pages_at_once, thread_name_prefix="pvsync-pages") as pool:
            ahead = deque(pool.submit(page, number) for number in range(2, 2 + self.pages_at_once))
            number = 2 + self.pages_at_once
            try:
                while ahead:
                    batch = ahead.popleft().result()
                    yield from batch
                    if len(batch) < self.page_size:
                        return
                    ahead.append(pool.submit(page, number))
                    number += 1
            finally:
                for future in ahead:
                    future.cancel()

    @staticmethod
    def _period(since: datetime, until: datetime | None) -> dict[str, datetime]:
        if since.tzinfo is None or (until is not None and until.tzinfo is None):
            raise ValueError("modified-since moments must carry a timezone")
        return {"from": since, "to": until or datetime.now(timezone.utc)}

    # ------------------------------------------------------------------ field maps

    def relation_field_map(self, kind: RelationKind) -> dict[str, PvField]:
        table = table_for(kind)
        return self._cached(("map", table), lambda: resolve_fields(
            self.tables[table], self.relation_fields(kind), f"{kind.value} fields", OPTIONAL.get(table, frozenset())))

    def relationship_field_map(self) -> dict[str, PvField]:
        type_id = self.relationship_type_id(self.customer_relationship_type)
        return self._cached(("map", "relationship"), lambda: resolve_fields(
            self.tables["relationship"], self.entity_type_fields(type_id),
            f"{self.customer_relationship_type} relationship fields"))

    def invoice_field_map(self, workflow: str = DEFAULT_WORKFLOW) -> dict[str, PvField]:
        return self._cached(("map", "invoice", workflow.casefold()), lambda: resolve_fields(
            self.tables["invoice"], self.activity_fields(workflow), f"fields of workflow {workflow!r}",
            OPTIONAL["invoice"]))

    def invoice_total_unchecked(self, workflow: str = DEFAULT_WORKFLOW) -> str:
        """Why invoices of `workflow` carry no PerfectView total to check the bookings
        against, in words; empty when they do."""
        if "total" in self.invoice_field_map(workflow):
            return ""
        return (f"workflow {workflow!r} has no field {self.tables['invoice']['total']} (an older PerfectView "
                "database); the check is on again once the workflow has that field")

    # ------------------------------------------------------------------ relations

    def own_country(self) -> str:
        """ISO code of the country of the own organisation's (root relation's) visiting address.
        Only that field is looked up, so the country is known (and `pvsync check` compares it)
        while another organisation field is still missing."""
        def load() -> str:
            attribute = "visiting_address.country"
            field = resolve_fields({attribute: self.tables["organisation"][attribute]},
                                   self.relation_fields(RelationKind.ORGANISATION), "organisation fields")[attribute]
            result = self._read("RelationGet", record=ROOT_RELATION_ID, relationId=ROOT_RELATION_ID,
                                includeFields=True, includeCounters=False)
            value = translate.field_values(result.Relation).get(field.id, "").strip()
            return self.country_code(value) if value else ""
        return self._cached(("own_country",), load)

    def relations(self, modified_since: datetime | None = None, *, until: datetime | None = None,
                  with_account_manager: bool = False) -> Iterator[CrmRelation]:
        """Every organisation and person (not the own organisation), or those modified in
        [modified_since, until). The account manager costs a call per relation, so it is
        only read when asked for."""
        common = {"includeFields": True, "includeCounters": False}
        if modified_since is None:
            source = self._pages("RelationGetAll", "Relations", "PvRelationData", **common)
        else:
            source = self._pages("RelationGetModified", "Relations", "PvRelationData",
                                 **self._period(modified_since, until), **common)
        for data in source:
            if data.IsRoot or data.IsDummy:
                continue
            relation = self._relation_from(data, with_account_manager)
            if relation is not None:
                yield relation

    def relation(self, relation_id: str, *, with_account_manager: bool = True) -> CrmRelation | None:
        result = self._read("RelationGet", record=relation_id, relationId=relation_id,
                            includeFields=True, includeCounters=False)
        return self._relation_from(result.Relation, with_account_manager)

    def relations_by_debtor_number(self, number: str) -> list[CrmRelation]:
        """Relations whose Debiteurnummer is exactly `number` (the service's search is a
        contains-match, so its answers are filtered here)."""
        found: dict[str, CrmRelation] = {}
        for relation_type in self.relation_types():
            field = self.relation_field_map(relation_type.relation_kind)["debtor_number"]
            for data in self._pages("RelationSearchByField", "Relations", "PvRelationData",
                                    relationEntityTypeId=relation_type.id,
                                    fieldValues=_field_list([{"Id": field.id, "Value": number}]),
                                    includeFields=True, includeCounters=False):
                relation = self._relation_from(data, with_account_manager=False)
                if relation is not None and relation.debtor_number == number.strip():
                    found[relation.id] = relation
        return list(found.values())

    def create_relation(self, rel: CrmRelation, relation_type: str, account_manager: str | None) -> str:
        """Create an organisation or person under the own organisation; returns its Id.
        `account_manager` is a user's display name (or Id), the relatiebeheerder."""
        type_id = self.relation_type_id(relation_type, rel.kind)
        values = translate.relation_values(rel, self.relation_field_map(rel.kind), self.country_id,
                                           skip_empty=True)
        link_values = []
        if account_manager:
            field = self.relationship_field_map()["account_manager"]
            link_values.append({"Id": field.id, "Value": self._user(account_manager)})
        result = self._write("RelationCreate", record=_describe(rel), parentRelationId=ROOT_RELATION_ID,
                             relationEntityTypeId=type_id, relationFieldValues=_field_list(values),
                             relationshipEntityTypeId=self.relationship_type_id(self.customer_relationship_type),
                             relationshipFieldValues=_field_list(link_values))
        return str(result.Relation.Id).lower()

    def update_relation(self, relation_id: str, rel: CrmRelation) -> None:
        """Write every mapped field of `rel` (an empty value clears the field)."""
        values = translate.relation_values(rel, self.relation_field_map(rel.kind), self.country_id,
                                           skip_empty=False)
        self._write("RelationUpdate", record=_describe(rel), relationId=relation_id,
                    fieldValues=_field_list(values))

    def set_account_manager(self, relation_id: str, account_manager: str) -> None:
        """Make a user (display name or Id) the relation's relatiebeheerder."""
        link = self._customer_relationship(relation_id)
        if link is None:
            raise LookupError(f"relation {relation_id} has no link to the own organisation to carry a relatiebeheerder")
        field = self.relationship_field_map()["account_manager"]
        self._write("RelationshipUpdate", record=relation_id, relationshipId=str(link.Id),
                    fieldValues=_field_list([{"Id": field.id, "Value": self._user(account_manager)}]))

    def contact_ids(self, relation_id: str) -> list[str]:
        """The persons linked to an organisation as its contacts."""
        result = self._read("RelationGetChildRelationships", record=relation_id, relationId=relation_id,
                            includeFields=False)
        return [str(link.ChildRelationId).lower() for link in items(result.Relationships, "PvRelationshipData")]

    def add_relation_note(self, relation_id: str, text: str) -> None:
        self._write("RelationAddNote", record=relation_id, relationId=relation_id, text=text)

    def _user(self, name_or_id: str) -> str:
        if any(u.id == name_or_id.lower() for u in self.users()):
            return name_or_id.lower()
        return self.user_id(name_or_id)

    def _relation_from(self, data: Any, with_account_manager: bool) -> CrmRelation | None:
        entity_type = self.entity_type(str(data.EntityTypeId))
        if entity_type is None or entity_type.relation_kind is None:
            return None
        kind = entity_type.relation_kind
        manager = ""
        if with_account_manager:
            link = self._customer_relationship(str(data.Id))
            manager = str(link.AccountManagerId or "").lower() if link is not None else ""
            manager = "" if manager in translate.NIL_GUIDS else manager
        return translate.relation_from(data, kind, entity_type.name, self.relation_field_map(kind),
                                       self.country_code, manager)

    def _customer_relationship(self, relation_id: str) -> Any | None:
        """The relation's link to the own organisation (else its first parent link)."""
        result = self._read("RelationGetParentRelationships", record=relation_id, relationId=relation_id,
                            includeFields=False)
        links = items(result.Relationships, "PvRelationshipData")
        root = [link for link in links if str(link.ParentRelationId).lower() == ROOT_RELATION_ID]
        return (root or links or [None])[0]

    # ------------------------------------------------------------------ sales invoices

    def sales_invoices(self, workflow: str = DEFAULT_WORKFLOW, modified_since: datetime | None = None, *,
                       until: datetime | None = None, details: bool = True) -> Iterator[SalesInvoice]:
        """Every activity of the invoice workflow, or those modified in [modified_since, until),
        with product lines, attachment metadata, step name and booked marker.

        `details=False` leaves the lines and attachments out (two calls per invoice): read
        them with `invoice_details` for the invoices that need them."""
        flow = self.workflow(workflow)
        common = {"includeFields": True, "includeCounters": False}
        if modified_since is None:
            source = self._pages("ActivitySearchByField", "Activities", "PvActivityData",
                                 activityEntityTypeId=flow.entity_type_id, fieldValues=_field_list([]), **common)
        else:
            source = self._pages("RelationGetActivitiesModified_V2", "Activities", "PvActivityData",
                                 relationId=NIL_GUID, **self._period(modified_since, until), **common,
                                 workflowIds={"guid": [flow.id]})
        yield from self._invoices(source, flow, details)

    def sales_invoices_dated(self, start: date, end: date, workflow: str = DEFAULT_WORKFLOW) -> Iterator[SalesInvoice]:
        """Invoices whose Factuurdatum lies in [start, end): a reconciliation pass by period
        that does not depend on modification times."""
        flow = self.workflow(workflow)
        period = {"from": datetime.combine(start, time(), AMSTERDAM), "to": datetime.combine(end, time(), AMSTERDAM)}
        source = self._pages("ActivitySearchByFieldInPeriod", "Activities", "PvActivityData",
                             activityEntityTypeId=flow.entity_type_id, fieldValues=_field_list([]),
                             dateFieldId=self.invoice_field_map(workflow)["invoice_date"].id, **period,
                             includeFields=True, includeCounters=False)
        yield from self._invoices(source, flow)

    def _invoices(self, source: Iterator[Any], flow: PvWorkflow, details: bool = True) -> Iterator[SalesInvoice]:
        for data in source:
            if str(data.Settings.WorkflowId).lower() == flow.id:
                yield self._invoice_from(data, flow.name, details)

    def invoice(self, activity_id: str) -> SalesInvoice:
        result = self._read("ActivityGet", record=activity_id, activityId=activity_id,
                            includeFields=True, includeCounters=False)
        workflow_id = str(result.Activity.Settings.WorkflowId).lower()
        flow = next((w for w in self.workflows() if w.id == workflow_id), None)
        if flow is None:
            raise NotInDatabase("workflow", workflow_id, [w.name for w in self.workflows()])
        return self._invoice_from(result.Activity, flow.name)

    def set_booked_marker(self, activity_id: str, text: str, workflow: str = DEFAULT_WORKFLOW) -> None:
        self.update_invoice(activity_id, {"booked_marker": text}, workflow)

    def update_invoice(self, activity_id: str, values: Mapping[str, str], workflow: str = DEFAULT_WORKFLOW) -> None:
        """Write invoice fields by attribute ("booked_marker", "total", ...), as a person would."""
        fields = self.invoice_field_map(workflow)
        self._write("ActivityUpdate", record=activity_id, activityId=activity_id,
                    fieldValues=_field_list([{"Id": fields[a].id, "Value": v} for a, v in values.items()]))

    def move_to_step(self, activity_id: str, step_name: str, workflow: str = DEFAULT_WORKFLOW, *,
                     transition_id: str = "") -> None:
        """ActivityFlow to `step_name`; the service refuses a transition the workflow lacks.

        PerfectView's transitionId is taken to be the Id of the step moved to [inferred]; a
        database that wants the transition's own Id gets it as `transition_id`
        (`invoices.paid_transition`). The flow is done as the API user (userId nil) and
        leaves the queue as it is."""
        self._write("ActivityFlow", record=activity_id, activityId=activity_id,
                    transitionId=transition_id or self.step_id(workflow, step_name), userId=NIL_GUID,
                    queueId=NIL_GUID)

    def add_activity_note(self, activity_id: str, text: str) -> None:
        self._write("ActivityAddNote", record=activity_id, activityId=activity_id, text=text)

    def activity_notes(self, activity_id: str) -> list[str]:
        """The texts of an activity's notes, oldest first (to check whether a logbook line landed)."""
        result = self._read("ActivityGetNotes", record=activity_id, activityId=activity_id)
        return [note.Text or "" for note in items(result.Notes, "PvNoteData")]

    def attachment(self, attachment_id: str) -> Attachment:
        result = self._read("AttachmentGet", record=attachment_id, attachmentId=attachment_id)
        data = result.Attachment
        return translate.attachment_from(data, base64.b64decode(data.Base64EncodedFile or ""))

    def _invoice_from(self, data: Any, workflow: str, details: bool = True) -> SalesInvoice:
        activity_id = str(data.Id).lower()
        parent = data.ParentRelationship
        if parent is None:
            parent = self._read("RelationshipGet", record=activity_id, includeFields=False,
                                relationshipId=data.Settings.ParentRelationshipId).Relationship
        invoice = translate.invoice_from(
            data, self.invoice_field_map(workflow), relation_id=str(parent.ChildRelationId).lower(),
            step=self.step_name(workflow, str(data.Settings.WorkflowStepId)), lines=[], attachments=[])
        return self.invoice_details(invoice) if details else invoice

    def invoice_details(self, invoice: SalesInvoice) -> SalesInvoice:
        """The invoice with its product lines and attachment metadata read (two calls)."""
        activity_id = invoice.activity_id
        lines = self._read("ActivityGetProductLines", record=activity_id, activityId=activity_id)
        files = self._read("ActivityGetAttachments", record=activity_id, activityId=activity_id,
                           includeFile=False)
        return replace(invoice, lines=tuple(translate.line_from(line, self.vat_code)
                                            for line in items(lines.ProductLines, "PvProductLineData")),
                       attachments=tuple(translate.attachment_from(a)
                                         for a in items(files.Attachments, "PvAttachmentData")))

    # ------------------------------------------------------------------ filling a database (demo, tests)

    def create_invoice(self, relation_id: str, invoice_number: str, invoice_date: date,
                       due_date: date | None = None, *, workflow: str = DEFAULT_WORKFLOW, step: str = "Concept",
                       amounts_include_vat: bool = False) -> str:
        """A sales invoice activity for a relation, in `step`; returns the activity Id."""
        link = self._customer_relationship(relation_id)
        if link is None:
            raise LookupError(f"relation {relation_id} has no link to the own organisation to invoice")
        fields = self.invoice_field_map(workflow)
        values = {"invoice_number": invoice_number, "invoice_date": invoice_date.isoformat(),
                  "due_date": due_date.isoformat() if due_date else "",
                  "amounts_include_vat": "True" if amounts_include_vat else "False"}
        result = self._write(
            "ActivityCreate", record=invoice_number,
            settings={"WorkflowId": self.workflow_id(workflow), "WorkflowStepId": self.step_id(workflow, step),
                      "ParentRelationshipId": str(link.Id), "ChildRelationshipId": NIL_GUID},
            fieldValues=_field_list([{"Id": fields[a].id, "Value": v} for a, v in values.items() if v]),
            connectToActivityId=NIL_GUID)
        return str(result.Activity.Id).lower()

    def add_product_line(self, activity_id: str, description: str, quantity: Decimal, amount: Decimal,
                         vat: str, product: str | None = None) -> str:
        """A product line; `vat` is a VAT code's description or Id, `product` a code or name."""
        result = self._write("ActivityAddProductLine", record=activity_id, activityId=activity_id,
                             quantity=Decimal(quantity), amount=Decimal(amount), purchaseAmount=Decimal(0),
                             productId=self.product(product).id if product else NIL_GUID,
                             description=description, vatId=self.vat_code(vat).id)
        return str(result.ProductLineData.Id).lower()

    def add_attachment(self, activity_id: str, file_name: str, content: bytes) -> str:
        result = self._write("ActivityAddAttachment", record=activity_id, activityId=activity_id,
                             fileName=file_name, base64EncodedFile=base64.b64encode(content).decode("ascii"))
        return str(result.Attachment.Id).lower()


def _describe(rel: CrmRelation) -> str:
    name = rel.name or " ".join(p for p in (rel.first_name, rel.middle_name, rel.last_name) if p)
    return f"{name} ({rel.debtor_number})" if rel.debtor_number else name or rel.id
