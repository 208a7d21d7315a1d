"""The generator at benchmark sizes (run explicitly: `uv run pytest tests/perf/test_generate.py`).

It must make 50,000 relations in seconds, grow linearly, and what it makes must read back
through the real clients over a loopback socket, a sample of records checked field by field.
"""

from __future__ import annotations

import random

import pytest

from core.demo.generate import generate
from core.eboekhouden.soap.simulator import EboekhoudenSimulator
from core.perfectview.simulator import PerfectViewSimulator
from core.sync.mapping import crm_relation_problems, crm_to_eboekhouden_values, eboekhouden_values
from tests.perf.common import bench_world, growth_exponent, timed

SECONDS_FOR_50K = 30.0  # "seconds, not minutes", with room for a busy shared machine


def fresh() -> tuple[EboekhoudenSimulator, PerfectViewSimulator]:
    return EboekhoudenSimulator(seed_data="empty"), PerfectViewSimulator(seed_data="empty")


def test_fifty_thousand_relations_take_seconds_and_time_grows_linearly():
    sizes, seconds = [5_000, 50_000], []
    for size in sizes:
        made, took = timed(lambda: generate(fresh(), relations=size, invoices=size // 2, open_items=True, seed=1))
        assert len(made.relation_ids) == size
        seconds.append(took)
    assert seconds[-1] < SECONDS_FOR_50K, f"50k relations took {seconds[-1]:.1f} s"
    assert growth_exponent(sizes, seconds) < 1.3, f"generation grows faster than linearly: {seconds}"


def test_a_sample_of_ten_thousand_reads_back_over_loopback(tmp_path):
    with bench_world(tmp_path, loopback=True) as world:
        made = generate(world, relations=10_000, invoices=5_000, open_items=True, seed=4)
        pv = world.perfectview_client()
        eb = world.eboekhouden_client()
        sample = random.Random(4).sample(sorted(made.customers), 50)
        with eb:
            eb_by_code = {r.code: r for r in eb.relations()}
            for relation_id in sample:
                relation = pv.relation(relation_id, with_account_manager=True)
                assert relation.debtor_number == made.customers[relation_id]
                assert relation.account_manager_id, "every generated relation has a relatiebeheerder"
                assert not crm_relation_problems(relation, "Voornaam Achternaam")
                in_eb = eb_by_code.get(relation.debtor_number)
                if in_eb is not None:  # a customer whose invoice was booked before pvsync
                    assert eboekhouden_values(in_eb, relation.kind) == crm_to_eboekhouden_values(
                        relation, "Voornaam Achternaam")
            open_items = {item.invoice_number: item.outstanding for item in eb.open_items()}
        assert open_items == made.open_items
        for activity_id in random.Random(5).sample(made.sent_invoice_ids, 20):
            invoice = pv.invoice(activity_id)
            assert invoice.step == "Verstuurd" and not invoice.booked_marker and invoice.lines
            assert invoice.relation_id in made.customers
        pv.close()
        eb.close()


@pytest.mark.parametrize("size", [1_000, 10_000])
def test_debtor_and_invoice_numbers_are_unique(size):
    eb, pv = fresh()
    made = generate((eb, pv), relations=size, invoices=size, open_items=True, seed=2)
    assert len(set(made.customers.values())) == len(made.customers)
    numbers = [b.invoice_number for b in eb.mutations.values() if b.soort.value == "FactuurVerstuurd"]
    assert len(numbers) == len(set(numbers)) == len(made.booked)
