"""Canary credentials, planted in the config file and in the environment, are found in 0 places.

The simulators are made to accept the canaries, so everything works with them: a dry
run and a real run at the most verbose logbook level (plus every Python logger at
DEBUG, whatever a library might write), `pvsync check`, `status`, `log`, every console
screen rendered (embedded engine, real data, including setup and its connection test
failing against a service that refuses), and `pvsync simulate` refusing them. Every byte
that came out is searched: stdout, stderr, log records, tracebacks, screenshots, the
state folder's files and the simulators' own output. tests/cli/test_canary_secrets.py
covers config errors and a careless job; this covers the screens, the dry run and the
simulators.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from core import cli
from core.config import write_new_config
from core.eboekhouden.simulated_service import EboekhoudenService
from core.eboekhouden.soap.simulator import SimCredentials
from core.perfectview.simulator import PerfectViewSimulator
from core.secrets import Secret
from core.soap.errors import ServiceError
from core.soap.loopback import LoopbackServer
from tests.eb_apis import APIS
from tests.tui.conftest import settle, wait_until
from tui.app import create_app
from tui.screens.help import HelpScreen
from tui.screens.setup import field_id

pytestmark = pytest.mark.loopback
ROOT = Path(__file__).resolve().parents[2]

IN_CONFIG = {  # written into the 0600 config file (the REST token too: the suite runs on both APIs)
    "eboekhouden.username": "canary-user-7f3e1a",
    "eboekhouden.security_code_1": "cafe0001cafe0002cafe0003cafe0004",
    "perfectview.api_key": "ca9a41e5-0000-4000-8000-00000000a91e",
    "eboekhouden.api_token": "canary-rest-token-ca9a41e5-0000-4000-8000-0000000070c3",
}
IN_ENVIRONMENT = {  # given as the environment variables a deployment sets
    "PVSYNC_EBOEKHOUDEN_SECURITY_CODE_2": "ca9a41e5-0000-4000-8000-0000000c0de2",
    "PVSYNC_PERFECTVIEW_DATABASE_ID": "ca9a41e5-0000-4000-8000-000000000db1",
    "PVSYNC_PERFECTVIEW_USER_ID": "ca9a41e5-0000-4000-8000-0000000005e1",
}
CANARIES = [*IN_CONFIG.values(), *IN_ENVIRONMENT.values()]


def leaks(where: str, text: str | bytes) -> list[tuple[str, str]]:
    data = text if isinstance(text, bytes) else text.encode("utf-8", "replace")
    # Also the forms a canary takes on the wire or in a repr: upper case, without dashes.
    forms = {c: {c, c.upper(), c.replace("-", "")} for c in CANARIES}
    return [(where, canary) for canary, variants in forms.items() for v in variants if v.encode() in data]


@pytest.fixture(scope="module", params=APIS)
def services(request):
    """Both simulators on loopback; pvsync talks to e-Boekhouden over the API of the parameter."""
    service = EboekhoudenService(seed_data="demo", credentials=SimCredentials(
        IN_CONFIG["eboekhouden.username"], IN_CONFIG["eboekhouden.security_code_1"],
        IN_ENVIRONMENT["PVSYNC_EBOEKHOUDEN_SECURITY_CODE_2"], IN_CONFIG["eboekhouden.api_token"]))
    eb = service.soap if request.param == "soap" else service.rest
    pv = PerfectViewSimulator(seed_data="demo", credentials={
        "api_key": IN_CONFIG["perfectview.api_key"], "database_id": IN_ENVIRONMENT["PVSYNC_PERFECTVIEW_DATABASE_ID"],
        "user_id": IN_ENVIRONMENT["PVSYNC_PERFECTVIEW_USER_ID"]})
    with LoopbackServer(service) as eb_server, LoopbackServer(pv) as pv_server:
        yield eb_server.url(service.soap.path if eb is service.soap else "/"), pv_server.url(pv.path), eb, pv


@pytest.fixture
def planted(tmp_path, monkeypatch, services):
    eb_url, pv_url, _, _ = services
    for name in list(os.environ):
        if name.startswith("PVSYNC_"):
            monkeypatch.delenv(name)
    for name, value in IN_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    config, state = tmp_path / "config.toml", tmp_path / "state"
    write_new_config(config, {key: Secret(value) for key, value in IN_CONFIG.items()} | {
        "eboekhouden.api": "soap" if eb_url.endswith(".asmx") else "rest", "eboekhouden.url": eb_url,
        "perfectview.url": pv_url, "logbook.level": "DEBUG",
        "vat.NL.BTW hoog 21%": {"btw_code": "HOOG_VERK_21", "ledger": "8000"}})
    return config, state


@pytest.fixture
def every_log_record():
    """Every record any logger writes, at DEBUG, formatted with its traceback."""
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(logging.Formatter("%(name)s %(message)s").format(record))

    # The root logger for libraries; pvsync's own loggers do not pass their records up.
    loggers, handler = [logging.getLogger(name) for name in ("", "pvsync", "core")], Keep(logging.DEBUG)
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield records
    for logger, level in zip(loggers, levels):
        logger.removeHandler(handler)
        logger.setLevel(level)


def state_files(state: Path) -> list[tuple[str, bytes]]:
    return [(path.name, path.read_bytes()) for path in state.iterdir() if path.is_file()]


def test_cli_runs_dry_and_real_leave_no_canary(planted, capsys, every_log_record):
    config, state = planted
    where = ["--config", str(config), "--state-dir", str(state)]
    found = []
    for argv in (["check"], ["sync", "--dry-run"], ["sync"], ["status", "--json"],
                 ["log", "--level", "DEBUG", "-n", "5000"], ["invoices", "list"], ["report", "open-items"]):
        cli.main([*argv, *where])
        out, err = capsys.readouterr()
        found += leaks(f"{argv[0]} stdout", out) + leaks(f"{argv[0]} stderr", err)
        if argv == ["sync", "--dry-run"]:
            assert "to create" in out and "plan: " in err, "the dry run showed its plan, action by action"
        if argv == ["sync"]:
            assert "booked" in out, "the run did its work with the canary credentials"
    found += [hit for record in every_log_record for hit in leaks("log record", record)]
    found += [hit for name, data in state_files(state) for hit in leaks(name, data)]
    assert every_log_record and found == []


def test_tracebacks_of_a_refused_call_leave_no_canary(planted, services):
    """The client's errors, chained and formatted as a traceback, with the credentials wrong on purpose."""
    from core.config import load_config
    from core.engine.services import eboekhouden_client

    config, _ = planted
    _, _, eb, _ = services
    settings = load_config(config)
    rest = settings.eboekhouden.api == "rest"
    if rest:
        accepted, eb.api_token = eb.api_token, "someone-elses-token"
    else:
        accepted, eb.credentials = eb.credentials, SimCredentials("someone-else", "0" * 32,
                                                                  eb.credentials.security_code_2)
    try:
        with pytest.raises(ServiceError) as caught, eboekhouden_client(settings) as client:
            client.relations()
    finally:
        if rest:
            eb.api_token = accepted
        else:
            eb.credentials = accepted
    text = "".join(traceback.format_exception(caught.value)) + repr(caught.value) + repr(settings)
    assert "refused" in text or "Error" in text
    assert leaks("traceback", text) == []


async def test_every_console_screen_leaves_no_canary(planted, tmp_path, services):
    config, state = planted
    _, pv_url, _, _ = services
    shots: list[tuple[str, str]] = []
    app = create_app(config, state)  # embedded: this console runs the engine with the canaries
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(app, pilot)
        await pilot.press("s")
        await wait_until(pilot, lambda: app.store.runs(limit=1), timeout=60, what="a run with the canaries")
        await settle(app, pilot)
        for mode in ("status", "logbook", "vat", "pending", "setup"):
            app.switch_mode(mode)
            await settle(app, pilot)
            shots.append((mode, app.export_screenshot()))
        # The setup screen's connection test, failing: a service that refuses these values.
        typed = {"perfectview.url": pv_url, "perfectview.api_key": IN_CONFIG["perfectview.api_key"],
                 "perfectview.user_id": IN_ENVIRONMENT["PVSYNC_PERFECTVIEW_USER_ID"],
                 "perfectview.database_id": "ca9a41e5-0000-4000-8000-000000000bad"}
        for key, value in typed.items():
            app.screen.query_one(f"#{field_id(key)}", Input).value = value
        await pilot.press("f4")
        result = app.screen.query_one("#result-perfectview", Static)
        await wait_until(pilot, lambda: str(result.render()).startswith("FAILED"), timeout=30,
                         what="the connection test")
        shots.append(("setup, connection test failed", app.export_screenshot()))
        assert "refused" in str(result.render())
        app.push_screen(HelpScreen(app.screen))
        await settle(app, pilot)
        shots.append(("help", app.export_screenshot()))
        notices = " ".join(str(n.message) for n in app._notifications)
    assert len(shots) == 7 and "Sync" in shots[0][1]
    found = [hit for name, svg in shots for hit in leaks(name, svg)] + leaks("notifications", notices)
    found += [hit for name, data in state_files(state) for hit in leaks(name, data)]
    assert found == []


def test_the_simulators_own_output_shows_no_canary(tmp_path, monkeypatch, capsys):
    """`pvsync simulate` refusing the canaries (they are not its credentials): nothing of them on its output,
    nor on `pvsync check`'s, with e-Boekhouden unreachable on either API."""
    process = subprocess.Popen([sys.executable, "-c", "import sys; from core.cli import main; sys.exit(main())",
                                "simulate", "perfectview", "--port", "0", "--seed", "empty"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={k: v for k, v in os.environ.items() if not k.startswith("PVSYNC_")}
                               | {"PYTHONPATH": str(ROOT)})
    try:
        url = json.loads(process.stdout.readline())["url"]
        for name in list(os.environ):
            if name.startswith("PVSYNC_"):
                monkeypatch.delenv(name)
        for name, value in IN_ENVIRONMENT.items():
            monkeypatch.setenv(name, value)
        found = []
        for api, eb_url in (("soap", "http://127.0.0.1:9/soap.asmx"), ("rest", "http://127.0.0.1:9/")):
            config = tmp_path / f"config-{api}.toml"
            write_new_config(config, {key: Secret(value) for key, value in IN_CONFIG.items()} | {
                "eboekhouden.api": api, "eboekhouden.url": eb_url, "perfectview.url": url})
            assert cli.main(["check", "--config", str(config), "--state-dir", str(tmp_path / "state")]) == 1
            checked, complaints = capsys.readouterr()
            assert "PerfectView   FAILED  reachable, but it refused" in checked
            found += leaks(f"check stdout ({api})", checked) + leaks(f"check stderr ({api})", complaints)
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert found + leaks("simulate stdout", out) + leaks("simulate stderr", err) == []
