"""The display zone of a config file, for commands that need nothing else from it.

`pvsync log`, `status` and `invoices list` must work with a config whose secrets are not at
hand (or that has a problem elsewhere), so they read just `[display] timezone`; a missing
or wrong value leaves the default (Amsterdam), and `pvsync config check` names the problem.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from core.clock import DEFAULT_ZONE, UnknownZone, set_display_zone, zone_named


def display_zone_name(config_path: Path) -> str:
    try:
        raw = tomllib.loads(Path(config_path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return DEFAULT_ZONE
    display = raw.get("display")
    name = display.get("timezone") if isinstance(display, dict) else None
    if not isinstance(name, str):
        return DEFAULT_ZONE
    try:
        zone_named(name)
    except UnknownZone:
        return DEFAULT_ZONE
    return name


def use_display_zone_of(config_path: Path) -> None:
    """Show every time of this process in the zone `config_path` asks for."""
    set_display_zone(display_zone_name(config_path))
