"""The invoices job, transition by transition, against both simulators in-process.

Every test asserts what a user notices: the bookings e-Boekhouden holds, the PerfectView
marker and notes, the logbook, the journal state, and how many AddMutatie / GetMutaties
calls were made. Crashes are a BaseException raised at a named point; a fresh engine and
job then run on the same state folder and the same simulators.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from core.config import set_vat_rule
from core.model import Booking, BookingLine, MutatieSoort
from core.sync.invoice_states import InvoiceState
from core.sync.invoices import CRASH_POINTS

from tests.sync.invoices_world import INVOICE_DATE, Crash, InvoiceWorld

D = Decimal
S = InvoiceState
HIGH = ("Onderhoud", "1", "100.00", "BTW hoog 21%")


@pytest.fixture
def world(tmp_path):
    with InvoiceWorld(tmp_path) as w:
        yield w


def sent_invoice(world: InvoiceWorld, number: str = "F-1", code: str = "D1001", *lines) -> str:
    return world.invoice(world.customer(code), number, *(lines or (HIGH,)))


def notes(world: InvoiceWorld, activity: str) -> list[str]:
    return [n for n in world.pv.activity_notes(activity) if n.startswith("pvsync:")]


# --------------------------------------------------------------------------- the plain path


def test_a_sent_invoice_is_booked_once_and_perfectview_and_the_logbook_say_so(world):
    activity = sent_invoice(world)
    world.invoice(world.customer("D1002"), "F-CONCEPT", HIGH, sent=False)

    report = world.sync()

    assert report.outcome == "ok"
    (booking,) = world.booked("F-1")
    assert (booking.relation_code, booking.ledger, booking.datum, booking.payment_term_days) == \
        ("D1001", "1300", INVOICE_DATE, 14)
    assert booking.total_incl_vat() == D("121.00")
    assert world.booked("F-CONCEPT") == []  # not sent: not booked
    entry = world.entry("F-1")
    assert entry.state is S.BOOKED and entry.mutatienummer == booking.number and entry.attempts == 1
    invoice = world.pv.invoice(activity)
    assert invoice.booked_marker.endswith(f"mutatie {booking.number}")
    assert len(notes(world, activity)) == 1
    assert any(f"booked in e-Boekhouden as mutatie {booking.number}" in m for m in world.messages())
    # What the payments job reads: booked, with relation and total.
    assert (entry.relation_code, entry.total_incl_vat, entry.total_vat) == ("D1001", D("121.00"), D("21.00"))

    world.sync()
    assert len(world.booked("F-1")) == 1 and world.eb_calls("AddMutatie") == 1
    assert world.eb_calls("GetMutaties") == 0  # no doubt, no lookup


def test_boekstuk_carries_the_perfectview_activity_number(world):
    activity = sent_invoice(world)
    world.sync()
    (booking,) = world.booked("F-1")
    number = world.pv.invoice(activity).activity_number
    assert number and booking.boekstuk == f"PV {number}"


def test_a_no_op_poll_makes_no_booking_and_no_lookup_and_reads_no_invoice_lines(world):
    sent_invoice(world)
    world.sync()
    world.clock.advance(timedelta(minutes=10))
    world.sync()  # reads back the invoice pvsync itself touched (marker, note)
    add, get, opened = world.eb_calls("AddMutatie"), world.eb_calls("GetMutaties"), world.eb_calls("OpenSession")
    lines_read = world.world.perfectview.calls["ActivityGetProductLines"]
    world.clock.advance(timedelta(minutes=10))

    report = world.sync()

    assert report.outcome == "ok"
    assert (world.eb_calls("AddMutatie"), world.eb_calls("GetMutaties")) == (add, get)
    assert world.eb_calls("OpenSession") == opened  # e-Boekhouden not even opened
    assert world.world.perfectview.calls["ActivityGetProductLines"] == lines_read


def test_pvsyncs_own_marks_and_the_daily_full_pass_read_no_lines_of_booked_invoices(world):
    activity = sent_invoice(world)
    other = sent_invoice(world, "F-2", "D1002")
    world.sync()
    perfectview = world.world.perfectview

    def detail_reads() -> int:
        return perfectview.calls["ActivityGetProductLines"] + perfectview.calls["ActivityGetAttachments"]

    after_booking = detail_reads()
    world.sync()  # lists both invoices again: pvsync wrote their marker and note
    world.sync(force=True)  # a full pass lists every invoice
    assert detail_reads() == after_booking

    # A person edits, later: a line added (PerfectView recomputes the total) and a total typed over.
    perfectview.add_minutes(10)
    world.clock.advance(timedelta(minutes=10))
    world.pv.add_product_line(activity, "Voorrijkosten", D(1), D("25.00"), "BTW hoog 21%")
    world.edit_total(other, "130.00")
    world.sync()

    assert detail_reads() == after_booking + 4
    changed = [m for m in world.messages(level="WARNING") if "changed in PerfectView after it was booked" in m]
    assert sorted(m.split()[1] for m in changed) == ["F-1", "F-2"]
    assert (len(world.booked("F-1")), len(world.booked("F-2"))) == (1, 1)


# --------------------------------------------------------------------------- crashes


def test_crash_after_the_intent_commit_and_before_sending_looks_up_then_sends_once(world):
    sent_invoice(world)
    world.restart(crash="after_intent_commit")
    with pytest.raises(Crash):
        world.sync()
    assert world.entry("F-1").state is S.BOOKING and world.booked("F-1") == []

    world.restart()
    world.sync()

    assert world.eb_calls("GetMutaties") == 1  # looked up before anything was sent again
    (booking,) = world.booked("F-1")
    entry = world.entry("F-1")
    assert entry.state is S.BOOKED and entry.mutatienummer == booking.number and entry.attempts == 2
    assert any("sent again with the same invoice number" in m for m in world.messages())


def test_crash_after_e_boekhouden_booked_it_and_before_the_local_commit_links_it(world):
    activity = sent_invoice(world)
    world.restart(crash="after_remote_booking")
    with pytest.raises(Crash):
        world.sync()
    assert len(world.booked("F-1")) == 1 and world.entry("F-1").state is S.BOOKING

    world.restart()
    world.sync()

    (booking,) = world.booked("F-1")  # still one: not booked twice
    assert world.eb_calls("AddMutatie") == 1 and world.eb_calls("GetMutaties") == 1
    entry = world.entry("F-1")
    assert entry.state is S.BOOKED and entry.mutatienummer == booking.number and not entry.linked
    assert world.pv.invoice(activity).booked_marker.endswith(f"mutatie {booking.number}")
    assert any("pvsync's own booking" in m for m in world.messages())


def test_crash_after_the_local_commit_finishes_perfectview_without_a_lookup(world):
    activity = sent_invoice(world)
    world.restart(crash="after_local_commit")
    with pytest.raises(Crash):
        world.sync()
    assert world.entry("F-1").state is S.BOOKED and world.pv.invoice(activity).booked_marker == ""

    world.restart()
    world.sync()

    assert world.eb_calls("GetMutaties") == 0 and world.eb_calls("AddMutatie") == 1
    assert world.pv.invoice(activity).booked_marker.endswith("mutatie 1")
    assert len(notes(world, activity)) == 1


def test_crash_after_the_marker_adds_the_note_once(world):
    activity = sent_invoice(world)
    world.restart(crash="after_marker")
    with pytest.raises(Crash):
        world.sync()
    assert world.pv.invoice(activity).booked_marker and notes(world, activity) == []

    world.restart()
    world.sync()
    world.sync()

    assert len(notes(world, activity)) == 1 and world.entry("F-1").perfectview_done
    assert world.eb_calls("AddMutatie") == 1


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_crash_at_any_point_neither_books_twice_nor_loses_the_invoice(tmp_path, point):
    with InvoiceWorld(tmp_path) as world:
        activity = sent_invoice(world)
        world.restart(crash=point)
        with pytest.raises(Crash):
            world.sync()
        world.restart()
        world.sync()
        world.sync()
        assert len(world.booked("F-1")) == 1
        assert world.entry("F-1").state is S.BOOKED
        assert world.pv.invoice(activity).booked_marker and len(notes(world, activity)) == 1


def test_the_answer_lost_on_the_wire_leaves_it_unknown_until_a_lookup_finds_it(world):
    sent_invoice(world)
    world.lose_answers("AddMutatie")

    report = world.sync()

    assert report.outcome == "partial"
    entry = world.entry("F-1")
    assert entry.state is S.UNKNOWN and "looked up by invoice number" in entry.way_out
    assert len(world.booked("F-1")) == 1  # e-Boekhouden did book it
    assert any("no answer from e-Boekhouden" in m for m in world.messages(level="WARNING"))

    world.sync()

    assert world.eb_calls("AddMutatie") == 1 and world.eb_calls("GetMutaties") == 1
    entry = world.entry("F-1")
    assert entry.state is S.BOOKED and entry.mutatienummer == world.booked("F-1")[0].number


def test_an_invoice_in_doubt_is_never_sent_while_the_lookup_budget_is_spent(world):
    sent_invoice(world)
    world.restart(crash="after_intent_commit")
    with pytest.raises(Crash):
        world.sync()
    store = world.engine.store
    with store.write():  # the month's GetMutaties calls are used up
        store.conn.execute("INSERT INTO api_calls (service, operation, day, count) VALUES (?, ?, ?, ?)",
                           ("e-Boekhouden", "GetMutaties", world.clock().date().isoformat(), 5000))
    world.restart()

    world.sync()

    assert world.entry("F-1").state is S.BOOKING
    assert world.eb_calls("AddMutatie") == 0 and world.eb_calls("GetMutaties") == 0
    assert any("never sent again before it has been looked up" in m for m in world.messages(level="WARNING"))


# --------------------------------------------------------------------------- already in e-Boekhouden


def hand_booking(number: str, code: str, incl: str = "121.00", excl: str = "100.00") -> Booking:
    return Booking(MutatieSoort.FACTUUR_VERSTUURD, INVOICE_DATE, "1300", relation_code=code, invoice_number=number,
                   boekstuk="by hand", description="handmatig", in_ex_vat="EX",
                   lines=(BookingLine(D(excl), D(incl) - D(excl), D(incl), "HOOG_VERK_21", D(21), "8000"),))


def test_an_invoice_booked_by_hand_is_linked_not_booked_twice(world):
    activity = sent_invoice(world)
    by_hand = world.eb.add_booking(hand_booking("F-1", "D1001"))

    world.sync()

    assert [b.number for b in world.booked("F-1")] == [by_hand]
    entry = world.entry("F-1")
    assert entry.state is S.BOOKED and entry.mutatienummer == by_hand and entry.linked
    assert world.eb_calls("GetMutaties") == 1  # looked up after the refusal, not before the booking
    assert world.pv.invoice(activity).booked_marker.endswith(f"mutatie {by_hand}")
    assert any("a booking made outside pvsync" in m for m in world.messages())


def test_a_hand_booking_with_other_amounts_is_linked_and_the_difference_reported(world):
    sent_invoice(world)
    world.eb.add_booking(hand_booking("F-1", "D1001", incl="110.00", excl="100.00"))

    world.sync()

    assert world.entry("F-1").state is S.BOOKED
    warnings = world.messages(level="WARNING")
    assert any("differs from PerfectView" in m and "€ 110,00" in m and "€ 121,00" in m for m in warnings)


def test_an_invoice_perfectview_marks_booked_is_looked_up_and_linked(world):
    activity = sent_invoice(world)
    by_hand = world.eb.add_booking(hand_booking("F-1", "D1001"))
    world.pv.set_booked_marker(activity, "01-03-2026 geboekt door de oude koppeling")
    added = world.eb_calls("AddMutatie")

    world.sync()

    assert world.eb_calls("AddMutatie") == added and world.eb_calls("GetMutaties") == 1
    entry = world.entry("F-1")
    assert entry.state is S.BOOKED and entry.mutatienummer == by_hand and entry.linked


def test_a_perfectview_marker_without_a_booking_waits_for_a_person(world):
    activity = sent_invoice(world)
    world.pv.set_booked_marker(activity, "geboekt")

    world.sync()
    world.sync()

    entry = world.entry("F-1")
    assert entry.state is S.BLOCKED and "is marked booked in PerfectView" in entry.reason
    assert "clear the field 'Boekhouding / Geboekt in e-Boekhouden' in PerfectView" in entry.way_out
    assert world.eb_calls("AddMutatie") == 0 and world.eb_calls("GetMutaties") == 1  # not every run


def test_two_bookings_of_one_invoice_in_e_boekhouden_need_a_person(world):
    sent_invoice(world)
    world.restart(crash="after_remote_booking")
    with pytest.raises(Crash):
        world.sync()
    simulator = world.world.eboekhouden
    twin = world.booked("F-1")[0]
    simulator.mutations[99] = Booking(**{**twin.__dict__, "number": 99})  # a person booked it again

    world.restart()
    report = world.sync()

    assert report.outcome == "partial"
    entry = world.entry("F-1")
    assert entry.state is S.BLOCKED and "booked 2 times" in entry.reason and "retry F-1" in entry.way_out
    assert world.eb_calls("AddMutatie") == 1


# --------------------------------------------------------------------------- blocked, and unblocked by itself


def test_an_unmapped_vat_code_blocks_naming_it_and_the_fixed_mapping_books_it_next_run(world):
    sent_invoice(world, "F-1", "D1001", ("Export", "1", "80.00", "BTW 0%"))

    world.sync()

    entry = world.entry("F-1")
    assert entry.state is S.BLOCKED and "'BTW 0%' is not mapped for NL" in entry.reason
    assert "VAT mapping" in entry.way_out and world.booked("F-1") == []

    set_vat_rule(world.world.config_path, "NL", "BTW 0%", "BU_EU_VERK", "8040")
    world.reload_config()
    world.sync()

    (booking,) = world.booked("F-1")
    assert [(l.btw_code, l.ledger, l.amount_incl_vat) for l in booking.lines] == [("BU_EU_VERK", "8040", D("80.00"))]
    assert world.entry("F-1").state is S.BOOKED
    assert any("no longer waits" in m for m in world.messages())


def test_a_relation_without_debiteurnummer_blocks_until_it_has_one(world):
    relation = world.customer("D2001", debtor_number="")
    world.invoice(relation, "F-7", HIGH)

    world.sync()
    entry = world.entry("F-7")
    assert entry.state is S.BLOCKED and "no Debiteurnummer" in entry.reason

    crm = world.pv.relation(relation, with_account_manager=False)
    world.pv.update_relation(relation, crm.__class__(**{**crm.__dict__, "debtor_number": "D2001"}))
    world.sync()

    assert world.entry("F-7").state is S.BOOKED and world.booked("F-7")[0].relation_code == "D2001"


def test_a_relation_not_in_e_boekhouden_yet_blocks_until_the_relation_sync_made_it(world):
    from core.model import EbRelation

    world.invoice(world.customer("D3001", in_eboekhouden=False), "F-8", HIGH)

    world.sync()
    entry = world.entry("F-8")
    assert entry.state is S.BLOCKED and "D3001 is not in e-Boekhouden yet" in entry.reason
    assert world.eb_calls("AddMutatie") == 0

    world.eb.add_relation(EbRelation(code="D3001", bedrijf="Klant D3001 B.V."))
    world.sync()

    assert world.entry("F-8").state is S.BOOKED


def test_a_blocked_invoice_is_reported_once_not_every_run(world):
    sent_invoice(world, "F-1", "D1001", ("Export", "1", "80.00", "BTW 0%"))
    world.sync()
    world.sync()
    waits = [m for m in world.messages(level="WARNING", all_runs=True) if "waits" in m]
    assert len(waits) == 1


def test_an_invoice_sharing_its_number_with_a_booked_one_waits(world):
    relation = world.customer("D1001")
    world.invoice(relation, "F-1", HIGH)
    world.sync()
    world.invoice(relation, "F-1", ("Nog eens", "1", "50.00", "BTW hoog 21%"))

    world.sync()

    assert len(world.booked("F-1")) == 1
    states = sorted(e.state.value for e in world.journal.by_number("F-1"))
    assert states == ["blocked", "booked"]
    assert any("also used by PerfectView activity" in m for m in world.messages(level="WARNING"))


# --------------------------------------------------------------------------- after booking


def test_an_invoice_edited_after_booking_is_reported_once_and_never_booked_again(world):
    activity = sent_invoice(world)
    world.sync()
    world.pv.add_product_line(activity, "Vergeten", D(1), D("10.00"), "BTW hoog 21%")

    world.sync()
    world.sync()

    assert len(world.booked("F-1")) == 1 and world.eb_calls("AddMutatie") == 1
    changed = [m for m in world.messages(level="WARNING", all_runs=True) if "was changed in PerfectView" in m]
    assert len(changed) == 1


# --------------------------------------------------------------------------- dry run


def test_a_dry_run_shows_each_booking_with_lines_and_totals_and_changes_nothing(world):
    activity = sent_invoice(world, "F-1", "D1001", HIGH, ("Isolatie", "2", "12.50", "BTW laag 9%"))

    report = world.sync(dry_run=True)

    assert report.outcome == "ok" and "1 would be booked" in report.jobs[0].result.summary
    (shown,) = [m for m in world.messages() if m.startswith("dry run: would book invoice F-1")]
    # each ledger with its name, as the administration's chart calls it
    assert "on 1300 (Debiteuren)" in shown
    assert "8000 (Omzet hoog 21%) HOOG_VERK_21 21%: € 100,00 + VAT € 21,00 = € 121,00" in shown
    assert "8010 (Omzet laag 9%) LAAG_VERK_9 9%: € 25,00 + VAT € 2,25 = € 27,25" in shown
    assert "total € 148,25" in shown
    assert world.booked("F-1") == [] and world.journal.entries() == []
    assert world.pv.invoice(activity).booked_marker == ""
    assert world.engine.store.cursor("invoices.modified_since") is None

    world.sync()
    assert len(world.booked("F-1")) == 1


def test_a_refusal_is_looked_up_then_waits_for_a_person_and_retry_books_it(tmp_path, monkeypatch):
    import core.assumptions
    from core.sync.invoice_commands import retry_invoice

    # The run's check of the ledgers (core.assumptions) would stop the job before it books; this
    # is about a refusal that gets past it (the ledger removed in e-Boekhouden after the check).
    monkeypatch.setattr(core.assumptions, "refusal", lambda findings, job: "")
    with InvoiceWorld(tmp_path, **{"invoices.debtors_ledger": "1399"}) as world:  # not in the chart of accounts
        sent_invoice(world)

        report = world.sync()
        world.sync()

        assert report.outcome == "partial"
        entry = world.entry("F-1")
        assert entry.state is S.BLOCKED and "1399" in entry.reason and "retry F-1" in entry.way_out
        assert world.eb_calls("GetMutaties") == 1  # "refused" might mean "exists": looked up once
        assert world.eb_calls("AddMutatie") == 1  # not sent again every run
        assert world.booked("F-1") == []

        world.world.eboekhouden.add_ledger("1399", "Debiteuren 2", "DEB")
        assert "planned again" in retry_invoice(world.engine.store, "F-1")
        world.sync()

        assert world.entry("F-1").state is S.BOOKED and len(world.booked("F-1")) == 1


def test_a_description_longer_than_e_boekhouden_allows_blocks_instead_of_being_cut(tmp_path):
    template = "{relation_name} / {relation_name} / {relation_name}"
    with InvoiceWorld(tmp_path, **{"invoices.description_template": template}) as world:
        world.invoice(world.customer("D1001", "Installatiebedrijf " + "Van Der Berg " * 6), "F-1", HIGH)

        world.sync()

        entry = world.entry("F-1")
        assert entry.state is S.BLOCKED and "description of invoice F-1" in entry.reason
        assert "at most 200" in entry.way_out and world.eb_calls("AddMutatie") == 0


def test_the_way_out_names_the_marker_field_as_configured_the_one_pvsync_writes(world):
    from core.config.write import update_config_paths

    # One setting for the marker: [perfectview.fields] "invoice.booked_marker", here by its technical Name.
    update_config_paths(world.world.config_path, {("perfectview", "fields", "invoice.booked_marker"): "INV_booked"})
    world.reload_config()
    activity = sent_invoice(world)
    world.pv.set_booked_marker(activity, "geboekt")

    world.sync()

    assert "clear the field 'INV_booked' in PerfectView" in world.entry("F-1").way_out
