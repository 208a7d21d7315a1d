"""The simulator's side of the wire: XML <-> plain Python values, driven by the WSDL's own schema.

The simulator answers in exactly the element order and types the WSDL declares because it
reads them from that file; there is no second description of the messages to drift out of
step with the one the client (zeep) uses. Values: guid -> lower-case str, int, bool,
Decimal, aware datetime, str; complex types -> dict; ArrayOf... -> list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

from core.model import AMSTERDAM
from core.soap.xml_text import NOT_IN_XML, NOT_IN_XML_CHARS

XS = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
MS_TYPES = "http://microsoft.com/wsdl/types/"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


DEFAULTS = {"int": 0, "boolean": False, "decimal": 0, "guid": "00000000-0000-0000-0000-000000000000"}


class Unreadable(ValueError):
    """A request value does not fit its declared type (ASMX answers with a soap:Client fault)."""


@dataclass(frozen=True)
class Member:
    name: str
    type: str  # local name: int, boolean, decimal, dateTime, string, guid, or a type of ours
    min_occurs: int
    unbounded: bool
    nillable: bool


class Schema:
    """Element sequences of every complex type and operation element in one WSDL."""

    SIMPLE = {"int", "boolean", "decimal", "dateTime", "string", "guid", "anyType"}

    def __init__(self, wsdl_file: Path):
        root = etree.parse(str(wsdl_file)).getroot()
        self.namespace = ""
        self.types: dict[str, list[Member]] = {}
        self.enums: set[str] = set()
        for schema in root.iter(f"{{{XS}}}schema"):
            if schema.get("targetNamespace") == MS_TYPES:
                continue
            self.namespace = schema.get("targetNamespace")
            for node in schema:
                name = node.get("name")
                if node.tag == f"{{{XS}}}complexType":
                    self.types[name] = self._members(node)
                elif node.tag == f"{{{XS}}}element":
                    self.types[name] = self._members(node.find(f"{{{XS}}}complexType"))
                elif node.tag == f"{{{XS}}}simpleType":
                    self.enums.add(name)

    @staticmethod
    def _members(complex_type) -> list[Member]:
        return [Member(el.get("name"), el.get("type").split(":")[-1], int(el.get("minOccurs", "1")),
                       el.get("maxOccurs") == "unbounded", el.get("nillable") == "true")
                for el in complex_type.iter(f"{{{XS}}}element")]

    # ------------------------------------------------------------------ decode (requests)

    def decode(self, element, type_name: str) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for member in self.types[type_name]:
            children = element.findall(f"{{{self.namespace}}}{member.name}")
            if member.unbounded:
                values[member.name] = [self._value(child, member.type) for child in children]
            else:
                values[member.name] = self._value(children[0], member.type) if children else None
        return values

    def _value(self, element, type_name: str) -> Any:
        if element.get(f"{{{XSI}}}nil") == "true":
            return None
        if type_name in self.types:
            decoded = self.decode(element, type_name)
            members = self.types[type_name]
            if type_name.startswith("ArrayOf") and len(members) == 1:
                return decoded[members[0].name]
            return decoded
        return parse_simple(element.text or "", type_name)

    # ------------------------------------------------------------------ encode (answers)

    def encode(self, name: str, type_name: str, value: Any):
        # Written as text and parsed once: built one SubElement at a time, a page of 100
        # relations (5,500 elements) cost the simulator more than the 20 ms a call stands for.
        out: list[str] = [f'<{name} xmlns="{self.namespace}">']
        self._write(out, type_name, value)
        out.append(f"</{name}>")
        return etree.fromstring("".join(out).encode("utf-8"), _answer_parser())

    def _write(self, out: list[str], type_name: str, value: Any) -> None:
        members = self.types[type_name]
        if type_name.startswith("ArrayOf") and len(members) == 1:
            value = {members[0].name: value}
        for member in members:
            item = value.get(member.name)
            for one in ((item or []) if member.unbounded else (item,)):
                if one is None and member.nillable:
                    out.append(f'<{member.name} xmlns:xsi="{XSI}" xsi:nil="true"/>')
                    continue
                if one is None and member.min_occurs:
                    # .NET writes a value type's default when nothing was set (a refusal's empty result).
                    if member.type not in DEFAULTS:
                        raise ValueError(f"{type_name}.{member.name} is required")
                    one = DEFAULTS[member.type]
                if one is None:
                    continue
                if member.type in self.types:
                    out.append(f"<{member.name}>")
                    self._write(out, member.type, one)
                    out.append(f"</{member.name}>")
                else:
                    text = one if member.type == "string" and type(one) is str else format_simple(one, member.type)
                    out.append(f"<{member.name}>{_escape(text)}</{member.name}>")


def _answer_parser() -> etree.XMLParser:
    """One per answer (lxml parsers are not to be shared between threads); big answers (a page
    of relations is about 190 KB) parse whole, no entities, no network."""
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


_SPECIAL = re.compile(f"[&<>\r{NOT_IN_XML_CHARS}]")


def _escape(text: str) -> str:
    """Text as element content, as lxml writes it (a carriage return kept as one); what XML
    cannot carry is refused as lxml refuses it."""
    if not _SPECIAL.search(text):
        return text
    if NOT_IN_XML.search(text):
        raise ValueError("All strings must be XML compatible: Unicode or ASCII, no NULL bytes or control characters")
    return escape(text, {"\r": "&#13;"})


def parse_simple(text: str, type_name: str) -> Any:
    text = text.strip() if type_name != "string" else text
    try:
        if type_name == "int":
            return int(text)
        if type_name == "boolean":
            if text not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text in ("true", "1")
        if type_name == "decimal":
            return Decimal(text)
        if type_name == "dateTime":
            moment = datetime.fromisoformat(text)
            # .NET reads a moment without an offset as the server's local time.
            return moment if moment.tzinfo else moment.replace(tzinfo=AMSTERDAM)
        if type_name == "guid":
            if not GUID.match(text):
                raise ValueError(text)
            return text.lower()
    except (ValueError, InvalidOperation):
        raise Unreadable(f"'{text[:40]}' is not a valid {type_name} value") from None
    return text


def format_simple(value: Any, type_name: str) -> str:
    if type_name == "boolean":
        return "true" if value else "false"
    if type_name == "dateTime":
        return value.isoformat() if isinstance(value, datetime) else str(value)
    if type_name == "decimal":
        return f"{Decimal(value):f}"
    return str(value)
