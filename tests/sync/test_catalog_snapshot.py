"""The invoices job leaves PerfectView's VAT codes and e-Boekhouden's ledgers for the VAT
mapping screen: on its daily full pass only, and never at the price of the run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.model import Ledger, PvVatCode, VatRule
from core.soap.simulator import ServerFault
from core.sync.catalog_snapshot import CatalogSnapshot, load_snapshot, row_status
from tests.sync.invoices_world import InvoiceWorld


def test_a_full_pass_stores_both_lists_and_an_incremental_pass_reads_no_ledgers(tmp_path):
    with InvoiceWorld(tmp_path) as world:
        world.invoice(world.customer("D1001"), "F-1", ("Werk", "1", "100.00", "BTW hoog 21%"))
        world.sync()
        snapshot = load_snapshot(world.engine.store)
        assert {(code.description, code.percentage) for code in snapshot.vat_codes} >= {
            ("BTW hoog 21%", 21), ("BTW laag 9%", 9), ("BTW 0%", 0)}
        assert snapshot.ledger("8000").category == "VW" and snapshot.own_country == "NL"
        assert CatalogSnapshot.from_json(snapshot.to_json()) == snapshot
        reads = world.eb_calls("GetGrootboekrekeningen")
        # The first run ever has no snapshot yet: the check of the ledgers the invoices job needs
        # (core.assumptions) reads them once before the job's full pass does.
        assert reads == 2

        world.clock.advance(timedelta(minutes=10))
        world.sync()
        assert world.eb_calls("GetGrootboekrekeningen") == reads, "not on an incremental pass"
        assert load_snapshot(world.engine.store) == snapshot

        world.clock.advance(timedelta(hours=25))
        world.sync()
        assert world.eb_calls("GetGrootboekrekeningen") == reads + 1, "again on the next day's full pass"


def test_ledgers_that_cannot_be_read_leave_the_run_ok_and_the_old_snapshot_in_place(tmp_path):
    with InvoiceWorld(tmp_path) as world:
        world.sync()
        before = load_snapshot(world.engine.store)
        assert before is not None
        simulator = world.world.eboekhouden
        original = type(simulator).handle

        def handle(operation, request):
            if operation == "GetGrootboekrekeningen":
                raise ServerFault("the ledger list is unavailable")
            return original(simulator, operation, request)

        simulator.handle = handle
        world.clock.advance(timedelta(hours=25))
        report = world.sync()
        assert report.outcome == "ok"
        assert load_snapshot(world.engine.store) == before
        assert any("VAT codes and ledgers for the VAT mapping screen were not read" in message
                   for message in world.messages(level="WARNING"))


def test_row_status_says_what_is_wrong_in_words():
    snapshot = CatalogSnapshot(datetime(2026, 3, 9, tzinfo=UTC), "NL", (PvVatCode("a", 9, "BTW laag 9%"),),
                               (Ledger(1, "8010", "Omzet laag", "VW"),))
    vat = snapshot.vat_code("BTW laag 9%")
    assert row_status(snapshot, None, vat) == "NOT MAPPED"
    assert row_status(snapshot, VatRule("BTW laag 9%", "LAAG_VERK_9", "8010"), vat) == "OK"
    assert row_status(snapshot, VatRule("BTW laag 9%", "LAAG_VERK", "8010"), vat) == "OLD RATE"
    assert row_status(snapshot, VatRule("BTW laag 9%", "HOOG_VERK_21", "8010"), vat) == "RATE DIFFERS"
    assert row_status(snapshot, VatRule("BTW laag 9%", "LAAG_VERK_9", "8000"), vat) == "NO SUCH LEDGER"
    assert row_status(snapshot, VatRule("BTW laag 9%", "HOOG_INK_21", "8010"), vat) == "NOT A SALES CODE"
    assert row_status(snapshot, VatRule("BTW 6%", "LAAG_VERK_9", "8010"), None) == "NOT IN PERFECTVIEW"
    assert row_status(None, VatRule("BTW 6%", "LAAG_VERK_9", "8010"), None) == "OK"  # nothing to compare with
