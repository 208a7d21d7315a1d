"""pvsync's PerfectView WSDL against the service's published signatures: every operation
pvsync calls exists, with the parameters, order, types and result fields the service has."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import zeep
from lxml import etree

from core.perfectview.client import NAMESPACE, WSDL

REFERENCE = Path(__file__).parents[2].parent / "shared" / "reference" / "perfectview"
XS = "{http://www.w3.org/2001/XMLSchema}"
WSDL_NS = "{http://schemas.xmlsoap.org/wsdl/}"
# XSD type names as the reference lists write them.
SIMPLE = {"s:int": "int", "s:boolean": "bool", "s:decimal": "decimal", "s:dateTime": "dateTime",
          "s:string": "string", "s1:guid": "guid"}
USED = """ApiGetVersion ApiGetCalls EntityTypeGetAll RelationGetFields EntityTypeGetFields UsersGetActive WorkflowGetAll
WorkflowStepGetAll ActivityGetFields ProductGetVatCodes DatastoreGetCountries RelationGetAll RelationGetModified
RelationGet RelationSearchByField RelationCreate RelationUpdate RelationGetParentRelationships
RelationGetChildRelationships RelationshipGet RelationshipUpdate ActivitySearchByField ActivitySearchByFieldInPeriod
RelationGetActivitiesModified_V2 ActivityGet ActivityCreate ActivityUpdate ActivityFlow ActivityGetProductLines
ActivityAddProductLine ActivityAddNote RelationAddNote ActivityGetNotes ActivityGetAttachments ActivityAddAttachment
AttachmentGet""".split()


def _pairs(text: str) -> list[tuple[str, str]]:
    return [tuple(p.strip().split(":")) for p in text.split(",") if p.strip()]


@pytest.fixture(scope="module")
def reference():
    if not REFERENCE.is_dir():
        print(f"reference folder {REFERENCE} is absent; the WSDL check needs it")
        pytest.skip(f"PerfectView reference files not found at {REFERENCE}")
    operations = {}
    for line in (REFERENCE / "operations.tsv").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, params, result, fields = (line.split("\t") + [""])[:4]
        operations[name] = {"params": _pairs(params), "result": tuple(result.split(":")), "fields": _pairs(fields)}
    types = {}
    for line in (REFERENCE / "data_types.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _, members = line.partition(":")
        types[name.strip()] = _pairs(members)
    return operations, types


@pytest.fixture(scope="module")
def wsdl():
    root = etree.parse(str(WSDL)).getroot()
    schema = next(s for s in root.iter(f"{XS}schema") if s.get("targetNamespace") == NAMESPACE)

    def members(node):
        return [(el.get("name"), SIMPLE.get(el.get("type"), el.get("type").split(":")[-1]))
                for el in node.iterdescendants(f"{XS}element")]

    elements = {el.get("name"): members(el) for el in schema.findall(f"{XS}element")}
    types = {ct.get("name"): members(ct) for ct in schema.findall(f"{XS}complexType")}
    ops = [op.get("name") for op in root.find(f"{WSDL_NS}portType").findall(f"{WSDL_NS}operation")]
    return root, elements, types, ops


def test_the_wsdl_has_exactly_the_operations_pvsync_uses(wsdl):
    _, _, _, ops = wsdl
    # ProductGetAll on top of the list: the demo and tests put product lines on invoices.
    assert sorted(ops) == sorted(USED + ["ProductGetAll"])


def test_every_operation_matches_the_published_signature(wsdl, reference):
    _, elements, types, ops = wsdl
    operations, _ = reference
    for op in ops:
        assert op in operations, f"{op} is not a PerfectView operation"
        expected = operations[op]
        assert elements[op] == [(n, t) for n, t in expected["params"]], f"{op}: parameters, order or types differ"
        result_element, result_type = expected["result"]
        assert elements[f"{op}Response"] == [(result_element, result_type)], f"{op}: result element differs"
        assert types[result_type] == [("Result", "PvApiResultDataOfObject"), *expected["fields"]], \
            f"{op}: result fields differ"


def test_every_data_type_matches_the_published_members(wsdl, reference):
    _, _, types, _ = wsdl
    _, published = reference
    result_types = {t for t in types if t.endswith("Result")}
    for name, members in types.items():
        if name in result_types:
            continue
        assert name in published, f"{name} is not a published type"
        assert members == published[name], f"{name}: members, order or types differ"


def test_bindings_soap11_and_soap12_with_asmx_soapactions(wsdl):
    root, _, _, ops = wsdl
    client = zeep.Client(str(WSDL))
    for binding_name in ("PerfectViewSoap", "PerfectViewSoap12"):
        binding = client.wsdl.bindings[f"{{{NAMESPACE}}}{binding_name}"]
        for op in ops:
            assert binding.get(op).soapaction == f"https://Api.perfectview.nl/{op}"
    addresses = [el.get("location") for el in root.iter() if el.tag.endswith("address")]
    assert addresses == ["https://api.perfectview.nl/V1/perfectview.asmx"] * 2


def test_every_operation_the_client_calls_is_in_the_wsdl(wsdl):
    _, _, _, ops = wsdl
    called = set()
    for module in ("client.py", "catalog.py"):
        tree = ast.parse((WSDL.parent / module).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("_read", "_write", "_pages") and node.args
                    and isinstance(node.args[0], ast.Constant)):
                called.add(node.args[0].value)
    assert called, "found no calls to check"
    assert called <= set(ops), f"called but not in the WSDL: {sorted(called - set(ops))}"
    assert set(ops) <= called, f"in the WSDL but never called: {sorted(set(ops) - called)}"
