"""Pages of relations and activities are read without zeep's type walk (core.soap.fast_read):
what comes out must be exactly what zeep reads from the same answers."""

from __future__ import annotations

import random
from datetime import date, timedelta

from core.perfectview.demo import populate


def every_paged_read(client, since):
    return {
        "all relations": list(client.relations()),
        "modified relations": list(client.relations(modified_since=since)),
        "by debtor number": [client.relations_by_debtor_number(r.debtor_number)
                             for r in client.relations() if r.debtor_number][:5],
        "all invoices": list(client.sales_invoices(details=False)),
        "modified invoices": list(client.sales_invoices(modified_since=since, details=False)),
        "invoices by date": list(client.sales_invoices_dated(date(2000, 1, 1), date.today() + timedelta(days=400))),
    }


def test_pages_read_quickly_equal_what_zeep_reads(sim, client):
    since = sim.now() - timedelta(minutes=5)
    populate(client, random.Random(7), relations=40, invoices=25)
    used = []
    for operation, reader in client._page_readers.items():
        def counting(document, read=reader.read, operation=operation):
            used.append(operation)
            return read(document)
        reader.read = counting
    quick = every_paged_read(client, since)
    assert set(used) == set(client._page_readers), "every paged operation went through the quick reader"
    assert len(quick["all relations"]) >= 40 and len(quick["all invoices"]) == 25
    assert all(quick.values())

    client._page_readers = dict.fromkeys(client._page_readers)  # None for each: zeep reads the pages
    assert every_paged_read(client, since) == quick


def test_several_pages_at_once_read_the_same_listing_in_order_for_a_few_calls_more(sim):
    from tests.perfectview.conftest import connect, organisation

    one_by_one, at_once = connect(sim, page_size=5), connect(sim, page_size=5, pages_at_once=4)
    assert [r.id for r in at_once.relations()] == [r.id for r in one_by_one.relations()]  # the small database
    sim.calls.clear()
    list(at_once.relations())
    assert sim.calls["RelationGetAll"] == 1, "a listing that fits one page costs one call"

    for number in range(37):
        one_by_one.create_relation(organisation(debtor_number=str(5000 + number), name=f"Klant {number}"),
                                   "Klant", None)
    sim.calls.clear()
    expected = [r.id for r in one_by_one.relations()]
    sequential_calls = sim.calls["RelationGetAll"]
    sim.calls.clear()
    assert [r.id for r in at_once.relations()] == expected
    assert sequential_calls <= sim.calls["RelationGetAll"] <= sequential_calls + 3
