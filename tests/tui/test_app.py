"""The console as a whole: modes and keys, embedded and attached engines, sync now, refresh, failures."""

from __future__ import annotations

from core.demo.world import SimulatedWorld
from core.store import Store

import os

from textual.binding import Binding
from textual.widgets import Static

from core.engine import EngineLock
from core.secrets import Secret
from tests.tui.conftest import frozen_clock, settle, wait_until
from tui import app as app_module
from tui.app import PvsyncApp, create_app, run_demo
from tui.commands import PvsyncCommands
from tui.messages import EngineModeChanged, StateRefreshed, SyncRequested
from tui.screens.help import HelpScreen


def static_text(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def test_without_config_it_opens_on_setup_and_says_why_no_engine_runs(missing_config, state_dir):
    app = create_app(missing_config, state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.current_mode == "setup"
        await pilot.press("ctrl+p")  # leave setup the way the intro says
        await pilot.press(*"status", "enter")
        await settle(app, pilot)
        assert app.current_mode == "status"
        assert "no engine: there is no config file yet" in static_text(app, "#engine-line")


async def test_sync_key_without_engine_requests_nothing_and_says_so(missing_config, state_dir, store):
    messages = []
    app = create_app(missing_config, state_dir)
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await settle(app, pilot)
        await pilot.press("1", "s")
        await settle(app, pilot)
        assert not [m for m in messages if isinstance(m, SyncRequested)]
        assert store.claim_request() is None
        assert any("Nothing was requested" in n.message for n in app._notifications)


async def test_number_keys_switch_screens_and_the_footer_shows_each_screens_keys(config_path, state_dir):
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        seen = {}
        for key, mode in (("2", "logbook"), ("3", "vat"), ("4", "pending"), ("1", "status")):
            await pilot.press(key)
            await settle(app, pilot)
            assert app.current_mode == mode
            seen[mode] = {b.binding.id for b in app.screen.active_bindings.values() if b.binding.show}
        assert "log-export" in seen["logbook"] and "log-export" not in seen["status"]
        assert "pending-retry" in seen["pending"] and "vat-add" in seen["vat"]
        assert all({"sync-now", "help", "quit"} <= ids for ids in seen.values())


def test_every_binding_has_an_id_and_a_tooltip():
    classes = [PvsyncApp, *PvsyncApp.MODES.values()]
    from tui.screens.logbook import ExportScreen
    from tui.screens.vat import VatRuleEditor
    from tui.widgets.logbook_view import LogbookView

    classes += [ExportScreen, VatRuleEditor, LogbookView, HelpScreen]
    bindings = [b for cls in classes for b in cls.__dict__.get("BINDINGS", []) if isinstance(b, Binding)]
    assert len(bindings) > 20
    missing = [b.key for b in bindings if not b.id or not b.tooltip]
    assert missing == []


async def test_embedded_the_console_runs_the_engine_and_s_starts_a_forced_run(tmp_path):
    messages = []
    with SimulatedWorld(tmp_path, loopback=True) as world:  # real jobs against both simulators
        state_dir = world.state_dir
        app = create_app(world.config_path, state_dir, engine_mode="auto")
        async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
            await wait_until(pilot, lambda: app.link.mode.kind == "embedded", what="the embedded engine")
            assert app.link.mode.pid == os.getpid()
            store = Store.open(state_dir)
            await wait_until(pilot, lambda: store.last_run() is not None and store.last_run().finished_at,
                             what="the scheduled first run", timeout=60)
            assert store.last_run().outcome == "ok"
            await pilot.press("s")
            await wait_until(pilot, lambda: any(isinstance(m, SyncRequested) for m in messages), what="request")
            await wait_until(pilot, lambda: store.last_run().trigger == "forced" and store.last_run().finished_at,
                             what="the forced run", timeout=60)
            # q asks first while the console's engine runs a run: wait until the console has seen it end.
            await wait_until(pilot, lambda: (app._tick(), app.state.current_run is None)[1],
                             what="the console to see the run end")
            await settle(app, pilot)
            assert "embedded: this console runs the engine" in static_text(app, "#engine-line")
            await pilot.press("q")
        # Quitting stops the embedded engine cleanly: lock released, engine marked stopped.
        assert store.engine_status().state == "stopped"
        store.close()
        lock = EngineLock(state_dir)
        lock.acquire()
        lock.release()


async def test_attached_s_writes_a_request_for_the_daemon(config_path, state_dir, store):
    daemon_lock = EngineLock(state_dir)
    daemon_lock.acquire()  # a daemon holds the state folder
    store.update_engine(pid=os.getpid(), mode="daemon", state="idle")
    try:
        messages = []
        app = create_app(config_path, state_dir, engine_mode="auto")
        async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
            await settle(app, pilot)
            assert [m.mode.kind for m in messages if isinstance(m, EngineModeChanged)] == ["attached"]
            assert f"attached to daemon (pid {os.getpid()})" in static_text(app, "#engine-line")
            await pilot.press("s")
            await settle(app, pilot)
            [requested] = [m for m in messages if isinstance(m, SyncRequested)]
            claimed = store.claim_request()
            assert claimed.id == requested.request_id and claimed.kind == "sync"
            assert claimed.payload == {"only": None}
    finally:
        daemon_lock.release()


async def test_state_is_read_again_only_when_another_connection_committed(config_path, state_dir, store):
    messages = []
    app = create_app(config_path, state_dir, engine_mode="attach", clock=frozen_clock)
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await settle(app, pilot)
        refreshed = lambda: len([m for m in messages if isinstance(m, StateRefreshed)])  # noqa: E731
        before = refreshed()
        app._tick()
        await settle(app, pilot)
        assert refreshed() == before  # nothing committed, clock still: no read
        store.log("INFO", "engine", "something happened")

        def ticked_and_read() -> bool:
            # A tick while the once-a-second refresh (started before the commit) still runs
            # is skipped; the next one reads.
            app._tick()
            return refreshed() > before

        await wait_until(pilot, ticked_and_read, timeout=5, what="a read after the commit")
        await settle(app, pilot)
        assert refreshed() == before + 1


async def test_a_failing_worker_becomes_a_notice_without_the_secret(config_path, state_dir, monkeypatch):
    secret = Secret("hunter2-very-secret")

    def broken(*args, **kwargs):
        raise RuntimeError(f"database exploded near {secret.reveal()}")

    monkeypatch.setattr(app_module, "read_state", broken)
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        notices = [n.message for n in app._notifications]
        assert any("Reading the state failed" in text and "database exploded" in text for text in notices)
        assert not any("hunter2-very-secret" in text for text in notices)
        assert app.is_running


async def test_a_failing_worker_of_any_screen_becomes_a_notice(config_path, state_dir):
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for key, mode in (("1", "status"), ("2", "logbook"), ("3", "vat"), ("4", "pending")):
            await pilot.press(key)
            await settle(app, pilot)

            def broken(mode=mode):
                raise RuntimeError(f"the {mode} screen's reader broke")

            app.screen.run_worker(broken, thread=True, exit_on_error=False, name=f"probe-{mode}")
            await wait_until(pilot, lambda: any(f"the {mode} screen's reader broke" in n.message
                                                for n in app._notifications))
        assert app.is_running


async def test_help_lists_the_keys_of_the_current_screen_and_q_closes_it(config_path, state_dir):
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("2", "question_mark")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        keys = str(app.screen.query_one("#help-keys", Static).render())
        assert "Export" in keys and "Level" in keys
        await pilot.press("q")
        await settle(app, pilot)
        assert app.is_running and app.current_mode == "logbook"


async def test_the_palette_offers_commands_that_fit_the_screen(config_path, state_dir):
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)

        async def titles() -> list[str]:
            provider = PvsyncCommands(app.screen)
            return [str(hit.display) async for hit in provider.discover()]

        on_status = await titles()
        await pilot.press("2")
        await settle(app, pilot)
        on_logbook = await titles()
        assert {"Sync now", "Open setup"} <= set(on_status)
        assert "Export logbook to CSV" in on_logbook and "Export logbook to CSV" not in on_status


async def test_it_survives_resizing(config_path, state_dir):
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        for size in ((120, 40), (60, 20), (80, 24)):
            await pilot.resize_terminal(*size)
            for key in "1234":
                await pilot.press(key)
            await settle(app, pilot)
        assert app.is_running


def test_the_demo_opens_and_quits_without_crashing():
    assert run_demo(smoke=True) == 0


async def test_every_screen_opens_from_the_palette(config_path, state_dir):
    titles = {"Logbook": "logbook", "VAT mapping": "vat", "Pending invoices": "pending", "Open setup": "setup",
              "Status": "status"}
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for title, mode in titles.items():
            provider = PvsyncCommands(app.screen)
            [hit] = [hit async for hit in provider.discover() if str(hit.display) == title]
            hit.command()
            await settle(app, pilot)
            assert app.current_mode == mode
