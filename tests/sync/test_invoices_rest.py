"""The invoices job over e-Boekhouden's REST API (the REST simulator in-process): booked exactly once,
an answer lost on the wire looked up and linked, and an invoice number e-Boekhouden already has
(MUT_019) looked up, compared and linked, never booked under a new number."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.eboekhouden.simulated_service import EboekhoudenService
from core.model import Booking, BookingLine, MutatieSoort
from core.soap.simulator import SimulatedDisconnect
from core.sync.invoice_states import InvoiceState as S
from tests.sync.invoices_world import INVOICE_DATE, InvoiceWorld

HIGH = ("Onderhoud", "1", "100.00", "BTW hoog 21%")


@pytest.fixture
def world(tmp_path):
    with InvoiceWorld(tmp_path, api="rest") as w:
        assert isinstance(w.world.eboekhouden_service, EboekhoudenService)
        yield w


def rest_calls(world: InvoiceWorld, call: str) -> int:
    return world.world.eboekhouden_service.rest.calls[call]


def lose_next_booking_answer(world: InvoiceWorld) -> None:
    """The next POST /v1/mutation is booked and committed, then the connection drops before the answer."""
    rest = world.world.eboekhouden_service.rest
    (index,) = [i for i, route in enumerate(rest.routes) if (route[0], route[2]) == ("POST", "/v1/mutation")]
    route = rest.routes[index]

    def lost(*args, **kw):
        rest.routes[index] = route  # once
        route[3](*args, **kw)
        raise SimulatedDisconnect(committed=True)

    rest.routes[index] = (*route[:3], lost)


def test_a_sent_invoice_is_booked_once_over_rest(world):
    world.invoice(world.customer("D1001"), "F-1", HIGH)
    report = world.sync()
    assert report.outcome == "ok"
    (booking,) = world.booked("F-1")
    assert (booking.relation_code, booking.ledger, booking.datum) == ("D1001", "1300", INVOICE_DATE)
    assert booking.total_incl_vat() == Decimal("121.00")
    entry = world.entry("F-1")
    assert entry.state is S.BOOKED and entry.mutatienummer == booking.number
    world.sync()
    assert rest_calls(world, "POST /v1/mutation") == 1 and len(world.booked("F-1")) == 1


def test_a_lost_answer_is_looked_up_and_linked_not_sent_again(world):
    world.invoice(world.customer("D1001"), "F-1", HIGH)
    lose_next_booking_answer(world)
    assert world.sync().outcome == "partial"
    assert world.entry("F-1").state is S.UNKNOWN and len(world.booked("F-1")) == 1
    world.sync()
    entry = world.entry("F-1")
    assert entry.state is S.BOOKED and entry.mutatienummer == world.booked("F-1")[0].number
    assert rest_calls(world, "POST /v1/mutation") == 1


def test_an_invoice_number_e_boekhouden_has_is_linked_on_mut_019(world):
    world.invoice(world.customer("D1001"), "F-7", HIGH)
    by_hand = Booking(MutatieSoort.FACTUUR_VERSTUURD, INVOICE_DATE, "1300", relation_code="D1001",
                      invoice_number="F-7", description="Geboekt met de hand", in_ex_vat="EX",
                      lines=(BookingLine(Decimal("100.00"), Decimal("21.00"), Decimal("121.00"), "HOOG_VERK_21",
                                         Decimal("21"), "8000"),))
    number = world.eb.add_booking(by_hand)
    world.sync()
    entry = world.entry("F-7")
    assert entry.state is S.BOOKED and entry.mutatienummer == number and entry.linked
    assert len(world.booked("F-7")) == 1
    # pvsync sent it, e-Boekhouden refused the number (MUT_019/MUT_020), pvsync looked it up and linked it.
    assert rest_calls(world, "POST /v1/mutation") == 2
    assert any("linked, not booked again" in m and ("MUT_019" in m or "MUT_020" in m) and "traceId" in m
               for m in world.messages()), world.messages()
