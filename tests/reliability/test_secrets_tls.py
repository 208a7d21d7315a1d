"""TLS: certificates are verified for both services, and a custom CA file is the only way in.

Both simulators are served over https on loopback with a self-signed certificate made
for the test. `pvsync check` refuses both (nothing is sent with the credentials) until
the config names that certificate as ca_file; then both answer. The config has no key
that turns verification off (tests/config checks that `verify = false` and the like are
refused).
"""

from __future__ import annotations

import os
import ssl
import subprocess
from pathlib import Path

import pytest

from core import cli
from core.config import write_new_config
from core.eboekhouden.soap.simulator import EboekhoudenSimulator
from core.perfectview.simulator import PerfectViewSimulator
from core.secrets import Secret
from core.soap.loopback import LoopbackServer

pytestmark = pytest.mark.loopback


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return key, cert


def https(server: LoopbackServer, key: Path, cert: Path, path: str) -> str:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.server.socket = context.wrap_socket(server.server.socket, server_side=True)
    return server.url(path).replace("http://", "https://")


@pytest.fixture(scope="module")
def services(certificate):
    key, cert = certificate
    eb, pv = EboekhoudenSimulator(seed_data="empty"), PerfectViewSimulator(seed_data="empty")
    eb_server, pv_server = LoopbackServer(eb), LoopbackServer(pv)
    urls = https(eb_server, key, cert, eb.path), https(pv_server, key, cert, pv.path)
    with eb_server, pv_server:
        yield eb, pv, urls


@pytest.mark.parametrize("trusted", [False, True], ids=["system-store-only", "ca_file-given"])
def test_a_self_signed_https_service_is_refused_unless_its_ca_file_is_given(tmp_path, monkeypatch, capsys,
                                                                            certificate, services, trusted):
    eb, pv, (eb_url, pv_url) = services
    for name in list(os.environ):
        if name.startswith("PVSYNC_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    ca = str(certificate[1]) if trusted else ""
    config = tmp_path / "config.toml"
    credentials = {f"eboekhouden.{k}": v for k, v in vars(eb.credentials).items()} | {
        f"perfectview.{k}": v for k, v in vars(pv.credentials).items()}
    write_new_config(config, {k: Secret(v) for k, v in credentials.items()} | {
        "eboekhouden.api": "soap", "eboekhouden.url": eb_url, "perfectview.url": pv_url, "eboekhouden.ca_file": ca,
        "perfectview.ca_file": ca})
    sessions, pv_calls = eb.calls["OpenSession"], sum(pv.calls.values())

    code = cli.main(["check", "--config", str(config), "--state-dir", str(tmp_path / "state")])

    out = capsys.readouterr().out
    if trusted:
        assert code == 0 and out.count("OK      reachable, credentials accepted") == 2, out
        # One session for the connection test, one for the check of what pvsync assumes (core.assumptions).
        assert eb.calls["OpenSession"] == sessions + 2 and sum(pv.calls.values()) > pv_calls
    else:
        assert code == 1 and out.count("FAILED  not reachable") == 2, out
        assert out.count("CERTIFICATE_VERIFY_FAILED") == 2, "the reason is named"
        assert eb.calls["OpenSession"] == sessions and sum(pv.calls.values()) == pv_calls, "nothing was sent"
