"""`pvsync sync`, `status` and `approve` on an administration whose first run waits for a person."""

from __future__ import annotations

import getpass
import json

import pytest

from core.engine import Engine
from core.store import Store
from core.store.approvals import Approvals
from tests.cli.test_cli import run
from tests.engine.fixtures import write_raw_value


@pytest.fixture
def env(monkeypatch, config_file, state_dir):
    write_raw_value(config_file, "engine.approve_first_run", "true")
    monkeypatch.setenv("PVSYNC_CONFIG", str(config_file))
    monkeypatch.setenv("PVSYNC_STATE_DIR", str(state_dir))


def test_nothing_is_approved_before_a_plan_was_shown(capsys, env, state_dir):
    Store.open(state_dir).close()
    code, out, _ = run(capsys, "approve")
    assert code == 0 and "No plan waits yet" in out
    with Store.open(state_dir) as store:
        assert Approvals(store).last() is None


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


# --------------------------------------------------------------------------- proposed twins


def propose(state_dir):
    from core.store.twin_proposals import ProposedTwin, TwinProposals

    with Store.open(state_dir) as store:
        TwinProposals(store).propose("1007", "Garage Jansen", [
            ProposedTwin("pv-2", "Garage Jansen", ("KvK number 12345678",)),
            ProposedTwin("pv-3", "Jansen Auto's", ("e-mail address info@jansen.nl",))])


def test_relations_proposals_accept_and_reject(capsys, env, state_dir):
    propose(state_dir)

    code, out, _ = run(capsys, "relations", "proposals")
    assert code == 0
    assert "1007 (Garage Jansen): waits for you" in out
    assert "pv-3  Jansen Auto's (e-mail address info@jansen.nl)" in out

    code, _, err = run(capsys, "relations", "accept", "1007")
    assert code == 1 and "2 candidate twins" in err and "pv-3" in err

    code, out, _ = run(capsys, "relations", "accept", "1007", "--relation", "pv-3")
    assert code == 0 and "linked to PerfectView's Jansen Auto's in the next run" in out
    code, out, _ = run(capsys, "relations", "proposals", "--all")
    assert f"accepted (Jansen Auto's) by {getpass.getuser()}" in out
    with Store.open(state_dir) as store:
        assert store.conn.execute("SELECT count(*) FROM requests WHERE kind = 'sync' AND state = 'pending'"
                                  ).fetchone()[0] == 1

    code, out, _ = run(capsys, "relations", "reject", "1007")  # changed their mind before the next run
    assert code == 0 and "imported into PerfectView as a new relation" in out
    code, _, err = run(capsys, "relations", "accept", "1007", "--relation", "pv-2")
    assert code == 1 and "was rejected already" in err
    code, _, err = run(capsys, "relations", "reject", "9999")
    assert code == 1 and "no twin was proposed for 9999" in err
