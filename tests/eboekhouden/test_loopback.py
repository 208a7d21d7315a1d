"""The client and the simulator over a real loopback socket, and the `serve` entry point the
CLI's `pvsync simulate eboekhouden` runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from core.eboekhouden.soap.simulator import EboekhoudenSimulator, SimCredentials
from core.model import EbRelation
from core.soap.errors import TransportFailure
from core.soap.loopback import LoopbackServer
from core.soap.transport import Timeouts

from .conftest import client_for
from .test_client import payment, sales_invoice

pytestmark = pytest.mark.loopback
REPO = Path(__file__).parents[2]


def test_a_run_over_a_real_socket_with_faults(tmp_path):
    sim = EboekhoudenSimulator(state_file=tmp_path / "eb.json")
    with LoopbackServer(sim) as server:
        url = server.url("/soap.asmx")
        with client_for(sim, url=url, transport=httpx.HTTPTransport()) as client:
            invoice = sales_invoice("2025-5001", relation="D10007")
            number = client.add_booking(invoice)
            client.add_booking(payment(invoice, "121.00"))
            assert "2025-5001" not in {i.invoice_number for i in client.open_items()}
            sim.knobs.faults = {"reset": 1.0}
            with pytest.raises(TransportFailure) as err:
                client.add_relation(EbRelation(code="D50001", bedrijf="Reset B.V."))
            assert err.value.maybe_processed and sim.relation_by_code("D50001") is None
            sim.knobs.faults = {}
        assert sim.calls["CloseSession"] == 1
        sim.knobs.faults, sim.knobs.slow_seconds = {"slow": 1.0}, 2.0
        slow = client_for(sim, url=url, transport=httpx.HTTPTransport(), timeouts=Timeouts(read=0.3))
        with pytest.raises(TransportFailure, match="no answer in time"):
            with slow:
                pass
    restarted = EboekhoudenSimulator(state_file=tmp_path / "eb.json")
    assert restarted.booking(number).invoice_number == "2025-5001"


def test_serve_prints_one_json_line_and_stops_on_sigterm():
    code = "from core.eboekhouden.simulated_service import serve; serve(0, 'empty', 0, '', None)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=REPO, env=env)
    try:
        line = json.loads(process.stdout.readline())
        assert line["service"] == "eboekhouden" and line["url"].startswith("http://127.0.0.1:")
        credentials = SimCredentials(line["username"], line["security_code_1"], line["security_code_2"])
        wsdl = httpx.get(line["url"] + "?WSDL", timeout=5).text
        assert f'location="{line["url"]}"' in wsdl
        with client_for(EboekhoudenSimulator(seed_data="empty"), url=line["url"], transport=httpx.HTTPTransport(),
                        credentials=credentials) as client:
            assert client.relations() == [] and {g.code for g in client.ledgers()} >= {"1010", "1300", "8000"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stdout.read() == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
