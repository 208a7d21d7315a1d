"""What the payments job learned about each booked invoice's payment (table `payment_checks`).

The invoice journal says where an invoice is (booked, paid); this table says what
e-Boekhouden last showed about its payment: the open item as GetOpenPosten listed it
(so the console can show a partly paid invoice's open amount), since when it has been
missing from that list (the guard against a suddenly empty answer compares with this),
and what a GetMutaties lookup found settled (so an invoice whose PerfectView step could
not be changed is not looked up again, and one that was not proven settled is not looked
up every day). Money is stored as integer cents, as in the journal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable

from core.model import OpenItem, from_cents, round_cents, to_cents
from core.store.records import from_text, to_text, utc_now
from core.store.store import Store


@dataclass(frozen=True)
class PaymentCheck:
    activity_id: str
    invoice_number: str
    relation_code: str
    listed: bool  # in the last GetOpenPosten answer
    amount: Decimal | None  # Bedrag, Voldaan and Openstaand as last listed
    paid: Decimal | None
    outstanding: Decimal | None
    absent_since: datetime | None  # first answer it was missing from, while it stays missing
    looked_up_at: datetime | None  # last GetMutaties by Factuurnummer
    settled: Decimal | None  # what that lookup found settled
    evidence: str  # in words, once the invoice is proven settled; empty until then
    checked_at: datetime
    run_id: int | None

    @property
    def proven_settled(self) -> bool:
        return bool(self.evidence)

    @property
    def partly_paid(self) -> bool:
        return self.listed and bool(self.paid) and bool(self.outstanding)


@dataclass(frozen=True)
class Listed:
    """A booked invoice found in the answer, with its open item."""

    activity_id: str
    invoice_number: str
    relation_code: str
    item: OpenItem


@dataclass(frozen=True)
class Missing:
    """A booked invoice missing from the answer."""

    activity_id: str
    invoice_number: str
    relation_code: str


def _cents(value: Decimal | None) -> int | None:
    return None if value is None else to_cents(round_cents(value))


def _money(cents: int | None) -> Decimal | None:
    return None if cents is None else from_cents(cents)


class PaymentChecks:
    """The `payment_checks` rows of one state store."""

    def __init__(self, store: Store):
        self.store = store

    def all(self) -> dict[str, PaymentCheck]:
        """Every check, by activity id."""
        return {row["activity_id"]: _check(row) for row in self.store._rows("SELECT * FROM payment_checks")}

    def of(self, activity_ids: Iterable[str]) -> dict[str, PaymentCheck]:
        """The checks of these invoices (those that have one), by activity id."""
        rows = self.store._rows("SELECT * FROM payment_checks WHERE activity_id IN (SELECT value FROM json_each(?))",
                                (json.dumps(list(activity_ids)),))
        return {row["activity_id"]: _check(row) for row in rows}

    def get(self, activity_id: str) -> PaymentCheck | None:
        row = self.store._row("SELECT * FROM payment_checks WHERE activity_id = ?", (activity_id,))
        return _check(row) if row else None

    def open_amounts(self) -> list[PaymentCheck]:
        """Booked invoices e-Boekhouden lists with something still open, largest open amount first
        (the console's "open amount" column; partly paid ones have `partly_paid`)."""
        rows = self.store._rows("SELECT * FROM payment_checks WHERE listed = 1 AND outstanding_cents != 0 "
                                "ORDER BY abs(outstanding_cents) DESC, invoice_number")
        return [_check(row) for row in rows]

    def record_answer(self, listed: Iterable[Listed], missing: Iterable[Missing], *, run_id: int | None) -> None:
        """One GetOpenPosten answer, in one transaction. A missing invoice keeps the moment it
        first went missing; one listed again loses it (and any lookup, which is then stale)."""
        now = to_text(utc_now())
        with self.store.write():
            # executemany: thousands of rows on every run, without a Python call per row.
            self.store.conn.executemany(
                "INSERT INTO payment_checks (activity_id, invoice_number, relation_code, listed, amount_cents, "
                "paid_cents, outstanding_cents, absent_since, looked_up_at, settled_cents, evidence, "
                "checked_at, run_id) VALUES (?, ?, ?, 1, ?, ?, ?, NULL, NULL, NULL, '', ?, ?) "
                "ON CONFLICT (activity_id) DO UPDATE SET invoice_number = excluded.invoice_number, "
                "relation_code = excluded.relation_code, listed = 1, amount_cents = excluded.amount_cents, "
                "paid_cents = excluded.paid_cents, outstanding_cents = excluded.outstanding_cents, "
                "absent_since = NULL, looked_up_at = NULL, settled_cents = NULL, "
                "evidence = CASE WHEN excluded.outstanding_cents = 0 THEN evidence ELSE '' END, "
                "checked_at = excluded.checked_at, run_id = excluded.run_id",
                ((entry.activity_id, entry.invoice_number, entry.relation_code, _cents(entry.item.amount),
                  _cents(entry.item.paid), _cents(entry.item.outstanding), now, run_id)
                 for entry in listed))
            self.store.conn.executemany(
                "INSERT INTO payment_checks (activity_id, invoice_number, relation_code, listed, absent_since, "
                "checked_at, run_id) VALUES (?, ?, ?, 0, ?, ?, ?) "
                "ON CONFLICT (activity_id) DO UPDATE SET invoice_number = excluded.invoice_number, "
                "relation_code = excluded.relation_code, listed = 0, outstanding_cents = NULL, "
                "absent_since = coalesce(absent_since, excluded.absent_since), "
                "checked_at = excluded.checked_at, run_id = excluded.run_id",
                ((entry.activity_id, entry.invoice_number, entry.relation_code, now, now, run_id)
                 for entry in missing))

    def record_lookup(self, activity_id: str, settled: Decimal, evidence: str, *, run_id: int | None) -> None:
        """What GetMutaties by Factuurnummer found; `evidence` is empty when it does not prove the
        invoice settled."""
        with self.store.write():
            self.store.conn.execute(
                "UPDATE payment_checks SET looked_up_at = ?, settled_cents = ?, evidence = ?, run_id = ? "
                "WHERE activity_id = ?", (to_text(utc_now()), _cents(settled), evidence, run_id, activity_id))

    def record_settled(self, activity_id: str, evidence: str, *, run_id: int | None) -> None:
        """The invoice is proven settled (kept until its PerfectView step is changed)."""
        with self.store.write():
            self.store.conn.execute("UPDATE payment_checks SET evidence = ?, run_id = ? WHERE activity_id = ?",
                                    (evidence, run_id, activity_id))


def _check(row: dict[str, Any]) -> PaymentCheck:
    return PaymentCheck(
        activity_id=row["activity_id"], invoice_number=row["invoice_number"], relation_code=row["relation_code"],
        listed=bool(row["listed"]), amount=_money(row["amount_cents"]), paid=_money(row["paid_cents"]),
        outstanding=_money(row["outstanding_cents"]), absent_since=from_text(row["absent_since"]),
        looked_up_at=from_text(row["looked_up_at"]), settled=_money(row["settled_cents"]), evidence=row["evidence"],
        checked_at=from_text(row["checked_at"]), run_id=row["run_id"])

