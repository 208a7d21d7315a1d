"""What `pvsync status` concludes from the database: engine up or down, last run,
overdue jobs, and the exit code monitoring acts on."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from core.engine.health import CRITICAL, OK, OVERDUE_GRACE, assess
from core.store import Store
from core.store.records import utc_now


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "state") as opened:
        yield opened


def beating(store, **fields):
    store.update_engine(pid=os.getpid(), mode="daemon", state="idle", started=True, **fields)


def finished_run(store, outcome, *, dry_run=False, error=None):
    run_id = store.start_run("schedule", ["invoices"], "h", dry_run=dry_run)
    store.finish_run(run_id, outcome, {}, error, job_outcomes={"invoices": outcome})
    return run_id


def test_no_engine_ever_is_down(store):
    health = assess(store)
    assert health.exit_code == CRITICAL
    assert "no engine has run" in health.problems[0]


def test_a_beating_engine_with_good_runs_is_healthy(store):
    finished_run(store, "ok")
    beating(store, next_due={"invoices": utc_now() + timedelta(hours=4)})
    health = assess(store)
    assert (health.exit_code, health.problems, health.engine_up) == (OK, [], True)
    invoices = next(job for job in health.jobs if job.job == "invoices")
    assert invoices.last_success is not None and not invoices.overdue
    assert health.to_json()["jobs"]["invoices"]["last_outcome"] == "ok"


@pytest.mark.parametrize("how", ["stale heartbeat", "dead pid", "stopped"])
def test_an_engine_that_stopped_beating_died_or_stopped_is_down(store, how):
    beating(store)
    now = utc_now()
    if how == "stale heartbeat":
        now += timedelta(seconds=16)
    elif how == "stopped":
        store.update_engine(state="stopped")
    alive = (lambda pid: False) if how == "dead pid" else (lambda pid: True)
    assert assess(store, now, alive=alive).exit_code == CRITICAL


def test_a_failed_or_partial_last_run_is_unhealthy_but_a_failed_dry_run_is_not(store):
    beating(store)
    finished_run(store, "partial", error="invoices: F-1 could not be booked")
    health = assess(store)
    assert health.exit_code == CRITICAL
    assert "F-1 could not be booked" in health.problems[0]
    finished_run(store, "failed", dry_run=True)
    assert assess(store).exit_code == CRITICAL  # the dry run does not hide the real one
    finished_run(store, "ok")
    assert assess(store).exit_code == OK


def test_a_job_past_its_due_time_plus_grace_is_overdue_unless_it_is_running(store):
    beating(store, next_due={"invoices": utc_now() - OVERDUE_GRACE - timedelta(minutes=1),
                             "payments": utc_now() - timedelta(minutes=1)})
    health = assess(store)
    assert health.exit_code == CRITICAL
    assert [job.job for job in health.jobs if job.overdue] == ["invoices"]
    run_id = store.start_run("schedule", ["invoices"], "h")
    store.update_engine(current_run_id=run_id, state="running")
    assert assess(store).exit_code == OK


def test_severity_order_down_before_failed_before_overdue(store):
    finished_run(store, "failed")
    beating(store, next_due={"invoices": utc_now() - timedelta(days=1)})
    assert assess(store).exit_code == CRITICAL
    assert len(assess(store).problems) == 2
    store.update_engine(state="stopped")
    assert assess(store).exit_code == CRITICAL


def test_before_any_real_run_the_services_are_judged_by_the_trial_runs_calls(store):
    """After `pvsync sync --dry-run` the connections say how the services answered there, as a
    trial run, instead of "not called yet"; a real run takes over as soon as one has finished."""
    beating(store)
    assert assess(store).services[0].verdict().startswith("not called yet")
    trial = store.start_run("cli", ["relations"], "h", dry_run=True)
    store.log("ERROR", "run", "relations failed: e-Boekhouden GetRelaties: no answer in time (ReadTimeout)",
              run_id=trial)
    store.finish_run(trial, "failed", {}, "relations failed", job_outcomes={"relations": "failed"})
    eboekhouden, perfectview = assess(store).services
    assert eboekhouden.verdict() == f"FAILING in trial run {trial}: GetRelaties: no answer in time (ReadTimeout)"
    assert perfectview.state == "OK" and f"no call failed in trial run {trial}" in perfectview.verdict()
    assert assess(store).exit_code == OK, "a failed trial run is not the engine failing"
    real = finished_run(store, "ok")
    eboekhouden = assess(store).services[0]
    assert (eboekhouden.state, eboekhouden.trial) == ("OK", False)
    assert f"no call failed in run {real}" in eboekhouden.verdict()
