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

from lxml import etree

from core.model import AMSTERDAM

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
        element = etree.Element(f"{{{self.namespace}}}{name}", nsmap={None: self.namespace})
        self._fill(element, type_name, value)
        return element

    def _fill(self, element, type_name: str, value: Any) -> None:
        if type_name not in self.types:
            element.text = format_simple(value, type_name)
            return
        members = self.types[type_name]
        if type_name.startswith("ArrayOf") and len(members) == 1:
            value = {members[0].name: value}
        for member in members:
            item = value.get(member.name)
            items = (item or []) if member.unbounded else [item]
            for one in items:
                if one is None and member.nillable:
                    child = etree.SubElement(element, f"{{{self.namespace}}}{member.name}")
                    child.set(f"{{{XSI}}}nil", "true")
                    continue
                if one is None and member.min_occurs:
                    # .NET writes a value type's default when nothing was set (a refusal's empty result).
                    if member.type not in DEFAULTS:
                        raise ValueError(f"{type_name}.{member.name} is required")
                    one = DEFAULTS[member.type]
                if one is None:
                    continue
                child = etree.SubElement(element, f"{{{self.namespace}}}{member.name}")
                self._fill(child, member.type, one)


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
