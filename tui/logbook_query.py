"""The logbook filters and the CSV export; plain functions that run in worker threads.

The export pages through the store by id like the screen does, so a large logbook is
written without ever being held in memory.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core import clock
from core.store import LEVELS, LogEntry, Store

# The kinds the engine and jobs log under (core.store's docs); "all" is no filter.
KINDS = ("engine", "run", "relation", "invoice", "payment", "config", "request")
EXPORT_PAGE = 1000
# "at" in the display zone as a spreadsheet reads a date and time; "zone" names it (CET, CEST).
CSV_COLUMNS = ("id", "at", "zone", "level", "kind", "run_id", "subject", "message", "details")
# Dutch spreadsheet programs split on ";" (the comma is their decimal sign) and need the
# byte order mark to read UTF-8 (é, ë) instead of their own code page.
CSV_DELIMITER, CSV_ENCODING = ";", "utf-8-sig"
# A cell starting like this is a formula to a spreadsheet; relation names come from outside.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class LogFilter:
    level: str = "DEBUG"  # the minimum level shown
    kind: str | None = None
    run_id: int | None = None
    text: str = ""

    def query(self) -> dict[str, Any]:
        return {"level": self.level if self.level != LEVELS[0] else None,
                "kinds": [self.kind] if self.kind else None, "run_id": self.run_id, "text": self.text or None}

    def next_level(self) -> LogFilter:
        return replace(self, level=LEVELS[(LEVELS.index(self.level) + 1) % len(LEVELS)])

    def next_kind(self) -> LogFilter:
        order = (None, *KINDS)
        return replace(self, kind=order[(order.index(self.kind) + 1) % len(order)])

    def describe(self) -> str:
        level = "all levels" if self.level == LEVELS[0] else f"{self.level} and worse"
        parts = [level, f"kind {self.kind}" if self.kind else "all kinds",
                 f"run {self.run_id}" if self.run_id is not None else "all runs"]
        if self.text:
            parts.append(f'text "{self.text}"')
        return ", ".join(parts)


def newest_page(store: Store, log_filter: LogFilter, limit: int) -> list[LogEntry]:
    """The newest `limit` entries, oldest first."""
    return list(reversed(store.logbook_page(limit=limit, **log_filter.query())))


def older_page(store: Store, log_filter: LogFilter, before_id: int, limit: int) -> list[LogEntry]:
    return list(reversed(store.logbook_page(before_id=before_id, limit=limit, **log_filter.query())))


def newer_page(store: Store, log_filter: LogFilter, after_id: int, limit: int) -> list[LogEntry]:
    return store.logbook_page(after_id=after_id, limit=limit, **log_filter.query())


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def export_csv(store: Store, log_filter: LogFilter, path: Path) -> int:
    """Write every entry the filter lets through, oldest first; returns how many.

    The file is created readable by its owner only: the logbook names customers.
    """
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    written, after = 0, 0
    with open(descriptor, "w", newline="", encoding=CSV_ENCODING) as handle:
        writer = csv.writer(handle, delimiter=CSV_DELIMITER)
        writer.writerow(CSV_COLUMNS)
        while True:
            page = newer_page(store, log_filter, after, EXPORT_PAGE)
            for entry in page:
                writer.writerow([_cell(value) for value in (
                    entry.id, clock.local(entry.at).strftime("%Y-%m-%d %H:%M:%S"), clock.zone_name(entry.at),
                    entry.level, entry.kind, entry.run_id, entry.subject, entry.message,
                    json.dumps(entry.details, ensure_ascii=False) if entry.details else "")])
            written += len(page)
            if len(page) < EXPORT_PAGE:
                return written
            after = page[-1].id
