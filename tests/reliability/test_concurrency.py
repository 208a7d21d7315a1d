"""A daemon, three consoles and CLI commands on one state folder: the short version.

The soak in tests/soak/concurrency.py, run for a few seconds: the daemon and the three
headless consoles are real processes, the CLI commands too. Every request a console
wrote is answered exactly once, no two runs overlap, `pvsync sync` is refused while the
daemon holds the folder, and "database is locked" appears nowhere.
The ten-minute version: `uv run python -m tests.soak.concurrency --minutes 10`.
"""

from __future__ import annotations

import pytest

from tests.soak.concurrency import soak

pytestmark = pytest.mark.loopback


def test_daemon_consoles_and_cli_share_one_state_folder(tmp_path):
    result = soak(12, root=tmp_path, seed=3)
    assert result["console_errors"] == [] and result["daemon_exit"] == 0
    assert result["requests_made"] >= 3, "the consoles asked for syncs and reloads"
    assert result["requests_served"] == result["requests_made"] and result["requests_unanswered"] == 0
    assert result["runs"] >= 1 and result["overlapping_runs"] == 0
    assert result["database_locked"] == 0
    assert result["ok"]
