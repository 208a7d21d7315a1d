"""core.soap.fast_read reads a usual answer with its quick walk (checks per answer, not per
element) and anything unusual with its careful walk: the two must read the same answers the
same, the quick one must really be the one a usual answer takes, and what is wrong must still
be refused in the careful walk's words."""

from __future__ import annotations

import re

import pytest
from lxml import etree

from core.eboekhouden.soap.simulator import EboekhoudenSimulator
from core.model import EbRelation
from core.soap.fast_read import ListReader
from tests.eboekhouden.conftest import client_for
from tests.eboekhouden.test_fast_relaties import Rewriting

XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


@pytest.fixture(scope="module")
def answer_and_reader() -> tuple[bytes, ListReader]:
    """A real GetRelaties answer of the simulator (three relations) and the client's reader."""
    sim = EboekhoudenSimulator()
    seen: list[bytes] = []
    with client_for(sim) as client:
        for number in range(3):
            client.add_relation(EbRelation(code=f"W{number}", bedrijf=f"Winkel {number}", plaats="Gouda"))
    with client_for(sim, transport=Rewriting(sim, lambda body: seen.append(body) or body)) as client:
        client.relations()
        return seen[-1], client._relaties_reader


def careful(reader: ListReader, body: bytes):
    """What the careful walk alone reads (unwrapped as `read` unwraps)."""
    answer = reader._record(reader.body_of(etree.fromstring(body)), reader.root)
    return next(iter(vars(answer).values())) if answer is not None and len(reader.root.types) == 1 else answer


def plain(value):
    if isinstance(value, list):
        return [plain(item) for item in value]
    if hasattr(value, "__dict__"):
        return {key: plain(item) for key, item in vars(value).items()}
    return value


@pytest.fixture
def careful_calls(monkeypatch) -> list[str]:
    calls: list[str] = []
    original = ListReader._record

    def counted(self, node, shape):
        calls.append(shape.name)
        return original(self, node, shape)

    monkeypatch.setattr(ListReader, "_record", counted)
    return calls


def test_a_usual_answer_takes_the_quick_walk_and_reads_as_the_careful_one(answer_and_reader, careful_calls):
    body, reader = answer_and_reader
    quick = reader.read(etree.fromstring(body))
    assert careful_calls == [], "a usual answer is read without the careful walk"
    assert plain(quick) == plain(careful(reader, body))
    relations = quick.Relaties.cRelatie
    assert [r.Code for r in relations][-3:] == ["W0", "W1", "W2"] and relations[-1].Plaats == "Gouda"


# Answers the service may well give read the same either way: nil values and a missing optional
# element in the quick walk, a comment in the careful one.
@pytest.mark.parametrize(("change", "walk"), [
    (lambda b: b.replace(b"<Plaats>Gouda</Plaats>", f"<Plaats {XSI} xsi:nil=\"true\" />".encode(), 1), "quick"),
    (lambda b: b.replace(b"<Plaats>Gouda</Plaats>", f"<Plaats {XSI} xsi:nil=\"1\">Gouda</Plaats>".encode(), 1),
     "quick"),
    (lambda b: re.sub(rb"<Adres>[^<]*</Adres>|<Adres ?/>", b"", b, count=1), "quick"),
    (lambda b: b.replace(b"<Plaats>Gouda</Plaats>", b"<Plaats>Gouda</Plaats><!-- a comment -->", 1), "careful"),
], ids=["nil value", "nil value with text", "optional element missing", "comment"])
def test_unusual_answers_read_the_same_either_way(answer_and_reader, change, walk, careful_calls):
    body, reader = answer_and_reader
    changed = change(body)
    assert changed != body
    expected = plain(careful(reader, changed))
    careful_calls.clear()
    assert plain(reader.read(etree.fromstring(changed))) == expected
    assert bool(careful_calls) == (walk == "careful")


@pytest.mark.parametrize(("change", "words"), [
    (lambda b: re.sub(rb"<ID>(\d+)</ID>", rb"<ID><b>\1</b></ID>", b, count=1), "ID holds elements"),
    (lambda b: re.sub(rb"<Plaats>Gouda</Plaats>", b"<Plaats>Gouda<i>x</i></Plaats>", b, count=1),
     "Plaats holds elements"),
    (lambda b: b.replace(b"<Plaats>Gouda</Plaats>", b"<Plaats>Gouda</Plaats><Plaats>Delft</Plaats>", 1),
     "Plaats occurs twice"),
    (lambda b: b.replace(b"<Plaats>Gouda</Plaats>", b"<Stad>Gouda</Stad>", 1), "Unexpected element 'Stad'"),
    (lambda b: re.sub(rb"<Gb_ID>\d+</Gb_ID>", b"", b, count=1), "without its required element Gb_ID"),
])
def test_what_is_wrong_is_refused_in_the_careful_walks_words(answer_and_reader, change, words):
    body, reader = answer_and_reader
    changed = change(body)
    assert changed != body
    with pytest.raises(ValueError, match=re.escape(words)):
        reader.read(etree.fromstring(changed))
