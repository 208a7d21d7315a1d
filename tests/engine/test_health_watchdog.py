"""Watchdog alerts and each service's health, as `pvsync status` and the console's status screen
tell them: read from the database, measured against the config's intervals and limits."""

from __future__ import annotations

import json
from datetime import timedelta

from core import cli
from core.engine.health import OK, WARNING, Watch, assess
from core.store.records import utc_now
from tests.engine.test_health import beating, store  # noqa: F401 (a fixture)

EVERY_4H = Watch(intervals={"invoices": timedelta(hours=4)})


def finished_run(store, outcome, *, job="invoices", dry_run=False, error=None):
    run_id = store.start_run("schedule", [job], "h", dry_run=dry_run)
    store.finish_run(run_id, outcome, {}, error, job_outcomes={job: outcome})
    return run_id


def kinds(health) -> list[str]:
    return [alert.kind for alert in health.alerts]


def test_a_stale_heartbeat_is_an_alert_and_is_listed_once(store):
    beating(store)
    health = assess(store, utc_now() + timedelta(seconds=20), alive=lambda pid: True)
    assert kinds(health) == ["heartbeat_stale"]
    assert len([item for item in health.attention() if "stopped beating" in item]) == 1
    assert kinds(assess(store, alive=lambda pid: True)) == []
    store.update_engine(state="stopped")
    assert kinds(assess(store, utc_now() + timedelta(minutes=5))) == [], "a stopped engine is no watchdog matter"


def test_no_successful_run_for_more_than_twice_the_interval(store):
    beating(store)
    finished_run(store, "ok")
    finished_run(store, "failed")
    later = utc_now() + timedelta(hours=7, minutes=50)
    assert kinds(assess(store, later, alive=lambda pid: True, watch=EVERY_4H)) == ["heartbeat_stale"]
    health = assess(store, utc_now() + timedelta(hours=8, minutes=10), alive=lambda pid: True, watch=EVERY_4H)
    (alert,) = [alert for alert in health.alerts if alert.kind == "no_success"]
    assert alert.message.startswith("invoices has had no successful run for 8h10m (it runs every 4h")
    assert "watchdog: " + alert.message in health.attention()


def test_a_job_that_never_ran_through_since_the_engine_started_is_an_alert_too(store):
    beating(store)  # started now
    finished_run(store, "failed")
    assert kinds(assess(store, watch=EVERY_4H)) == []
    health = assess(store, utc_now() + timedelta(hours=9), alive=lambda pid: True, watch=EVERY_4H)
    assert "invoices has not run through once since the engine started 9h ago" in health.alerts[-1].message


def test_the_same_job_failing_three_runs_in_a_row(store):
    beating(store)
    finished_run(store, "failed", error="invoices: boom")
    finished_run(store, "failed", error="invoices: boom")
    finished_run(store, "ok", job="relations")  # another job's run between them does not break the row
    finished_run(store, "failed", dry_run=True)  # nor counts
    assert kinds(assess(store)) == []
    third = finished_run(store, "failed", error="invoices: boom again")
    (alert,) = assess(store).alerts
    assert alert.kind == "failing_in_a_row" and f"({third - 4}, {third - 3}, {third})" in alert.message
    assert alert.message.endswith("why: pvsync log --kind run")
    finished_run(store, "partial")
    assert kinds(assess(store)) == []


def test_call_budgets_past_80_percent(store):
    beating(store)
    watch = Watch(perfectview_daily_limit=10, mutaties_budget=10)
    for _ in range(8):
        store.record("e-Boekhouden", "GetMutaties")
        store.record("PerfectView", "RelationGetAll")
    assert kinds(assess(store, watch=watch)) == []
    store.record("e-Boekhouden", "GetMutaties")
    store.record("PerfectView", "RelationGetAll")
    health = assess(store, watch=watch)
    assert kinds(health) == ["mutaties_budget", "perfectview_calls"]
    assert "9 of the month's 10 calls used" in health.alerts[0].message
    assert "9 of today's 10 calls used" in health.alerts[1].message
    assert kinds(assess(store, watch=Watch(mutaties_budget=10))) == ["mutaties_budget"], "no limit, no alert"


def test_the_exit_code_stays_as_documented(store):
    beating(store)
    for _ in range(3):
        finished_run(store, "failed")
    finished_run(store, "ok", job="relations")
    health = assess(store)
    # failing in a row is told as an alert; the last run went well, so it is no CRITICAL problem
    assert health.alerts and health.exit_code == OK
    for _ in range(9):
        store.record("e-Boekhouden", "GetMutaties")
    budget = assess(store, watch=Watch(mutaties_budget=10))  # a budget past 80 % waits for a person
    assert budget.exit_code == WARNING
    assert budget.summary().startswith("PVSYNC WARNING - e-Boekhouden GetMutaties: 9 of the month's 10 calls")


def test_each_service_says_how_it_last_answered(store):
    beating(store)
    assert [s.state for s in assess(store).services] == ["UNKNOWN", "UNKNOWN"]
    run_id = store.start_run("schedule", ["invoices"], "h")
    store.log("ERROR", "run", "invoices failed: TransportFailure: e-Boekhouden OpenSession: not reachable "
                              "(connection refused)", run_id=run_id)
    store.log("WARNING", "invoice", "relation D1 is not in e-Boekhouden yet", run_id=run_id)  # no call failed
    store.update_engine(state="running", current_run_id=run_id)
    eboekhouden, perfectview = assess(store).services
    assert (eboekhouden.state, eboekhouden.run_id) == ("FAILING", run_id), "already while the run goes on"
    assert eboekhouden.message == "OpenSession: not reachable (connection refused)"
    assert perfectview.state == "UNKNOWN"
    store.finish_run(run_id, "failed", {}, "invoices: e-Boekhouden OpenSession", job_outcomes={"invoices": "failed"})
    store.update_engine(state="idle", current_run_id=None)
    assert [s.state for s in assess(store).services] == ["FAILING", "OK"]

    store.record("e-Boekhouden", "GetRelaties")
    finished_run(store, "ok")
    eboekhouden, _ = assess(store).services
    assert eboekhouden.state == "OK" and eboekhouden.verdict("14:05").startswith("OK (14:05): no call failed in run")
    assert eboekhouden.verdict().endswith("1 calls today")


def test_pvsync_status_prints_the_links_and_alerts(store, tmp_path, capsys):
    beating(store)
    for _ in range(3):
        finished_run(store, "failed", error="invoices: e-Boekhouden GetMutaties: boom")
    code = cli.main(["--state-dir", str(tmp_path / "state"), "--config", str(tmp_path / "none.toml"), "status"])
    out = capsys.readouterr().out
    assert code == 2 and out.startswith("PVSYNC CRITICAL - the last run (3) failed")
    assert "Links:    e-Boekhouden  OK" in out and "Alert:    invoices failed in each of the last 3 runs" in out
    cli.main(["--state-dir", str(tmp_path / "state"), "--config", str(tmp_path / "none.toml"), "status", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert [alert["kind"] for alert in report["alerts"]] == ["failing_in_a_row"]
    assert report["services"]["PerfectView"]["state"] == "OK"
