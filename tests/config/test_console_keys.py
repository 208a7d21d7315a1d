"""`[console.keys]`: the user's own keys for the console, checked by the config loader."""

from __future__ import annotations

import pytest

from core.config import ConfigError, config_hash, load_config
from tests.config.conftest import SAMPLE, write


def with_keys(tmp_path, lines: str):
    return write(tmp_path / "config.toml", SAMPLE.replace("[console.keys]\n", "[console.keys]\n" + lines + "\n"))


def problems(tmp_path, env, lines: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(with_keys(tmp_path, lines), env=env)
    return [f"{p.key} (line {p.line}): {p.message}. Fix: {p.fix}" for p in caught.value.problems]


def test_keys_are_read_in_textuals_long_form_and_are_no_sync_setting(tmp_path, env):
    plain = load_config(with_keys(tmp_path, ""), env=env)
    config = load_config(with_keys(tmp_path, '"sync-now" = "F9, ctrl+r"\n"help" = "?"'), env=env)
    assert dict(config.console.keys) == {"sync-now": ("f9", "ctrl+r"), "help": ("question_mark",)}
    assert config_hash(config) == config_hash(plain)  # a new key needs no engine reload


def test_an_unknown_binding_id_names_the_nearest_one(tmp_path, env):
    (problem,) = problems(tmp_path, env, '"sync-nwo" = "f5"')
    line = SAMPLE.split("\n").index("[console.keys]") + 2
    assert problem.startswith(f"console.keys.sync-nwo (line {line}): sync-nwo is not a key binding of the console")
    assert "did you mean sync-now (sync now)?" in problem


@pytest.mark.parametrize("value, says", [
    ('"f55"', '"f55" is not a key name. Fix: did you mean "f5"?'),
    ('"ctrll+r"', '"ctrll+r" has "ctrll", which is not a modifier'),
    ('""', "has an empty key"),
    ('"a,,b"', "has an empty key"),
    ("5", "is a whole number, expected the key in quotes"),
    ('"ctrl+p"', "ctrl+p is the console's key for the command palette"),
])
def test_a_key_that_is_no_key_is_refused(tmp_path, env, value, says):
    (problem,) = problems(tmp_path, env, f'"quit" = {value}')
    assert says in problem


def test_a_key_another_binding_of_the_same_screen_has_is_refused(tmp_path, env):
    found = problems(tmp_path, env, '"vat-add" = "r"')
    assert found == [found[0]] and "r is also the key of vat-reload (read the VAT mapping again) on the vat screen" \
        in found[0] and "give vat-reload another key as well" in found[0]
    # An app-wide key shadowed on a screen is a clash too; two ids given the same key are reported once.
    assert "s is also the key of sync-now (sync now) on the logbook screen" in \
        problems(tmp_path, env, '"log-search" = "s"')[0]
    assert len(problems(tmp_path, env, '"mode-vat" = "f9"\n"mode-pending" = "f9"')) == 1


def test_moving_a_key_away_frees_it_and_keys_of_other_screens_do_not_clash(tmp_path, env):
    config = load_config(with_keys(tmp_path, '"vat-reload" = "ctrl+r"\n"vat-add" = "r"\n"pending-sort" = "a"'),
                         env=env)
    assert config.console.keys["vat-add"] == ("r",)


def test_the_table_itself_must_be_a_table_of_binding_ids(tmp_path, env):
    text = SAMPLE.replace("[console.keys]\n", "[console]\nkeys = 5\ncolour = 'x'\n")
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path / "config.toml", text), env=env)
    messages = [f"{p.key}: {p.message}" for p in caught.value.problems]
    assert "console.keys: is a whole number, expected a section" in messages
    assert any(m.startswith("console.colour: colour is not a setting pvsync knows in [console]") for m in messages)
