"""Proposed links between an e-Boekhouden customer and its PerfectView twin, and what people decided.

The relations job writes a proposal when it finds a twin (core/sync/twins.py); a person
accepts it (naming the PerfectView relation when there are several) or rejects it, from
the console or `pvsync relations accept|reject`. A decision is kept: an accepted proposal
is the record of why a PerfectView relation got its Debiteurnummer, a rejected one why
a second relation was created.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from core.store.records import from_text, to_text, utc_now
from core.store.store import Store

STATES = ("pending", "accepted", "rejected")


@dataclass(frozen=True)
class ProposedTwin:
    pv_id: str
    name: str
    evidence: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.name} ({'; '.join(self.evidence)})"


@dataclass(frozen=True)
class TwinProposal:
    code: str
    name: str  # the e-Boekhouden relation's name
    candidates: tuple[ProposedTwin, ...]
    state: str
    chosen_pv_id: str
    first_seen: datetime
    last_seen: datetime
    decided_at: datetime | None
    decided_by: str

    def chosen(self) -> ProposedTwin | None:
        return next((c for c in self.candidates if c.pv_id == self.chosen_pv_id), None)


class TwinProposals:
    def __init__(self, store: Store):
        self.store = store

    def all(self, state: str | None = None) -> list[TwinProposal]:
        """Oldest first; only those in `state` when given."""
        rows = self.store._rows("SELECT * FROM twin_proposals WHERE ? IS NULL OR state = ? "
                                "ORDER BY first_seen, eboekhouden_code", (state, state))
        return [_proposal(row) for row in rows]

    def get(self, code: str) -> TwinProposal | None:
        row = self.store._row("SELECT * FROM twin_proposals WHERE eboekhouden_code = ?", (code.strip(),))
        return _proposal(row) if row else None

    def decisions(self) -> dict[str, tuple[str, str]]:
        """code -> (state, chosen PerfectView id), for the planner."""
        rows = self.store._rows("SELECT eboekhouden_code, state, chosen_perfectview_id FROM twin_proposals")
        return {r["eboekhouden_code"]: (r["state"], r["chosen_perfectview_id"]) for r in rows}

    def propose(self, code: str, name: str, candidates: Iterable[ProposedTwin]) -> bool:
        """Record (or refresh) a pending proposal; True when it is new or its candidates changed
        (then it is worth a logbook line). A decided proposal is left as it was decided."""
        candidates_json = json.dumps([{"pv_id": c.pv_id, "name": c.name, "evidence": list(c.evidence)}
                                      for c in candidates], ensure_ascii=False, sort_keys=True)
        now = to_text(utc_now())
        with self.store.write():
            before = self.store.conn.execute("SELECT candidates_json, state FROM twin_proposals "
                                             "WHERE eboekhouden_code = ?", (code,)).fetchone()
            if before is not None and before[1] != "pending":
                return False
            self.store.conn.execute(
                "INSERT INTO twin_proposals (eboekhouden_code, eboekhouden_name, candidates_json, first_seen, "
                "last_seen) VALUES (?, ?, ?, ?, ?) ON CONFLICT (eboekhouden_code) DO UPDATE SET "
                "eboekhouden_name = excluded.eboekhouden_name, candidates_json = excluded.candidates_json, "
                "last_seen = excluded.last_seen", (code, name, candidates_json, now, now))
        return before is None or before[0] != candidates_json

    def forget_pending(self, keep: Iterable[str]) -> int:
        """Drop the pending proposals not made again (their twin got a Debiteurnummer, or the
        customer is gone); returns how many."""
        keep = list(keep)
        with self.store.write():
            cursor = self.store.conn.execute(
                f"DELETE FROM twin_proposals WHERE state = 'pending' AND eboekhouden_code NOT IN "
                f"({', '.join('?' * len(keep))})", keep)
        return cursor.rowcount

    def decide(self, code: str, state: str, *, by: str, pv_id: str = "") -> None:
        if state not in STATES[1:]:
            raise ValueError(f"a proposal is accepted or rejected, not {state!r}")
        with self.store.write():
            self.store.conn.execute(
                "UPDATE twin_proposals SET state = ?, chosen_perfectview_id = ?, decided_at = ?, decided_by = ? "
                "WHERE eboekhouden_code = ?", (state, pv_id, to_text(utc_now()), by, code))


def _proposal(row: dict) -> TwinProposal:
    candidates = tuple(ProposedTwin(c["pv_id"], c["name"], tuple(c["evidence"]))
                       for c in json.loads(row["candidates_json"]))
    return TwinProposal(code=row["eboekhouden_code"], name=row["eboekhouden_name"], candidates=candidates,
                        state=row["state"], chosen_pv_id=row["chosen_perfectview_id"],
                        first_seen=from_text(row["first_seen"]), last_seen=from_text(row["last_seen"]),
                        decided_at=from_text(row["decided_at"]), decided_by=row["decided_by"])
