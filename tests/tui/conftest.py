"""Fixtures for the console tests: a state folder, a complete config, a frozen clock, and
helpers that wait for the console's workers instead of sleeping."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.worker import WorkerCancelled, WorkerFailed

from core.config import write_new_config
from core.secrets import Secret
from core.store import Store

NOW = datetime(2026, 3, 9, 13, 30, 0, tzinfo=UTC)  # 14:30 in Amsterdam

# Credentials in the formats the config loader checks; they reach no service.
SECRETS = {
    "eboekhouden.username": "demo-gebruiker",
    "eboekhouden.security_code_1": "0123456789abcdef0123456789abcdef",
    "eboekhouden.security_code_2": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    "perfectview.api_key": "2c5e28ba-2fa1-11d2-883f-0016d3cca428",
    "perfectview.database_id": "3d6e28ba-2fa1-11d2-883f-0016d3cca429",
    "perfectview.user_id": "4e7e28ba-2fa1-11d2-883f-0016d3cca42a",
}


@pytest.fixture(autouse=True)
def no_pvsync_environment(monkeypatch):
    """The developer's own PVSYNC_* variables must not change what a test sees."""
    for name in list(os.environ):
        if name.startswith("PVSYNC_"):
            monkeypatch.delenv(name)


@pytest.fixture
def state_dir(tmp_path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def config_path(tmp_path) -> Path:
    path = tmp_path / "config.toml"
    write_new_config(path, {key: Secret(value) for key, value in SECRETS.items()}
                     | {"eboekhouden.api": "soap", "eboekhouden.url": "http://127.0.0.1:9/soap.asmx",
                        "perfectview.url": "http://127.0.0.1:9/perfectview.asmx"})
    return path


@pytest.fixture
def missing_config(tmp_path) -> Path:
    return tmp_path / "no-config-here.toml"


@pytest.fixture
def store(state_dir):
    """A second connection to the state folder: the engine's or a daemon's point of view."""
    with Store.open(state_dir) as opened:
        yield opened


def frozen_clock():
    return NOW


async def settle(app, pilot, rounds: int = 4) -> None:
    """Wait until the console's workers (all but a serving engine) are done and their
    messages handled. Several rounds, because a finished worker may start the next."""
    for _ in range(rounds):
        await pilot.pause()
        # The engine worker of an attach-only console ends at once; an embedded one serves on.
        for worker in [w for w in app.workers if w.group != "engine" or app.link.policy == "attach"]:
            try:
                await worker.wait()
            except (WorkerCancelled, WorkerFailed):
                pass  # superseded by a newer one, or failed: the app turns that into a notice
    await pilot.pause()
    await tables_measured(app, pilot)


async def tables_measured(app, pilot, *, timeout: float = 5.0) -> None:
    """Wait until every DataTable has measured its new rows.

    A DataTable sizes its columns and rows only when its message queue runs empty (its
    Idle handler). On a busy machine a snapshot taken right after the rows were added
    caught the cells drawn in columns still as wide as their labels ("F2026-0", "BOOKE"):
    the pending snapshot failed about one run in four. Waiting for the measurement makes
    the picture the same on every run.
    """
    from textual.widgets import DataTable

    def measured() -> bool:
        return not any(table._require_update_dimensions or table._updated_cells or table._new_rows
                       for table in app.screen.query(DataTable))

    await wait_until(pilot, measured, timeout=timeout, what="the tables to measure their rows")


async def wait_until(pilot, condition, *, timeout: float = 10.0, what: str = "condition") -> None:
    """Wait for something another thread does (the embedded engine); fails after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def at(moment: datetime):
    """A clock for the store's timestamps while seeding, so snapshots show fixed times."""
    return lambda: moment


def minutes_before(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def type_at_once(app, *keys: tuple[str, str]) -> None:
    """Keys as a terminal delivers them when typed quickly: all queued before the console
    handles the first (pilot.press waits until the console is idle after every key)."""
    from textual import events

    for key, character in keys:
        event = events.Key(key, character)
        event.set_sender(app)
        app._driver.send_message(event)


def typed(text: str) -> list[tuple[str, str]]:
    """Each character of text as the key a terminal sends for it."""
    from textual.keys import _character_to_key

    return [(_character_to_key(character), character) for character in text]
