"""Paid in e-Boekhouden, Betaald in PerfectView: the evidence rules, and the job end to end
against both simulators (payments entered in e-Boekhouden as FactuurbetalingOntvangen), the job's
tests on both e-Boekhouden APIs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest

from core.demo.world import SimulatedWorld
from core.model import (AMSTERDAM, Address, Booking, BookingLine, CrmRelation, EbRelation, MutatieSoort, OpenItem,
                        RelationKind)
from core.store.invoice_journal import InvoiceJournal
from core.store.payment_state import PaymentChecks
from core.store.records import utc_now
from core.sync.invoice_states import InvoiceState
from core.sync.payments import PROBE_LIMIT, PaymentsJob, covers, note_marker, nothing_outstanding, settlement_of, \
    suspicious
from tests.eb_apis import APIS, eb_calls, wire_name

D = Decimal
TODAY = date.today()


# --------------------------------------------------------------------------- the evidence rules


def test_a_payment_covers_an_invoice_only_in_full_and_a_credit_invoice_only_with_a_negative_settlement():
    assert covers(D("121.00"), D("121.00")) and covers(D("121.00"), D("130.00"))
    assert not covers(D("121.00"), D("120.99"))
    assert covers(D("-60.50"), D("-60.50"))
    assert not covers(D("-60.50"), D("60.50")) and not covers(D("-60.50"), D("0"))


def item(amount, paid, outstanding) -> OpenItem:
    return OpenItem(TODAY, "F-1", "D1", "Klant", D(amount), D(paid), D(outstanding))


def test_an_open_item_says_settled_only_when_nothing_is_outstanding():
    assert nothing_outstanding(item("121", "121", "0"), D("121"))
    assert nothing_outstanding(item("121", "125", "-4"), D("121"))  # overpaid
    assert not nothing_outstanding(item("121", "60", "61"), D("121"))
    assert not nothing_outstanding(item("-60.50", "0", "-60.50"), D("-60.50"))  # an open credit invoice
    assert nothing_outstanding(item("-60.50", "-60.50", "0"), D("-60.50"))


def payment(number, relation, *amounts, header=None) -> Booking:
    lines = tuple(BookingLine(D(a), D(0), D(a), "GEEN", D(0), "1300", invoice_number=n) for n, a in amounts)
    return Booking(MutatieSoort.FACTUURBETALING_ONTVANGEN, TODAY, "1010", relation_code=relation,
                   invoice_number=header or amounts[0][0], lines=lines, number=number)


def test_settlements_count_the_lines_with_the_invoice_number_of_the_invoice_relation_only():
    booked = Booking(MutatieSoort.FACTUUR_VERSTUURD, TODAY, "1300", relation_code="D1", invoice_number="F-1",
                     lines=(BookingLine(D(100), D(21), D(121), "HOOG_VERK_21", D(21), "8000", invoice_number="F-1"),),
                     number=7)
    found = [booked,
             payment(8, "D1", ("F-1", "21.00")),
             payment(9, "D1", ("F-2", "50.00"), ("F-1", "100.00"), header="F-2"),  # one payment, two invoices
             payment(10, "D2", ("F-1", "121.00"))]  # another relation's invoice with the same number
    assert settlement_of("F-1", "D1", found).amount == D("121.00")
    assert settlement_of("F-1", "D1", found).mutations == (8, 9)
    assert settlement_of("F-1", "D1", [booked]).amount == 0  # the invoice's own booking settles nothing


def test_an_answer_is_suspicious_when_many_are_unpaid_and_more_than_half_of_them_went_missing():
    assert suspicious(6, 4)
    assert not suspicious(6, 3)
    assert not suspicious(5, 5)  # few unpaid: each is checked on its own evidence


def test_the_job_runs_only_with_invoice_booking_and_on_its_own_schedule(tmp_path):
    world = SimulatedWorld(tmp_path, seed="empty", settings={"schedule.payments": "12h"})
    config = world.config()
    job = PaymentsJob()
    assert job.enabled(config) and job.interval(config) == timedelta(hours=12)
    assert not job.enabled(type(config)(payments=config.payments, invoices=type(config.invoices)(enabled=False)))
    assert not job.enabled(type(config)(invoices=config.invoices))  # payments switched off


# --------------------------------------------------------------------------- the world


@dataclass
class Invoice:
    activity_id: str
    number: str
    relation_code: str
    total: Decimal


class Books:
    """Both sides of one organisation, filled through the services' own APIs, plus pvsync's
    invoice journal with the invoices booked."""

    def __init__(self, world: SimulatedWorld, jobs: list | None = None):
        self.world = world
        self.engine = world.engine(jobs=jobs or [PaymentsJob()])
        self.store = self.engine.store
        self.eb = world.eboekhouden_client()
        self.eb.__enter__()
        self.pv = world.perfectview_client()
        self._relations: dict[str, str] = {}

    def close(self):
        self.eb.__exit__(None, None, None)
        self.eb.close()
        self.pv.close()
        self.engine.close()

    def relation(self, code: str) -> str:
        if code not in self._relations:
            self.eb.add_relation(EbRelation(code=code, bedrijf=f"Klant {code} B.V."))
            self._relations[code] = self.pv.create_relation(
                CrmRelation(id="", kind=RelationKind.ORGANISATION, debtor_number=code, name=f"Klant {code} B.V.",
                            visiting_address=Address("Kerkstraat", "1", "", "3511 AA", "Utrecht", "NL")),
                "Klant", None)
        return self._relations[code]

    def booked_invoice(self, number: str, excl: str, *, relation: str = "D1", perfectview_done: bool = True
                       ) -> Invoice:
        """Sent in PerfectView, booked in e-Boekhouden, journaled as booked by pvsync."""
        activity = self.sent_invoice(number, excl, relation=relation).activity_id
        amount = D(excl)
        vat = (amount * D("0.21")).quantize(D("0.01"))
        booking = Booking(
            MutatieSoort.FACTUUR_VERSTUURD, TODAY, "1300", relation_code=relation, invoice_number=number,
            boekstuk=number, description=f"Factuur {number}", in_ex_vat="EX",
            lines=(BookingLine(amount, vat, amount + vat, "HOOG_VERK_21", D(21), "8000", amount_entered=amount),))
        journal = InvoiceJournal(self.store)
        journal.record_plan(self.pv.invoice(activity), relation_code=relation, relation_name=f"Klant {relation} B.V.",
                            state=InvoiceState.READY, booking=booking)
        journal.claim_for_booking(activity)
        journal.record_booked(activity, self.eb.add_booking(booking), linked=False, document_state="",
                              perfectview_done=perfectview_done)
        return Invoice(activity, number, relation, amount + vat)

    def sent_invoice(self, number: str, excl: str, *, relation: str = "D1") -> Invoice:
        """A sales invoice sent in PerfectView (21% VAT); the invoices job books it."""
        amount = D(excl)
        activity = self.pv.create_invoice(self.relation(relation), number, TODAY, TODAY + timedelta(days=30))
        self.pv.add_product_line(activity, "Onderhoud", D(1) if amount > 0 else D(-1), abs(amount), "BTW hoog 21%")
        self.pv.move_to_step(activity, "Verstuurd")
        return Invoice(activity, number, relation, amount + (amount * D("0.21")).quantize(D("0.01")))

    def pay(self, invoice: Invoice, amount: str | Decimal | None = None) -> None:
        """The customer pays (or, negative, a credit invoice is settled): bank 1010 -> debtors 1300."""
        paid = invoice.total if amount is None else D(amount)
        self.eb.add_booking(Booking(
            MutatieSoort.FACTUURBETALING_ONTVANGEN, TODAY, "1010", relation_code=invoice.relation_code,
            invoice_number=invoice.number, description=f"Betaling {invoice.number}", in_ex_vat="EX",
            lines=(BookingLine(paid, D(0), paid, "GEEN", D(0), "1300", amount_entered=paid),)))

    # ------------------------------------------------------------------ running and looking

    def run(self, **kw):
        """One run; `calls` are the open-items and mutation reads it made (SOAP's names, on either API)."""
        operations = ("GetOpenPosten", "GetMutaties")
        before = {op: eb_calls(self.world, op) for op in operations}
        report = self.engine.run(trigger="forced", **kw)
        (outcome,) = [o for o in report.jobs if o.job == "payments"]
        self.calls = {op: eb_calls(self.world, op) - before[op] for op in operations}
        return outcome

    def step(self, invoice: Invoice) -> str:
        return self.pv.invoice(invoice.activity_id).step

    def notes(self, invoice: Invoice) -> list[str]:
        return [n for n in self.pv.activity_notes(invoice.activity_id) if n.startswith(note_marker(invoice.number))]

    def state(self, invoice: Invoice) -> str:
        return InvoiceJournal(self.store).get(invoice.activity_id).state.value

    def log(self, level="INFO") -> list[str]:
        return [e.message for e in self.store.logbook_page(limit=500, level=level, kinds=["payment"])]

    def answer_lists(self, *shown: tuple[Invoice, str, str]) -> None:
        """From now on GetOpenPosten answers with exactly these items (invoice, Voldaan, Openstaand):
        how a broken or lagging service would answer."""
        if self.world.eboekhouden_api == "rest":
            self._answer_outstanding(shown)
            return
        sim = self.world.eboekhouden

        def answer(request):
            kind = sim.child_text(request, "OpSoort")
            assert kind == "Debiteuren"

            def work():
                return sim._list("Openposten", [sim.element(
                    "cOpenPost", None, sim.element("MutDatum", f"{TODAY.isoformat()}T00:00:00"),
                    sim.element("MutFactuur", i.number), sim.element("RelCode", i.relation_code),
                    sim.element("RelBedrijf", "Klant"), sim.element("Bedrag", str(i.total)),
                    sim.element("Voldaan", paid), sim.element("Openstaand", open_)) for i, paid, open_ in shown])
            return sim._answer("GetOpenPosten", request, work)
        sim._op_GetOpenPosten = answer

    def _answer_outstanding(self, shown: tuple[tuple[Invoice, str, str], ...]) -> None:
        """answer_lists on REST: GET /v1/mutation/invoice/outstanding lists exactly these items."""
        rest = self.world.eboekhouden_service.rest
        (index,) = [i for i, route in enumerate(rest.routes)
                    if route[:1] + route[2:3] == ("GET", "/v1/mutation/invoice/outstanding")]

        def answer(query, raw, token):
            assert query.get("credDeb") == ["D"]
            items = [{"date": TODAY.isoformat(), "mutationId": 0, "invoiceNumber": i.number, "relationId": 0,
                      "relationCode": i.relation_code, "company": "Klant", "totalAmount": float(i.total),
                      "paidAmount": float(paid), "outstandingAmount": float(open_)} for i, paid, open_ in shown]
            return 200, {"items": items, "count": len(items)}
        rest.routes[index] = (*rest.routes[index][:3], answer)


@pytest.fixture(params=APIS)
def books(tmp_path, request):
    world = SimulatedWorld(tmp_path, seed="empty", eboekhouden_api=request.param)
    books = Books(world)
    yield books
    books.close()
    world.close()


# --------------------------------------------------------------------------- end to end, in-process


def test_a_paid_invoice_becomes_betaald_with_a_note_a_logbook_line_and_one_lookup(books):
    paid, unpaid = books.booked_invoice("F-101", "100.00"), books.booked_invoice("F-102", "250.00")
    books.pay(paid)

    outcome = books.run()

    assert outcome.status == "ok"
    assert (books.step(paid), books.state(paid)) == ("Betaald", "paid")
    assert (books.step(unpaid), books.state(unpaid)) == ("Verstuurd", "booked")
    assert len(books.notes(paid)) == 1 and "€ 121,00" in books.notes(paid)[0]
    assert any(m.startswith("invoice F-101 marked Betaald in PerfectView") for m in books.log())
    # The settled item is missing from the open items: its own mutations are the evidence.
    assert books.calls == {"GetOpenPosten": 1, "GetMutaties": 1}
    assert outcome.result.counters["marked_paid"] == 1 and outcome.result.counters["still_open"] == 1

    books.run()  # a paid invoice is done: not looked up again
    assert books.calls == {"GetOpenPosten": 1, "GetMutaties": 0}


def test_a_day_without_settlements_costs_one_open_items_call_and_changes_nothing(books):
    invoices = [books.booked_invoice(f"F-2{n:02d}", "80.00") for n in range(8)]
    outcome = books.run()
    assert books.calls == {"GetOpenPosten": 1, "GetMutaties": 0}
    assert outcome.result.counters["still_open"] == 8 and "marked_paid" not in outcome.result.counters
    assert {books.step(i) for i in invoices} == {"Verstuurd"}


def test_a_partly_paid_invoice_stays_and_its_open_amount_is_there_for_the_console(books):
    invoice = books.booked_invoice("F-301", "200.00")  # 242,00 incl. VAT
    books.pay(invoice, "100.00")

    outcome = books.run()

    assert (books.step(invoice), books.state(invoice)) == ("Verstuurd", "booked")
    assert books.calls == {"GetOpenPosten": 1, "GetMutaties": 0}
    assert outcome.result.counters["partly_paid"] == 1
    (shown,) = PaymentChecks(books.store).open_amounts()
    assert (shown.invoice_number, shown.paid, shown.outstanding, shown.partly_paid) == (
        "F-301", D("100.00"), D("142.00"), True)
    assert any("F-301 is partly paid: € 100,00 of € 242,00, € 142,00 still open" in m for m in books.log())

    books.pay(invoice, "142.00")  # the rest arrives
    books.run()
    assert (books.step(invoice), books.state(invoice)) == ("Betaald", "paid")
    assert PaymentChecks(books.store).open_amounts() == []


def test_a_credit_invoice_settled_against_its_invoice_leaves_both_paid(books):
    invoice = books.booked_invoice("F-401", "150.00")
    credit = books.booked_invoice("C-401", "-150.00")
    assert credit.total == D("-181.50")
    # Verrekening: the credit invoice settles the invoice; the bank sees nothing (+181,50 and -181,50).
    books.pay(invoice, "181.50")
    books.pay(credit, "-181.50")

    outcome = books.run()

    assert (books.step(invoice), books.step(credit)) == ("Betaald", "Betaald")
    assert (books.state(invoice), books.state(credit)) == ("paid", "paid")
    assert outcome.result.counters["marked_paid"] == 2 and books.calls["GetMutaties"] == 2


def test_an_open_credit_invoice_is_not_paid(books):
    credit = books.booked_invoice("C-402", "-40.00")
    books.run()
    assert books.step(credit) == "Verstuurd" and books.calls["GetMutaties"] == 0


def test_an_item_listed_with_openstaand_zero_is_paid_without_a_lookup(books):
    invoice = books.booked_invoice("F-501", "100.00")
    books.answer_lists((invoice, "121", "0"))
    books.run()
    assert books.step(invoice) == "Betaald"
    assert books.calls == {"GetOpenPosten": 1, "GetMutaties": 0}
    assert "Openstaand € 0,00" in books.notes(invoice)[0]


def test_an_invoice_missing_from_the_open_items_without_settlements_stays_and_is_not_looked_up_daily(books):
    invoice = books.booked_invoice("F-601", "100.00")
    books.pay(invoice, "21.00")  # only part of it
    books.answer_lists()  # ... yet e-Boekhouden leaves it out

    books.run()
    assert books.step(invoice) == "Verstuurd" and books.state(invoice) == "booked"
    assert books.calls["GetMutaties"] == 1
    assert any("F-601 is missing from e-Boekhouden's open items, but its mutations settle only € 21,00 of € 121,00"
               in m for m in books.log("WARNING"))

    books.run()  # the next day: not proven, not looked up again for a week
    assert books.calls["GetMutaties"] == 0
    books.pay(invoice, "100.00")
    books.run(force=True)  # unless the admin forces it
    assert books.calls["GetMutaties"] == 1 and books.step(invoice) == "Betaald"


def test_an_empty_answer_while_many_are_unpaid_is_held_and_never_read_as_everything_paid(books):
    invoices = [books.booked_invoice(f"F-7{n:02d}", "100.00") for n in range(7)]
    shown_zero = invoices[0]
    books.run()  # every one is open: the answer the next one is compared with

    books.answer_lists((shown_zero, "121", "0"))  # the rest vanished at once
    outcome = books.run()

    assert outcome.result.counters["held"] == 6
    assert books.calls == {"GetOpenPosten": 1, "GetMutaties": 0}
    assert [books.step(i) for i in invoices] == ["Betaald"] + ["Verstuurd"] * 6  # explicit Openstaand 0 counts
    (warning,) = [m for m in books.log("WARNING") if "looks like an incomplete answer" in m]
    assert "lacks 6 of the 7 booked invoices" in warning

    # The next answer agrees: now each is checked on its own evidence, and the checks stop
    # as soon as a few in a row show no settlement.
    books.answer_lists()
    outcome = books.run()
    assert books.calls["GetMutaties"] == PROBE_LIMIT
    assert [books.step(i) for i in invoices[1:]] == ["Verstuurd"] * 6
    assert any("the open items answer looks incomplete" in m for m in books.log("WARNING"))


def test_many_settled_at_once_are_all_paid_once_the_next_answer_agrees(books):
    invoices = [books.booked_invoice(f"F-8{n:02d}", "100.00") for n in range(7)]
    books.run()
    for invoice in invoices:
        books.pay(invoice)

    books.run()
    assert {books.step(i) for i in invoices} == {"Verstuurd"} and books.calls["GetMutaties"] == 0

    outcome = books.run()
    assert {books.step(i) for i in invoices} == {"Betaald"}
    assert books.calls["GetMutaties"] == 7 and outcome.result.counters["marked_paid"] == 7


def test_after_a_crash_between_perfectview_and_the_journal_nothing_is_lost_or_doubled(books):
    moved, noted = books.booked_invoice("F-901", "100.00"), books.booked_invoice("F-902", "100.00")
    books.pay(moved)
    books.pay(noted)
    # The previous run moved F-901 and died before its note; it finished F-902 in PerfectView
    # but died before the journal's transaction.
    books.pv.move_to_step(moved.activity_id, "Betaald")
    books.pv.move_to_step(noted.activity_id, "Betaald")
    books.pv.add_activity_note(noted.activity_id, f"{note_marker('F-902')} (earlier run); moved to Betaald.")

    outcome = books.run()

    assert outcome.status == "ok" and outcome.result.counters["marked_paid"] == 2
    assert (books.state(moved), books.state(noted)) == ("paid", "paid")
    assert (len(books.notes(moved)), len(books.notes(noted))) == (1, 1)


def test_an_invoice_perfectview_will_not_move_fails_with_a_way_out_and_its_evidence_is_kept(books):
    invoice = books.booked_invoice("F-951", "100.00")
    books.pay(invoice)
    books.pv.move_to_step(invoice.activity_id, "Concept")  # someone reopened it

    outcome = books.run()

    assert outcome.status == "partial" and outcome.result.failures == 1
    assert books.state(invoice) == "booked" and books.calls["GetMutaties"] == 1
    (error,) = books.log("ERROR")
    assert "F-951 is paid in e-Boekhouden but could not be moved to Betaald" in error
    assert "it is in step Concept" in error and "move it to Verstuurd" in error

    books.pv.move_to_step(invoice.activity_id, "Verstuurd")
    books.run()
    assert books.step(invoice) == "Betaald" and books.calls["GetMutaties"] == 0  # the settlement was remembered


def test_a_dry_run_shows_what_would_be_paid_and_changes_nothing(books):
    listed_zero, missing = books.booked_invoice("F-961", "100.00"), books.booked_invoice("F-962", "100.00")
    books.answer_lists((listed_zero, "121", "0"))
    outcome = books.run(dry_run=True)
    assert outcome.result.counters["would_mark_paid"] == 1 and outcome.result.counters["would_look_up"] == 1
    assert books.calls["GetMutaties"] == 0
    assert (books.step(listed_zero), books.state(listed_zero)) == ("Verstuurd", "booked")
    assert any(m.startswith("dry run: would mark invoice F-961 Betaald") for m in books.log())
    assert PaymentChecks(books.store).all() == {}
    assert books.step(missing) == "Verstuurd"


def test_lookups_give_way_when_the_getmutaties_budget_is_nearly_spent(books):
    listed_zero, missing = books.booked_invoice("F-971", "100.00"), books.booked_invoice("F-972", "100.00")
    books.pay(missing)
    books.answer_lists((listed_zero, "121", "0"))
    day = utc_now().astimezone(AMSTERDAM).date().isoformat()
    operation = wire_name(books.world.eboekhouden_api, "GetMutaties")
    with books.store.write():  # 4,500 of the 5,000 monthly calls spent: the rest is kept for invoice booking
        books.store.conn.execute("INSERT INTO api_calls (service, operation, day, count) VALUES "
                                 "('e-Boekhouden', ?, ?, 4500)", (operation, day))

    outcome = books.run()

    assert outcome.status == "ok"
    if books.world.eboekhouden_api == "rest":  # no monthly quota on REST: the calls are counted, not rationed
        assert books.calls["GetMutaties"] >= 1 and books.step(missing) == "Betaald"
        return
    assert books.calls["GetMutaties"] == 0
    assert (books.step(listed_zero), books.step(missing)) == ("Betaald", "Verstuurd")
    assert any("the rest is kept for checking whether invoices were booked" in m for m in books.log("WARNING"))


def test_an_invoice_whose_perfectview_booking_work_is_unfinished_waits_for_the_invoices_job(books):
    invoice = books.booked_invoice("F-981", "100.00", perfectview_done=False)
    books.pay(invoice)
    outcome = books.run()
    assert outcome.result.counters["waiting_for_invoices_job"] == 1
    assert (books.step(invoice), books.state(invoice)) == ("Verstuurd", "booked")
    assert books.calls["GetMutaties"] == 0

    InvoiceJournal(books.store).perfectview_finished(invoice.activity_id)
    books.run()
    assert (books.step(invoice), books.state(invoice)) == ("Betaald", "paid")
