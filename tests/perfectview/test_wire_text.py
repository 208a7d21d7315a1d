"""The PerfectView simulator writes its answers as text (core.perfectview.wire): whatever a
field holds must come back exactly as it was stored, and what XML cannot carry is refused
as lxml refuses it, never sent half-escaped."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from core.perfectview.simulator import PerfectViewSimulator
from core.soap.simulator import Knobs

# Text as XML 1.0 can carry it: XML specials, a carriage return, tabs, accents, emoji, spaces at the ends.
XML_TEXT = st.text(alphabet=st.sampled_from(list("ab Zé&<>\"'\r\n\t]]>🙂-.,/;")), max_size=30)
GUID = "0f756132-e16d-4e72-b18e-859835e1f291"


@pytest.fixture(scope="module")
def schema():
    return PerfectViewSimulator(Knobs(seed=3), seed_data="empty").schema


def written_and_read(schema, value: dict) -> dict:
    element = schema.encode("Answer", "PvFieldValueData", value)
    reparsed = etree.fromstring(etree.tostring(element))  # what goes over the wire, read again
    return schema.decode(reparsed, "PvFieldValueData")


@settings(max_examples=60, deadline=None)
@given(text=XML_TEXT)
def test_any_text_comes_back_as_it_was_stored(schema, text):
    assert written_and_read(schema, {"Id": GUID, "Value": text}) == {"Id": GUID, "Value": text}


def test_a_missing_value_is_left_out_and_a_missing_guid_is_the_nil_guid(schema):
    element = schema.encode("Answer", "PvFieldValueData", {"Id": None, "Value": None})
    assert [child.tag.split("}")[1] for child in element] == ["Id"]
    assert element[0].text == "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize("text", ["bell \x07", "nul \x00", "form feed \x0c", "\ufffe"])
def test_what_xml_cannot_carry_is_refused(schema, text):
    with pytest.raises(ValueError, match="XML compatible"):
        schema.encode("Answer", "PvFieldValueData", {"Id": GUID, "Value": text})


def test_a_page_reads_as_the_declared_elements_in_order(schema):
    rows = [{"Id": GUID, "EntityTypeId": GUID, "Info": "", "SortingName": "Kok, Ruben", "DisplayName": "Ruben Kok",
             "IsRoot": False, "IsDummy": False, "ImportKey": "", "IsInactive": True,
             "FieldValues": {"Items": [{"Id": GUID, "Value": "Oude Rijn & Zn"}]}, "CounterValues": None}]
    result = {"Result": {"Succeeded": True, "Number": 0, "Code": "", "Description": ""}, "Relations": rows + [None]}
    member = schema.types["RelationGetAllResponse"][0]
    element = schema.encode("RelationGetAllResponse", "RelationGetAllResponse", {member.name: result})
    relation, nil = element[0][1]
    declared = [m.name for m in schema.types["PvRelationData"]]
    assert [etree.QName(child).localname for child in relation] == declared[:-1], "CounterValues (optional) left out"
    assert relation.find("{*}IsInactive").text == "true"
    assert relation.find("{*}FieldValues/{*}Items/{*}PvFieldValueData/{*}Value").text == "Oude Rijn & Zn"
    assert nil.get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true" and len(nil) == 0
