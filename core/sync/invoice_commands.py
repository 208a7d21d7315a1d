"""What `pvsync invoices list/retry/choose-document` and the console's invoice actions call.

Each works on the state store alone: a console attached to a daemon writes the journal
change (or a request) and the engine acts on it in its next run. Errors are
`InvoiceCommandError` with a message a person can act on. The console's invoice details
(`invoice_details`) also need the config, for the VAT mapping a booking would use now;
never its secrets, which may live only in the daemon's environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from core import clock
from core.model import Attachment, SalesInvoice, format_euro
from core.store.invoice_journal import InvoiceJournal, JournalEntry
from core.store.payment_state import PaymentCheck, PaymentChecks
from core.store.store import Store
from core.sync.booking import Blocked, BookingSettings, plan_booking
from core.sync.invoice_states import OPEN, InvoiceState
from core.sync.vat_guard import ledger_label

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
    document_state: str = ""  # the journal's: choose | pending | sent | no_attachment | ""
    payment: str = ""  # a booked invoice: what e-Boekhouden last showed of its payment, in words
    outstanding: Decimal | None = None  # a booked invoice's Openstaand, as e-Boekhouden last listed it
    relation_name: str = ""  # the PerfectView relation's name, as the invoices job last read it
    block_code: str = ""  # why a blocked invoice waits, as a code (core.sync.booking.Blocked.code)
    document_failed: bool = False  # its document was not sent (the reason is in `document`)

    @property
    def waits_for_document_choice(self) -> bool:
        return self.document_state == "choose"

    @property
    def waits_for_person(self) -> bool:
        """Blocked, outcome unknown, or its document waits for a choice or failed: a person looks first."""
        return self.state in ("blocked", "unknown") or self.waits_for_document_choice or self.document_failed

    @property
    def relation(self) -> str:
        """"Bakkerij Jansen (D1003)", or the code alone when the name is not known."""
        if self.relation_name and self.relation_code:
            return f"{self.relation_name} ({self.relation_code})"
        return self.relation_name or self.relation_code

    @property
    def open_amount(self) -> Decimal | None:
        """What is still to be received: the Openstaand once booked and listed, else the whole total."""
        return self.outstanding if self.outstanding is not None else self.total_incl_vat

    def notes(self) -> str:
        """Why it waits, its document, its payment: what a person reads after the state."""
        return "; ".join(part for part in (self.reason, self.document, self.payment) if part)

    @staticmethod
    def header() -> str:
        """The heading row above `line()`s, in the same columns."""
        return _listing_row("Invoice", "State", "Relation", "Total", "Mutatie", "Notes")

    def line(self) -> str:
        total = format_euro(self.total_incl_vat) if self.total_incl_vat is not None else "-"
        mutatie = str(self.mutatienummer) if self.mutatienummer else "-"
        return _listing_row(self.invoice_number, self.state, self.relation_code, total, mutatie, self.notes())


def _listing_row(number: str, state: str, relation: str, total: str, mutatie: str, notes: str) -> str:
    return f"{number:<16} {state:<8} {relation:<12} {total:>14}  {mutatie:>8}  {notes}".rstrip()


def _document_words(entry: JournalEntry) -> str:
    if entry.document_error:
        return f"document not sent: {entry.document_error}"
    return {"choose": "choose the invoice document", "pending": "document to be sent",
            "sent": f"document {entry.document_file} sent",
            "no_attachment": "no document on the activity"}.get(entry.document_state, "")


def payment_words(check: PaymentCheck | None) -> str:
    """A booked invoice's payment as the payments job last saw it in e-Boekhouden."""
    if check is None:
        return "payment not checked yet (the payments job reads e-Boekhouden's open items)"
    if check.proven_settled:
        return "settled in e-Boekhouden, not yet marked paid in PerfectView (the logbook says why)"
    if not check.listed:
        return "missing from e-Boekhouden's open items: its payments are looked up in the next payments run"
    if check.outstanding is None or check.amount is None:
        return "listed in e-Boekhouden's open items"
    if check.partly_paid:
        return f"partly paid, {format_euro(check.outstanding)} of {format_euro(check.amount)} open"
    if check.outstanding == 0:
        return "settled in e-Boekhouden: marked paid in the next payments run"
    return f"unpaid, {format_euro(check.outstanding)} open"


def _listing(entry: JournalEntry, check: PaymentCheck | None = None, *, payments_watched: bool = False
             ) -> InvoiceListing:
    """`payments_watched`: the payments job is on, so a booked invoice it has not checked yet
    says so (with the job off, nothing is said about payment at all)."""
    reason = f"{entry.reason} — {entry.way_out}" if entry.reason and entry.way_out else entry.reason
    booked = entry.state is InvoiceState.BOOKED
    payment = payment_words(check) if booked and (check is not None or payments_watched) else ""
    outstanding = check.outstanding if booked and check is not None and check.listed else None
    return InvoiceListing(entry.activity_id, entry.invoice_number, entry.state.value, entry.relation_code,
                          entry.total_incl_vat, entry.mutatienummer, reason, _document_words(entry), entry.attempts,
                          entry.updated_at, entry.document_state, payment, outstanding, entry.relation_name,
                          entry.block_code, bool(entry.document_error))


def _waits(entry: JournalEntry) -> bool:
    """Not booked yet, or its document waits for a choice or failed."""
    return entry.state in OPEN or entry.document_state == "choose" or bool(entry.document_error)


def list_invoices(store: Store, state: str | None = None) -> list[InvoiceListing]:
    """The journal, by invoice number; `state` narrows it ("pending" = everything that
    waits for something: not booked yet, or its document waits for a choice)."""
    journal = InvoiceJournal(store)
    if state is None:
        entries = journal.entries()
    elif state == "pending":
        entries = [e for e in journal.entries() if _waits(e)]
    elif state in STATES:
        entries = journal.entries([InvoiceState(state)])
    else:
        raise InvoiceCommandError(f"unknown state {state!r}; choose from {', '.join(STATES)} or pending")
    checks = PaymentChecks(store).all()
    return [_listing(entry, checks.get(entry.activity_id)) for entry in entries]


# Block codes that a change of the VAT mapping can clear (core.sync.booking).
VAT_BLOCKS = ("vat_unmapped", "vat_wrong_side", "vat_rate_mismatch", "vat_ledger_refused")


def waiting_by_vat_code(store: Store) -> dict[str, int]:
    """PerfectView VAT code -> how many blocked invoices wait for its mapping: the invoices
    the VAT screen's row frees once it is mapped right."""
    counts: dict[str, int] = {}
    for entry in InvoiceJournal(store).entries([InvoiceState.BLOCKED]):
        if entry.block_code not in VAT_BLOCKS or entry.invoice is None:
            continue
        for description in {line.vat_description for line in entry.invoice.lines if line.vat_description}:
            if f"'{description}'" in entry.reason:
                counts[description] = counts.get(description, 0) + 1
    return counts


def pending_invoices(store: Store) -> list[InvoiceListing]:
    """What waits for pvsync or for a person (`pvsync invoices list --state pending`); the
    console's pending screen adds `unpaid_invoices` when the payments job is on."""
    return list_invoices(store, "pending")


def unpaid_invoices(store: Store) -> list[InvoiceListing]:
    """Booked invoices not yet paid that `pending_invoices` does not list already, each with
    its payment in words and its open amount (the payments job's last GetOpenPosten)."""
    journal = InvoiceJournal(store)
    checks = PaymentChecks(store).all()
    return [_listing(entry, checks.get(entry.activity_id), payments_watched=True)
            for entry in journal.entries([InvoiceState.BOOKED]) if not _waits(entry)]


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


@dataclass(frozen=True)
class DocumentChoice:
    """An invoice waiting for a person to say which attachment is its invoice document."""

    activity_id: str
    invoice_number: str
    attachments: tuple[Attachment, ...]  # as the invoices job last read them (PerfectView lists no sizes)


def document_choice(store: Store, invoice_number: str) -> DocumentChoice:
    """The attachments to choose from; for an invoice that does not wait for a choice,
    `InvoiceCommandError` says what happens to its document instead."""
    entry = _one(store, invoice_number)
    if entry.document_state != "choose":
        what = _document_words(entry) or "pvsync sends no document for it"
        raise InvoiceCommandError(f"invoice {entry.invoice_number} does not wait for a choice of document ({what})")
    return DocumentChoice(entry.activity_id, entry.invoice_number, entry.attachments())


def attachment_added(attachment: Attachment) -> str:
    if attachment.created_at is None:
        return "-"
    return clock.shown(attachment.created_at)


# --------------------------------------------------------------------------- the console's invoice details


def invoice_details(store: Store, activity_id: str, config: Any | None, config_problem: str = "") -> list[str]:
    """Plain lines for the console's details of one invoice, after its journal state: its
    lines with the VAT mapping each gets, the booking the current config would make (or
    made), its payment and its attachments. `config` is read without secrets; None when the
    file cannot be read (`config_problem` says why)."""
    entry = InvoiceJournal(store).get(activity_id)
    if entry is None:
        return []
    lines: list[str] = []
    chart = _chart(store)
    if entry.invoice is not None:
        lines += _invoice_lines(entry.invoice, config, chart)
    lines += _booking_lines(entry, config, config_problem, chart)
    if entry.state is InvoiceState.BOOKED:
        lines += _payment_lines(PaymentChecks(store).get(activity_id))
    if entry.attachments():
        chosen = entry.document_attachment_id
        lines += ["", "Attachments (PerfectView):"]
        lines += [f"  {'* ' if a.id == chosen else '  '}{a.file_name}  ({a.extension or 'no type'}, added "
                  f"{attachment_added(a)})" for a in entry.attachments()]
    return lines


def _chart(store: Store) -> dict[str, Any]:
    """The ledgers by code as the engine last read them, for their names beside the codes."""
    from core.sync.catalog_snapshot import load_snapshot

    snapshot = load_snapshot(store)
    return {ledger.code: ledger for ledger in snapshot.ledgers} if snapshot else {}


def _vat_words(line: Any, config: Any | None, chart: dict[str, Any] | None = None) -> str:
    if not line.vat_id or line.vat_percentage is None:
        return "no VAT code: it cannot be booked"
    code = f"{line.vat_description} ({line.vat_percentage}%)"
    if config is None:
        return f"{code}: mapping not known (the config cannot be read)"
    rule = config.vat.own_rules().get(line.vat_description)
    if rule is None:
        return f"{code} -> not mapped for {config.vat.own_country}"
    return f"{code} -> BTW-code {rule.btw_code}, grootboekrekening {ledger_label(rule.ledger, chart)}"


def _invoice_lines(invoice: SalesInvoice, config: Any | None, chart: dict[str, Any] | None = None) -> list[str]:
    amounts = "incl. VAT" if invoice.amounts_include_vat else "excl. VAT"
    lines = ["", f"Invoice lines in PerfectView (amounts {amounts}) and the VAT mapping each gets:"]
    for position, line in enumerate(invoice.lines, start=1):
        lines.append(f"  {position:>2}. {line.description}: {line.quantity.normalize():f} x {format_euro(line.amount)}"
                     f" = {format_euro(line.total_amount)}")
        lines.append(f"      {_vat_words(line, config, chart)}")
    if not invoice.lines:
        lines.append("  none")
    return lines


def _booking_lines(entry: JournalEntry, config: Any | None, config_problem: str,
                   chart: dict[str, Any] | None = None) -> list[str]:
    from core.sync.invoices import describe_booking  # the dry run's own wording of a booking

    if entry.state in (InvoiceState.BOOKED, InvoiceState.PAID, InvoiceState.BOOKING, InvoiceState.UNKNOWN):
        if entry.booking is None:
            return []
        made = (f"made as mutatie {entry.mutatienummer}" if entry.mutatienummer
                else "sent to e-Boekhouden (outcome being looked up)")
        booking, title = entry.booking, f"The booking {made}"
    elif entry.invoice is None:
        return []
    elif config is None:
        return ["", f"The booking cannot be shown: the config cannot be read ({config_problem or 'unknown reason'})"]
    else:
        settings = config.invoices
        planned = plan_booking(entry.invoice, debtor_number=entry.relation_code, relation_name=entry.relation_name,
                               # as the last run found it: the console does not ask e-Boekhouden
                               relation_in_eboekhouden=entry.block_code != "relation_unknown",
                               rules=dict(config.vat.own_rules()), own_country=config.vat.own_country,
                               settings=BookingSettings(settings.debtors_ledger, settings.description_template))
        if isinstance(planned, Blocked):
            return ["", "No booking can be made yet:", f"  {planned}"]
        booking, title = planned.booking, "The booking the current config would make"
    header = (f"{title}: {booking.soort.value} on {booking.ledger}, relation {booking.relation_code}, dated "
              f"{booking.datum.strftime('%d-%m-%Y')}, Boekstuk {booking.boekstuk}")
    # describe_booking joins the booking lines and the totals with "; ": one per line here.
    parts = describe_booking(booking, chart).split("; ")
    return ["", header, f"  {booking.description}", *(f"  {part}" for part in parts)]


def _payment_lines(check: PaymentCheck | None) -> list[str]:
    lines = ["", f"Payment: {payment_words(check)}"]
    if check is not None and check.listed and check.amount is not None:
        paid, outstanding = check.paid or Decimal(0), check.outstanding or Decimal(0)
        checked = clock.shown(check.checked_at)
        lines.append(f"  e-Boekhouden lists {format_euro(check.amount)}, received {format_euro(paid)}, "
                     f"open {format_euro(outstanding)} (checked {checked})")
    if check is not None and check.evidence:
        lines.append(f"  evidence: {check.evidence}")
    return lines


# --------------------------------------------------------------------------- requests from a console


def answer_retry_request(store: Store, payload: dict) -> tuple[str, str]:
    """The engine's handler for a `retry_invoice` request ({"invoice_number": ...} or, from
    the console, {"activity_id": ...}): records the retry and asks for an invoices run, so
    it happens now, not in four hours."""
    key = payload.get("activity_id") or payload.get("invoice_number") or ""
    return _answer(store, lambda: retry_invoice(store, str(key)))


def answer_choose_document_request(store: Store, payload: dict) -> tuple[str, str]:
    """The engine's handler for a `choose_document` request ({"invoice_number": ...} or, from
    the console, {"activity_id": ...}, and "attachment": id or file name)."""
    key = payload.get("activity_id") or payload.get("invoice_number") or ""
    return _answer(store, lambda: choose_document(store, str(key), str(payload.get("attachment", ""))))


def _answer(store: Store, action) -> tuple[str, str]:
    try:
        message = action()
    except InvoiceCommandError as error:
        return "failed", str(error)
    store.add_request("sync", {"only": ["invoices"]})
    return "ok", message
