"""`pvsync invoices ...` and `pvsync report open-items` on a real state folder and simulators."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest

from core import cli
from core.demo.world import SimulatedWorld
from core.sync.invoices import InvoicesJob
from core.sync.relations import RelationsJob


@pytest.fixture
def world(tmp_path):
    with SimulatedWorld(tmp_path, loopback=True) as world:
        pv = world.perfectview_client()
        customer = next(r.id for r in pv.relations() if r.debtor_number)
        waiting = pv.create_invoice(customer, "F2026-UNMAPPED", date.today(), date.today() + timedelta(days=14))
        pv.add_product_line(waiting, "Levering zonder btw", Decimal(1), Decimal("100.00"), "BTW 0%")  # not mapped
        pv.move_to_step(waiting, "Verstuurd")
        engine = world.engine(jobs=[RelationsJob(), InvoicesJob()])
        try:
            engine.run()
        finally:
            engine.close()
        yield world


def pvsync(world, capsys, *args):
    code = cli.main(["--config", str(world.config_path), "--state-dir", str(world.state_dir), *args])
    captured = capsys.readouterr()
    out = captured.out
    if args[:2] == ("invoices", "list") and code == 0:
        header, _, out = out.partition("\n")
        assert header.split() == ["Invoice", "State", "Relation", "Total", "Mutatie", "Notes"]
    return code, out, captured.err


def test_invoices_list_shows_the_journal_and_filters_by_state(world, capsys):
    code, out, _ = pvsync(world, capsys, "invoices", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines and all(line.split()[1] in {"seen", "blocked", "ready", "booking", "unknown", "booked", "paid"}
                         for line in lines)
    code, booked, _ = pvsync(world, capsys, "invoices", "list", "--state", "booked")
    assert code == 0 and booked.splitlines() and all(" booked " in line for line in booked.splitlines())
    code, _, err = pvsync(world, capsys, "invoices", "list", "--state", "lost")
    assert code == 1 and "unknown state 'lost'" in err


def test_retry_plans_a_waiting_invoice_and_explains_a_booked_one(world, capsys):
    _, pending, _ = pvsync(world, capsys, "invoices", "list", "--state", "pending")
    assert pending.splitlines()[0].split()[:2] == ["F2026-UNMAPPED", "blocked"]
    assert "'BTW 0%' is not mapped" in pending
    code, out, _ = pvsync(world, capsys, "invoices", "retry", "F2026-UNMAPPED")
    assert code == 0 and "F2026-UNMAPPED is planned again" in out
    _, booked, _ = pvsync(world, capsys, "invoices", "list", "--state", "booked")
    number = booked.splitlines()[0].split()[0]
    code, _, err = pvsync(world, capsys, "invoices", "retry", number)
    assert code == 1 and "cannot change a booking" in err
    code, _, err = pvsync(world, capsys, "invoices", "retry", "NO-SUCH-INVOICE")
    assert code == 1 and "NO-SUCH-INVOICE" in err


def test_open_items_report_compares_both_sides(world, capsys):
    code, out, err = pvsync(world, capsys, "report", "open-items", "--json")
    assert code in (0, 1), err
    report = json.loads(out)
    assert {"unpaid_but_settled", "paid_but_open", "open_without_invoice"} <= set(report)
