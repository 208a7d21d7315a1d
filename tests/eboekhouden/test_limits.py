"""e-Boekhouden's limits as pure checks: each one refuses the value that breaks it, names the
field and its limit, and never proposes to truncate."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from core.eboekhouden.limits import booking_problems, relation_problems
from core.model import Booking, BookingLine, EbRelation, MutatieSoort

GOOD_RELATION = EbRelation(code="D10001", bedrijf="Bakkerij Jansen B.V.", bp="B", geslacht="m", plaats="Utrecht")
GOOD_LINE = BookingLine(amount_excl_vat=Decimal("100.00"), vat_amount=Decimal("21.00"),
                        amount_incl_vat=Decimal("121.00"), btw_code="HOOG_VERK_21", btw_percentage=Decimal(21),
                        ledger="8000")
GOOD_INVOICE = Booking(soort=MutatieSoort.FACTUUR_VERSTUURD, datum=date(2025, 3, 1), ledger="1300",
                       relation_code="D10001", invoice_number="2025-0001", description="Factuur 2025-0001",
                       payment_term_days=30, lines=(GOOD_LINE,))


def fields_of(problems) -> list[str]:
    return [p.field for p in problems]


def test_valid_records_have_no_problems():
    assert relation_problems(GOOD_RELATION) == []
    assert booking_problems(GOOD_INVOICE) == []


def test_too_long_names_the_field_and_its_limit():
    problems = relation_problems(GOOD_RELATION.with_changes(bedrijf="x" * 123))
    assert [str(p.message) for p in problems] == ["Bedrijf is 123 characters; e-Boekhouden allows at most 100"]
    assert "truncate" in problems[0].hint and "shorten" in problems[0].hint


@pytest.mark.parametrize("attr, name, limit", [
    ("code", "Code", 15), ("bedrijf", "Bedrijf", 100), ("contactpersoon", "Contactpersoon", 150),
    ("adres", "Adres", 150), ("postcode", "Postcode", 50), ("email", "Email", 150), ("iban", "IBAN", 50),
    ("def3", "Def3", 100), ("kvk_nummer", "KvkNummer", 50),
])
def test_every_relation_length_bites_one_past_the_limit(attr, name, limit):
    assert relation_problems(GOOD_RELATION.with_changes(**{attr: "A" * limit})) == []
    assert fields_of(relation_problems(GOOD_RELATION.with_changes(**{attr: "A" * (limit + 1)}))) == [name]


@pytest.mark.parametrize("changes, field", [
    ({"bp": "X"}, "BP"), ({"bp": ""}, "BP"), ({"geslacht": "x"}, "Geslacht"), ({"geslacht": "M"}, "Geslacht"),
    ({"la": "2"}, "LA"), ({"code": ""}, "Code"), ({"bedrijf": "  "}, "Bedrijf"),
    ({"plaats": "Utrecht\x01"}, "Plaats"), ({"geen_email": 2}, "GeenEmail"),
])
def test_relation_values_outside_the_public_sets_are_refused(changes, field):
    assert field in fields_of(relation_problems(GOOD_RELATION.with_changes(**changes)))


@pytest.mark.parametrize("value", ["m", "v", "a", ""])
def test_every_documented_geslacht_is_accepted(value):
    assert relation_problems(GOOD_RELATION.with_changes(geslacht=value)) == []


@pytest.mark.parametrize("changes, field", [
    ({"invoice_number": "F" * 51}, "Factuurnummer"), ({"description": "d" * 201}, "Omschrijving"),
    ({"boekstuk": "b" * 51}, "Boekstuk"), ({"ledger": "13000000000"}, "Rekening"), ({"ledger": ""}, "Rekening"),
    ({"relation_code": "D" * 16}, "RelatieCode"), ({"relation_code": ""}, "RelatieCode"),
    ({"invoice_number": ""}, "Factuurnummer"), ({"in_ex_vat": "INCL"}, "InExBTW"),
    ({"payment_term_days": 10000}, "Betalingstermijn"), ({"payment_term_days": -1}, "Betalingstermijn"),
    ({"datum": date(1979, 12, 31)}, "Datum"), ({"datum": date(2050, 1, 1)}, "Datum"),
    ({"payment_reference": "k" * 51}, "Betalingskenmerk"), ({"lines": ()}, "MutatieRegels"),
])
def test_booking_header_limits_bite(changes, field):
    assert field in fields_of(booking_problems(replace(GOOD_INVOICE, **changes)))


@pytest.mark.parametrize("line_changes, field", [
    ({"btw_code": "HOOG_VERK_22"}, "line 1 BTWCode"),
    ({"btw_code": "HOOG_INK_21"}, "line 1 BTWCode"),  # a purchase code on a sales invoice
    ({"btw_percentage": Decimal(9)}, "line 1 BTWPercentage"),
    ({"ledger": "80000000000"}, "line 1 TegenrekeningCode"),
    ({"ledger": ""}, "line 1 TegenrekeningCode"),
    ({"amount_incl_vat": Decimal("121.01")}, "line 1 BedragInclBTW"),
    ({"amount_excl_vat": Decimal("100.001"), "amount_incl_vat": Decimal("121.001")}, "line 1 BedragExclBTW"),
])
def test_booking_line_limits_bite(line_changes, field):
    booking = replace(GOOD_INVOICE, lines=(replace(GOOD_LINE, **line_changes),))
    assert field in fields_of(booking_problems(booking))


def test_sales_codes_belong_to_sales_bookings_and_payments_take_geen():
    purchase = replace(GOOD_INVOICE, soort=MutatieSoort.FACTUUR_ONTVANGEN, ledger="1600")
    assert "line 1 BTWCode" in fields_of(booking_problems(purchase))
    assert booking_problems(replace(purchase, lines=(replace(GOOD_LINE, btw_code="HOOG_INK_21"),))) == []
    payment_line = BookingLine(amount_excl_vat=Decimal("121.00"), vat_amount=Decimal(0),
                               amount_incl_vat=Decimal("121.00"), btw_code="GEEN", btw_percentage=Decimal(0),
                               ledger="1300")
    payment = replace(GOOD_INVOICE, soort=MutatieSoort.FACTUURBETALING_ONTVANGEN, ledger="1010",
                      lines=(payment_line,))
    assert booking_problems(payment) == []
    assert "line 1 BTWCode" in fields_of(booking_problems(replace(payment, lines=(GOOD_LINE,))))


def test_all_problems_are_reported_at_once():
    bad = replace(GOOD_INVOICE, invoice_number="F" * 60, description="d" * 300, in_ex_vat="")
    assert {"Factuurnummer", "Omschrijving", "InExBTW"} <= set(fields_of(booking_problems(bad)))
