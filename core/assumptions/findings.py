"""What a check of one assumption found, and the config lines that would settle it.

A finding is the unit `pvsync check` prints, `--json` emits, the setup screen offers
choices for and a job refuses to start on, so all four say the same words.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Sequence

OK = "ok"
MISSING = "missing"        # a job that needs it cannot run: it refuses to start
WARNING = "warning"        # pvsync runs, with less (a check off, an invoice that waits)
UNVERIFIED = "unverified"  # cannot be checked without writing: named, with what pvsync does about it
NOT_CHECKED = "not checked"  # the service did not answer, or what it depends on is missing

KeyPath = tuple[str, ...]


@dataclass(frozen=True)
class Fix:
    """One config change that would use a candidate: `key` (a path of TOML keys) = `value`."""

    candidate: str
    key: KeyPath
    value: str

    def lines(self) -> tuple[str, str]:
        """The section header and the key line, exactly as they go into the config file."""
        *section, name = self.key
        return f"[{'.'.join(section)}]", f"{_toml_key(name)} = {json.dumps(self.value, ensure_ascii=False)}"

    def text(self) -> str:
        header, line = self.lines()
        return f"{header} {line}"


@dataclass(frozen=True)
class Finding:
    key: str          # stable id, e.g. "perfectview.field.organisation.debtor_number"
    service: str      # "PerfectView" or "e-Boekhouden"
    what: str         # the assumption in words
    status: str
    detail: str = ""  # what is missing or what the database answered, in words
    found: str = ""   # what the database has for it (part of the fingerprint)
    fixes: tuple[Fix, ...] = ()
    jobs: tuple[str, ...] = ()
    needed: bool = True  # False: every job that relies on it is switched off
    # The name check proposed in place of a missing one and checked this against ("Factuur" for
    # a missing workflow): the result holds once that proposal is set.
    checked_against: str = ""

    @property
    def blocks(self) -> bool:
        """A job that is on needs this, and the database does not answer it."""
        return self.status == MISSING and self.needed

    def sentence(self) -> str:
        """The words `pvsync check` prints and a refusing job logs."""
        text = f"{self.what}: {self.detail}" if self.detail else self.what
        if self.fixes:
            text += f" (to use {self.fixes[0].candidate!r}, set {self.fixes[0].text()})"
        return text

    def to_json(self) -> dict:
        return {"key": self.key, "service": self.service, "what": self.what, "status": self.status,
                "needed": self.needed, "jobs": list(self.jobs), "detail": self.detail, "found": self.found,
                "checked_against": self.checked_against,
                "candidates": [fix.candidate for fix in self.fixes],
                "config_lines": [list(fix.lines()) for fix in self.fixes],
                "config_changes": [{"key": list(fix.key), "value": fix.value} for fix in self.fixes]}


def _toml_key(name: str) -> str:
    bare = name.replace("_", "").replace("-", "").isalnum() and name.isascii()
    return name if bare else json.dumps(name, ensure_ascii=False)


def _closeness(wanted: str, name: str) -> float:
    target, folded = wanted.casefold(), name.casefold()
    bonus = 0.5 if target and (target in folded or folded in target) else 0.0
    return round(difflib.SequenceMatcher(None, target, folded).ratio() + bonus, 9)


def nearest(wanted: str, names: Sequence[str], *, limit: int = 6) -> list[str]:
    """`names` ordered closest to `wanted` first (at most `limit`): the candidates to offer."""
    unique = list(dict.fromkeys(n for n in names if n))
    return sorted(unique, key=lambda name: (-_closeness(wanted, name), name.casefold()))[:limit]


def equally_nearest(wanted: str, names: Sequence[str]) -> list[str]:
    """Every name as close to `wanted` as the nearest one, in `nearest`'s order: one name when
    the nearest is a clear choice, several when picking one would be a guess."""
    ranked = nearest(wanted, names, limit=len(names))
    if not ranked:
        return []
    best = _closeness(wanted, ranked[0])
    return [name for name in ranked if _closeness(wanted, name) == best]


def similar(wanted: str, name: str) -> bool:
    """Close enough to offer: "Debiteurnr." for "Debiteurnummer", not "Website"."""
    a, b = wanted.casefold(), name.casefold()
    return a in b or b in a or difflib.SequenceMatcher(None, a, b).ratio() >= 0.6
