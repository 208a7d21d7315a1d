"""The command line as a shell user meets it: one clock with the zone named, output that can
be piped into `head`, a header above the invoice list."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from core import cli, clock
from core.config import update_config
from core.store import Store
from core.store.records import to_text
from tests.cli.test_cli import env, run  # noqa: F401  (the fixture and the helper every CLI test uses)
from tests.engine.fixtures import PVSYNC

# Every test here runs with the config and state folder of its own in PVSYNC_CONFIG and PVSYNC_STATE_DIR.
pytestmark = pytest.mark.usefixtures("env")
WINTER = datetime.fromisoformat("2026-01-15T13:05:09+00:00")
SUMMER = datetime.fromisoformat("2026-07-15T13:05:09+00:00")


@pytest.fixture(autouse=True)
def keep_the_zone(monkeypatch):
    """Every `cli.main` sets the process's display zone from its config; put it back afterwards."""
    monkeypatch.setattr(clock, "_zone", clock.display_zone())


def seed_logbook(state_dir: Path, moments: list[datetime]) -> None:
    with Store.open(state_dir) as store:
        for n, moment in enumerate(moments):
            entry = store.log("INFO", "engine", f"entry {n}")
            store.conn.execute("UPDATE logbook SET at = ? WHERE id = ?", (to_text(moment), entry))


# --------------------------------------------------------------------------- one clock


def test_log_shows_times_in_amsterdam_with_the_zone_whatever_the_machine_runs_in(capsys, state_dir, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    seed_logbook(state_dir, [WINTER, SUMMER])
    code, out, _ = run(capsys, "log")
    assert code == 0
    assert out.splitlines() == ["2026-01-15 14:05:09 CET INFO    engine entry 0",
                                "2026-07-15 15:05:09 CEST INFO    engine entry 1"]


def test_display_timezone_sets_the_clock_of_log_and_since(capsys, state_dir, config_file):
    update_config(config_file, {"display.timezone": "America/New_York"})
    seed_logbook(state_dir, [WINTER, SUMMER])
    code, out, _ = run(capsys, "log")
    assert code == 0 and out.splitlines()[0] == "2026-01-15 08:05:09 EST INFO    engine entry 0"
    # A time without a zone is read in the same zone the output is written in.
    code, out, _ = run(capsys, "log", "--since", "2026-07-15T09:05")
    assert out.splitlines() == ["2026-07-15 09:05:09 EDT INFO    engine entry 1"]
    assert run(capsys, "config", "check")[0] == 0


def test_a_wrong_zone_is_named_by_config_check_and_the_default_kept(capsys, state_dir, config_file):
    config_file.write_text(config_file.read_text().replace('timezone = "Europe/Amsterdam"',
                                                           'timezone = "Europe/Amsterdamm"'))
    code, _, err = run(capsys, "config", "check")
    assert code == 1 and "display.timezone: is not a time zone pvsync knows" in err and "IANA" in err
    seed_logbook(state_dir, [WINTER])
    assert run(capsys, "log")[1].startswith("2026-01-15 14:05:09 CET ")


def test_status_names_the_zone_and_json_gives_offsets(capsys, state_dir):
    assert run(capsys, "sync")[0] == 0
    _, out, _ = run(capsys, "status")
    [last_run] = [line for line in out.splitlines() if line.startswith("Last run:")]
    assert re.search(r" at \d{4}-\d\d-\d\d \d\d:\d\d CES?T$", last_run), last_run
    _, out, _ = run(capsys, "status", "--json")
    checked = json.loads(out)["checked_at"]
    assert datetime.fromisoformat(checked).utcoffset() is not None


# --------------------------------------------------------------------------- pipes


def test_log_into_head_ends_quietly(config_file, state_dir):
    with Store.open(state_dir) as store, store.write():
        for n in range(6000):  # well over a pipe's 64 KiB, so the write after `head` left fails
            store.log("INFO", "engine", f"entry {n} " + "x" * 40)
    shell = subprocess.run(["bash", "-c", f"set -o pipefail; '{PVSYNC}' log -n 6000 | head -n 2"],
                           env={**os.environ}, capture_output=True, text=True, timeout=60)
    assert shell.stderr == ""
    assert shell.returncode in (0, cli.EXIT_READER_LEFT)
    assert [line.split(" INFO    ")[1] for line in shell.stdout.splitlines()] == [
        "engine entry 0 " + "x" * 40, "engine entry 1 " + "x" * 40]


class GoneReader:
    """A stdout whose reader has left: every write fails as a closed pipe does."""

    def __init__(self, path: Path):
        self._file = path.open("w")

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        pass

    def fileno(self) -> int:
        return self._file.fileno()


def test_invoices_list_into_a_reader_that_left_ends_quietly(capsys, state_dir, tmp_path, monkeypatch):
    Store.open(state_dir).close()
    monkeypatch.setattr("sys.stdout", GoneReader(tmp_path / "stdout"))
    assert cli.main(["invoices", "list"]) == cli.EXIT_READER_LEFT
    assert capsys.readouterr().err == ""


def test_invoices_list_has_a_header_row(capsys, state_dir):
    Store.open(state_dir).close()
    code, out, _ = run(capsys, "invoices", "list")
    assert code == 0 and out.split() == ["Invoice", "State", "Relation", "Total", "Mutatie", "Notes"]
