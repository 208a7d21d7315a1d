"""GetRelaties is read without zeep's type walk (core.soap.fast_read): the relations must come
out exactly as zeep reads them, and a broken answer must be refused as zeep refuses it."""

from __future__ import annotations

import re
from datetime import date

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.eboekhouden.soap.client import NAMESPACE
from core.eboekhouden.soap.simulator import EboekhoudenSimulator
from core.model import EbRelation
from core.soap.errors import ResponseInvalid, TransportFailure
from core.soap.loopback import InProcessTransport
from core.eboekhouden.soap import translate
from tests.eboekhouden.conftest import client_for

# Text a customer record may hold: XML specials, accents, emoji, spaces at the ends, empty.
TEXT = st.text(alphabet=st.sampled_from(list("ab Zé&<>\"'🙂-.,/\t")), max_size=12)


def read_by_zeep(client) -> list[EbRelation]:
    result = client._call("GetRelaties", write=False, cFilter={"Trefwoord": None, "Code": None, "ID": 0})
    return [translate.relation_from_soap(r) for r in translate.items(result.Relaties, "cRelatie")]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.tuples(TEXT, TEXT, TEXT), min_size=0, max_size=6), soap12=st.booleans())
def test_relations_read_quickly_equal_what_zeep_reads(names, soap12):
    sim = EboekhoudenSimulator()
    with client_for(sim, soap12=soap12) as client:
        for number, (company, city, note) in enumerate(names, start=1):
            client.add_relation(EbRelation(code=f"T{number}", bedrijf=company.strip() or "X", plaats=city,
                                           notitie=note, bp="B"))
        quick = client.relations()
        assert quick == read_by_zeep(client)
        added = [r for r in quick if r.code.startswith("T")]
        assert [r.code for r in added] == [f"T{n}" for n in range(1, len(names) + 1)]
        assert [(r.bedrijf, r.plaats, r.notitie) for r in added] == [
            (company.strip() or "X", city, note) for company, city, note in names]


class Rewriting(httpx.BaseTransport):
    """The simulator's real answer to GetRelaties, changed by `rewrite` on its way back."""

    def __init__(self, sim, rewrite):
        self.inner, self.rewrite = InProcessTransport(app=sim), rewrite

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        body = response.read()
        if b"GetRelatiesResponse" in body:
            body = self.rewrite(body)
        return httpx.Response(response.status_code, headers={"Content-Type": response.headers["Content-Type"]},
                              content=body)


@pytest.mark.parametrize(("change", "words"), [
    (lambda b: b.replace(b"<Code>", b"<Woonplaats>x</Woonplaats><Code>", 1), "Unexpected element 'Woonplaats'"),
    (lambda b: re.sub(rb"<ID>\d+</ID>", b"<ID>een</ID>", b, count=1), "ID is not Long"),
    (lambda b: re.sub(rb"<ID>\d+</ID>", b"", b, count=1), "cRelatie without its required element ID"),
    (lambda b: re.sub(rb"(<Code>[^<]*</Code>)", rb"\1\1", b, count=1), "Code occurs twice"),
    (lambda b: re.sub(rb"<Code>([^<]*)</Code>", rb"<Code><b>\1</b></Code>", b, count=1), "Code holds elements"),
])
def test_a_broken_answer_is_refused_in_words(change, words):
    sim = EboekhoudenSimulator()
    with client_for(sim) as client:
        client.add_relation(EbRelation(code="D1", bedrijf="Bakkerij Zoet", plaats="Delft"))
    with client_for(sim, transport=Rewriting(sim, change)) as client:
        with pytest.raises(ResponseInvalid) as caught:
            client.relations()
    assert "does not match the WSDL" in str(caught.value) and words in str(caught.value)


def test_faults_and_error_pages_are_still_read_by_zeep():
    sim = EboekhoudenSimulator()
    with client_for(sim) as client:
        client.add_relation(EbRelation(code="D1", bedrijf="Bakkerij Zoet"))
        sim.knobs.faults = {"http500": 1.0}
        with pytest.raises(TransportFailure):
            client.relations()
        sim.knobs.faults = {}
        assert "D1" in [r.code for r in client.relations()]


def test_the_reader_follows_the_wsdl_types():
    sim = EboekhoudenSimulator()
    with client_for(sim) as client:
        shape = client._relaties_reader._shapes
    relatie = next(s for s in shape.values() if s.name == "cRelatie")
    assert relatie.required == ["ID", "AddDatum", "Gb_ID", "GeenEmail", "NieuwsbriefgroepenCount"]
    assert client._relaties_reader.tag == f"{{{NAMESPACE}}}GetRelatiesResponse"


def test_open_items_read_quickly_equal_what_zeep_reads():
    """GetOpenPosten lists every open item on every run (the payments job): read quickly too,
    amounts as exact cents, the same items as zeep gives."""
    sim = EboekhoudenSimulator()  # the demo administration: open items with odd amounts, partly paid ones
    with client_for(sim) as client:
        quick = client.open_items("Debiteuren")
        result = client._call("GetOpenPosten", write=False, OpSoort="Debiteuren")
        by_zeep = [translate.open_item_from_soap(p) for p in translate.items(result.Openposten, "cOpenPost")]
    assert quick == by_zeep and len(quick) >= 3
    assert any(item.paid and item.outstanding for item in quick), "a partly paid item among them"


def _plain(value):
    """zeep's result and the quick reader's as the same nested dicts and lists."""
    from zeep.helpers import serialize_object

    if isinstance(value, list):
        return [_plain(item) for item in value]
    if hasattr(value, "__values__"):  # a zeep CompoundValue
        return {key: _plain(item) for key, item in serialize_object(value, dict).items()}
    if hasattr(value, "__dict__"):  # the quick reader's SimpleNamespace
        return {key: _plain(item) for key, item in vars(value).items()}
    return value


def test_write_answers_read_quickly_equal_what_zeep_reads():
    """A first run sends thousands of AddRelatie: their small answers are read without zeep too,
    accepted or refused, exactly as zeep reads them."""

    relation = EbRelation(code="D77001", bedrijf="Bakkerij & Zoet <B.V.>", plaats="Zwolle")
    day = date(2025, 3, 1)
    answers = {}
    for quick in (True, False):
        sim = EboekhoudenSimulator()
        with client_for(sim) as client:
            if not quick:
                client._write_readers = dict.fromkeys(client._write_readers)
            send = lambda operation, **arguments: client.caller.call(  # noqa: E731
                operation, write=True, reader=client._write_readers.get(operation),
                SessionID=client._session.reveal(), SecurityCode2=client._code2.reveal(), **arguments)
            oRel = translate.relation_to_soap(relation, today=day)
            added = send("AddRelatie", oRel=oRel)  # accepted: its Rel_ID
            answers[quick] = [
                added,
                send("AddRelatie", oRel=oRel),  # refused: the code exists
                send("UpdateRelatie", oRel=translate.relation_to_soap(relation.with_changes(id=added.Rel_ID), today=day)),
                send("UpdateRelatie", oRel=translate.relation_to_soap(relation.with_changes(id=999999), today=day)),
            ]
    quick, by_zeep = _plain(answers[True]), _plain(answers[False])
    assert quick == by_zeep
    assert isinstance(quick[0]["Rel_ID"], int) and quick[0]["Rel_ID"] > 0 and not quick[0]["ErrorMsg"]["LastErrorCode"]
    assert quick[2] == {"LastErrorCode": None, "LastErrorDescription": None}, "UpdateRelatie's bare cError"
    assert quick[1]["ErrorMsg"]["LastErrorCode"] and quick[3]["LastErrorCode"], "refusals read as such"
