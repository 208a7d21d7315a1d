"""`pvsync daemon` as a real process: it beats, runs what is due, reloads on SIGHUP,
stops cleanly on SIGTERM, and a second engine for the same folder is refused."""

from __future__ import annotations

import re
import signal

import pytest

from core.engine import Engine
from core.store import Store
from tests.engine.fixtures import start_pvsync, wait_for, write_raw_value

pytestmark = pytest.mark.slow


def test_daemon_lifecycle(pvsync_env, state_dir, config_file):
    daemon = start_pvsync(["daemon"], pvsync_env, stand_in_jobs=True)
    try:
        wait_for(lambda: state_dir.joinpath("pvsync.db").exists(), what="the state database")
        with Store.open(state_dir) as store:
            first = wait_for(lambda: store.last_run(), what="the first scheduled run")
            wait_for(lambda: store.run(first.id).finished_at, what="the first run to finish")
            status = store.engine_status()
            assert (status.pid, status.mode, status.state) == (daemon.pid, "daemon", "idle")
            assert set(status.next_due) == {"relations", "invoices", "payments"}

            # a second engine for the same state folder is refused, naming the daemon
            second = start_pvsync(["daemon"], pvsync_env)
            _, err = second.communicate(timeout=30)
            assert second.returncode == 75
            assert f"another pvsync engine (process {daemon.pid}) is running" in err
            cli = Engine(state_dir, config_file, mode="cli")
            assert not cli.acquire() and cli.busy.pid == daemon.pid

            # SIGHUP with a broken file: the problems are logged, the daemon keeps going
            line = write_raw_value(config_file, "schedule.payments", "-5")
            daemon.send_signal(signal.SIGHUP)
            (entry,) = wait_for(lambda: store.logbook_page(kinds=["config"]), what="the reload attempt")
            assert entry.details["problems"] == [f"{config_file}:{line}: schedule.payments: must be longer than "
                                                 "zero. Fix: use a duration from 1m to 31d"]
            assert daemon.poll() is None

            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=30) == 0
            assert store.engine_status().state == "stopped"
    finally:
        if daemon.poll() is None:
            daemon.kill()
    err = daemon.stderr.read()
    # Not under journald, so each line carries its time in the display zone (Amsterdam by default).
    stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d CES?T ")
    assert stamp.match(err), err[:200]
    lines = [stamp.sub("", line) for line in err.splitlines()]
    assert f"INFO engine engine started (daemon, pid {daemon.pid})" in lines
    assert "INFO relation nothing to do yet: relations arrives with its own issue" in lines
    assert any(line.startswith("ERROR config the config at") for line in lines)
    assert lines[-1] == f"INFO engine engine stopped (daemon, pid {daemon.pid})"
    # the lock died with the daemon
    engine = Engine(state_dir, config_file, mode="cli")
    assert engine.acquire()
    engine.close()


def test_a_killed_daemon_leaves_no_stale_lock_and_its_run_is_marked_interrupted(pvsync_env, state_dir, config_file):
    daemon = start_pvsync(["daemon"], pvsync_env, stand_in_jobs=True)
    try:
        wait_for(lambda: state_dir.joinpath("pvsync.db").exists(), what="the state database")
        with Store.open(state_dir) as store:
            wait_for(lambda: store.engine_status().pid == daemon.pid, what="the daemon to start")
            # pretend it was killed half-way through a run
            with store.write():
                store.conn.execute("INSERT INTO runs (trigger, jobs_json, started_at) VALUES ('schedule', "
                                   "'[\"invoices\"]', '2026-01-01T00:00:00+00:00')")
            daemon.kill()
            daemon.wait(timeout=30)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    engine = Engine(state_dir, config_file, mode="cli")
    assert engine.acquire()
    try:
        assert not [run for run in engine.store.runs(limit=50) if run.outcome == "running"]
    finally:
        engine.close()
