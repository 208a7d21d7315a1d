"""`check_services`: each service is opened once with the configured credentials and
reported as unreachable, refusing or fine, in words a person can act on. Against the
real clients and simulators over loopback, so the wiring from the config is real too."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest

from core.eboekhouden.simulator import EboekhoudenSimulator
from core.engine import services
from core.perfectview.simulator import PerfectViewSimulator
from core.secrets import Secret
from core.soap.caller import MemoryCallMeter
from core.soap.loopback import LoopbackServer

pytestmark = pytest.mark.loopback


@pytest.fixture(scope="module")
def simulators():
    eb, pv = EboekhoudenSimulator(seed_data="empty"), PerfectViewSimulator(seed_data="empty")
    with LoopbackServer(eb) as eb_server, LoopbackServer(pv) as pv_server:
        yield SimpleNamespace(eb=eb, pv=pv, eb_url=eb_server.url(eb.path), pv_url=pv_server.url(pv.path))


def config_for(sims, *, eb_url=None, pv_url=None, wrong_code=False):
    eb, pv = sims.eb.credentials, sims.pv.credentials
    code_1 = "0" * 32 if wrong_code else eb.security_code_1
    return SimpleNamespace(
        eboekhouden=SimpleNamespace(url=eb_url or sims.eb_url, username=Secret(eb.username),
                                    security_code_1=Secret(code_1), security_code_2=Secret(eb.security_code_2),
                                    connect_timeout=2.0, read_timeout=5.0, ca_file=None),
        perfectview=SimpleNamespace(url=pv_url or sims.pv_url, api_key=Secret(pv.api_key),
                                    database_id=Secret(pv.database_id), user_id=Secret(pv.user_id),
                                    connect_timeout=2.0, read_timeout=5.0, ca_file=None),
        engine=SimpleNamespace(concurrency=4))


def closed_port_url(path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}{path}"


def test_both_services_answer_and_accept_the_credentials(simulators):
    meter = MemoryCallMeter()
    checks = services.check_services(config_for(simulators), meter=meter)
    assert [(c.service, c.ok) for c in checks] == [("e-Boekhouden", True), ("PerfectView", True)], checks
    assert checks[1].message.startswith("reachable, credentials accepted (")
    # the session was opened and closed again, and every call was metered
    assert meter.count("e-Boekhouden", "OpenSession") == 1
    assert meter.count("e-Boekhouden", "CloseSession") == 1


def test_refused_credentials_and_an_unreachable_service_are_told_apart(simulators):
    config = config_for(simulators, wrong_code=True, pv_url=closed_port_url("/V1/perfectview.asmx"))
    eb, pv = services.check_services(config)
    assert (eb.reachable, eb.credentials_ok) == (True, False)
    assert "refused" in eb.message and "security codes" in eb.message
    assert (pv.reachable, pv.credentials_ok) == (False, False)
    assert "not reachable" in pv.message and "could not connect" in pv.message
    assert "0" * 32 not in eb.message


def test_a_missing_adapter_or_a_bug_is_said_in_plain_words(simulators, monkeypatch):
    def missing(config, meter=None, **options):
        raise ModuleNotFoundError("No module named 'core.eboekhouden.client'", name="core.eboekhouden.client")

    class Broken:
        def calls_today(self):
            raise AttributeError("'NoneType' object has no attribute 'UsedCallsToday'")

        def close(self):
            pass

    monkeypatch.setattr(services, "eboekhouden_client", missing)
    monkeypatch.setattr(services, "perfectview_client", lambda config, meter=None, **options: Broken())
    eb, pv = services.check_services(config_for(simulators))
    assert not eb.ok and "no e-Boekhouden adapter yet" in eb.message
    assert not pv.ok and "the check itself failed" in pv.message and "this is a bug" in pv.message
