"""Pending invoices against both simulators: booked invoices with their open amount, the
details with the booking the current config would make, and the open items report."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from textual.widgets import DataTable, Static

from core.config import set_vat_rule, update_config, write_new_config
from core.model import Booking, BookingLine, MutatieSoort
from core.soap.errors import ServiceError
from core.store import Store
from core.store.invoice_journal import InvoiceJournal
from core.sync.invoice_commands import pending_invoices, unpaid_invoices
from tests.tui.conftest import settle, wait_until
from tests.tui.pending_world import HIGH, UNMAPPED, PendingWorld
from tests.tui.test_pending_and_setup import open_pending
from tui.app import create_app
from tui.screens.details import DetailsScreen
from tui.screens.pending import read_pending
from tui.screens.report import OpenItemsScreen, ReportRead, ReportUnavailable


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    """F-1 paid in full (Betaald), F-2 partly paid, F-3 waiting for its VAT code."""
    world = PendingWorld(tmp_path_factory.mktemp("office"))
    world.invoice(world.customer_id, "F-1", HIGH)
    world.invoice(world.customer_id, "F-2", HIGH, ("Licentie", "1", "100.00", "BTW hoog 21%"))
    world.invoice(world.customer_id, "F-3", UNMAPPED)
    world.sync()
    world.pay("F-1", "121.00")
    world.pay("F-2", "122.00")
    world.sync()
    world.release()
    yield world
    world.close()


def table_rows(app, selector: str = "#pending-table") -> dict[str, list[str]]:
    table = app.screen.query_one(selector, DataTable)
    return {str(table.get_row_at(i)[0]): [str(c) for c in table.get_row_at(i)] for i in range(table.row_count)}


async def select(app, pilot, number: str) -> None:
    table = app.screen.query_one("#pending-table", DataTable)
    table.move_cursor(row=list(table_rows(app)).index(number))
    await pilot.pause()


async def details_text(app, pilot) -> str:
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, DetailsScreen), what="the details")
    text = str(app.screen.query_one("#details-text").render())
    await pilot.press("escape")
    await settle(app, pilot)
    return text


async def test_a_partly_paid_invoice_shows_its_open_amount_and_a_paid_one_is_gone(office):
    app = create_app(office.world.config_path, office.world.state_dir, engine_mode="attach")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pending(app, pilot)
        rows = table_rows(app)
        assert set(rows) == {"F-2", "F-3"}  # F-1 is paid: nothing pending
        assert rows["F-2"][1:3] == ["PART PAID", "€ 242,00"]
        assert rows["F-2"][5] == "partly paid, € 120,00 of € 242,00 open"
        assert rows["F-3"][1] == "BLOCKED" and "'BTW 0%' is not mapped" in rows["F-3"][5]

        await pilot.press("slash", *"partly", "enter")
        await settle(app, pilot)
        assert list(table_rows(app)) == ["F-2"]
        await pilot.press("slash", "ctrl+u", "enter", "o", "o", "o", "o")  # age -> ... -> open amount
        await settle(app, pilot)
        # The blocked one waits for a person: it stays on top whatever the sort.
        assert app.screen.sort == "open" and list(table_rows(app)) == ["F-3", "F-2"]


def test_booked_invoices_are_listed_only_while_the_payments_job_watches_them(office, tmp_path):
    with Store.open(office.world.state_dir) as store:
        assert [i.invoice_number for i in read_pending(store, office.world.config_path)] == ["F-3", "F-2"]
        off = tmp_path / "payments-off.toml"
        off.write_text(office.world.config_path.read_text())
        off.chmod(0o600)
        update_config(off, {"payments.enabled": False})
        assert [i.invoice_number for i in read_pending(store, off)] == ["F-3"]
        # The CLI's pending list is unchanged: booked invoices wait for nothing pvsync does.
        assert [i.invoice_number for i in pending_invoices(store)] == ["F-3"]
        (unpaid,) = unpaid_invoices(store)
        assert unpaid.outstanding == unpaid.open_amount and str(unpaid.outstanding) == "120.00"


async def test_details_show_the_lines_their_vat_mapping_and_the_booking_the_current_config_makes(
        office, tmp_path):
    config_path = tmp_path / "config.toml"
    config_path.write_text(office.world.config_path.read_text())
    config_path.chmod(0o600)
    app = create_app(config_path, office.world.state_dir, engine_mode="attach")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pending(app, pilot)
        await select(app, pilot, "F-3")
        blocked = await details_text(app, pilot)
        assert "1. Export: 1 x € 80,00 = € 80,00" in blocked
        assert "BTW 0% (0%) -> not mapped for NL" in blocked
        assert "No booking can be made yet:" in blocked and "VAT mapping screen" in blocked

        set_vat_rule(config_path, "NL", "BTW 0%", "BI_EU_VERK", "8040")  # mapped since the last run
        mapped = await details_text(app, pilot)
        assert "BTW 0% (0%) -> BTW-code BI_EU_VERK, grootboekrekening 8040" in mapped
        assert "The booking the current config would make: FactuurVerstuurd on 1300, relation D1001" in mapped
        assert "8040 (Omzet export buiten de EU) BI_EU_VERK 0%: € 80,00 + VAT € 0,00 = € 80,00" in mapped
        assert "total € 80,00 (excl. VAT € 80,00, VAT € 0,00)" in mapped

        await select(app, pilot, "F-2")
        booked = await details_text(app, pilot)
        assert "The booking made as mutatie " in booked
        assert "8000 (Omzet hoog 21%) HOOG_VERK_21 21%: € 200,00 + VAT € 42,00 = € 242,00" in booked  # one line per VAT rate
        assert "Payment: partly paid, € 120,00 of € 242,00 open" in booked
        assert "received € 122,00, open € 120,00" in booked


# ---------------------------------------------------------------------- the open items report


async def open_report(app, pilot, messages) -> None:
    await open_pending(app, pilot)
    await pilot.press("p")
    await wait_until(pilot, lambda: isinstance(app.screen, OpenItemsScreen), what="the report")
    await wait_until(pilot, lambda: any(isinstance(m, (ReportRead, ReportUnavailable)) for m in messages),
                     what="the report's answer", timeout=20)
    await settle(app, pilot)


async def test_the_report_reads_both_services_in_a_worker_and_shows_its_three_sections(office):
    with Store.open(office.world.state_dir) as store:
        (f2,) = InvoiceJournal(store).by_number("F-2")
    office.eb.add_booking(Booking(  # booked by hand in e-Boekhouden: no PerfectView invoice
        MutatieSoort.FACTUUR_VERSTUURD, f2.booking.datum - timedelta(days=3), "1300", relation_code="D1001",
        invoice_number="HAND-7", description="Factuur HAND-7", in_ex_vat="EX",
        lines=(BookingLine(D(100), D(21), D(121), "HOOG_VERK_21", D(21), "8000", amount_entered=D(100)),)))
    office.pv.move_to_step(f2.activity_id, "Betaald")  # marked paid by hand, though € 120,00 is open
    before = office.world.eboekhouden.calls["GetOpenPosten"]
    messages = []
    app = create_app(office.world.config_path, office.world.state_dir, engine_mode="attach")
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await open_report(app, pilot, messages)
        status = str(app.screen.query_one("#report-status", Static).render())
        assert "disagree" in status
        assert list(table_rows(app, "#report-paid_but_open")) == ["F-2"]
        assert table_rows(app, "#report-paid_but_open")["F-2"][1] == "€ 120,00"
        assert list(table_rows(app, "#report-open_without_invoice")) == ["HAND-7"]
        assert not app.screen.query_one("#report-unpaid_but_settled", DataTable).display
        assert "Unpaid in PerfectView, settled in e-Boekhouden: none" in str(
            app.screen.query_one("#title-unpaid_but_settled", Static).render())
        await pilot.press("q")
        await settle(app, pilot)
        assert app.current_mode == "pending" and app.is_running
    assert office.world.eboekhouden.calls["GetOpenPosten"] == before + 1
    with Store.open(office.world.state_dir) as store:
        assert store.count_this_month("e-Boekhouden", "GetOpenPosten") == 3  # two runs and the report: metered


async def test_without_the_credentials_the_report_names_the_command_to_run_where_they_are(state_dir, tmp_path):
    config_path = tmp_path / "no-secrets.toml"  # the secrets live in the daemon's environment only
    write_new_config(config_path, {"eboekhouden.api": "soap", "eboekhouden.url": "http://127.0.0.1:9/soap.asmx",
                                   "perfectview.url": "http://127.0.0.1:9/perfectview.asmx"})
    messages = []
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await open_report(app, pilot, messages)
        (unavailable,) = [m for m in messages if isinstance(m, ReportUnavailable)]
        assert "cannot read eboekhouden.security_code_1" in unavailable.text
        assert "run `pvsync report open-items` there" in unavailable.text
        assert any("pvsync report open-items" in n.message for n in app._notifications)
        assert not any(isinstance(m, ReportRead) for m in messages)


async def test_a_service_failure_and_a_bug_become_notices_not_tracebacks(config_path, state_dir, monkeypatch):
    from core.sync import open_items_report as report_module

    def refused(store, config):
        raise ServiceError("e-Boekhouden", "GetOpenPosten", "the session was refused")

    monkeypatch.setattr(report_module, "read_open_items_report", refused)
    messages = []
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await open_report(app, pilot, messages)
        status = str(app.screen.query_one("#report-status", Static).render())
        assert status.startswith("The report could not be made: e-Boekhouden GetOpenPosten: the session was refused")
        assert any(n.severity == "warning" and "could not be made" in n.message for n in app._notifications)

        monkeypatch.setattr(report_module, "read_open_items_report", lambda store, config: 1 / 0)
        await pilot.press("r")
        await wait_until(pilot, lambda: "failed" in str(app.screen.query_one("#report-status", Static).render()),
                         what="the failure")
        await settle(app, pilot)
        assert any(n.severity == "error" and "ZeroDivisionError" in n.message for n in app._notifications)
        assert app.is_running


async def test_a_failing_read_of_the_pending_list_becomes_a_notice(config_path, state_dir, monkeypatch):
    from tui.screens import pending as pending_module

    def broken(store, config_path):
        raise RuntimeError("journal unreadable")

    monkeypatch.setattr(pending_module, "read_pending", broken)
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_pending(app, pilot)
        assert any(n.severity == "error" and "Reading the pending invoices failed: RuntimeError: journal unreadable"
                   in n.message for n in app._notifications)
        assert app.is_running and app.current_mode == "pending"


def test_the_new_keys_have_an_id_and_a_tooltip():
    from textual.binding import Binding

    from tui.screens.document_choice import DocumentChoiceScreen
    from tui.screens.pending import PendingScreen

    bindings = [b for cls in (PendingScreen, DocumentChoiceScreen, OpenItemsScreen) for b in cls.BINDINGS
                if isinstance(b, Binding)]
    assert {"pending-open-items", "pending-document", "document-choose", "report-read"} <= {b.id for b in bindings}
    assert [b.key for b in bindings if not b.id or not b.tooltip] == []
