"""`eboekhouden.api`: only the chosen API's credentials are required, a file from before REST keeps
working on SOAP (and is told to say so), and the address defaults per API."""

from __future__ import annotations

import pytest

from core.config import ConfigError, load_config
from core.config.load import check_text
from tests.config.conftest import API_TOKEN, GUID_A, GUID_B, HEX32, SAMPLE, sample_with, write

PERFECTVIEW = {"PVSYNC_PERFECTVIEW_API_KEY": GUID_A, "PVSYNC_PERFECTVIEW_DATABASE_ID": GUID_B,
               "PVSYNC_PERFECTVIEW_USER_ID": GUID_A}
SOAP = {"PVSYNC_EBOEKHOUDEN_USERNAME": "demo-user", "PVSYNC_EBOEKHOUDEN_SECURITY_CODE_1": HEX32,
        "PVSYNC_EBOEKHOUDEN_SECURITY_CODE_2": GUID_A}
REST = {"PVSYNC_EBOEKHOUDEN_API_TOKEN": API_TOKEN}

# The eboekhouden section as the sample shipped it before REST: no api, SOAP address and keys.
BEFORE_REST = '''[eboekhouden]
url = "https://soap.e-boekhouden.nl/soap.asmx"
username = "demo-user"
security_code_1 = "%s"
security_code_2 = "%s"
''' % (HEX32, GUID_A)


def _problems(tmp_path, text, env):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path / "config.toml", text), env=env)
    return caught.value.problems


def test_rest_needs_only_the_token(tmp_path):
    config = load_config(write(tmp_path / "config.toml", SAMPLE), env={**PERFECTVIEW, **REST})
    eb = config.eboekhouden
    assert eb.api == "rest" and eb.api_token.reveal() == API_TOKEN and eb.source == "pvsync"
    assert eb.address == "https://api.e-boekhouden.nl"
    assert config.secret_sources["eboekhouden.api_token"] == "environment variable PVSYNC_EBOEKHOUDEN_API_TOKEN"
    assert config.notices == ()


def test_rest_without_a_token_names_the_token_only(tmp_path):
    problems = _problems(tmp_path, SAMPLE, {**PERFECTVIEW, **SOAP})
    assert [p.key for p in problems] == ["eboekhouden.api_token"]
    assert "PVSYNC_EBOEKHOUDEN_API_TOKEN" in problems[0].fix and "api_token_file" in problems[0].fix


def test_soap_needs_the_three_soap_keys_and_not_the_token(tmp_path):
    text, _ = sample_with("eboekhouden.api", '"soap"')
    assert sorted(p.key for p in _problems(tmp_path, text, PERFECTVIEW)) == [
        "eboekhouden.security_code_1", "eboekhouden.security_code_2", "eboekhouden.username"]
    config = load_config(write(tmp_path / "config.toml", text), env={**PERFECTVIEW, **SOAP})
    assert config.eboekhouden.api == "soap" and config.eboekhouden.address == "https://soap.e-boekhouden.nl/soap.asmx"
    assert config.eboekhouden.api_token.reveal() == ""


def test_a_token_from_a_file_of_its_own(tmp_path):
    token_file = write(tmp_path / "eb_token", API_TOKEN + "\n")
    text = SAMPLE.replace('api_token = ""', f'api_token_file = "{token_file}"')
    config = load_config(write(tmp_path / "config.toml", text), env=PERFECTVIEW)
    assert config.eboekhouden.api_token.reveal() == API_TOKEN


def test_a_token_in_a_readable_config_file_is_refused(tmp_path):
    text, _ = sample_with("eboekhouden.api_token", f'"{API_TOKEN}"')
    path = write(tmp_path / "config.toml", text, mode=0o644)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=PERFECTVIEW)
    (problem,) = caught.value.problems
    assert "chmod 600" in problem.fix and API_TOKEN not in str(problem)


def test_a_config_from_before_rest_keeps_working_on_soap_and_is_told_to_say_so(tmp_path):
    config = load_config(write(tmp_path / "config.toml", BEFORE_REST), env=PERFECTVIEW)
    assert config.eboekhouden.api == "soap" and config.eboekhouden.username.reveal() == "demo-user"
    (notice,) = config.notices
    assert 'api = "soap"' in notice


def test_soap_credentials_in_the_environment_count_as_a_config_from_before_rest(tmp_path):
    config = load_config(write(tmp_path / "config.toml", "[eboekhouden]\n"), env={**PERFECTVIEW, **SOAP})
    assert config.eboekhouden.api == "soap" and config.notices


def test_without_api_and_without_soap_keys_it_is_rest(tmp_path):
    problems = _problems(tmp_path, "[eboekhouden]\n", PERFECTVIEW)
    assert [p.key for p in problems] == ["eboekhouden.api_token"]


def test_the_rest_address_with_api_soap_is_refused(tmp_path):
    text, line = sample_with("eboekhouden.api", '"soap"')
    text, url_line = sample_with("eboekhouden.url", '"https://api.e-boekhouden.nl"', text)
    (problem,) = _problems(tmp_path, text, {**PERFECTVIEW, **SOAP})
    assert (problem.key, problem.line) == ("eboekhouden.url", url_line)
    assert "REST API" in problem.message and "soap.asmx" in problem.fix


def test_config_check_without_secrets_knows_the_api_too(tmp_path):
    config, problems = check_text(BEFORE_REST, tmp_path / "config.toml", env={}, with_secrets=False)
    assert problems == [] and config.eboekhouden.api == "soap" and config.notices
