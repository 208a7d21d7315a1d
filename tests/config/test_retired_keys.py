"""A config written by an earlier pvsync keeps loading when it holds a key that now means
nothing, and `pvsync config check` says where the setting went (issue 16: the booked marker's
field was two settings, of which only [perfectview.fields] "invoice.booked_marker" was written)."""

from __future__ import annotations

from core import cli
from core.config import load_config
from tests.config.conftest import SAMPLE, write

OLD_LINE = 'booked_marker_field = "Geboekt"'


def with_old_marker_key() -> tuple[str, int]:
    """The sample with the [invoices] key earlier samples shipped, and its line number."""
    anchor = 'description_template = "Factuur {invoice_number} {relation_name}"\n'
    assert anchor in SAMPLE
    text = SAMPLE.replace(anchor, anchor + OLD_LINE + "\n", 1)
    return text, text.split("\n").index(OLD_LINE) + 1


def test_the_sample_has_one_setting_for_the_booked_marker_field():
    assert "booked_marker_field" not in SAMPLE
    assert '# "invoice.booked_marker" = ' in SAMPLE


def test_an_old_booked_marker_key_still_loads_with_a_notice_pointing_at_the_field_mapping(tmp_path, env):
    text, line = with_old_marker_key()
    config = load_config(write(tmp_path / "config.toml", text), env=env)
    (notice,) = config.notices
    assert notice.startswith(f"invoices.booked_marker_field (line {line}) is no longer read")
    assert '[perfectview.fields] "invoice.booked_marker"' in notice and "Remove the line" in notice
    # The old value changes nothing: the field written stays the mapping's (here the default).
    assert "invoice.booked_marker" not in config.perfectview.fields.names


def test_config_check_prints_the_notice(tmp_path, env, monkeypatch, capsys):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    text, _ = with_old_marker_key()
    path = write(tmp_path / "config.toml", text)
    assert cli.main(["config", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "note: invoices.booked_marker_field" in out and '"invoice.booked_marker"' in out
