"""A run you can see, help that lists the console's own keys, `?` inside a dialog, and a
blocked invoice fixed from Needs attention: one console start per behaviour group, on a
daemon simulated by writing its rows (the engine itself is tested in tests/engine)."""

from __future__ import annotations

import os

from textual.widgets import OptionList, Static

from core.store import store as store_module
from tests.tui.conftest import NOW, frozen_clock, settle, wait_until
from tui.app import create_app
from tui.screens.details import DetailsScreen
from tui.screens.help import HelpScreen


async def test_a_short_run_shows_in_the_header_and_says_what_it_did(config_path, state_dir, store, monkeypatch):
    monkeypatch.setattr(store_module, "utc_now", lambda: NOW)
    store.update_engine(pid=os.getpid(), mode="daemon", state="idle")
    earlier = store.start_run("schedule", ["invoices"], "abc")
    store.finish_run(earlier, "ok", {"invoices": {"booked": 5}}, job_outcomes={"invoices": "ok"})
    app = create_app(config_path, state_dir, engine_mode="attach", clock=frozen_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.title == "pvsync" and not app._notifications  # a run before the console started is history
        run = store.start_run("forced", ["invoices", "payments"], "abc")
        await wait_until(pilot, lambda: f"RUN {run} RUNNING" in app.title, timeout=5, what="the run indicator")
        store.finish_run(run, "ok", {"invoices": {"booked": 2}, "payments": {"marked_paid": 1}},
                         job_outcomes={"invoices": "ok", "payments": "ok"})
        await wait_until(pilot, lambda: any(n.title == "Run finished" for n in app._notifications), timeout=5,
                         what="the run's notice")
        [notice] = [n for n in app._notifications if n.title == "Run finished"]
        assert notice.message == f"run {run}: 2 booked, 1 Betaald"
        assert f"RUN {run} OK" in app.title  # stays a moment, so even a run under a second is seen


async def test_help_groups_the_consoles_own_keys_and_question_mark_in_a_dialog_explains_it(config_path, state_dir):
    app = create_app(config_path, state_dir, engine_mode="attach", clock=frozen_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("4", "question_mark")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        keys = str(app.screen.query_one("#help-keys", Static).render())
        assert keys.index("This screen:") < keys.index("Retry now") < keys.index("Every screen:") \
            < keys.index("Sync now")
        assert "Cursor up" not in keys and "Focus Next" not in keys.title()  # Textual's widget keys stay out
        await pilot.press("q")
        await settle(app, pilot)
        app.push_screen(DetailsScreen("Invoice F-1", ["a line"]))
        await settle(app, pilot)
        await pilot.press("question_mark")  # explains the dialog instead of closing it
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        keys = str(app.screen.query_one("#help-keys", Static).render())
        assert "This dialog:" in keys and "Close" in keys and "Every screen" not in keys
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, DetailsScreen)


async def test_the_logbook_opens_at_the_newest_entry_and_says_when_it_no_longer_follows(
        config_path, state_dir, store):
    for number in range(60):
        store.log("INFO", "engine", f"entry {number}")
    app = create_app(config_path, state_dir, engine_mode="attach", clock=frozen_clock, initial_mode="logbook")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        view = app.screen.view
        filters = lambda: str(app.screen.query_one("#log-filters", Static).render())  # noqa: E731
        assert view.current.message == "entry 59" and view.scroll_y == view.max_scroll_y > 0
        assert "following new entries" in filters()
        await pilot.press(*["up"] * 30)
        await settle(app, pilot)
        assert "scrolled away from the newest: End or f goes back and follows" in filters()
        await pilot.press("slash", *"entry 1", "enter")
        await settle(app, pilot)
        await pilot.press("c")  # filters cleared: back at the newest, following
        await settle(app, pilot)
        assert view.current.message == "entry 59" and view.scroll_y == view.max_scroll_y
        assert "following new entries" in filters()


async def test_q_during_a_run_of_the_consoles_own_engine_asks_first(config_path, state_dir, store, monkeypatch):
    from tui.screens.confirm import ConfirmScreen

    monkeypatch.setattr(store_module, "utc_now", lambda: NOW)
    store.update_engine(pid=os.getpid(), mode="embedded", state="running")
    run = store.start_run("forced", ["invoices"], "abc")
    store.update_engine(pid=os.getpid(), mode="embedded", state="running", current_run_id=run)
    app = create_app(config_path, state_dir, engine_mode="attach", clock=frozen_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        monkeypatch.setattr(type(app.link), "embedded", property(lambda link: True))  # this console's engine
        await pilot.press("q")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen) and app.is_running
        assert f"Run {run} of this console's engine is in progress" in str(
            app.screen.query_one("#confirm-question", Static).render())
        await pilot.press("n")
        await settle(app, pilot)
        assert app.is_running and not isinstance(app.screen, ConfirmScreen)
        await pilot.press("q", "y")
        await settle(app, pilot)
        assert not app.is_running


async def test_a_blocked_invoice_is_fixed_from_needs_attention_and_the_sync_after_it_books_it(tmp_path):
    """Status names the invoice; Enter opens its VAT code's row in the editor; after saving the
    console offers to sync now; the run the daemon makes of that request books it, and the
    console says so."""
    from textual.widgets import Select

    from tests.sync.invoices_world import InvoiceWorld
    from tui.screens.confirm import ConfirmScreen
    from tui.screens.vat import VatRuleEditor

    with InvoiceWorld(tmp_path) as world:
        world.invoice(world.customer("D1001"), "F-EXPORT", ("Export", "1", "80.00", "BTW 0%"))
        world.sync()
        config_path, state_dir = world.world.config_path, world.world.state_dir
        world.engine.store.update_engine(pid=os.getpid(), mode="daemon", state="idle")  # a daemon beats
        app = create_app(config_path, state_dir, engine_mode="attach")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            attention = app.screen.query_one("#attention", OptionList)
            first = str(attention.get_option_at_index(0).prompt)
            assert first.startswith("invoice F-EXPORT") and "BLOCKED" in first and "'BTW 0%'" in first
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, VatRuleEditor), what="the VAT editor")
            editor = app.screen
            assert app.current_mode == "vat" and editor.perfectview_vat == "BTW 0%"
            editor.query_one("#vat-btw", Select).value = "BU_EU_VERK"
            editor.query_one("#vat-ledger", Select).value = "8040"
            await pilot.press("f2")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the offer to sync")
            await pilot.press("y")
            await settle(app, pilot)
            assert app.current_mode == "pending" and "SYNC REQUESTED" in app.title
            world.reload_config()  # what the daemon does with the console's requests
            world.sync()
            await wait_until(pilot, lambda: any(n.title == "Run finished" for n in app._notifications),
                             what="the run's notice")
            [notice] = [n for n in app._notifications if n.title == "Run finished"]
            assert "1 booked" in notice.message
        assert world.entry("F-EXPORT").state.value == "booked"
