"""The demo organisation and its scenario clock (the README's first command stands on them)."""

from __future__ import annotations

import random
import threading

import pytest

from core.demo.scenario import build_demo, open_clients, run_headless, step


@pytest.mark.parametrize("api", ["rest", "soap"])
def test_demo_world_has_the_organisation_the_console_shows(tmp_path, api):
    demo = build_demo(tmp_path, api=api)
    try:
        eb, pv = open_clients(demo.world)
        relations = list(pv.relations())
        invoices = list(pv.sales_invoices())
        assert 110 <= len(relations) <= 130
        assert 55 <= len(invoices) <= 65
        vat = {line.vat_description for inv in invoices for line in inv.lines}
        assert {"BTW hoog 21%", "BTW laag 9%", "BTW verlegd", "BTW EU 0%", "BTW 0%"} <= vat
        assert any(inv.lines and sum(l.total_amount for l in inv.lines) < 0 for inv in invoices), "a credit invoice"
        assert any(len(inv.attachments) == 2 for inv in invoices), "one invoice with two attachments"
        assert "BTW 0%" not in demo.world.config().vat.mappings["NL"], "one VAT code stays unmapped on purpose"
        assert demo.world.config().eboekhouden.api == api
        with eb:
            assert any(item.outstanding > 0 for item in eb.open_items())
    finally:
        demo.close()


def test_the_demo_runs_on_rest_unless_asked_otherwise(tmp_path):
    demo = build_demo(tmp_path, relations=1, invoices=1)
    try:
        assert demo.world.config().eboekhouden.api == "rest", "the demo shows what a customer sets up today"
        assert demo.world.config().eboekhouden.address == demo.world.eboekhouden_rest_url
    finally:
        demo.close()


def test_the_scenario_clock_sends_invoices_and_pays_open_items(tmp_path):
    demo = build_demo(tmp_path, relations=5, invoices=3)
    try:
        rng = random.Random(3)
        events = [step(demo.world, rng) for _ in range(6)]
        assert any("sent in PerfectView" in e for e in events)
        assert any("payment of" in e for e in events)
    finally:
        demo.close()


def test_headless_demo_runs_the_engine_and_says_where_things_are(tmp_path):
    stop, lines = threading.Event(), []
    thread = threading.Thread(target=run_headless, args=(tmp_path,),
                              kwargs={"stop": stop, "out": lines.append, "clock_seconds": 3600})
    thread.start()
    try:
        from core.store import Store

        deadline = threading.Event()
        for _ in range(1200):  # up to a minute: the first run syncs the whole demo organisation
            state = tmp_path / "state"
            if (state / "pvsync.db").exists():
                with Store.open(state, create=False) as store:
                    if store.last_run() and store.last_run().finished_at:
                        break
            deadline.wait(0.05)
        assert any("config" in line and str(tmp_path) in line for line in lines)
        assert any("e-Boekhouden simulator" in line and "(REST API)" in line for line in lines)
        assert any("invoice documents are mailed to 127.0.0.1:" in line and str(tmp_path / "mail") in line
                   for line in lines), "the headless demo says where the mailed documents are"
        with Store.open(tmp_path / "state", create=False) as store:
            assert store.last_run().outcome in ("ok", "partial")
            booked = store.logbook_page(text="booked in e-Boekhouden", limit=5)
            assert booked, "the first run books the demo's sent invoices over REST"
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
