"""The first writes wait for a person: a first run against an administration, and the first
run after the checked assumptions changed, only plan until someone approves.

Against both simulators with the real relations job: what counts is that nothing reaches
e-Boekhouden before the approval, and that it does right after.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.demo.world import SimulatedWorld
from core.engine.health import assess
from core.store.approvals import Approvals
from core.sync.relations import RelationsJob
from tests.sync.relations_world import organisation


@pytest.fixture
def world(tmp_path):
    world = SimulatedWorld(tmp_path, seed="empty", settings={"engine.approve_first_run": True})
    engine = world.engine(mode="embedded", jobs=[RelationsJob(cursor_overlap=timedelta(0))])
    with world.perfectview_client() as pv:
        pv.create_relation(organisation("D1001", "Bakkerij Jansen"), "Klant", None)
    world.pv_engine = engine
    yield world
    engine.close()
    world.close()


def eboekhouden_codes(world):
    return world.eboekhouden.relation_codes()


def approve_from_the_console(engine, by="anna"):
    request_id = engine.store.add_request("approve", {"by": by})
    engine._answer_requests()
    return engine.store.request(request_id)


def test_a_first_run_only_plans_and_says_it_waits_until_a_person_approves(world):
    engine = world.pv_engine
    report = engine.run(trigger="schedule")

    assert eboekhouden_codes(world) == []
    assert report.dry_run and report.waiting
    text = "\n".join(report.summary_lines())
    assert "nothing written, it waits for approval" in text and "create D1001 (Bakkerij Jansen)" in text
    warnings = [e.message for e in engine.store.logbook_page(run_id=report.run_id, level="WARNING")]
    assert any("waits for approval" in m and "first run against this administration" in m for m in warnings)
    wait = Approvals(engine.store).waiting()
    assert wait.run_id == report.run_id and any("create D1001" in line for line in wait.summary)
    health = assess(engine.store)
    assert any("waits for approval" in item for item in health.attention())
    assert health.to_json()["approval"]["waiting"] is True

    # The scheduler does not plan again at every poll while it waits.
    assert all(at > wait.planned_at + timedelta(hours=3) for at in engine.next_due().values())

    request = approve_from_the_console(engine, by="anna")

    assert request.outcome == "ok", request.message
    assert "approved by anna" in request.message
    assert eboekhouden_codes(world) == ["D1001"]
    approval = Approvals(engine.store).last()
    assert approval.approved_by == "anna" and approval.run_id == report.run_id
    assert Approvals(engine.store).waiting() is None
    assert any(e.kind == "approval" and "approved by anna" in e.message
               for e in engine.store.logbook_page(limit=50))
    assert not any("waits for approval" in item for item in assess(engine.store).attention())


def test_after_the_approval_later_runs_write_at_once(world):
    engine = world.pv_engine
    engine.run()
    approve_from_the_console(engine)
    with world.perfectview_client() as pv:
        pv.create_relation(organisation("D1002", "Slagerij Smit"), "Klant", None)

    report = engine.run()

    assert not report.dry_run and report.waiting is None
    assert eboekhouden_codes(world) == ["D1001", "D1002"]


def test_an_administration_pvsync_already_wrote_to_does_not_wait(world):
    engine = world.pv_engine
    update = world.config_path.read_text().replace("approve_first_run = true", "approve_first_run = false")
    world.config_path.write_text(update)
    engine.load_config()
    engine.run()  # linked now, as by an older pvsync without the gate
    update = world.config_path.read_text().replace("approve_first_run = false", "approve_first_run = true")
    world.config_path.write_text(update)
    engine.load_config()

    report = engine.run()

    assert not report.dry_run and report.waiting is None


def test_a_changed_assumptions_fingerprint_makes_the_next_run_wait_again(world):
    engine = world.pv_engine
    store = engine.store
    store.record_assumptions_fingerprint("fp-1")
    engine.run()
    approve_from_the_console(engine)
    assert Approvals(store).last().fingerprint == "fp-1"

    store.record_assumptions_fingerprint("fp-1")  # checked again, nothing changed
    assert not engine.run().dry_run

    store.record_assumptions_fingerprint("fp-2")  # e.g. the Debiteurnummer field was mapped anew
    with world.perfectview_client() as pv:
        pv.create_relation(organisation("D1003", "Kapsalon Knip"), "Klant", None)
    report = engine.run()

    assert report.dry_run and "changed assumptions" in report.waiting
    assert "D1003" not in eboekhouden_codes(world)
    approve_from_the_console(engine, by="piet")
    assert "D1003" in eboekhouden_codes(world)
    assert Approvals(store).last().fingerprint == "fp-2"
    assert not engine.run().dry_run


def test_the_first_fingerprint_of_a_running_installation_is_its_baseline(world):
    engine = world.pv_engine
    engine.run()
    approve_from_the_console(engine)

    engine.store.record_assumptions_fingerprint("fp-first")

    assert not engine.run().dry_run


def test_approving_when_nothing_waits_records_nothing(world):
    engine = world.pv_engine
    engine.run()
    approve_from_the_console(engine)

    request = approve_from_the_console(engine, by="someone-else")

    assert request.message == "nothing waits for approval"
    assert Approvals(engine.store).last().approved_by == "anna"


def test_on_the_demo_organisation_nothing_is_booked_or_created_until_approved(tmp_path):
    with SimulatedWorld(tmp_path, seed="demo", settings={"engine.approve_first_run": True}) as world:
        engine = world.engine(mode="embedded")
        try:
            relations_before = sorted(world.eboekhouden.relation_codes())
            mutations_before = len(world.eboekhouden.mutations)

            report = engine.run(trigger="schedule", only=["payments"])

            assert report.dry_run and report.waiting
            assert [job.job for job in report.jobs] == ["relations", "invoices", "payments"]  # the whole plan
            assert sorted(world.eboekhouden.relation_codes()) == relations_before
            assert len(world.eboekhouden.mutations) == mutations_before
            plan = "\n".join(Approvals(engine.store).waiting().summary)
            assert "relations" in plan and "invoices" in plan

            approve_from_the_console(engine, by="anna")

            assert len(world.eboekhouden.mutations) > mutations_before
            assert sorted(world.eboekhouden.relation_codes()) != relations_before
        finally:
            engine.close()


def test_a_fingerprint_kept_straight_in_the_cursor_counts_the_same(world):
    """`pvsync check` (core.assumptions.remember_fingerprint) sets the cursor itself."""
    engine = world.pv_engine
    engine.run()
    approve_from_the_console(engine)
    engine.store.set_cursor("assumptions.fingerprint", "fp-a")
    assert not engine.run().dry_run  # the first fingerprint seen: the baseline

    engine.store.set_cursor("assumptions.fingerprint", "fp-b")

    assert "changed assumptions" in engine.run().waiting
