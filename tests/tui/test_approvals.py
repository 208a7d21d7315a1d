"""The Approvals modal (key w): the plan that waits for approval and the proposed twins, and
the requests its keys write for the engine."""

from __future__ import annotations

import json

import pytest

from core.store import store as store_module
from core.store.twin_proposals import ProposedTwin, TwinProposals
from tests.tui.conftest import NOW, settle
from tests.tui.test_snapshots import seed_world, snapshot_app
from tui.screens.approvals import ApprovalsScreen

PLAN = ["Run 4 (schedule, dry run): ok in 2.1 s; nothing written, it waits for approval",
        "  relations ok          dry run (full pass), nothing written: 3 to create, 0 to update, 2 to import, "
        "1 proposed as twins (pvsync relations proposals), 0 skipped, 0 unchanged",
        "  invoices  ok          dry run: 5 to book",
        "  Waits for approval: the first run against this administration (nothing is linked or booked in it yet).",
        "  Approve with `pvsync approve` or in the console (w, then a); the next run then writes."]


@pytest.fixture
def world(store, monkeypatch):
    seed_world(store, monkeypatch)
    with store.write():
        store.conn.execute("INSERT INTO approval_wait (id, run_id, reason, summary_json, since, planned_at) "
                           "VALUES (1, 4, ?, ?, ?, ?)",
                           ("first run against this administration (nothing is linked or booked in it yet)",
                            json.dumps(PLAN), NOW.isoformat(), NOW.isoformat()))
    monkeypatch.setattr(store_module, "utc_now", lambda: NOW)
    proposals = TwinProposals(store)
    proposals.propose("1004", "Bakkerij De Vries B.V.",
                      [ProposedTwin("pv-1", "Bakkerij de Vries", ("IBAN NL91ABNA0417164300",))])
    proposals.propose("1007", "Garage Jansen", [ProposedTwin("pv-2", "Garage Jansen", ("KvK number 12345678",)),
                                                ProposedTwin("pv-3", "Jansen Auto's", ("e-mail address info@jansen.nl",))])
    return store


async def open_approvals(pilot):
    await settle(pilot.app, pilot)
    await pilot.press("w")
    await settle(pilot.app, pilot)


def test_the_modal_at_80x24(snap_compare, world, config_path, state_dir):
    assert snap_compare(snapshot_app(config_path, state_dir, "1"), terminal_size=(80, 24), run_before=open_approvals)


async def test_approve_and_link_write_requests_for_the_engine(world, config_path, state_dir):
    app = snapshot_app(config_path, state_dir, "1")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_approvals(pilot)
        await pilot.press("down", "down", "l")  # the second candidate of 1007
        await settle(app, pilot)
        assert not isinstance(app.screen, ApprovalsScreen)  # a decision closes the modal
        await open_approvals(pilot)
        await pilot.press("a")
        await settle(app, pilot)
    rows = world.conn.execute("SELECT kind, payload_json FROM requests ORDER BY id").fetchall()
    kinds = [(kind, json.loads(payload)) for kind, payload in rows]
    assert kinds[0][0] == "relation_twin"
    assert {k: kinds[0][1][k] for k in ("code", "decision", "relation")} == {"code": "1007", "decision": "accept",
                                                                            "relation": "pv-3"}
    assert kinds[1][0] == "approve" and kinds[1][1]["by"]


def test_status_names_the_waiting_plan_and_the_twins(world):
    from tui.state import read_state

    state = read_state(world, NOW, alive=lambda pid: True)
    assert any("waits for approval" in item.text for item in state.attention)
    assert any("2 proposed twin(s) wait for you" in item.text for item in state.attention)
