"""One administration behind both simulators: what one API writes, the other reads; and the
`pvsync simulate eboekhouden` entry point serving both over a real socket."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from core.eboekhouden.simulated_service import EboekhoudenService
from core.eboekhouden.soap.simulator import EboekhoudenSimulator, SimCredentials
from core.model import EbRelation
from core.soap.loopback import InProcessTransport, LoopbackServer

from ..conftest import client_for
from ..test_client import sales_invoice
from .conftest import Api

REPO = Path(__file__).parents[3]


@pytest.fixture
def service(contract) -> EboekhoudenService:
    return EboekhoudenService()


def soap_client(service: EboekhoudenService, **kw):
    return client_for(service.soap, transport=InProcessTransport(app=service), **kw)


def rest_api(service: EboekhoudenService) -> Api:
    api = Api(service.rest)
    api.http = httpx.Client(transport=InProcessTransport(app=service), base_url="http://127.0.0.1")
    api.login()
    return api


def test_booked_over_rest_is_read_over_soap(service):
    api = rest_api(service)
    body = {"type": 2, "date": "2026-11-03", "ledgerId": api.ledger_id("1300"), "relationId": api.relation_id("D10004"),
            "invoiceNumber": "R-2026-0001", "inExVat": "IN", "description": "Factuur over REST",
            "rows": [{"ledgerId": api.ledger_id("8000"), "vatCode": "HOOG_VERK_21", "amount": 121}]}
    assert api.post("/v1/mutation", body).status_code == 201
    with soap_client(service) as client:
        [booking] = client.bookings(invoice_number="R-2026-0001", purpose="other")
        open_items = {item.invoice_number: item for item in client.open_items()}
    assert (booking.relation_code, booking.ledger, booking.in_ex_vat) == ("D10004", "1300", "IN")
    assert booking.total_incl_vat() == Decimal("121") and booking.total_vat() == Decimal("21.00")
    assert booking.lines[0].ledger == "8000" and "R-2026-0001" in open_items


def test_booked_over_soap_is_read_over_rest(service):
    with soap_client(service) as client:
        client.add_relation(EbRelation(code="S1", bedrijf="Via SOAP B.V.", email="info@viasoap.nl"))
        number = client.add_booking(sales_invoice("S-2026-0001", relation="S1", excl="100.00"))
    api = rest_api(service)
    [relation] = api.get("/v1/relation", code="S1").json()["items"]
    assert api.get(f"/v1/relation/{relation['id']}").json()["emailAddress"] == "info@viasoap.nl"
    [listed] = api.get("/v1/mutation", invoiceNumber="S-2026-0001", type=2).json()["items"]
    detail = api.get(f"/v1/mutation/{listed['id']}").json()
    assert listed["id"] == number and detail["relationId"] == relation["id"]
    assert detail["inExVat"] == "EX" and detail["rows"][0]["amount"] == 100.0
    assert detail["rows"][0]["ledgerId"] == api.ledger_id("8000")
    [item] = api.get("/v1/mutation/invoice/outstanding", credDeb="D", invoiceNumber="S-2026-0001").json()["items"]
    assert item["outstandingAmount"] == 121.0 and item["relationCode"] == "S1"


def test_a_relation_made_over_rest_blocks_the_same_code_over_soap(service):
    api = rest_api(service)
    assert api.post("/v1/relation", {"code": "X1", "name": "Eerst REST"}).status_code == 201
    with soap_client(service) as client, pytest.raises(Exception, match="SIM_REL_CODE_EXISTS"):
        client.add_relation(EbRelation(code="X1", bedrijf="Daarna SOAP"))


def test_a_run_over_a_real_socket_with_a_lost_answer(tmp_path, contract):
    service = EboekhoudenService(state_file=tmp_path / "eb.json", seed_data="empty")
    with LoopbackServer(service) as server:
        http = httpx.Client(base_url=server.url(""), timeout=5)
        token = http.post("/v1/session", json={"accessToken": service.credentials.api_token, "source": "pvsync"}
                          ).json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"
        relation_id = http.post("/v1/relation", json={"code": "L1", "name": "Loopback B.V."}).json()["id"]
        ledgers = {g["code"]: g["id"] for g in http.get("/v1/ledger", params={"limit": 2000}).json()["items"]}
        service.knobs.faults = {"lost": 1.0}
        with pytest.raises(httpx.RemoteProtocolError):
            http.post("/v1/mutation", json={
                "type": 2, "date": date.today().isoformat(), "ledgerId": ledgers["1300"], "relationId": relation_id,
                "invoiceNumber": "L-1", "inExVat": "EX",
                "rows": [{"ledgerId": ledgers["8000"], "vatCode": "HOOG_VERK_21", "amount": 10}]})
        service.knobs.faults = {}
        found = http.get("/v1/mutation", params={"invoiceNumber": "L-1", "type": 2}).json()
        assert found["count"] == 1  # booked, though the answer was lost
    restarted = EboekhoudenService(state_file=tmp_path / "eb.json")
    assert [b.invoice_number for b in restarted.admin.bookings_for_invoice("L-1")] == ["L-1"]


@pytest.mark.loopback
def test_simulate_prints_both_addresses_and_the_rest_credentials():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    pvsync = Path(sys.executable).with_name("pvsync")
    process = subprocess.Popen([str(pvsync), "simulate", "eboekhouden", "--port", "0", "--seed", "empty",
                                "--api", "rest"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=REPO, env=env)
    try:
        line = json.loads(process.stdout.readline())
        assert line["url"] == line["rest_url"] and line["soap_url"].endswith("/soap.asmx")
        session = httpx.post(line["rest_url"] + "v1/session", timeout=5,
                             json={"accessToken": line["api_token"], "source": line["source"]})
        assert session.status_code == 200
        credentials = SimCredentials(line["username"], line["security_code_1"], line["security_code_2"])
        with client_for(EboekhoudenSimulator(seed_data="empty"), url=line["soap_url"],
                        transport=httpx.HTTPTransport(), credentials=credentials) as client:
            assert {g.code for g in client.ledgers()} >= {"1300", "8000"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def test_rest_only_relation_fields_survive_a_restart_and_a_soap_update(tmp_path, contract):
    service = EboekhoudenService(state_file=tmp_path / "eb.json", seed_data="empty")
    api = rest_api(service)
    relation_id = api.post("/v1/relation", {"code": "E1", "name": "Extra B.V.", "emailAddressInvoice": "f@e.nl",
                                            "termOfPayment": 21}).json()["id"]
    with soap_client(service) as client:
        [relation] = [r for r in client.relations() if r.code == "E1"]
        client.update_relation(relation.with_changes(plaats="Zwolle"))
    again = rest_api(EboekhoudenService(state_file=tmp_path / "eb.json"))
    read = again.get(f"/v1/relation/{relation_id}").json()
    assert (read["city"], read["emailAddressInvoice"], read["termOfPayment"]) == ("Zwolle", "f@e.nl", 21)


def test_the_simulated_world_serves_rest_on_the_same_administration(tmp_path, contract):
    from core.demo.world import SimulatedWorld

    with SimulatedWorld(tmp_path) as world:
        http = world.http_for(world.eboekhouden)
        assert world.eboekhouden_rest_url == "http://127.0.0.1/"
        credentials = world.eboekhouden_service.credentials
        token = http.post(world.eboekhouden_rest_url + "v1/session",
                          json={"accessToken": credentials.api_token, "source": "pvsync"}).json()["token"]
        listed = http.get(world.eboekhouden_rest_url + "v1/relation", params={"limit": 2000},
                          headers={"Authorization": token}).json()
        assert {r["code"] for r in listed["items"]} == set(world.eboekhouden.relation_codes())
