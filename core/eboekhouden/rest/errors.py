"""e-Boekhouden REST error bodies as pvsync's error classes.

The REST API answers a refusal with `{type, code, title, message, status, traceId}`.
Titles may be localised, so pvsync decides on `code` only; the traceId goes into the
message (and so into the logbook line), because it is what e-Boekhouden support asks for.
"""

from __future__ import annotations

from typing import Any

from core.eboekhouden.errors import EboekhoudenError, SessionLost

# Where a person makes a new token (Chift's 2025-11 description of the menu, NOTES.md §1.2).
TOKEN_PAGE = "Beheer > Inrichting > Koppelingen > API > e-Boekhouden API"

INVOICE_NUMBER_TAKEN = ("MUT_019", "MUT_020")
RELATION_CODE_TAKEN = "REL_049"
TOKEN_EXPIRED = "API_SESSION_004"
TOKEN_MISSING = "API_SESSION_003"
SOURCE_CODES = ("API_SESSION_001", "API_SESSION_002")
SESSION_UNKNOWN = "SECURITY_010"


class InvoiceAlreadyBooked(EboekhoudenError):
    """MUT_019/MUT_020: e-Boekhouden has a booking with this invoice number.

    It may be the one pvsync sent before its answer was lost: the invoices job looks it up,
    compares and links it, and never sends it again under a new number
    (`maybe_processed` stays True so the job takes that path)."""


class RelationCodeTaken(EboekhoudenError):
    """REL_049: a relation with this code exists; link it, never create a second one."""


class TokenRejected(EboekhoudenError):
    """The API token is expired, revoked or missing: nothing was processed and nothing will
    be until a person makes a new token."""

    maybe_processed = False


class SourceRejected(EboekhoudenError):
    """e-Boekhouden refuses the configured `source` (the application code)."""

    maybe_processed = False


class RestRefused(EboekhoudenError):
    """Any other refusal the REST API explains with an error body."""


class NotFound(RestRefused):
    """404: the record asked for does not exist."""

    maybe_processed = False


def describe(status: int, body: Any) -> tuple[str, str, str]:
    """(code, words, traceId) of an error answer in any shape: its title and message (or the HTTP
    status when it has neither) and the first few of its errors; empty strings for what it lacks."""
    body = body if isinstance(body, dict) else {}
    fields = {key.lower(): value for key, value in body.items()}
    code = str(fields.get("code") or "").strip()
    title = str(fields.get("title") or "").strip()
    message = str(fields.get("message") or "").strip()
    trace = str(fields.get("traceid") or "").strip()
    text = title or f"HTTP {status}"
    if message and message != title:
        text = f"{text}: {message}"
    problems = fields.get("errors")
    if isinstance(problems, dict):
        problems = [f"{key}: {value}" for key, value in problems.items()]
    extra = [str(p) for p in problems or () if str(p) not in (title, message)] if isinstance(problems, list) else []
    if extra:
        text += " (" + "; ".join(extra[:5]) + ")"
    return code, text, trace


def error_from_body(operation: str, status: int, body: Any, *, record: str = "",
                    fresh_session: bool = False) -> EboekhoudenError:
    """The error class for an error answer; `fresh_session` when the request was made with a
    session opened moments ago (then SECURITY_010 means the token itself is no good)."""
    code, text, trace = describe(status, body)
    if trace:
        text += f" [traceId {trace}]"
    # On a fresh session a refusal without the service's own code (a bare 401/403, a proxy's page) is the
    # token too: nothing else is in play before the first call is answered.
    refused_fresh = fresh_session and (code == SESSION_UNKNOWN or (status in (401, 403) and not code))
    if code in (TOKEN_EXPIRED, TOKEN_MISSING) or refused_fresh:
        return TokenRejected(operation, code, f"{text}. The e-Boekhouden API token is expired, revoked or "
                                              f"missing: make a new one in e-Boekhouden under {TOKEN_PAGE} and "
                                              "put it in eboekhouden.api_token (or PVSYNC_EBOEKHOUDEN_API_TOKEN)",
                             record=record)
    if code in SOURCE_CODES:
        return SourceRejected(operation, code, f"{text}. Set eboekhouden.source to at most 10 letters, digits, "
                                               "underscores or spaces", record=record)
    if status == 401 or code == SESSION_UNKNOWN:
        return SessionLost(operation, code or "HTTP 401", text, record=record)
    if code in INVOICE_NUMBER_TAKEN:
        return InvoiceAlreadyBooked(operation, code, text, record=record)
    if code == RELATION_CODE_TAKEN:
        return RelationCodeTaken(operation, code, text, record=record)
    if status == 404:
        return NotFound(operation, code or "HTTP 404", text, record=record)
    return RestRefused(operation, code or f"HTTP {status}", text, record=record)
