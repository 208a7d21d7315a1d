"""Secrets that cannot leak by accident.

A `Secret` prints as stars in repr, str, f-strings, tracebacks with locals and pickles;
only the code that builds a request calls `reveal()`. Every secret created is also
registered with the process-wide redactor, which the logging filter and the error
formatter use to scrub any text that might carry one (zeep and httpx put whole
envelopes and URLs in their messages).
"""

from __future__ import annotations

import logging
import re
import threading
import weakref

MASK = "********"

# Envelope elements that carry credentials in either service, whatever their value.
_SECRET_ELEMENTS = re.compile(
    r"(<(?:[\w.-]+:)?(?:Username|SecurityCode1|SecurityCode2|SessionID|ApiKey|DatabaseId|UserId|Password)\b[^>]*>)"
    r"[^<]*"
    r"(</(?:[\w.-]+:)?(?:Username|SecurityCode1|SecurityCode2|SessionID|ApiKey|DatabaseId|UserId|Password)>)",
    re.IGNORECASE,
)


class Secret:
    """A credential value. Compare and hash by value; never shown.

    `masked_in_text=False` is for a value that is kept out of requests' logs (its envelope
    element is masked) but is also an ordinary word: the e-Boekhouden username, which may
    be a company name or "pvsync", and would otherwise be blanked out of every path and
    sentence that happens to contain it.
    """

    __slots__ = ("_value", "__weakref__")

    def __init__(self, value: str, *, masked_in_text: bool = True):
        if not isinstance(value, str):
            raise TypeError("a Secret holds a string")
        self._value = value
        if value and masked_in_text:
            REDACTOR.register(value)

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __repr__(self) -> str:
        return f"Secret({MASK})" if self._value else "Secret('')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self):
        raise TypeError("a Secret cannot be pickled")


class Redactor:
    """Remembers every secret value in the process and scrubs them from text."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    def register(self, value: str) -> None:
        # Very short values would mask ordinary words; credentials are never that short.
        if len(value) < 4:
            return
        with self._lock:
            if value not in self._values:
                self._values.add(value)
                self._pattern = None

    def scrub(self, text: str) -> str:
        if not text:
            return text
        text = _SECRET_ELEMENTS.sub(lambda m: f"{m.group(1)}{MASK}{m.group(2)}", text)
        with self._lock:
            if self._pattern is None and self._values:
                alternatives = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(v) for v in alternatives))
            pattern = self._pattern
        return pattern.sub(MASK, text) if pattern else text


REDACTOR = Redactor()


def scrub(text: str) -> str:
    """Text with every known secret and credential element masked."""
    return REDACTOR.scrub(text)


class RedactingFilter(logging.Filter):
    """Masks secrets in every record passing a handler, message and traceback alike."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record
            message = str(record.msg)
        record.msg = scrub(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Format the traceback now, scrubbed, and drop the live exception
            # (its frames hold locals that may include revealed values).
            formatter = logging.Formatter()
            record.exc_text = scrub(formatter.formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


_quieted = weakref.WeakSet()


def quiet_wire_loggers() -> None:
    """zeep.transports logs whole envelopes at DEBUG and httpx logs URLs at INFO.

    Both are held at WARNING whatever the root level is, and get the redacting filter
    in case someone lowers them anyway.
    """
    for name in ("zeep", "zeep.transports", "zeep.wsdl", "httpx", "httpcore"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.WARNING)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
