"""Writing back: comments and order survive, only changed keys move, atomically, mode kept or 0600."""

from __future__ import annotations

import difflib
import os
import stat
from datetime import timedelta

import pytest

import core.config.write as writer
from core.config import (ConfigError, load_config, sample_config_text, set_vat_rule, update_config,
                         write_new_config)
from core.model import VatRule
from core.secrets import Secret
from tests.config.conftest import GUID_A, GUID_B, HEX32, SAMPLE, write


def _changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.ndiff(before.split("\n"), after.split("\n")) if line[:1] in "+-"]


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_update_changes_only_the_given_keys_and_keeps_every_comment(config_file, env):
    update_config(config_file, {"schedule.invoices": "15m", "relations.import_from_eboekhouden": True})
    after = config_file.read_text()
    assert _changed_lines(SAMPLE, after) == [
        "- import_from_eboekhouden = false", "+ import_from_eboekhouden = true",
        '- invoices = "4h"', '+ invoices = "15m"']
    config = load_config(config_file, env=env)
    assert config.schedule.invoices == timedelta(minutes=15) and config.relations.import_from_eboekhouden


def test_update_keeps_an_inline_comment_and_writes_durations_in_config_notation(tmp_path, env):
    path = write(tmp_path / "config.toml", '[schedule]\n# how often\npayments = "24h"  # once a day\n')
    update_config(path, {"schedule.payments": timedelta(hours=36), "engine.run_deadline": timedelta(minutes=45)})
    assert path.read_text() == ('[schedule]\n# how often\npayments = "1d12h"  # once a day\n\n'
                                '[engine]\nrun_deadline = "45m"\n')
    assert load_config(path, env=env).engine.run_deadline == timedelta(minutes=45)


def test_update_with_none_removes_a_key_so_the_default_applies(config_file, env):
    update_config(config_file, {"relations.full_pass_hours": None, "relations.not_there": None})
    assert "full_pass_hours =" not in config_file.read_text()
    assert load_config(config_file, env=env).relations.full_pass_hours == 24


def test_an_unchanged_value_does_not_rewrite_the_file(config_file):
    before = os.stat(config_file)
    update_config(config_file, {"schedule.invoices": "4h", "logbook.level": "INFO"})
    after = os.stat(config_file)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644])
def test_update_keeps_the_file_mode(tmp_path, mode):
    path = write(tmp_path / "config.toml", SAMPLE, mode=mode)
    update_config(path, {"engine.concurrency": 2})
    assert _mode(path) == mode


def test_update_through_a_symlink_changes_the_file_it_points_at(tmp_path, config_file):
    link = tmp_path / "linked.toml"
    os.symlink(config_file, link)
    update_config(link, {"engine.concurrency": 2})
    assert link.is_symlink() and "concurrency = 2" in config_file.read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_update_by_root_keeps_the_owner_so_the_daemon_can_still_read_it(config_file):
    os.chown(config_file, 4321, 4321)
    update_config(config_file, {"engine.concurrency": 2})
    info = os.stat(config_file)
    assert (info.st_uid, info.st_gid, _mode(config_file)) == (4321, 4321, 0o600)


def test_update_replaces_the_file_in_one_step_and_leaves_no_temp_files(config_file):
    # A reader holding the old file keeps seeing the old text: the new file is renamed over it, not rewritten.
    with open(config_file) as reader:
        update_config(config_file, {"engine.concurrency": 2})
        assert reader.read() == SAMPLE
    assert "concurrency = 2" in config_file.read_text()
    assert sorted(p.name for p in config_file.parent.iterdir()) == ["config.toml"]


def test_a_failed_rename_leaves_the_old_file_whole(config_file, monkeypatch):
    def broken_replace(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer.os, "replace", broken_replace)
    with pytest.raises(OSError):
        update_config(config_file, {"engine.concurrency": 2})
    assert config_file.read_text() == SAMPLE
    assert sorted(p.name for p in config_file.parent.iterdir()) == ["config.toml"]


def test_the_temp_file_is_private_from_the_first_byte(config_file, monkeypatch):
    created = []
    real_open = os.open

    def watching_open(path, flags, mode=0o777, **kw):
        if str(path).endswith(".tmp"):
            created.append((flags, mode))
        return real_open(path, flags, mode, **kw)

    monkeypatch.setattr(writer.os, "open", watching_open)
    update_config(config_file, {"engine.concurrency": 2})
    [(flags, mode)] = created
    assert flags & os.O_EXCL and flags & os.O_CREAT and mode == 0o600


@pytest.mark.parametrize(("changes", "key"), [
    ({"engine.concurrency": 0}, "engine.concurrency"),
    ({"schedule.invoice": "4h"}, "schedule.invoice"),
    ({"eboekhouden.url": "http://example.com/soap.asmx"}, "eboekhouden.url"),
    ({"payments.enabled": True, "invoices.enabled": False}, "payments.enabled"),
    ({"schedule.invoices.every": "4h"}, "schedule.invoices.every"),
    ({"engine.concurrency": [1, 2]}, "engine.concurrency"),
])
def test_an_update_that_would_not_load_is_refused_and_nothing_is_written(config_file, changes, key):
    with pytest.raises(ConfigError) as caught:
        update_config(config_file, changes)
    assert [p.key for p in caught.value.problems] == [key]
    assert config_file.read_text() == SAMPLE


def test_set_vat_rule_adds_and_replaces_rules_keeping_the_rest(config_file, env):
    set_vat_rule(config_file, "NL", "BTW hoog 21%", "HOOG_VERK_21", "8010")
    set_vat_rule(config_file, "NL", "BTW 0.0% export", "BU_EU_VERK", "8100")
    after = config_file.read_text()
    assert _changed_lines(SAMPLE, after) == [
        '- "BTW hoog 21%" = { btw_code = "HOOG_VERK_21", ledger = "8000" }',
        '+ "BTW hoog 21%" = {btw_code = "HOOG_VERK_21", ledger = "8010"}',
        '+ "BTW 0.0% export" = {btw_code = "BU_EU_VERK", ledger = "8100"}']
    rules = load_config(config_file, env=env).vat.own_rules()
    assert rules["BTW hoog 21%"] == VatRule("BTW hoog 21%", "HOOG_VERK_21", "8010")
    assert rules["BTW 0.0% export"] == VatRule("BTW 0.0% export", "BU_EU_VERK", "8100")


def test_set_vat_rule_for_a_new_country_adds_its_section(config_file, env):
    set_vat_rule(config_file, "BE", "TVA 21%", "HOOG_VERK_21", "8001")
    config = load_config(config_file, env=env)
    assert config.vat.mappings["BE"]["TVA 21%"] == VatRule("TVA 21%", "HOOG_VERK_21", "8001")
    assert len(config.vat.mappings["NL"]) == 4
    assert all(line.startswith("+") for line in _changed_lines(SAMPLE, config_file.read_text()))


@pytest.mark.parametrize(("country", "btw_code", "ledger", "key"), [
    ("NL", "HOOG_INK_21", "8000", "vat.NL.BTW hoog 21%.btw_code"),
    ("NL", "HOOG_VERK_21", "", "vat.NL.BTW hoog 21%.ledger"),
    ("nl", "HOOG_VERK_21", "8000", "vat.nl"),
])
def test_set_vat_rule_refuses_a_rule_that_would_not_load(config_file, country, btw_code, ledger, key):
    with pytest.raises(ConfigError) as caught:
        set_vat_rule(config_file, country, "BTW hoog 21%", btw_code, ledger)
    assert [p.key for p in caught.value.problems] == [key]
    assert config_file.read_text() == SAMPLE


def test_write_new_config_starts_from_the_sample_private_and_complete(tmp_path):
    path = tmp_path / "fresh" / "pvsync" / "config.toml"
    write_new_config(path, {
        "eboekhouden.api": "soap", "eboekhouden.username": Secret("demo-user"), "eboekhouden.security_code_1": Secret(HEX32),
        "eboekhouden.security_code_2": Secret(GUID_A), "perfectview.api_key": Secret(GUID_B),
        "perfectview.database_id": GUID_B, "perfectview.user_id": GUID_A, "schedule.invoices": "30m"})
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    text = path.read_text()
    assert "# How often each part runs" in text and f'security_code_1 = "{HEX32}"' in text
    config = load_config(path, env={})
    assert config.eboekhouden.security_code_1 == Secret(HEX32)
    assert config.schedule.invoices == timedelta(minutes=30)
    assert config.secret_sources["perfectview.api_key"] == f"config file {path}"


def test_write_new_config_never_overwrites(config_file):
    with pytest.raises(ConfigError) as caught:
        write_new_config(config_file, {"engine.concurrency": 2})
    assert "already exists" in caught.value.problems[0].message
    assert config_file.read_text() == SAMPLE


def test_write_new_config_refuses_values_that_would_not_load(tmp_path):
    path = tmp_path / "config.toml"
    with pytest.raises(ConfigError) as caught:
        write_new_config(path, {"perfectview.url": "ftp://x", "engine.concurency": 3})
    assert [p.key for p in caught.value.problems] == ["perfectview.url", "engine.concurency"]
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_sample_config_text_is_the_shipped_sample():
    assert sample_config_text() == SAMPLE
