"""The contract helper itself: it refuses what the document refuses (else the contract tests would
prove nothing), finds or skips the document as documented, and the simulator's error titles are
the document's own."""

from __future__ import annotations

import json
import re

import pytest

from core.eboekhouden.rest.sim_wire import TITLES

from . import contract
from .contract import ContractError, validate_request, validate_response


def test_requests_off_the_document_are_refused():
    contract.openapi()
    good = {"type": 2, "date": "2026-11-02", "ledgerId": 1, "relationId": 2, "invoiceNumber": "F1", "inExVat": "IN",
            "rows": [{"ledgerId": 3, "vatCode": "HOOG_VERK_21", "amount": 12.1}]}
    validate_request("POST", "/v1/mutation", body=good)
    for bad in ({**good, "description": "d" * 51}, {k: v for k, v in good.items() if k != "ledgerId"},
                {**good, "rows": [{"ledgerId": 3, "vatCode": "BTW21", "amount": 1}]}):
        with pytest.raises(ContractError):
            validate_request("POST", "/v1/mutation", body=bad)
    validate_request("GET", "/v1/relation", {"limit": 2000, "code[like]": "D%"})
    with pytest.raises(ContractError):
        validate_request("GET", "/v1/relation", {"limit": 2001})
    with pytest.raises(ContractError):
        validate_request("POST", "/v1/session", body={"accessToken": "t", "source": "pv-sync"})


def test_answers_off_the_document_are_refused():
    contract.openapi()
    with pytest.raises(ContractError):  # a detail field leaking into the thin relation list
        validate_response("GET", "/v1/relation", 200, {"items": [{"id": 1, "type": "B", "code": "R1", "name": "X"}],
                                                        "count": 1})
    with pytest.raises(ContractError):  # an error body without its required fields
        validate_response("POST", "/v1/mutation", 400, {"code": "MUT_019"})


def test_a_missing_document_skips_and_under_ci_fails(monkeypatch, tmp_path):
    monkeypatch.setenv("PVSYNC_OPENAPI", str(tmp_path / "absent.json"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PVSYNC_OPENAPI"):
        contract.require_document()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="PVSYNC_OPENAPI"):
        contract.require_document()


def test_every_patch_entry_says_why_and_lands_somewhere():
    patches = json.loads(contract.PATCH_FILE.read_text(encoding="utf-8"))["patches"]
    spec = contract.patched_document(contract.require_document())
    for patch in patches:
        assert len(patch["why"]) > 20, patch["path"]
        node = spec
        for part in patch["path"].split("/")[1:]:
            node = node[part.replace("~1", "/")]
        assert node == patch["value"]


def test_the_simulators_error_titles_are_the_documents():
    description = json.loads(contract.require_document().read_text(encoding="utf-8"))["info"]["description"]
    table = dict(re.findall(r'<a name="([A-Z_0-9]+)">[^<]*</a></td><td>([^<]*)</td>', description))
    assert {code: TITLES[code] for code in TITLES} == {code: table.get(code) for code in TITLES}
