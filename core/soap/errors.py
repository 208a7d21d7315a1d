"""Typed errors of a SOAP service call.

The split that matters for exactly-once: a `TransportFailure` with `maybe_processed`
True is *unknown* (the server may have committed the write), never *failed*. Messages
name the service, the operation and the record, and are scrubbed of secrets.
"""

from __future__ import annotations

from core.secrets import scrub


class ServiceError(Exception):
    """Something went wrong talking to a service."""

    def __init__(self, service: str, operation: str, message: str, *, record: str = ""):
        self.service = service
        self.operation = operation
        self.record = record
        self.detail = scrub(message)
        where = f"{service} {operation}" + (f" for {record}" if record else "")
        super().__init__(f"{where}: {self.detail}")


class TransportFailure(ServiceError):
    """No usable answer came back (connection, timeout, HTTP error, unreadable reply).

    `maybe_processed` is False only when the request certainly never reached the
    service (connect refused or timed out); then a write may be sent again. Otherwise
    the outcome is unknown and a write must be looked up before it is sent again.
    """

    def __init__(self, service: str, operation: str, message: str, *, record: str = "",
                 maybe_processed: bool = True, status_code: int | None = None):
        self.maybe_processed = maybe_processed
        self.status_code = status_code
        super().__init__(service, operation, message, record=record)


class ResponseInvalid(TransportFailure):
    """The service answered, but the answer is not a message we can trust
    (malformed XML, a DTD or entity declaration, a missing or mistyped element)."""


class RequestInvalid(ServiceError):
    """The request could not be built from the values given (they do not fit the WSDL).
    Nothing was sent."""

    maybe_processed = False


class SoapFault(ServiceError):
    """The service answered with a soap:Fault (HTTP 500)."""

    def __init__(self, service: str, operation: str, message: str, *, record: str = "",
                 code: str = ""):
        self.code = code
        # A Client/Sender fault means the request was refused before processing.
        self.maybe_processed = not any(part in code for part in ("Client", "Sender"))
        super().__init__(service, operation, f"SOAP fault {code}: {message}".strip(), record=record)


class ApiError(ServiceError):
    """The service processed the call and refused it in-band (ErrorMsg, Result.Succeeded=false).

    `maybe_processed` is False for a refusal that comes before any work (a lost session):
    then a write was certainly not done and may simply be sent again later."""

    maybe_processed = True

    def __init__(self, service: str, operation: str, code: str, description: str, *, record: str = ""):
        self.code = code
        self.description = scrub(description)
        super().__init__(service, operation, f"{description} (code {code})" if code else description,
                         record=record)


class BudgetExhausted(ServiceError):
    """A call was not made because its monthly budget is spent or reserved."""
