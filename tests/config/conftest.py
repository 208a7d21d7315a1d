"""Helpers for the config tests: the shipped sample as the base, valid secrets in a fake environment."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = (ROOT / "sample_config.toml").read_text(encoding="utf-8")

GUID_A = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
GUID_B = "6f9619ff-8b86-d011-b42d-00c04fc964ff"
HEX32 = "0123456789abcdef0123456789abcdef"

API_TOKEN = "e5b1c0de-rest-token-for-tests"

VALID_SECRETS = {
    "PVSYNC_EBOEKHOUDEN_API_TOKEN": API_TOKEN,
    "PVSYNC_EBOEKHOUDEN_USERNAME": "demo-user",
    "PVSYNC_EBOEKHOUDEN_SECURITY_CODE_1": HEX32,
    "PVSYNC_EBOEKHOUDEN_SECURITY_CODE_2": GUID_A,
    "PVSYNC_PERFECTVIEW_API_KEY": GUID_A,
    "PVSYNC_PERFECTVIEW_DATABASE_ID": GUID_B,
    "PVSYNC_PERFECTVIEW_USER_ID": GUID_A,
}


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path


def sample_with(dotted: str, value: str, text: str = SAMPLE) -> tuple[str, int]:
    """The sample with one `key = value` line replaced, and that line's number.

    Walks the sample's own simple layout (one header per section, `key = value` lines)
    independently of the scanner under test, so line-number assertions mean something.
    """
    *section, name = dotted.split(".")
    wanted, current = ".".join(section), ""
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        header = re.match(r"^\[([^\]]+)\]\s*$", line)
        if header:
            current = header.group(1)
        elif current == wanted and re.match(rf"^{re.escape(name)}\s*=", line):
            lines[number - 1] = f"{name} = {value}"
            return "\n".join(lines), number
    raise KeyError(dotted)


@pytest.fixture
def env() -> dict[str, str]:
    return dict(VALID_SECRETS)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return write(tmp_path / "config.toml", SAMPLE)
