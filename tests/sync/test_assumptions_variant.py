"""Meeting a PerfectView database set up by someone else: `pvsync check` names every mismatch
with the lines to fix it, the jobs refuse to write until then, and after the suggested
lines relations, invoices and payments all work (issue 16).

The "custom" simulated database (core/perfectview/sim_database.py) labels the Debiteurnummer
"Debiteurnr.", calls its invoice workflow "Factuur" with steps Nieuw/Verzonden/Voldaan, has
other relation types, and its ActivityFlow wants a transition's own Id.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest

from core import cli
from core.config import update_config
from core.config.write import update_config_paths
from core.demo.world import SimulatedWorld
from core.perfectview.client import PerfectViewClient
from core.model import Address, Booking, BookingLine, CrmRelation, MutatieSoort, RelationKind

D = Decimal
TODAY = date.today()
# What the database's own users see in PerfectView: how the test fills it, as they would.
CUSTOMERS_VIEW = {"organisation.debtor_number": "Administratie / Debiteurnr.",
                  "organisation.email": "Communicatie / E-mail", "person.debtor_number": "Financieel / Debiteurnr.",
                  "relationship.account_manager": "Algemeen / Accountmanager",
                  "invoice.invoice_number": "Factuurgegevens / Factuurnr.",
                  "invoice.booked_marker": "Boekhouding / Geboekt"}
# Where a check offers several names, the one the administrator picks (it must be offered).
CHOICES = {"perfectview.step.sent_step": "Verzonden", "perfectview.step.paid_step": "Voldaan",
           "perfectview.relation_type.import": "Debiteur"}


@pytest.fixture
def world(tmp_path):
    # On sockets: `pvsync check` makes its own clients from the config, as for a customer.
    with SimulatedWorld(tmp_path, seed="empty", perfectview_variant="custom", loopback=True) as world:
        yield world


def customers_client(world) -> PerfectViewClient:
    """A PerfectView client that knows the custom database, as its users do."""
    pv = world.config().perfectview
    return PerfectViewClient(world.perfectview_url, pv.api_key, pv.database_id, pv.user_id,
                             http=world.http_for(world.perfectview), field_names=CUSTOMERS_VIEW,
                             customer_relationship_type="Klantrelatie")


def fill(world):
    """One customer with a sent invoice in PerfectView; the bookkeeper's e-Boekhouden is empty."""
    pv = customers_client(world)
    relation = pv.create_relation(CrmRelation(id="", kind=RelationKind.ORGANISATION, debtor_number="D100",
                                              name="Bakkerij Jansen B.V.", email="info@jansen.nl",
                                              visiting_address=Address("Kerkstraat", "1", "", "3511 AA", "Utrecht",
                                                                       "NL")),
                                  "Debiteur", "Joost Bakker")
    activity = pv.create_invoice(relation, "F2026-001", TODAY, TODAY + timedelta(days=30), workflow="Factuur",
                                 step="Verzonden")
    pv.add_product_line(activity, "Onderhoudsbeurt", D(1), D(100), "BTW hoog 21%")
    pv.close()
    return activity


def check(capsys, world) -> tuple[int, dict]:
    capsys.readouterr()
    code = cli.main(["--config", str(world.config_path), "--state-dir", str(world.state_dir), "check", "--json"])
    return code, json.loads(capsys.readouterr().out)


def blocking(result: dict) -> dict[str, dict]:
    return {a["key"]: a for a in result["assumptions"] if a["status"] == "missing" and a["needed"]}


def apply_suggestions(world, findings: dict[str, dict]) -> None:
    """What the admin does with `pvsync check`'s answer: one offered line per missing thing."""
    changes = {}
    for key, finding in findings.items():
        wanted = CHOICES.get(key, finding["candidates"][0])
        change = finding["config_changes"][finding["candidates"].index(wanted)]
        changes[tuple(change["key"])] = change["value"]
    update_config_paths(world.config_path, changes)


def test_a_database_set_up_otherwise_is_refused_untouched_then_works_after_the_suggested_lines(capsys, world,
                                                                                                 monkeypatch):
    monkeypatch.delenv("PVSYNC_CONFIG", raising=False)
    activity = fill(world)
    pv_events = len(world.perfectview.events)

    # 1. pvsync check names every mismatch, with the nearest names and the lines.
    code, result = check(capsys, world)
    assert code == 1 and not result["ok"]
    missing = blocking(result)
    # The workflow's steps and fields too, checked against the workflow check proposes for it.
    assert set(missing) == {"perfectview.field.organisation.debtor_number", "perfectview.field.organisation.email",
                            "perfectview.field.person.debtor_number", "perfectview.workflow",
                            "perfectview.step.sent_step", "perfectview.step.paid_step",
                            "perfectview.field.invoice.invoice_number", "perfectview.field.invoice.booked_marker"}
    debtor = missing["perfectview.field.organisation.debtor_number"]
    assert debtor["detail"] == ("Organisation has no field Administratie / Debiteurnummer; fields in Administratie: "
                                "Debiteurnr., Crediteurnr.")
    assert debtor["config_lines"][0] == ["[perfectview.fields]",
                                         '"organisation.debtor_number" = "Administratie / Debiteurnr."']
    assert missing["perfectview.workflow"]["candidates"][0] == "Factuur"
    for key in ("perfectview.step.sent_step", "perfectview.step.paid_step", "perfectview.field.invoice.booked_marker"):
        assert missing[key]["checked_against"] == "Factuur"
        assert missing[key]["detail"].endswith("checked against workflow 'Factuur', the one suggested above")
    assert missing["perfectview.step.paid_step"]["candidates"] == ["Voldaan", "Verzonden", "Nieuw"]
    assert missing["perfectview.field.invoice.booked_marker"]["config_lines"][0] == [
        "[perfectview.fields]", '"invoice.booked_marker" = "Boekhouding / Geboekt"']
    country = next(a for a in result["assumptions"] if a["key"] == "perfectview.own_country")
    assert country["status"] == "ok"  # compared in this round too, though Debiteurnummer is not found yet
    transition = next(a for a in result["assumptions"] if a["key"] == "perfectview.transition.paid")
    assert transition["what"].startswith("How an invoice moves from 'Verzonden' to 'Voldaan'")

    # 2. A run with the default config is refused in the same words, and writes nothing anywhere.
    engine = world.engine()
    try:
        report = engine.run(trigger="cli")
        errors = [e.message for e in engine.store.logbook_page(limit=50, level="ERROR")]
    finally:
        engine.close()
    assert {o.job: o.status for o in report.jobs} == {"relations": "failed", "invoices": "failed",
                                                      "payments": "failed"}
    invoices_refusal = next(m for m in errors if m.startswith("invoices did not start, nothing was written"))
    assert "Organisation has no field Administratie / Debiteurnummer; fields in Administratie: Debiteurnr." \
        in invoices_refusal and "[invoices] workflow = \"Factuur\"" in invoices_refusal
    assert world.eboekhouden.relation_codes() == [] and world.eboekhouden.bookings_for_invoice("F2026-001") == []
    assert all(not e.startswith(("RelationCreate", "RelationUpdate", "Activity")) for e in
               world.perfectview.events[pv_events:])

    # 3. The admin sets the lines check offers, and checks again until nothing is missing.
    rounds = 0
    while missing:
        apply_suggestions(world, missing)
        rounds += 1
        code, result = check(capsys, world)
        missing = blocking(result)
        assert rounds < 4, missing
    assert code == 0 and result["ok"]
    assert rounds == 1  # every mismatch is named in the first round, the workflow's steps and fields included

    # 4. Relations and invoices work: the customer is in e-Boekhouden, the invoice booked once and marked.
    engine = world.engine()
    try:
        report = engine.run(trigger="cli")
    finally:
        engine.close()
    assert {o.job: o.status for o in report.jobs} == {"relations": "ok", "invoices": "ok", "payments": "ok"}
    assert world.eboekhouden.relation_codes() == ["D100"]
    (booking,) = world.eboekhouden.bookings_for_invoice("F2026-001")
    pv = customers_client(world)
    assert pv.invoice(activity).booked_marker.endswith(f"mutatie {booking.number}")  # in "Boekhouding / Geboekt"

    # 5. Payments: the step's Id is refused by this database; the log says which line to set.
    eb = world.eboekhouden_client()
    with eb:
        eb.add_booking(Booking(MutatieSoort.FACTUURBETALING_ONTVANGEN, TODAY, "1010", relation_code="D100",
                               invoice_number="F2026-001", description="Betaling F2026-001", in_ex_vat="EX",
                               lines=(BookingLine(D("121.00"), D(0), D("121.00"), "GEEN", D(0), "1300",
                                                  amount_entered=D("121.00")),)))
    engine = world.engine()
    try:
        engine.run(trigger="cli", only=["payments"])
        errors = [e.message for e in engine.store.logbook_page(limit=20, level="ERROR", kinds=["payment"])]
    finally:
        engine.close()
    assert any("set invoices.paid_transition" in m for m in errors), errors
    assert pv.invoice(activity).step == "Verzonden"

    # The transition's Id, read where the admin reads it (PerfectView's workflow settings).
    update_config(world.config_path, {"invoices.paid_transition":
                                      world.perfectview.transition_id("Factuur", "Verzonden", "Voldaan")})
    engine = world.engine()
    try:
        report = engine.run(trigger="cli", only=["payments"])
    finally:
        engine.close()
    assert report.jobs[0].status == "ok"
    assert pv.invoice(activity).step == "Voldaan"
    pv.close()


def test_the_custom_database_is_offered_by_the_simulate_command(capsys):
    code = cli.main(["simulate", "perfectview", "--port", "0", "--variant", "custom"])
    assert code == 1 and "--seed empty" in capsys.readouterr().err
