"""The shipped sample documents every option, loads as is, and the settings fingerprint is stable."""

from __future__ import annotations

import tomllib
from dataclasses import fields, replace
from importlib import resources

import pytest

from core.config import Config, ConfigError, config_hash, load_config
from core.config.settings import SecretOption, Table, VatSettings
from core.secrets import Secret
from tests.config.conftest import GUID_B, ROOT, SAMPLE, sample_with, write


def _options(settings: type = Config, path: tuple[str, ...] = ()) -> dict[str, object]:
    """Every dotted option the settings dataclasses accept, with its parse marker."""
    found: dict[str, object] = {}
    for f in fields(settings):
        parse = f.metadata.get("parse")
        if isinstance(parse, Table) and parse.settings is not VatSettings:
            found.update(_options(parse.settings, path + (f.name,)))
        elif parse is not None:
            found[".".join(path + (f.name,))] = parse
    found["vat.own_country"] = "own_country"
    return {key: value for key, value in found.items() if not key == "vat"}


def _sample_keys() -> list[str]:
    def walk(table: dict, path: tuple[str, ...]) -> list[str]:
        keys = []
        for key, value in table.items():
            if isinstance(value, dict) and path + (key,) != ("vat", "NL"):
                keys += walk(value, path + (key,))
            elif not isinstance(value, dict):
                keys.append(".".join(path + (key,)))
        return keys

    return walk(tomllib.loads(SAMPLE), ())


def test_the_package_ships_the_same_sample_as_the_repository():
    shipped = resources.files("core.config").joinpath("sample_config.toml").read_text(encoding="utf-8")
    assert shipped == (ROOT / "sample_config.toml").read_text(encoding="utf-8")


def test_the_sample_has_exactly_the_options_pvsync_knows():
    assert sorted(_sample_keys()) == sorted(_options())


@pytest.mark.parametrize("dotted", sorted(_options()))
def test_every_option_in_the_sample_has_a_comment_right_above_it(dotted):
    _, line = sample_with(dotted, "0")
    above = SAMPLE.split("\n")[line - 2]
    assert above.startswith("# "), f"{dotted} on line {line} has no comment above it"


@pytest.mark.parametrize("dotted", sorted(key for key, parse in _options().items() if isinstance(parse, SecretOption)))
def test_secrets_in_the_sample_are_empty_and_say_how_to_give_them(dotted):
    section, name = dotted.rsplit(".", 1)
    table = tomllib.loads(SAMPLE)
    for part in section.split("."):
        table = table[part]
    assert table[name] == ""
    _, line = sample_with(dotted, "0")
    comment = SAMPLE.split("\n")[line - 2]
    assert f"PVSYNC_{dotted.replace('.', '_').upper()}" in comment and f"{name}_file" in comment


def test_the_sample_loads_once_secrets_come_from_the_environment(config_file, env):
    config = load_config(config_file, env=env)
    assert config.invoices.enabled and not config.payments.enabled
    assert config.eboekhouden.api == "rest" and config.eboekhouden.address == "https://api.e-boekhouden.nl"
    assert config.perfectview.url == "https://api.perfectview.nl/V1/perfectview.asmx"
    assert len(config.vat.own_rules()) == 4


def test_the_sample_alone_does_not_start_without_secrets(config_file):
    with pytest.raises(ConfigError) as caught:
        load_config(config_file, env={})
    # The REST API token and PerfectView's three: the SOAP keys are not needed on REST.
    assert sorted(p.key for p in caught.value.problems) == [
        "eboekhouden.api_token", "perfectview.api_key", "perfectview.database_id", "perfectview.user_id"]


def test_the_sample_matches_the_dataclass_defaults(config_file, env):
    loaded = load_config(config_file, env=env)
    defaults = Config()
    for section in ("eboekhouden", "perfectview", "relations", "invoices", "payments", "schedule", "logbook",
                    "engine"):
        mine = getattr(loaded, section)
        plain = {f.name: getattr(mine, f.name) for f in fields(mine) if not isinstance(getattr(mine, f.name), Secret)}
        default = getattr(defaults, section)
        assert plain == {name: getattr(default, name) for name in plain}, section
    assert loaded.vat.own_country == defaults.vat.own_country


# ------------------------------------------------------------------ fingerprint


def test_the_fingerprint_ignores_comments_order_spelling_and_secrets(tmp_path, env):
    first = load_config(write(tmp_path / "a.toml", SAMPLE), env=env)
    # The same settings written differently: defaults left out, other order, other notation, no comments.
    vat = SAMPLE[SAMPLE.index("[vat]"):SAMPLE.index("[logbook]")]
    terse = '[engine]\nrun_deadline = 120\n\n[logbook]\nlevel = "info"\n\n' + vat
    second = load_config(write(tmp_path / "b.toml", terse), env={**env, "PVSYNC_PERFECTVIEW_API_KEY": GUID_B})
    assert second.perfectview.api_key != first.perfectview.api_key
    assert config_hash(first) == config_hash(second)


@pytest.mark.parametrize("change", [
    lambda c: replace(c, engine=replace(c.engine, concurrency=3)),
    lambda c: replace(c, vat=replace(c.vat, own_country="BE")),
    lambda c: replace(c, invoices=replace(c.invoices, document=replace(c.invoices.document, policy="newest_pdf"))),
])
def test_the_fingerprint_changes_with_any_setting(config_file, env, change):
    config = load_config(config_file, env=env)
    assert config_hash(change(config)) != config_hash(config)


def test_the_fingerprint_holds_no_secret(config_file, env):
    config = load_config(config_file, env=env)
    from core.config.fingerprint import _plain

    text = repr(_plain(config))
    assert not any(value in text for value in env.values())
    assert "security_code_1" not in text and "api_key" not in text
