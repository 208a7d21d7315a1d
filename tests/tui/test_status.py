"""The status screen's connection health per service and its watchdog alerts, measured against
the config's own schedule; pictures of it (and of the VAT screen with PerfectView's codes) at
80x24 and 120x40.

Update the pictures after reviewing them:
`uv run pytest tests/tui/test_status.py --snapshot-update`.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from textual.widgets import OptionList, Static

from core.config import update_config
from core.store import store as store_module
from core.sync.catalog_snapshot import save_snapshot
from tests.tui.conftest import NOW, frozen_clock, minutes_before, settle
from tests.tui.test_vat import SNAPSHOT
from tui.app import create_app

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


def text_of(app, selector: str) -> str:
    if selector == "#attention":  # a list: Enter on an item goes to its fix
        return "\n".join(str(option.prompt) for option in app.screen.query_one(selector, OptionList).options)
    return str(app.screen.query_one(selector, Static).render())


def seed_trouble(store, monkeypatch) -> None:
    """A daemon beating at NOW whose invoices job failed three runs in a row on e-Boekhouden,
    the last successful one nine hours ago, and PerfectView's calls near the daily limit."""

    def at(minutes: float) -> None:
        moment = minutes_before(minutes)
        monkeypatch.setattr(store_module, "utc_now", lambda: moment)

    at(9 * 60)
    good = store.start_run("schedule", ["relations", "invoices"], "abc")
    store.finish_run(good, "ok", {"invoices": {"booked": 4}}, job_outcomes={"relations": "ok", "invoices": "ok"})
    for minutes in (200, 120, 40):
        at(minutes)
        run_id = store.start_run("schedule", ["invoices"], "abc")
        store.log("ERROR", "run", "invoices failed: TransportFailure: e-Boekhouden OpenSession: not reachable "
                                  "(connection refused)", run_id=run_id, subject="invoices")
        at(minutes - 1)
        store.finish_run(run_id, "failed", {}, "invoices: TransportFailure: e-Boekhouden OpenSession: not "
                                               "reachable", job_outcomes={"invoices": "failed"})
    for _ in range(9):
        store.record("PerfectView", "RelationGetAll")
    at(0.05)
    store.update_engine(pid=os.getpid(), mode="daemon", state="idle", started=True,
                        next_due={"relations": NOW + timedelta(hours=3), "invoices": NOW + timedelta(minutes=20)})
    monkeypatch.setattr(store_module, "utc_now", lambda: NOW)


@pytest.fixture
def trouble(store, monkeypatch, config_path):
    update_config(config_path, {"perfectview.daily_call_limit": 10})
    seed_trouble(store, monkeypatch)


def status_app(config_path, state_dir, mode="status"):
    return create_app(config_path, state_dir, engine_mode="attach", clock=frozen_clock, deterministic=True,
                      initial_mode=mode)


async def test_links_and_watchdog_alerts_are_said_in_words(config_path, state_dir, trouble):
    app = status_app(config_path, state_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        links = text_of(app, "#connections")
        assert "e-Boekhouden FAILING (2026-03-09 13:50 CET) in run 4: OpenSession: not reachable" in links
        assert "PerfectView  OK (2026-03-09 13:51 CET): no call failed in run 4; 9 calls today" in links
        attention = text_of(app, "#attention")
        assert "watchdog: invoices has had no successful run for 9h (it runs every 4h" in attention
        assert "watchdog: invoices failed in each of the last 3 runs (2, 3, 4)" in attention
        assert "watchdog: PerfectView: 9 of today's 10 calls used" in attention


async def test_the_alerts_follow_the_config_schedule(config_path, state_dir, trouble):
    update_config(config_path, {"schedule.invoices": "5h"})  # 2 x 5h > 9h: no longer overdue for a success
    app = status_app(config_path, state_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        attention = text_of(app, "#attention")
        assert "invoices has had no successful run" not in attention
        assert "relations has had no successful run for 9h (it runs every 4h" in attention
        assert "failed in each of the last 3 runs" in attention


async def test_a_quiet_state_has_no_alerts_and_no_calls_yet(config_path, state_dir, store):
    app = status_app(config_path, state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert "not called yet: no run has finished" in text_of(app, "#connections")
        assert "watchdog" not in text_of(app, "#attention")


@pytest.mark.parametrize("size", SIZES)
def test_status_with_alerts(snap_compare, config_path, state_dir, trouble, size):
    async def settled(pilot) -> None:
        await settle(pilot.app, pilot)

    assert snap_compare(status_app(config_path, state_dir), terminal_size=size, run_before=settled)


@pytest.mark.parametrize("size", SIZES)
def test_vat_with_perfectviews_codes(snap_compare, config_path, state_dir, store, size):
    save_snapshot(store, SNAPSHOT)

    async def settled(pilot) -> None:
        await settle(pilot.app, pilot)

    assert snap_compare(status_app(config_path, state_dir, "vat"), terminal_size=size, run_before=settled)


async def test_on_rest_the_calls_are_counted_without_a_budget(config_path, state_dir, trouble, store):
    update_config(config_path, {"eboekhouden.api": "rest", "eboekhouden.url": "http://127.0.0.1:9/"})
    for _ in range(7):
        store.record("e-Boekhouden", "GET /v1/mutation")
    app = status_app(config_path, state_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        calls = text_of(app, "#calls-line")
        assert "e-Boekhouden 7 REST calls today (no published quota)" in calls and "GetMutaties" not in calls
        assert "e-Boekhouden FAILING" in text_of(app, "#connections")
