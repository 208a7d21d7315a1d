"""ASMX fills a value-type element that a request leaves out with 0 or DateTime.MinValue
(NOTES.md §3.2). Public clients rely on that to list everything: a filter without dates or
numbers means "no bound". Each case names its public evidence."""

from __future__ import annotations

from datetime import date, timedelta

from lxml import etree

from core.eboekhouden.soap.simulator import EboekhoudenSimulator
from core.model import EbRelation

from .test_client import sales_invoice
from .test_simulator import NS, auth, error_code, open_session, post


def _numbers(reply) -> list[int]:
    assert error_code(reply) in ("", None)
    return [int(n) for n in etree.fromstring(reply.content).xpath("//e:MutatieNr/text()", namespaces={"e": NS})]


def _sim_with(count: int) -> EboekhoudenSimulator:
    sim = EboekhoudenSimulator(seed_data="empty")
    sim.store_relation(EbRelation(code="D1", bedrijf="Drie Facturen B.V."))
    for n in range(count):
        sim.store_mutation(sales_invoice(f"2025-{n:04d}", relation="D1"))
    return sim


def test_get_mutaties_without_any_dates_lists_every_mutation():
    """Evidence: a published Python client's `get_mutaties()` with no arguments "retrieves all
    mutations" and sends a cFilter with only MutatieNr; ASMX makes DatumVan and DatumTm MinValue."""
    sim = _sim_with(3)
    session = open_session(sim)
    reply = post(sim, "GetMutaties", auth(sim, session) + "<cFilter><MutatieNr>0</MutatieNr></cFilter>")
    assert _numbers(reply) == [1, 2, 3]


def test_get_mutaties_without_a_filter_at_all_lists_every_mutation():
    """Evidence: as above; a client that leaves cFilter out entirely gets every field defaulted
    (MutatieNr 0, dates MinValue), which the same public clients read as "all mutations"."""
    sim = _sim_with(2)
    reply = post(sim, "GetMutaties", auth(sim, open_session(sim)))
    assert _numbers(reply) == [1, 2]


def test_get_mutaties_with_only_a_start_date_has_no_end_bound():
    """Evidence: public clients pass only a start date ("mutations since …"); DatumTm then arrives
    as MinValue, which must not make the range empty."""
    sim = _sim_with(2)
    since = (date.today() - timedelta(days=3650)).isoformat()
    reply = post(sim, "GetMutaties", auth(sim, open_session(sim))
                 + f"<cFilter><MutatieNr>0</MutatieNr><DatumVan>{since}T00:00:00</DatumVan></cFilter>")
    assert _numbers(reply) == [1, 2]


def test_get_mutaties_with_a_zero_upper_number_has_no_upper_bound():
    """Evidence: MutatieNrTm is an xs:long; ASMX turns a left-out one into 0, and a client that
    sends only MutatieNrVan ("from number N on") means no upper bound."""
    sim = _sim_with(4)
    reply = post(sim, "GetMutaties", auth(sim, open_session(sim))
                 + "<cFilter><MutatieNr>0</MutatieNr><MutatieNrVan>3</MutatieNrVan><MutatieNrTm>0</MutatieNrTm>"
                   "</cFilter>")
    assert _numbers(reply) == [3, 4]


def test_get_mutaties_with_real_dates_still_filters():
    """The bound still bites when a real date is given: a window in the far past finds nothing."""
    sim = _sim_with(2)
    reply = post(sim, "GetMutaties", auth(sim, open_session(sim))
                 + "<cFilter><MutatieNr>0</MutatieNr><DatumVan>1990-01-01T00:00:00</DatumVan>"
                   "<DatumTm>1990-12-31T00:00:00</DatumTm></cFilter>")
    assert _numbers(reply) == []


def test_get_relaties_and_ledgers_with_id_zero_list_everything():
    """Evidence: cRelatieFilter.ID and cGrootboekrekeningFilter.ID are xs:long with minOccurs=1;
    public clients send only Code or Trefwoord, so ASMX gives ID 0, which means "any ID"."""
    sim = _sim_with(0)
    session = open_session(sim)
    relations = post(sim, "GetRelaties", auth(sim, session) + "<cFilter><Trefwoord></Trefwoord></cFilter>")
    ledgers = post(sim, "GetGrootboekrekeningen", auth(sim, session) + "<cFilter></cFilter>")
    assert etree.fromstring(relations.content).xpath("count(//e:cRelatie)", namespaces={"e": NS}) == 1
    assert etree.fromstring(ledgers.content).xpath("count(//e:cGrootboekrekening)",
                                                   namespaces={"e": NS}) == len(sim.ledgers)
