"""Status on e-Boekhouden's REST API: calls counted without a budget, and a token that
e-Boekhouden refuses (expired or revoked) told as the one thing a person must do."""

from __future__ import annotations

import json

from core import cli
from core.demo.world import SimulatedWorld
from core.engine.health import Watch, assess, read_watch
from core.store import Store
from core.sync.relations import RelationsJob
from tests.engine.test_health import beating, store  # noqa: F401 (a fixture)

REST = Watch(mutaties_budget=10, eboekhouden_api="rest")
SOAP = Watch(mutaties_budget=10, eboekhouden_api="soap")
TOKEN_PAGE = "Beheer > Inrichting > Koppelingen > API > e-Boekhouden API"


def test_rest_counts_calls_without_the_getmutaties_budget(store):
    beating(store)
    for _ in range(9):
        store.record("e-Boekhouden", "GetMutaties")  # counted under SOAP earlier this month
        store.record("e-Boekhouden", "GET /v1/mutation")
    run_id = store.start_run("schedule", ["invoices"], "h")
    store.finish_run(run_id, "ok", {}, None, job_outcomes={"invoices": "ok"})
    assert [a.kind for a in assess(store, watch=SOAP).alerts] == ["mutaties_budget"]
    health = assess(store, watch=REST)
    assert [a.kind for a in health.alerts] == [], "the budget is SOAP's: REST publishes no quota"
    eboekhouden, perfectview = health.services
    assert eboekhouden.verdict().endswith("18 REST calls today (no published quota)")
    assert assess(store, watch=SOAP).services[0].verdict().endswith("18 SOAP calls today")
    assert perfectview.verdict().endswith("0 calls today")


def test_a_failed_rest_call_makes_the_link_failing(store):
    beating(store)
    run_id = store.start_run("schedule", ["invoices"], "h")
    store.log("ERROR", "run", "invoices failed: TransportFailure: e-Boekhouden GET /v1/mutation for F1: "
                              "not reachable (connection refused)", run_id=run_id)
    store.finish_run(run_id, "failed", {}, "invoices: boom", job_outcomes={"invoices": "failed"})
    eboekhouden, _ = assess(store, watch=REST).services
    assert eboekhouden.state == "FAILING"
    assert eboekhouden.message.startswith("GET /v1/mutation for F1: not reachable")


def _world_with_rejected_token(tmp_path, how: str) -> SimulatedWorld:
    world = SimulatedWorld(tmp_path, eboekhouden_api="rest", seed="empty")
    getattr(world.eboekhouden_service.rest, how)()
    engine = world.engine(jobs=[RelationsJob()])
    try:
        engine.run(trigger="cli")
    finally:
        engine.close()
    return world


def test_an_expired_token_needs_attention_and_says_where_a_new_one_is_made(tmp_path):
    with _world_with_rejected_token(tmp_path, "expire_token") as world:
        with Store.open(world.state_dir, create=False) as store:
            health = assess(store, watch=read_watch(world.config_path))
    eboekhouden = health.services[0]
    assert eboekhouden.state == "FAILING" and eboekhouden.token_rejected
    first = health.attention()[0]
    assert first.startswith("e-Boekhouden refuses the API token (expired or revoked)")
    assert TOKEN_PAGE in first and "eboekhouden.api_token" in first
    assert health.exit_code != 0 and any("the last run (1) failed" in item for item in health.attention())


def test_pvsync_status_tells_a_revoked_token(tmp_path, capsys):
    with _world_with_rejected_token(tmp_path, "revoke_token") as world:
        args = ["--state-dir", str(world.state_dir), "--config", str(world.config_path), "status"]
        code = cli.main(args)
        out = capsys.readouterr().out
        cli.main([*args, "--json"])
        report = json.loads(capsys.readouterr().out)
    assert code != 0, "unhealthy"
    assert "Health:   e-Boekhouden refuses the API token" in out and TOKEN_PAGE in out
    assert "Links:    e-Boekhouden  FAILING" in out
    assert report["services"]["e-Boekhouden"]["token_rejected"] is True
    assert report["services"]["e-Boekhouden"]["api"] == "rest"
    assert world.eboekhouden.credentials.api_token not in out, "the token itself is never shown"
