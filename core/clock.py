"""The one clock people read: every moment shown in the `[display] timezone` zone, zone named.

The books live in Amsterdam time whatever zone the server runs in, so that is the default;
an organisation elsewhere sets `[display] timezone`. The console, the command line, the
daemon's log lines, the reports and the CSV export all format through here, so a person
never has to guess which zone a time is in. Machines get ISO 8601 with the offset.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Europe/Amsterdam"

_zone = ZoneInfo(DEFAULT_ZONE)


class UnknownZone(ValueError):
    pass


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone `name` ("Europe/Amsterdam"), or UnknownZone saying how to write one."""
    try:
        if not name or name != name.strip() or name.startswith(("/", ".")):
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownZone("is not a time zone pvsync knows") from None


def display_zone() -> ZoneInfo:
    return _zone


def set_display_zone(zone: ZoneInfo | str) -> None:
    """Set once by each front end when it has read the config (a process shows one zone)."""
    global _zone
    _zone = zone if isinstance(zone, ZoneInfo) else zone_named(zone)


def local(moment: datetime) -> datetime:
    """`moment` in the display zone; a naive moment is taken to be in the display zone already."""
    return moment.replace(tzinfo=_zone) if moment.tzinfo is None else moment.astimezone(_zone)


def shown(moment: datetime | None, *, seconds: bool = False, empty: str = "-") -> str:
    """'2026-12-02 14:05 CET' (with seconds: '2026-12-02 14:05:09 CET')."""
    if moment is None:
        return empty
    return local(moment).strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def shown_short(moment: datetime | None, *, empty: str = "-") -> str:
    """'2026-12-02 14:05' for columns whose heading names the zone once."""
    return empty if moment is None else local(moment).strftime("%Y-%m-%d %H:%M")


def clock_time(moment: datetime) -> str:
    return local(moment).strftime("%H:%M:%S")


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in the display zone with its offset: '2026-12-02T14:05:09+01:00'."""
    return None if moment is None else local(moment).isoformat(timespec="seconds")


def zone_name(moment: datetime | None = None) -> str:
    """The zone's abbreviation at `moment` (now): 'CET' in winter, 'CEST' in summer."""
    return local(moment or datetime.now(_zone)).strftime("%Z")


def now() -> datetime:
    return datetime.now(_zone)


def format_duration(span: timedelta) -> str:
    """4 h, 30 min, 1 d 2 h: intervals as a person says them."""
    seconds = int(span.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
    return " ".join(parts) or "0 s"
