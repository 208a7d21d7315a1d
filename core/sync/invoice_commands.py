"""What `pvsync invoices list/retry/choose-document` and the console's invoice actions call.

Each works on the state store alone: a console attached to a daemon writes the journal
change (or a request) and the engine acts on it in its next run. Errors are
`InvoiceCommandError` with a message a person can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from core.model import format_euro
from core.store.invoice_journal import InvoiceJournal, JournalEntry
from core.store.store import Store
from core.sync.invoice_states import OPEN, InvoiceState

STATES = tuple(state.value for state in InvoiceState)


class InvoiceCommandError(Exception):
    pass


@dataclass(frozen=True)
class InvoiceListing:
    """One line of `pvsync invoices list`, and a row of the console's pending screen
    (tui/screens/pending.py reads these attributes)."""

    activity_id: str
    invoice_number: str
    state: str
    relation_code: str
    total_incl_vat: Decimal | None
    mutatienummer: int | None
    reason: str  # why it waits, and the way out; empty when nothing is wrong
    document: str  # the document's state in words; empty when documents are not sent
    attempts: int
    updated_at: datetime | None

    def line(self) -> str:
        total = format_euro(self.total_incl_vat) if self.total_incl_vat is not None else "-"
        mutatie = str(self.mutatienummer) if self.mutatienummer else "-"
        text = f"{self.invoice_number:<16} {self.state:<8} {self.relation_code:<12} {total:>14}  {mutatie:>8}"
        extra = "; ".join(part for part in (self.reason, self.document) if part)
        return f"{text}  {extra}".rstrip()


def _document_words(entry: JournalEntry) -> str:
    if entry.document_error:
        return f"document not sent: {entry.document_error}"
    return {"choose": "choose the invoice document", "pending": "document to be sent",
            "sent": f"document {entry.document_file} sent",
            "no_attachment": "no document on the activity"}.get(entry.document_state, "")


def _listing(entry: JournalEntry) -> InvoiceListing:
    reason = f"{entry.reason} — {entry.way_out}" if entry.reason and entry.way_out else entry.reason
    return InvoiceListing(entry.activity_id, entry.invoice_number, entry.state.value, entry.relation_code,
                          entry.total_incl_vat, entry.mutatienummer, reason, _document_words(entry), entry.attempts,
                          entry.updated_at)


def list_invoices(store: Store, state: str | None = None) -> list[InvoiceListing]:
    """The journal, by invoice number; `state` narrows it ("pending" = everything that
    waits for something: not booked yet, or its document waits for a choice)."""
    journal = InvoiceJournal(store)
    if state is None:
        entries = journal.entries()
    elif state == "pending":
        entries = [e for e in journal.entries() if e.state in OPEN
                   or e.document_state == "choose" or e.document_error]
    elif state in STATES:
        entries = journal.entries([InvoiceState(state)])
    else:
        raise InvoiceCommandError(f"unknown state {state!r}; choose from {', '.join(STATES)} or pending")
    return [_listing(entry) for entry in entries]


def pending_invoices(store: Store) -> list[InvoiceListing]:
    """What the console's pending screen lists (`Store.pending_invoices` in tui/screens/pending.py)."""
    return list_invoices(store, "pending")


def _one(store: Store, invoice_number: str) -> JournalEntry:
    """The journal row of an invoice number (or of a PerfectView activity id, as the console sends)."""
    journal = InvoiceJournal(store)
    by_activity = journal.get(invoice_number.strip().lower())
    if by_activity is not None:
        return by_activity
    found = journal.by_number(invoice_number)
    if not found:
        raise InvoiceCommandError(f"pvsync has no invoice numbered {invoice_number.strip()!r}; "
                                  "`pvsync invoices list` shows the ones it knows")
    if len(found) > 1:
        states = ", ".join(f"{e.activity_id} ({e.state.value})" for e in found)
        raise InvoiceCommandError(f"invoice number {invoice_number} is used by several PerfectView activities "
                                  f"({states}); give each its own number in PerfectView")
    return found[0]


def retry_invoice(store: Store, invoice_number: str) -> str:
    """Ask for another attempt in the next run; returns what will happen, in words."""
    entry = _one(store, invoice_number)
    number = entry.invoice_number
    state = entry.state
    if state in (InvoiceState.BOOKING, InvoiceState.UNKNOWN):
        return (f"invoice {number} is {state.value}: the next run looks it up in e-Boekhouden first and sends it "
                "again only if it is not there")
    if state is InvoiceState.BLOCKED:
        InvoiceJournal(store).retry(entry.activity_id)
        return f"invoice {number} is planned again in the next run (it waited because {entry.reason})"
    if entry.document_error or entry.document_state == "choose":
        InvoiceJournal(store).retry(entry.activity_id)
        return f"the document of invoice {number} is sent again in the next run"
    if state is InvoiceState.READY:
        return f"invoice {number} is ready: it is booked in the next run"
    raise InvoiceCommandError(f"invoice {number} is {state.value} (mutatie {entry.mutatienummer}); there is nothing "
                              "to retry. e-Boekhouden cannot change a booking through its API")


def choose_document(store: Store, invoice_number: str, attachment: str) -> str:
    """Record which attachment is the invoice document (by id, or by file name when that
    is unique); the next run mails it."""
    entry = _one(store, invoice_number)
    attachments = entry.attachments()
    wanted = attachment.strip()
    matches = [a for a in attachments if a.id == wanted.lower()] or \
              [a for a in attachments if a.file_name.casefold() == wanted.casefold()]
    if len(matches) != 1:
        listed = ", ".join(f"{a.id} ({a.file_name})" for a in attachments) or "none"
        what = "is not one" if not matches else "names more than one"
        raise InvoiceCommandError(f"{wanted!r} {what} of the attachments of invoice {entry.invoice_number}; "
                                  f"its attachments: {listed}")
    if entry.document_state == "sent":
        raise InvoiceCommandError(f"the document of invoice {entry.invoice_number} was already sent "
                                  f"({entry.document_file}); e-Boekhouden's archive keeps what it received")
    InvoiceJournal(store).choose_document(entry.activity_id, matches[0])
    return f"invoice {entry.invoice_number}: {matches[0].file_name} is the invoice document; the next run mails it"


# --------------------------------------------------------------------------- requests from a console


def answer_retry_request(store: Store, payload: dict) -> tuple[str, str]:
    """The engine's handler for a `retry_invoice` request ({"invoice_number": ...} or, from
    the console, {"activity_id": ...}): records the retry and asks for an invoices run, so
    it happens now, not in four hours."""
    key = payload.get("activity_id") or payload.get("invoice_number") or ""
    return _answer(store, lambda: retry_invoice(store, str(key)))


def answer_choose_document_request(store: Store, payload: dict) -> tuple[str, str]:
    """The engine's handler for a `choose_document` request
    ({"invoice_number": ..., "attachment": id or file name})."""
    return _answer(store, lambda: choose_document(store, str(payload.get("invoice_number", "")),
                                                  str(payload.get("attachment", ""))))


def _answer(store: Store, action) -> tuple[str, str]:
    try:
        message = action()
    except InvoiceCommandError as error:
        return "failed", str(error)
    store.add_request("sync", {"only": ["invoices"]})
    return "ok", message
