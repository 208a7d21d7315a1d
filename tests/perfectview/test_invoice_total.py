"""PerfectView's invoice total: kept by the simulator from the product lines, read by the
client into SalesInvoice.total, absent in an older database, unreadable when it is no amount.

The expected totals are worked out by hand: VAT per rate total, rounded half-up to cents."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest

from core.perfectview import sim_database
from core.perfectview.errors import PerfectViewError
from core.perfectview.simulator import PerfectViewSimulator
from core.soap.loopback import LoopbackServer
from core.soap.simulator import Knobs

from tests.perfectview.conftest import connect, organisation

D = Decimal
TOTAL = "Factuur / Totaalbedrag"


def new_invoice(client, *lines, incl: bool = False, number: str = "F2025-0100") -> str:
    relation_id = client.create_relation(organisation(), "Klant", None)
    activity_id = client.create_invoice(relation_id, number, date(2025, 3, 14), amounts_include_vat=incl)
    for quantity, amount, vat in lines:
        client.add_product_line(activity_id, "regel", D(quantity), D(amount), vat)
    return activity_id


def total_field(sim: PerfectViewSimulator) -> dict:
    return next(f for f in sim.db["fields"] if f["Name"] == sim_database.TOTAL_FIELD)


def test_the_total_is_vat_per_rate_total_rounded_half_up(sim, client):
    activity_id = new_invoice(client, ("1", "0.25", "BTW hoog 21%"), ("1", "0.25", "BTW hoog 21%"),
                              ("12.5", "24.75", "BTW laag 9%"), ("3", "62.50", "BTW EU 0%"))
    # 21%: 0.50 + 0.105 -> 0.11 (per line it would be 0.05 + 0.05); 9%: 309.38 + 27.8442 -> 27.84; 0%: 187.50
    assert sim.activity(activity_id)["fields"][TOTAL] == "525.33"
    [invoice] = list(client.sales_invoices())
    assert invoice.total == D("525.33") and isinstance(invoice.total, Decimal) and invoice.problems == ()


def test_a_credit_invoice_totals_negative_rounded_away_from_zero(sim, client):
    activity_id = new_invoice(client, ("-1", "89.00", "BTW hoog 21%"), ("-2", "0.25", "BTW hoog 21%"))
    # -89.50 x 21% = -18.795 -> -18.80
    assert client.invoice(activity_id).total == D("-108.30")


def test_amounts_including_vat_and_the_checkbox_changing(sim, client):
    activity_id = new_invoice(client, ("1", "121.00", "BTW hoog 21%"), ("1", "10.90", "BTW laag 9%"), incl=True)
    assert client.invoice(activity_id).total == D("131.90"), "incl. VAT the total is what the lines say"
    client.update_invoice(activity_id, {"amounts_include_vat": "False"})
    # 121.00 + 25.41 and 10.90 + 0.981 -> 0.98
    assert client.invoice(activity_id).total == D("158.29")


def test_a_total_typed_over_stands_until_the_lines_change(sim, client):
    activity_id = new_invoice(client, ("1", "100.00", "BTW hoog 21%"))
    assert client.invoice(activity_id).total == D("121.00")
    client.update_invoice(activity_id, {"total": "121.01"})  # a person, or an add-in rounding per line
    assert client.invoice(activity_id).total == D("121.01")
    client.add_product_line(activity_id, "nog een regel", D(1), D("10.00"), "BTW hoog 21%")
    assert client.invoice(activity_id).total == D("133.10")


def test_an_invoice_without_lines_totals_zero(sim, client):
    assert client.invoice(new_invoice(client)).total == D("0.00")


def test_the_service_refuses_a_total_that_is_no_number(sim, client):
    activity_id = new_invoice(client, ("1", "100.00", "BTW hoog 21%"))
    with pytest.raises(PerfectViewError) as refused:
        client.update_invoice(activity_id, {"total": "twaalf euro"})
    assert refused.value.code == "FieldValueInvalid" and "'twaalf euro' is not a number" in str(refused.value)
    assert client.invoice(activity_id).total == D("121.00")


@pytest.mark.parametrize("typed, total", [("1.234,56", D("1234.56")), ("  99.5 ", D("99.5"))])
def test_a_total_kept_in_a_text_field_is_read_as_an_amount(sim, typed, total):
    field = total_field(sim)
    field.update(Type="String", Control="TextBox", Length=30)  # a database that keeps the total as text
    client = connect(sim)
    activity_id = new_invoice(client, ("1", "100.00", "BTW hoog 21%"))
    client.update_invoice(activity_id, {"total": typed})
    invoice = client.invoice(activity_id)
    assert (invoice.total, invoice.problems) == (total, ())


def test_a_total_that_is_no_amount_is_a_problem_naming_the_value_and_the_field(sim):
    total_field(sim).update(Type="String", Control="TextBox", Length=30)
    client = connect(sim)
    activity_id = new_invoice(client, ("1", "100.00", "BTW hoog 21%"))
    client.update_invoice(activity_id, {"total": "twaalf euro"})
    invoice = client.invoice(activity_id)
    assert invoice.total is None
    [problem] = invoice.problems
    assert problem.field == "Factuur / Totaalbedrag"
    assert "'twaalf euro' is not an amount" in problem.message and "Factuur / Totaalbedrag" in problem.hint


def test_an_older_database_without_the_field_reads_no_total_and_says_why(sim):
    sim.db["fields"].remove(total_field(sim))
    client = connect(sim)
    activity_id = new_invoice(client, ("1", "100.00", "BTW hoog 21%"))
    invoice = client.invoice(activity_id)
    assert (invoice.total, invoice.problems) == (None, ())
    assert "has no field Factuur / Totaalbedrag" in client.invoice_total_unchecked()
    assert "'Verkoopfactuur'" in client.invoice_total_unchecked()
    assert connect(PerfectViewSimulator(Knobs(seed=12), seed_data="empty")).invoice_total_unchecked() == ""


@pytest.mark.loopback
@pytest.mark.parametrize("soap12", [False, True])
def test_the_total_over_a_real_socket(soap12):
    sim = PerfectViewSimulator(Knobs(seed=23), seed_data="empty")
    with LoopbackServer(sim) as server:
        client = connect(sim, url=server.url(sim.path), transport=httpx.HTTPTransport(), soap12=soap12)
        activity_id = new_invoice(client, ("3", "10.90", "BTW laag 9%"), ("-1", "0.25", "BTW hoog 21%"), incl=True)
        client.move_to_step(activity_id, "Verstuurd")
        [invoice] = list(client.sales_invoices())
        assert invoice.total == D("32.45") and invoice.amounts_include_vat is True
        client.update_invoice(activity_id, {"total": "32.46"})
        assert client.invoice(activity_id).total == D("32.46")
        client.close()
