"""The invoice journal (table `invoices`): where each PerfectView sales invoice is on its
way to e-Boekhouden, and the only SQL that touches it (besides the payments job's
booked -> paid).

Every state change goes through `check_transition`, inside a BEGIN IMMEDIATE
transaction that re-reads the row first, so a move the state machine forbids (above
all: sending again from `booking` or `unknown` without a lookup) cannot be written.
Money is stored as integer cents; the PerfectView invoice as last read and the planned
(later: frozen) booking travel in payload_json with amounts as strings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterable

from core.model import (Attachment, Booking, BookingLine, InvoiceLine, MutatieSoort, Problem, SalesInvoice,
                        from_cents, round_cents, to_cents)
from core.store.records import from_text, to_text, utc_now
from core.store.store import Store
from core.sync.invoice_states import NEEDS_LOOKUP, OPEN, InvoiceState, check_transition

S = InvoiceState
DOCUMENT_STATES = ("", "choose", "pending", "sent", "no_attachment")
DOCUMENTS_WAITING = ("pending", "choose", "no_attachment")  # the invoice's attachments still matter


class JournalError(Exception):
    """A journal change that does not fit the row as it is now; the message says why."""


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class JournalEntry:
    activity_id: str
    invoice_number: str
    relation_code: str
    state: InvoiceState
    reason: str
    block_code: str
    way_out: str
    attempts: int
    mutatienummer: int | None
    total_excl_vat: Decimal | None
    total_vat: Decimal | None
    total_incl_vat: Decimal | None
    invoice: SalesInvoice | None  # the PerfectView invoice as last read
    relation_name: str
    booking: Booking | None  # planned while ready; frozen once the intent is committed
    resend: bool  # a lookup found the frozen booking absent: send exactly that again
    source_hash: str
    change_reported: str
    booked_at: datetime | None
    linked: bool  # found already in e-Boekhouden rather than booked by this journal's AddMutatie
    perfectview_done: bool
    document_state: str
    document_attachment_id: str
    document_file: str
    document_sent_at: datetime | None
    document_error: str
    updated_at: datetime | None

    @property
    def needs_lookup(self) -> bool:
        return self.state in NEEDS_LOOKUP

    def attachments(self) -> tuple[Attachment, ...]:
        return self.invoice.attachments if self.invoice else ()


@dataclass(frozen=True)
class BookedTotal:
    """A booked journal row as the payments job sees it (`InvoiceJournal.booked_totals`)."""

    activity_id: str
    invoice_number: str
    relation_code: str
    total_incl_vat: Decimal | None
    perfectview_done: bool


# --------------------------------------------------------------------------- JSON of the payload


def invoice_hash(invoice: SalesInvoice) -> str:
    """A fingerprint of what a booking is made of (not the step, marker or attachments),
    so pvsync notices when a booked invoice is edited in PerfectView."""
    content = {
        "number": invoice.invoice_number.strip(), "relation": invoice.relation_id,
        "date": str(invoice.invoice_date), "due": str(invoice.due_date), "incl": invoice.amounts_include_vat,
        "total": None if invoice.total is None else str(invoice.total),
        "lines": [[line.description, str(line.quantity), str(line.amount), str(line.total_amount), line.vat_id or ""]
                  for line in invoice.lines],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:32]


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def invoice_to_json(invoice: SalesInvoice) -> dict[str, Any]:
    return {
        "activity_id": invoice.activity_id, "activity_number": invoice.activity_number,
        "invoice_number": invoice.invoice_number, "relation_id": invoice.relation_id,
        "invoice_date": invoice.invoice_date and invoice.invoice_date.isoformat(),
        "due_date": invoice.due_date and invoice.due_date.isoformat(), "step": invoice.step,
        "total": None if invoice.total is None else str(invoice.total),
        "amounts_include_vat": invoice.amounts_include_vat, "booked_marker": invoice.booked_marker,
        "modified_at": to_text(invoice.modified_at) if invoice.modified_at and invoice.modified_at.tzinfo else None,
        "lines": [{"description": l.description, "quantity": str(l.quantity), "amount": str(l.amount),
                   "total_amount": str(l.total_amount), "vat_id": l.vat_id, "vat_description": l.vat_description,
                   "vat_percentage": None if l.vat_percentage is None else str(l.vat_percentage), "id": l.id}
                  for l in invoice.lines],
        "attachments": [{"id": a.id, "file_name": a.file_name, "extension": a.extension,
                         "created_at": a.created_at.isoformat() if a.created_at else None}
                        for a in invoice.attachments],
        "problems": [[p.field, p.message, p.hint] for p in invoice.problems],
    }


def invoice_from_json(data: dict[str, Any]) -> SalesInvoice:
    return SalesInvoice(
        activity_id=data["activity_id"], activity_number=data["activity_number"],
        invoice_number=data["invoice_number"], relation_id=data["relation_id"],
        invoice_date=_date(data["invoice_date"]), due_date=_date(data["due_date"]), step=data["step"],
        total=_dec(data["total"]), amounts_include_vat=data["amounts_include_vat"],
        booked_marker=data["booked_marker"], modified_at=from_text(data.get("modified_at")),
        lines=tuple(InvoiceLine(description=l["description"], quantity=Decimal(l["quantity"]),
                                amount=Decimal(l["amount"]), total_amount=Decimal(l["total_amount"]),
                                vat_id=l["vat_id"], vat_description=l["vat_description"],
                                vat_percentage=_dec(l["vat_percentage"]), id=l["id"]) for l in data["lines"]),
        attachments=tuple(Attachment(id=a["id"], file_name=a["file_name"], extension=a["extension"],
                                     created_at=datetime.fromisoformat(a["created_at"]) if a["created_at"] else None)
                          for a in data["attachments"]),
        problems=tuple(Problem(*p) for p in data.get("problems", ())))


def booking_to_json(booking: Booking) -> dict[str, Any]:
    return {
        "soort": booking.soort.value, "datum": booking.datum.isoformat(), "ledger": booking.ledger,
        "relation_code": booking.relation_code, "invoice_number": booking.invoice_number,
        "boekstuk": booking.boekstuk, "description": booking.description,
        "payment_term_days": booking.payment_term_days, "payment_reference": booking.payment_reference,
        "in_ex_vat": booking.in_ex_vat,
        "lines": [{"excl": str(l.amount_excl_vat), "vat": str(l.vat_amount), "incl": str(l.amount_incl_vat),
                   "btw_code": l.btw_code, "btw_percentage": str(l.btw_percentage), "ledger": l.ledger,
                   "entered": None if l.amount_entered is None else str(l.amount_entered)} for l in booking.lines],
    }


def booking_from_json(data: dict[str, Any]) -> Booking:
    return Booking(
        soort=MutatieSoort(data["soort"]), datum=date.fromisoformat(data["datum"]), ledger=data["ledger"],
        relation_code=data["relation_code"], invoice_number=data["invoice_number"], boekstuk=data["boekstuk"],
        description=data["description"], payment_term_days=data["payment_term_days"],
        payment_reference=data["payment_reference"], in_ex_vat=data["in_ex_vat"],
        lines=tuple(BookingLine(amount_excl_vat=Decimal(l["excl"]), vat_amount=Decimal(l["vat"]),
                                amount_incl_vat=Decimal(l["incl"]), btw_code=l["btw_code"],
                                btw_percentage=Decimal(l["btw_percentage"]), ledger=l["ledger"],
                                amount_entered=_dec(l["entered"])) for l in data["lines"]))


def _cents(value: Decimal | None) -> int | None:
    return None if value is None else to_cents(round_cents(value))


def _money(cents: int | None) -> Decimal | None:
    return None if cents is None else from_cents(cents)


def _entry(row: dict[str, Any]) -> JournalEntry:
    payload = json.loads(row["payload_json"] or "{}")
    return JournalEntry(
        activity_id=row["activity_id"], invoice_number=row["invoice_number"], relation_code=row["relation_code"],
        state=InvoiceState(row["state"]), reason=row["reason"], block_code=row["block_code"], way_out=row["way_out"],
        attempts=row["attempts"], mutatienummer=row["mutatienummer"],
        total_excl_vat=_money(row["total_excl_vat_cents"]), total_vat=_money(row["vat_cents"]),
        total_incl_vat=_money(row["total_incl_vat_cents"]),
        invoice=invoice_from_json(payload["invoice"]) if payload.get("invoice") else None,
        relation_name=payload.get("relation_name", ""),
        booking=booking_from_json(payload["booking"]) if payload.get("booking") else None,
        resend=bool(payload.get("resend")), source_hash=row["source_hash"], change_reported=row["change_reported"],
        booked_at=from_text(row["booked_at"]), linked=bool(row["linked"]),
        perfectview_done=bool(row["perfectview_done"]), document_state=row["document_state"],
        document_attachment_id=row["document_attachment_id"], document_file=row["document_file"],
        document_sent_at=from_text(row["document_sent_at"]), document_error=row["document_error"],
        updated_at=from_text(row["updated_at"]))


def _payload(invoice: SalesInvoice | None, relation_name: str, booking: Booking | None, resend: bool) -> str:
    return json.dumps({"invoice": invoice_to_json(invoice) if invoice else None, "relation_name": relation_name,
                       "booking": booking_to_json(booking) if booking else None, "resend": resend},
                      sort_keys=True, ensure_ascii=False)


# --------------------------------------------------------------------------- the journal


class InvoiceJournal:
    """The `invoices` rows of one state store."""

    def __init__(self, store: Store):
        self.store = store

    # ------------------------------------------------------------------ reading

    def get(self, activity_id: str) -> JournalEntry | None:
        row = self.store._row("SELECT * FROM invoices WHERE activity_id = ?", (activity_id,))
        return _entry(row) if row else None

    def by_number(self, invoice_number: str) -> list[JournalEntry]:
        rows = self.store._rows("SELECT * FROM invoices WHERE invoice_number = ? ORDER BY activity_id",
                                (invoice_number.strip(),))
        return [_entry(row) for row in rows]

    def entries(self, states: Iterable[InvoiceState] | None = None) -> list[JournalEntry]:
        """Rows (in these states), by invoice number."""
        if states is None:
            rows = self.store._rows("SELECT * FROM invoices ORDER BY invoice_number, activity_id")
        else:
            wanted = [s.value for s in states]
            rows = self.store._rows(f"SELECT * FROM invoices WHERE state IN ({', '.join('?' * len(wanted))}) "
                                    "ORDER BY invoice_number, activity_id", wanted)
        return [_entry(row) for row in rows]

    def booked_totals(self) -> list[BookedTotal]:
        """Every booked invoice's number, relation and total, by invoice number: the payments
        job compares thousands with the open items on every run and needs nothing else of them
        (not the frozen invoice and booking, whose JSON costs more to read than the rest)."""
        rows = self.store._rows("SELECT activity_id, invoice_number, relation_code, total_incl_vat_cents, "
                                "perfectview_done FROM invoices WHERE state = 'booked' "
                                "ORDER BY invoice_number, activity_id")
        return [BookedTotal(row["activity_id"], row["invoice_number"], row["relation_code"],
                            _money(row["total_incl_vat_cents"]), bool(row["perfectview_done"])) for row in rows]

    def open_entries(self) -> list[JournalEntry]:
        return self.entries(OPEN - NEEDS_LOOKUP)

    def in_doubt(self) -> list[JournalEntry]:
        return self.entries(NEEDS_LOOKUP)

    def perfectview_pending(self) -> list[JournalEntry]:
        rows = self.store._rows("SELECT * FROM invoices WHERE state = 'booked' AND perfectview_done = 0 "
                                "ORDER BY invoice_number")
        return [_entry(row) for row in rows]

    def documents_pending(self) -> list[JournalEntry]:
        rows = self.store._rows("SELECT * FROM invoices WHERE state IN ('booked', 'paid') AND document_state IN "
                                f"({', '.join('?' * len(DOCUMENTS_WAITING))}) ORDER BY invoice_number",
                                DOCUMENTS_WAITING)
        return [_entry(row) for row in rows]

    def count_by_state(self) -> dict[str, int]:
        return {row["state"]: row["n"] for row in
                self.store._rows("SELECT state, count(*) AS n FROM invoices GROUP BY state")}

    # ------------------------------------------------------------------ moving

    def _current(self, activity_id: str) -> JournalEntry:
        row = self.store._row("SELECT * FROM invoices WHERE activity_id = ?", (activity_id,))
        if row is None:
            raise JournalError(f"no invoice with activity id {activity_id} in the journal")
        return _entry(row)

    def _update(self, activity_id: str, **columns: Any) -> None:
        columns["updated_at"] = to_text(utc_now())
        assignments = ", ".join(f"{name} = ?" for name in columns)
        self.store.conn.execute(f"UPDATE invoices SET {assignments} WHERE activity_id = ?",
                                [*columns.values(), activity_id])

    def _totals(self, booking: Booking | None) -> dict[str, int | None]:
        if booking is None:
            return {}
        return {"total_excl_vat_cents": _cents(booking.total_excl_vat()), "vat_cents": _cents(booking.total_vat()),
                "total_incl_vat_cents": _cents(booking.total_incl_vat())}

    def record_plan(self, invoice: SalesInvoice, *, relation_code: str, relation_name: str, state: InvoiceState,
                    booking: Booking | None = None, reason: str = "", block_code: str = "",
                    way_out: str = "") -> JournalEntry:
        """An invoice as just read and planned: a new row starts at seen and moves on at once;
        an existing open row moves to ready (with the planned booking) or blocked."""
        if state not in (S.READY, S.BLOCKED):
            raise ValueError("a plan leaves an invoice ready or blocked")
        with self.store.write():
            existing = self.store._row("SELECT state FROM invoices WHERE activity_id = ?", (invoice.activity_id,))
            old = S(existing["state"]) if existing else S.SEEN
            check_transition(invoice.invoice_number, old, state)
            if existing is None:
                self.store.conn.execute(
                    "INSERT INTO invoices (activity_id, invoice_number, state, updated_at) VALUES (?, ?, 'seen', ?)",
                    (invoice.activity_id, invoice.invoice_number.strip(), to_text(utc_now())))
            self._update(invoice.activity_id, invoice_number=invoice.invoice_number.strip(),
                         relation_code=relation_code, state=state.value, reason=reason, block_code=block_code,
                         way_out=way_out, source_hash=invoice_hash(invoice),
                         payload_json=_payload(invoice, relation_name, booking, False), **self._totals(booking))
        return self._current(invoice.activity_id)

    def refresh_invoice(self, invoice: SalesInvoice) -> None:
        """Keep the latest PerfectView read of a row that is past planning (its attachments
        may have changed), without touching its frozen booking or its hash."""
        with self.store.write():
            entry = self._current(invoice.activity_id)
            self._update(invoice.activity_id,
                         payload_json=_payload(invoice, entry.relation_name, entry.booking, entry.resend))

    def claim_for_booking(self, activity_id: str) -> JournalEntry:
        """The write-ahead intent: ready -> booking, attempts + 1, the booking frozen as it
        will be sent. Committed (synchronous=FULL) before AddMutatie goes out."""
        with self.store.write():
            entry = self._current(activity_id)
            check_transition(entry.invoice_number, entry.state, S.BOOKING)
            if entry.booking is None:
                raise JournalError(f"invoice {entry.invoice_number} has no planned booking to send")
            self._update(activity_id, state=S.BOOKING.value, attempts=entry.attempts + 1, reason="", block_code="",
                         way_out="", **self._totals(entry.booking))
        return self._current(activity_id)

    def record_booked(self, activity_id: str, mutatienummer: int, *, linked: bool, document_state: str,
                      perfectview_done: bool = False, reason: str = "") -> JournalEntry:
        """booking/unknown/ready/blocked -> booked, with e-Boekhouden's Mutatienummer."""
        if document_state not in DOCUMENT_STATES:
            raise ValueError(f"unknown document state {document_state!r}")
        with self.store.write():
            entry = self._current(activity_id)
            check_transition(entry.invoice_number, entry.state, S.BOOKED)
            self._update(activity_id, state=S.BOOKED.value, mutatienummer=mutatienummer, linked=int(linked),
                         booked_at=to_text(utc_now()), reason=reason, block_code="", way_out="",
                         perfectview_done=int(perfectview_done), document_state=document_state,
                         payload_json=_payload(entry.invoice, entry.relation_name, entry.booking, False))
        return self._current(activity_id)

    def move(self, activity_id: str, state: InvoiceState, *, reason: str = "", block_code: str = "",
             way_out: str = "", resend: bool | None = None) -> JournalEntry:
        """Any other allowed move (to unknown, back to ready, to blocked) with its reason."""
        with self.store.write():
            entry = self._current(activity_id)
            check_transition(entry.invoice_number, entry.state, state)
            columns: dict[str, Any] = {"state": state.value, "reason": reason, "block_code": block_code,
                                       "way_out": way_out}
            if resend is not None:
                columns["payload_json"] = _payload(entry.invoice, entry.relation_name, entry.booking, resend)
            self._update(activity_id, **columns)
        return self._current(activity_id)

    def set_block_code(self, activity_id: str, block_code: str) -> None:
        with self.store.write():
            self._update(activity_id, block_code=block_code)

    def change_reported(self, activity_id: str, source_hash: str) -> None:
        with self.store.write():
            self._update(activity_id, change_reported=source_hash)

    def perfectview_finished(self, activity_id: str) -> None:
        with self.store.write():
            self._update(activity_id, perfectview_done=1)

    # ------------------------------------------------------------------ the invoice document

    def set_document(self, activity_id: str, state: str, *, error: str = "") -> None:
        if state not in DOCUMENT_STATES:
            raise ValueError(f"unknown document state {state!r}")
        with self.store.write():
            self._update(activity_id, document_state=state, document_error=error)

    def choose_document(self, activity_id: str, attachment: Attachment) -> None:
        with self.store.write():
            entry = self._current(activity_id)
            state = "pending" if entry.state in (S.BOOKED, S.PAID) and entry.document_state != "sent" \
                else entry.document_state
            self._update(activity_id, document_attachment_id=attachment.id, document_file=attachment.file_name,
                         document_state=state, document_error="")

    def document_failed(self, activity_id: str, error: str) -> None:
        with self.store.write():
            self._update(activity_id, document_error=error)

    def document_sent(self, activity_id: str, attachment: Attachment) -> None:
        with self.store.write():
            self._update(activity_id, document_state="sent", document_attachment_id=attachment.id,
                         document_file=attachment.file_name, document_sent_at=to_text(utc_now()), document_error="")

    # ------------------------------------------------------------------ person's actions

    def retry(self, activity_id: str) -> JournalEntry:
        """Ask for another attempt: a blocked invoice is planned afresh on the next run
        (also one only a person could clear), a failed document is sent again."""
        with self.store.write():
            entry = self._current(activity_id)
            if entry.state is S.BLOCKED:
                self._update(activity_id, block_code="retry")
            if entry.document_error:
                self._update(activity_id, document_error="")
        return self._current(activity_id)
