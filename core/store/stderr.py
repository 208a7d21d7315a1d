"""The logbook's second home: one line per event on stderr, for journald.

Events go through the `logging` logger "pvsync". Nothing is printed until a front end
asks for it with `logging_to_stderr()` (the console must not have lines written over its
screen), and every line passes `RedactingFilter` on its way out.
"""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from typing import Iterator, TextIO

from core.secrets import RedactingFilter

LOGGER = logging.getLogger("pvsync")
LOGGER.setLevel(logging.DEBUG)
# Without a handler Python would print warnings through its last-resort handler.
LOGGER.addHandler(logging.NullHandler())
LOGGER.propagate = False


class EventFormatter(logging.Formatter):
    """`LEVEL kind[subject] message`; journald stamps the time, a terminal gets one here."""

    def __init__(self, *, timestamps: bool):
        super().__init__(datefmt="%Y-%m-%d %H:%M:%S")
        self.timestamps = timestamps

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
def logging_to_stderr(level: str = "INFO", stream: TextIO | None = None) -> Iterator[logging.Handler]:
    """Print logbook events, and warnings of the core's own loggers (retries and the
    like), on stderr while the block runs."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setLevel(level)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(EventFormatter(timestamps=stream.isatty()))
    loggers = [LOGGER, logging.getLogger("core")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def emit(level: str, kind: str, message: str, *, subject: str = "", run_id: int | None = None) -> None:
    LOGGER.log(logging.getLevelName(level), message,
               extra={"kind": kind, "subject": subject, "run_id": run_id})
