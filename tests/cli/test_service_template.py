"""contrib/pvsync@.service: one instance per administration, each with its own config, credentials and
state folder, so two instances can never share a state folder (and so never fight over its lock)."""

from __future__ import annotations

import configparser
from pathlib import Path

from core.config.secret_sources import CREDENTIALS_DIRECTORY

ROOT = Path(__file__).resolve().parents[2]


def unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, delimiters=("=",))
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((ROOT / "contrib" / name).read_text(encoding="utf-8"))
    return parser


def values(parser: configparser.RawConfigParser, key: str) -> list[str]:
    """Every value of a repeatable key (configparser keeps only the last one)."""
    text = (ROOT / "contrib" / "pvsync@.service").read_text(encoding="utf-8")
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{key}=")]


def test_each_instance_has_its_own_config_credentials_and_state():
    service = unit("pvsync@.service")["Service"]
    environment = dict(value.split("=", 1) for value in values(service, "Environment"))
    assert environment == {"PVSYNC_CONFIG": "/etc/pvsync/%i/config.toml", "PVSYNC_STATE_DIR": "/var/lib/pvsync/%i"}
    assert service["StateDirectory"] == "pvsync/%i" and service["StateDirectoryMode"] == "0700"
    assert service["ReadWritePaths"].split() == ["/var/lib/pvsync/%i", "/etc/pvsync/%i"]
    credentials = values(service, "LoadCredential")
    assert len(credentials) == 6 and all(":/etc/pvsync/%i/credentials/" in c for c in credentials)
    assert service["ExecStart"].endswith("pvsync daemon") and service["KillSignal"] == "SIGTERM"
    # The config refers to the credentials the way pvsync expands them.
    assert "${" + CREDENTIALS_DIRECTORY + "}/eb_security_code_1" in (ROOT / "contrib" / "pvsync@.service").read_text()


def test_the_template_keeps_the_single_units_protections():
    single, template = unit("pvsync.service")["Service"], unit("pvsync@.service")["Service"]
    for key in ("User", "NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "ExecReload",
                "TimeoutStopSec", "Restart"):
        assert template[key] == single[key], key
