"""The state store: the one place pvsync speaks SQL.

One SQLite file per state folder in WAL mode, so the console reads while the engine
writes. Every write is a short `BEGIN IMMEDIATE` transaction: the write lock is taken
up front and waited for (busy timeout 30 s) instead of failing half-way with
"database is locked", which a deferred transaction does when it upgrades from read to
write under WAL. `synchronous=FULL`, because an invoice's `booking` row must survive a
power cut before the booking is sent. What a later run finds again on its own (a
relation's link: the code is looked up and adopted) and the logbook's lines are written
`durable=False`: safe from a crash of pvsync, only a power cut may lose the last of them,
and each such commit saves an fsync (about 5 ms on an ordinary disk, per relation).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Mapping

import sqlite_utils

from core import paths
from core.model import AMSTERDAM
from core.secrets import scrub
from core.store import stderr
from core.store.records import (
    ENGINE_MODES, ENGINE_STATES, REQUEST_KINDS, RUN_OUTCOMES, EngineStatus, LogEntry, Request, Run,
    from_text, level_name, levels_at_least, to_text, utc_now,
)
from core.store.schema import MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_S = 30
TRIGRAM = 3  # the shortest text the logbook index looks up; a shorter one is found by a scan
_UNCHANGED: Any = object()
ASSUMPTIONS_CHECKED = "assumptions.fingerprint"  # the fingerprint `pvsync check` recorded last
ASSUMPTIONS_APPROVED = "assumptions.approved"  # the fingerprint writes were last approved under


class StoreError(Exception):
    """The state database cannot be used as it is; the message says what to do."""


class SchemaTooNew(StoreError):
    pass


class StateMissing(StoreError):
    pass


def _json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)


class Store:
    """All state of one state folder. Safe to share between threads of one process;
    each process opens its own."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self.path = path
        self.min_level = "DEBUG"
        self._lock = threading.RLock()
        self._durable = True  # the open transaction's safety level
        # The thread inside an outer `write`, and the stderr lines its logbook entries wait to
        # print until it has let go of the store (see `log`).
        self._writer: int | None = None
        self._lines_after: list[tuple[str, str, str, str, int | None]] = []

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, state_dir: Path, *, create: bool = True) -> Store:
        """Open (and when needed create and migrate) the database of a state folder.

        `create=False` is for readers such as `pvsync status`: they report a missing
        database instead of leaving an empty one behind.
        """
        state_dir = Path(state_dir)
        path = paths.database_file(state_dir)
        if not path.exists() and not create:
            raise StateMissing(f"no state database at {path}: no engine has run with this state folder yet "
                               f"(start one with `pvsync daemon` or `pvsync`, or pass --state-dir)")
        paths.ensure_private_dir(state_dir)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        try:
            os.chmod(path, 0o600)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            store = cls(conn, path)
            store._migrate()
        except BaseException:
            conn.close()
            raise
        return store

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        for version in range(self.schema_version() + 1, SCHEMA_VERSION + 1):
            with self.write():
                # Another process may have migrated while we waited for the write lock.
                if self.schema_version() >= version:
                    continue
                MIGRATIONS[version - 1](self.conn)
                self.conn.execute(f"PRAGMA user_version = {version}")
        found = self.schema_version()
        if found > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"the state database {self.path} was written by a newer pvsync (schema version {found}; "
                f"this pvsync knows up to {SCHEMA_VERSION}). Upgrade pvsync, or use another --state-dir.")

    # ------------------------------------------------------------------ transactions

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[sqlite_utils.Database]:
        """One short write transaction. Nested use joins the outer transaction.

        `durable=False` commits without waiting for the disk (synchronous=NORMAL under
        WAL: a crash of the process loses nothing, a power cut may lose the last such
        commits; the next durable commit saves them too). Only for what pvsync finds again
        by itself; a durable write cannot join a transaction that is not.
        """
        lines: list[tuple[str, str, str, str, int | None]] = []
        try:
            with self._lock:
                if self.conn.in_transaction:
                    if durable and not self._durable:
                        raise RuntimeError("a durable write cannot join a transaction begun with durable=False")
                    yield self.db
                    return
                if not durable:
                    self.conn.execute("PRAGMA synchronous = NORMAL")
                self._durable, self._writer, self._lines_after = durable, threading.get_ident(), lines
                try:
                    self.conn.execute("BEGIN IMMEDIATE")
                    try:
                        yield self.db
                    except BaseException:
                        if self.conn.in_transaction:
                            self.conn.execute("ROLLBACK")
                        raise
                    self.conn.execute("COMMIT")
                finally:
                    self._writer, self._lines_after = None, []
                    if not durable:
                        self._durable = True
                        self.conn.execute("PRAGMA synchronous = FULL")
        finally:
            for level, kind, message, subject, run_id in lines:
                stderr.emit(level, kind, message, subject=subject, run_id=run_id)

    def _rows(self, sql: str, params: tuple | list = ()) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self.conn.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def _row(self, sql: str, params: tuple | list = ()) -> dict[str, Any] | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def data_version(self) -> int:
        """Changes whenever another connection committed: readers refresh only then."""
        with self._lock:
            return self.conn.execute("PRAGMA data_version").fetchone()[0]

    def quick_check(self) -> list[str]:
        """Problems PRAGMA quick_check finds; empty when the file is sound."""
        found = [row["quick_check"] for row in self._rows("PRAGMA quick_check")]
        return [] if found == ["ok"] else found

    def backup(self, target: Path) -> Path:
        """A consistent copy while the engine keeps working (the backup API, never a file copy)."""
        target = Path(target)
        destination = sqlite3.connect(target)
        try:
            with self._lock:
                self.conn.backup(destination)
            problems = destination.execute("PRAGMA integrity_check").fetchall()
        finally:
            destination.close()
        os.chmod(target, 0o600)
        if problems != [("ok",)]:
            raise StoreError(f"the backup at {target} fails its integrity check: {problems[:3]}")
        return target

    # ------------------------------------------------------------------ logbook

    def log(self, level: str | int, kind: str, message: str, *, run_id: int | None = None,
            subject: str = "", details: dict[str, Any] | None = None) -> int:
        """Record one event in the logbook and on stderr; returns its id (0 when below the level)."""
        level = level_name(level)
        if level not in levels_at_least(self.min_level):
            return 0
        message, subject = scrub(str(message)), scrub(str(subject))
        details_json = scrub(_json(details)) if details else None
        if self._writer == threading.get_ident():
            # Inside a transaction of this thread: printed once it lets go of the store, so the
            # threads waiting for the store (a write's call count, before it is sent) do not
            # also wait for the terminal or the journal.
            self._lines_after.append((level, kind, message, subject, run_id))
        else:
            stderr.emit(level, kind, message, subject=subject, run_id=run_id)
        with self.write(durable=False):  # a line, not a record pvsync acts on
            cursor = self.conn.execute(
                "INSERT INTO logbook (at, level, kind, run_id, subject, message, details_json) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (to_text(utc_now()), level, kind, run_id, subject, message, details_json))
        return cursor.lastrowid

    def logbook_page(self, *, before_id: int | None = None, after_id: int | None = None, limit: int = 200,
                     level: str | None = None, kinds: list[str] | None = None, run_id: int | None = None,
                     text: str | None = None, since: datetime | None = None) -> list[LogEntry]:
        """A page of the logbook: newest first going back from `before_id` (or the end),
        oldest first going forward from `after_id`. `level` is the minimum level."""
        where: list[str] = []
        params: list[Any] = []
        # A text of three characters or more is looked up in the trigram index (schema:
        # _logbook_search), which then also walks the ids, newest or oldest first.
        indexed = bool(text) and len(text) >= TRIGRAM
        source, id_column = ("logbook_text JOIN logbook ON logbook.id = logbook_text.rowid", "logbook_text.rowid") \
            if indexed else ("logbook", "id")
        if after_id is not None:
            where.append(f"{id_column} > ?")
            params.append(after_id)
        elif before_id is not None:
            where.append(f"{id_column} < ?")
            params.append(before_id)
        if level:
            wanted = levels_at_least(level)
            where.append(f"level IN ({', '.join('?' * len(wanted))})")
            params.extend(wanted)
        if kinds:
            where.append(f"kind IN ({', '.join('?' * len(kinds))})")
            params.extend(kinds)
        if run_id is not None:
            where.append("run_id = ?")
            params.append(run_id)
        if indexed:
            where.append("logbook_text MATCH ?")
            params.append('"' + text.replace('"', '""') + '"')  # one phrase: the text as typed, nothing special
        elif text:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append("(message LIKE ? ESCAPE '\\' OR subject LIKE ? ESCAPE '\\')")
            params.extend([pattern, pattern])
        if since is not None:
            where.append("at >= ?")
            params.append(to_text(since))
        order = "ASC" if after_id is not None else "DESC"
        sql = (f"SELECT logbook.* FROM {source} {'WHERE ' + ' AND '.join(where) if where else ''} "
               f"ORDER BY {id_column} {order} LIMIT ?")
        return [_log_entry(row) for row in self._rows(sql, [*params, limit])]

    def logbook_bounds(self) -> tuple[int, int]:
        row = self._row("SELECT min(id) AS low, max(id) AS high FROM logbook")
        return (row["low"] or 0, row["high"] or 0)

    def purge_logbook(self, older_than: datetime, *, batch: int = 2000) -> int:
        """Delete entries older than a moment, a batch per transaction so readers never wait long."""
        removed = 0
        while True:
            with self.write():
                cursor = self.conn.execute(
                    "DELETE FROM logbook WHERE id IN (SELECT id FROM logbook WHERE at < ? ORDER BY id LIMIT ?)",
                    (to_text(older_than), batch))
            removed += cursor.rowcount
            if cursor.rowcount < batch:
                return removed

    # ------------------------------------------------------------------ runs

    def start_run(self, trigger: str, jobs: list[str], config_hash: str, *, dry_run: bool = False) -> int:
        with self.write():
            cursor = self.conn.execute(
                "INSERT INTO runs (trigger, jobs_json, dry_run, started_at, config_hash) VALUES (?, ?, ?, ?, ?)",
                (trigger, _json(list(jobs)), int(dry_run), to_text(utc_now()), config_hash))
        return cursor.lastrowid

    def finish_run(self, run_id: int, outcome: str, counters: dict[str, Any], error: str | None = None, *,
                   job_outcomes: dict[str, str] | None = None) -> None:
        """Close a run. `job_outcomes` ({job: "ok"|"failed"|...}) is what the schedule reads."""
        if outcome not in RUN_OUTCOMES or outcome == "running":
            raise ValueError(f"a run finishes as ok, failed, partial or interrupted, not {outcome!r}")
        with self.write():
            self.conn.execute(
                "UPDATE runs SET finished_at = ?, outcome = ?, counters_json = ?, error = ?, "
                "job_outcomes_json = ? WHERE id = ?",
                (to_text(utc_now()), outcome, _json(counters), scrub(error) if error else None,
                 _json(job_outcomes or {}), run_id))

    def runs(self, limit: int = 20) -> list[Run]:
        return [_run(row) for row in self._rows("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))]

    def run(self, run_id: int) -> Run | None:
        row = self._row("SELECT * FROM runs WHERE id = ?", (run_id,))
        return _run(row) if row else None

    def last_run(self, job: str | None = None, successful: bool = False) -> Run | None:
        """The newest run (that included `job`); with `successful`, the newest real (not dry)
        run in which that job ran through (ok or partial), or that came out ok as a whole
        when no job is named."""
        where, params = [], []
        if job is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(runs.jobs_json) WHERE value = ?)")
            params.append(job)
        if successful:
            where.append("dry_run = 0")
            if job is not None:
                where.append("json_extract(job_outcomes_json, ?) IN ('ok', 'partial')")
                params.append(f'$."{job}"')
            else:
                where.append("outcome = 'ok'")
        sql = f"SELECT * FROM runs {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY id DESC LIMIT 1"
        row = self._row(sql, params)
        return _run(row) if row else None

    def interrupt_unfinished_runs(self, reason: str) -> list[int]:
        """Runs still 'running' when an engine starts were cut off by a crash or kill."""
        with self.write():
            ids = [r[0] for r in self.conn.execute("SELECT id FROM runs WHERE outcome = 'running'")]
            self.conn.execute("UPDATE runs SET outcome = 'interrupted', finished_at = ?, error = ? "
                              "WHERE outcome = 'running'", (to_text(utc_now()), reason))
        return ids

    # ------------------------------------------------------------------ engine row

    def engine_status(self) -> EngineStatus:
        row = self._row("SELECT * FROM engine WHERE id = 1")
        return EngineStatus(
            pid=row["pid"], mode=row["mode"], state=row["state"], heartbeat_at=from_text(row["heartbeat_at"]),
            current_run_id=row["current_run_id"], progress=json.loads(row["progress_json"]),
            next_due={job: from_text(at) for job, at in json.loads(row["next_due_json"]).items()},
            started_at=from_text(row["started_at"]), installed_at=from_text(row["installed_at"]))

    def update_engine(self, *, pid: int | None = None, mode: str | None = None, state: str | None = None,
                      current_run_id: int | None = _UNCHANGED, progress: dict | None = None,
                      next_due: dict[str, datetime] | None = None, started: bool = False) -> None:
        """Change the engine row; also counts as a heartbeat. Only named fields change
        (`current_run_id=None` clears the current run)."""
        if mode is not None and mode not in ENGINE_MODES:
            raise ValueError(f"unknown engine mode {mode!r}")
        if state is not None and state not in ENGINE_STATES:
            raise ValueError(f"unknown engine state {state!r}")
        now = to_text(utc_now())
        changes: dict[str, Any] = {"heartbeat_at": now}
        if pid is not None:
            changes["pid"] = pid
        if mode is not None:
            changes["mode"] = mode
        if state is not None:
            changes["state"] = state
        if current_run_id is not _UNCHANGED:
            changes["current_run_id"] = current_run_id
        if progress is not None:
            changes["progress_json"] = _json(progress)
        if next_due is not None:
            changes["next_due_json"] = _json({job: to_text(at) for job, at in next_due.items()})
        if started:
            changes["started_at"] = now
        assignments = ", ".join(f"{column} = ?" for column in changes)
        with self.write():
            self.conn.execute(f"UPDATE engine SET {assignments} WHERE id = 1", list(changes.values()))

    def heartbeat(self) -> None:
        self.update_engine()

    # ------------------------------------------------------------------ requests

    def add_request(self, kind: str, payload: dict[str, Any] | None = None) -> int:
        """Ask the engine for something. A second forced sync while one is pending joins
        it (its job list widens to cover both) and returns the pending one's id."""
        if kind not in REQUEST_KINDS:
            raise ValueError(f"unknown request kind {kind!r}; known: {', '.join(REQUEST_KINDS)}")
        payload = dict(payload or {})
        with self.write():
            if kind == "sync":
                pending = self.conn.execute(
                    "SELECT id, payload_json FROM requests WHERE kind = 'sync' AND state = 'pending'").fetchone()
                if pending:
                    merged = _merge_only(json.loads(pending[1]).get("only"), payload.get("only"))
                    self.conn.execute("UPDATE requests SET payload_json = ? WHERE id = ?",
                                      (_json({**payload, "only": merged}), pending[0]))
                    return pending[0]
            cursor = self.conn.execute("INSERT INTO requests (kind, payload_json, created_at) VALUES (?, ?, ?)",
                                       (kind, _json(payload), to_text(utc_now())))
        return cursor.lastrowid

    def claim_request(self, kinds: list[str] | None = None) -> Request | None:
        """Take the oldest pending request (of these kinds); two engines never get the same one."""
        where, params = "state = 'pending'", []
        if kinds:
            where += f" AND kind IN ({', '.join('?' * len(kinds))})"
            params = list(kinds)
        with self.write():
            row = self.conn.execute(
                f"UPDATE requests SET state = 'claimed', claimed_at = ?, claimed_by = ? "
                f"WHERE id = (SELECT id FROM requests WHERE {where} ORDER BY id LIMIT 1) "
                f"RETURNING id, kind, payload_json, created_at, state",
                [to_text(utc_now()), os.getpid(), *params]).fetchone()
        if row is None:
            return None
        return Request(id=row[0], kind=row[1], payload=json.loads(row[2]), created_at=from_text(row[3]),
                       state=row[4])

    def finish_request(self, request_id: int, outcome: str, message: str = "") -> None:
        with self.write():
            self.conn.execute("UPDATE requests SET state = 'done', finished_at = ?, outcome = ?, message = ? "
                              "WHERE id = ?", (to_text(utc_now()), outcome, scrub(message), request_id))

    def request(self, request_id: int) -> Request | None:
        row = self._row("SELECT * FROM requests WHERE id = ?", (request_id,))
        if row is None:
            return None
        return Request(id=row["id"], kind=row["kind"], payload=json.loads(row["payload_json"]),
                       created_at=from_text(row["created_at"]), state=row["state"], outcome=row["outcome"],
                       message=row["message"])

    def abandon_claimed_requests(self, reason: str) -> int:
        """Requests claimed by an engine that is gone will never finish; say so."""
        with self.write():
            cursor = self.conn.execute(
                "UPDATE requests SET state = 'done', finished_at = ?, outcome = 'interrupted', message = ? "
                "WHERE state = 'claimed'", (to_text(utc_now()), reason))
        return cursor.rowcount

    # ------------------------------------------------------------------ cursors

    def cursor(self, stream: str) -> str | None:
        row = self._row("SELECT value FROM cursors WHERE stream = ?", (stream,))
        return row["value"] if row else None

    def set_cursor(self, stream: str, value: str) -> None:
        with self.write():
            self.conn.execute("INSERT INTO cursors (stream, value, updated_at) VALUES (?, ?, ?) "
                              "ON CONFLICT (stream) DO UPDATE SET value = excluded.value, "
                              "updated_at = excluded.updated_at", (stream, value, to_text(utc_now())))

    # ------------------------------------------------------------------ assumptions (see core/store/approvals.py)

    def assumptions_fingerprint(self) -> str | None:
        """The fingerprint of the assumptions `pvsync check` verified last; None before the first check."""
        return self.cursor(ASSUMPTIONS_CHECKED)

    def record_assumptions_fingerprint(self, fingerprint: str) -> None:
        """Keep the fingerprint `pvsync check` found. When it differs from the one the last
        approval covered, the next run waits for a person (engine.approve_first_run). The
        first fingerprint an installation records is its baseline: it changed from nothing."""
        with self.write():
            if self.cursor(ASSUMPTIONS_APPROVED) is None:
                self.set_cursor(ASSUMPTIONS_APPROVED, fingerprint)
            self.set_cursor(ASSUMPTIONS_CHECKED, fingerprint)

    # ------------------------------------------------------------------ API call meter (a CallMeter)

    def record(self, service: str, operation: str) -> None:
        self.record_calls({(service, operation, amsterdam_day()): 1})

    def record_calls(self, counts: Mapping[tuple[str, str, str], int], *, durable: bool = True) -> None:
        """Add call counts per (service, operation, Amsterdam day), in one transaction
        (`durable`: see `write`)."""
        with self.write(durable=durable):
            self.conn.executemany("INSERT INTO api_calls (service, operation, day, count) VALUES (?, ?, ?, ?) "
                                  "ON CONFLICT (service, operation, day) DO UPDATE SET count = count + excluded.count",
                                  [(service, operation, day, n) for (service, operation, day), n in counts.items()])

    def count_this_month(self, service: str, operation: str) -> int:
        return self._count(service, operation, amsterdam_day()[:7] + "-%")

    def count_today(self, service: str, operation: str | None = None) -> int:
        """Calls made today (Amsterdam day) to one operation, or to the whole service."""
        return self._count(service, operation, amsterdam_day())

    def _count(self, service: str, operation: str | None, day_pattern: str) -> int:
        row = self._row("SELECT coalesce(sum(count), 0) AS n FROM api_calls "
                        "WHERE service = ? AND (? IS NULL OR operation = ?) AND day LIKE ?",
                        (service, operation, operation, day_pattern))
        return row["n"]


def amsterdam_day() -> str:
    # Budgets follow e-Boekhouden's calendar, which is Amsterdam's.
    return utc_now().astimezone(AMSTERDAM).date().isoformat()


def _merge_only(first: list[str] | None, second: list[str] | None) -> list[str] | None:
    """Two forced syncs merged: None means all jobs and wins."""
    if first is None or second is None:
        return None
    return sorted(set(first) | set(second))


def _log_entry(row: dict[str, Any]) -> LogEntry:
    return LogEntry(id=row["id"], at=from_text(row["at"]), level=row["level"], kind=row["kind"],
                    run_id=row["run_id"], subject=row["subject"], message=row["message"],
                    details=json.loads(row["details_json"]) if row["details_json"] else {})


def _run(row: dict[str, Any]) -> Run:
    return Run(id=row["id"], trigger=row["trigger"], jobs=json.loads(row["jobs_json"]),
               started_at=from_text(row["started_at"]), finished_at=from_text(row["finished_at"]),
               outcome=row["outcome"], counters=json.loads(row["counters_json"]), error=row["error"],
               dry_run=bool(row["dry_run"]), job_outcomes=json.loads(row["job_outcomes_json"]),
               config_hash=row["config_hash"])

