"""Every option: a wrong type and a wrong value are refused at their line, with a fix; good values load."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path

import pytest

from core.config import ConfigError, load_config
from tests.config.conftest import SAMPLE, sample_with, write

SECRET_KEYS = {"api_token", "username", "security_code_1", "security_code_2", "api_key", "database_id", "user_id",
               "smtp_password", "webhook_url"}


def _options() -> list[tuple[str, object]]:
    """(dotted key, sample value) for every non-secret option in the sample (VAT rules aside)."""
    found: list[tuple[str, object]] = []

    def walk(table: dict, path: tuple[str, ...]) -> None:
        for key, value in table.items():
            if isinstance(value, dict):
                if path + (key,) != ("vat", "NL"):
                    walk(value, path + (key,))
            elif key not in SECRET_KEYS:
                found.append((".".join(path + (key,)), value))

    walk(tomllib.loads(SAMPLE), ())
    return found


OPTIONS = _options()


def _wrong_type(value: object) -> str:
    # Text and durations do not take true/false; true/false and numbers do not take text.
    return '"yes"' if isinstance(value, (bool, int, float)) else "true"


def _problems(tmp_path: Path, text: str, env: dict[str, str]) -> list:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path / "config.toml", text), env=env)
    return caught.value.problems


def test_the_sample_lists_the_options_the_test_walks():
    # A guard on the table below: if the sample lost its options, the parametrised tests would pass vacuously.
    assert len(OPTIONS) >= 40


@pytest.mark.parametrize(("dotted", "value"), OPTIONS, ids=[key for key, _ in OPTIONS])
def test_wrong_type_is_refused_at_its_line(tmp_path, env, dotted, value):
    text, line = sample_with(dotted, _wrong_type(value))
    [problem] = _problems(tmp_path, text, env)
    assert (problem.key, problem.line, problem.file) == (dotted, line, str(tmp_path / "config.toml"))
    assert "expected" in problem.message and problem.fix
    assert f"config.toml:{line}: {dotted}:" in str(problem)


WRONG_VALUES = [
    ("eboekhouden.url", '"http://soap.e-boekhouden.nl/soap.asmx"', "unencrypted"),
    ("eboekhouden.url", '"ftp://soap.e-boekhouden.nl/"', "not a web address"),
    ("eboekhouden.url", '"https://"', "not a web address"),
    ("eboekhouden.url", '"https://soap.e-boekhouden.nl/soap.asmx"', 'address of the SOAP API while eboekhouden.api is "rest"'),
    ("eboekhouden.api", '"json"', "not one of the choices"),
    ("eboekhouden.api", '"REST"', 'did you mean "rest"'),
    ("eboekhouden.source", '"pv-sync"', "without hyphens"),
    ("eboekhouden.source", '"pvsync_connector"', "1 to 10 letters"),
    ("eboekhouden.source", '""', "1 to 10 letters"),
    ("eboekhouden.calls_per_second", "0", "outside the allowed range"),
    ("eboekhouden.calls_per_second", "1000", "outside the allowed range"),
    ("perfectview.url", '"https://me:pw@api.perfectview.nl/V1/perfectview.asmx"', "user name or password"),
    ("perfectview.url", '"http://192.168.1.5:8080/perfectview.asmx"', "unencrypted"),
    ("eboekhouden.connect_timeout", "0", "outside the allowed range"),
    ("eboekhouden.read_timeout", "-5", "outside the allowed range"),
    ("perfectview.read_timeout", "100000", "outside the allowed range"),
    ("perfectview.connect_timeout", "nan", "outside the allowed range"),
    ("eboekhouden.ca_file", '"/no/such/ca.pem"', "does not exist"),
    ("perfectview.ca_file", '"ca-missing.pem"', "does not exist"),
    ("perfectview.daily_call_limit", "-1", "outside the allowed range"),
    # A relation type is the database's own (pvsync check compares it with the database's list).
    ("relations.import_relation_type", '""', "is empty"),
    ("perfectview.customer_relationship_type", '""', "is empty"),
    ("invoices.paid_transition", '"Betaald"', "is not an Id"),
    ("relations.account_manager", '"' + "x" * 101 + '"', "at most 100"),
    ("relations.person_name_format", '"Voornaam"', "not one of the choices"),
    ("relations.customers", '"everyone"', "not one of the choices"),
    ("relations.max_change_share", "0", "outside the allowed range"),
    ("relations.max_change_share", "1.5", "outside the allowed range"),
    ("relations.full_pass_hours", "0", "outside the allowed range"),
    ("invoices.workflow", '""', "is empty"),
    ("invoices.sent_step", '"  "', "is empty"),
    ("invoices.paid_step", '""', "is empty"),
    ("invoices.debtors_ledger", "1300", 'put it in quotes: "1300"'),
    ("invoices.debtors_ledger", '""', "is empty"),
    ("invoices.debtors_ledger", '"12345678901"', "at most 10"),
    ("invoices.description_template", '"Factuur {invoice_nr}"', "did you mean {invoice_number}"),
    ("invoices.description_template", '"Factuur {invoice_number"', "unmatched"),
    ("invoices.description_template", '"Factuur {invoice_number:>10}"', "formatting option"),
    ("invoices.description_template", '""', "is empty"),
    ("invoices.document.archive_address", '"archief"', "not an e-mail address"),
    ("invoices.document.from_address", '"me at example"', "not an e-mail address"),
    ("invoices.document.smtp_port", "0", "outside the allowed range"),
    ("invoices.document.smtp_port", "70000", "outside the allowed range"),
    ("invoices.document.policy", '"newest"', "newest_pdf"),
    ("schedule.relations", '"0m"', "longer than zero"),
    ("schedule.relations", "-30", "longer than zero"),
    ("schedule.invoices", '"4 hours"', "not a duration"),
    ("schedule.invoices", '"40d"', "outside the allowed range"),
    ("schedule.payments", '"1w"', "not a duration"),
    ("vat.own_country", '"Netherlands"', "two-letter country code"),
    ("vat.own_country", '"nl"', "two-letter country code"),
    ("logbook.retention_days", "0", "outside the allowed range"),
    ("logbook.level", '"LOUD"', "not one of the choices"),
    ("engine.run_deadline", '"25h"', "outside the allowed range"),
    ("engine.concurrency", "17", "outside the allowed range"),
    ("alerts.email_to", '"beheer"', "not an e-mail address"),
    ("alerts.from_address", '"me at example"', "not an e-mail address"),
    ("alerts.smtp_port", "70000", "outside the allowed range"),
    ("display.timezone", '"CEST+2"', "Europe/Amsterdam"),
    ("display.timezone", '"Europe/Amsterdamm"', "not a time zone"),
    ("display.timezone", '"../etc/passwd"', "not a time zone"),
]


@pytest.mark.parametrize(("dotted", "value", "words"), WRONG_VALUES, ids=[f"{k}={v[:20]}" for k, v, _ in WRONG_VALUES])
def test_wrong_value_is_refused_with_a_fix(tmp_path, env, dotted, value, words):
    text, line = sample_with(dotted, value)
    [problem] = _problems(tmp_path, text, env)
    assert (problem.key, problem.line) == (dotted, line)
    assert words in f"{problem.message} {problem.fix}"


def test_every_option_is_covered_by_a_wrong_value_case():
    ranged = {key for key, _, _ in WRONG_VALUES}
    # Options whose only wrong value is a wrong type (true/false switches, free text).
    free = {key for key, value in OPTIONS if isinstance(value, bool)} | {
        "invoices.document.smtp_host", "invoices.document.smtp_username", "alerts.smtp_host", "alerts.smtp_username"}
    assert {key for key, _ in OPTIONS} - ranged - free == set()


GOOD_VALUES = [
    ("eboekhouden.url", '"http://127.0.0.1:8081"', ("eboekhouden", "url"), "http://127.0.0.1:8081"),
    ("eboekhouden.url", '""', ("eboekhouden", "address"), "https://api.e-boekhouden.nl"),
    ("eboekhouden.source", '"PV sync_2"', ("eboekhouden", "source"), "PV sync_2"),
    ("eboekhouden.calls_per_second", "0.5", ("eboekhouden", "calls_per_second"), 0.5),
    ("perfectview.url", '"http://localhost/x"', ("perfectview", "url"), "http://localhost/x"),
    ("perfectview.url", '"http://[::1]:9000/x"', ("perfectview", "url"), "http://[::1]:9000/x"),
    ("perfectview.daily_call_limit", "5000", ("perfectview", "daily_call_limit"), 5000),
    ("perfectview.daily_call_limit", "0", ("perfectview", "daily_call_limit"), None),
    ("schedule.invoices", '"15m"', ("schedule", "invoices"), timedelta(minutes=15)),
    ("schedule.invoices", "90", ("schedule", "invoices"), timedelta(minutes=90)),
    ("schedule.relations", '"1h30m"', ("schedule", "relations"), timedelta(minutes=90)),
    ("schedule.payments", '"1d"', ("schedule", "payments"), timedelta(days=1)),
    ("logbook.level", '"debug"', ("logbook", "level"), "DEBUG"),
    ("relations.max_change_share", "1", ("relations", "max_change_share"), 1.0),
    ("invoices.description_template", '"{debtor_number}/{invoice_date} {activity_number}"',
     ("invoices", "description_template"), "{debtor_number}/{invoice_date} {activity_number}"),
    ("relations.person_name_format", '"Achternaam, Voornaam"', ("relations", "person_name_format"),
     "Achternaam, Voornaam"),
]


@pytest.mark.parametrize(("dotted", "value", "attribute", "expected"), GOOD_VALUES,
                         ids=[f"{k}={v}" for k, v, _, _ in GOOD_VALUES])
def test_good_values_load_as_typed_settings(tmp_path, env, dotted, value, attribute, expected):
    text, _ = sample_with(dotted, value)
    config = load_config(write(tmp_path / "config.toml", text), env=env)
    section, name = attribute
    assert getattr(getattr(config, section), name) == expected


def test_ca_file_is_found_relative_to_the_config_folder(tmp_path, env):
    (tmp_path / "company-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    text, _ = sample_with("perfectview.ca_file", '"company-ca.pem"')
    config = load_config(write(tmp_path / "config.toml", text), env=env)
    assert config.perfectview.ca_file == tmp_path / "company-ca.pem"
    assert config.eboekhouden.ca_file is None


def test_missing_sections_take_the_defaults(tmp_path, env):
    config = load_config(write(tmp_path / "config.toml", "# only secrets from the environment\n"), env=env)
    assert config.schedule.invoices == timedelta(hours=4)
    assert config.schedule.payments == timedelta(hours=24)
    assert config.invoices.enabled and not config.payments.enabled
    assert config.vat.own_country == "NL" and dict(config.vat.own_rules()) == {}


def test_a_section_written_as_a_value_is_refused(tmp_path, env):
    [problem] = _problems(tmp_path, 'schedule = "4h"\n', env)
    assert problem.key == "schedule" and problem.line == 1 and "[schedule]" in problem.fix
