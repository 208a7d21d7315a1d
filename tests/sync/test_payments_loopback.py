"""The payments job over real sockets (both simulators on loopback, as the demo runs them),
and behind the real invoices job, which books what payments later marks paid; on both e-Boekhouden APIs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.demo.world import SimulatedWorld
from core.store.payment_state import PaymentChecks
from core.sync.invoices import InvoicesJob
from core.sync.payments import PaymentsJob
from tests.eb_apis import APIS
from tests.sync.test_payments import Books


@pytest.mark.parametrize("api", APIS)
def test_paid_partly_paid_and_open_invoices_over_loopback(tmp_path, api):
    with SimulatedWorld(tmp_path, seed="empty", loopback=True, eboekhouden_api=api) as world:
        books = Books(world)
        try:
            paid, partly, open_ = (books.booked_invoice(n, "100.00") for n in ("F-1", "F-2", "F-3"))
            books.pay(paid)
            books.pay(partly, "21.00")

            outcome = books.run()

            assert outcome.status == "ok"
            assert [books.step(i) for i in (paid, partly, open_)] == ["Betaald", "Verstuurd", "Verstuurd"]
            assert [books.state(i) for i in (paid, partly, open_)] == ["paid", "booked", "booked"]
            assert books.calls == {"GetOpenPosten": 1, "GetMutaties": 1}
            assert [(c.invoice_number, c.outstanding) for c in PaymentChecks(books.store).open_amounts()] == [
                ("F-3", Decimal("121.00")), ("F-2", Decimal("100.00"))]  # largest open amount first

            books.run()  # the next day, nothing new was paid
            assert books.calls == {"GetOpenPosten": 1, "GetMutaties": 0}
        finally:
            books.close()


@pytest.mark.parametrize("loopback", [False, True], ids=["in-process", "loopback"])
@pytest.mark.parametrize("api", APIS)
def test_invoices_booked_by_the_invoices_job_are_marked_paid_once_settled(tmp_path, loopback, api):
    with SimulatedWorld(tmp_path, seed="empty", loopback=loopback, eboekhouden_api=api) as world:
        books = Books(world, jobs=[InvoicesJob(), PaymentsJob()])
        try:
            paid, partly = books.sent_invoice("F-11", "100.00"), books.sent_invoice("F-12", "200.00")
            invoice, credit = books.sent_invoice("F-13", "80.00"), books.sent_invoice("C-13", "-80.00")
            outcome = books.run()  # booked now; nothing is paid yet
            assert [books.state(i) for i in (paid, partly, invoice, credit)] == ["booked"] * 4
            assert outcome.result.counters["still_open"] == 4 and books.calls["GetOpenPosten"] == 1

            books.pay(paid)
            books.pay(partly, "42.00")
            books.pay(invoice, "96.80")  # the credit invoice settled against its invoice
            books.pay(credit, "-96.80")
            outcome = books.run()

            assert outcome.status == "ok" and outcome.result.counters["marked_paid"] == 3
            assert [books.step(i) for i in (paid, partly, invoice, credit)] == [
                "Betaald", "Verstuurd", "Betaald", "Betaald"]
            assert [books.state(i) for i in (paid, partly, invoice, credit)] == ["paid", "booked", "paid", "paid"]
            assert [(c.invoice_number, c.outstanding) for c in PaymentChecks(books.store).open_amounts()] == [
                ("F-12", Decimal("200.00"))]
            assert books.calls == {"GetOpenPosten": 1, "GetMutaties": 3}  # one per newly settled invoice
        finally:
            books.close()
