"""The simulator refuses what e-Boekhouden refuses. Requests here are raw SOAP or go around
the client's own checks, so each rule is shown biting at the service's side."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import httpx
import pytest
from lxml import etree

from core.eboekhouden.soap import translate
from core.eboekhouden.errors import EboekhoudenError
from core.eboekhouden.soap.simulator import EboekhoudenSimulator
from core.model import EbRelation
from core.soap.errors import SoapFault
from core.soap.loopback import InProcessTransport
from core.soap.simulator import SOAP11_NS, SOAP12_NS

from .conftest import client_for
from .test_client import payment, sales_invoice

NS = "http://www.e-boekhouden.nl/soap"


def post(sim, operation: str, inner: str, *, soap12: bool = False) -> httpx.Response:
    env_ns = SOAP12_NS if soap12 else SOAP11_NS
    body = (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{env_ns}"><soap:Body>'
            f'<{operation} xmlns="{NS}">{inner}</{operation}></soap:Body></soap:Envelope>').encode()
    headers = ({"Content-Type": "application/soap+xml; charset=utf-8"} if soap12 else
               {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{NS}/{operation}"'})
    with httpx.Client(transport=InProcessTransport(app=sim)) as http:
        return http.post("http://sim/soap.asmx", content=body, headers=headers)


def open_session(sim) -> str:
    c = sim.credentials
    reply = post(sim, "OpenSession", f"<Username>{c.username}</Username><SecurityCode1>{c.security_code_1}"
                                     f"</SecurityCode1><SecurityCode2>{c.security_code_2}</SecurityCode2>"
                                     "<Source>test</Source>")
    return etree.fromstring(reply.content).findtext(f".//{{{NS}}}SessionID")


def auth(sim, session_id: str) -> str:
    return f"<SessionID>{session_id}</SessionID><SecurityCode2>{sim.credentials.security_code_2}</SecurityCode2>"


def error_code(reply: httpx.Response) -> str:
    assert reply.status_code == 200
    return etree.fromstring(reply.content).findtext(f".//{{{NS}}}LastErrorCode")


def unchecked(client, operation: str, **arguments):
    """Send through the session but around the client's limit checks."""
    return client._call(operation, write=True, **arguments)


# --------------------------------------------------------------------------- unreadable requests: HTTP 500


@pytest.mark.parametrize("soap12", [False, True])
def test_invalid_enumeration_value_is_a_client_fault(sim, soap12):
    sid = open_session(sim)
    reply = post(sim, "GetOpenPosten", auth(sim, sid) + "<OpSoort>Debiteur</OpSoort>", soap12=soap12)
    assert reply.status_code == 500
    assert b"Server was unable to read request" in reply.content and b"enOpenpostenSoort" in reply.content
    assert (b"soap:Client" if not soap12 else b"soap:Sender") in reply.content


@pytest.mark.parametrize("field, value", [("Soort", "Factuur"), ("Datum", "14-03-2025"), ("MutatieNr", "een")])
def test_unparsable_mutation_header_is_a_client_fault_and_nothing_is_booked(sim, field, value):
    sid = open_session(sim)
    header = {"MutatieNr": "0", "Soort": "FactuurVerstuurd", "Datum": "2025-03-14"} | {field: value}
    mutation = "".join(f"<{k}>{v}</{k}>" for k, v in header.items()) + "<Rekening>1300</Rekening>"
    before = len(sim.mutations)
    reply = post(sim, "AddMutatie", auth(sim, sid) + f"<oMut>{mutation}</oMut>")
    assert reply.status_code == 500 and b"unable to read request" in reply.content
    assert len(sim.mutations) == before


def test_unparsable_amount_is_a_client_fault(sim):
    with client_for(sim) as client:
        oMut = translate.booking_to_soap(sales_invoice("2025-8001"))
        oMut["MutatieRegels"]["cMutatieRegel"][0]["BedragExclBTW"] = "1.234,56"
        with pytest.raises(SoapFault) as err:
            unchecked(client, "AddMutatie", oMut=oMut)
    assert err.value.maybe_processed is False and "Input string" in str(err.value)


def test_broken_xml_is_a_client_fault(sim):
    reply = post(sim, "GetRelaties", "<SessionID>x</SessionID><cFilter><ID>0</ID>")
    assert reply.status_code == 500 and b"error in the XML document" in reply.content


# --------------------------------------------------------------------------- sessions: in-band errors


def test_unknown_session_wrong_security_code_and_expiry_are_in_band():
    now = [0.0]
    sim = EboekhoudenSimulator(session_ttl_seconds=30, clock=lambda: now[0])
    filter_xml = "<cFilter><ID>0</ID></cFilter>"
    assert error_code(post(sim, "GetRelaties", auth(sim, "{NOT-A-SESSION}") + filter_xml)) == "SIM_SESSION_UNKNOWN"
    sid = open_session(sim)
    assert error_code(post(sim, "GetRelaties", auth(sim, sid) + filter_xml)) == ""
    wrong = f"<SessionID>{sid}</SessionID><SecurityCode2>00000000-0000-0000-0000-000000000000</SecurityCode2>"
    assert error_code(post(sim, "GetRelaties", wrong + filter_xml)) == "SIM_SECURITYCODE2"
    now[0] += 31
    assert error_code(post(sim, "GetRelaties", auth(sim, sid) + filter_xml)) == "SIM_SESSION_EXPIRED"
    assert error_code(post(sim, "GetRelaties", auth(sim, sid) + filter_xml)) == "SIM_SESSION_UNKNOWN"


def test_a_closed_session_is_gone(sim):
    sid = open_session(sim)
    post(sim, "CloseSession", f"<SessionID>{sid}</SessionID>")
    assert error_code(post(sim, "GetAdministraties", auth(sim, sid))) == "SIM_SESSION_UNKNOWN"


def test_wrong_login_is_in_band(sim):
    reply = post(sim, "OpenSession", "<Username>demo</Username><SecurityCode1>x</SecurityCode1>"
                                     "<SecurityCode2>y</SecurityCode2><Source>pvsync</Source>")
    assert error_code(reply) == "SIM_LOGIN_FAILED"
    assert etree.fromstring(reply.content).find(f".//{{{NS}}}SessionID") is None


# --------------------------------------------------------------------------- relations


@pytest.mark.parametrize("changes, code", [
    ({"code": "D10001"}, "SIM_REL_CODE_EXISTS"), ({"code": "D" * 16}, "SIM_FIELD_TOO_LONG"),
    ({"code": ""}, "SIM_REL_CODE_REQUIRED"), ({"bedrijf": ""}, "SIM_REL_BEDRIJF_REQUIRED"),
    ({"bedrijf": "b" * 101}, "SIM_FIELD_TOO_LONG"), ({"email": "e" * 151}, "SIM_FIELD_TOO_LONG"),
    ({"bp": "X"}, "SIM_REL_BP"), ({"geslacht": "x"}, "SIM_REL_GESLACHT"),
])
def test_add_relation_rules(sim, changes, code):
    rel = EbRelation(code="D20001", bedrijf="Nieuw B.V.").with_changes(**changes)
    with client_for(sim) as client:
        with pytest.raises(EboekhoudenError) as err:
            unchecked(client, "AddRelatie", oRel=translate.relation_to_soap(rel, today=date(2025, 1, 1)))
    assert err.value.code == code
    assert len(sim.relations) == 30


def test_update_relation_clears_fields_left_out_and_needs_a_known_id(sim):
    sid = open_session(sim)
    current = sim.relation_by_code("D10001")
    assert current.plaats and current.telefoon
    rel = (f"<oRel><ID>{current.id}</ID><AddDatum>2025-01-01T00:00:00</AddDatum><Code>D10001</Code>"
           f"<Bedrijf>Alleen de naam</Bedrijf><BP>B</BP><Gb_ID>0</Gb_ID><GeenEmail>0</GeenEmail>"
           "<NieuwsbriefgroepenCount>0</NieuwsbriefgroepenCount></oRel>")
    assert error_code(post(sim, "UpdateRelatie", auth(sim, sid) + rel)) == ""
    after = sim.relation_by_code("D10001")
    assert (after.bedrijf, after.plaats, after.telefoon) == ("Alleen de naam", "", "")
    unknown = rel.replace(f"<ID>{current.id}</ID>", "<ID>999999</ID>")
    assert error_code(post(sim, "UpdateRelatie", auth(sim, sid) + unknown)) == "SIM_REL_NOT_FOUND"
    taken = rel.replace("<Code>D10001</Code>", "<Code>D10002</Code>")
    assert error_code(post(sim, "UpdateRelatie", auth(sim, sid) + taken)) == "SIM_REL_CODE_EXISTS"


def test_empty_lists_come_back_without_their_wrapper(sim):
    sid = open_session(sim)
    reply = post(sim, "GetRelaties", auth(sim, sid) + "<cFilter><Code>NOPE</Code><ID>0</ID></cFilter>")
    result = etree.fromstring(reply.content).find(f".//{{{NS}}}GetRelatiesResult")
    assert [etree.QName(c).localname for c in result] == ["ErrorMsg"]
    empty = EboekhoudenSimulator(seed_data="empty")
    sid = open_session(empty)
    reply = post(empty, "GetOpenPosten", auth(empty, sid) + "<OpSoort>Debiteuren</OpSoort>")
    assert etree.fromstring(reply.content).find(f".//{{{NS}}}Openposten") is None


def test_relation_search_by_keyword(client):
    [hit] = client.relations(code="D10003")
    assert all(hit.plaats.lower() in (r.plaats + r.bedrijf + r.code).lower()
               for r in client.relations(keyword=hit.plaats.upper()))
    assert client.relations(keyword="zzz-nowhere") == []


# --------------------------------------------------------------------------- mutations


def mutation_refused(sim, booking, **overrides) -> str:
    oMut = translate.booking_to_soap(booking) | overrides
    with client_for(sim) as client:
        with pytest.raises(EboekhoudenError) as err:
            unchecked(client, "AddMutatie", oMut=oMut)
    return err.value.code


@pytest.mark.parametrize("overrides, code", [
    ({"RelatieCode": "D99999"}, "SIM_MUT_RELATION_UNKNOWN"),
    ({"RelatieCode": None}, "SIM_MUT_RELATION_REQUIRED"),
    ({"Factuurnummer": None}, "SIM_MUT_INVOICE_REQUIRED"),
    ({"Rekening": "1301"}, "SIM_MUT_LEDGER_UNKNOWN"),
    ({"InExBTW": "INCL"}, "SIM_MUT_INEXBTW"),
    ({"Factuurnummer": "F" * 51}, "SIM_FIELD_TOO_LONG"),
    ({"Omschrijving": "o" * 201}, "SIM_FIELD_TOO_LONG"),
    ({"Betalingstermijn": "30d"}, "SIM_MUT_PAYMENT_TERM"),
    ({"Datum": translate.soap_datetime(date(1970, 1, 1))}, "SIM_MUT_DATE"),
    ({"MutatieRegels": {"cMutatieRegel": []}}, "SIM_MUT_NO_LINES"),
])
def test_add_mutation_header_rules(sim, overrides, code):
    assert mutation_refused(sim, sales_invoice("2025-8002"), **overrides) == code
    assert sim.bookings_for_invoice("2025-8002") == []


@pytest.mark.parametrize("line_changes, code", [
    ({"TegenrekeningCode": "8999"}, "SIM_MUT_LEDGER_UNKNOWN"),
    ({"BTWCode": "HOOG_VERK_22"}, "SIM_MUT_BTWCODE"),
    ({"BTWCode": "HOOG_INK_21"}, "SIM_MUT_BTWCODE_SIDE"),
])
def test_add_mutation_line_rules(sim, line_changes, code):
    oMut = translate.booking_to_soap(sales_invoice("2025-8003"))
    oMut["MutatieRegels"]["cMutatieRegel"][0].update(line_changes)
    with client_for(sim) as client:
        with pytest.raises(EboekhoudenError) as err:
            unchecked(client, "AddMutatie", oMut=oMut)
    assert err.value.code == code


def test_a_payment_must_name_an_invoice_of_that_relation(sim):
    with client_for(sim) as client:
        invoice = sales_invoice("2025-8004", relation="D10005")
        client.add_booking(invoice)
        with pytest.raises(EboekhoudenError) as err:
            client.add_booking(payment(sales_invoice("2025-8004", relation="D10006"), "10.00"))
        assert err.value.code == "SIM_MUT_INVOICE_NOT_FOUND"
        assert client.add_booking(payment(invoice, "10.00")) > 0


def test_get_mutaties_returns_only_the_latest_500_matches():
    sim = EboekhoudenSimulator(seed_data="empty")
    sim.store_relation(EbRelation(code="D1", bedrijf="Veel Facturen B.V."))
    for n in range(520):
        sim.store_mutation(sales_invoice(f"2025-{n:04d}", relation="D1"))
    with client_for(sim) as client:
        found = client.bookings(purpose="other")
        assert len(found) == 500 and found[0].invoice_number == "2025-0020"
        assert [b.number for b in client.bookings(date_from=date(2025, 3, 15), purpose="other")] == []
        ranged = client._call("GetMutaties", write=False, cFilter={
            "MutatieNr": 0, "MutatieNrVan": 5, "MutatieNrTm": 7, "DatumVan": translate.soap_datetime(date(1980, 1, 1)),
            "DatumTm": translate.soap_datetime(date(2049, 1, 1))})
    assert [m.MutatieNr for m in ranged.Mutaties.cMutatieList] == [5, 6, 7]


# --------------------------------------------------------------------------- WSDL, state, seed, serve


def test_the_wsdl_is_served_with_the_simulators_own_address(sim):
    with httpx.Client(transport=InProcessTransport(app=sim)) as http:
        wsdl = http.get("http://127.0.0.1:8765/soap.asmx?WSDL").text
    assert wsdl.count('location="http://127.0.0.1:8765/soap.asmx"') == 2
    assert "soap.e-boekhouden.nl" not in wsdl.split("<wsdl:service")[1]


def test_state_file_survives_a_restart(tmp_path):
    state = tmp_path / "eb.json"
    sim = EboekhoudenSimulator(state_file=state)
    with client_for(sim) as client:
        number = client.add_booking(sales_invoice("2025-8005"))
        client.add_booking(payment(sales_invoice("2025-8005"), "50.00"))
    again = EboekhoudenSimulator(state_file=state)
    assert again.booking(number).total_incl_vat() == Decimal("121.00")
    assert again.open_item("2025-8005") == (Decimal("121.00"), Decimal("50.00"), Decimal("71.00"))
    assert again.relation_codes() == sim.relation_codes() and again.mutaties_calls == sim.mutaties_calls


def test_the_demo_is_deterministic_from_the_seed():
    from core.soap.simulator import Knobs

    first, second, other = (EboekhoudenSimulator(Knobs(seed=s)) for s in (7, 7, 8))
    assert first.relations == second.relations and first.mutations == second.mutations
    assert first.relations != other.relations
    assert len(first.relations) == 30 and {r.code[:1] for r in first.relations.values()} == {"D"}


def test_events_tell_what_happened(sim):
    with client_for(sim) as client:
        client.add_relation(EbRelation(code="D20002", bedrijf="Logboek B.V."))
    assert "AddRelatie D20002 -> 1031" in sim.events
    assert json.dumps(sim.events)  # plain strings, safe to log


def test_demo_relations_have_ibans_a_bank_would_accept():
    from stdnum import iban

    from core.eboekhouden.soap.simulator import EboekhoudenSimulator

    sim = EboekhoudenSimulator(seed_data="demo")
    ibans = [sim.relation_by_code(code).iban for code in sim.relation_codes()]
    assert ibans and all(iban.is_valid(value) for value in ibans if value)
