"""A broken config stops `pvsync check` and `pvsync daemon` before anything starts.

The options come from the loader's own declaration (the settings dataclasses), not from
a list kept here: an option added to the loader without a wrong-value case here fails
`test_every_declared_option_has_a_case`. Each case runs the real CLI in-process with
both simulators listening on loopback sockets; a command that got past the config would
create the state folder (lock file, database) or call a simulator, and both are checked.
tests/config checks the loader's messages one by one; this file checks what an admin
sees from the commands that start things.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

import pytest

from core import cli
from core.config.settings import Config, SecretOption, Table, VatSettings
from core.eboekhouden.soap.simulator import EboekhoudenSimulator
from core.model import VatRule
from core.perfectview.simulator import PerfectViewSimulator
from core.soap.loopback import LoopbackServer
from tests.config.conftest import SAMPLE, VALID_SECRETS, sample_with
from tests.config.test_options import WRONG_VALUES

pytestmark = pytest.mark.loopback

VAT_RULE = "vat.NL.BTW hoog 21%"  # a rule the sample maps


@dataclass(frozen=True)
class Option:
    dotted: str
    type_name: str  # the annotation as the dataclass declares it ("bool", "Path | None", "Secret", ...)
    secret: SecretOption | None = None


def declared_options(settings: type = Config, path: tuple[str, ...] = ()) -> list[Option]:
    """Every key the loader reads, walked from the settings dataclasses the loader walks."""
    found: list[Option] = []
    for f in fields(settings):
        parse = f.metadata.get("parse")
        dotted = ".".join(path + (f.name,))
        if isinstance(parse, Table) and parse.settings is VatSettings:
            # The VAT section is read by its own reader: own_country, then rules keyed by VAT code.
            found.append(Option(f"{dotted}.own_country", "str"))
            found += [Option(f'{VAT_RULE}.{part.name}', "str") for part in fields(VatRule)
                      if part.name != "perfectview_vat"]
        elif isinstance(parse, Table):
            found += declared_options(parse.settings, path + (f.name,))
        elif parse is not None:
            found.append(Option(dotted, str(f.type), parse if isinstance(parse, SecretOption) else None))
    return found


OPTIONS = declared_options()
SECRETS = [o for o in OPTIONS if o.secret is not None]


def env_of(dotted: str) -> str:
    return "PVSYNC_" + dotted.replace(".", "_").upper()


def wrong_type(option: Option) -> str:
    # Numbers and switches do not take text; everything else (text, paths, durations, secrets) not true/false.
    return '"yes"' if option.type_name.split(" ")[0] in ("bool", "int", "float") else "true"


# Wrong values beyond tests/config's table (which is reused): free text, the VAT rule's
# parts, and secrets in the wrong form (written in the file, so they have a line).
MORE_WRONG_VALUES = [
    ("invoices.document.smtp_host", '"' + "h" * 254 + '"', "at most 253"),
    ("invoices.document.smtp_username", '"' + "u" * 201 + '"', "at most 200"),
    ("alerts.smtp_host", '"' + "h" * 254 + '"', "at most 253"),
    ("alerts.smtp_username", '"' + "u" * 201 + '"', "at most 200"),
    (f"{VAT_RULE}.btw_code", '"HOOG_INK_21"', "not for sales invoices"),
    (f"{VAT_RULE}.ledger", '"8000 8010"', "not a grootboekrekening code"),
    ("eboekhouden.security_code_1", '"not-hex-at-all"', "32 hexadecimal characters"),
    ("eboekhouden.security_code_2", '"123"', "a GUID"),
    ("perfectview.api_key", '"key"', "a GUID"),
    ("perfectview.database_id", '"db"', "a GUID"),
    ("perfectview.user_id", '"me"', "a GUID"),
]
# Options that have no wrong value of the right type: switches, and secrets in free form.
TYPE_ONLY = {o.dotted for o in OPTIONS if o.type_name == "bool"} | {
    "eboekhouden.username", "eboekhouden.api_token", "invoices.document.smtp_password", "alerts.webhook_url",
    "alerts.smtp_password"}
# The base config is on SOAP (the simulator the control case calls); these cases are about REST.
ON_REST = [("eboekhouden.api", '"rest"'), ("eboekhouden.url", '""')]
REST_CASES = {"eboekhouden.api_token", "eboekhouden.source"}
# A secret that is optional is missing only when what needs it is switched on.
NEEDS = {"invoices.document.smtp_password": [
    ("invoices.document.send", "true"), ("invoices.document.archive_address", '"archief@e-boekhouden.nl"'),
    ("invoices.document.smtp_host", '"smtp.example.nl"'), ("invoices.document.from_address", '"f@example.nl"'),
    ("invoices.document.smtp_username", '"facturen@example.nl"')],
    "alerts.smtp_password": [
    ("alerts.enabled", "true"), ("alerts.email_to", '"beheer@example.nl"'), ("alerts.smtp_host", '"smtp.example.nl"'),
    ("alerts.from_address", '"pvsync@example.nl"'), ("alerts.smtp_username", '"pvsync@example.nl"')],
    "alerts.webhook_url": [("alerts.enabled", "true")]}

CASES = ([pytest.param(o.dotted, wrong_type(o), "expected", id=f"type:{o.dotted}") for o in OPTIONS]
         + [pytest.param(k, v, words, id=f"value:{k}={v[:16]}") for k, v, words in WRONG_VALUES + MORE_WRONG_VALUES]
         + [pytest.param(o.dotted, None, "has no value|is not given", id=f"missing:{o.dotted}") for o in SECRETS])


@pytest.fixture(scope="module")
def services():
    """Both simulators on real sockets: what a command that got past the config would call."""
    eb, pv = EboekhoudenSimulator(seed_data="empty"), PerfectViewSimulator(seed_data="empty")
    with LoopbackServer(eb) as eb_server, LoopbackServer(pv) as pv_server:
        yield eb, pv, with_settings(SAMPLE, [("eboekhouden.api", '"soap"'),
                                             ("eboekhouden.url", f'"{eb_server.url(eb.path)}"'),
                                             ("perfectview.url", f'"{pv_server.url(pv.path)}"')])


@pytest.fixture(autouse=True)
def secrets_in_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("PVSYNC_"):
            monkeypatch.delenv(name)
    for name, value in VALID_SECRETS.items():
        monkeypatch.setenv(name, value)


def with_settings(text: str, settings: list[tuple[str, str]]) -> str:
    for dotted, value in settings:
        text, _ = sample_with(dotted, value, text)
    return text


def broken_config(base: str, dotted: str, value: str | None, monkeypatch) -> tuple[str, int]:
    """The config text with one key broken, and the line the problem must be reported at."""
    text = with_settings(base, NEEDS.get(dotted, []) if value is None else [])
    if dotted in REST_CASES:
        text = with_settings(text, ON_REST)
    elif dotted == "eboekhouden.url" and value and "soap.e-boekhouden.nl" in value:
        text = with_settings(text, ON_REST[:1])  # the SOAP address while the api is REST
    if dotted.startswith(VAT_RULE):
        lines = text.split("\n")
        rule = '"BTW hoog 21%" = { btw_code = "HOOG_VERK_21", ledger = "8000" }'
        number = lines.index(rule) + 1  # the sample maps this code; fails loudly if it stops doing so
        part = dotted.rsplit(".", 1)[1]
        good = '"HOOG_VERK_21"' if part == "btw_code" else '"8000"'
        lines[number - 1] = rule.replace(f"{part} = {good}", f"{part} = {value}")
        return "\n".join(lines), number
    if value is None or dotted in {o.dotted for o in SECRETS}:
        monkeypatch.delenv(env_of(dotted), raising=False)  # the environment would win over the file
    return sample_with(dotted, '""' if value is None else value, text)


def test_every_declared_option_has_a_case():
    assert len(OPTIONS) >= 45 and len(SECRETS) == 10, "the walk found the loader's options"
    with_value = {key for key, _, _ in WRONG_VALUES + MORE_WRONG_VALUES}
    assert [o.dotted for o in OPTIONS if o.dotted not in with_value | TYPE_ONLY] == []
    assert [o.dotted for o in SECRETS if not o.secret.required and o.dotted not in NEEDS] == []


@pytest.mark.parametrize(("dotted", "value", "words"), CASES)
def test_a_broken_option_stops_check_and_daemon_before_anything_starts(tmp_path, monkeypatch, capsys, services,
                                                                       dotted, value, words):
    eb, pv, base = services
    text, line = broken_config(base, dotted, value, monkeypatch)
    config = tmp_path / "config.toml"
    config.write_text(text)
    config.chmod(0o600)
    state = tmp_path / "state"
    calls_before = sum(eb.calls.values()) + sum(pv.calls.values())
    # First the checker alone: were the case accepted, `daemon` below would serve for ever.
    assert cli.main(["config", "check", str(config)]) == 1, capsys.readouterr()
    capsys.readouterr()
    for command in ("check", "daemon"):
        code = cli.main([command, "--config", str(config), "--state-dir", str(state)])
        out, err = capsys.readouterr()
        assert code == 1 and out == ""
        [reported] = [row for row in err.splitlines() if f" {dotted}:" in row]
        assert reported.strip().startswith(f"{config}:{line} {dotted}:"), reported
        message, _, fix = reported.partition(" — ")
        assert any(w in reported for w in words.split("|")) and message and fix.strip(), "what is wrong, what to do"
        assert not state.exists(), f"pvsync {command} created the state folder (lock file, database)"
    assert sum(eb.calls.values()) + sum(pv.calls.values()) == calls_before, "a service was called"


def test_the_config_the_cases_break_starts_cleanly(tmp_path, capsys, services):
    """The control: without the broken key, `pvsync check` gets through to both services."""
    eb, pv, base = services
    config = tmp_path / "config.toml"
    config.write_text(base)
    config.chmod(0o600)
    code = cli.main(["check", "--config", str(config), "--state-dir", str(tmp_path / "state")])
    out = capsys.readouterr().out
    # The simulators hold other credentials than the test's, so both refuse them: they were asked.
    assert code == 1 and out.count("reachable, but it refused") == 2
    assert eb.calls["OpenSession"] >= 1 and sum(pv.calls.values()) >= 1
