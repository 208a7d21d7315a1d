"""The logbook's second home: one line per event on stderr, for journald.

Events go through the `logging` logger "pvsync". Nothing is printed until a front end
asks for it with `logging_to_stderr()` (the console must not have lines written over its
screen), and every line passes `RedactingFilter` on its way out.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from contextlib import contextmanager
from typing import Iterator, TextIO

from core import clock
from core.secrets import RedactingFilter

LOGGER = logging.getLogger("pvsync")
LOGGER.setLevel(logging.DEBUG)
# Without a handler Python would print warnings through its last-resort handler.
LOGGER.addHandler(logging.NullHandler())
LOGGER.propagate = False


class EventFormatter(logging.Formatter):
    """`LEVEL kind[subject] message`; journald stamps the time, a terminal or a file gets one
    here, in the display zone and naming it (a server's own zone is often UTC)."""

    def __init__(self, *, timestamps: bool):
        super().__init__()
        self.timestamps = timestamps

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return clock.shown(datetime.fromtimestamp(record.created, UTC), seconds=True)

    def format(self, record: logging.LogRecord) -> str:
        kind = getattr(record, "kind", record.name)
        subject = getattr(record, "subject", "")
        where = f"{kind}[{subject}]" if subject else kind
        line = f"{record.levelname} {where} {record.getMessage()}"
        if record.exc_text:
            line = f"{line}\n{record.exc_text}"
        if self.timestamps:
            line = f"{self.formatTime(record, self.datefmt)} {line}"
        return line


@contextmanager
def logging_to_stderr(level: str = "INFO", stream: TextIO | None = None, *,
                      daemon: bool = False) -> Iterator[logging.Handler]:
    """Print logbook events, and warnings of the core's own loggers (retries and the
    like), on stderr while the block runs. A terminal gets the time on each line, and so
    does a daemon whose stderr is not the journal (a file, docker logs)."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setLevel(level)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(EventFormatter(timestamps=_wants_timestamps(stream, daemon)))
    loggers = [LOGGER, logging.getLogger("core")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def _wants_timestamps(stream: TextIO, daemon: bool) -> bool:
    # systemd sets JOURNAL_STREAM when stderr is the journal, which stamps every line itself.
    return stream.isatty() or daemon and not os.environ.get("JOURNAL_STREAM")


def emit(level: str, kind: str, message: str, *, subject: str = "", run_id: int | None = None) -> None:
    LOGGER.log(logging.getLevelName(level), message,
               extra={"kind": kind, "subject": subject, "run_id": run_id})
