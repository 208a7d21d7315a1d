"""Secrets: three sources with a fixed precedence, ssh-style permission checks, and never in a message."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.config import ConfigError, load_config
from core.secrets import Secret
from tests.config.conftest import GUID_A, GUID_B, HEX32, SAMPLE, VALID_SECRETS, sample_with, write

SECRETS = [
    ("eboekhouden.api_token", "PVSYNC_EBOEKHOUDEN_API_TOKEN"),
    ("eboekhouden.username", "PVSYNC_EBOEKHOUDEN_USERNAME"),
    ("eboekhouden.security_code_1", "PVSYNC_EBOEKHOUDEN_SECURITY_CODE_1"),
    ("eboekhouden.security_code_2", "PVSYNC_EBOEKHOUDEN_SECURITY_CODE_2"),
    ("perfectview.api_key", "PVSYNC_PERFECTVIEW_API_KEY"),
    ("perfectview.database_id", "PVSYNC_PERFECTVIEW_DATABASE_ID"),
    ("perfectview.user_id", "PVSYNC_PERFECTVIEW_USER_ID"),
]
FORMATTED = [(key, variable) for key, variable in SECRETS if key not in ("eboekhouden.username",
                                                                           "eboekhouden.api_token")]
SOAP_ONLY = ("eboekhouden.username", "eboekhouden.security_code_1", "eboekhouden.security_code_2")


def _secret(config, dotted: str) -> Secret:
    section, name = dotted.split(".")
    return getattr(getattr(config, section), name)


def _problems(path: Path, env: dict[str, str]) -> list:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=env)
    return caught.value.problems


@pytest.mark.parametrize(("dotted", "variable"), SECRETS)
def test_a_missing_secret_names_the_three_ways_to_give_it(config_file, env, dotted, variable):
    if dotted in SOAP_ONLY:  # required only when the SOAP API is chosen
        config_file.write_text(sample_with("eboekhouden.api", '"soap"')[0], encoding="utf-8")
    del env[variable]
    [problem] = _problems(config_file, env)
    _, line = sample_with(dotted, '""')
    assert (problem.key, problem.line) == (dotted, line)
    name = dotted.split(".")[1]
    assert variable in problem.fix and f"{name}_file" in problem.fix and "chmod 600" in problem.fix


def test_an_empty_environment_variable_counts_as_not_given(config_file, env):
    env["PVSYNC_PERFECTVIEW_API_KEY"] = "  "
    [problem] = _problems(config_file, env)
    assert problem.key == "perfectview.api_key"


@pytest.mark.parametrize(("dotted", "variable"), FORMATTED)
def test_a_malformed_secret_is_refused_without_showing_it(config_file, env, dotted, variable):
    canary = "CANARY-0123456789-not-the-right-form"
    env[variable] = canary
    [problem] = _problems(config_file, env)
    assert problem.key == dotted and variable in problem.message and "expected form" in problem.message
    assert problem.file == "environment" and problem.line is None
    assert canary not in str(problem) and "CANARY" not in repr(problem)


def test_secret_formats_accept_what_the_services_issue(config_file, env):
    env["PVSYNC_EBOEKHOUDEN_SECURITY_CODE_1"] = HEX32.upper()
    env["PVSYNC_EBOEKHOUDEN_SECURITY_CODE_2"] = "{" + GUID_B.upper() + "}"
    config = load_config(config_file, env=env)
    assert config.eboekhouden.security_code_1.reveal() == HEX32.upper()


def test_the_environment_wins_over_the_file_and_says_so(tmp_path, env):
    text, _ = sample_with("perfectview.api_key", f'"{GUID_B}"')
    config = load_config(write(tmp_path / "config.toml", text), env=env)
    assert config.perfectview.api_key == Secret(GUID_A)
    assert config.secret_sources["perfectview.api_key"] == "environment variable PVSYNC_PERFECTVIEW_API_KEY"


def test_a_value_in_the_config_file_is_used_when_the_environment_has_none(tmp_path, env):
    del env["PVSYNC_PERFECTVIEW_API_KEY"]
    text, _ = sample_with("perfectview.api_key", f'"{GUID_B}"')
    path = write(tmp_path / "config.toml", text)
    config = load_config(path, env=env)
    assert config.perfectview.api_key == Secret(GUID_B)
    assert config.secret_sources["perfectview.api_key"] == f"config file {path}"


def test_a_secret_file_is_read_and_stripped(tmp_path, env):
    del env["PVSYNC_EBOEKHOUDEN_SECURITY_CODE_1"]
    secret_file = write(tmp_path / "eb_code_1", HEX32 + "\n", mode=0o400)
    text = SAMPLE.replace('security_code_1 = ""', f'security_code_1_file = "{secret_file}"')
    config = load_config(write(tmp_path / "config.toml", text), env=env)
    assert config.eboekhouden.security_code_1.reveal() == HEX32
    assert config.secret_sources["eboekhouden.security_code_1"] == f"file {secret_file}"


def test_the_environment_wins_over_a_secret_file(tmp_path, env):
    secret_file = write(tmp_path / "api_key", GUID_B, mode=0o600)
    text = SAMPLE.replace('api_key = ""', f'api_key_file = "{secret_file}"')
    config = load_config(write(tmp_path / "config.toml", text), env=env)
    assert config.perfectview.api_key == Secret(GUID_A)


def test_systemd_credentials_directory_and_relative_paths(tmp_path, env):
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    write(credentials / "api_key", GUID_B, mode=0o440)
    write(tmp_path / "user_id", GUID_B, mode=0o400)
    del env["PVSYNC_PERFECTVIEW_API_KEY"], env["PVSYNC_PERFECTVIEW_USER_ID"]
    text = SAMPLE.replace('api_key = ""', 'api_key_file = "${CREDENTIALS_DIRECTORY}/api_key"') \
                 .replace('user_id = ""', 'user_id_file = "user_id"')
    path = write(tmp_path / "config.toml", text)
    config = load_config(path, env={**env, "CREDENTIALS_DIRECTORY": str(credentials)})
    assert config.perfectview.api_key == Secret(GUID_B) and config.perfectview.user_id == Secret(GUID_B)
    [problem] = _problems(path, {**env, "PVSYNC_PERFECTVIEW_USER_ID": GUID_A})
    assert problem.key == "perfectview.api_key" and "CREDENTIALS_DIRECTORY" in problem.message


@pytest.mark.parametrize(("mode", "refused"), [(0o600, False), (0o400, False), (0o440, False), (0o640, False),
                                               (0o644, True), (0o604, True), (0o660, True), (0o620, True)])
def test_a_secret_file_others_can_read_or_the_group_can_change_is_refused(tmp_path, env, mode, refused):
    del env["PVSYNC_EBOEKHOUDEN_SECURITY_CODE_2"]
    secret_file = write(tmp_path / "eb_code_2", GUID_A, mode=mode)
    text = SAMPLE.replace('security_code_2 = ""', f'security_code_2_file = "{secret_file}"')
    path = write(tmp_path / "config.toml", text)
    if not refused:
        assert load_config(path, env=env).eboekhouden.security_code_2 == Secret(GUID_A)
        return
    [problem] = _problems(path, env)
    assert (problem.key, problem.file, problem.line) == ("eboekhouden.security_code_2", str(secret_file), None)
    assert problem.fix == f"chmod 600 {secret_file}" and f"{mode:04o}" in problem.message


@pytest.mark.parametrize(("content", "words"), [("", "is empty"), ("\n  \n", "is empty"),
                                                ("not-a-guid", "expected form")])
def test_a_secret_file_without_a_usable_value_is_refused(tmp_path, env, content, words):
    del env["PVSYNC_PERFECTVIEW_DATABASE_ID"]
    secret_file = write(tmp_path / "db", content)
    text = SAMPLE.replace('database_id = ""', f'database_id_file = "{secret_file}"')
    [problem] = _problems(write(tmp_path / "config.toml", text), env)
    assert problem.key == "perfectview.database_id" and words in problem.message
    assert "not-a-guid" not in str(problem)


def test_a_missing_secret_file_is_refused(tmp_path, env):
    del env["PVSYNC_PERFECTVIEW_DATABASE_ID"]
    text, line = sample_with("perfectview.database_id", f'"{tmp_path}/nothing-here"')
    text = text.replace("database_id = ", "database_id_file = ")
    [problem] = _problems(write(tmp_path / "config.toml", text), env)
    assert "does not exist" in problem.message and problem.line == line


def test_a_malformed_secret_in_the_config_file_is_shown_at_its_line(tmp_path, env):
    del env["PVSYNC_EBOEKHOUDEN_SECURITY_CODE_2"]
    text, line = sample_with("eboekhouden.security_code_2", '"canary-not-a-guid"')
    [problem] = _problems(write(tmp_path / "config.toml", text), env)
    assert (problem.key, problem.line, problem.file) == ("eboekhouden.security_code_2", line,
                                                         str(tmp_path / "config.toml"))
    assert "canary" not in str(problem)


def test_a_config_file_holding_a_secret_the_environment_overrides_must_still_be_private(tmp_path, env):
    text, _ = sample_with("perfectview.api_key", f'"{GUID_B}"')
    [problem] = _problems(write(tmp_path / "config.toml", text, mode=0o644), env)
    assert problem.key == "perfectview.api_key" and "chmod 600" in problem.fix


def test_a_secret_given_twice_in_the_file_is_refused(tmp_path, env):
    secret_file = write(tmp_path / "user_id", GUID_A)
    text = SAMPLE.replace('user_id = ""', f'user_id = "{GUID_B}"\nuser_id_file = "{secret_file}"')
    [problem] = _problems(write(tmp_path / "config.toml", text), env)
    assert problem.key == "perfectview.user_id" and "twice" in problem.message


@pytest.mark.parametrize(("mode", "refused"), [(0o600, False), (0o400, False), (0o640, True), (0o644, True),
                                               (0o604, True), (0o610, True)])
def test_a_config_file_holding_a_secret_must_be_private_like_an_ssh_key(tmp_path, env, mode, refused):
    del env["PVSYNC_EBOEKHOUDEN_SECURITY_CODE_1"]
    text, line = sample_with("eboekhouden.security_code_1", f'"{HEX32}"')
    path = write(tmp_path / "config.toml", text, mode=mode)
    if not refused:
        assert load_config(path, env=env).eboekhouden.security_code_1 == Secret(HEX32)
        return
    [problem] = _problems(path, env)
    assert (problem.key, problem.line) == ("eboekhouden.security_code_1", line)
    assert f"chmod 600 {path}" in problem.fix and f"{mode:04o}" in problem.message
    assert HEX32 not in str(problem)


def test_a_readable_config_file_without_secrets_in_it_is_fine(tmp_path, env):
    path = write(tmp_path / "config.toml", SAMPLE, mode=0o644)
    assert load_config(path, env=env).perfectview.user_id == Secret(GUID_A)


def test_a_misspelt_environment_variable_is_pointed_out(config_file, env):
    env["PVSYNC_PERFECTVIEW_APIKEY"] = env.pop("PVSYNC_PERFECTVIEW_API_KEY")
    problems = _problems(config_file, env)
    assert [p.key for p in problems] == ["perfectview.api_key", "PVSYNC_PERFECTVIEW_APIKEY"]
    assert "did you mean PVSYNC_PERFECTVIEW_API_KEY" in problems[1].fix
    assert problems[1].file == "environment"


def test_other_pvsync_environment_variables_are_left_alone(config_file, env):
    env.update(PVSYNC_CONFIG="/elsewhere.toml", PVSYNC_STATE_DIR="/var/lib/pvsync")
    load_config(config_file, env=env)


def test_the_mail_password_is_needed_only_when_mail_is_sent_with_a_login(tmp_path, env):
    text = SAMPLE.replace("send = false", "send = true") \
                 .replace('archive_address = ""', 'archive_address = "archief@e-boekhouden.nl"') \
                 .replace('smtp_host = ""', 'smtp_host = "smtp.example.nl"') \
                 .replace('from_address = ""', 'from_address = "facturen@example.nl"')
    path = write(tmp_path / "config.toml", text)
    assert load_config(path, env=env).invoices.document.send
    write(path, text.replace('smtp_username = ""', 'smtp_username = "facturen@example.nl"'))
    [problem] = _problems(path, env)
    assert problem.key == "invoices.document.smtp_password"
    assert "PVSYNC_INVOICES_DOCUMENT_SMTP_PASSWORD" in problem.fix
    env["PVSYNC_INVOICES_DOCUMENT_SMTP_PASSWORD"] = "mail-password"
    assert load_config(path, env=env).invoices.document.smtp_password == Secret("mail-password")


def test_canary_secrets_never_reach_a_message(tmp_path):
    """Every secret wrong in a different way, in every source: the errors name keys, never values."""
    canaries = {name: f"canary{n}-zz-{name}-zz" for n, name in enumerate(
        ["username", "code1", "code2", "api", "db", "user", "smtp"])}
    write(tmp_path / "code2", canaries["code2"], mode=0o644)  # too open and malformed
    write(tmp_path / "db", canaries["db"])  # malformed
    text = SAMPLE.replace('username = ""', f'username = "{canaries["username"]}"') \
                 .replace('security_code_1 = ""', f'security_code_1 = "{canaries["code1"]}"') \
                 .replace('security_code_2 = ""', f'security_code_2_file = "{tmp_path}/code2"') \
                 .replace('database_id = ""', f'database_id_file = "{tmp_path}/db"') \
                 .replace('smtp_password = ""', f'smtp_password = "{canaries["smtp"]}"') \
                 .replace('url = "https://api.perfectview.nl/V1/perfectview.asmx"',
                          f'url = "http://x.example/?key={canaries["api"]}"')
    path = write(tmp_path / "config.toml", text, mode=0o644)
    env = {"PVSYNC_PERFECTVIEW_API_KEY": canaries["api"], "PVSYNC_PERFECTVIEW_USER_ID": canaries["user"]}
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=env)
    everything = str(caught.value) + repr(caught.value.problems) + repr(caught.value.args)
    assert len(caught.value.problems) >= 6
    for canary in canaries.values():
        assert canary not in everything
    assert "zz" not in everything


def test_a_loaded_config_does_not_show_its_secrets(config_file, env):
    config = load_config(config_file, env=env)
    shown = repr(config) + str(config)
    for value in VALID_SECRETS.values():
        assert value not in shown


def test_secret_files_are_checked_on_the_opened_file_not_the_name(tmp_path, env):
    # A symlink with open permissions pointing at a private file is fine: the file itself is what is read.
    del env["PVSYNC_PERFECTVIEW_API_KEY"]
    target = write(tmp_path / "real_key", GUID_B, mode=0o600)
    link = tmp_path / "key_link"
    os.symlink(target, link)
    text = SAMPLE.replace('api_key = ""', f'api_key_file = "{link}"')
    assert load_config(write(tmp_path / "config.toml", text), env=env).perfectview.api_key == Secret(GUID_B)


def test_the_username_is_masked_in_envelopes_but_reads_as_itself_in_other_text(config_file, env):
    from core.config.settings import secret_value
    from core.secrets import scrub

    env["PVSYNC_EBOEKHOUDEN_USERNAME"] = "pvsync-wordy"
    config = load_config(config_file, env=env)
    code_1 = config.eboekhouden.security_code_1.reveal()
    assert repr(config.eboekhouden.username) == "Secret(********)"
    assert scrub(f"state in /tmp/pvsync-wordy-1/ with {code_1}") == "state in /tmp/pvsync-wordy-1/ with ********"
    assert scrub("<Username>pvsync-wordy</Username>") == "<Username>********</Username>"
    # The setup screen holds what is typed the same way.
    secret_value("eboekhouden.username", "typed-user-name")
    secret_value("perfectview.api_key", "typed-api-key-value")
    assert scrub("typed-user-name typed-api-key-value") == "typed-user-name ********"
