"""The state store: schema and migrations, the logbook, runs, requests, the engine row
and the call meter, as the engine and the console use them."""

from __future__ import annotations

import io
import re
import sqlite3
import stat
from datetime import datetime, timedelta

import pytest

from core import clock
from core.model import AMSTERDAM
from core.secrets import Secret
from core.store import SchemaTooNew, StateMissing, Store, logging_to_stderr
from core.store import schema
from core.store.records import to_text, utc_now


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "state") as opened:
        yield opened


# --------------------------------------------------------------------------- opening and schema


def test_open_creates_a_private_folder_and_a_wal_database(tmp_path):
    state = tmp_path / "state"
    with Store.open(state) as store:
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert store.schema_version() == schema.SCHEMA_VERSION


def test_a_reader_does_not_create_a_missing_database(tmp_path):
    with pytest.raises(StateMissing, match="no engine has run"):
        Store.open(tmp_path / "nowhere", create=False)
    assert not (tmp_path / "nowhere").exists()


def test_a_database_from_a_newer_pvsync_is_refused(tmp_path):
    Store.open(tmp_path / "state").close()
    conn = sqlite3.connect(tmp_path / "state" / "pvsync.db")
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNew, match="newer pvsync.*Upgrade pvsync"):
        Store.open(tmp_path / "state")


def test_a_failing_migration_leaves_the_database_at_the_version_before(tmp_path, monkeypatch):
    def broken(conn):
        conn.execute("CREATE TABLE half_done (x INTEGER) STRICT")
        raise RuntimeError("migration bug")

    monkeypatch.setattr("core.store.store.MIGRATIONS", [*schema.MIGRATIONS, broken])
    monkeypatch.setattr("core.store.store.SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
    with pytest.raises(RuntimeError, match="migration bug"):
        Store.open(tmp_path / "state")
    conn = sqlite3.connect(tmp_path / "state" / "pvsync.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'half_done'").fetchall()


def test_invoice_states_and_money_columns_refuse_wrong_values(store):
    insert = ("INSERT INTO invoices (activity_id, invoice_number, state, total_incl_vat_cents, updated_at) "
              "VALUES (?, ?, ?, ?, ?)")
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        store.conn.execute(insert, ("a1", "F1", "sent", 100, "now"))
    # STRICT: an amount as a float (how a Decimal would arrive) is refused, not stored inexactly.
    with pytest.raises(sqlite3.IntegrityError, match="cannot store REAL"):
        store.conn.execute(insert, ("a1", "F1", "seen", 12.34, "now"))
    store.conn.execute(insert, ("a1", "F1", "seen", 1234, "now"))
    assert store.conn.execute("SELECT total_incl_vat_cents FROM invoices").fetchone() == (1234,)


def test_a_write_that_fails_leaves_nothing_behind(store):
    with pytest.raises(ZeroDivisionError):
        with store.write():
            store.conn.execute("INSERT INTO cursors (stream, value, updated_at) VALUES ('s', 'v', 'now')")
            1 / 0
    assert store.cursor("s") is None
    store.set_cursor("s", "2026-05-01")
    store.set_cursor("s", "2026-05-02")
    assert store.cursor("s") == "2026-05-02"


def test_data_version_moves_when_another_connection_commits(store, tmp_path):
    before = store.data_version()
    store.log("INFO", "engine", "own write")
    assert store.data_version() == before
    with Store.open(tmp_path / "state") as other:
        other.log("INFO", "engine", "someone else")
    assert store.data_version() != before


def test_backup_is_a_complete_private_copy(store, tmp_path):
    store.log("INFO", "engine", "before the backup")
    copy = store.backup(tmp_path / "backup.db")
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    conn = sqlite3.connect(copy)
    assert conn.execute("SELECT message FROM logbook").fetchall() == [("before the backup",)]
    assert store.quick_check() == []


# --------------------------------------------------------------------------- logbook


def test_logbook_pages_both_ways_by_id(store):
    ids = [store.log("INFO", "engine", f"event {n}") for n in range(5)]
    newest = store.logbook_page(limit=2)
    assert [e.message for e in newest] == ["event 4", "event 3"]
    older = store.logbook_page(before_id=newest[-1].id, limit=2)
    assert [e.message for e in older] == ["event 2", "event 1"]
    forward = store.logbook_page(after_id=ids[2])
    assert [e.message for e in forward] == ["event 3", "event 4"]
    assert store.logbook_bounds() == (ids[0], ids[-1])
    assert newest[0].at.tzinfo is not None


def test_logbook_filters_by_minimum_level_kind_run_and_text(store):
    run_id = store.start_run("cli", ["invoices"], "h")
    store.log("DEBUG", "invoice", "detail", run_id=run_id)
    store.log("INFO", "invoice", "booked F-100", run_id=run_id, subject="F-100")
    store.log("WARNING", "relation", "blocked: 50% discount")
    store.log("ERROR", "run", "invoices failed", run_id=run_id)

    assert [e.level for e in store.logbook_page(level="WARNING")] == ["ERROR", "WARNING"]
    assert [e.message for e in store.logbook_page(kinds=["invoice"])] == ["booked F-100", "detail"]
    assert len(store.logbook_page(run_id=run_id)) == 3
    assert [e.subject for e in store.logbook_page(text="F-100")] == ["F-100"]
    # % in the search text is a literal, not a wildcard
    assert [e.message for e in store.logbook_page(text="50%")] == ["blocked: 50% discount"]
    assert store.logbook_page(text="5%d") == []


def test_logbook_since_keeps_only_newer_entries(store):
    store.log("INFO", "engine", "old")
    store.conn.execute("UPDATE logbook SET at = ?", (to_text(utc_now() - timedelta(hours=3)),))
    store.log("INFO", "engine", "new")
    assert [e.message for e in store.logbook_page(since=utc_now() - timedelta(hours=1))] == ["new"]


def test_events_below_the_configured_level_are_not_recorded(store):
    store.min_level = "INFO"
    assert store.log("DEBUG", "engine", "chatter") == 0
    assert store.log("info", "engine", "kept") > 0
    assert [e.message for e in store.logbook_page()] == ["kept"]
    with pytest.raises(ValueError, match="unknown log level"):
        store.log("LOUD", "engine", "nope")


def test_logbook_scrubs_secrets_from_message_subject_and_details(store):
    code = Secret("s3cr3t-security-code-2")
    store.log("ERROR", "run", f"refused with {code.reveal()}", subject=f"session {code.reveal()}",
              details={"request": f"<SecurityCode2>{code.reveal()}</SecurityCode2>"})
    entry = store.logbook_page()[0]
    assert code.reveal() not in entry.message + entry.subject + str(entry.details)
    assert "********" in entry.message
    assert code.reveal().encode() not in store.path.read_bytes() + store.path.with_name("pvsync.db-wal").read_bytes()


def test_each_event_is_one_line_on_stderr(store):
    stream = io.StringIO()
    with logging_to_stderr("INFO", stream):
        store.log("WARNING", "invoice", "blocked: unknown VAT code", subject="F-2026-001")
        store.log("INFO", "engine", "engine started")
        store.log("DEBUG", "engine", "below the handler's level")
    store.log("INFO", "engine", "after the block")
    assert stream.getvalue().splitlines() == ["WARNING invoice[F-2026-001] blocked: unknown VAT code",
                                              "INFO engine engine started"]


def test_daemon_lines_outside_journald_carry_the_time_in_the_display_zone(store, monkeypatch):
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")  # journald stamps the time itself
    stream = io.StringIO()
    with logging_to_stderr("INFO", stream, daemon=True):
        store.log("INFO", "engine", "under journald")
    assert stream.getvalue() == "INFO engine under journald\n"
    monkeypatch.delenv("JOURNAL_STREAM")
    monkeypatch.setattr(clock, "_zone", clock.zone_named("America/New_York"))
    stream = io.StringIO()
    with logging_to_stderr("INFO", stream, daemon=True):
        store.log("INFO", "engine", "engine started")
    [line] = stream.getvalue().splitlines()
    stamp = re.match(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (E[SD]T) INFO engine engine started$", line)
    assert stamp, line
    shown = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=clock.zone_named("America/New_York"))
    assert abs((shown - utc_now()).total_seconds()) < 60


def test_retention_removes_old_entries_in_batches_and_ids_never_come_back(store):
    for n in range(7):
        store.log("INFO", "engine", f"old {n}")
    store.conn.execute("UPDATE logbook SET at = ?", (to_text(utc_now() - timedelta(days=100)),))
    kept = store.log("INFO", "engine", "recent")
    assert store.purge_logbook(utc_now() - timedelta(days=90), batch=3) == 7
    assert [e.message for e in store.logbook_page()] == ["recent"]
    store.purge_logbook(utc_now() + timedelta(seconds=1))
    assert store.log("INFO", "engine", "next") > kept


# --------------------------------------------------------------------------- runs


def test_runs_record_outcomes_per_job(store):
    run_id = store.start_run("schedule", ["relations", "invoices"], "abc")
    assert store.runs()[0].outcome == "running"
    store.finish_run(run_id, "partial", {"invoices": {"booked": 2}}, "invoices: TransportFailure",
                     job_outcomes={"relations": "ok", "invoices": "failed"})
    run = store.run(run_id)
    assert (run.outcome, run.counters, run.config_hash) == ("partial", {"invoices": {"booked": 2}}, "abc")
    assert run.finished_at >= run.started_at
    with pytest.raises(ValueError):
        store.finish_run(run_id, "running", {})


def test_last_successful_run_of_a_job_ignores_failures_and_dry_runs(store):
    def run(jobs, outcomes, *, dry_run=False):
        run_id = store.start_run("cli", list(outcomes), "h", dry_run=dry_run)
        store.finish_run(run_id, "ok", {}, job_outcomes=outcomes)
        return run_id

    ok = run(["relations"], {"relations": "ok", "invoices": "partial"})
    run(["relations"], {"relations": "failed"})
    run(["relations"], {"relations": "ok"}, dry_run=True)
    assert store.last_run("relations", successful=True).id == ok
    assert store.last_run("invoices", successful=True).id == ok  # partial: it ran through
    assert store.last_run("relations").dry_run
    assert store.last_run("payments") is None


def test_runs_left_running_by_a_crash_become_interrupted(store):
    crashed = store.start_run("schedule", ["invoices"], "h")
    assert store.interrupt_unfinished_runs("engine died") == [crashed]
    run = store.run(crashed)
    assert (run.outcome, run.error) == ("interrupted", "engine died")


# --------------------------------------------------------------------------- requests


def test_at_most_one_pending_sync_and_a_second_widens_it(store):
    first = store.add_request("sync", {"only": ["invoices"]})
    assert store.add_request("sync", {"only": ["payments"]}) == first
    assert store.request(first).payload["only"] == ["invoices", "payments"]
    assert store.add_request("sync") == first
    assert store.request(first).payload["only"] is None  # all jobs wins
    with pytest.raises(sqlite3.IntegrityError):  # the database enforces it too
        store.conn.execute("INSERT INTO requests (kind, created_at) VALUES ('sync', 'now')")
    claimed = store.claim_request()
    assert claimed.id == first and claimed.state == "claimed"
    assert store.add_request("sync") != first  # once claimed, a new one may wait


def test_requests_are_claimed_oldest_first_once_and_by_kind(store):
    retry = store.add_request("retry_invoice", {"invoice": "F-1"})
    reload = store.add_request("reload_config")
    assert store.claim_request(kinds=["reload_config"]).id == reload
    assert store.claim_request().id == retry
    assert store.claim_request() is None
    store.finish_request(retry, "ok", "booked")
    done = store.request(retry)
    assert (done.state, done.outcome, done.message) == ("done", "ok", "booked")
    with pytest.raises(ValueError, match="unknown request kind"):
        store.add_request("book_everything")


def test_requests_claimed_by_a_dead_engine_are_closed(store):
    request_id = store.add_request("sync")
    store.claim_request()
    assert store.abandon_claimed_requests("engine gone") == 1
    assert store.request(request_id).outcome == "interrupted"


# --------------------------------------------------------------------------- engine row and meter


def test_engine_row_changes_only_named_fields(store):
    assert store.engine_status().state == "stopped"
    due = utc_now() + timedelta(hours=4)
    store.update_engine(pid=42, mode="daemon", state="running", current_run_id=7, next_due={"relations": due},
                        progress={"relations": {"done": 1, "total": 3}}, started=True)
    store.heartbeat()
    status = store.engine_status()
    assert (status.pid, status.mode, status.state, status.current_run_id) == (42, "daemon", "running", 7)
    assert status.next_due == {"relations": due}
    assert status.progress == {"relations": {"done": 1, "total": 3}}
    store.update_engine(current_run_id=None)
    assert store.engine_status().current_run_id is None
    assert store.engine_status().next_due == {"relations": due}
    with pytest.raises(ValueError):
        store.update_engine(state="sleeping")


def test_call_meter_counts_per_day_and_per_month(store):
    for _ in range(3):
        store.record("eboekhouden", "AddMutatie")
    store.record("eboekhouden", "GetRelaties")
    today = datetime.now(AMSTERDAM).date()
    same_month_other_day = today.replace(day=1 if today.day != 1 else 2).isoformat()
    last_month = (today.replace(day=1) - timedelta(days=1)).isoformat()
    store.conn.execute("INSERT INTO api_calls VALUES ('eboekhouden', 'AddMutatie', ?, 10)", (same_month_other_day,))
    store.conn.execute("INSERT INTO api_calls VALUES ('eboekhouden', 'AddMutatie', ?, 100)", (last_month,))
    assert store.count_today("eboekhouden", "AddMutatie") == 3
    assert store.count_this_month("eboekhouden", "AddMutatie") == 13
    assert store.count_this_month("eboekhouden", "GetRelaties") == 1
