"""Paid in e-Boekhouden, Betaald in PerfectView (section D of the functional description).

Once a day (and on a forced run) the job reads the debtor open items once
(GetOpenPosten Debiteuren) and moves each booked invoice whose open item is fully settled
to the paid step in PerfectView, with a note on the activity and a logbook line.

An invoice is marked paid only on evidence about that invoice:
- e-Boekhouden lists its open item with nothing outstanding, or
- the open item is missing from a successful answer and GetMutaties for its
  Factuurnummer shows settlements (FactuurbetalingOntvangen lines with its number;
  a credit invoice is settled the same way, with a negative amount) covering its total.

Absence alone never counts: e-Boekhouden leaves a settled item out of GetOpenPosten,
but an empty or shrunken answer looks just the same. When many booked invoices go
missing at once, the answer is held as suspicious for one run (a WARNING, no lookups);
when the next answer agrees they are looked up one by one, and the lookups stop as soon
as a few in a row show no settlement.

GetMutaties calls share the monthly budget with invoice booking. These lookups use the
purpose "other": marking an invoice paid a day later costs nothing, while the reserve is
what keeps invoice booking exactly-once, so payments give way first. One lookup per
newly settled invoice: a settlement that is found is remembered until PerfectView has
been changed, and an invoice that was not proven settled is looked up again only after
`RECHECK_UNPROVEN` (or on a run with force).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any, Callable

from core.sync.job import JobResult, RunContext
from core.model import Booking, MutatieSoort, OpenItem, format_euro
from core.soap.errors import BudgetExhausted, ServiceError
from core.store.invoice_journal import BookedTotal, InvoiceJournal, JournalEntry
from core.store.payment_state import Listed, Missing, PaymentCheck, PaymentChecks
from core.store.records import utc_now
from core.sync.invoice_states import InvoiceState

KIND = "payment"
GUARD_MIN_UNPAID = 5  # "many": more than this many booked invoices unpaid ...
GUARD_SHARE = Decimal("0.5")  # ... and more than this share of them missing at once
PROBE_LIMIT = 3  # consecutive lookups showing no settlement before a suspicious answer is given up on
RECHECK_UNPROVEN = timedelta(days=7)
# Named steps where a crash matters (tests stop the job there; see tests/reliability).
CRASH_POINTS = ("after_paid_step", "after_paid_note", "after_paid_commit")


# --------------------------------------------------------------------------- evidence (pure)


def covers(total: Decimal, settled: Decimal) -> bool:
    """Whether `settled` settles an invoice of `total` (negative for a credit invoice)."""
    return settled >= total if total >= 0 else settled <= total


def nothing_outstanding(item: OpenItem, total: Decimal) -> bool:
    """The open item itself says the invoice is settled (Openstaand 0, or overpaid)."""
    amount = item.amount if item.amount else total
    return covers(amount, amount - item.outstanding)


@dataclass(frozen=True)
class Settlement:
    amount: Decimal
    mutations: tuple[int, ...]


def settlement_of(invoice_number: str, relation_code: str, found: list[Booking]) -> Settlement:
    """What GetMutaties by Factuurnummer shows settled for this invoice: the lines of its
    relation's FactuurbetalingOntvangen mutations that carry its number. A line without a
    number of its own belongs to its mutation's invoice number."""
    amount, numbers = Decimal(0), []
    for booking in found:
        if booking.soort is not MutatieSoort.FACTUURBETALING_ONTVANGEN:
            continue
        if booking.relation_code != relation_code:
            continue
        lines = [line for line in booking.lines if (line.invoice_number or booking.invoice_number) == invoice_number]
        if lines:
            amount += sum((line.amount_incl_vat for line in lines), Decimal(0))
            numbers.append(booking.number)
    return Settlement(amount, tuple(numbers))


def suspicious(unpaid: int, missing: int) -> bool:
    """Many booked invoices unpaid and more than half of them missing from the answer."""
    return unpaid > GUARD_MIN_UNPAID and missing > unpaid * GUARD_SHARE


# --------------------------------------------------------------------------- the job


@dataclass
class _Tally:
    counters: dict[str, int] = field(default_factory=dict)
    failures: int = 0
    stopped: bool = False  # the run was asked to stop before everything was done

    def add(self, name: str, count: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + count


@dataclass(frozen=True)
class BookedInvoice:
    """A journal row in state booked, as the payments job sees it."""

    activity_id: str
    invoice_number: str
    relation_code: str
    total: Decimal  # incl. VAT, as booked; negative for a credit invoice

    @classmethod
    def of(cls, entry: JournalEntry | BookedTotal) -> BookedInvoice:
        return cls(entry.activity_id, entry.invoice_number, entry.relation_code, entry.total_incl_vat or Decimal(0))


def booked_unpaid(journal: InvoiceJournal) -> tuple[list[BookedInvoice], int]:
    """Booked invoices whose PerfectView side (booked marker, note) the invoices job has
    finished, and how many wait for it: moving one to paid earlier would take it off that
    job's list of PerfectView work."""
    booked = journal.booked_totals()
    return [BookedInvoice.of(e) for e in booked if e.perfectview_done], sum(not e.perfectview_done for e in booked)


@dataclass(frozen=True)
class _Settled:
    invoice: BookedInvoice
    evidence: str


class PaymentsJob:
    """Marks booked invoices Betaald in PerfectView once e-Boekhouden shows them settled."""

    name = "payments"
    kind = KIND
    # The engine checks the register (core.assumptions) first and does not start the job
    # while something it needs is missing from the databases.
    checks_assumptions = True

    def __init__(self, *, crash_at: Callable[[str], None] | None = None):
        self.crash_at = crash_at or (lambda point: None)

    def interval(self, config: Any) -> timedelta:
        return config.schedule.payments

    def enabled(self, config: Any) -> bool:
        # Only invoices pvsync booked can be marked paid (the config check says so too).
        return bool(config.payments.enabled and config.invoices.enabled)

    def run(self, ctx: RunContext) -> JobResult:
        tally = _Tally()
        eb = ctx.services.eboekhouden()
        items = eb.open_items("Debiteuren")
        unpaid, waiting = booked_unpaid(InvoiceJournal(ctx.store))
        tally.add("open_items", len(items))
        tally.add("booked_unpaid", len(unpaid))
        if waiting:
            tally.add("waiting_for_invoices_job", waiting)
        by_key = {(item.relation_code, item.invoice_number): item for item in items}
        found = {invoice.activity_id: by_key.get((invoice.relation_code, invoice.invoice_number)) for invoice in unpaid}
        checks = PaymentChecks(ctx.store)
        # What was learned before matters only for an invoice missing from the answer or partly
        # paid: thousands of others are not read back on every run.
        known = checks.of([activity_id for activity_id, item in found.items() if item is None or item.paid])

        settled: list[_Settled] = []
        listed: list[Listed] = []
        missing: list[BookedInvoice] = []
        for invoice in unpaid:
            item = found[invoice.activity_id]
            if item is None:
                missing.append(invoice)
                continue
            listed.append(Listed(invoice.activity_id, invoice.invoice_number, invoice.relation_code, item))
            if nothing_outstanding(item, invoice.total):
                settled.append(_Settled(invoice, f"e-Boekhouden lists it with Openstaand "
                                                 f"{format_euro(item.outstanding)} (Bedrag {format_euro(item.amount)}, "
                                                 f"Voldaan {format_euro(item.paid)})"))
            else:
                self._still_open(ctx, tally, invoice, item, known.get(invoice.activity_id))

        newly_missing = [i for i in missing if _absent_since(known.get(i.activity_id)) is None]
        held = suspicious(len(unpaid), len(newly_missing))
        if not ctx.dry_run:
            checks.record_answer(listed, [Missing(i.activity_id, i.invoice_number, i.relation_code) for i in missing],
                                 run_id=ctx.run_id)
        if held:
            tally.add("held", len(missing))
            ctx.log("WARNING", KIND,
                    f"the open items answer lists {len(items)} items and lacks {len(newly_missing)} of the "
                    f"{len(unpaid)} booked invoices that are not paid yet: that looks like an incomplete answer, "
                    f"not like {len(newly_missing)} payments at once. Nothing is marked paid on their absence now; "
                    f"if the next run's answer agrees, each is checked in e-Boekhouden's mutations first",
                    details={"missing": [i.invoice_number for i in newly_missing[:50]]})
        else:
            settled += self._look_up(ctx, eb, tally, missing, known, suspicious(len(unpaid), len(missing)))

        if ctx.dry_run:
            for entry in settled:
                tally.add("would_mark_paid")
                ctx.log("INFO", KIND, f"dry run: would mark invoice {entry.invoice.invoice_number} "
                                      f"{ctx.config.invoices.paid_step}: {entry.evidence}",
                        subject=entry.invoice.invoice_number)
            return self._result(tally, complete=not tally.stopped)

        pv = ctx.services.perfectview() if settled else None
        for done, entry in enumerate(settled):
            if ctx.should_stop():
                return self._result(tally, complete=False)
            ctx.progress("payments", done, len(settled))
            if mark_paid(ctx, pv, entry.invoice, entry.evidence, crash_at=self.crash_at):
                tally.add("marked_paid")
            else:
                tally.add("failed")
                tally.failures += 1
        ctx.progress("payments", len(settled), len(settled))
        return self._result(tally, complete=not tally.stopped)

    # ------------------------------------------------------------------ steps

    def _still_open(self, ctx: RunContext, tally: _Tally, invoice: BookedInvoice, item: OpenItem,
                    check: PaymentCheck | None) -> None:
        if item.paid:
            tally.add("partly_paid")
            if check is None or check.paid != item.paid:
                ctx.log("INFO", KIND, f"invoice {invoice.invoice_number} is partly paid: {format_euro(item.paid)} "
                                      f"of {format_euro(item.amount)}, {format_euro(item.outstanding)} still open; "
                                      f"it stays {ctx.config.invoices.sent_step} until it is paid in full",
                        subject=invoice.invoice_number)
        else:
            tally.add("still_open")

    def _look_up(self, ctx: RunContext, eb: Any, tally: _Tally, missing: list[BookedInvoice],
                 known: dict[str, PaymentCheck], answer_suspicious: bool) -> list[_Settled]:
        """One GetMutaties per missing invoice that needs one, in the order least recently checked."""
        settled: list[_Settled] = []
        to_check: list[BookedInvoice] = []
        now = utc_now()
        for invoice in missing:
            check = known.get(invoice.activity_id)
            if check is not None and check.proven_settled and not check.listed:
                settled.append(_Settled(invoice, check.evidence))  # found earlier; PerfectView still to change
            elif (check is not None and check.looked_up_at is not None and not ctx.force
                  and now - check.looked_up_at < RECHECK_UNPROVEN):
                tally.add("not_proven")
            else:
                to_check.append(invoice)
        to_check.sort(key=lambda i: (_looked_up(known.get(i.activity_id)), i.invoice_number))
        unproven_in_a_row = 0
        for position, invoice in enumerate(to_check):
            if ctx.should_stop():
                tally.stopped = True
                break
            if ctx.dry_run:
                tally.add("would_look_up")
                ctx.log("INFO", KIND, f"dry run: invoice {invoice.invoice_number} is not in the open items; a real "
                                      "run checks its mutations (one GetMutaties call)", subject=invoice.invoice_number)
                continue
            try:
                found = eb.bookings(invoice_number=invoice.invoice_number, purpose="other")
            except BudgetExhausted as error:
                tally.add("not_looked_up", len(to_check) - position)
                ctx.log("WARNING", KIND, f"{error}. Invoices missing from the open items are checked again when "
                                         "the budget allows; those with Openstaand 0 are still marked paid")
                break
            tally.add("looked_up")
            settlement = settlement_of(invoice.invoice_number, invoice.relation_code, found)
            if covers(invoice.total, settlement.amount):
                numbers = ", ".join(str(n) for n in settlement.mutations)
                plural = len(settlement.mutations) > 1
                mutaties = f"mutaties {numbers} settle" if plural else f"mutatie {numbers} settles"
                evidence = (f"not in the open items, and e-Boekhouden {mutaties} {format_euro(settlement.amount)} "
                            f"of {format_euro(invoice.total)}")
                PaymentChecks(ctx.store).record_lookup(invoice.activity_id, settlement.amount, evidence,
                                                       run_id=ctx.run_id)
                settled.append(_Settled(invoice, evidence))
                unproven_in_a_row = 0
                continue
            PaymentChecks(ctx.store).record_lookup(invoice.activity_id, settlement.amount, "", run_id=ctx.run_id)
            tally.add("not_proven")
            unproven_in_a_row += 1
            ctx.log("WARNING", KIND,
                    f"invoice {invoice.invoice_number} is missing from e-Boekhouden's open items, but its mutations "
                    f"settle only {format_euro(settlement.amount)} of {format_euro(invoice.total)}; it stays "
                    f"{ctx.config.invoices.sent_step}. Check the invoice in e-Boekhouden (it is looked at again in "
                    f"{RECHECK_UNPROVEN.days} days, or on a run with force)", subject=invoice.invoice_number)
            if answer_suspicious and unproven_in_a_row >= PROBE_LIMIT:
                ctx.log("WARNING", KIND,
                        f"{PROBE_LIMIT} invoices in a row missing from the open items show no settlement: the open "
                        f"items answer looks incomplete, so the other missing invoices are not looked up this run")
                break
        return settled

    @staticmethod
    def _result(tally: _Tally, *, complete: bool) -> JobResult:
        c = tally.counters
        summary = (f"{c.get('marked_paid', 0)} marked paid, {c.get('partly_paid', 0)} partly paid, "
                   f"{c.get('still_open', 0)} open")
        if c.get("would_mark_paid"):
            summary = f"dry run: {c['would_mark_paid']} would be marked paid"
        if c.get("held"):
            summary += f", {c['held']} held (suspicious answer)"
        if tally.failures:
            summary += f", {tally.failures} failed"
        return JobResult(counters=dict(c), failures=tally.failures, complete=complete, summary=summary)


def _absent_since(check: PaymentCheck | None):
    return None if check is None else check.absent_since


def _looked_up(check: PaymentCheck | None) -> str:
    return "" if check is None or check.looked_up_at is None else check.looked_up_at.isoformat()


# --------------------------------------------------------------------------- PerfectView and the journal


def note_marker(invoice_number: str) -> str:
    """The start of the note pvsync leaves; finding it means the note is there already."""
    return f"pvsync: invoice {invoice_number} is paid in e-Boekhouden"


def mark_paid(ctx: RunContext, pv: Any, invoice: BookedInvoice, evidence: str, *,
              crash_at: Callable[[str], None] = lambda point: None) -> bool:
    """Paid step, note, then journal + logbook in one transaction. Safe to repeat after a
    crash anywhere in between: a move to a step the activity is already in counts as done,
    and the note is added only when it is not there yet."""
    config = ctx.config.invoices
    number = invoice.invoice_number
    try:
        try:
            pv.move_to_step(invoice.activity_id, config.paid_step, config.workflow,
                            transition_id=config.paid_transition)
            moved_now = True
            crash_at("after_paid_step")
        except ServiceError as error:
            step = pv.invoice(invoice.activity_id).step
            if not pv.is_step(config.workflow, step, config.paid_step):
                PaymentChecks(ctx.store).record_settled(invoice.activity_id, evidence, run_id=ctx.run_id)
                if pv.is_step(config.workflow, step, config.sent_step):
                    # From the right step and still refused: this database's ActivityFlow wants
                    # another transition Id than the one pvsync gave.
                    way_out = (f"the transition from {config.sent_step} to {config.paid_step} has an Id of its own "
                               f"in this database: set invoices.paid_transition to it (PerfectView, the workflow's "
                               f"settings), or mark it {config.paid_step} by hand")
                else:
                    way_out = (f"PerfectView allows {config.paid_step} only from {config.sent_step}: move it to "
                               f"{config.sent_step}, or mark it {config.paid_step} by hand")
                ctx.log("ERROR", KIND,
                        f"invoice {number} is paid in e-Boekhouden but could not be moved to {config.paid_step} in "
                        f"PerfectView: it is in step {step} ({error}). {way_out}; pvsync tries again next run",
                        subject=number)
                return False
            moved_now = False  # a previous run got this far
        marker = note_marker(number)
        if moved_now or not any(text.startswith(marker) for text in pv.activity_notes(invoice.activity_id)):
            pv.add_activity_note(invoice.activity_id, f"{marker} ({evidence}); moved to {config.paid_step}.")
        crash_at("after_paid_note")
    except ServiceError as error:
        PaymentChecks(ctx.store).record_settled(invoice.activity_id, evidence, run_id=ctx.run_id)
        ctx.log("ERROR", KIND, f"invoice {number} is paid in e-Boekhouden, but PerfectView could not be updated: "
                               f"{error}. pvsync tries again next run", subject=number)
        return False
    with ctx.store.write():
        InvoiceJournal(ctx.store).move(invoice.activity_id, InvoiceState.PAID)
        PaymentChecks(ctx.store).record_settled(invoice.activity_id, evidence, run_id=ctx.run_id)
        ctx.log("INFO", KIND, f"invoice {number} marked {config.paid_step} in PerfectView: {evidence}",
                subject=number)
    crash_at("after_paid_commit")
    return True
