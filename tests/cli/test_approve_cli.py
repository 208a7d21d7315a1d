"""`pvsync sync`, `status` and `approve` on an administration whose first run waits for a person."""

from __future__ import annotations

import getpass
import json

import pytest

from core import cli
from core.engine import Engine
from core.store import Store
from core.store.approvals import Approvals
from tests.engine.fixtures import write_raw_value


@pytest.fixture
def env(monkeypatch, config_file, state_dir):
    write_raw_value(config_file, "engine.approve_first_run", "true")
    monkeypatch.setenv("PVSYNC_CONFIG", str(config_file))
    monkeypatch.setenv("PVSYNC_STATE_DIR", str(state_dir))


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_first_sync_only_plans_says_so_and_exits_non_zero(capsys, env):
    code, out, _ = run(capsys, "sync")

    assert code == 1
    assert "dry run" in out and "nothing written, it waits for approval" in out
    assert "Waits for approval: the first run against this administration" in out and "pvsync approve" in out


def test_status_names_the_wait_and_approve_records_the_os_user(capsys, env, state_dir):
    run(capsys, "sync")

    code, out, _ = run(capsys, "status")
    assert "Waiting:  nothing is written: the engine waits for approval" in out
    _, out, _ = run(capsys, "status", "--json")
    assert json.loads(out)["approval"]["waiting"] is True

    code, out, _ = run(capsys, "approve", "--show")
    assert code == 0 and "Waiting since" in out and "relations" in out
    with Store.open(state_dir) as store:
        assert Approvals(store).last() is None

    code, out, _ = run(capsys, "approve")
    assert code == 0
    assert f"approved by {getpass.getuser()}" in out and "the next run writes" in out
    with Store.open(state_dir) as store:
        assert Approvals(store).last().approved_by == getpass.getuser()
        assert Approvals(store).waiting() is None

    code, out, _ = run(capsys, "sync")
    assert code == 0 and "dry run" not in out
    _, out, _ = run(capsys, "approve")
    assert "Nothing waits for approval" in out


def test_approve_beside_a_running_engine_is_a_request_the_engine_takes(capsys, env, state_dir, config_file):
    engine = Engine(state_dir, config_file, mode="daemon")
    engine.load_config()
    assert engine.acquire()
    try:
        engine.run(trigger="schedule")
        import threading

        stop = threading.Event()
        serving = threading.Thread(target=engine.serve, args=(stop,))
        engine.poll_seconds = 0.05
        serving.start()
        try:
            code, out, _ = run(capsys, "approve", "--wait", "10")
        finally:
            stop.set()
            serving.join()
        assert code == 0 and "the engine writes now" in out
        runs = engine.store.runs(limit=5)
        assert runs[0].trigger == "approved" and not runs[0].dry_run
    finally:
        engine.close()
