"""The engine in one process: runs, job isolation, deadline and stop, the schedule from
the database, requests, config reload, heartbeat and start-up recovery."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest

from core.config import update_config
from core.engine import Engine, EngineBusy, EngineLock, JobResult, registered
from core.engine import engine as engine_module
from core.engine.schedule import RETRY_AFTER_FAILURE, due_at
from core.store import Store, StoreError
from core.store.records import Run, to_text, utc_now
from tests.engine.fixtures import wait_for, write_raw_value


class RecordingJob:
    """A job that does what the test tells it and remembers how it was called."""

    def __init__(self, name, action=None, *, interval=timedelta(hours=4), enabled=True):
        self.name = name
        self.action = action or (lambda ctx: JobResult(counters={"seen": 1}))
        self._interval = interval
        self._enabled = enabled
        self.contexts = []

    def interval(self, config):
        return self._interval

    def enabled(self, config):
        return self._enabled

    def run(self, ctx):
        self.contexts.append(ctx)
        return self.action(ctx)


def fail(ctx):
    raise ConnectionError("e-Boekhouden did not answer")


@pytest.fixture
def make_engine(state_dir, config_file):
    engines = []

    def make(jobs=None, **kw):
        engine = Engine(state_dir, config_file, mode="embedded", jobs=jobs, **kw)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


def messages(engine, **filters):
    return [entry.message for entry in reversed(engine.store.logbook_page(limit=1000, **filters))]


# --------------------------------------------------------------------------- runs


def test_a_run_with_the_placeholder_jobs_says_each_has_nothing_to_do_yet(make_engine):
    engine = make_engine()
    assert engine.acquire()
    report = engine.run(trigger="cli")
    assert [job.name for job in registered()] == ["relations", "invoices", "payments"]
    assert report.outcome == "ok"
    assert [(o.job, o.status, o.result.counters) for o in report.jobs] == [
        ("relations", "ok", {}), ("invoices", "ok", {}), ("payments", "ok", {})]
    infos = messages(engine, level="INFO", run_id=report.run_id)
    for job in ("relations", "invoices", "payments"):
        assert f"nothing to do yet: {job} arrives with its own issue" in infos
    run = engine.store.run(report.run_id)
    assert run.job_outcomes == {"relations": "ok", "invoices": "ok", "payments": "ok"}
    assert run.counters == {} and run.config_hash == engine.config_hash


def test_one_failing_job_does_not_stop_the_next(make_engine):
    after = RecordingJob("invoices")
    engine = make_engine([RecordingJob("relations", fail), after])
    report = engine.run()
    assert after.contexts, "the job after the failing one did not run"
    assert report.outcome == "partial"
    assert report.jobs[0].error == "ConnectionError: e-Boekhouden did not answer"
    run = engine.store.run(report.run_id)
    assert run.job_outcomes == {"relations": "failed", "invoices": "ok"}
    assert run.counters == {"invoices": {"seen": 1}}
    assert "relations failed: ConnectionError: e-Boekhouden did not answer" in messages(engine, level="ERROR")


def test_a_run_where_every_job_fails_is_failed(make_engine):
    engine = make_engine([RecordingJob("relations", fail), RecordingJob("invoices", fail)])
    assert engine.run().outcome == "failed"


def test_failed_actions_inside_a_job_make_the_run_partial(make_engine):
    engine = make_engine([RecordingJob("invoices", lambda ctx: JobResult(counters={"booked": 3}, failures=1))])
    report = engine.run()
    assert (report.outcome, report.jobs[0].status) == ("partial", "partial")


def test_a_job_switched_off_in_the_config_is_skipped_and_says_so(make_engine, config_file):
    update_config(config_file, {"payments.enabled": False})
    payments = RecordingJob("payments", enabled=False)
    engine = make_engine([RecordingJob("relations"), payments])
    report = engine.run()
    assert not payments.contexts
    assert (report.outcome, report.jobs[1].status) == ("ok", "skipped")
    assert "payments skipped: switched off in the config" in messages(engine)


def test_only_runs_the_named_jobs_and_refuses_unknown_ones(make_engine):
    relations, invoices = RecordingJob("relations"), RecordingJob("invoices")
    engine = make_engine([relations, invoices])
    report = engine.run(only=["invoices"])
    assert (len(relations.contexts), len(invoices.contexts)) == (0, 1)
    assert engine.store.run(report.run_id).jobs == ["invoices"]
    with pytest.raises(ValueError, match="unknown job payrolls"):
        engine.run(only=["payrolls"])


def test_dry_run_and_force_reach_the_job(make_engine):
    job = RecordingJob("invoices")
    engine = make_engine([job])
    engine.run(dry_run=True, force=True)
    ctx = job.contexts[0]
    assert (ctx.dry_run, ctx.force, ctx.job) == (True, True, "invoices")
    assert engine.store.last_run().dry_run


def test_progress_reaches_the_engine_row(make_engine):
    seen = {}

    def work(ctx):
        ctx.progress("invoices", 10, 10, booked=7)
        with Store.open(ctx.store.path.parent) as reader:  # as the console sees it
            seen.update(reader.engine_status().progress)
        return JobResult()

    make_engine([RecordingJob("invoices", work)]).run()
    assert seen == {"invoices": {"done": 10, "total": 10, "booked": 7}}


def test_the_run_deadline_stops_the_run_between_actions(make_engine, config_file, monkeypatch):
    update_config(config_file, {"engine.run_deadline": "1m"})  # the shortest the config allows
    passed = [0.0]
    # The engine's monotonic clock, moved on by each action: the run takes a minute without waiting one.
    monkeypatch.setattr(engine_module, "time", SimpleNamespace(monotonic=lambda: time.monotonic() + passed[0]))

    def slow(ctx):
        while not ctx.should_stop():
            passed[0] += 10
        return JobResult(complete=False)

    later = RecordingJob("invoices")
    engine = make_engine([RecordingJob("relations", slow), later])
    report = engine.run()
    assert report.outcome == "interrupted"
    assert report.error.startswith("stopped by the run deadline (1m, engine.run_deadline)")
    assert 60 <= passed[0] <= 70, "it stopped at the first action after the minute, not before or long after"
    assert not later.contexts
    assert engine.store.run(report.run_id).job_outcomes == {"relations": "interrupted", "invoices": "interrupted"}


def test_request_stop_finishes_the_current_action_and_starts_no_other_job(make_engine):
    def stopping(ctx):
        engine.request_stop()
        return JobResult(counters={"done": 1}, complete=not ctx.should_stop())

    later = RecordingJob("invoices")
    engine = make_engine([RecordingJob("relations", stopping), later])
    report = engine.run()
    assert report.outcome == "interrupted" and not later.contexts
    assert engine.store.run(report.run_id).counters == {"relations": {"done": 1}}


def test_an_interrupt_during_a_job_does_not_leave_the_run_running(make_engine):
    def interrupted(ctx):
        raise KeyboardInterrupt

    engine = make_engine([RecordingJob("relations", interrupted)])
    with pytest.raises(KeyboardInterrupt):
        engine.run()
    assert engine.store.last_run().outcome == "interrupted"
    assert engine.store.engine_status().current_run_id is None


# --------------------------------------------------------------------------- lock and lifecycle


def test_one_engine_per_state_folder(make_engine, state_dir):
    first, second = make_engine(), make_engine()
    assert first.acquire()
    assert not second.acquire()
    assert second.busy.pid == first.store.engine_status().pid
    with pytest.raises(EngineBusy, match=f"process {second.busy.pid}"):
        second.run()
    first.close()
    assert second.acquire()


def test_the_lock_file_names_its_holder_only_while_held(state_dir):
    lock = EngineLock(state_dir)
    lock.acquire()
    assert lock.holder_pid() == os.getpid()
    lock.release()
    assert lock.holder_pid() is None


def test_runs_and_requests_cut_off_by_a_crash_are_closed_at_start(make_engine, state_dir):
    with Store.open(state_dir) as store:
        crashed = store.start_run("schedule", ["invoices"], "h")
        request_id = store.add_request("sync")
        store.claim_request()
    engine = make_engine()
    engine.acquire()
    assert engine.store.run(crashed).outcome == "interrupted"
    assert engine.store.request(request_id).outcome == "interrupted"
    assert f"run {crashed} was cut off when the previous engine stopped" in messages(engine, level="WARNING")


def test_a_damaged_database_stops_the_engine_and_frees_the_lock(make_engine, monkeypatch, state_dir):
    monkeypatch.setattr(Store, "quick_check", lambda self: ["row 3 missing from index"])
    engine = make_engine()
    with pytest.raises(StoreError, match="damaged.*restore a backup"):
        engine.acquire()
    assert not engine.lock.held
    EngineLock(state_dir).acquire()


def test_old_logbook_entries_are_removed_at_start(make_engine, state_dir, config_file):
    update_config(config_file, {"logbook.retention_days": 30})
    with Store.open(state_dir) as store:
        store.log("INFO", "engine", "ancient")
        store.conn.execute("UPDATE logbook SET at = ?", (to_text(utc_now() - timedelta(days=31)),))
        store.log("INFO", "engine", "recent")
    engine = make_engine()
    engine.load_config()
    engine.acquire()
    assert "ancient" not in messages(engine)
    assert "recent" in messages(engine)
    assert "logbook: removed 1 entries older than 30 days" in messages(engine)


def test_the_heartbeat_keeps_beating_during_a_long_job(make_engine):
    def long_job(ctx):
        first = ctx.store.engine_status().heartbeat_at
        wait_for(lambda: ctx.store.engine_status().heartbeat_at > first, what="a heartbeat during the job")
        return JobResult()

    engine = make_engine([RecordingJob("invoices", long_job)], heartbeat_seconds=0.05)
    assert engine.run().outcome == "ok"


def test_close_marks_the_engine_stopped(make_engine):
    engine = make_engine()
    engine.acquire()
    assert engine.store.engine_status().state == "idle"
    store_path = engine.store.path
    engine.close()
    with Store.open(store_path.parent) as store:
        assert store.engine_status().state == "stopped"


# --------------------------------------------------------------------------- schedule


def _run(run_id, job, outcome, started, *, dry_run=False):
    return Run(run_id, "schedule", [job], started, started, outcome, {}, None, dry_run=dry_run,
               job_outcomes={job: outcome})


def test_due_is_last_success_plus_interval_and_a_failure_waits_before_retrying():
    now = utc_now()
    four_hours = timedelta(hours=4)
    assert due_at("invoices", four_hours, last_success=None, last_attempt=None, now=now) == now
    success = _run(1, "invoices", "ok", now - timedelta(hours=1))
    assert due_at("invoices", four_hours, last_success=success, last_attempt=success, now=now) == \
        success.started_at + four_hours
    # overdue and the last attempt failed: retry, but not before the retry pause
    old_success = _run(1, "invoices", "ok", now - timedelta(hours=10))
    failed = _run(2, "invoices", "failed", now - timedelta(minutes=1))
    assert due_at("invoices", four_hours, last_success=old_success, last_attempt=failed, now=now) == \
        failed.started_at + RETRY_AFTER_FAILURE
    # an interrupted attempt or a failed dry run is no reason to wait
    for attempt in (_run(2, "invoices", "interrupted", now), _run(2, "invoices", "failed", now, dry_run=True)):
        assert due_at("invoices", four_hours, last_success=old_success, last_attempt=attempt, now=now) == \
            old_success.started_at + four_hours


def test_the_schedule_comes_from_the_database_so_a_restart_does_not_shift_it(make_engine):
    jobs = [RecordingJob("relations", interval=timedelta(hours=4)),
            RecordingJob("payments", interval=timedelta(hours=24))]
    engine = make_engine(jobs)
    report = engine.run()
    started = engine.store.run(report.run_id).started_at
    due = engine.next_due()
    assert due == {"relations": started + timedelta(hours=4), "payments": started + timedelta(hours=24)}
    assert engine.store.engine_status().next_due == due
    engine.close()
    restarted = make_engine(jobs)
    restarted.acquire()
    restarted.load_config()
    assert restarted.next_due() == due


# --------------------------------------------------------------------------- serving


@pytest.fixture
def serving(make_engine):
    """Start serve() in a thread; stops it at the end of the test."""
    started = []

    def serve(engine):
        stop = threading.Event()
        thread = threading.Thread(target=engine.serve, args=(stop,))
        thread.start()
        started.append((stop, thread))
        return stop

    yield serve
    for stop, thread in started:
        stop.set()
        thread.join(timeout=10)


def test_serve_runs_what_is_due_then_answers_a_forced_sync(make_engine, serving):
    relations, invoices = RecordingJob("relations"), RecordingJob("invoices")
    engine = make_engine([relations, invoices], poll_seconds=0.01)
    engine.acquire()
    serving(engine)
    wait_for(lambda: invoices.contexts, what="the scheduled run")
    request_id = engine.store.add_request("sync", {"only": ["invoices"]})
    done = wait_for(lambda: (r := engine.store.request(request_id)).state == "done" and r, what="the forced sync")
    assert done.outcome == "ok" and done.message.startswith("Run 2 (forced): ok")
    # nothing was due in between: one scheduled run, one forced run
    assert [(run.trigger, run.jobs) for run in engine.store.runs()] == [
        ("forced", ["invoices"]), ("schedule", ["relations", "invoices"])]
    assert (len(relations.contexts), len(invoices.contexts)) == (1, 2)


def test_a_failing_job_is_retried_after_a_pause_not_at_once(make_engine, serving):
    failing = RecordingJob("invoices", fail)
    engine = make_engine([failing], poll_seconds=0.01)
    engine.acquire()
    serving(engine)
    wait_for(lambda: engine.store.engine_status().next_due.get("invoices", utc_now()) > utc_now(),
             what="the retry to be scheduled")
    request_id = engine.store.add_request("reload_config")
    wait_for(lambda: engine.store.request(request_id).state == "done", what="a later loop")
    assert len(failing.contexts) == 1


def test_stop_ends_serve_after_the_current_action(make_engine):
    release = threading.Event()

    def blocking(ctx):
        release.wait(10)
        return JobResult(complete=not ctx.should_stop())

    later = RecordingJob("invoices")
    engine = make_engine([RecordingJob("relations", blocking), later], poll_seconds=0.01)
    engine.acquire()
    stop = threading.Event()
    thread = threading.Thread(target=engine.serve, args=(stop,))
    thread.start()
    wait_for(lambda: engine.store.engine_status().state == "running", what="the run to start")
    engine.request_stop()
    release.set()
    thread.join(timeout=10)
    assert not thread.is_alive() and stop.is_set()
    assert engine.store.last_run().outcome == "interrupted" and not later.contexts


def test_reload_keeps_the_old_config_when_the_new_one_is_broken(make_engine, serving, config_file):
    engine = make_engine([RecordingJob("relations")], poll_seconds=0.01)
    engine.acquire()
    engine.load_config()
    before = engine.config
    line = write_raw_value(config_file, "schedule.relations", '"0m"')
    serving(engine)
    engine.request_reload()
    wait_for(lambda: messages(engine, kinds=["config"]), what="the reload")
    assert engine.config is before
    entry = engine.store.logbook_page(kinds=["config"])[0]
    assert entry.level == "ERROR" and "the previous one stays in use" in entry.message
    assert entry.details["problems"] == [
        f"{config_file}:{line}: schedule.relations: must be longer than zero. Fix: use a duration from 1m to 31d"]

    write_raw_value(config_file, "schedule.relations", "60")  # a bare number: minutes
    request_id = engine.store.add_request("reload_config")
    wait_for(lambda: engine.store.request(request_id).state == "done", what="the reload request")
    assert engine.store.request(request_id).outcome == "ok"
    assert engine.config.schedule.relations == timedelta(minutes=60)
