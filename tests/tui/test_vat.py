"""The VAT mapping screen: the own country's rows, checks before saving, saving keeps comments."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Select, Static

from core.config import load_config
from tests.tui.conftest import settle
from tui.app import create_app
from tui.messages import VatRuleSaved
from tui.screens.vat import VatRuleEditor, check_vat_rule


def rows(app) -> dict[str, list[str]]:
    table = app.screen.query_one("#vat-table", DataTable)
    return {key.value: [str(cell) for cell in table.get_row(key)] for key in table.rows}


async def open_vat(app, pilot) -> None:
    await settle(app, pilot)
    await pilot.press("3")
    await settle(app, pilot)


async def test_it_lists_the_own_countrys_mapping(config_path, state_dir):
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_vat(app, pilot)
        shown = rows(app)
        assert shown["BTW hoog 21%"][1:2] == ["HOOG_VERK_21"] and shown["BTW hoog 21%"][2:4] == ["8000", "OK"]
        assert set(shown) == set(load_config(config_path).vat.own_rules())
        assert "Own country: NL" in str(app.screen.query_one("#vat-country", Static).render())


async def test_editing_a_row_checks_first_and_saves_with_comments_kept(config_path, state_dir):
    messages = []
    comments_before = [line for line in config_path.read_text().splitlines() if line.startswith("#")]
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await open_vat(app, pilot)
        await pilot.press("enter")  # the first row: BTW EU 0% (sorted by name)
        await settle(app, pilot)
        editor = app.screen
        assert isinstance(editor, VatRuleEditor) and editor.rule.perfectview_vat == "BTW EU 0%"
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
        assert rows(app)["BTW EU 0%"][1] == "BI_EU_VERK"
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
        assert rows(app)["BTW buiten EU"][1] == "BU_EU_VERK"
    assert load_config(config_path).vat.own_rules()["BTW buiten EU"].ledger == "8100"


def test_the_check_refuses_purchase_codes_old_rates_unknown_codes_and_bad_ledgers(config_path):
    assert check_vat_rule(config_path, "BTW hoog 21%", "HOOG_VERK_21", "8000") == []
    assert "not for sales" in check_vat_rule(config_path, "BTW hoog 21%", "HOOG_INK_21", "8000")[0]
    assert "old rate" in check_vat_rule(config_path, "BTW hoog 19%", "HOOG_VERK", "8000")[0]
    assert "not an e-Boekhouden BTW-code" in check_vat_rule(config_path, "X", "HOOG_VERK_12", "8000")[0]
    assert "Grootboekrekening" in check_vat_rule(config_path, "X", "HOOG_VERK_21", "")[0]
    assert "PerfectView VAT code" in check_vat_rule(config_path, " ", "HOOG_VERK_21", "8000")[0]


async def test_without_config_it_says_to_run_setup_first(missing_config, state_dir):
    app = create_app(missing_config, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_vat(app, pilot)
        assert "open Setup" in str(app.screen.query_one("#vat-problem", Static).render())
        await pilot.press("a")
        await settle(app, pilot)
        assert not isinstance(app.screen, VatRuleEditor)
