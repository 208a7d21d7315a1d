"""What the relations job remembers between runs: links, problems, cursors, debtor numbers.

The only SQL of the relation sync. Every write is its own short transaction, so a link
is saved the moment its write succeeded and a crash loses at most the action in flight.
Links and problems are written durable=False (core.store.store): a link a power cut
loses is found again by its code in the next run, never created twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from typing import Protocol

from core.model import Problem, RelationLink
from core.store.records import from_text, to_text, utc_now
from core.store.store import Store

PERFECTVIEW_CURSOR = "relations.perfectview.modified"
FULL_PASS_CURSOR = "relations.perfectview.full_pass"
COMPARED_CURSOR = "relations.eboekhouden.compared_until"  # the last code the full pass's slice compared
# The digest of e-Boekhouden's whole relation list as the last run that wrote nothing there read it.
EBOEKHOUDEN_LIST_CURSOR = "relations.eboekhouden.list_digest"


class ProblemLike(Protocol):
    """What the sync hands in (core.eboekhouden.limits.Problem has this shape)."""

    field: str
    message: str
    hint: str


@dataclass(frozen=True)
class RelationProblemRecord:
    """One relation that waits for a person: not written, or its partner is gone."""

    key: str  # the PerfectView relation id, or "e-Boekhouden <code>" for an import
    subject: str  # "1001 (Bakkerij Jansen)"
    code: str
    kind: str  # "blocked", "disappeared" or "import"
    problems: tuple[Problem, ...]
    first_seen: datetime
    last_seen: datetime


class RelationState:
    def __init__(self, store: Store):
        self.store = store

    # ------------------------------------------------------------------ links

    def links(self) -> list[RelationLink]:
        rows = self.store._rows("SELECT * FROM relation_links ORDER BY eboekhouden_code")
        return [RelationLink(pv_id=r["perfectview_id"], code=r["eboekhouden_code"], eb_id=r["eboekhouden_id"] or 0,
                             pv_hash=r["perfectview_hash"], eb_hash=r["eboekhouden_hash"]) for r in rows]

    def save_link(self, link: RelationLink) -> str | None:
        """Upsert the link of one PerfectView relation; returns the code it was linked to
        before when that was another one (its Debiteurnummer changed), else None.

        A code belongs to one PerfectView relation: when another relation held it, that
        older link is dropped. A code left behind is retired: never imported back.
        """
        now = to_text(utc_now())
        with self.store.write(durable=False):
            conn = self.store.conn
            before = conn.execute("SELECT eboekhouden_code FROM relation_links WHERE perfectview_id = ?",
                                  (link.pv_id,)).fetchone()
            moved_from = before[0] if before and before[0] != link.code else None
            if moved_from:
                conn.execute("INSERT OR REPLACE INTO retired_links (eboekhouden_code, perfectview_id, retired_at) "
                             "VALUES (?, ?, ?)", (moved_from, link.pv_id, now))
            conn.execute("DELETE FROM retired_links WHERE eboekhouden_code = ?", (link.code,))
            conn.execute("DELETE FROM relation_links WHERE eboekhouden_code = ? AND perfectview_id != ?",
                         (link.code, link.pv_id))
            conn.execute(
                "INSERT INTO relation_links (perfectview_id, eboekhouden_code, eboekhouden_id, perfectview_hash, "
                "eboekhouden_hash, linked_at, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (perfectview_id) DO UPDATE SET eboekhouden_code = excluded.eboekhouden_code, "
                "eboekhouden_id = excluded.eboekhouden_id, perfectview_hash = excluded.perfectview_hash, "
                "eboekhouden_hash = excluded.eboekhouden_hash, synced_at = excluded.synced_at, "
                "linked_at = CASE WHEN relation_links.eboekhouden_code = excluded.eboekhouden_code "
                "THEN relation_links.linked_at ELSE excluded.linked_at END",
                (link.pv_id, link.code, link.eb_id, link.pv_hash, link.eb_hash, now, now))
        return moved_from

    def retired_codes(self) -> set[str]:
        """Codes once linked whose PerfectView relation now has another Debiteurnummer."""
        return {r["eboekhouden_code"] for r in self.store._rows("SELECT eboekhouden_code FROM retired_links")}

    # ------------------------------------------------------------------ problems

    def problems(self) -> list[RelationProblemRecord]:
        """Every relation with a problem, for the console, oldest first."""
        rows = self.store._rows("SELECT * FROM relation_problems ORDER BY first_seen, key")
        return [RelationProblemRecord(
            key=r["key"], subject=r["subject"], code=r["code"], kind=r["kind"],
            problems=tuple(Problem(**p) for p in json.loads(r["problems_json"])),
            first_seen=from_text(r["first_seen"]), last_seen=from_text(r["last_seen"])) for r in rows]

    def record_problems(self, key: str, *, subject: str, code: str, kind: str,
                        problems: Iterable[ProblemLike]) -> bool:
        """Remember the problems of one relation; True when they are new or changed
        (then they are worth a logbook line), False when this is the same story again."""
        problems_json = json.dumps([{"field": p.field, "message": p.message, "hint": p.hint} for p in problems],
                                   ensure_ascii=False, sort_keys=True)
        now = to_text(utc_now())
        with self.store.write(durable=False):
            before = self.store.conn.execute("SELECT problems_json, kind FROM relation_problems WHERE key = ?",
                                             (key,)).fetchone()
            self.store.conn.execute(
                "INSERT INTO relation_problems (key, subject, code, kind, problems_json, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET subject = excluded.subject, "
                "code = excluded.code, kind = excluded.kind, problems_json = excluded.problems_json, "
                "last_seen = excluded.last_seen, first_seen = CASE WHEN relation_problems.problems_json = "
                "excluded.problems_json THEN relation_problems.first_seen ELSE excluded.first_seen END",
                (key, subject, code, kind, problems_json, now, now))
        return before is None or tuple(before) != (problems_json, kind)

    def clear_problems(self, keys: Iterable[str]) -> int:
        """Forget the problems of relations that are fine now; returns how many were cleared."""
        keys = list(keys)
        if not keys:
            return 0
        with self.store.write(durable=False):
            cursor = self.store.conn.execute(
                f"DELETE FROM relation_problems WHERE key IN ({', '.join('?' * len(keys))})", keys)
        return cursor.rowcount

    def problem_keys(self) -> set[str]:
        return {r["key"] for r in self.store._rows("SELECT key FROM relation_problems")}

    # ------------------------------------------------------------------ PerfectView reading

    def perfectview_cursor(self) -> datetime | None:
        return from_text(self.store.cursor(PERFECTVIEW_CURSOR))

    def last_full_pass(self) -> datetime | None:
        return from_text(self.store.cursor(FULL_PASS_CURSOR))

    def compared_until(self) -> str | None:
        return self.store.cursor(COMPARED_CURSOR)

    def finish_read(self, started: datetime, *, full_pass: bool, debtor_numbers: Mapping[str, str],
                    read_ids: Iterable[str], compared_until: str | None = None) -> None:
        """After apply: move the modified-since cursor to the read's start, keep the
        Debiteurnummers just read (all of them on a full pass) and where the full pass's
        comparing slice ended, in one transaction."""
        now = to_text(utc_now())
        with self.store.write():
            conn = self.store.conn
            if full_pass:
                conn.execute("DELETE FROM perfectview_debtor_numbers")
            else:
                ids = list(read_ids)
                conn.executemany("DELETE FROM perfectview_debtor_numbers WHERE perfectview_id = ?",
                                 [(i,) for i in ids])
            conn.executemany("INSERT OR REPLACE INTO perfectview_debtor_numbers (perfectview_id, debtor_number, "
                             "seen_at) VALUES (?, ?, ?)",
                             [(pv_id, number, now) for pv_id, number in debtor_numbers.items() if number])
            self.store.set_cursor(PERFECTVIEW_CURSOR, to_text(started))
            if full_pass:
                self.store.set_cursor(FULL_PASS_CURSOR, to_text(started))
            if compared_until is not None:
                self.store.set_cursor(COMPARED_CURSOR, compared_until)

    def eboekhouden_list_digest(self) -> str | None:
        """The digest of e-Boekhouden's relation list (GetRelaties, every field) as last read by a
        run that compared every link with it and wrote nothing to e-Boekhouden; None when unknown."""
        return self.store.cursor(EBOEKHOUDEN_LIST_CURSOR) or None

    def remember_eboekhouden_list(self, digest: str | None) -> None:
        if (digest or "") != (self.store.cursor(EBOEKHOUDEN_LIST_CURSOR) or ""):
            self.store.set_cursor(EBOEKHOUDEN_LIST_CURSOR, digest or "")

    def remember_debtor_number(self, pv_id: str, number: str) -> None:
        """A relation pvsync itself created in PerfectView (an import)."""
        with self.store.write(durable=False):
            self.store.conn.execute("INSERT OR REPLACE INTO perfectview_debtor_numbers (perfectview_id, "
                                    "debtor_number, seen_at) VALUES (?, ?, ?)", (pv_id, number, to_text(utc_now())))

    def debtor_numbers(self) -> dict[str, str]:
        """PerfectView relation id -> Debiteurnummer, as last read."""
        rows = self.store._rows("SELECT perfectview_id, debtor_number FROM perfectview_debtor_numbers")
        return {r["perfectview_id"]: r["debtor_number"] for r in rows}

    # ------------------------------------------------------------------ customers (import)

    def customer_codes(self) -> set[str]:
        return {r["eboekhouden_code"] for r in self.store._rows("SELECT eboekhouden_code FROM relation_customers")}

    def add_customer_codes(self, codes: Iterable[str]) -> None:
        now = to_text(utc_now())
        with self.store.write():
            self.store.conn.executemany("INSERT OR IGNORE INTO relation_customers (eboekhouden_code, found_at) "
                                        "VALUES (?, ?)", [(code, now) for code in codes if code])
