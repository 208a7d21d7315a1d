"""Sent PerfectView sales invoices booked in e-Boekhouden exactly once (section C).

One run:
1. Doubts first: every invoice left in `booking` or `unknown` (a crash, a timeout, a lost
   answer) is looked up by Factuurnummer (GetMutaties) before anything else; found ->
   booked, certainly absent -> ready to send again with the same frozen booking.
2. Read PerfectView's sales invoices (modified since the last run, with a full pass once
   a day) and plan each numbered invoice in the sent step: ready, or blocked with the
   reason in words and the way out. Blocked invoices are planned again every run, so
   they become ready by themselves once the cause is fixed (the VAT mapping edited, the
   relation created in e-Boekhouden).
3. Book each ready invoice: the intent (state `booking`, the booking frozen) is committed
   before AddMutatie is sent; the answer decides booked / unknown / blocked. Up to
   `engine.concurrency` bookings are in flight at once; their answers are recorded in
   order on the job's thread (core.sync.in_flight).
4. Tell PerfectView (booked marker field and a note on the activity) and mail the
   invoice document to the archive address when that is switched on.

GetMutaties has a monthly budget, so lookups happen only when in doubt: after a crash or
a timeout, after an in-band refusal that might mean "already booked", and for an invoice
PerfectView already marks as booked that pvsync has no record of. A booked invoice that
is edited in PerfectView afterwards is reported once and never booked again:
e-Boekhouden cannot change a booking through its API.

Crash points ("after_intent_commit", "after_remote_booking", "after_local_commit",
"after_marker", "after_note") are named so tests can stop the job there and check that a fresh run
neither books twice nor loses the invoice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Callable

from core.sync.job import JobResult, RunContext
from core.model import AMSTERDAM, Booking, CrmRelation, Ledger, RelationKind, SalesInvoice, format_euro
from core.soap.errors import ApiError, BudgetExhausted, RequestInvalid, ServiceError, SoapFault, TransportFailure
from core.store.invoice_journal import DOCUMENTS_WAITING, InvoiceJournal, JournalEntry, invoice_hash
from core.store.records import from_text, to_text, utc_now
from core.sync.booking import Blocked, BookingSettings, Ready, ledger_refused, plan_booking
from core.sync.catalog_snapshot import load_snapshot, refresh_catalog_snapshot
from core.sync.documents import DocumentNotSent, build_message, choose_attachment, send_document
from core.sync.in_flight import InFlight, Outcome
from core.sync.invoice_states import AlreadyBooked, Ambiguous, InvoiceState, NotBooked, interpret_lookup
from core.sync.vat_guard import ledger_label, refused_rules

KIND = "invoice"
S = InvoiceState
CRASH_POINTS = ("after_intent_commit", "after_remote_booking", "after_local_commit", "after_marker", "after_note")
MODIFIED_CURSOR = "invoices.modified_since"
FULL_PASS_CURSOR = "invoices.full_pass"
FULL_PASS_EVERY = timedelta(hours=24)
# PerfectView stamps modifications with its own clock; reading a little further back
# than the last run started keeps a small clock difference from hiding a change.
CURSOR_OVERLAP = timedelta(minutes=1)
# Blocks that re-planning cannot clear: only an edit of the invoice or `pvsync invoices retry`.
NEEDS_A_PERSON = frozenset({"refused", "ambiguous", "marker_without_booking"})
RETRY_CODE = "retry"


@dataclass(frozen=True)
class Party:
    """The invoiced relation as PerfectView has it."""

    debtor_number: str
    name: str


def relation_name(relation: CrmRelation) -> str:
    if relation.kind is RelationKind.ORGANISATION:
        return relation.name
    return " ".join(p for p in (relation.first_name, relation.middle_name, relation.last_name) if p)


def describe_booking(booking: Booking, ledgers: Mapping[str, Ledger] | None = None) -> str:
    """One line per booking line and the totals, for the dry run and the logbook; each ledger
    with its name when `ledgers` (code -> ledger, from the catalog snapshot) knows it."""
    lines = "; ".join(f"{ledger_label(line.ledger, ledgers)} {line.btw_code} {line.btw_percentage}%: "
                      f"{format_euro(line.amount_excl_vat)} "
                      f"+ VAT {format_euro(line.vat_amount)} = {format_euro(line.amount_incl_vat)}"
                      for line in booking.lines)
    return (f"{lines}; total {format_euro(booking.total_incl_vat())} (excl. VAT "
            f"{format_euro(booking.total_excl_vat())}, VAT {format_euro(booking.total_vat())})")


def booking_details(booking: Booking) -> dict[str, Any]:
    return {"relation": booking.relation_code, "date": booking.datum.isoformat(), "ledger": booking.ledger,
            "boekstuk": booking.boekstuk, "description": booking.description, "in_ex_vat": booking.in_ex_vat,
            "payment_term_days": booking.payment_term_days,
            "lines": [{"ledger": l.ledger, "btw_code": l.btw_code, "percentage": str(l.btw_percentage),
                       "excl": str(l.amount_excl_vat), "vat": str(l.vat_amount), "incl": str(l.amount_incl_vat)}
                      for l in booking.lines],
            "total_incl_vat": str(booking.total_incl_vat()), "total_vat": str(booking.total_vat())}


class InvoicesJob:
    """Books sent sales invoices in e-Boekhouden, exactly once."""

    name = "invoices"
    kind = KIND
    # The engine checks the register (core.assumptions) first and does not start the job
    # while something it needs is missing from the databases.
    checks_assumptions = True

    def __init__(self, *, crash_at: Callable[[str], None] | None = None,
                 clock: Callable[[], datetime] = utc_now):
        self.crash_at = crash_at or (lambda point: None)
        self.clock = clock

    def interval(self, config: Any) -> timedelta:
        return config.schedule.invoices

    def enabled(self, config: Any) -> bool:
        return bool(config.invoices.enabled)

    def run(self, ctx: RunContext) -> JobResult:
        return _InvoiceRun(self, ctx).run()


@dataclass
class _Tally:
    counters: dict[str, int] = field(default_factory=dict)
    failures: int = 0

    def add(self, name: str, count: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + count

    def fail(self, name: str) -> None:
        self.add(name)
        self.failures += 1


class _InvoiceRun:
    """One run of the invoices job (the caches live as long as the run)."""

    def __init__(self, job: InvoicesJob, ctx: RunContext):
        self.job, self.ctx = job, ctx
        self.settings = ctx.config.invoices
        self.journal = InvoiceJournal(ctx.store)
        self.tally = _Tally()
        self.dry_run = ctx.dry_run
        self._parties: dict[str, Party | None] = {}
        self._in_eboekhouden: dict[str, bool] = {}
        self._rules: Any = None
        self._ledgers: dict[str, Ledger] | None = None
        self._ledgers_read: list[Ledger] | None = None  # read from e-Boekhouden in this run
        self._country = ""
        self._would_book: list[tuple[SalesInvoice, Booking]] = []
        self.unplanned = 0  # invoices a service failure kept from being planned this run

    @property
    def eb(self) -> Any:
        return self.ctx.services.eboekhouden()  # the run's session, opened on first use

    @property
    def pv(self) -> Any:
        return self.ctx.services.perfectview()

    def log(self, level: str, message: str, *, subject: str = "", details: dict[str, Any] | None = None) -> None:
        self.ctx.log(level, KIND, message, subject=subject, details=details)

    # ------------------------------------------------------------------ the run

    def run(self) -> JobResult:
        started = self.job.clock()
        retrying_perfectview = {e.activity_id for e in self.journal.perfectview_pending()}
        self.resolve_doubts()
        invoices, full = self.read(started)
        read = set()
        with InFlight(self.ctx.config.engine.concurrency, name="pvsync-read") as reads:
            for invoice in invoices:
                if self.ctx.should_stop():
                    reads.finish_all()
                    return self.result(complete=False)
                read.add(invoice.activity_id)
                self.read_more(invoice, reads)
        for entry in self.journal.open_entries():
            if entry.activity_id not in read:
                self.or_next_run(entry.invoice_number, self.plan_again, entry)
        if self.dry_run:
            self.show_dry_run()
            return self.result(complete=True)
        ready = self.journal.entries([S.READY])
        with InFlight(self.ctx.config.engine.concurrency) as writes:
            for done, entry in enumerate(ready):
                if self.ctx.should_stop():
                    writes.finish_all()
                    return self.result(complete=False)
                self.ctx.progress("invoices", done, len(ready))
                self.book(entry, writes)
        self.ctx.progress("invoices", len(ready), len(ready))
        with InFlight(self.ctx.config.engine.concurrency) as writes:
            for entry in self.journal.perfectview_pending():
                if self.ctx.should_stop():
                    writes.finish_all()
                    return self.result(complete=False)
                self.tell_perfectview(entry, retrying=entry.activity_id in retrying_perfectview, writes=writes)
        self.send_documents()
        if self.unplanned:  # an invoice not planned must be read again: the cursors stay
            return self.result(complete=True)
        self.ctx.store.set_cursor(MODIFIED_CURSOR, to_text(started))
        if full:
            self.ctx.store.set_cursor(FULL_PASS_CURSOR, to_text(started))
            # the VAT mapping screen's lists, once a day (the ledgers not twice when read this run)
            refresh_catalog_snapshot(self.ctx, self._ledgers_read)
        return self.result(complete=True)

    def or_next_run(self, number: str, plan: Callable[[Any], None], item: Any) -> None:
        """Plan one invoice; a service failure while planning it (its relation could not be
        read) costs that invoice this run, not the run of every other invoice."""
        try:
            plan(item)
        except ServiceError as error:
            self.unplanned += 1
            self.log("WARNING", f"invoice {number} was not planned this run: {error}. It is planned again in the "
                                "next run", subject=number)
            self.tally.fail("not_planned")

    def result(self, *, complete: bool) -> JobResult:
        c = self.tally.counters
        if self.dry_run:
            summary = f"dry run: {c.get('would_book', 0)} would be booked, {c.get('blocked', 0)} waiting"
        else:
            summary = (f"{c.get('booked', 0)} booked, {c.get('linked', 0)} linked, "
                       f"{len(self.journal.entries([S.BLOCKED]))} waiting, {c.get('unknown', 0)} in doubt")
        if self.tally.failures:
            summary += f", {self.tally.failures} failed"
        return JobResult(counters=dict(c), failures=self.tally.failures, complete=complete, summary=summary)

    # ------------------------------------------------------------------ reading

    def read(self, now: datetime) -> tuple[list[SalesInvoice], bool]:
        """Invoices modified since the last run, or all of them on a full pass."""
        store = self.ctx.store
        since = from_text(store.cursor(MODIFIED_CURSOR))
        last_full = from_text(store.cursor(FULL_PASS_CURSOR))
        full = since is None or last_full is None or now - last_full >= FULL_PASS_EVERY or self.ctx.force
        workflow = self.settings.workflow
        if full:
            invoices = list(self.pv.sales_invoices(workflow, details=False))
        else:
            invoices = list(self.pv.sales_invoices(workflow, modified_since=since - CURSOR_OVERLAP, until=now,
                                                   details=False))
        self.tally.add("read", len(invoices))
        # Said on the daily full pass, not every run: it is a fact of the database, not news.
        unchecked = self.pv.invoice_total_unchecked(workflow) if invoices and full else ""
        if unchecked:
            self.log("WARNING", "the totals pvsync books are not compared with PerfectView's invoice totals: "
                                f"{unchecked}")
        return invoices, full

    def read_more(self, invoice: SalesInvoice, reads: InFlight) -> None:
        """`take_in`, in the order PerfectView listed the invoices. One that may be planned or
        checked first has its lines and attachments read (and a candidate its relation looked
        up) in a worker, C at a time; the others need no more calls."""
        entry = self.journal.get(invoice.activity_id)
        if entry is not None and self.known_as_booked(entry, invoice):
            self.tally.add("unchanged")
            return
        if (entry.needs_lookup if entry is not None else not self.is_candidate(invoice)):
            reads.start(None, lambda _: self.or_next_run(invoice.invoice_number, self.take_in, invoice))
            return
        plannable = entry is None or entry.state not in (S.BOOKED, S.PAID)
        pv, eb = self.pv, (self.eb if plannable else None)

        def read() -> SalesInvoice:
            full = pv.invoice_details(invoice)
            if plannable and self.is_candidate(full):
                party = self.party(full.relation_id)  # kept for `plan`
                if party is not None and party.debtor_number:
                    self.in_eboekhouden(party.debtor_number, eb)
            return full
        reads.start(read, lambda outcome: self.or_next_run(invoice.invoice_number, lambda _: self.take_in(outcome()),
                                                            None), keys=(invoice.relation_id,))

    @staticmethod
    def known_as_booked(entry: JournalEntry, header: SalesInvoice) -> bool:
        """A booked invoice whose header reads as it did when booked needs no detail reads.

        Its lines show in PerfectView's own total, which PerfectView recomputes on every line
        edit; its attachments matter only while its document waits. This keeps pvsync's own
        marker and note (which list the invoice as modified on the next run) and the daily full
        pass from costing two reads per booked invoice. Without a total in the header the lines
        are read as before. Not seen this way: a line edit that leaves the total as it was (a
        description, say), which could not change the booking's amounts anyway."""
        if entry.state not in (S.BOOKED, S.PAID) or entry.invoice is None or header.total is None:
            return False
        if entry.document_state in DOCUMENTS_WAITING:
            return False
        return invoice_hash(replace(header, lines=entry.invoice.lines)) in (entry.source_hash, entry.change_reported)

    def is_candidate(self, invoice: SalesInvoice) -> bool:
        return bool(invoice.invoice_number.strip()) and self.pv.is_step(self.settings.workflow, invoice.step,
                                                                         self.settings.sent_step)

    def take_in(self, invoice: SalesInvoice) -> None:
        entry = self.journal.get(invoice.activity_id)
        if entry is not None and entry.state in (S.BOOKED, S.PAID):
            self.check_unchanged(entry, invoice)
            if not self.dry_run and invoice.attachments != entry.attachments():
                self.journal.refresh_invoice(invoice)  # the document may be among them
            return
        if entry is not None and entry.needs_lookup:
            return  # still in doubt (no lookup possible yet): never planned or sent again before one
        if not self.is_candidate(invoice):
            if entry is not None:
                self.not_sent(entry, invoice)
            return
        if entry is not None and entry.resend:
            self.check_unchanged(entry, invoice)  # sent as first frozen: the number must stay the same
            return
        if entry is not None and entry.block_code in NEEDS_A_PERSON and entry.source_hash == invoice_hash(invoice):
            if not self.dry_run:
                self.journal.refresh_invoice(invoice)
            return
        self.plan_and_record(invoice, entry)

    def plan_again(self, entry: JournalEntry) -> None:
        """An open invoice PerfectView did not report as changed: the cause of its block may
        have gone anyway (VAT mapping, relation, another invoice with its number)."""
        if entry.resend or entry.block_code in NEEDS_A_PERSON or entry.invoice is None:
            return
        if self.is_candidate(entry.invoice):
            self.plan_and_record(entry.invoice, entry)

    def not_sent(self, entry: JournalEntry, invoice: SalesInvoice) -> None:
        if entry.state not in (S.READY, S.BLOCKED) or entry.resend:
            return
        step = invoice.step if invoice.invoice_number.strip() else f"{invoice.step} without an invoice number"
        blocked = Blocked("not_sent", f"invoice {entry.invoice_number} is in step {step}, not "
                                      f"{self.settings.sent_step}",
                          f"pvsync books invoices that are {self.settings.sent_step} and numbered; it is booked "
                          f"once it is {self.settings.sent_step} again")
        if self.dry_run:
            return
        if entry.block_code != blocked.code:
            self.log("INFO", f"{blocked.reason}: it waits. {blocked.way_out}", subject=entry.invoice_number)
        party = Party(entry.relation_code, entry.relation_name)
        self.journal.record_plan(invoice, relation_code=party.debtor_number, relation_name=party.name,
                                 state=S.BLOCKED, reason=blocked.reason, block_code=blocked.code,
                                 way_out=blocked.way_out)

    def check_unchanged(self, entry: JournalEntry, invoice: SalesInvoice) -> None:
        current = invoice_hash(invoice)
        if current in (entry.source_hash, entry.change_reported) or not entry.source_hash:
            return
        if invoice_hash(replace(invoice, total=None)) == entry.source_hash and invoice.total == entry.total_incl_vat:
            return  # fingerprinted before pvsync read PerfectView's total, and the total is the one booked
        if self.dry_run:
            return
        what = (f"booked as mutatie {entry.mutatienummer}" if entry.state in (S.BOOKED, S.PAID)
                else "sent to e-Boekhouden with its first contents")
        self.log("WARNING", f"invoice {entry.invoice_number} was changed in PerfectView after it was {what}. "
                            "e-Boekhouden cannot change a booking through its API, so pvsync does not book it "
                            "again: if the change matters, correct the booking in e-Boekhouden by hand (for "
                            "example with a credit invoice)", subject=entry.invoice_number)
        self.journal.change_reported(entry.activity_id, current)
        self.tally.add("changed_after_booking")

    # ------------------------------------------------------------------ planning

    def party(self, relation_id: str) -> Party | None:
        if relation_id not in self._parties:
            relation = self.pv.relation(relation_id, with_account_manager=False) if relation_id else None
            self._parties[relation_id] = (None if relation is None
                                          else Party(relation.debtor_number.strip(), relation_name(relation)))
        return self._parties[relation_id]

    def in_eboekhouden(self, code: str, eb: Any = None) -> bool:
        if self.dry_run and self.ctx.services is not None and code in self.ctx.services.planned_relations:
            return True  # this run's relations job creates it first (RunServices.planned_relations)
        if code not in self._in_eboekhouden:
            # Existence only: from the list the relations job read this run when it did (REST listed
            # relations one filtered call and one detail read per code before: 628 of 1,632 calls
            # of a 1,000-invoice booking run).
            self._in_eboekhouden[code] = (eb or self.eb).has_relation(code)
        return self._in_eboekhouden[code]

    def rules(self) -> Any:
        if self._rules is None:
            vat = self.ctx.config.vat
            # Section C: which mapping applies follows the country of the own organisation.
            self._country = self.pv.own_country() or vat.own_country
            self._rules = dict(vat.mappings.get(self._country, {}))
        return self._rules

    def ledgers(self) -> dict[str, Ledger]:
        """The administration's chart by code, as the catalog snapshot last read it (the
        engine reads it daily), else read now (once per run, only when an invoice is about to
        be booked before the first full pass); {} when e-Boekhouden does not answer."""
        if self._ledgers is None:
            snapshot = load_snapshot(self.ctx.store)
            try:
                if snapshot:
                    ledgers = list(snapshot.ledgers)
                else:
                    ledgers = self._ledgers_read = self.eb.ledgers()
            except ServiceError as error:
                self.log("WARNING", f"the ledgers were not read to check the VAT mapping's ledgers: {error}")
                ledgers = []
            self._ledgers = {ledger.code: ledger for ledger in ledgers}
        return self._ledgers

    def named_ledgers(self) -> dict[str, Ledger]:
        """Ledger names for messages: the snapshot only, never a call of its own."""
        if self._ledgers is not None:
            return self._ledgers
        snapshot = load_snapshot(self.ctx.store)
        return {ledger.code: ledger for ledger in snapshot.ledgers} if snapshot else {}

    def ledger_refused(self, ready: Ready) -> Blocked | None:
        """A rule of this booking whose ledger the chart says cannot carry turnover: the invoice
        waits instead of being booked (a booking there cannot be taken back through the API)."""
        used = {applied.perfectview_vat: self._rules[applied.perfectview_vat] for applied in ready.applied
                if applied.perfectview_vat in (self._rules or {})}
        refused = refused_rules(used, self.ledgers().values())
        return next((ledger_refused(name, reason) for name, reason in refused.items()), None)

    def plan(self, invoice: SalesInvoice) -> tuple[Ready | Blocked, Party]:
        party = self.party(invoice.relation_id)
        if party is None:
            return Blocked("relation_missing", f"the relation of invoice {invoice.invoice_number} is not found in "
                                               "PerfectView", "check the invoice's relation in PerfectView"), \
                Party("", "")
        rules = self.rules()
        in_eb = bool(party.debtor_number) and self.in_eboekhouden(party.debtor_number)
        settings = BookingSettings(debtors_ledger=self.settings.debtors_ledger,
                                   description_template=self.settings.description_template)
        result = plan_booking(invoice, debtor_number=party.debtor_number, relation_name=party.name,
                              relation_in_eboekhouden=in_eb, rules=rules, own_country=self._country,
                              settings=settings)
        if isinstance(result, Ready):
            result = self.ledger_refused(result) or self.same_number_elsewhere(invoice) or result
        return result, party

    def same_number_elsewhere(self, invoice: SalesInvoice) -> Blocked | None:
        """Another PerfectView invoice with this number is (being) booked: booking this one
        would be refused, or worse, linked to the other one's booking."""
        number = invoice.invoice_number.strip()
        for other in self.journal.by_number(number):
            if other.activity_id != invoice.activity_id and other.state not in (S.SEEN, S.READY, S.BLOCKED):
                activity = other.invoice.activity_number if other.invoice else other.activity_id
                return Blocked("duplicate_number", f"invoice number {number} is also used by PerfectView activity "
                                                   f"{activity}, which is {other.state.value}",
                               "give this invoice its own number in PerfectView")
        return None

    def plan_and_record(self, invoice: SalesInvoice, entry: JournalEntry | None) -> None:
        result, party = self.plan(invoice)
        number = invoice.invoice_number.strip()
        if isinstance(result, Ready) and invoice.booked_marker.strip():
            self.adopt_marked(invoice, result.booking, party)
            return
        if isinstance(result, Blocked):
            self.tally.add("blocked")
            if self.dry_run:
                self.log("INFO", f"dry run: invoice {number} would wait: {result}", subject=number)
                return
            if entry is None or entry.reason != result.reason or entry.state is not S.BLOCKED:
                self.log("WARNING", f"invoice {number} waits: {result}", subject=number,
                         details={"code": result.code})
            self.journal.record_plan(invoice, relation_code=party.debtor_number, relation_name=party.name,
                                     state=S.BLOCKED, reason=result.reason, block_code=result.code,
                                     way_out=result.way_out)
            return
        if self.dry_run:
            self._would_book.append((invoice, result.booking))
            return
        if entry is not None and entry.state is S.BLOCKED:
            self.log("INFO", f"invoice {number} no longer waits (it waited because {entry.reason}): it is booked "
                             "now", subject=number)
        self.journal.record_plan(invoice, relation_code=party.debtor_number, relation_name=party.name,
                                 state=S.READY, booking=result.booking)

    def show_dry_run(self) -> None:
        for invoice, booking in self._would_book:
            self.tally.add("would_book")
            number = booking.invoice_number
            self.log("INFO", f"dry run: would book invoice {number} for {booking.relation_code} dated "
                             f"{booking.datum.isoformat()} ({booking.soort.value} on "
                             f"{ledger_label(booking.ledger, self.named_ledgers())}, Boekstuk "
                             f"{booking.boekstuk}): {describe_booking(booking, self.named_ledgers())}",
                     subject=number, details=booking_details(booking))
        for entry in self.journal.entries([S.READY]):
            if entry.resend and entry.booking is not None:
                self.tally.add("would_book")
                self.log("INFO", f"dry run: would send invoice {entry.invoice_number} again as first sent: "
                                 f"{describe_booking(entry.booking, self.named_ledgers())}",
                         subject=entry.invoice_number,
                         details=booking_details(entry.booking))

    # ------------------------------------------------------------------ exactly once: lookups

    def look_up(self, number: str, state: str) -> list[Booking] | None:
        """GetMutaties by Factuurnummer; None when the budget allows no lookup now."""
        try:
            found = self.eb.bookings(invoice_number=number, purpose="exactly_once")
        except BudgetExhausted as error:
            self.log("WARNING", f"{error}. Invoice {number} stays {state}: it is never sent again before it has been "
                                "looked up", subject=number)
            self.tally.add("lookup_postponed")
            return None
        except ServiceError as error:
            self.log("WARNING", f"invoice {number} could not be looked up in e-Boekhouden: {error}. It stays {state}: "
                                "it is never sent again before it has been looked up", subject=number)
            self.tally.fail("lookup_failed")
            return None
        self.tally.add("looked_up")
        return found

    def resolve_doubts(self) -> None:
        for entry in self.journal.in_doubt():
            number = entry.invoice_number
            if self.dry_run:
                self.log("INFO", f"dry run: invoice {number} is {entry.state.value} (the outcome of the last attempt "
                                 "is unknown); a real run looks it up in e-Boekhouden first", subject=number)
                continue
            if entry.booking is None:  # cannot happen through the journal; refuse to guess
                raise RuntimeError(f"invoice {number} is {entry.state.value} without a frozen booking")
            found = self.look_up(number, entry.state.value)
            if found is None:
                continue
            outcome = interpret_lookup(entry.booking, found)
            if isinstance(outcome, AlreadyBooked):
                self.adopt(entry, outcome, because="the answer to the earlier attempt did not arrive")
            elif isinstance(outcome, NotBooked):
                self.journal.move(entry.activity_id, S.READY, resend=True)
                self.log("INFO", f"invoice {number} is not in e-Boekhouden after the interrupted attempt: it is sent "
                                 "again with the same invoice number and amounts", subject=number)
                self.tally.add("resent")
            else:
                self.needs_a_person(entry, outcome)

    def adopt(self, entry: JournalEntry, outcome: AlreadyBooked, *, because: str) -> None:
        """e-Boekhouden has this invoice: record its Mutatienummer instead of booking again."""
        number = entry.invoice_number
        with self.ctx.store.write():
            self.journal.record_booked(entry.activity_id, outcome.mutatienummer, linked=not outcome.ours,
                                       document_state=self.first_document_state())
            whose = "pvsync's own booking" if outcome.ours else "a booking made outside pvsync"
            self.log("INFO", f"invoice {number} is in e-Boekhouden as mutatie {outcome.mutatienummer} ({whose}; "
                             f"{because}): linked, not booked again", subject=number)
        self.tally.add("linked" if not outcome.ours else "booked")
        self.report_differences(number, outcome)

    def report_differences(self, number: str, outcome: AlreadyBooked) -> None:
        if outcome.differences:
            self.log("WARNING", f"invoice {number} as e-Boekhouden holds it (mutatie {outcome.mutatienummer}) differs "
                                f"from PerfectView: {'; '.join(outcome.differences)}. Check it in e-Boekhouden",
                     subject=number, details={"differences": list(outcome.differences)})

    def needs_a_person(self, entry: JournalEntry, outcome: Ambiguous) -> None:
        number = entry.invoice_number
        self.journal.move(entry.activity_id, S.BLOCKED, reason=outcome.reason, block_code="ambiguous",
                          way_out=f"then run `pvsync invoices retry {number}`")
        self.log("ERROR", f"invoice {number}: {outcome.reason}", subject=number)
        self.tally.fail("ambiguous")

    def adopt_marked(self, invoice: SalesInvoice, booking: Booking, party: Party) -> None:
        """PerfectView marks the invoice booked but pvsync has no record of booking it
        (booked before pvsync, or by hand): look it up rather than book it again."""
        number = booking.invoice_number
        if self.dry_run:
            self.log("INFO", f"dry run: invoice {number} is marked booked in PerfectView ('{invoice.booked_marker}') "
                             "but pvsync has no record of it; a real run looks it up in e-Boekhouden", subject=number)
            return
        found = self.look_up(number, "waiting")
        entry = self.journal.record_plan(invoice, relation_code=party.debtor_number, relation_name=party.name,
                                         state=S.READY, booking=booking)
        if found is None:
            self.journal.move(entry.activity_id, S.BLOCKED, block_code="lookup_postponed",
                              reason=f"invoice {number} is marked booked in PerfectView and could not be looked up "
                                     "in e-Boekhouden yet",
                              way_out="it is looked up in a next run (never booked before that)")
            return
        outcome = interpret_lookup(booking, found)
        if isinstance(outcome, AlreadyBooked):
            with self.ctx.store.write():
                self.journal.record_booked(entry.activity_id, outcome.mutatienummer, linked=True,
                                           perfectview_done=True, document_state="")
                self.log("INFO", f"invoice {number} is already in e-Boekhouden as mutatie {outcome.mutatienummer} "
                                 f"(PerfectView marks it '{invoice.booked_marker}'): linked, not booked again",
                         subject=number)
            self.tally.add("linked")
            self.report_differences(number, outcome)
        elif isinstance(outcome, NotBooked):
            marker_field = self.pv.tables["invoice"]["booked_marker"]  # the field pvsync writes and read here
            self.journal.move(entry.activity_id, S.BLOCKED, block_code="marker_without_booking",
                              reason=f"invoice {number} is marked booked in PerfectView ('{invoice.booked_marker}') "
                                     f"but e-Boekhouden has no booking with this number for {party.debtor_number}",
                              way_out=f"if it is not booked, clear the field '{marker_field}' "
                                      f"in PerfectView and run `pvsync invoices retry {number}`")
            self.log("WARNING", f"invoice {number} is marked booked in PerfectView but is not in e-Boekhouden; it "
                                "waits for a person", subject=number)
            self.tally.add("blocked")
        else:
            self.needs_a_person(self.journal.get(entry.activity_id), outcome)

    # ------------------------------------------------------------------ booking

    def book(self, entry: JournalEntry, writes: InFlight) -> None:
        """The intent committed, then AddMutatie in flight (`booked` takes its answer)."""
        number = entry.invoice_number
        if entry.invoice is not None and not entry.resend:
            clash = self.same_number_elsewhere(entry.invoice)
            if clash is not None:
                self.journal.move(entry.activity_id, S.BLOCKED, reason=clash.reason, block_code=clash.code,
                                  way_out=clash.way_out)
                self.log("WARNING", f"invoice {number} waits: {clash}", subject=number)
                self.tally.add("blocked")
                return
        entry = self.journal.claim_for_booking(entry.activity_id)  # committed before anything is sent
        self.job.crash_at("after_intent_commit")
        eb = self.eb
        writes.start(lambda: eb.add_booking(entry.booking), lambda outcome: self.booked(entry, outcome),
                     keys=(number,))

    def booked(self, entry: JournalEntry, outcome: Outcome[int]) -> None:
        number, booking = entry.invoice_number, entry.booking
        try:
            mutatienummer = outcome()
        except RequestInvalid as error:  # refused before sending (e-Boekhouden's limits)
            self.refused(entry, str(error), looked_up=None)
            return
        except (TransportFailure, SoapFault) as error:
            self.no_answer(entry, error)
            return
        except ApiError as error:
            if not error.maybe_processed:  # refused before any work (the session was lost again): not booked
                self.no_answer(entry, error)
                return
            # An in-band refusal may mean "this invoice number exists": look before deciding.
            found = self.look_up(number, "blocked")
            self.refused(entry, f"e-Boekhouden refused it: {error.detail}", looked_up=found)
            return
        except ServiceError as error:
            self.no_answer(entry, error)
            return
        self.job.crash_at("after_remote_booking")
        with self.ctx.store.write():
            self.journal.record_booked(entry.activity_id, mutatienummer, linked=False,
                                       document_state=self.first_document_state())
            self.log("INFO", f"invoice {number} booked in e-Boekhouden as mutatie {mutatienummer} "
                             f"({booking.relation_code}, {booking.datum.isoformat()}): "
                             f"{describe_booking(booking, self.named_ledgers())}",
                     subject=number, details={"mutatienummer": mutatienummer, **booking_details(booking)})
        self.tally.add("booked")
        self.job.crash_at("after_local_commit")

    def no_answer(self, entry: JournalEntry, error: ServiceError) -> None:
        number = entry.invoice_number
        if getattr(error, "maybe_processed", True):
            self.journal.move(entry.activity_id, S.UNKNOWN,
                              reason=f"no answer from e-Boekhouden ({error}); whether it was booked is unknown",
                              way_out="it is looked up by invoice number before anything is sent again")
            self.log("WARNING", f"invoice {number}: no answer from e-Boekhouden ({error}). It may be booked: the next "
                                "run looks it up by invoice number before anything is sent again", subject=number)
            self.tally.fail("unknown")
            return
        if isinstance(error, SoapFault):
            self.refused(entry, f"e-Boekhouden refused the request: {error.detail}", looked_up=None)
            return
        self.journal.move(entry.activity_id, S.READY)
        self.log("WARNING", f"invoice {number} was not sent: {error}. It is sent in the next run", subject=number)
        self.tally.fail("not_sent")

    def refused(self, entry: JournalEntry, why: str, *, looked_up: list[Booking] | None) -> None:
        number = entry.invoice_number
        if looked_up is not None:
            outcome = interpret_lookup(entry.booking, looked_up)
            if isinstance(outcome, AlreadyBooked):
                self.adopt(entry, outcome, because=f"booking it again was refused: {why}")
                return
            if isinstance(outcome, Ambiguous):
                self.needs_a_person(entry, outcome)
                return
        self.journal.move(entry.activity_id, S.BLOCKED, reason=f"invoice {number} was not booked: {why}",
                          block_code="refused",
                          way_out=f"correct the cause in PerfectView or e-Boekhouden, then run "
                                  f"`pvsync invoices retry {number}`")
        self.log("ERROR", f"invoice {number} was not booked: {why}. Correct the cause, then run "
                          f"`pvsync invoices retry {number}` (an edit of the invoice in PerfectView retries too)",
                 subject=number)
        self.tally.fail("refused")

    # ------------------------------------------------------------------ after booking

    def first_document_state(self) -> str:
        return "pending" if self.settings.document.send else ""

    def tell_perfectview(self, entry: JournalEntry, *, retrying: bool, writes: InFlight) -> None:
        """The booked marker (date and Mutatienummer) and a note on the activity, sent from a
        worker; `told` records it."""
        number, mutatie = entry.invoice_number, entry.mutatienummer
        booked_on = (entry.booked_at or utc_now()).astimezone(AMSTERDAM).date()
        marker = f"{booked_on:%d-%m-%Y} mutatie {mutatie}"
        prefix = f"pvsync: invoice {number} "
        if entry.linked:
            note = f"{prefix}is in e-Boekhouden as mutatie {mutatie} (booked there before); linked, not booked again."
        else:
            totals = (f"total {format_euro(entry.total_incl_vat)}" if entry.total_incl_vat is not None else "")
            note = f"{prefix}booked in e-Boekhouden as mutatie {mutatie} on {booked_on:%d-%m-%Y}; {totals}."
        pv = self.pv

        def send() -> None:
            pv.set_booked_marker(entry.activity_id, marker, self.settings.workflow)
            self.job.crash_at("after_marker")
            # After a crash the note may be there already; only then is it worth a read.
            if not retrying or not any(text.startswith(prefix) for text in pv.activity_notes(entry.activity_id)):
                pv.add_activity_note(entry.activity_id, note)
        writes.start(send, lambda outcome: self.told(entry, outcome), keys=(entry.activity_id,))

    def told(self, entry: JournalEntry, outcome: Outcome[None]) -> None:
        number, mutatie = entry.invoice_number, entry.mutatienummer
        try:
            outcome()
        except ServiceError as error:
            self.log("ERROR", f"invoice {number} is booked (mutatie {mutatie}) but PerfectView could not be told: "
                              f"{error}. pvsync tries again next run", subject=number)
            self.tally.fail("perfectview_failed")
            return
        self.job.crash_at("after_note")
        self.journal.perfectview_finished(entry.activity_id)

    def send_documents(self) -> None:
        document = self.settings.document
        if not document.send:
            return
        for entry in self.journal.documents_pending():
            if self.ctx.should_stop():
                return
            self.send_document(entry, document)

    def send_document(self, entry: JournalEntry, document: Any) -> None:
        number = entry.invoice_number
        choice = choose_attachment(entry.attachments(), chosen_id=entry.document_attachment_id,
                                   policy=document.policy)
        if choice.attachment is None:
            if entry.document_state != choice.waiting:
                self.journal.set_document(entry.activity_id, choice.waiting)
                if choice.waiting == "choose":
                    files = ", ".join(f"{a.id} ({a.file_name})" for a in entry.attachments())
                    self.log("WARNING", f"invoice {number}: choose the invoice document. The activity has several "
                                        f"attachments ({files}); pick one in the console or with `pvsync invoices "
                                        f"choose-document {number} ATTACHMENT`", subject=number)
                else:
                    self.log("INFO", f"invoice {number} has no attachment to send to e-Boekhouden's archive; it is "
                                     "sent once one is added to the activity", subject=number)
            self.tally.add("document_waiting")
            return
        try:
            attachment = self.pv.attachment(choice.attachment.id)
            message = build_message(document, invoice_number=number, mutatienummer=entry.mutatienummer,
                                    relation_name=entry.relation_name, attachment=attachment)
            send_document(document, message)
        except (DocumentNotSent, ServiceError) as error:
            self.journal.document_failed(entry.activity_id, str(error))
            self.log("ERROR", f"the document of invoice {number} (booked as mutatie {entry.mutatienummer}) was not "
                              f"mailed to the archive: {error}. The booking stands; the mail is tried again next run",
                     subject=number)
            self.tally.fail("document_failed")
            return
        self.journal.document_sent(entry.activity_id, attachment)
        self.log("INFO", f"invoice {number}: document {attachment.file_name} mailed to e-Boekhouden's archive "
                         f"address (mutatie {entry.mutatienummer})", subject=number)
        self.tally.add("document_sent")
