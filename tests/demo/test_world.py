"""The simulated world the demo, the end-to-end tests and the benchmarks stand on."""

from __future__ import annotations

import pytest

from core.demo.world import DEMO_VAT_NL, SimulatedWorld


@pytest.mark.parametrize("loopback", [False, True])
def test_world_config_reaches_both_simulators(tmp_path, loopback):
    with SimulatedWorld(tmp_path, loopback=loopback) as world:
        config = world.config()
        assert config.eboekhouden.url == world.eboekhouden_url
        assert {k: (r.btw_code, r.ledger) for k, r in config.vat.mappings["NL"].items()} == DEMO_VAT_NL
        assert (world.config_path.stat().st_mode & 0o777) == 0o600
        with world.eboekhouden_client() as eb:
            assert any(ledger.code == "1300" for ledger in eb.ledgers())
        pv = world.perfectview_client()
        assert pv.own_country() == "NL"
        engine = world.engine()
        try:
            report = engine.run()
        finally:
            engine.close()
        assert report.outcome == "ok"
