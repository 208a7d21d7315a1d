"""The open items reconciliation: its three lists, against both simulators."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal


from core.model import Booking, BookingLine, MutatieSoort
from core.sync.open_items_report import open_items_report
from tests.eb_apis import eb_calls
from tests.sync.test_payments import TODAY, books  # noqa: F401  (the fixture)

D = Decimal


def report_of(books):
    """The report, with the e-Boekhouden calls it made in SOAP's names (on either API)."""
    operations = ("GetOpenPosten", "GetMutaties")
    before = {op: eb_calls(books.world, op) for op in operations}
    report = open_items_report(books.store, books.eb, books.pv, books.world.config())
    books.calls = {op: eb_calls(books.world, op) - before[op] for op in operations}
    return report


def test_the_report_lists_the_three_kinds_of_disagreement_and_nothing_else(books):
    settled = books.booked_invoice("F-1", "100.00")  # paid in e-Boekhouden, still Verstuurd
    books.pay(settled)
    marked_by_hand = books.booked_invoice("F-2", "200.00")  # Betaald in PerfectView, half paid
    books.pay(marked_by_hand, "100.00")
    books.pv.move_to_step(marked_by_hand.activity_id, "Betaald")
    books.booked_invoice("F-3", "50.00")  # open on both sides: in step
    done = books.booked_invoice("F-4", "10.00")  # paid and Betaald: in step
    books.pay(done)
    books.pv.move_to_step(settled.activity_id, "Concept")  # reopened during the run: the job cannot mark it
    books.run()
    assert (books.step(done), books.step(settled)) == ("Betaald", "Concept")
    books.pv.move_to_step(settled.activity_id, "Verstuurd")
    books.relation("D9")
    books.eb.add_booking(Booking(  # booked in e-Boekhouden by hand, no PerfectView invoice
        MutatieSoort.FACTUUR_VERSTUURD, TODAY - timedelta(days=3), "1300", relation_code="D9",
        invoice_number="HAND-7", description="Factuur HAND-7", in_ex_vat="EX",
        lines=(BookingLine(D(100), D(21), D(121), "HOOG_VERK_21", D(21), "8000", amount_entered=D(100)),)))

    report = report_of(books)

    (unpaid,) = report.unpaid_but_settled
    assert (unpaid.invoice_number, unpaid.perfectview_step) == ("F-1", "Verstuurd")
    assert unpaid.detail.startswith("not in the open items, and e-Boekhouden mutatie ")  # the job's evidence
    assert unpaid.detail.endswith("settles € 121,00 of € 121,00")
    assert [(e.invoice_number, e.outstanding) for e in report.paid_but_open] == [("F-2", D("142.00"))]
    assert [(e.invoice_number, e.relation, e.outstanding) for e in report.open_without_invoice] == [
        ("HAND-7", "D9 Klant D9 B.V.", D("121.00"))]
    assert not report.in_step
    assert books.calls == {"GetOpenPosten": 1, "GetMutaties": 0}  # a report spends no GetMutaties budget

    text = "\n".join(report.as_lines())
    assert "Unpaid in PerfectView, settled in e-Boekhouden: 1" in text
    assert "Betaald in PerfectView, still open in e-Boekhouden: 1" in text
    assert "HAND-7" in text and "€ 121,00" in text and "no PerfectView sales invoice has this number" in text
    data = json.loads(report.as_json())
    assert data["paid_but_open"][0]["outstanding"] == "142.00"  # exact amounts, as text
    assert [e["invoice_number"] for e in data["open_without_invoice"]] == ["HAND-7"]


def test_a_credit_invoice_open_in_e_boekhouden_without_a_perfectview_invoice_is_listed(books):
    books.relation("D5")
    books.eb.add_booking(Booking(
        MutatieSoort.FACTUUR_VERSTUURD, TODAY, "1300", relation_code="D5", invoice_number="CR-1",
        description="Creditfactuur", in_ex_vat="EX",
        lines=(BookingLine(D(-50), D("-10.50"), D("-60.50"), "HOOG_VERK_21", D(21), "8000", amount_entered=D(-50)),)))
    report = report_of(books)
    assert [(e.invoice_number, e.outstanding) for e in report.open_without_invoice] == [("CR-1", D("-60.50"))]


def test_when_both_sides_agree_the_report_says_so(books):
    books.booked_invoice("F-10", "100.00")
    report = report_of(books)
    assert report.in_step
    assert report.as_lines()[-1] == "PerfectView and e-Boekhouden agree about every open item."
