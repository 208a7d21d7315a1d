"""From a PerfectView sales invoice to the e-Boekhouden booking that records it (section C).

Pure functions. The rounding rule is the Dutch one: VAT is computed per VAT-rate total
(one booking line per BTW-code and grootboekrekening) and rounded half-up to cents, the
way e-Boekhouden itself computes it. PerfectView's own invoice total is the check: when
what pvsync would book differs from it by even a cent, the invoice is blocked with both
figures instead of being "fixed" silently.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from core.model import (BTW_CODES, Booking, BookingLine, InvoiceLine, MutatieSoort, SalesInvoice, VatRule,
                        format_euro, round_cents)
from core.sync.vat_guard import fits_a_sales_mapping

HUNDRED = Decimal(100)

# e-Boekhouden's limits on the mutation header (NOTES.md, cMutatie).
MAX_INVOICE_NUMBER = 50
MAX_BOEKSTUK = 50
MAX_DESCRIPTION = 200
MAX_PAYMENT_TERM_DAYS = 9999  # Betalingstermijn is a string of at most 4 characters


@dataclass(frozen=True)
class Blocked:
    """Why an invoice waits, in words, and the way out."""

    code: str
    reason: str
    way_out: str

    def __str__(self) -> str:
        return f"{self.reason} — {self.way_out}"


@dataclass(frozen=True)
class AppliedRule:
    """How one PerfectView VAT code was booked (shown in the console's invoice details)."""

    perfectview_vat: str
    percentage: Decimal
    btw_code: str
    ledger: str
    lines: int


@dataclass(frozen=True)
class Ready:
    booking: Booking
    applied: tuple[AppliedRule, ...]


@dataclass(frozen=True)
class BookingSettings:
    debtors_ledger: str = "1300"
    description_template: str = "Factuur {invoice_number} {relation_name}"


def vat_for(base: Decimal, percentage: Decimal, *, includes_vat: bool) -> tuple[Decimal, Decimal, Decimal]:
    """(excl, vat, incl) for one VAT-rate total, rounded half-up to cents.

    Excluding VAT: VAT = round(excl x rate). Including VAT: excl = round(incl / (1 + rate)),
    VAT is the rest, so excl + VAT always equals the incl total PerfectView shows.
    """
    if includes_vat:
        incl = round_cents(base)
        excl = round_cents(incl * HUNDRED / (HUNDRED + percentage))
        return excl, incl - excl, incl
    excl = round_cents(base)
    vat = round_cents(excl * percentage / HUNDRED)
    return excl, vat, excl + vat


def describe(template: str, invoice: SalesInvoice, *, relation_name: str, debtor_number: str) -> str:
    values = {
        "invoice_number": invoice.invoice_number, "relation_name": relation_name, "debtor_number": debtor_number,
        "activity_number": invoice.activity_number,
        "invoice_date": invoice.invoice_date.strftime("%d-%m-%Y") if invoice.invoice_date else "",
    }
    return template.format(**values).strip()


def plan_booking(invoice: SalesInvoice, *, debtor_number: str, relation_name: str, relation_in_eboekhouden: bool,
                 rules: dict[str, VatRule], own_country: str, settings: BookingSettings = BookingSettings(),
                 refused_ledgers: Mapping[str, str] | None = None) -> Ready | Blocked:
    """The FactuurVerstuurd booking for `invoice`, or why it cannot be made yet.

    `refused_ledgers`: PerfectView VAT code -> why its mapped ledger cannot carry turnover
    (`vat_guard.refused_rules`, from the administration's chart)."""
    number = invoice.invoice_number.strip()
    if invoice.problems:
        problem = invoice.problems[0]
        return Blocked("unreadable_field", f"invoice {number}: {problem.message}", problem.hint)
    if not debtor_number:
        return Blocked("no_debtor_number", f"relation of invoice {number} has no Debiteurnummer",
                       "fill in Financieel - Administratie - Debiteurnummer on the relation in PerfectView")
    if not relation_in_eboekhouden:
        return Blocked("relation_unknown", f"relation {debtor_number} is not in e-Boekhouden yet",
                       "it is created by the next relation sync; check the relation's problems if it stays blocked")
    if len(number) > MAX_INVOICE_NUMBER:
        return Blocked("field_too_long", f"invoice number {number[:20]}... is {len(number)} characters long",
                       f"e-Boekhouden allows at most {MAX_INVOICE_NUMBER}; shorten it in PerfectView")
    if invoice.invoice_date is None:
        return Blocked("no_invoice_date", f"invoice {number} has no invoice date",
                       "fill in the invoice date in PerfectView")
    if not invoice.lines:
        return Blocked("no_lines", f"invoice {number} has no invoice lines", "add the lines in PerfectView")

    groups: dict[tuple[str, str, Decimal], list[InvoiceLine]] = defaultdict(list)
    applied: dict[tuple[str, str, Decimal], str] = {}
    for position, line in enumerate(invoice.lines, start=1):
        if not line.vat_id or line.vat_percentage is None:
            return Blocked("line_without_vat", f"line {position} of invoice {number} ({line.description}) has no VAT code",
                           "give every invoice line a VAT code in PerfectView")
        rule = rules.get(line.vat_description)
        if rule is None:
            return Blocked("vat_unmapped",
                           f"PerfectView VAT code '{line.vat_description}' is not mapped for {own_country}",
                           "map it to a BTW-code and grootboekrekening in the VAT mapping screen")
        btw = BTW_CODES.get(rule.btw_code)
        if btw is None or not fits_a_sales_mapping(btw.code):
            side = "unknown" if btw is None else f"a {btw.side.value} code"
            return Blocked("vat_wrong_side",
                           f"'{line.vat_description}' is mapped to BTW-code {rule.btw_code}, which is {side}",
                           "a sales invoice needs a sales BTW-code (…_VERK) or GEEN; correct the VAT mapping")
        if refused_ledgers and line.vat_description in refused_ledgers:
            return ledger_refused(line.vat_description, refused_ledgers[line.vat_description])
        percentage = Decimal(line.vat_percentage)
        if btw.rate is not None and btw.rate != percentage:
            return Blocked("vat_rate_mismatch",
                           f"'{line.vat_description}' is {percentage}% in PerfectView but {rule.btw_code} is {btw.rate}%",
                           "map it to a BTW-code with the same percentage")
        key = (rule.btw_code, rule.ledger, percentage)
        groups[key].append(line)
        applied[key] = line.vat_description

    includes = invoice.amounts_include_vat
    lines = []
    for (btw_code, ledger, percentage), members in groups.items():
        base = sum((line.total_amount for line in members), Decimal(0))
        excl, vat, incl = vat_for(base, percentage, includes_vat=includes)
        lines.append(BookingLine(amount_excl_vat=excl, vat_amount=vat, amount_incl_vat=incl, btw_code=btw_code,
                                 btw_percentage=percentage, ledger=ledger, amount_entered=incl if includes else excl))
    total = sum((line.amount_incl_vat for line in lines), Decimal(0))
    if total == 0:
        return Blocked("zero_total", f"invoice {number} totals {format_euro(total)}: there is nothing to book",
                       "if this is intended, mark it paid by hand in PerfectView; otherwise correct its lines")
    if invoice.total is not None and round_cents(invoice.total) != total:
        return Blocked("amounts_mismatch",
                       f"amounts do not add up: PerfectView's total is {format_euro(invoice.total)}, "
                       f"the booking would total {format_euro(total)}",
                       "check the lines' VAT codes and amounts in PerfectView (rounding per line differs from "
                       "rounding per VAT rate)")

    description = describe(settings.description_template, invoice, relation_name=relation_name,
                           debtor_number=debtor_number)
    if len(description) > MAX_DESCRIPTION:
        return Blocked("field_too_long", f"the description of invoice {number} is {len(description)} characters",
                       f"e-Boekhouden allows at most {MAX_DESCRIPTION}; shorten the description template")
    boekstuk = f"PV {invoice.activity_number}".strip()
    if len(boekstuk) > MAX_BOEKSTUK:
        return Blocked("field_too_long", f"activity number of invoice {number} is too long for Boekstuk",
                       f"e-Boekhouden allows at most {MAX_BOEKSTUK} characters")
    term = payment_term_days(invoice.invoice_date, invoice.due_date)
    if term is not None and not 0 <= term <= MAX_PAYMENT_TERM_DAYS:
        return Blocked("bad_due_date", f"invoice {number} is due {invoice.due_date}, before its date {invoice.invoice_date}",
                       "correct the due date in PerfectView")

    booking = Booking(soort=MutatieSoort.FACTUUR_VERSTUURD, datum=invoice.invoice_date, ledger=settings.debtors_ledger,
                      relation_code=debtor_number, invoice_number=number, boekstuk=boekstuk, description=description,
                      payment_term_days=term, in_ex_vat="IN" if includes else "EX", lines=tuple(lines))
    rules_applied = tuple(AppliedRule(applied[key], key[2], key[0], key[1], len(groups[key])) for key in groups)
    return Ready(booking, rules_applied)


def ledger_refused(perfectview_vat: str, reason: str) -> Blocked:
    """The invoice waits: its VAT code's ledger cannot carry turnover (`vat_guard.refusal`)."""
    return Blocked("vat_ledger_refused", f"'{perfectview_vat}' is mapped to a ledger that cannot carry turnover: "
                                         f"{reason}", "choose a revenue ledger for it in the VAT mapping screen")


def payment_term_days(invoice_date: date, due_date: date | None) -> int | None:
    return None if due_date is None else (due_date - invoice_date).days


def booked_matches(ours: Booking, found: Booking) -> list[str]:
    """Differences between the booking pvsync made and what e-Boekhouden holds (read-back check)."""
    differences = []
    if found.relation_code != ours.relation_code:
        differences.append(f"relation {found.relation_code} instead of {ours.relation_code}")
    if found.datum != ours.datum:
        differences.append(f"date {found.datum} instead of {ours.datum}")
    for label, mine, theirs in (("total incl. VAT", ours.total_incl_vat(), found.total_incl_vat()),
                                ("VAT", ours.total_vat(), found.total_vat())):
        if round_cents(mine) != round_cents(theirs):
            differences.append(f"{label} {format_euro(theirs)} instead of {format_euro(mine)}")
    return differences
