"""The logbook screen: pages by id, follows at the bottom, filters, details, CSV export."""

from __future__ import annotations

import csv
import stat
from datetime import datetime

from core import clock
from core.model import AMSTERDAM

from core.store import Store
from tests.tui.conftest import settle, type_at_once, typed
from tui.app import create_app
from tui.logbook_query import LogFilter, export_csv
from tui.messages import LogbookExported
from tui.screens.details import DetailsScreen
from tui.screens.logbook import ExportScreen
from tui.widgets.logbook_view import PAGE, WINDOW, LogbookView


def seed(store: Store, count: int, *, start: int = 0) -> None:
    """`count` entries in one transaction: every 10th a WARNING about an invoice, in runs of 100."""
    with store.write():
        for number in range(start, start + count):
            if number % 10 == 0:
                store.log("WARNING", "invoice", f"entry {number} waits", subject=f"F{number}", run_id=number // 100 + 1)
            else:
                store.log("INFO", "relation", f"entry {number} synced", run_id=number // 100 + 1)


async def open_logbook(app, pilot) -> LogbookView:
    await settle(app, pilot)
    await pilot.press("2")
    await settle(app, pilot)
    return app.screen.query_one(LogbookView)


async def test_a_large_logbook_opens_at_the_newest_page_and_keeps_only_a_window(config_path, state_dir, store):
    seed(store, 1000)
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_logbook(app, pilot)
        assert len(view.entries) == PAGE
        assert view.current.message == "entry 999 synced" and view.following and view.has_older
        for _ in range(5):  # page back beyond one window (a page of the view is 19 lines here)
            await pilot.press(*["pageup"] * 8)
            await settle(app, pilot)
        assert len(view.entries) <= WINDOW
        assert view.has_newer and not view.following
        assert view.current.message != "entry 999 synced"  # moved back
        ids = [entry.id for entry in view.entries]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)  # no gaps from paging: contiguous ids
        assert ids[-1] - ids[0] == len(ids) - 1
        await pilot.press("home")
        await settle(app, pilot)
        assert view.current.message == "entry 0 waits"
        await pilot.press("end")
        await settle(app, pilot)
        assert view.current.message == "entry 999 synced" and view.following


async def test_it_follows_new_entries_at_the_bottom_and_not_when_scrolled_up(config_path, state_dir, store):
    seed(store, 50)
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_logbook(app, pilot)
        store.log("ERROR", "run", "run 9 failed")
        app._tick()
        await settle(app, pilot)
        assert view.current.message == "run 9 failed"  # followed
        await pilot.press("up", "up")
        await settle(app, pilot)
        reading = view.current
        store.log("INFO", "run", "run 10 started")
        app._tick()
        await settle(app, pilot)
        assert view.current == reading  # the reader's place is kept
        await pilot.press("end")
        await settle(app, pilot)
        assert view.current.message == "run 10 started"


async def test_filters_by_level_kind_text_and_run(config_path, state_dir, store):
    seed(store, 300)
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_logbook(app, pilot)
        await pilot.press("l", "l")  # DEBUG -> INFO -> WARNING and worse
        await settle(app, pilot)
        assert {entry.level for entry in view.entries} == {"WARNING"} and len(view.entries) == 30
        await pilot.press("l", "l")  # ERROR, then back to all
        await settle(app, pilot)
        await pilot.press("k", "k")  # engine, run
        await settle(app, pilot)
        assert view.entries == []
        await pilot.press("c")
        await settle(app, pilot)
        # Typed as quickly as over SSH: the 1 and 2 are text in the box, not screen keys.
        type_at_once(app, ("slash", "/"), *typed("entry 12"), ("enter", "\r"))
        await settle(app, pilot)
        assert sorted(entry.message for entry in view.entries) == [
            "entry 12 synced", *sorted(f"entry {n} {'waits' if n % 10 == 0 else 'synced'}" for n in range(120, 130))]
        assert view.has_focus  # back on the list after Enter
        await pilot.press("c", "home")  # select entry 0 (run 1)
        await settle(app, pilot)
        await pilot.press("r")
        await settle(app, pilot)
        assert {entry.run_id for entry in view.entries} == {1} and len(view.entries) == 100


async def test_enter_shows_an_entry_in_full(config_path, state_dir, store):
    store.log("ERROR", "invoice", "booking refused [AddMutatie]", subject="F2026-001",
              details={"code": "E042", "hint": "check the ledger"})
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_logbook(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DetailsScreen)
        text = str(app.screen.query_one("#details-text").render())
        assert "booking refused [AddMutatie]" in text and "F2026-001" in text and '"code": "E042"' in text
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.current_mode == "logbook" and not isinstance(app.screen, DetailsScreen)


async def test_export_writes_the_filtered_entries_to_a_private_csv(config_path, state_dir, store, tmp_path):
    seed(store, 40)
    target = tmp_path / "out" / "logbook.csv"
    messages = []
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await open_logbook(app, pilot)
        await pilot.press("l", "l", "e")  # WARNING and worse, then export
        await settle(app, pilot)
        assert isinstance(app.screen, ExportScreen)
        app.screen.query_one("#export-path").value = str(target)
        await pilot.press("enter")
        await settle(app, pilot)
        [exported] = [m for m in messages if isinstance(m, LogbookExported)]
    assert exported.entries == 4 and exported.path == target
    rows = read_export(target)
    assert [row["message"] for row in rows] == [f"entry {n} waits" for n in (0, 10, 20, 30)]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_export_defuses_spreadsheet_formulas(store, tmp_path):
    store.log("INFO", "relation", "=HYPERLINK(\"http://evil\")", subject="@SUM(A1)")
    path = tmp_path / "x.csv"
    assert export_csv(store, LogFilter(), path) == 1
    [row] = read_export(path)
    assert row["message"].startswith("'=") and row["subject"].startswith("'@")


def test_export_pages_through_a_logbook_larger_than_one_page(store, tmp_path):
    seed(store, 2300)
    path = tmp_path / "all.csv"
    assert export_csv(store, LogFilter(), path) == 2300
    assert len(read_export(path)) == 2300


def read_export(path):
    return list(csv.DictReader(path.open(encoding="utf-8-sig"), delimiter=";"))


def test_export_opens_in_columns_with_times_in_the_display_zone(store, tmp_path, monkeypatch):
    store.log("INFO", "relation", "Café De Zon; 3 velden, € 12,50", subject="D1")
    path = tmp_path / "x.csv"
    monkeypatch.setattr(clock, "_zone", clock.zone_named("Europe/Amsterdam"))
    assert export_csv(store, LogFilter(), path) == 1
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), "the byte order mark tells a spreadsheet it is UTF-8"
    header, line = data.decode("utf-8-sig").splitlines()
    assert header == "id;at;zone;level;kind;run_id;subject;message;details"
    [row] = read_export(path)
    assert row["message"] == "Café De Zon; 3 velden, € 12,50" and row["subject"] == "D1"
    [entry] = store.logbook_page()
    at = datetime.strptime(row["at"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=AMSTERDAM)
    assert at == entry.at.replace(microsecond=0) and row["zone"] in ("CET", "CEST")


async def test_2_and_a_search_typed_at_once_from_the_status_screen(config_path, state_dir, store):
    """The Logbook's first visit, typed in one go: the search box keeps the focus the / gave it."""
    seed(store, 300)
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        type_at_once(app, ("2", "2"), ("slash", "/"), *typed("entry 12"), ("enter", "\r"))
        await settle(app, pilot)
        view = app.screen.query_one(LogbookView)
        assert app.current_mode == "logbook"
        assert sorted(entry.message for entry in view.entries)[0] == "entry 12 synced"
        assert len(view.entries) == 11 and view.has_focus
