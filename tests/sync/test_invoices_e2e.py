"""End to end over loopback sockets: invoices made in PerfectView, booked by the engine,
and the booked mutations read back from e-Boekhouden (GetMutaties) line by line.

The expected figures are written out by hand: VAT per VAT-rate total, rounded half-up
to cents, one line per (BTW-code, grootboekrekening). Each test runs on both e-Boekhouden APIs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.config import set_vat_rule
from tests.eb_apis import APIS
from tests.sync.invoices_world import DUE_DATE, INVOICE_DATE, InvoiceWorld

D = Decimal
pytestmark = [pytest.mark.loopback, pytest.mark.parametrize("api", APIS)]


def read_back(world: InvoiceWorld, number: str):
    (booking,) = world.read_back(number)
    lines = sorted((l.ledger, l.btw_code, l.amount_excl_vat, l.vat_amount, l.amount_incl_vat) for l in booking.lines)
    return booking, lines


def test_mixed_credit_and_vat_inclusive_invoices_are_booked_as_planned(tmp_path, api):
    with InvoiceWorld(tmp_path, loopback=True, api=api) as world:
        relation = world.customer("D1001", "Bakkerij Jansen")
        mixed = world.invoice(
            relation, "F2026-001",
            ("Arbeid", "1", "37.50", "BTW hoog 21%"), ("Materiaal", "1", "12.50", "BTW hoog 21%"),  # 10.50, not 10.51
            ("Isolatie", "2", "12.25", "BTW laag 9%"),  # 24.50 x 9% = 2.205 -> 2.21 (half-up)
            ("Onderaanneming", "1", "100.00", "BTW verlegd"), ("Advies EU", "1", "250.00", "BTW EU 0%"))
        world.invoice(relation, "F2026-002", ("Creditering", "-1", "2.50", "BTW hoog 21%"))  # -0.525 -> -0.53
        world.invoice(relation, "F2026-003", ("Incl. BTW", "1", "10.00", "BTW hoog 21%"), incl=True)

        report = world.sync()

        assert report.outcome == "ok"
        booking, lines = read_back(world, "F2026-001")
        assert lines == [("8000", "HOOG_VERK_21", D("50.00"), D("10.50"), D("60.50")),
                         ("8010", "LAAG_VERK_9", D("24.50"), D("2.21"), D("26.71")),
                         ("8020", "VERL_VERK", D("100.00"), D("0.00"), D("100.00")),
                         ("8030", "BI_EU_VERK_D", D("250.00"), D("0.00"), D("250.00"))]
        activity_number = world.pv.invoice(mixed).activity_number
        assert (booking.soort.value, booking.relation_code, booking.datum, booking.ledger, booking.in_ex_vat,
                booking.boekstuk, booking.payment_term_days, booking.description) == \
            ("FactuurVerstuurd", "D1001", INVOICE_DATE, "1300", "EX", f"PV {activity_number}",
             (DUE_DATE - INVOICE_DATE).days, "Factuur F2026-001 Bakkerij Jansen")
        assert booking.total_incl_vat() == D("437.21")
        entry = world.entry("F2026-001")
        assert (entry.mutatienummer, entry.total_incl_vat, entry.total_vat) == (booking.number, D("437.21"),
                                                                                D("12.71"))

        _, credit = read_back(world, "F2026-002")
        assert credit == [("8000", "HOOG_VERK_21", D("-2.50"), D("-0.53"), D("-3.03"))]
        including, lines = read_back(world, "F2026-003")
        assert including.in_ex_vat == "IN" and lines == [("8000", "HOOG_VERK_21", D("8.26"), D("1.74"), D("10.00"))]

        open_items = {item.invoice_number: item.outstanding for item in world.eb.open_items("Debiteuren")}
        assert open_items == {"F2026-001": D("437.21"), "F2026-002": D("-3.03"), "F2026-003": D("10.00")}


def test_blocked_reason_end_to_end_then_booked_after_the_mapping_is_fixed(tmp_path, api):
    with InvoiceWorld(tmp_path, loopback=True, api=api) as world:
        world.invoice(world.customer("D1001"), "F-EXPORT", ("Export", "1", "80.00", "BTW 0%"))
        world.sync()
        assert world.read_back("F-EXPORT") == []
        assert "'BTW 0%' is not mapped for NL" in world.entry("F-EXPORT").reason

        set_vat_rule(world.world.config_path, "NL", "BTW 0%", "BU_EU_VERK", "8040")
        world.reload_config()
        world.sync()

        _, lines = read_back(world, "F-EXPORT")
        assert lines == [("8040", "BU_EU_VERK", D("80.00"), D("0.00"), D("80.00"))]


def test_the_answer_lost_on_a_real_socket_is_resolved_without_a_second_booking(tmp_path, api):
    with InvoiceWorld(tmp_path, loopback=True, api=api) as world:
        world.invoice(world.customer("D1001"), "F-LOST", ("Werk", "1", "100.00", "BTW hoog 21%"))
        world.lose_answers("AddMutatie")
        world.sync()
        assert world.entry("F-LOST").state.value == "unknown"

        world.sync()

        (booking,) = world.read_back("F-LOST")
        assert world.entry("F-LOST").mutatienummer == booking.number
        assert world.eb_calls("AddMutatie") == 1
