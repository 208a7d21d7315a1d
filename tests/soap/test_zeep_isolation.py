"""pvsync's refusal of unreadable values stays inside pvsync's own zeep clients: another zeep
user in the same process (a plugin, a library) still gets stock zeep."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import zeep
from lxml import etree

from core.soap.transport import make_http_client, make_service

WSDL = Path(__file__).with_name("echo.wsdl")
NS = "http://example.test/echo"
XSD = "http://www.w3.org/2001/XMLSchema"
STORE_ANSWER = f'<StoreResponse xmlns="{NS}"><StoreResult>abc</StoreResult></StoreResponse>'


def pvsync_client() -> zeep.Client:
    http = make_http_client(transport=httpx.MockTransport(lambda request: httpx.Response(500)))
    client, _ = make_service(WSDL, f"{{{NS}}}EchoSoap", "http://127.0.0.1:1/echo.asmx", http)
    return client


def parse_store_answer(client: zeep.Client):
    return client.get_element(f"{{{NS}}}StoreResponse").parse(etree.fromstring(STORE_ANSWER), client.wsdl.types)


def parse_boolean(client: zeep.Client, text: str):
    return client.wsdl.types.get_type(f"{{{XSD}}}boolean").parse_xmlelement(etree.fromstring(f"<b>{text}</b>"))


def test_pvsync_refuses_what_zeep_would_read_as_missing_or_false():
    client = pvsync_client()
    with pytest.raises(ValueError, match="StoreResult is not Int"):
        parse_store_answer(client)
    with pytest.raises(ValueError, match="'ja' is not true, false, 1 or 0"):
        parse_boolean(client, "ja")
    assert parse_boolean(client, " 1 ") is True and parse_boolean(client, "false") is False


def test_a_plain_zeep_client_in_the_same_process_behaves_as_stock_zeep():
    pvsync_client()  # made first: whatever it changes must not reach the next client
    plain = zeep.Client(str(WSDL))
    assert parse_store_answer(plain).StoreResult is None  # stock zeep logs and reads it as missing
    assert parse_boolean(plain, "ja") is False  # stock zeep: anything but true/1 is false
    assert parse_boolean(plain, "true") is True
    pvsync_again = pvsync_client()  # and the plain client did not loosen pvsync's
    with pytest.raises(ValueError):
        parse_boolean(pvsync_again, "yes")
