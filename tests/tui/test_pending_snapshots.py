"""The pending screen with a partly paid invoice, and the open items report, at 80x24 and 120x40.

Update after reviewing the report: `uv run pytest tests/tui/test_pending_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from textual.widgets import Input

from core.store.payment_state import PaymentCheck
from core.sync import open_items_report as report_module
from core.sync.invoice_commands import InvoiceListing, payment_words
from core.sync.open_items_report import OpenItemsReport, ReportLine
from tests.tui.conftest import NOW, frozen_clock, settle
from tests.tui.test_pending_and_setup import JOURNAL
from tui.app import create_app
from tui.screens import pending as pending_module

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
D = Decimal

PARTLY_PAID = PaymentCheck("a4", "F2026-004", "D1003", listed=True, amount=D("242.00"), paid=D("122.00"),
                           outstanding=D("120.00"), absent_since=None, looked_up_at=None, settled=None, evidence="",
                           checked_at=NOW - timedelta(hours=1), run_id=3)
BOOKED = InvoiceListing("a4", "F2026-004", "booked", "D1003", D("242.00"), 1017, "", "", 1, NOW - timedelta(days=9),
                        "", payment_words(PARTLY_PAID), PARTLY_PAID.outstanding)

REPORT = OpenItemsReport(
    NOW,
    unpaid_but_settled=(ReportLine("F2026-001", "D1001", None, None, "Verstuurd",
                                   "not in the open items, and e-Boekhouden mutatie 1021 settles € 121,00 of € 121,00",
                                   "a1"),),
    paid_but_open=(ReportLine("F2026-004", "D1003 Bakkerij Jansen", D("242.00"), D("120.00"), "Betaald",
                              "€ 122,00 of € 242,00 received in e-Boekhouden", "a4"),),
    open_without_invoice=())


@pytest.fixture
def seeded(monkeypatch):
    monkeypatch.setattr(pending_module, "read_pending", lambda store, config_path: [*JOURNAL, BOOKED])
    monkeypatch.setattr(report_module, "read_open_items_report", lambda store, config: REPORT)


def pending_app(config_path, state_dir):
    return create_app(config_path, state_dir, engine_mode="attach", clock=frozen_clock, deterministic=True,
                      initial_mode="pending")


def opened(*keys: str):
    async def run_before(pilot) -> None:
        app = pilot.app
        await settle(app, pilot)
        for box in app.screen.query(Input):
            box.cursor_blink = False  # a blinking cursor would make the picture flicker
        if keys:
            await pilot.press(*keys)
        await app.workers.wait_for_complete()
        await settle(app, pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_pending_with_a_partly_paid_invoice(snap_compare, seeded, config_path, state_dir, size):
    assert snap_compare(pending_app(config_path, state_dir), terminal_size=size, run_before=opened())


@pytest.mark.parametrize("size", SIZES)
def test_open_items_report(snap_compare, seeded, config_path, state_dir, size):
    assert snap_compare(pending_app(config_path, state_dir), terminal_size=size, run_before=opened("p"))
