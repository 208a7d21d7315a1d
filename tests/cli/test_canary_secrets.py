"""Secrets never reach the database, the logbook, stdout, stderr or error texts.

Canary values stand in for every credential, given the way an admin gives them (the
environment), through the real config loader and the real service clients. The test
goes through config errors (a malformed secret, a missing one), `pvsync check` against
a closed port and against a simulator that refuses the credentials, a run whose job is
careless with the credentials on purpose (logs them, raises with them), `status
--json` and `log`; then it searches every byte that came out, and the database files,
for the canaries.
"""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest

from core import cli
from core.config import write_new_config
from core.engine import jobs
from core.perfectview.simulator import PerfectViewSimulator
from core.soap.loopback import LoopbackServer
from tests.engine.stand_in_jobs import StandInJob

pytestmark = pytest.mark.loopback

# The username is kept out of the request logs but is no secret inside other text: a
# username such as "pvsync" must not blank out "/tmp/pvsync-..." in the logbook.
USERNAME = "pvsync"
CANARIES = {
    "PVSYNC_EBOEKHOUDEN_API_TOKEN": "canary-api-token-9e4d21",
    "PVSYNC_EBOEKHOUDEN_SECURITY_CODE_1": "c0ffee11c0ffee22c0ffee33c0ffee44",
    "PVSYNC_EBOEKHOUDEN_SECURITY_CODE_2": "0ca0a71e-0000-4000-8000-00000000c0d2",
    "PVSYNC_PERFECTVIEW_API_KEY": "0ca0a71e-0000-4000-8000-0000000a91e7",
    "PVSYNC_PERFECTVIEW_DATABASE_ID": "0ca0a71e-0000-4000-8000-000000000db1",
    "PVSYNC_PERFECTVIEW_USER_ID": "0ca0a71e-0000-4000-8000-0000000005e1",
}
MALFORMED = "canary-not-hex-77d2e0"  # a security code 1 given wrongly, for the config error


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class CarelessJob(StandInJob):
    def run(self, ctx):
        eb, pv = ctx.config.eboekhouden, ctx.config.perfectview
        everything = " ".join(s.reveal() for s in (eb.username, eb.api_token, eb.security_code_1, eb.security_code_2,
                                                    pv.api_key, pv.database_id, pv.user_id))
        ctx.log("DEBUG", "invoice", f"request was {everything} from /tmp/{eb.username.reveal()}-demo/state",
                subject=everything, details={"sent": everything})
        raise RuntimeError(f"SessionID {everything} expired")


@pytest.mark.parametrize("api", ["rest", "soap"])
def test_no_secret_leaves_the_process(capsys, monkeypatch, tmp_path, api):
    state_dir, config_file = tmp_path / "state", tmp_path / "config.toml"
    simulator = PerfectViewSimulator(seed_data="empty")  # it accepts other credentials than ours
    eboekhouden_path = "/soap.asmx" if api == "soap" else ""
    with LoopbackServer(simulator) as server:
        write_new_config(config_file, {"eboekhouden.api": api,
                                       "eboekhouden.url": f"http://127.0.0.1:{closed_port()}{eboekhouden_path}",
                                       "perfectview.url": server.url(simulator.path), "logbook.level": "DEBUG"})
        for variable, value in CANARIES.items():
            monkeypatch.setenv(variable, value)
        monkeypatch.setenv("PVSYNC_EBOEKHOUDEN_USERNAME", USERNAME)
        monkeypatch.setenv("PVSYNC_CONFIG", str(config_file))
        monkeypatch.setenv("PVSYNC_STATE_DIR", str(state_dir))
        outputs: list[str] = []

        def pvsync(*argv):
            code = cli.main(list(argv))
            out, err = capsys.readouterr()
            outputs.extend([out, err])
            return code

        # config errors: a malformed security code, and one that is missing
        monkeypatch.setenv("PVSYNC_EBOEKHOUDEN_SECURITY_CODE_1", MALFORMED)
        monkeypatch.delenv("PVSYNC_PERFECTVIEW_USER_ID")
        assert pvsync("config", "check") == 1
        assert pvsync("sync") == 1
        assert "security_code_1" in outputs[-1] and "user_id" in outputs[-1]
        for variable, value in CANARIES.items():
            monkeypatch.setenv(variable, value)

        # e-Boekhouden unreachable, PerfectView refusing: real clients, credentials in the envelopes
        assert pvsync("check") == 1
        assert "e-Boekhouden  FAILED  not reachable" in outputs[-2]
        assert "PerfectView   FAILED  reachable, but it refused" in outputs[-2]

    # a run whose job mishandles the credentials
    monkeypatch.setitem(jobs._REGISTRY, "invoices", CarelessJob("invoices", "invoice",
                                                                lambda c: timedelta(hours=4), lambda c: True))
    assert pvsync("sync") == 1
    assert pvsync("status", "--json") == 2
    assert pvsync("log", "--level", "DEBUG", "-n", "500") == 0
    assert "RuntimeError: SessionID pvsync ******** " in "".join(outputs), "the canaries never reached an output"
    assert f"request was {USERNAME} ******** " in outputs[-2], "the username reads as itself in the logbook"
    assert f"from /tmp/{USERNAME}-demo/state" in outputs[-2], "a path holding the username is whole"

    files = {path.name: path.read_bytes() for path in state_dir.iterdir() if path.is_file()}
    assert "pvsync.db" in files  # (the WAL is folded back in when the last connection closes)
    canaries = [*CANARIES.values(), MALFORMED]
    searched = [*[(f"output {i}", text.encode()) for i, text in enumerate(outputs)], *files.items()]
    leaks = [(where, canary) for canary in canaries for where, data in searched if canary.encode() in data]
    assert leaks == []
