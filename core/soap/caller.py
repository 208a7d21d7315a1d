"""Running one SOAP operation: count it, call it, turn every failure into a typed error,
and retry reads (never writes) with backoff and jitter."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import httpx
import zeep.exceptions
import zeep.loader
from lxml import etree

from core.soap.errors import RequestInvalid, ResponseInvalid, ServiceError, SoapFault, TransportFailure
from core.soap.fast_read import UNCHANGED, ListReader, NotPlain, RememberedAnswer
from core.soap.fast_write import MessageWriter, NotPlainRequest
from core.soap.transport import AnswerTooSlow, HttpxTransport, ResponseTooLarge

log = logging.getLogger(__name__)
Reader = ListReader | RememberedAnswer


def current_month() -> str:
    """The budget month, 'YYYY-MM' in Amsterdam (e-Boekhouden counts calendar months)."""
    from datetime import datetime

    from core.model import AMSTERDAM

    return datetime.now(AMSTERDAM).strftime("%Y-%m")


class CallMeter(Protocol):
    """Where call counts go; the state store implements it so counts survive restarts."""

    def record(self, service: str, operation: str) -> None: ...

    def count_this_month(self, service: str, operation: str) -> int: ...

    # A meter may also have `count_ahead(service, operation)`: count a write before it is handed to
    # another thread to send, whose `record` then counts nothing more (core.store.call_counts). The
    # store and the daily-limit meter have none: core.eboekhouden.port.count_ahead_with asks.


class CountedAhead:
    """A meter's writes counted by `count_ahead` and not sent yet: the sending thread's `record`
    of each takes one here instead of counting it again. Safe across threads."""

    def __init__(self) -> None:
        self._waiting: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def add(self, service: str, operation: str) -> None:
        with self._lock:
            self._waiting[(service, operation)] += 1

    def take(self, service: str, operation: str) -> bool:
        """True (and one fewer waiting) when this call was counted as it was handed over."""
        with self._lock:
            if self._waiting[(service, operation)] > 0:
                self._waiting[(service, operation)] -= 1
                return True
            return False


class MemoryCallMeter:
    """Counts calls in memory (tests, `pvsync check`)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.monthly: Counter[tuple[str, str, str]] = Counter()
        self._ahead = CountedAhead()

    def count_ahead(self, service: str, operation: str) -> None:
        self._count(service, operation)
        self._ahead.add(service, operation)

    def record(self, service: str, operation: str) -> None:
        if not self._ahead.take(service, operation):
            self._count(service, operation)

    def _count(self, service: str, operation: str) -> None:
        self.counts[(service, operation)] += 1
        self.monthly[(service, operation, current_month())] += 1

    def count(self, service: str, operation: str) -> int:
        return self.counts[(service, operation)]

    def count_this_month(self, service: str, operation: str) -> int:
        return self.monthly[(service, operation, current_month())]


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for reads: attempt n waits base * 2**(n-1), capped, times a jitter in [0.5, 1.5)."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * (0.5 + rng.random())


NO_RETRY = RetryPolicy(attempts=1)


class SoapCaller:
    """Calls operations on one zeep service proxy for one service name."""

    def __init__(self, service_name: str, proxy: Any, *, meter: CallMeter | None = None,
                 retry: RetryPolicy = RetryPolicy(), sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None, transport: HttpxTransport | None = None):
        self.transport = transport
        self.service_name = service_name
        self.proxy = proxy
        self.meter = meter or MemoryCallMeter()
        self.retry = retry
        self.sleep = sleep
        self.rng = rng or random.Random()
        # Every request is written without zeep's type walk where its shape allows, byte for
        # byte as zeep writes it: 0.1 ms instead of 0.3 to 0.5 ms of CPU for each of the
        # thousands of calls of a first run (core.soap.fast_write).
        self._writers: dict[str, MessageWriter | None] = {}

    def call(self, operation: str, *, record: str = "", write: bool, reader: Reader | None = None,
             **arguments: Any) -> Any:
        """Call `operation`. Reads are retried on transport trouble; writes never are,
        because the caller must first find out whether the write landed. A `reader` reads a
        large plain answer faster than zeep (core.soap.fast_read)."""
        attempts = 1 if write else max(1, self.retry.attempts)
        for attempt in range(1, attempts + 1):
            try:
                return self.call_once(operation, record=record, reader=reader, **arguments)
            except (TransportFailure, SoapFault) as error:
                retryable = isinstance(error, TransportFailure) or error.maybe_processed
                if attempt >= attempts or not retryable:
                    raise
                delay = self.retry.delay(attempt, self.rng)
                log.warning("%s; retrying in %.1f s (attempt %d of %d)", error, delay, attempt + 1, attempts)
                self.sleep(delay)
        raise AssertionError("unreachable")

    def call_once(self, operation: str, *, record: str = "", reader: Reader | None = None,
                  **arguments: Any) -> Any:
        service, fail = self.service_name, self._failure(operation, record)
        self.meter.record(service, operation)
        if self.transport is not None:
            self.transport.begin_call()
        try:
            writer = self._writer(operation)
            message = self._written_quickly(writer, arguments) if writer is not None else None
            if message is not None:
                return self._send_written(operation, message, writer.headers, reader)
            if reader is not None:
                return self._read_quickly(operation, reader, arguments)
            return getattr(self.proxy, operation)(**arguments)
        except (zeep.exceptions.ValidationError, ValueError, TypeError) as exc:
            if self.transport is not None and not self.transport.posted():
                raise RequestInvalid(service, operation, f"the request does not fit the WSDL ({exc})",
                                     record=record) from None
            raise fail(ResponseInvalid, f"the answer does not match the WSDL ({exc})") from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise fail(TransportFailure, f"could not connect ({type(exc).__name__}: {exc})",
                       maybe_processed=False) from None
        except httpx.TimeoutException as exc:
            raise fail(TransportFailure, f"no answer in time ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise fail(TransportFailure, f"connection broke ({type(exc).__name__}: {exc})") from None
        except ResponseTooLarge as exc:
            raise fail(ResponseInvalid, str(exc)) from None
        except AnswerTooSlow as exc:
            raise fail(TransportFailure, str(exc)) from None
        except zeep.exceptions.Fault as exc:
            if exc.code is None:  # zeep's word for an HTTP error whose page happens to be XML: no soap:Fault in it
                status = self.transport.status() if self.transport is not None else None
                raise fail(TransportFailure, f"HTTP {status or 'error'} with an error page instead of a SOAP answer",
                           status_code=status) from None
            code = exc.code.text if hasattr(exc.code, "text") else str(exc.code or "")
            raise SoapFault(service, operation, str(exc.message or ""), record=record, code=code) from None
        except zeep.exceptions.TransportError as exc:
            # HTTP status without a fault, or a body that is not XML at all
            status = getattr(exc, "status_code", None)
            kind = ResponseInvalid if status == 200 else TransportFailure
            text = f"HTTP {status}" if status and status != 200 else "the answer is not valid XML"
            raise fail(kind, text, status_code=status) from None
        except (zeep.exceptions.DTDForbidden, zeep.exceptions.EntitiesForbidden) as exc:
            raise fail(ResponseInvalid, f"the answer declares a DTD or entities, refused ({type(exc).__name__})") from None
        except (zeep.exceptions.XMLSyntaxError, etree.XMLSyntaxError) as exc:
            raise fail(ResponseInvalid, f"the answer is not valid XML ({exc})") from None
        except zeep.exceptions.XMLParseError as exc:
            raise fail(ResponseInvalid, f"the answer does not match the WSDL ({exc})") from None

    def _writer(self, operation: str) -> MessageWriter | None:
        """The operation's quick request writer (core.soap.fast_write), made on its first call;
        None when zeep writes its requests (its shape is not a plain one, or no transport of ours)."""
        if operation not in self._writers:
            try:
                writer = MessageWriter(self.proxy._binding, operation) if self.transport is not None else None
            except (TypeError, AttributeError, ValueError):
                writer = None
            self._writers[operation] = writer
        return self._writers[operation]

    def _written_quickly(self, writer: MessageWriter, arguments: dict[str, Any]) -> bytes | None:
        """The request as `writer` writes it (core.soap.fast_write); None when zeep writes it."""
        try:
            return writer.envelope(arguments)
        except NotPlainRequest:
            return None

    def _send_written(self, operation: str, message: bytes, headers: dict[str, str],
                      reader: Reader | None) -> Any:
        """Post a request written by core.soap.fast_write, as zeep's binding would send it."""
        reply = self.transport.post(self.proxy._binding_options["address"], message, dict(headers))
        return self._answer(operation, reply, reader)

    def _read_quickly(self, operation: str, reader: Reader, arguments: dict[str, Any]) -> Any:
        """The answer read by `reader` (core.soap.fast_read); zeep reads whatever is not a plain answer."""
        client = self.proxy._client
        with client.settings(raw_response=True):
            reply = getattr(self.proxy, operation)(**arguments)
        return self._answer(operation, reply, reader)

    def _answer(self, operation: str, reply: Any, reader: Reader | None) -> Any:
        """The result of a raw reply: read by `reader` when it is a plain answer, else by zeep."""
        client, binding = self.proxy._client, self.proxy._binding
        if reader is not None and reply.status_code == 200 \
                and "multipart" not in reply.headers.get("Content-Type", ""):
            if isinstance(reader, RememberedAnswer) and reader.unchanged(reply.content):
                return UNCHANGED  # byte for byte an answer read (and checked) before
            document = zeep.loader.parse_xml(reply.content, self.transport, settings=client.settings)
            try:
                return reader.read(document)
            except NotPlain:
                pass
        return binding.process_reply(client, binding.get(operation), reply)

    def _failure(self, operation: str, record: str):
        def make(kind: type[TransportFailure], message: str, **kw) -> ServiceError:
            return kind(self.service_name, operation, message, record=record, **kw)

        return make
