"""Parsers for single config values: each checks type and range and says how to write it.

A parser takes the raw TOML value and returns the typed setting, or raises `Invalid`
with a message and a fix a person can act on. A wrong type is described by its kind
("a whole number", "text"), never echoed; values are repeated only for numbers and short
choices, never for addresses or free text, so a secret pasted into the wrong key does
not end up in an error (the loader scrubs every message as well).
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.config.problems import Invalid
from core.model import BTW_CODES, VatSide
from core.sync.vat_guard import NO_VAT

Parser = Callable[[Any, "ParseContext"], Any]


@dataclass(frozen=True)
class ParseContext:
    """What a parser may need besides the value: relative paths resolve against the config's folder."""

    config_dir: Path


def kind_of(value: object) -> str:
    """The TOML kind of a value, in words."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number with decimals"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (datetime, date, time)):
        return "a date or time"
    return type(value).__name__


def closest(word: str, candidates: Sequence[str]) -> str | None:
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _want(value: object, types: tuple[type, ...], expected: str, example: str) -> None:
    # bool is an int in Python but never a number in a config file.
    if isinstance(value, bool) and bool not in types or not isinstance(value, types):
        raise Invalid(f"is {kind_of(value)}, expected {expected}", f"write it like {example}")


def boolean() -> Parser:
    def parse(value: Any, ctx: ParseContext) -> bool:
        _want(value, (bool,), "true or false", "true (no quotes)")
        return value

    return parse


def text(*, required: bool = False, max_length: int = 200, example: str = '"text"') -> Parser:
    def parse(value: Any, ctx: ParseContext) -> str:
        _want(value, (str,), "text in quotes", example)
        value = value.strip()
        if required and not value:
            raise Invalid("is empty", f"fill it in, for example {example}")
        if len(value) > max_length:
            raise Invalid(f"is {len(value)} characters long, at most {max_length} are allowed", "shorten it")
        return value

    return parse


_REST_SOURCE = re.compile(r"[A-Za-z0-9_ ]{1,10}")


def rest_source() -> Parser:
    """The application code e-Boekhouden's REST API asks for when a session is opened: it refuses
    anything but 1 to 10 letters, digits, underscores and spaces (API_SESSION_002; a hyphen too)."""

    def parse(value: Any, ctx: ParseContext) -> str:
        _want(value, (str,), "text in quotes", '"pvsync"')
        if not _REST_SOURCE.fullmatch(value):
            shown = value if len(value) <= 40 else value[:40] + "..."
            raise Invalid(f'"{shown}" is not a source e-Boekhouden accepts: 1 to 10 letters, digits, underscores '
                          "or spaces", 'use a short name without hyphens or accents, for example "pvsync"')
        return value

    return parse


_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def guid(*, example: str) -> Parser:
    """A GUID (an Id PerfectView shows), or "" for none."""
    def parse(value: Any, ctx: ParseContext) -> str:
        _want(value, (str,), "an Id in quotes", example)
        value = value.strip().lower()
        if value and not _GUID.fullmatch(value):
            raise Invalid("is not an Id of the form 8-4-4-4-12 hexadecimal characters",
                          f'copy the Id from PerfectView, for example {example}, or write "" for none')
        return value

    return parse


def choice(options: Sequence[str]) -> Parser:
    listed = ", ".join(f'"{option}"' for option in options)

    def parse(value: Any, ctx: ParseContext) -> str:
        _want(value, (str,), f"one of {listed}", f'"{options[0]}"')
        if value in options:
            return value
        near = closest(value, options) or next((o for o in options if o.lower() == value.lower()), None)
        shown = value if len(value) <= 40 else value[:40] + "..."
        hint = f'did you mean "{near}"? ' if near else ""
        raise Invalid(f'"{shown}" is not one of the choices', f"{hint}use one of {listed}")

    return parse


def whole_number(minimum: int, maximum: int, *, example: int) -> Parser:
    def parse(value: Any, ctx: ParseContext) -> int:
        _want(value, (int,), "a whole number", f"{example} (no quotes)")
        if not minimum <= value <= maximum:
            raise Invalid(f"{value} is outside the allowed range", f"use a number from {minimum} to {maximum}")
        return value

    return parse


def limit(maximum: int, *, example: int) -> Parser:
    """A whole-number cap where 0 means "no cap" (TOML has no null): None then."""
    count = whole_number(0, maximum, example=example)

    def parse(value: Any, ctx: ParseContext) -> int | None:
        return count(value, ctx) or None

    return parse


def number(minimum: float, maximum: float, *, example: float, above_minimum: bool = False) -> Parser:
    """A plain (non-money) number such as a timeout or a share; money never goes through here."""
    lowest = f"above {minimum:g}" if above_minimum else f"from {minimum:g}"

    def parse(value: Any, ctx: ParseContext) -> float:
        _want(value, (int, float), "a number", f"{example:g} (no quotes)")
        too_low = value <= minimum if above_minimum else value < minimum
        if too_low or value > maximum or value != value:
            raise Invalid(f"{value:g} is outside the allowed range", f"use a number {lowest} up to {maximum:g}")
        return float(value)

    return parse


_DURATION_PART = re.compile(r"\s*(\d+)\s*([dhm])", re.IGNORECASE)
_UNIT = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}


def format_duration(span: timedelta) -> str:
    """The shortest way to write `span` in the config's own notation ("4h", "1d", "1h30m")."""
    minutes = int(span.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    return "".join(parts) or "0m"


def duration(minimum: timedelta, maximum: timedelta, *, example: str) -> Parser:
    """"4h", "30m", "1d", "1h30m", or a whole number of minutes."""
    bounds = f"from {format_duration(minimum)} to {format_duration(maximum)}"

    def parse(value: Any, ctx: ParseContext) -> timedelta:
        _want(value, (int, str), 'a duration such as "4h", "30m" or "1d"', f'"{example}"')
        if isinstance(value, int):
            span = timedelta(minutes=value)
        else:
            parts = _DURATION_PART.findall(value)
            if not parts or _DURATION_PART.sub("", value).strip():
                raise Invalid("is not a duration", f'write it like "{example}": a number followed by d, h or m '
                              '(days, hours, minutes), or a whole number of minutes')
            span = sum((int(n) * _UNIT[unit.lower()] for n, unit in parts), timedelta())
        if span <= timedelta():
            raise Invalid("must be longer than zero", f"use a duration {bounds}")
        if not minimum <= span <= maximum:
            raise Invalid(f"{format_duration(span)} is outside the allowed range", f"use a duration {bounds}")
        return span

    return parse


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def https_url(*, example: str, optional: bool = False) -> Parser:
    """An https address; plain http only for a simulator on this machine. `optional`: "" is
    accepted and means "the default address".

    The message never repeats the address: people paste keys into query strings.
    """

    def parse(value: Any, ctx: ParseContext) -> str:
        _want(value, (str,), "an address in quotes", f'"{example}"')
        value = value.strip()
        if optional and not value:
            return value
        try:
            parts = urlsplit(value)
            host = parts.hostname or ""
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            raise Invalid("is not a web address", f'write it like "{example}"') from None
        if parts.scheme not in ("https", "http") or not host:
            raise Invalid("is not a web address", f'write it like "{example}"')
        if parts.username is not None or parts.password is not None:
            raise Invalid("has a user name or password in the address",
                          "remove it from the address; credentials have their own keys")
        if parts.scheme == "http" and host.lower() not in LOOPBACK_HOSTS:
            raise Invalid("uses http, which would send credentials unencrypted",
                          "use https (plain http is only allowed for a simulator on 127.0.0.1, localhost or ::1)")
        return value

    return parse


def ca_file() -> Parser:
    """A PEM file of extra certificate authorities to trust; "" for the system's own."""

    def parse(value: Any, ctx: ParseContext) -> Path | None:
        _want(value, (str,), "a file path in quotes", '"/etc/ssl/certs/company-ca.pem"')
        if not value.strip():
            return None
        path = Path(value.strip()).expanduser()
        if not path.is_absolute():
            path = ctx.config_dir / path
        if not path.is_file():
            raise Invalid(f"the file {path} does not exist",
                          "give the path of the PEM file with your certificate authority, or \"\" to use the "
                          "system's certificate store")
        return path

    return parse


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def email_address(*, example: str = '"facturen@example.nl"') -> Parser:
    def parse(value: Any, ctx: ParseContext) -> str:
        _want(value, (str,), "an e-mail address in quotes", example)
        value = value.strip()
        if value and not _EMAIL.match(value):
            raise Invalid("is not an e-mail address", f"write it like {example}")
        return value

    return parse


LEDGER_CODE_MAX = 10


def ledger_code(*, example: str = "8000") -> Parser:
    """A grootboekrekening code: the text e-Boekhouden shows, up to 10 characters."""

    def parse(value: Any, ctx: ParseContext) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            raise Invalid("is a whole number, but ledger codes are text",
                          f'put it in quotes: "{value}"')
        _want(value, (str,), "a grootboekrekening code in quotes", f'"{example}"')
        value = value.strip()
        if not value:
            raise Invalid("is empty", f'give the grootboekrekening code, for example "{example}"')
        if len(value) > LEDGER_CODE_MAX or any(c.isspace() for c in value):
            raise Invalid(f"is not a grootboekrekening code (at most {LEDGER_CODE_MAX} characters, no spaces)",
                          f'use the code as e-Boekhouden shows it, for example "{example}"')
        return value

    return parse


_COUNTRY = re.compile(r"^[A-Z]{2}$")


def country_code(value: Any, ctx: ParseContext) -> str:
    _want(value, (str,), "a two-letter country code in quotes", '"NL"')
    if not _COUNTRY.match(value.strip()):
        raise Invalid("is not a two-letter country code", 'use the ISO code in capitals, for example "NL" or "BE"')
    return value.strip()


def template(placeholders: Sequence[str], *, example: str) -> Parser:
    """Text with {placeholders}, checked now so a typo does not fail at booking time."""
    allowed = ", ".join("{" + name + "}" for name in placeholders)

    def parse(value: Any, ctx: ParseContext) -> str:
        _want(value, (str,), "text in quotes", f'"{example}"')
        if not value.strip():
            raise Invalid("is empty", f'write a description, for example "{example}"')
        try:
            fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(value)
                      if name is not None]
        except ValueError:
            raise Invalid("has an unmatched { or }", "write {{ or }} for a literal brace") from None
        if any(spec or conversion for _, spec, conversion in fields):
            raise Invalid("has a formatting option after a placeholder", f"use plain placeholders: {allowed}")
        unknown = [name for name, _, _ in fields if name not in placeholders]
        if unknown:
            near = closest(unknown[0], placeholders)
            hint = f"did you mean {{{near}}}? " if near else ""
            shown = "{" + unknown[0][:30] + "}"
            raise Invalid(f"uses the unknown placeholder {shown}", f"{hint}use only {allowed}")
        return value

    return parse


def log_level(levels: Sequence[str]) -> Parser:
    pick = choice(levels)

    def parse(value: Any, ctx: ParseContext) -> str:
        return pick(value.upper() if isinstance(value, str) else value, ctx)

    return parse


def time_zone(value: Any, ctx: ParseContext) -> str:
    """An IANA time zone name such as "Europe/Amsterdam"."""
    from core.clock import UnknownZone, zone_named

    _want(value, (str,), "text in quotes", '"Europe/Amsterdam"')
    try:
        zone_named(value)
    except UnknownZone as error:
        raise Invalid(str(error), 'use an IANA zone name such as "Europe/Amsterdam" or "Europe/Brussels" '
                                  '(the list: timedatectl list-timezones)') from None
    return value


def btw_code(value: Any, ctx: ParseContext) -> str:
    """A current-or-legacy e-Boekhouden BTW-code for sales (invoices are sales bookings), or
    GEEN for domestic 0 % and exempt sales."""
    sales = [code for code, btw in BTW_CODES.items() if btw.side is VatSide.SALES] + [NO_VAT]
    _want(value, (str,), "a BTW-code in quotes", '"HOOG_VERK_21"')
    code = value.strip().upper()
    known = BTW_CODES.get(code)
    if known is None:
        near = closest(code, sales)
        hint = f'did you mean "{near}"? ' if near else ""
        raise Invalid("is not an e-Boekhouden BTW-code", f"{hint}use one of the sales codes: {', '.join(sales)}")
    if code not in sales:
        raise Invalid(f'"{code}" is a BTW-code for {known.side.value}, not for sales invoices',
                      f"use one of the sales codes: {', '.join(sales)}")
    return code
