"""`check_services`: each service is opened once with the configured credentials and
reported as unreachable, refusing or fine, in words a person can act on. Against the
real clients and simulators over loopback, so the wiring from the config is real too."""

from __future__ import annotations

import shutil
import socket

import pytest

from core.config import load_config, update_config
from core.demo.world import SimulatedWorld
from core.engine import services
from core.soap.caller import MemoryCallMeter

pytestmark = pytest.mark.loopback


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Both simulators on loopback, and the real config file SimulatedWorld writes for them."""
    with SimulatedWorld(tmp_path_factory.mktemp("world"), seed="empty", loopback=True) as world:
        yield world


@pytest.fixture
def config_for(world, tmp_path):
    """The world's config file with `changes` (dotted keys), read by the real loader."""

    def make(**changes):
        path = tmp_path / "config.toml"
        shutil.copy(world.config_path, path)  # keeps its 0600: the credentials are in it
        update_config(path, changes)
        return load_config(path, env={})

    return make


def closed_port_url(path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}{path}"


def test_both_services_answer_and_accept_the_credentials(config_for):
    meter = MemoryCallMeter()
    checks = services.check_services(config_for(), meter=meter)
    assert [(c.service, c.ok) for c in checks] == [("e-Boekhouden", True), ("PerfectView", True)], checks
    assert checks[1].message.startswith("reachable, credentials accepted (")
    # the session was opened and closed again, and every call was metered
    assert meter.count("e-Boekhouden", "OpenSession") == 1
    assert meter.count("e-Boekhouden", "CloseSession") == 1


def test_refused_credentials_and_an_unreachable_service_are_told_apart(config_for):
    config = config_for(**{"eboekhouden.security_code_1": "0" * 32,
                           "perfectview.url": closed_port_url("/V1/perfectview.asmx")})
    eb, pv = services.check_services(config)
    assert (eb.reachable, eb.credentials_ok) == (True, False)
    assert "refused" in eb.message and "security codes" in eb.message
    assert (pv.reachable, pv.credentials_ok) == (False, False)
    assert "not reachable" in pv.message and "could not connect" in pv.message
    assert "0" * 32 not in eb.message


def test_a_missing_adapter_or_a_bug_is_said_in_plain_words(config_for, monkeypatch):
    def missing(config, meter=None, **options):
        raise ModuleNotFoundError("No module named 'core.eboekhouden.soap.client'", name="core.eboekhouden.soap.client")

    class Broken:
        def calls_today(self):
            raise AttributeError("'NoneType' object has no attribute 'UsedCallsToday'")

        def close(self):
            pass

    monkeypatch.setattr(services, "eboekhouden_client", missing)
    monkeypatch.setattr(services, "perfectview_client", lambda config, meter=None, **options: Broken())
    eb, pv = services.check_services(config_for())
    assert not eb.ok and "no e-Boekhouden adapter yet" in eb.message
    assert not pv.ok and "the check itself failed" in pv.message and "this is a bug" in pv.message


def test_the_vat_mappings_ledgers_are_checked_against_the_administrations_chart(world, tmp_path):
    from core.config import set_vat_rule

    path = tmp_path / "config.toml"
    shutil.copy(world.config_path, path)
    assert services.check_vat_ledgers(load_config(path, env={})).ok
    set_vat_rule(path, "NL", "BTW hoog 21%", "HOOG_VERK_21", "4500")
    check = services.check_vat_ledgers(load_config(path, env={}))
    assert check.ok and "warning: " in check.message and "4500 (Kantoorkosten)" in check.message
    set_vat_rule(path, "NL", "BTW 0%", "GEEN", "1010")
    check = services.check_vat_ledgers(load_config(path, env={}))
    assert not check.ok and check.message.startswith('refused: vat.NL."BTW 0%".ledger = "1010": grootboekrekening '
                                                     "1010 (Bank) is a bank or cash ledger")
