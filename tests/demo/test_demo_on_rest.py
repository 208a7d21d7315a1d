"""The demo on e-Boekhouden's REST API (its default): every feature a person meets in the demo
works there, over the loopback sockets the console and the daemon use."""

from __future__ import annotations

from core import cli
from core.assumptions import check_assumptions
from core.demo.scenario import build_demo
from core.engine.health import assess, read_watch
from core.engine.services import RunServices
from core.store import Store
from core.sync.catalog_snapshot import load_snapshot
from core.sync.open_items_report import read_open_items_report

REST_OPERATIONS = ("POST /v1/session", "GET /v1/ledger", "GET /v1/mutation/invoice/outstanding")


def test_every_feature_of_the_demo_works_on_rest(tmp_path, capsys):
    demo = build_demo(tmp_path, relations=5, invoices=3)
    world = demo.world
    try:
        config = world.config()
        assert config.eboekhouden.api == "rest"
        engine = world.engine()
        try:
            engine.run(trigger="cli")
        finally:
            engine.close()
        with Store.open(world.state_dir, create=False) as store:
            run = store.last_run()
            assert run.outcome in ("ok", "partial"), run.error
            assert set(run.job_outcomes) == {"relations", "invoices", "payments"}
            assert store.logbook_page(text="created", kinds=["relation"], limit=1), "relations reached e-Boekhouden"
            assert store.logbook_page(text="booked in e-Boekhouden", kinds=["invoice"], limit=1)
            for operation in REST_OPERATIONS:
                assert store.count_today("e-Boekhouden", operation) >= 1, operation
            assert store.count_today("e-Boekhouden", "OpenSession") == 0, "no SOAP call at all"

            snapshot = load_snapshot(store)  # what the VAT screen offers
            assert snapshot is not None and {"8000", "8010"} <= {ledger.code for ledger in snapshot.ledgers}
            assert snapshot.revenue_ledgers()

            report = read_open_items_report(store, config)  # pvsync report open-items, the console's report
            assert report.as_lines()

            health = assess(store, watch=read_watch(world.config_path))
            eboekhouden = health.services[0]
            assert eboekhouden.state == "OK" and "REST calls today (no published quota)" in eboekhouden.verdict()
            assert not [alert for alert in health.alerts if alert.kind == "mutaties_budget"]

        services = RunServices(config, None)
        try:
            findings = check_assumptions(config, services.perfectview, services.eboekhouden)
        finally:
            services.close()
        assert not [f for f in findings if f.blocks and f.service == "e-Boekhouden"], findings

        code = cli.main(["--config", str(world.config_path), "--state-dir", str(world.state_dir), "status"])
        out = capsys.readouterr().out
        assert "Links:    e-Boekhouden  OK" in out and "REST calls today" in out, out
        assert code in (0, 2)  # the engine ran and stopped: nothing failed
    finally:
        demo.close()
