"""The client and simulator over a real loopback socket, and the simulator as a process."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from core.model import RelationKind
from core.perfectview.simulator import PerfectViewSimulator, SimCredentials
from core.soap.errors import TransportFailure
from core.soap.loopback import LoopbackServer
from core.soap.simulator import Knobs
from core.soap.transport import Timeouts

from tests.perfectview.conftest import connect, organisation

pytestmark = pytest.mark.loopback
ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize("soap12", [False, True])
def test_client_over_a_real_socket(soap12):
    sim = PerfectViewSimulator(Knobs(seed=21), seed_data="empty")
    with LoopbackServer(sim) as server:
        url = server.url(sim.path)
        wsdl = httpx.get(url + "?WSDL").text
        assert f'location="{url}"' in wsdl and 'name="ActivityFlow"' in wsdl
        client = connect(sim, url=url, transport=httpx.HTTPTransport(), soap12=soap12)
        relation_id = client.create_relation(organisation(), "Klant", "Sanne de Vries")
        activity_id = client.create_invoice(relation_id, "F-77", date(2025, 6, 1))
        client.add_product_line(activity_id, "Arbeid", Decimal("2"), Decimal("62.50"), "BTW hoog 21%", "UUR")
        client.move_to_step(activity_id, "Verstuurd")
        [invoice] = list(client.sales_invoices())
        assert invoice.step == "Verstuurd" and invoice.lines[0].total_amount == Decimal("125.00")
        assert client.relation(relation_id).account_manager_id == client.user_id("Sanne de Vries")
        client.close()


def test_a_stalled_answer_is_a_timeout_and_a_dropped_one_is_unknown():
    sim = PerfectViewSimulator(Knobs(seed=22, slow_seconds=2.0), seed_data="empty")
    with LoopbackServer(sim) as server:
        client = connect(sim, url=server.url(sim.path), transport=httpx.HTTPTransport(),
                         timeouts=Timeouts(read=0.3))
        client.relation_field_map(RelationKind.ORGANISATION), client.countries(), client.relation_types()
        client.relationship_type_id("Relatie")
        sim.knobs.faults = {"slow": 1.0}
        with pytest.raises(TransportFailure, match="no answer in time") as slow:
            client.create_relation(organisation(), "Klant", None)
        assert slow.value.maybe_processed and sim.calls["RelationCreate"] == 1, "a write is not retried"
        assert organisation().name in [r["DisplayName"] for r in sim.db["relations"].values()], \
            "the service committed it: the outcome is unknown to the client, not failed"
        sim.knobs.faults = {"reset": 1.0}
        with pytest.raises(TransportFailure):
            client.create_relation(organisation(name="Tweede"), "Klant", None)
        assert [r["DisplayName"] for r in sim.db["relations"].values()].count("Tweede") == 0


def _start(state: Path) -> tuple[subprocess.Popen, dict]:
    code = f"from core.perfectview.simulator import serve; serve(0, seed='empty', state={str(state)!r})"
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    ready, _, _ = select.select([process.stdout], [], [], 30)
    if not ready:
        process.kill()
        pytest.fail("the simulator printed nothing within 30 s")
    return process, json.loads(process.stdout.readline())


def _credentials(announced: dict) -> SimCredentials:
    return SimCredentials(announced["api_key"], announced["database_id"], announced["user_id"])


def _stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def test_serve_prints_one_json_line_and_keeps_state_in_a_file(tmp_path):
    state = tmp_path / "perfectview.json"
    process, announced = _start(state)
    try:
        assert set(announced) == {"service", "url", "api_key", "database_id", "user_id"}
        assert announced["service"] == "perfectview" and announced["url"].endswith("/V1/perfectview.asmx")
        client = connect(None, url=announced["url"], transport=httpx.HTTPTransport(),
                         credentials=_credentials(announced))
        relation_id = client.create_relation(organisation(), "Klant", None)
    finally:
        assert _stop(process) == 0
    assert process.stdout.read() == "", "exactly one line on stdout"

    again, announced_again = _start(state)
    try:
        assert _credentials(announced_again) == _credentials(announced), "the same database after a restart"
        client = connect(None, url=announced_again["url"], transport=httpx.HTTPTransport(),
                         credentials=_credentials(announced_again))
        assert client.relation(relation_id).name == organisation().name
    finally:
        assert _stop(again) == 0
