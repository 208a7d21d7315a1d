"""Invoice -> booking: the rounding table, every blocked reason, and the line layout."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest

from core.model import InvoiceLine, MutatieSoort, Problem, SalesInvoice, VatRule
from core.sync.booking import BookingSettings, Blocked, Ready, plan_booking, vat_for

VAT = {  # PerfectView VAT description -> (percentage, id)
    "BTW hoog 21%": (21, "v21"), "BTW laag 9%": (9, "v9"), "BTW 0%": (0, "v0"),
    "BTW verlegd": (0, "vrl"), "BTW EU": (0, "veu"), "Export": (0, "vex"), "BTW oud 19%": (19, "v19"),
}
RULES = {
    "BTW hoog 21%": VatRule("BTW hoog 21%", "HOOG_VERK_21", "8000"),
    "BTW laag 9%": VatRule("BTW laag 9%", "LAAG_VERK_9", "8010"),
    "BTW 0%": VatRule("BTW 0%", "BU_EU_VERK", "8020"),
    "BTW verlegd": VatRule("BTW verlegd", "VERL_VERK", "8020"),
    "BTW EU": VatRule("BTW EU", "BI_EU_VERK", "8030"),
    "Export": VatRule("Export", "BU_EU_VERK", "8040"),
}


def line(total: str, vat: str | None = "BTW hoog 21%", description: str = "werk") -> InvoiceLine:
    pct, vat_id = VAT[vat] if vat else (None, None)
    return InvoiceLine(description=description, quantity=D(1), amount=D(total), total_amount=D(total),
                       vat_id=vat_id, vat_description=vat or "", vat_percentage=None if pct is None else D(pct))


def invoice(*lines: InvoiceLine, total: str | None = None, incl: bool = False, number: str = "F2026-001") -> SalesInvoice:
    return SalesInvoice(activity_id="a1", activity_number="1042", invoice_number=number, relation_id="r1",
                        invoice_date=date(2026, 11, 2), due_date=date(2026, 11, 16), step="Verstuurd",
                        lines=tuple(lines), total=None if total is None else D(total), amounts_include_vat=incl)


def plan(inv: SalesInvoice, rules=RULES, **kw):
    args = dict(debtor_number="D10001", relation_name="Bakkerij Jansen", relation_in_eboekhouden=True,
                rules=rules, own_country="NL")
    args.update(kw)
    return plan_booking(inv, **args)


@pytest.mark.parametrize("base, pct, incl, expected", [
    # excluding VAT: VAT = round_half_up(excl x rate) per rate total
    ("50.00", 21, False, ("50.00", "10.50", "60.50")),
    ("2.50", 21, False, ("2.50", "0.53", "3.03")),        # 0.525 -> 0.53 (half-even would give 0.52)
    ("0.50", 9, False, ("0.50", "0.05", "0.55")),         # 0.045 -> 0.05
    ("95.83", 21, False, ("95.83", "20.12", "115.95")),   # 20.1243 -> 20.12
    ("-2.50", 21, False, ("-2.50", "-0.53", "-3.03")),    # credit: half away from zero
    ("100.00", 0, False, ("100.00", "0.00", "100.00")),
    # including VAT: excl = round(incl / (1 + rate)), VAT is the remainder
    ("121.00", 21, True, ("100.00", "21.00", "121.00")),
    ("10.00", 21, True, ("8.26", "1.74", "10.00")),
    ("10.90", 9, True, ("10.00", "0.90", "10.90")),
    ("-10.00", 21, True, ("-8.26", "-1.74", "-10.00")),
])
def test_rounding_table(base, pct, incl, expected):
    assert vat_for(D(base), D(pct), includes_vat=incl) == tuple(D(x) for x in expected)


def test_vat_is_rounded_per_rate_total_not_per_line():
    # Per line: 37.50 -> 7.875 -> 7.88 and 12.50 -> 2.625 -> 2.63, total 10.51. Per rate: 10.50.
    result = plan(invoice(line("37.50"), line("12.50"), total="60.50"))
    assert isinstance(result, Ready)
    (only,) = result.booking.lines
    assert (only.amount_excl_vat, only.vat_amount, only.amount_incl_vat) == (D("50.00"), D("10.50"), D("60.50"))


def test_crm_total_rounded_per_line_blocks_with_both_figures():
    result = plan(invoice(line("37.50"), line("12.50"), total="60.51"))
    assert isinstance(result, Blocked) and result.code == "amounts_mismatch"
    assert "€ 60,51" in result.reason and "€ 60,50" in result.reason


def test_mixed_rates_give_one_line_per_btw_code_and_ledger():
    inv = invoice(line("100.00"), line("50.00", "BTW laag 9%"), line("20.00", "BTW 0%"), line("300.00", "BTW verlegd"),
                  line("40.00", "BTW EU"), line("10.00", "BTW hoog 21%"), total="547.60")
    result = plan(inv)
    assert isinstance(result, Ready), result
    got = {(l.btw_code, l.ledger): (l.amount_excl_vat, l.vat_amount, l.amount_incl_vat) for l in result.booking.lines}
    assert got == {
        ("HOOG_VERK_21", "8000"): (D("110.00"), D("23.10"), D("133.10")),
        ("LAAG_VERK_9", "8010"): (D("50.00"), D("4.50"), D("54.50")),
        ("BU_EU_VERK", "8020"): (D("20.00"), D("0.00"), D("20.00")),
        ("VERL_VERK", "8020"): (D("300.00"), D("0.00"), D("300.00")),
        ("BI_EU_VERK", "8030"): (D("40.00"), D("0.00"), D("40.00")),
    }
    booking = result.booking
    assert booking.soort is MutatieSoort.FACTUUR_VERSTUURD and booking.ledger == "1300"
    assert booking.relation_code == "D10001" and booking.invoice_number == "F2026-001"
    assert booking.boekstuk == "PV 1042" and booking.payment_term_days == 14 and booking.in_ex_vat == "EX"
    assert booking.description == "Factuur F2026-001 Bakkerij Jansen"
    assert booking.total_incl_vat() == D("547.60")


def test_amounts_including_vat_are_booked_as_IN():
    result = plan(invoice(line("121.00"), line("10.90", "BTW laag 9%"), incl=True, total="131.90"))
    assert isinstance(result, Ready)
    assert result.booking.in_ex_vat == "IN"
    assert [l.amount_entered for l in result.booking.lines] == [D("121.00"), D("10.90")]
    assert result.booking.total_vat() == D("21.90")


def test_credit_invoice_is_booked_negative():
    result = plan(invoice(line("-37.50"), line("-12.50"), total="-60.50", number="C2026-001"))
    assert isinstance(result, Ready)
    assert result.booking.total_incl_vat() == D("-60.50") and result.booking.total_vat() == D("-10.50")


@pytest.mark.parametrize("inv, kw, code, words", [
    (invoice(line("10.00", "BTW oud 19%")), {}, "vat_unmapped", "'BTW oud 19%' is not mapped for NL"),
    (invoice(line("10.00", None)), {}, "line_without_vat", "has no VAT code"),
    (invoice(line("10.00")), {"debtor_number": ""}, "no_debtor_number", "no Debiteurnummer"),
    (invoice(line("10.00")), {"relation_in_eboekhouden": False}, "relation_unknown", "not in e-Boekhouden yet"),
    (invoice(line("10.00"), number="F" * 51), {}, "field_too_long", "at most 50"),
    (invoice(line("10.00"), line("-10.00")), {}, "zero_total", "nothing to book"),
    (invoice(), {}, "no_lines", "no invoice lines"),
    (invoice(line("10.00")), {"rules": {**RULES, "BTW hoog 21%": VatRule("BTW hoog 21%", "HOOG_INK_21", "8000")}},
     "vat_wrong_side", "purchase code"),
    (invoice(line("10.00")), {"rules": {**RULES, "BTW hoog 21%": VatRule("BTW hoog 21%", "LAAG_VERK_9", "8000")}},
     "vat_rate_mismatch", "21% in PerfectView but LAAG_VERK_9 is 9%"),
    (invoice(line("10.00", "BTW verlegd")), {"rules": {**RULES, "BTW verlegd": VatRule("BTW verlegd", "NOPE", "8000")}},
     "vat_wrong_side", "unknown"),
    (invoice(line("10.00")), {"settings": BookingSettings(description_template="{relation_name}" * 30)},
     "field_too_long", "at most 200"),
    (replace(invoice(line("10.00")), problems=(Problem("Factuur / Totaalbedrag", "the total 'x' is not an amount",
                                                       "correct it in PerfectView"),)),
     {}, "unreadable_field", "invoice F2026-001: the total 'x' is not an amount — correct it in PerfectView"),
])
def test_blocked_reasons_name_the_cause_and_the_way_out(inv, kw, code, words):
    result = plan(inv, **kw)
    assert isinstance(result, Blocked), result
    assert result.code == code
    assert words in str(result)
    assert result.way_out


def test_fixing_the_mapping_makes_a_blocked_invoice_ready():
    inv = invoice(line("10.00", "BTW oud 19%"))
    assert isinstance(plan(inv), Blocked)
    fixed = {**RULES, "BTW oud 19%": VatRule("BTW oud 19%", "AFW_VERK", "8000")}
    result = plan(inv, rules=fixed)
    assert isinstance(result, Ready)
    assert result.booking.lines[0].vat_amount == D("1.90")
