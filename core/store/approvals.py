"""Whether the engine may write, or must wait for a person first: the approval gate's state.

Two things make a run wait (when `engine.approve_first_run` is on): a first run against
an administration nothing is linked to or booked in yet, and a change in the checked
assumptions about the databases since the last approval. The second needs a fingerprint
of the assumptions: `pvsync check` records it with `Store.record_assumptions_fingerprint`
and this module compares it with the one the last approval covered. The very first
fingerprint an installation records is its baseline (it changed from nothing), so an
installation that has been writing for months is not stopped by the first check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from core.store.records import from_text, to_text, utc_now
from core.store.store import ASSUMPTIONS_APPROVED, Store
# Journal states in which an invoice was (or may have been) sent to e-Boekhouden.
BOOKED_STATES = ("booking", "unknown", "booked", "paid")

# Said after "the": "waits for approval: the first run against ...".
FIRST_RUN = "first run against this administration (nothing is linked or booked in it yet)"
ASSUMPTIONS_CHANGED = "first run since `pvsync check` found changed assumptions about your databases"


@dataclass(frozen=True)
class ApprovalWait:
    """The plan that waits for a person: why, since when, and what the run would do."""

    run_id: int | None
    reason: str
    summary: tuple[str, ...]
    since: datetime
    planned_at: datetime  # the latest dry run; `since` stays the first


@dataclass(frozen=True)
class Approval:
    id: int
    approved_at: datetime
    approved_by: str
    reason: str
    run_id: int | None
    fingerprint: str | None


class Approvals:
    def __init__(self, store: Store):
        self.store = store

    # ------------------------------------------------------------------ the gate

    def reason_to_wait(self) -> str | None:
        """Why the next real run must wait for a person, or None when it may write."""
        checked = self.store.assumptions_fingerprint()
        approved = self.store.cursor(ASSUMPTIONS_APPROVED)
        if checked is not None and approved is None:
            # A check that kept its fingerprint without record_assumptions_fingerprint (it set
            # the cursor itself): the first one seen is the baseline all the same.
            self.store.set_cursor(ASSUMPTIONS_APPROVED, checked)
            approved = checked
        if checked is not None and approved is not None and checked != approved:
            return ASSUMPTIONS_CHANGED
        if self.last() is None and self.administration_is_new():
            return FIRST_RUN
        return None

    def administration_is_new(self) -> bool:
        """Nothing linked and no invoice sent to e-Boekhouden: pvsync has not written here yet."""
        row = self.store._row(
            "SELECT EXISTS (SELECT 1 FROM relation_links) OR EXISTS (SELECT 1 FROM invoices WHERE state IN "
            f"({', '.join('?' * len(BOOKED_STATES))})) AS written", BOOKED_STATES)
        return not row["written"]

    # ------------------------------------------------------------------ waiting

    def waiting(self) -> ApprovalWait | None:
        row = self.store._row("SELECT * FROM approval_wait WHERE id = 1")
        if row is None:
            return None
        return ApprovalWait(run_id=row["run_id"], reason=row["reason"], summary=tuple(json.loads(row["summary_json"])),
                            since=from_text(row["since"]), planned_at=from_text(row["planned_at"]))

    def wait(self, run_id: int, reason: str, summary: list[str]) -> bool:
        """Record (or refresh) the plan that waits; True when it did not wait before (worth a logbook line)."""
        now = to_text(utc_now())
        with self.store.write():
            before = self.store.conn.execute("SELECT reason FROM approval_wait WHERE id = 1").fetchone()
            self.store.conn.execute(
                "INSERT INTO approval_wait (id, run_id, reason, summary_json, since, planned_at) "
                "VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, "
                "reason = excluded.reason, summary_json = excluded.summary_json, planned_at = excluded.planned_at",
                (run_id, reason, json.dumps(summary, ensure_ascii=False), now, now))
        return before is None or before[0] != reason

    def stop_waiting(self) -> None:
        with self.store.write():
            self.store.conn.execute("DELETE FROM approval_wait")

    # ------------------------------------------------------------------ approving

    def approve(self, by: str) -> Approval:
        """Record that `by` lets the engine write (from now, under the assumptions checked now),
        in the store and the logbook, in one transaction; the waiting plan is done with."""
        wait = self.waiting()
        reason = wait.reason if wait else "approved before any run waited"
        fingerprint = self.store.assumptions_fingerprint()
        now = utc_now()
        with self.store.write():
            cursor = self.store.conn.execute(
                "INSERT INTO approvals (approved_at, approved_by, reason, run_id, fingerprint) VALUES (?, ?, ?, ?, ?)",
                (to_text(now), by, reason, wait.run_id if wait else None, fingerprint))
            if fingerprint is not None:
                self.store.set_cursor(ASSUMPTIONS_APPROVED, fingerprint)
            self.store.conn.execute("DELETE FROM approval_wait")
            planned = f" the plan of run {wait.run_id}" if wait and wait.run_id else " the engine's writes"
            self.store.log("INFO", "approval", f"approved by {by}:{planned} may be written ({reason})",
                           run_id=wait.run_id if wait else None, subject=by)
        return Approval(cursor.lastrowid, now, by, reason, wait.run_id if wait else None, fingerprint)

    def last(self) -> Approval | None:
        row = self.store._row("SELECT * FROM approvals ORDER BY id DESC LIMIT 1")
        if row is None:
            return None
        return Approval(id=row["id"], approved_at=from_text(row["approved_at"]), approved_by=row["approved_by"],
                        reason=row["reason"], run_id=row["run_id"], fingerprint=row["fingerprint"])

