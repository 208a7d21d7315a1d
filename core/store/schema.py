"""The schema as an ordered list of migrations; `PRAGMA user_version` says how many ran.

Each migration runs in its own BEGIN IMMEDIATE transaction together with the version
bump, so a crash leaves the database at one version or the next, never between. Add a
migration by appending a function; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
from typing import Callable

from core.store.records import to_text, utc_now


def _initial(conn: sqlite3.Connection) -> None:
    conn.execute("""
        CREATE TABLE engine (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            pid INTEGER,
            mode TEXT CHECK (mode IN ('daemon', 'embedded', 'cli')),
            state TEXT NOT NULL DEFAULT 'stopped' CHECK (state IN ('idle', 'running', 'stopped')),
            heartbeat_at TEXT,
            started_at TEXT,
            current_run_id INTEGER,
            progress_json TEXT NOT NULL DEFAULT '{}',
            next_due_json TEXT NOT NULL DEFAULT '{}',
            installed_at TEXT NOT NULL
        ) STRICT""")
    conn.execute("INSERT INTO engine (id, installed_at) VALUES (1, ?)", (to_text(utc_now()),))
    conn.execute("""
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            trigger TEXT NOT NULL,
            jobs_json TEXT NOT NULL,
            dry_run INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1)),
            started_at TEXT NOT NULL,
            finished_at TEXT,
            outcome TEXT NOT NULL DEFAULT 'running'
                CHECK (outcome IN ('running', 'ok', 'failed', 'partial', 'interrupted')),
            job_outcomes_json TEXT NOT NULL DEFAULT '{}',
            counters_json TEXT NOT NULL DEFAULT '{}',
            error TEXT,
            config_hash TEXT NOT NULL DEFAULT ''
        ) STRICT""")
    # Kinds are checked in code, not by CHECK: a new kind must not need a table rebuild.
    conn.execute("""
        CREATE TABLE requests (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            payload_json TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'claimed', 'done')),
            claimed_at TEXT,
            claimed_by INTEGER,
            finished_at TEXT,
            outcome TEXT,
            message TEXT NOT NULL DEFAULT ''
        ) STRICT""")
    # The database itself guarantees at most one pending forced sync.
    conn.execute("CREATE UNIQUE INDEX requests_one_pending_sync ON requests (kind) "
                 "WHERE kind = 'sync' AND state = 'pending'")
    conn.execute("CREATE INDEX requests_by_state ON requests (state, id)")
    conn.execute("""
        CREATE TABLE relation_links (
            perfectview_id TEXT PRIMARY KEY,
            eboekhouden_code TEXT NOT NULL UNIQUE,
            eboekhouden_id INTEGER,
            perfectview_hash TEXT NOT NULL DEFAULT '',
            eboekhouden_hash TEXT NOT NULL DEFAULT '',
            linked_at TEXT NOT NULL,
            synced_at TEXT
        ) STRICT""")
    # Money as integer cents: SQLite would store a Decimal as a binary float.
    conn.execute("""
        CREATE TABLE invoices (
            activity_id TEXT PRIMARY KEY,
            invoice_number TEXT NOT NULL,
            relation_code TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL
                CHECK (state IN ('seen', 'blocked', 'ready', 'booking', 'unknown', 'booked', 'paid')),
            reason TEXT NOT NULL DEFAULT '',
            attempts INTEGER NOT NULL DEFAULT 0,
            mutatienummer INTEGER,
            total_excl_vat_cents INTEGER,
            vat_cents INTEGER,
            total_incl_vat_cents INTEGER,
            payload_json TEXT NOT NULL DEFAULT '{}',
            updated_at TEXT NOT NULL
        ) STRICT""")
    conn.execute("CREATE INDEX invoices_by_number ON invoices (invoice_number)")
    conn.execute("CREATE INDEX invoices_by_state ON invoices (state)")
    # AUTOINCREMENT: ids never come back after a purge, so a follower paging by id misses nothing.
    conn.execute("""
        CREATE TABLE logbook (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            level TEXT NOT NULL CHECK (level IN ('DEBUG', 'INFO', 'WARNING', 'ERROR')),
            kind TEXT NOT NULL,
            run_id INTEGER,
            subject TEXT NOT NULL DEFAULT '',
            message TEXT NOT NULL,
            details_json TEXT
        ) STRICT""")
    conn.execute("CREATE INDEX logbook_by_level ON logbook (level, id)")
    conn.execute("CREATE INDEX logbook_by_kind ON logbook (kind, id)")
    conn.execute("CREATE INDEX logbook_by_run ON logbook (run_id, id)")
    conn.execute("CREATE INDEX logbook_by_time ON logbook (at)")
    conn.execute("""
        CREATE TABLE cursors (
            stream TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        ) STRICT""")
    conn.execute("""
        CREATE TABLE api_calls (
            service TEXT NOT NULL,
            operation TEXT NOT NULL,
            day TEXT NOT NULL,
            count INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (service, operation, day)
        ) STRICT""")


def _payment_checks(conn: sqlite3.Connection) -> None:
    """What the payments job last learned per booked invoice (core/store/payment_state.py).

    Kept apart from the invoice journal: the journal says where an invoice is, this says
    what e-Boekhouden showed about its payment, so the console can show a partly paid
    invoice's open amount and a settled invoice is not looked up (GetMutaties) twice.
    """
    conn.execute("""
        CREATE TABLE payment_checks (
            activity_id TEXT PRIMARY KEY,
            invoice_number TEXT NOT NULL,
            relation_code TEXT NOT NULL DEFAULT '',
            listed INTEGER NOT NULL CHECK (listed IN (0, 1)),
            amount_cents INTEGER,
            paid_cents INTEGER,
            outstanding_cents INTEGER,
            absent_since TEXT,
            looked_up_at TEXT,
            settled_cents INTEGER,
            evidence TEXT NOT NULL DEFAULT '',
            checked_at TEXT NOT NULL,
            run_id INTEGER
        ) STRICT""")


def _relation_state(conn: sqlite3.Connection) -> None:
    """What the relations job keeps between runs besides its links (core/store/relation_state.py).

    - relation_problems: relations that are not written (blocked) or whose partner is gone,
      with the reasons in words, so the console can list "relations with problems" and a
      problem is told in the logbook once, not every four hours.
    - perfectview_debtor_numbers: which PerfectView relation held which Debiteurnummer at
      the last read, so an incremental (modified-since) pass still sees a duplicate number
      held by a relation that did not change, and never imports a customer PerfectView has.
    - relation_customers: e-Boekhouden codes once seen with a sales booking; GetMutaties
      only shows the latest 500 mutations, so a customer stays a customer once found.
    """
    conn.execute("""
        CREATE TABLE relation_problems (
            key TEXT PRIMARY KEY,
            subject TEXT NOT NULL,
            code TEXT NOT NULL DEFAULT '',
            kind TEXT NOT NULL,
            problems_json TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL
        ) STRICT""")
    conn.execute("""
        CREATE TABLE perfectview_debtor_numbers (
            perfectview_id TEXT PRIMARY KEY,
            debtor_number TEXT NOT NULL,
            seen_at TEXT NOT NULL
        ) STRICT""")
    conn.execute("CREATE INDEX perfectview_debtor_numbers_by_number ON perfectview_debtor_numbers (debtor_number)")
    conn.execute("""
        CREATE TABLE relation_customers (
            eboekhouden_code TEXT PRIMARY KEY,
            found_at TEXT NOT NULL
        ) STRICT""")


def _invoice_journal_details(conn: sqlite3.Connection) -> None:
    """What the invoices job keeps per journal row besides state and amounts (core/store/invoice_journal.py).

    - block_code / way_out: why a blocked invoice waits and what to do, apart from the
      reason, so a cause pvsync can re-check clears itself and one only a person can
      clear (e-Boekhouden refused it, two bookings found) waits for a retry;
    - source_hash / change_reported: the PerfectView invoice as booked, so a later edit is
      reported once and never booked again;
    - perfectview_done: the booked marker and the activity note are written (after a crash
      in between, the next run finishes them);
    - document_*: which attachment went to e-Boekhouden's archive address, or why none yet.
    """
    for column in (
        "block_code TEXT NOT NULL DEFAULT ''",
        "way_out TEXT NOT NULL DEFAULT ''",
        "source_hash TEXT NOT NULL DEFAULT ''",
        "change_reported TEXT NOT NULL DEFAULT ''",
        "booked_at TEXT",
        "linked INTEGER NOT NULL DEFAULT 0 CHECK (linked IN (0, 1))",
        "perfectview_done INTEGER NOT NULL DEFAULT 0 CHECK (perfectview_done IN (0, 1))",
        "document_state TEXT NOT NULL DEFAULT '' "
        "CHECK (document_state IN ('', 'choose', 'pending', 'sent', 'no_attachment'))",
        "document_attachment_id TEXT NOT NULL DEFAULT ''",
        "document_file TEXT NOT NULL DEFAULT ''",
        "document_sent_at TEXT",
        "document_error TEXT NOT NULL DEFAULT ''",
    ):
        conn.execute(f"ALTER TABLE invoices ADD COLUMN {column}")


def _retired_links(conn: sqlite3.Connection) -> None:
    """Codes whose PerfectView relation took another Debiteurnummer (core/store/relation_state.py).

    The e-Boekhouden relation left behind stays as it is and is never imported back into
    PerfectView as a new relation; a PerfectView relation that takes the code again links it.
    """
    conn.execute("""
        CREATE TABLE retired_links (
            eboekhouden_code TEXT PRIMARY KEY,
            perfectview_id TEXT NOT NULL,
            retired_at TEXT NOT NULL
        ) STRICT""")


def _logbook_search(conn: sqlite3.Connection) -> None:
    """A trigram index of the logbook's subject and message, so the console's text filter
    finds a name or number among a million entries without reading them all (a LIKE
    '%...%' has to). It holds no text of its own (external content: the logbook rows) and
    triggers keep it in step with every insert and delete, also the purge's.
    """
    conn.execute("CREATE VIRTUAL TABLE logbook_text USING fts5(subject, message, content='logbook', "
                 "content_rowid='id', tokenize='trigram')")
    conn.execute("""
        CREATE TRIGGER logbook_text_insert AFTER INSERT ON logbook BEGIN
            INSERT INTO logbook_text (rowid, subject, message) VALUES (new.id, new.subject, new.message);
        END""")
    conn.execute("""
        CREATE TRIGGER logbook_text_delete AFTER DELETE ON logbook BEGIN
            INSERT INTO logbook_text (logbook_text, rowid, subject, message)
            VALUES ('delete', old.id, old.subject, old.message);
        END""")
    conn.execute("""
        CREATE TRIGGER logbook_text_update AFTER UPDATE OF subject, message ON logbook BEGIN
            INSERT INTO logbook_text (logbook_text, rowid, subject, message)
            VALUES ('delete', old.id, old.subject, old.message);
            INSERT INTO logbook_text (rowid, subject, message) VALUES (new.id, new.subject, new.message);
        END""")
    conn.execute("INSERT INTO logbook_text (logbook_text) VALUES ('rebuild')")


def _approvals_and_twins(conn: sqlite3.Connection) -> None:
    """A person in the loop before the first writes (core/store/approvals.py), and the
    PerfectView twins of e-Boekhouden customers (core/store/twin_proposals.py).

    - approvals: every approval given, by whom (the OS user) and when, with the assumptions
      fingerprint it covered; kept for good, as the record of who let pvsync write.
    - approval_wait: the one plan that waits now (at most one row), so status and console
      can show its summary without re-planning.
    - twin_proposals: per e-Boekhouden code, the PerfectView relations that look like it
      (with the evidence), and what a person decided.
    """
    conn.execute("""
        CREATE TABLE approvals (
            id INTEGER PRIMARY KEY,
            approved_at TEXT NOT NULL,
            approved_by TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            run_id INTEGER,
            fingerprint TEXT
        ) STRICT""")
    conn.execute("""
        CREATE TABLE approval_wait (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            run_id INTEGER,
            reason TEXT NOT NULL,
            summary_json TEXT NOT NULL DEFAULT '[]',
            since TEXT NOT NULL,
            planned_at TEXT NOT NULL
        ) STRICT""")
    conn.execute("""
        CREATE TABLE twin_proposals (
            eboekhouden_code TEXT PRIMARY KEY,
            eboekhouden_name TEXT NOT NULL DEFAULT '',
            candidates_json TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'accepted', 'rejected')),
            chosen_perfectview_id TEXT NOT NULL DEFAULT '',
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            decided_at TEXT,
            decided_by TEXT NOT NULL DEFAULT ''
        ) STRICT""")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_initial, _payment_checks, _relation_state,
                                                            _invoice_journal_details, _retired_links, _logbook_search,
                                                            _approvals_and_twins]
SCHEMA_VERSION = len(MIGRATIONS)
