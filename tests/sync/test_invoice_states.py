"""The invoice journal's allowed moves and what a lookup by Factuurnummer means."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest

from core.model import Booking, BookingLine, MutatieSoort
from core.sync.invoice_states import (ALLOWED, AlreadyBooked, Ambiguous, IllegalTransition, InvoiceState, NotBooked,
                                      check_transition, interpret_lookup)

S = InvoiceState
PLANNED = Booking(MutatieSoort.FACTUUR_VERSTUURD, date(2026, 11, 2), "1300", relation_code="D1", invoice_number="F1",
                  boekstuk="PV 1042", lines=(BookingLine(D("100"), D("21"), D("121"), "HOOG_VERK_21", D(21), "8000"),))


@pytest.mark.parametrize("old, new", [
    (S.SEEN, S.READY), (S.READY, S.BOOKING), (S.BOOKING, S.BOOKED), (S.BOOKING, S.UNKNOWN),
    (S.UNKNOWN, S.BOOKED), (S.UNKNOWN, S.READY), (S.BLOCKED, S.READY), (S.READY, S.BLOCKED), (S.BOOKED, S.PAID),
])
def test_allowed_moves(old, new):
    check_transition("F1", old, new)


@pytest.mark.parametrize("old, new", [
    (S.SEEN, S.BOOKING),     # never send without passing ready (all checks)
    (S.UNKNOWN, S.BOOKING),  # never send again before a lookup
    (S.BOOKED, S.READY),     # a booked invoice is never booked again
    (S.BOOKED, S.BOOKING), (S.PAID, S.BOOKED), (S.BLOCKED, S.BOOKING),
])
def test_forbidden_moves_raise(old, new):
    with pytest.raises(IllegalTransition, match="F1"):
        check_transition("F1", old, new)


def test_every_state_has_a_rule():
    assert set(ALLOWED) == set(InvoiceState)


def test_lookup_finds_nothing():
    assert interpret_lookup(PLANNED, []) == NotBooked()
    other_relation = replace(PLANNED, relation_code="D2", number=5)
    assert interpret_lookup(PLANNED, [other_relation]) == NotBooked()


def test_lookup_finds_our_booking():
    outcome = interpret_lookup(PLANNED, [replace(PLANNED, number=77)])
    assert outcome == AlreadyBooked(77, (), ours=True)


def test_lookup_finds_a_hand_made_booking_with_other_amounts():
    by_hand = replace(PLANNED, number=78, boekstuk="",
                      lines=(BookingLine(D("100"), D("20"), D("120"), "HOOG_VERK_21", D(21), "8000"),))
    outcome = interpret_lookup(PLANNED, [by_hand])
    assert isinstance(outcome, AlreadyBooked) and not outcome.ours
    assert outcome.differences == ("total incl. VAT € 120,00 instead of € 121,00", "VAT € 20,00 instead of € 21,00")


def test_two_bookings_for_one_invoice_need_a_person():
    outcome = interpret_lookup(PLANNED, [replace(PLANNED, number=1), replace(PLANNED, number=2)])
    assert isinstance(outcome, Ambiguous) and "2 times" in outcome.reason
