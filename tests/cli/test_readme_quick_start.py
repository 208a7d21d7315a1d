"""The README's quick start: how to get uv first, then exactly the two commands."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_the_quick_start_says_how_to_get_uv_before_its_two_commands():
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    before, block = re.search(r"^(.*?)```\n(.*?)```", section, re.DOTALL).groups()
    assert "uv" in before and "install" in before and "https://astral.sh/uv/install.sh" in before
    assert block.splitlines() == ["uv run pvsync demo", "uv run pytest"]
