"""Each screen at 80x24 and 120x40, on a seeded state with fixed times, no pids and no temp paths.

Update after reviewing the report: `uv run pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from textual.widgets import Input

from core.store import store as store_module
from tests.tui.conftest import NOW, frozen_clock, minutes_before, settle
from tests.tui.test_pending_and_setup import JOURNAL
from tui.screens import pending as pending_module
from tui.app import create_app

MODES = {"1": "status", "2": "logbook", "3": "vat", "4": "pending"}
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


def seed_world(store, monkeypatch) -> None:
    """A daemon mid-run after a partial run, with a logbook and call counts, at fixed moments."""

    def at(minutes: float) -> None:
        moment = minutes_before(minutes)
        monkeypatch.setattr(store_module, "utc_now", lambda: moment)

    at(250)
    first = store.start_run("schedule", ["relations", "invoices", "payments"], "abc")
    store.log("INFO", "run", f"run {first} started (schedule)", run_id=first)
    at(248)
    store.finish_run(first, "ok", {"relations": {"created": 3, "updated": 12}, "invoices": {"booked": 7}},
                     job_outcomes={"relations": "ok", "invoices": "ok", "payments": "ok"})
    store.log("INFO", "run", f"run {first} ok in 118.0 s", run_id=first)
    at(30)
    second = store.start_run("forced", ["relations", "invoices"], "abc")
    store.log("WARNING", "invoice", "VAT code BTW 6% is not mapped; the invoice waits", subject="F2026-014",
              run_id=second)
    at(29)
    store.finish_run(second, "partial", {"invoices": {"booked": 2, "blocked": 1}},
                     "invoices: 1 invoice blocked", job_outcomes={"relations": "ok", "invoices": "partial"})
    store.log("WARNING", "run", f"run {second} partial in 61.2 s: invoices: 1 invoice blocked", run_id=second)
    for number in range(12):
        store.record("PerfectView", "RelationGet")
    for number in range(3):
        store.record("e-Boekhouden", "GetMutaties")
    at(1)
    third = store.start_run("schedule", ["relations", "invoices"], "abc")
    store.log("INFO", "run", f"run {third} started (schedule): relations, invoices", run_id=third)
    store.log("ERROR", "relation", "e-Boekhouden refused relation D1009: Code too long (max 15)",
              subject="D1009", run_id=third)
    at(0.05)
    store.update_engine(pid=os.getpid(), mode="daemon", state="running", current_run_id=third,
                        progress={"relations: read": {"done": 40, "total": 40},
                                  "relations: apply": {"done": 12, "total": 30, "created": 2, "updated": 9}},
                        next_due={"relations": NOW + timedelta(hours=4), "invoices": NOW + timedelta(minutes=15)})
    monkeypatch.setattr(store_module, "utc_now", lambda: NOW)


@pytest.fixture
def world(store, monkeypatch):
    seed_world(store, monkeypatch)
    monkeypatch.setattr(pending_module, "pending_invoices", lambda store: list(JOURNAL))


def snapshot_app(config_path, state_dir, key: str | None = None):
    # The screen is chosen at start: the number keys themselves are tested in test_app.py.
    return create_app(config_path, state_dir, engine_mode="attach", clock=frozen_clock, deterministic=True,
                      initial_mode=MODES.get(key))


def opened(key: str | None = None):
    async def run_before(pilot) -> None:
        app = pilot.app
        await settle(app, pilot)
        for box in app.screen.query(Input):
            box.cursor_blink = False  # a blinking cursor would make the picture flicker
        await settle(app, pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("key", [pytest.param("1", id="status"), pytest.param("2", id="logbook"),
                                 pytest.param("3", id="vat"), pytest.param("4", id="pending")])
def test_screen(snap_compare, world, config_path, state_dir, key, size):
    assert snap_compare(snapshot_app(config_path, state_dir, key), terminal_size=size, run_before=opened(key))


@pytest.mark.parametrize("size", SIZES)
def test_setup_on_first_start(snap_compare, missing_config, state_dir, size):
    assert snap_compare(snapshot_app(missing_config, state_dir), terminal_size=size, run_before=opened(None))
