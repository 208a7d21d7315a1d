"""The VAT mapping screen: PerfectView's VAT codes as rows, e-Boekhouden's ledgers to choose from,
checks before saving, saving keeps comments, and a blocked invoice is booked after the fix."""

from __future__ import annotations

import stat
from datetime import timedelta

import pytest
from textual.widgets import DataTable, Input, Select, Static

from core.config import load_config, write_new_config
from core.model import Ledger, PvVatCode, VatRule
from core.store import Store
from core.sync.catalog_snapshot import CatalogSnapshot, load_snapshot, save_snapshot
from tests.sync.invoices_world import InvoiceWorld
from tests.tui.conftest import NOW, frozen_clock, settle, wait_until
from tui.app import create_app
from tui.messages import VatRuleSaved
from tui.screens.vat import VatRuleEditor, check_vat_rule

COLUMN = {"pct": 1, "btw": 2, "ledger": 3, "check": 4, "wait": 5}
SNAPSHOT = CatalogSnapshot(
    NOW - timedelta(hours=3), "NL",
    (PvVatCode("v21", 21, "BTW hoog 21%"), PvVatCode("v9", 9, "BTW laag 9%"), PvVatCode("v0", 0, "BTW 0%"),
     PvVatCode("vv", 0, "BTW verlegd"), PvVatCode("veu", 0, "BTW EU 0%")),
    (Ledger(1, "1300", "Debiteuren", "DEB"), Ledger(2, "8000", "Omzet hoog", "VW"),
     Ledger(3, "8010", "Omzet laag", "VW"), Ledger(4, "8040", "Omzet export", "VW"),
     Ledger(5, "4500", "Kantoorkosten", "VW")))


def rows(app) -> dict[str, list[str]]:
    table = app.screen.query_one("#vat-table", DataTable)
    return {key.value: [str(cell) for cell in table.get_row(key)] for key in table.rows}


def cell(app, name: str, column: str) -> str:
    return rows(app)[name][COLUMN[column]]


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def open_vat(app, pilot) -> None:
    await settle(app, pilot)
    await pilot.press("3")
    await settle(app, pilot)


async def edit_row(app, pilot, name: str) -> VatRuleEditor:
    table = app.screen.query_one("#vat-table", DataTable)
    table.move_cursor(row=table.get_row_index(name))
    await pilot.press("enter")
    await settle(app, pilot)
    assert isinstance(app.screen, VatRuleEditor)
    return app.screen


@pytest.fixture
def snapshot(store):
    save_snapshot(store, SNAPSHOT)


async def test_without_a_snapshot_it_lists_the_mapping_and_says_the_codes_are_not_read_yet(config_path, state_dir):
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_vat(app, pilot)
        assert set(rows(app)) == set(load_config(config_path).vat.own_rules())
        assert (cell(app, "BTW hoog 21%", "btw"), cell(app, "BTW hoog 21%", "check")) == ("HOOG_VERK_21", "OK")
        assert "Own country: NL" in text_of(app, "#vat-country")
        assert "have not been read yet" in text_of(app, "#vat-snapshot")


async def test_the_rows_are_perfectviews_codes_with_their_percentage_and_what_is_not_mapped(
        config_path, state_dir, snapshot):
    app = create_app(config_path, state_dir, engine_mode="attach", clock=frozen_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_vat(app, pilot)
        shown = rows(app)
        assert list(shown) == [code.description for code in SNAPSHOT.vat_codes]
        assert shown["BTW 0%"][1:5] == ["0", "-", "-", "NOT MAPPED"]
        assert shown["BTW laag 9%"][1:5] == ["9", "LAAG_VERK_9", "8000 (Omzet hoog)", "OK"]
        assert "4 of 5 PerfectView VAT code(s) mapped" in text_of(app, "#vat-country")
        assert "read 3 h ago" in text_of(app, "#vat-snapshot")


async def test_a_rule_whose_ledger_or_rate_the_services_do_not_have_is_flagged(tmp_path, state_dir, store):
    path = tmp_path / "config.toml"
    write_new_config(path, {"vat.NL.BTW hoog 21%": {"btw_code": "HOOG_VERK_21", "ledger": "8999"},
                            "vat.NL.BTW laag 9%": {"btw_code": "HOOG_VERK_21", "ledger": "8010"},
                            "vat.NL.BTW oud": {"btw_code": "BI_EU_VERK", "ledger": "8010"}})
    save_snapshot(store, SNAPSHOT)
    app = create_app(path, state_dir, engine_mode="attach", clock=frozen_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_vat(app, pilot)
        assert cell(app, "BTW hoog 21%", "check") == "NO SUCH LEDGER"
        assert cell(app, "BTW laag 9%", "check") == "RATE DIFFERS"
        assert cell(app, "BTW oud", "check") == "NOT IN PERFECTVIEW"


def test_the_check_refuses_wrong_side_old_rates_unknown_codes_ledgers_and_percentages(config_path):
    assert check_vat_rule(config_path, "BTW hoog 21%", "HOOG_VERK_21", "8000") == []
    assert "not for sales" in check_vat_rule(config_path, "BTW hoog 21%", "HOOG_INK_21", "8000")[0]
    assert "old rate" in check_vat_rule(config_path, "BTW hoog 19%", "HOOG_VERK", "8000")[0]
    assert "not an e-Boekhouden BTW-code" in check_vat_rule(config_path, "X", "HOOG_VERK_12", "8000")[0]
    assert "Grootboekrekening" in check_vat_rule(config_path, "X", "HOOG_VERK_21", "")[0]
    assert "PerfectView VAT code" in check_vat_rule(config_path, " ", "HOOG_VERK_21", "8000")[0]
    # Against what the services have:
    assert check_vat_rule(config_path, "BTW 0%", "BU_EU_VERK", "8040", SNAPSHOT) == []
    assert check_vat_rule(config_path, "BTW 0%", "HOOG_VERK_21", "8040", SNAPSHOT) == [
        "'BTW 0%' is 0% in PerfectView but HOOG_VERK_21 is 21%: choose a BTW-code with the same percentage"]
    assert "no grootboekrekening 8999" in check_vat_rule(config_path, "BTW 0%", "BU_EU_VERK", "8999", SNAPSHOT)[0]
    assert "PerfectView has no VAT code 'BTW 6%'" in check_vat_rule(config_path, "BTW 6%", "BU_EU_VERK", "8040",
                                                                   SNAPSHOT)[0]


async def test_the_editor_refuses_a_debtors_ledger_and_saves_a_cost_ledger_only_when_confirmed(
        config_path, state_dir, snapshot):
    messages = []
    app = create_app(config_path, state_dir, engine_mode="attach", clock=frozen_clock)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await open_vat(app, pilot)
        editor = await edit_row(app, pilot, "BTW 0%")
        offered = [label for label, value in editor.query_one("#vat-ledger", Select)._options if value == "4500"]
        assert offered == ["4500  Kantoorkosten  (not revenue?)"]
        editor.query_one("#vat-btw", Select).value = "GEEN"  # offered for domestic 0 % and exempt sales
        assert check_vat_rule(config_path, "BTW 0%", "GEEN", "1300", SNAPSHOT) == [
            "grootboekrekening 1300 (Debiteuren) is a debtors ledger: turnover must go to a profit-and-loss "
            "(revenue) ledger; choose one of the 8000-range omzet ledgers"]
        editor.query_one("#vat-ledger", Select).value = "4500"
        await pilot.press("f2")
        await settle(app, pilot)
        warning = str(editor.query_one("#vat-problems", Static).render())
        assert app.screen is editor and "4500 (Kantoorkosten) is outside the revenue range" in warning
        assert "F2 (Save) again" in warning
        await pilot.press("f2")
        await settle(app, pilot)
        assert [m.perfectview_vat for m in messages if isinstance(m, VatRuleSaved)] == ["BTW 0%"]
        assert cell(app, "BTW 0%", "check") == "NOT REVENUE?"
        assert cell(app, "BTW 0%", "ledger") == "4500 (Kantoorkosten)"
    assert load_config(config_path).vat.own_rules()["BTW 0%"] == VatRule("BTW 0%", "GEEN", "4500")


async def test_editing_a_row_checks_first_and_saves_with_comments_kept(config_path, state_dir):
    messages = []
    comments_before = [line for line in config_path.read_text().splitlines() if line.startswith("#")]
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await open_vat(app, pilot)
        editor = await edit_row(app, pilot, "BTW EU 0%")
        assert editor.rule.perfectview_vat == "BTW EU 0%"
        editor.query_one("#vat-ledger", Input).value = "eight thousand"
        await pilot.press("f2")
        await settle(app, pilot)
        assert app.screen is editor  # refused, still open, and says why
        assert "Grootboekrekening" in str(editor.query_one("#vat-problems", Static).render())
        editor.query_one("#vat-ledger", Input).value = "8020"
        editor.query_one("#vat-btw", Select).value = "BI_EU_VERK"
        await pilot.press("f2")
        await settle(app, pilot)
        assert [m.perfectview_vat for m in messages if isinstance(m, VatRuleSaved)] == ["BTW EU 0%"]
        assert cell(app, "BTW EU 0%", "btw") == "BI_EU_VERK"
    rule = load_config(config_path).vat.own_rules()["BTW EU 0%"]
    assert (rule.btw_code, rule.ledger) == ("BI_EU_VERK", "8020")
    assert [line for line in config_path.read_text().splitlines() if line.startswith("#")] == comments_before


async def test_adding_a_row(config_path, state_dir):
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_vat(app, pilot)
        await pilot.press("a")
        await settle(app, pilot)
        editor = app.screen
        editor.query_one("#vat-pv", Input).value = "BTW buiten EU"
        editor.query_one("#vat-btw", Select).value = "BU_EU_VERK"
        editor.query_one("#vat-ledger", Input).value = "8100"
        await pilot.press("f2")
        await settle(app, pilot)
        assert cell(app, "BTW buiten EU", "btw") == "BU_EU_VERK"
    assert load_config(config_path).vat.own_rules()["BTW buiten EU"].ledger == "8100"


async def test_without_config_it_says_to_run_setup_first(missing_config, state_dir):
    app = create_app(missing_config, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_vat(app, pilot)
        assert "open Setup" in text_of(app, "#vat-problem")
        await pilot.press("a")
        await settle(app, pilot)
        assert not isinstance(app.screen, VatRuleEditor)


# --------------------------------------------------------------------------- against the simulators


async def test_an_invoice_waiting_on_an_unmapped_code_is_booked_once_the_console_maps_it(tmp_path):
    """The engine's run leaves the snapshot; the screen offers the real ledgers, refuses a
    percentage that does not fit, and the invoice is booked in the run after the save."""
    with InvoiceWorld(tmp_path) as world:
        world.invoice(world.customer("D1001"), "F-EXPORT", ("Export", "1", "80.00", "BTW 0%"))
        world.sync()
        assert world.entry("F-EXPORT").block_code == "vat_unmapped"
        config_path, state_dir = world.world.config_path, world.world.state_dir
        ledgers = {ledger.code for ledger in world.eb.ledgers(category="VW")}

        app = create_app(config_path, state_dir, engine_mode="attach")
        async with app.run_test(size=(120, 40)) as pilot:
            await open_vat(app, pilot)
            assert cell(app, "BTW 0%", "check") == "NOT MAPPED" and cell(app, "BTW 0%", "pct") == "0"
            assert cell(app, "BTW 0%", "wait") == "1" and cell(app, "BTW hoog 21%", "wait") == "0"
            editor = await edit_row(app, pilot, "BTW 0%")
            offered = {value for _, value in editor.query_one("#vat-ledger", Select)._options if value != Select.NULL}
            assert offered == ledgers
            editor.query_one("#vat-btw", Select).value = "HOOG_VERK_21"
            editor.query_one("#vat-ledger", Select).value = "8040"
            await pilot.press("f2")
            await settle(app, pilot)
            assert app.screen is editor
            assert "is 0% in PerfectView but HOOG_VERK_21 is 21%" in str(editor.query_one("#vat-problems").render())
            editor.query_one("#vat-btw", Select).value = "BU_EU_VERK"
            await pilot.press("f2")
            await settle(app, pilot)
            assert cell(app, "BTW 0%", "check") == "OK"

        world.reload_config()  # what the daemon does with the console's reload request
        world.sync()
        assert world.entry("F-EXPORT").state.value == "booked"
        (booking,) = world.booked("F-EXPORT")
        assert [(line.ledger, line.btw_code) for line in booking.lines] == [("8040", "BU_EU_VERK")]


async def test_f5_reads_the_services_live_when_this_console_has_the_credentials(tmp_path):
    with InvoiceWorld(tmp_path, loopback=True) as world:
        config_path, state_dir = world.world.config_path, world.world.state_dir
        assert stat.S_IMODE(config_path.stat().st_mode) == 0o600  # the secrets are in the file
        app = create_app(config_path, state_dir, engine_mode="attach")
        async with app.run_test(size=(120, 40)) as pilot:
            await open_vat(app, pilot)
            assert "have not been read yet" in text_of(app, "#vat-snapshot")
            await pilot.press("f5")
            await wait_until(pilot, lambda: "BTW 0%" in rows(app), what="the codes read live")
            assert cell(app, "BTW 0%", "check") == "NOT MAPPED"
        with Store.open(state_dir) as store:
            snapshot = load_snapshot(store)
            assert snapshot.own_country == "NL" and snapshot.ledger("8040") is not None
            assert store.count_today("e-Boekhouden", "GetGrootboekrekeningen") == 1  # counted like the engine's


async def test_f5_without_credentials_says_so_and_reads_nothing(tmp_path, state_dir):
    path = tmp_path / "config.toml"
    write_new_config(path, {})  # the secrets live only in the daemon's environment
    app = create_app(path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_vat(app, pilot)
        await pilot.press("f5")
        await settle(app, pilot)
        notices = [n.message for n in app._notifications]
        assert any("cannot read the services" in text and "daily full pass" in text for text in notices)
    with Store.open(state_dir) as store:
        assert load_snapshot(store) is None
