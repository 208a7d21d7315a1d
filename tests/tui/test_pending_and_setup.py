"""Pending invoices (retry, details, filter, sort) and Setup (writes a private config, tests connections)."""

from __future__ import annotations

import stat
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from textual.widgets import DataTable, Input, Select, Static

from core.config import load_config
from core.store import Store
from core.sync.invoice_commands import InvoiceListing
from tests.tui.conftest import NOW, SECRETS, frozen_clock, settle, type_at_once, typed, wait_until
from tui.screens import pending as pending_module
from tui.app import create_app
from tui.connection_check import check_connection
from tui.messages import ConfigWritten, InvoiceRetryRequested
from tui.screens.details import DetailsScreen
from tui.screens.setup import API_SELECT, field_id


NAMES = {"D1001": "Bakkerij Jansen", "D1002": "Garage De Vries"}


def row(activity_id: str, number: str, relation: str, state: str, reason: str, attempts: int, total: str,
        updated_at: datetime, block_code: str = "") -> InvoiceListing:
    return InvoiceListing(activity_id, number, state, relation, Decimal(total), None, reason, "", attempts,
                          updated_at, relation_name=NAMES.get(relation, ""), block_code=block_code)


VAT_REASON = ("PerfectView VAT code 'BTW 6%' is not mapped for NL — map it to a BTW-code and grootboekrekening in "
              "the VAT mapping screen")
JOURNAL = [
    row("a3", "F2026-003", "D1001", "ready", "", 0, "50.00", NOW - timedelta(minutes=5)),
    row("a1", "F2026-001", "D1001", "blocked", VAT_REASON, 0, "121.00", NOW - timedelta(minutes=1),
        block_code="vat_unmapped"),  # re-touched by every run: the newest change, yet it waits for you
    row("a2", "F2026-002", "D1002", "unknown", "no answer to AddMutatie; looked up next run", 1, "1234.56",
        NOW - timedelta(hours=3)),
]


@pytest.fixture
def journal(monkeypatch):
    # The journal's own reading is tested with the invoice job (tests/sync); here the
    # screen gets fixed rows so its sorting and wording can be checked exactly.
    monkeypatch.setattr(pending_module, "pending_invoices", lambda store: list(JOURNAL))


def table_keys(app) -> list[str]:
    table = app.screen.query_one("#pending-table", DataTable)
    return [table.coordinate_to_cell_key((row, 0)).row_key.value for row in range(table.row_count)]


async def open_pending(app, pilot) -> None:
    await settle(app, pilot)
    await pilot.press("4")
    await settle(app, pilot)


async def test_pending_invoices_show_state_and_reason_in_words_longest_waiting_first(
        config_path, state_dir, journal):
    app = create_app(config_path, state_dir, engine_mode="attach", clock=frozen_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_pending(app, pilot)
        # What waits for a person first (oldest change first among them), then what pvsync books itself.
        assert table_keys(app) == ["a2", "a1", "a3"]
        table = app.screen.query_one("#pending-table", DataTable)
        row = [str(cell) for cell in table.get_row("a1")]
        # At 80 columns number, state, amount and relation are whole; the reason is cut at a word...
        assert row[:4] == ["F2026-001", "BLOCKED", "€ 121,00", "Bakkerij Jan…"]
        assert row[4].startswith("PerfectView VAT code") and row[4].endswith("…")
        # ... and the detail line under the table has it whole, with the key to its fix.
        await pilot.press("down")
        detail = str(app.screen.query_one("#pending-detail", Static).render())
        assert "F2026-001 BLOCKED € 121,00, Bakkerij Jansen (D1001)" in detail
        assert "in the VAT mapping screen (f: map the VAT code)" in detail.replace("\n", " ")
        summary = str(app.screen.query_one("#pending-summary", Static).render())
        assert summary.startswith("2 wait for you (at the top); 1 for pvsync to book")
        await pilot.press("o", "o", "o")  # age -> invoice -> state -> amount
        await settle(app, pilot)
        assert table_keys(app) == ["a2", "a1", "a3"]
        await pilot.press("slash", *"D1001", "enter")
        await settle(app, pilot)
        assert table_keys(app) == ["a1", "a3"]
        assert "2 of 3 shown" in str(app.screen.query_one("#pending-summary", Static).render())


async def test_retry_now_writes_a_request_and_details_show_everything(config_path, state_dir, journal, store):
    messages = []
    app = create_app(config_path, state_dir, engine_mode="attach", clock=frozen_clock)
    store.update_engine(pid=__import__("os").getpid(), mode="daemon", state="idle")  # a daemon beats
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await open_pending(app, pilot)
        await pilot.press("r")
        await settle(app, pilot)
        [retry] = [m for m in messages if isinstance(m, InvoiceRetryRequested)]
        assert retry.activity_id == "a2"
        request = store.request(retry.request_id)
        assert (request.kind, request.payload, request.state) == ("retry_invoice", {"activity_id": "a2"}, "pending")
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DetailsScreen)
        text = str(app.screen.query_one("#details-text").render())
        assert "UNKNOWN" in text and "Attempts         1" in text and "€ 1.234,56" in text


async def test_an_empty_journal_lists_nothing_pending(config_path, state_dir):
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_pending(app, pilot)
        assert "Nothing waits for you" in str(app.screen.query_one("#pending-summary").render())


# ---------------------------------------------------------------------- setup


def fill(app, values: dict[str, str]) -> None:
    for key, value in values.items():
        app.screen.query_one(f"#{field_id(key)}", Input).value = value


def shown_inputs(app) -> list[str]:
    return [i.id for i in app.screen.query(Input) if i.display and i.parent.display and i.parent.parent.display]


async def test_setup_writes_a_private_config_and_the_console_starts_its_engine(missing_config, state_dir):
    messages = []
    app = create_app(missing_config, state_dir)
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await settle(app, pilot)
        assert app.current_mode == "setup"
        app.screen.query_one(f"#{API_SELECT}", Select).value = "soap"  # a customer with security codes
        await settle(app, pilot)
        shown = shown_inputs(app)
        assert field_id("eboekhouden.security_code_1") in shown and field_id("eboekhouden.api_token") not in shown
        secrets_inputs = [i for i in app.screen.query(Input) if i.password and i.id in shown]
        assert len(secrets_inputs) == 6
        fill(app, SECRETS | {"eboekhouden.url": "http://127.0.0.1:9/soap.asmx",
                             "perfectview.url": "http://127.0.0.1:9/perfectview.asmx",
                             "schedule.invoices": "15m"})
        await pilot.press("f2")
        await wait_until(pilot, lambda: app.link.mode.kind == "embedded", what="the engine after setup")
        assert [m.path for m in messages if isinstance(m, ConfigWritten)] == [missing_config]
        result = str(app.screen.query_one("#setup-result", Static).render())
        assert "saved and complete" in result
        notices = " ".join(n.message for n in app._notifications) + result
        assert not any(secret in notices for secret in SECRETS.values())
    assert stat.S_IMODE(missing_config.stat().st_mode) == 0o600
    config = load_config(missing_config)
    assert config.eboekhouden.api == "soap"
    assert config.schedule.invoices == timedelta(minutes=15)
    assert config.perfectview.api_key.reveal() == SECRETS["perfectview.api_key"]


REST_TOKEN = "pvsync-test-token-0123456789abcdefghij"


async def test_setup_asks_for_a_rest_token_and_source_first(missing_config, state_dir):
    """REST is the default: the form asks for the API token and the source (with its rule),
    and the config it writes is a REST one."""
    app = create_app(missing_config, state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.screen.query_one(f"#{API_SELECT}", Select).value == "rest"
        shown = shown_inputs(app)
        assert field_id("eboekhouden.api_token") in shown and field_id("eboekhouden.username") not in shown
        where = str(app.screen.query_one("#setup-eboekhouden-where", Static).render())
        assert "Koppelingen > API > e-Boekhouden API" in where and "1 to 10 letters" in where
        pv = {k: v for k, v in SECRETS.items() if k.startswith("perfectview.")}
        fill(app, pv | {"perfectview.url": "http://127.0.0.1:9/perfectview.asmx",
                        "eboekhouden.source": "pv-sync"})  # a hyphen: e-Boekhouden refuses it
        await pilot.press("f3")
        await app.workers.wait_for_complete()
        await settle(app, pilot)
        result = str(app.screen.query_one("#result-eboekhouden", Static).render())
        assert result.startswith("FAILED") and "source" in result
        fill(app, {"eboekhouden.api_token": REST_TOKEN, "eboekhouden.source": "pvsync"})
        await pilot.press("f2")
        await wait_until(pilot, lambda: "saved" in str(app.screen.query_one("#setup-result", Static).render()),
                         what="the config written")
    config = load_config(missing_config)
    assert config.eboekhouden.api == "rest" and config.eboekhouden.source == "pvsync"
    assert config.eboekhouden.api_token.reveal() == REST_TOKEN
    assert config.eboekhouden.address == "https://api.e-boekhouden.nl"
    assert "demo-gebruiker" not in missing_config.read_text()


def test_the_connection_check_says_which_api_it_tested():
    from core.eboekhouden.simulated_service import EboekhoudenService
    from core.soap.simulator import Knobs
    from core.soap.loopback import LoopbackServer

    service = EboekhoudenService(Knobs(), seed_data="empty")
    with LoopbackServer(service) as server:
        c = service.credentials
        rest = {"eboekhouden.api": "rest", "eboekhouden.url": server.url("/"), "eboekhouden.api_token": c.api_token,
                "eboekhouden.source": "pvsync"}
        ok, message = check_connection("eboekhouden", rest)
        assert ok and message.startswith("e-Boekhouden (REST API): reachable, credentials accepted"), message
        service.rest.revoke_token()
        ok, message = check_connection("eboekhouden", rest)
        assert not ok and message.startswith("e-Boekhouden (REST API): reachable, but it refused")
        assert "Koppelingen > API" in message and c.api_token not in message
        soap = {"eboekhouden.api": "soap", "eboekhouden.url": server.url(service.soap.path),
                "eboekhouden.username": c.username, "eboekhouden.security_code_1": c.security_code_1,
                "eboekhouden.security_code_2": c.security_code_2}
        ok, message = check_connection("eboekhouden", soap)
        assert ok and message.startswith("e-Boekhouden (SOAP API): reachable"), message


async def test_setup_never_replaces_an_existing_config(config_path, state_dir):
    before = config_path.read_text()
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.switch_mode("setup")
        await settle(app, pilot)
        await pilot.press("f2")
        await settle(app, pilot)
        assert any("does not replace" in n.message for n in app._notifications)
    assert config_path.read_text() == before


def test_connection_check_names_the_wrong_field_without_showing_it():
    values = {"perfectview.api_key": "not-a-guid-but-secret-ish", "perfectview.url": "http://127.0.0.1:9/pv.asmx"}
    ok, message = check_connection("perfectview", values)
    assert not ok and "api_key" in message and "not-a-guid-but-secret-ish" not in message


async def test_the_test_button_reports_an_unreachable_service(missing_config, state_dir):
    app = create_app(missing_config, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        fill(app, SECRETS | {"perfectview.url": "http://127.0.0.1:9/V1/perfectview.asmx"})  # nothing listens on 9
        await pilot.press("f4")
        await app.workers.wait_for_complete()
        await settle(app, pilot)
        result = str(app.screen.query_one("#result-perfectview", Static).render())
        assert result.startswith("FAILED") and "not reachable" in result
        assert SECRETS["perfectview.api_key"] not in result


def test_the_connection_check_accepts_a_real_service_with_its_credentials():
    from core.perfectview.simulator import PerfectViewSimulator
    from core.soap.loopback import LoopbackServer

    sim = PerfectViewSimulator(seed_data="empty")
    with LoopbackServer(sim) as server:
        c = sim.credentials
        values = {"perfectview.url": server.url(sim.path), "perfectview.api_key": c.api_key,
                  "perfectview.database_id": c.database_id, "perfectview.user_id": c.user_id}
        ok, message = check_connection("perfectview", values)
        assert ok, message
        wrong = dict(values, **{"perfectview.api_key": "00000000-0000-0000-0000-000000000001"})
        ok, message = check_connection("perfectview", wrong)
        assert not ok and "refused" in message and wrong["perfectview.api_key"] not in message


async def test_setup_checks_the_databases_and_writes_the_chosen_names_until_all_is_ok(tmp_path, state_dir):
    """The custom PerfectView database: F5 names what is missing, F6 writes the choices (comments kept)
    and checks again, until nothing a job needs is missing."""
    from textual.widgets import Select

    from core.demo.world import SimulatedWorld

    with SimulatedWorld(tmp_path / "world", seed="empty", perfectview_variant="custom", loopback=True) as world:
        path = world.config_path
        app = create_app(path, state_dir, engine_mode="attach", initial_mode="setup")
        async with app.run_test(size=(100, 40)) as pilot:
            await settle(app, pilot)
            await pilot.press("f5")
            await settle(app, pilot)
            result = str(app.screen.query_one("#result-databases", Static).render())
            # One round: the workflow's steps and fields are checked against the workflow proposed for it.
            assert "8 missing" in result
            assert "until the lines below are set" in result, "the choices are under the sentence here"
            shown = " ".join(str(s.render()) for s in app.screen.query("#setup-choices Static"))
            assert "Organisation has no field Administratie / Debiteurnummer" in shown
            assert "checked against workflow 'Factuur', the one suggested above" in shown
            offered = " ".join(str(s.render()) for s in app.screen.query("#setup-choices SelectCurrent Static"))
            assert '[invoices] workflow = "Factuur"' in offered  # the header too, not read as markup
            # Choose the steps' names among the offered ones, and write every choice at once.
            wanted = {"Verstuurd": "Verzonden", "Betaald": "Voldaan"}
            chosen = 0
            for number, finding in enumerate(app.screen._missing):
                for default, name in wanted.items():
                    if finding.key.startswith("perfectview.step.") and repr(default) in finding.what:
                        select = app.screen.query_one(f"#setup-choice-{number}", Select)
                        select.value = [fix.candidate for fix in finding.fixes].index(name)
                        chosen += 1
            assert chosen == 2
            await pilot.press("f6")
            await settle(app, pilot)
            result = str(app.screen.query_one("#result-databases", Static).render())
            assert result.startswith("OK: nothing a switched-on job needs is missing"), result
    text = path.read_text(encoding="utf-8")
    assert "# The PerfectView workflow (activity type) of sales invoices." in text  # the sample's comments
    config = load_config(path)
    assert config.invoices.workflow == "Factuur" and config.invoices.paid_step == "Voldaan"
    assert config.perfectview.fields.names["organisation.debtor_number"] == "Administratie / Debiteurnr."


async def test_keys_typed_during_a_screen_switch_reach_the_new_screen(config_path, state_dir, journal):
    """4 then Enter at once, as a person types them: Enter opens the first pending invoice,
    not whatever Enter does on the Status screen the 4 was typed on."""
    app = create_app(config_path, state_dir, engine_mode="attach", clock=frozen_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.current_mode == "status"
        type_at_once(app, ("4", "4"), ("enter", "\r"))
        await settle(app, pilot)
        assert app.current_mode == "pending"
        assert isinstance(app.screen, DetailsScreen)
        assert app.screen.title_text == "Invoice F2026-002"  # the first row: the oldest that waits for you


@pytest.mark.parametrize(("key", "opened"), [("2", "DetailsScreen"), ("3", "VatRuleEditor")])
async def test_enter_typed_right_after_the_logbook_or_vat_key_opens_that_screens_first_row(
        config_path, state_dir, store, key, opened):
    store.log("INFO", "engine", "an entry to open")
    app = create_app(config_path, state_dir, engine_mode="attach", clock=frozen_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        type_at_once(app, (key, key), ("enter", "\r"))
        await settle(app, pilot)
        assert app.current_mode == {"2": "logbook", "3": "vat"}[key]
        assert type(app.screen).__name__ == opened


async def test_a_filter_typed_at_once_goes_into_the_filter_box_digits_and_all(config_path, state_dir, journal):
    """/ then an invoice number, as quickly as a person types it over SSH: every character lands in
    the filter box. The box took the focus only after the next keys had been handed out, so the
    2 of F2026 switched to the Logbook and the 1 back to Status, and Enter opened a job there."""
    app = create_app(config_path, state_dir, engine_mode="attach", clock=frozen_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_pending(app, pilot)
        type_at_once(app, ("slash", "/"), *typed("F2026-001"), ("enter", "\r"))
        await settle(app, pilot)
        assert app.current_mode == "pending"
        assert table_keys(app) == ["a1"]
        summary = str(app.screen.query_one("#pending-summary", Static).render())
        assert '1 of 3 shown matching "F2026-001"' in summary
        # A / typed in the box is text, not another jump to the box.
        type_at_once(app, ("slash", "/"), *typed("x/y"))
        await settle(app, pilot)
        assert app.screen.query_one("#pending-text", Input).value == "x/y"


async def test_4_and_a_filter_typed_at_once_from_the_status_screen(config_path, state_dir, journal):
    """The Pending screen's first visit, typed in one go from Status: the box keeps the focus the
    / gave it (the table's first focus came later, after the keys, and took the Enter)."""
    app = create_app(config_path, state_dir, engine_mode="attach", clock=frozen_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        type_at_once(app, ("4", "4"), ("slash", "/"), *typed("F2026-001"), ("enter", "\r"))
        await settle(app, pilot)
        assert app.current_mode == "pending"
        assert table_keys(app) == ["a1"]
        assert isinstance(app.focused, DataTable)  # back on the list after Enter
