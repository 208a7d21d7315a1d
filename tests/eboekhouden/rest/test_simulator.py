"""The REST simulator refuses what e-Boekhouden's REST API refuses, and every answer it gives is one
the vendor's OpenAPI document allows (checked in the `Api` caller). Requests are raw JSON, so each
rule is shown biting at the service's side; the sources are NOTES.md §2 and the document."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.secrets import Secret

from .conftest import Api, refused


def invoice(api: Api, number: str = "F2026-0001", *, relation: str = "D10001", amount=19.99, **changes):
    """A sales invoice as JSON; the amount is a JSON number on the wire (the simulator reads it as Decimal)."""
    body = {"type": 2, "date": "2026-11-02", "ledgerId": api.ledger_id("1300"), "relationId": api.relation_id(relation),
            "invoiceNumber": number, "inExVat": "IN", "description": f"Factuur {number}",
            "rows": [{"ledgerId": api.ledger_id("8000"), "vatCode": "HOOG_VERK_21", "amount": amount}]}
    body.update(changes)
    return body


# --------------------------------------------------------------------------- sessions


def test_a_session_is_200_with_token_and_expiry(api, sim):
    reply = api.call("POST", "/v1/session", json={"accessToken": sim.api_token, "source": "pvsync"}, auth=False)
    assert reply.status_code == 200
    assert set(reply.json()) == {"token", "expiresIn"} and reply.json()["expiresIn"] == sim.session_ttl_seconds


@pytest.mark.parametrize("body, code", [
    ({"accessToken": "x"}, "API_SESSION_001"),
    ({"accessToken": "x", "source": ""}, "API_SESSION_001"),
    ({"accessToken": "x", "source": "pv-sync"}, "API_SESSION_002"),  # a hyphen is refused live
    ({"accessToken": "x", "source": "pvsync_long1"}, "API_SESSION_002"),  # 11 characters
    ({"source": "pvsync"}, "API_SESSION_003"),
    ({"accessToken": "", "source": "pvsync"}, "API_SESSION_003"),
])
def test_session_requests_are_refused_like_the_service(api, body, code):
    refused(api.call("POST", "/v1/session", json=body, auth=False), 400, code)


def test_an_unknown_token_is_refused_and_a_revoked_one_too(api, sim):
    wrong = Api(sim, Secret("not-the-token"))
    refused(wrong.call("POST", "/v1/session", json={"accessToken": "not-the-token", "source": "pvsync"}, auth=False),
            403, "SECURITY_010")
    sim.revoke_token()
    refused(api.get("/v1/relation"), 401, "SECURITY_010")  # the open session ended with the token
    refused(api.call("POST", "/v1/session", json={"accessToken": sim.api_token, "source": "pvsync"}, auth=False),
            403, "SECURITY_010")


def test_an_expired_token_gives_api_session_004(api, sim):
    sim.expire_token()
    refused(api.call("POST", "/v1/session", json={"accessToken": sim.api_token, "source": "pvsync"}, auth=False),
            400, "API_SESSION_004")


def test_authorization_with_or_without_bearer_and_nothing_else(api):
    assert api.call("GET", "/v1/ledger", header=api.session).status_code == 200
    assert api.call("GET", "/v1/ledger", header=f"Bearer {api.session}").status_code == 200
    refused(api.call("GET", "/v1/ledger", auth=False), 401, "SECURITY_010")
    refused(api.call("GET", "/v1/ledger", header="Bearer wrong"), 401, "SECURITY_010")


def test_a_session_runs_out_after_expires_in():
    from core.eboekhouden.rest.simulator import RestSimulator

    now = [1000.0]
    sim = RestSimulator(session_ttl_seconds=60, clock=lambda: now[0])
    api = Api(sim)
    api.login()
    assert api.get("/v1/ledger").status_code == 200
    now[0] += 60
    refused(api.get("/v1/ledger"), 401, "SECURITY_010")


def test_delete_session_ends_it(api):
    assert api.call("DELETE", "/v1/session").status_code == 204
    refused(api.get("/v1/ledger"), 401, "SECURITY_010")


# --------------------------------------------------------------------------- lists


def test_lists_are_pages_of_items_and_count(api):
    first = api.get("/v1/relation", limit=20).json()
    rest = api.get("/v1/relation", limit=20, offset=20).json()
    assert first["count"] == 20 and rest["count"] == 10  # count is this page's size, not a total
    assert all(set(item) == {"id", "type", "code"} for item in first["items"])  # thin items, live
    assert len({i["id"] for i in first["items"] + rest["items"]}) == 30


@pytest.mark.parametrize("params, code", [({"limit": 0}, "PAGE_001"), ({"limit": 2001}, "PAGE_001"),
                                          ({"offset": -1}, "PAGE_002")])
def test_paging_bounds(api, params, code):
    refused(api.get("/v1/relation", **params), 400, code)


def test_relation_filters(api, sim):
    relation = sim.admin.relations[1001]
    assert [i["code"] for i in api.get("/v1/relation", code=relation.code).json()["items"]] == [relation.code]
    assert {i["type"] for i in api.get("/v1/relation", type="P").json()["items"]} == {"P"}
    assert api.get("/v1/relation", email=relation.email).json()["items"][0]["id"] == 1001
    assert api.get("/v1/relation", name=relation.bedrijf).json()["items"][0]["id"] == 1001
    assert api.call("GET", "/v1/relation", params={"code[like]": "D1000%"}).json()["count"] == 9
    assert api.call("GET", "/v1/relation", params={"code[not_eq]": relation.code}).json()["count"] == 29
    refused(api.call("GET", "/v1/relation", params={"code": "D1", "code[like]": "D%"}), 400, "ERR_002")


def test_ledgers_by_code_and_category(api):
    debtors = api.get("/v1/ledger", category="DEB").json()["items"]
    assert [g["code"] for g in debtors] == ["1300"]
    assert api.get(f"/v1/ledger/{debtors[0]['id']}").json()["category"] == "DEB"
    assert api.get("/v1/ledger/999999").status_code == 404


# --------------------------------------------------------------------------- relations


def test_create_read_and_patch_a_relation(api):
    created = api.post("/v1/relation", {"code": "R9001", "name": "Nieuw B.V.", "emailAddress": "a@b.nl",
                                        "emailAddressInvoice": "factuur@b.nl"})
    assert created.status_code == 201
    relation_id = created.json()["id"]
    assert api.call("PATCH", f"/v1/relation/{relation_id}", json={"name": "Nieuw Twee B.V.", "city": "Utrecht"}
                    ).status_code == 204
    read = api.get(f"/v1/relation/{relation_id}").json()
    assert (read["name"], read["city"], read["emailAddress"], read["emailAddressInvoice"]) == (
        "Nieuw Twee B.V.", "Utrecht", "a@b.nl", "factuur@b.nl")


def test_an_empty_code_is_generated(api):
    created = api.post("/v1/relation", {"name": "Zonder Code"}).json()
    assert created["code"] and api.get("/v1/relation", code=created["code"]).json()["items"][0]["id"] == created["id"]


@pytest.mark.parametrize("body, code", [
    ({"code": "D10001", "name": "Dubbel"}, "REL_049"),
    ({"code": "R1"}, "REL_002"),
    ({"code": "R1", "name": "x" * 101}, "REL_003"),
    ({"code": "R" * 16, "name": "Lang"}, "REL_006"),
    ({"code": "R1", "name": "T", "type": "X"}, "REL_001"),
    ({"code": "R1", "name": "G", "gender": "x"}, "REL_004"),
    ({"code": "R1", "name": "M", "emailAddress": "geen-adres"}, "REL_023"),
    ({"code": "R1", "name": "K", "companyRegistrationNumber": "12AB"}, "REL_008"),
    ({"code": "R1", "name": "I", "iban": "NL00RABO0123456789"}, "REL_007"),
    ({"code": "R1", "name": "C", "contact": "c" * 51}, "REL_009"),
    ({"code": "R1", "name": "P", "postalCode": "p" * 51}, "REL_012"),
    ({"code": "R1", "name": "L", "ledgerId": 999999}, "REL_048"),
])
def test_relation_refusals(api, body, code):
    refused(api.post("/v1/relation", body), 400, code)


def test_patch_needs_a_name_and_a_known_id(api):
    refused(api.call("PATCH", "/v1/relation/1001", json={"city": "Utrecht"}), 400, "REL_002")
    refused(api.call("PATCH", "/v1/relation/99", json={"name": "Niemand"}), 404, "REL_055")
    refused(api.call("PATCH", "/v1/relation/1001", json={"name": "Dubbel", "code": "D10002"}), 400, "REL_049")


@pytest.mark.parametrize("body", [{"name": "Onbekend veld", "nmae": "x"}, {"name": 12}, {"name": "Z", "inactive": "ja"}],
                         ids=["unknown field", "number for text", "text for bool"])
def test_unreadable_bodies_are_400(api, body):
    refused(api.post("/v1/relation", body), 400, "ERR_002")


def test_property_names_bind_without_case_like_aspnet(api):
    assert api.post("/v1/relation", {"Code": "R77", "Name": "Hoofdletters"}).status_code == 201


# --------------------------------------------------------------------------- mutations


def test_inexvat_in_means_the_amount_includes_vat(api, sim):
    mutation_id = api.post("/v1/mutation", invoice(api, "F-IN")).json()["id"]
    booked = sim.admin.booking(mutation_id)
    assert booked.total_incl_vat() == Decimal("19.99") and booked.total_vat() == Decimal("3.47")
    assert api.get(f"/v1/mutation/{mutation_id}").json()["rows"][0]["amount"] == 19.99


def test_without_inexvat_the_amount_is_taken_excl_vat(api, sim):
    """The service's own default is EX: a client that leaves inExVat out bills 24.19 for 19.99 (NOTES §4)."""
    body = invoice(api, "F-DEFAULT")
    del body["inExVat"]
    booked = sim.admin.booking(api.post("/v1/mutation", body).json()["id"])
    assert booked.in_ex_vat == "EX" and booked.total_incl_vat() == Decimal("24.19")


def _without(body: dict, key: str) -> dict:
    return {k: v for k, v in body.items() if k != key}


@pytest.mark.parametrize("change, status, code", [
    (lambda api, b: _without(b, "type"), 400, "MUTA_002"),
    (lambda api, b: {**b, "type": 9}, 400, "MUT_001"),
    (lambda api, b: _without(b, "date"), 400, "MUT_003"),
    (lambda api, b: {**b, "date": "02-11-2026"}, 400, "MUT_004"),
    (lambda api, b: _without(b, "ledgerId"), 400, "MUTA_001"),
    (lambda api, b: {**b, "ledgerId": 999999}, 400, "MUT_007"),
    (lambda api, b: {**b, "ledgerId": api.ledger_id("1010")}, 400, "MUT_011"),
    (lambda api, b: {**b, "description": "d" * 51}, 400, "ERR_002"),
    (lambda api, b: {**b, "invoiceNumber": "n" * 51}, 400, "MUT_018"),
    (lambda api, b: _without(b, "invoiceNumber"), 400, "MUT_002"),
    (lambda api, b: {**b, "inExVat": "INCL"}, 400, "MUT_017"),
    (lambda api, b: {**b, "inExVat": ""}, 400, "MUTA_005"),
    (lambda api, b: _without(b, "relationId"), 400, "MUT_012"),
    (lambda api, b: {**b, "relationId": 4}, 400, "MUT_013"),
    (lambda api, b: {**b, "rows": []}, 400, "MUT_100"),
    (lambda api, b: {**b, "rows": b["rows"] * 501}, 400, "MUT_101"),
    (lambda api, b: {**b, "rows": [{**b["rows"][0], "vatCode": "BTW21"}]}, 400, "MUT_109"),
    (lambda api, b: {**b, "rows": [{**b["rows"][0], "vatCode": "HOOG_INK_21"}]}, 400, "MUT_111"),
    (lambda api, b: {**b, "rows": [{**b["rows"][0], "ledgerId": 999999}]}, 400, "MUT_104"),
    (lambda api, b: {**b, "rows": [_without(b["rows"][0], "ledgerId")]}, 400, "MUTA_004"),
    (lambda api, b: {**b, "rows": [{**b["rows"][0], "vatAmount": 1}]}, 400, "MUTA_003"),
    (lambda api, b: {**b, "rows": [{**b["rows"][0], "amount": "19.99"}]}, 400, "ERR_002"),
    (lambda api, b: {**b, "unknown": 1}, 400, "ERR_002"),
])
def test_mutation_refusals(api, sim, change, status, code):
    before = len(sim.admin.mutations)
    refused(api.post("/v1/mutation", change(api, invoice(api, "F-REFUSED"))), status, code)
    assert len(sim.admin.mutations) == before


@pytest.mark.parametrize("category_code", ["1010", "1300", "1600"], ids=["FIN", "DEB", "CRED"])
def test_a_sales_row_may_not_be_on_a_fin_deb_or_cred_ledger(api, category_code):
    body = invoice(api, "F-ROW")
    body["rows"][0]["ledgerId"] = api.ledger_id(category_code)
    refused(api.post("/v1/mutation", body), 400, "MUT_106")


def test_an_invoice_number_is_booked_once(api):
    assert api.post("/v1/mutation", invoice(api, "F-ONCE")).status_code == 201
    refused(api.post("/v1/mutation", invoice(api, "F-ONCE")), 400, "MUT_020")  # same relation
    refused(api.post("/v1/mutation", invoice(api, "F-ONCE", relation="D10002")), 400, "MUT_019")


def test_mutation_list_is_thin_and_filters_by_invoice_number_and_type(api):
    mutation_id = api.post("/v1/mutation", invoice(api, "F-LIST")).json()["id"]
    found = api.get("/v1/mutation", invoiceNumber="F-LIST", type=2).json()["items"]
    assert [m["id"] for m in found] == [mutation_id] and "rows" not in found[0]
    assert api.get("/v1/mutation", invoiceNumber="F-LIST", type=3).json()["items"] == []
    assert api.call("GET", "/v1/mutation", params={"date[range]": "2026-11-01,2026-11-30"}).json()["count"] >= 1
    refused(api.get("/v1/mutation/999999"), 404, "MUT_300")


def test_a_payment_settles_the_outstanding_item(api):
    api.post("/v1/mutation", invoice(api, "F-PAY"))
    outstanding = api.get("/v1/mutation/invoice/outstanding", credDeb="D", invoiceNumber="F-PAY").json()["items"]
    assert outstanding[0]["outstandingAmount"] == 19.99 and outstanding[0]["relationCode"] == "D10001"
    payment = {"type": 3, "date": "2026-11-20", "ledgerId": api.ledger_id("1010"), "inExVat": "EX",
               "rows": [{"vatCode": "GEEN", "amount": 19.99, "invoiceNumber": "F-PAY",
                         "relationId": api.relation_id("D10001")}]}
    assert api.post("/v1/mutation", payment).status_code == 201
    assert api.get("/v1/mutation/invoice/outstanding", credDeb="D", invoiceNumber="F-PAY").json()["items"] == []


def test_a_payment_for_an_unknown_invoice_is_refused(api):
    payment = {"type": 3, "date": "2026-11-20", "ledgerId": api.ledger_id("1010"), "inExVat": "EX",
               "rows": [{"vatCode": "GEEN", "amount": 5, "invoiceNumber": "F-NONE",
                         "relationId": api.relation_id("D10001")}]}
    refused(api.post("/v1/mutation", payment), 400, "MUT_115")


def test_outstanding_items_need_cred_deb(api):
    refused(api.get("/v1/mutation/invoice/outstanding"), 400, "MUTA_006")
    refused(api.get("/v1/mutation/invoice/outstanding", credDeb="X"), 400, "MUTA_007")
    assert api.get("/v1/mutation/invoice/outstanding", credDeb="D", limit=2).json()["count"] == 2


# --------------------------------------------------------------------------- knobs


def test_throttle_is_429_with_retry_after_and_nothing_done(api, sim):
    body = invoice(api, "F-429")
    sim.knobs.faults["throttle"] = 1.0
    sim.retry_after_seconds = 7
    before = len(sim.admin.mutations)
    reply = api.post("/v1/mutation", body)
    assert reply.status_code == 429 and reply.headers["Retry-After"] == "7"
    assert len(sim.admin.mutations) == before


def test_lost_answer_means_booked(api, sim):
    import httpx

    body = invoice(api, "F-LOST")
    sim.knobs.faults["lost"] = 1.0
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("/v1/mutation", body)
    sim.knobs.faults.clear()
    assert [b.invoice_number for b in sim.admin.bookings_for_invoice("F-LOST")] == ["F-LOST"]


def test_server_fault_is_err_001_and_nothing_done(api, sim):
    body = invoice(api, "F-500")
    sim.knobs.faults["fault"] = 1.0
    refused(api.post("/v1/mutation", body), 500, "ERR_001")
    assert sim.admin.bookings_for_invoice("F-500") == []


def test_session_fault_expires_the_session(api, sim):
    sim.knobs.faults["session"] = 1.0
    refused(api.get("/v1/ledger"), 401, "SECURITY_010")


def test_fault_spec_knows_throttle():
    from core.eboekhouden.rest.sim_wire import REST_FAULT_KINDS
    from core.soap.simulator import FAULT_KINDS, Knobs

    assert REST_FAULT_KINDS == FAULT_KINDS + ("throttle",)  # every SOAP fault, and 429
    assert Knobs.parse_faults("throttle=0.2", REST_FAULT_KINDS) == {"throttle": 0.2}
    with pytest.raises(ValueError):
        Knobs.parse_faults("throttle=0.2")  # the SOAP simulator has no such fault


@pytest.mark.parametrize("kind, booked", [("reset", False), ("http500", False), ("malformed", True), ("slow", True)])
def test_network_faults_and_whether_the_booking_happened(api, sim, kind, booked):
    import httpx

    body = invoice(api, f"F-{kind}")
    sim.knobs.faults[kind], sim.knobs.slow_seconds = 1.0, 0.01
    if kind == "reset":
        with pytest.raises(httpx.RemoteProtocolError):
            api.http.post("/v1/mutation", json=body, headers={"Authorization": api.session})
    else:
        reply = api.http.post("/v1/mutation", json=body, headers={"Authorization": api.session})
        if kind == "http500":
            assert reply.status_code == 500 and reply.headers["content-type"] == "text/html"
        elif kind == "malformed":
            with pytest.raises(ValueError):
                reply.json()
        else:
            assert reply.status_code == 201 and "id" in reply.json()  # late, but whole
    assert len(sim.admin.bookings_for_invoice(f"F-{kind}")) == (1 if booked else 0)


def test_no_token_reaches_the_events_or_an_error_body(api, sim):
    refused(api.call("POST", "/v1/session", json={"accessToken": "canary-token-1", "source": "pvsync"}, auth=False),
            403, "SECURITY_010")
    refused(api.call("GET", "/v1/ledger", header="Bearer canary-session-2"), 401, "SECURITY_010")
    refused(api.post("/v1/relation", {"code": "D10001", "name": "Dubbel"}), 400, "REL_049")
    everything = " ".join(sim.events)
    for secret in ("canary-token-1", "canary-session-2", sim.api_token, api.session):
        assert secret not in everything


def test_bodies_and_parameters_that_cannot_be_read(api):
    refused(api.call("POST", "/v1/relation", content=b"", header=api.session), 400, "DATA_01")
    reply = api.http.post("/v1/relation", content=b"{name: 'x'", headers={"Authorization": api.session,
                                                                          "Content-Type": "application/json"})
    refused(reply, 400, "ERR_002")
    reply = api.http.post("/v1/relation", content=b'{"name": "x"}', headers={"Authorization": api.session,
                                                                             "Content-Type": "text/plain"})
    assert reply.status_code == 415
    refused(api.get("/v1/relation", limit="veel"), 400, "ERR_002")
    refused(api.call("GET", "/v1/mutation", params={"date[range]": "2026-01-01"}), 400, "ERR_002")
    refused(api.call("GET", "/v1/relation", params={"code[gt]": "A"}), 400, "ERR_002")


def payment_body(api: Api, number: str = "F-PAID", **changes) -> dict:
    row = {"vatCode": "GEEN", "amount": 19.99, "invoiceNumber": number, "relationId": api.relation_id("D10001")}
    row.update(changes.pop("row", {}))
    return {"type": 3, "date": "2026-11-20", "ledgerId": api.ledger_id("1010"), "inExVat": "EX", "rows": [row],
            **changes}


@pytest.mark.parametrize("changes, code", [
    ({"termOfPayment": 14}, "MUT_016"),  # a payment has no payment term
    ({"ledgerId": "1300"}, "MUT_009"),  # money comes in on a FIN ledger
    ({"row": {"invoiceNumber": ""}}, "MUT_120"),
    ({"row": {"relationId": None}}, "MUT_112"),
    ({"row": {"relationId": 4}}, "MUT_113"),
])
def test_payment_refusals(api, sim, changes, code):
    api.post("/v1/mutation", invoice(api, "F-PAID"))
    if changes.get("ledgerId") == "1300":
        changes["ledgerId"] = api.ledger_id("1300")
    before = len(sim.admin.mutations)
    refused(api.post("/v1/mutation", payment_body(api, **changes)), 400, code)
    assert len(sim.admin.mutations) == before
