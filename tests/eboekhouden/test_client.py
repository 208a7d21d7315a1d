"""The client against the simulator, in-process: sessions, typed errors, retries, budgets,
refusals before sending, and translation of money and dates both ways."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from core.eboekhouden.soap.client import EboekhoudenClient
from core.eboekhouden.errors import SERVICE, EboekhoudenError, InvalidForEboekhouden, SessionLost
from core.eboekhouden.soap.simulator import EboekhoudenSimulator, SimCredentials
from core.model import Booking, BookingLine, EbRelation, MutatieSoort
from core.secrets import Secret
from core.soap.caller import current_month
from core.soap.errors import BudgetExhausted, RequestInvalid, ResponseInvalid, TransportFailure
from core.soap.simulator import Knobs

from .conftest import client_for


def sales_invoice(number: str, relation: str = "D10001", excl: str = "100.00") -> Booking:
    amount = Decimal(excl)
    vat = (amount * Decimal("0.21")).quantize(Decimal("0.01"))
    return Booking(soort=MutatieSoort.FACTUUR_VERSTUURD, datum=date(2025, 3, 14), ledger="1300",
                   relation_code=relation, invoice_number=number, boekstuk=f"PV {number}",
                   description=f"Factuur {number}", payment_term_days=14, in_ex_vat="EX",
                   lines=(BookingLine(amount_excl_vat=amount, vat_amount=vat, amount_incl_vat=amount + vat,
                                      btw_code="HOOG_VERK_21", btw_percentage=Decimal(21), ledger="8000"),))


def payment(invoice: Booking, amount: str) -> Booking:
    money = Decimal(amount)
    return Booking(soort=MutatieSoort.FACTUURBETALING_ONTVANGEN, datum=date(2025, 4, 1), ledger="1010",
                   relation_code=invoice.relation_code, invoice_number=invoice.invoice_number,
                   description="Betaling", lines=(BookingLine(amount_excl_vat=money, vat_amount=Decimal("0.00"),
                                                              amount_incl_vat=money, btw_code="GEEN",
                                                              btw_percentage=Decimal(0), ledger="1300"),))


# --------------------------------------------------------------------------- reading and translating


def test_demo_administration_reads_back_typed(client):
    relations = client.relations()
    assert len(relations) == 30 and {r.bp for r in relations} == {"B", "P"}
    assert all(isinstance(r.add_datum, date) for r in relations)
    debtors = client.ledgers(code="1300")
    assert [(g.code, g.category) for g in debtors] == [("1300", "DEB")]
    assert {g.code for g in client.ledgers(category="VW")} >= {"8000", "8010", "8020", "8030", "8040"}
    items = client.open_items()
    partly = [i for i in items if Decimal(0) < i.paid < i.amount]
    assert len(partly) == 1 and partly[0].outstanding == partly[0].amount - partly[0].paid
    assert all(isinstance(i.amount, Decimal) and i.amount.as_tuple().exponent == -2 for i in items)


def test_relation_lookup_by_code_is_exact_and_missing_is_none(client):
    assert client.relation("D10001").code == "D10001"
    assert client.relation("D1000") is None
    assert client.relations(code="NOPE") == []  # the simulator leaves the empty wrapper out


def test_booking_round_trip_keeps_decimals_and_the_calendar_date(client, sim):
    number = client.add_booking(sales_invoice("2025-9001", excl="1234.56"))
    [found] = client.bookings(invoice_number="2025-9001", purpose="exactly_once")
    assert found.number == number and found.datum == date(2025, 3, 14)
    assert found.total_incl_vat() == Decimal("1493.82") and found.lines[0].invoice_number == "2025-9001"
    assert found.payment_term_days == 14 and found.relation_code == "D10001"
    assert sim.booking(number).lines[0].amount_excl_vat == Decimal("1234.56")


def test_a_payment_sent_through_the_api_reduces_the_open_item(client, sim):
    invoice = sales_invoice("2025-9002", relation="D10002")
    client.add_booking(invoice)
    client.add_booking(payment(invoice, "21.00"))
    [item] = [i for i in client.open_items() if i.invoice_number == "2025-9002"]
    assert (item.amount, item.paid, item.outstanding) == (Decimal("121.00"), Decimal("21.00"), Decimal("100.00"))
    client.add_booking(payment(invoice, "100.00"))
    assert "2025-9002" not in {i.invoice_number for i in client.open_items()}
    assert sim.open_item("2025-9002") == (Decimal("121.00"), Decimal("121.00"), Decimal("0.00"))


def test_update_replaces_the_whole_record(client):
    current = client.relation("D10001")
    client.update_relation(current.with_changes(plaats="Zeist", email=""))
    after = client.relation("D10001")
    assert after.plaats == "Zeist" and after.email == "" and after.bedrijf == current.bedrijf


# --------------------------------------------------------------------------- sessions


def test_one_session_per_run_closed_even_when_the_run_fails(sim):
    client = client_for(sim)
    with pytest.raises(ZeroDivisionError):
        with client:
            client.relations()
            with client.session():  # nested use shares the session
                client.ledgers()
            1 / 0
    assert sim.calls["OpenSession"] == 1 and sim.calls["CloseSession"] == 1
    assert sim.sessions == {}


def test_calls_outside_a_session_are_refused_without_sending(sim):
    with pytest.raises(RuntimeError, match="open session"):
        client_for(sim).relations()
    assert sum(sim.calls.values()) == 0


def test_wrong_credentials_are_a_typed_error_at_open(sim):
    wrong = SimCredentials(security_code_1="0" * 32)
    with pytest.raises(EboekhoudenError) as err:
        with client_for(sim, credentials=wrong):
            pass
    assert err.value.code == "SIM_LOGIN_FAILED" and "security codes" in str(err.value)
    assert sim.calls["CloseSession"] == 0


def test_wrong_security_code_2_on_a_call_is_refused_in_band(sim):
    client = client_for(sim)
    with client:
        client._code2 = Secret("00000000-0000-0000-0000-000000000000")
        with pytest.raises(EboekhoudenError) as err:
            client.ledgers()
    assert err.value.code == "SIM_SECURITYCODE2" and not isinstance(err.value, SessionLost)


def test_an_expired_session_is_reopened_once_transparently():
    now = [1_000_000.0]
    sim = EboekhoudenSimulator(session_ttl_seconds=60, clock=lambda: now[0])
    with client_for(sim) as client:
        client.relations()
        now[0] += 61
        assert client.relation("D10001") is not None
    assert sim.calls["OpenSession"] == 2
    assert "SIM_SESSION_EXPIRED" in " ".join(sim.events)


def test_a_session_that_stays_lost_raises_after_one_reopen():
    sim = EboekhoudenSimulator(Knobs(faults={"session": 1.0}, seed=1))
    with client_for(sim) as client:
        with pytest.raises(SessionLost) as err:
            client.add_booking(sales_invoice("2025-9003"))
    assert sim.calls["OpenSession"] == 2 and sim.calls["AddMutatie"] == 2
    assert sim.bookings_for_invoice("2025-9003") == [], "a session error means nothing was booked"
    assert "AddMutatie" in str(err.value) and "invoice 2025-9003" in str(err.value)


# --------------------------------------------------------------------------- errors and refusals


def test_in_band_errors_carry_code_description_operation_and_record(client):
    with pytest.raises(EboekhoudenError) as err:
        client.add_relation(client.relation("D10001"))
    assert err.value.code == "SIM_REL_CODE_EXISTS"
    assert "AddRelatie" in str(err.value) and "relation D10001" in str(err.value)


def test_records_breaking_the_limits_are_never_sent(client, sim):
    with pytest.raises(InvalidForEboekhouden) as err:
        client.add_relation(EbRelation(code="D10099", bedrijf="x" * 101))
    assert isinstance(err.value, RequestInvalid) and "Bedrijf is 101 characters" in str(err.value)
    with pytest.raises(InvalidForEboekhouden):
        client.add_booking(replace(sales_invoice("F" * 51)))
    with pytest.raises(InvalidForEboekhouden, match="ID"):
        client.update_relation(EbRelation(code="D10001", bedrijf="Zonder ID"))
    with pytest.raises(InvalidForEboekhouden, match="OpSoort"):
        client.open_items("Debiteur")  # zeep would not catch a bad enumeration value
    assert sim.calls["AddRelatie"] == sim.calls["AddMutatie"] == sim.calls["UpdateRelatie"] == 0
    assert sim.calls["GetOpenPosten"] == 0


def test_duplicate_invoice_for_the_same_relation_is_refused_but_another_relation_may_reuse_it(client):
    client.add_booking(sales_invoice("2025-9004", relation="D10003"))
    with pytest.raises(EboekhoudenError) as err:
        client.add_booking(sales_invoice("2025-9004", relation="D10003"))
    assert err.value.code == "SIM_MUT_INVOICE_EXISTS" and "invoice 2025-9004" in str(err.value)
    assert client.add_booking(sales_invoice("2025-9004", relation="D10004")) > 0


# --------------------------------------------------------------------------- transport trouble


def test_a_lost_answer_to_a_write_is_unknown_and_never_retried(sim):
    with client_for(sim) as client:
        sim.knobs.faults = {"lost": 1.0}
        with pytest.raises(TransportFailure) as err:
            client.add_booking(sales_invoice("2025-9005"))
        assert err.value.maybe_processed and "invoice 2025-9005" in str(err.value)
        assert sim.calls["AddMutatie"] == 1
        sim.knobs.faults = {}
        # the caller reconciles: the booking landed
        assert [b.invoice_number for b in client.bookings(invoice_number="2025-9005", purpose="exactly_once")] \
            == ["2025-9005"]


def test_a_malformed_answer_to_a_write_is_response_invalid(sim):
    with client_for(sim) as client:
        sim.knobs.faults = {"malformed": 1.0}
        with pytest.raises(ResponseInvalid):
            client.add_relation(EbRelation(code="D10098", bedrijf="Nieuw B.V."))
        sim.knobs.faults = {}
    assert sim.calls["AddRelatie"] == 1 and sim.relation_by_code("D10098") is not None


def test_reads_are_retried_through_server_errors():
    sim = EboekhoudenSimulator(Knobs(seed=5))
    with client_for(sim) as client:
        sim.knobs.faults = {"http500": 0.4}
        results = [len(client.ledgers()) for _ in range(10)]
        sim.knobs.faults = {}
    assert set(results) == {len(sim.ledgers)}
    assert client.caller.meter.count(SERVICE, "GetGrootboekrekeningen") > 10


def test_calls_are_counted_per_operation_in_the_meter(sim):
    with client_for(sim) as client:
        client.relations()
        client.relations()
        client.open_items()
    meter = client.caller.meter
    assert [meter.count(SERVICE, op) for op in ("OpenSession", "GetRelaties", "GetOpenPosten", "CloseSession")] \
        == [1, 2, 1, 1]


# --------------------------------------------------------------------------- the GetMutaties budget


def spent(client: EboekhoudenClient, calls: int) -> None:
    client.caller.meter.monthly[(SERVICE, "GetMutaties", current_month())] = calls


def test_budget_warns_once_at_80_percent(sim, caplog):
    with client_for(sim, mutaties_budget=100) as client:
        spent(client, 79)
        with caplog.at_level(logging.WARNING):
            client.bookings(number=1, purpose="other")
            assert not [r for r in caplog.records if "GetMutaties" in r.getMessage()]
            client.bookings(number=1, purpose="other")
            client.bookings(number=1, purpose="other")
        warnings = [r for r in caplog.records if "80 of 100" in r.getMessage()]
        assert len(warnings) == 1
        assert client.mutaties_budget_status() == (82, 100)


def test_the_last_ten_percent_is_kept_for_exactly_once_lookups(sim):
    with client_for(sim, mutaties_budget=100) as client:
        spent(client, 90)
        with pytest.raises(BudgetExhausted, match="kept for checking"):
            client.bookings(date_from=date(2025, 1, 1), purpose="other")
        assert sim.calls["GetMutaties"] == 0
        assert client.bookings(invoice_number="2025-9999", purpose="exactly_once") == []
        spent(client, 100)
        with pytest.raises(BudgetExhausted, match="spent"):
            client.bookings(invoice_number="2025-9999", purpose="exactly_once")
    assert sim.calls["GetMutaties"] == 1


def test_the_simulator_refuses_get_mutaties_past_its_monthly_cap():
    sim = EboekhoudenSimulator(mutaties_monthly_cap=2)
    with client_for(sim) as client:
        client.bookings(number=1, purpose="other")
        client.bookings(number=1, purpose="other")
        with pytest.raises(EboekhoudenError) as err:
            client.bookings(number=1, purpose="exactly_once")
    assert err.value.code == "SIM_MUT_MONTHLY_CAP"


def test_soap_12_binding_works_too(sim):
    with client_for(sim, soap12=True) as client:
        assert client.relation("D10002").code == "D10002"
        assert client.add_relation(EbRelation(code="D10097", bedrijf="Via SOAP 1.2 B.V.")) > 0


def test_endpoints_must_be_https_except_on_loopback(sim):
    with pytest.raises(ValueError, match="https"):
        client_for(sim, url="http://soap.e-boekhouden.nl/soap.asmx")
    with pytest.raises(TypeError, match="Secret"):
        EboekhoudenClient("https://soap.e-boekhouden.nl/soap.asmx", "user", Secret("a" * 32), Secret("b" * 8))
