"""e-Boekhouden's own errors, on top of the shared SOAP error types.

The real service's error codes are not public, so pvsync never branches on a specific
code: an in-band error is an `EboekhoudenError` carrying code and description as
e-Boekhouden sent them; only "the session is gone" is recognised, by its wording, because
that one has a cure (open a new session once).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.soap.errors import ApiError, RequestInvalid

SERVICE = "e-Boekhouden"

_SESSION_WORDING = re.compile(r"sessi", re.IGNORECASE)


class EboekhoudenError(ApiError):
    """e-Boekhouden processed the call and refused it (a filled ErrorMsg / LastErrorCode)."""

    def __init__(self, operation: str, code: str, description: str, *, record: str = ""):
        super().__init__(SERVICE, operation, code, description, record=record)


class SessionLost(EboekhoudenError):
    """The session is unknown or expired; nothing was processed."""

    maybe_processed = False


class InvalidForEboekhouden(RequestInvalid):
    """A record breaks e-Boekhouden's limits; it was not sent."""

    def __init__(self, record: str, problems: Sequence[object], *, operation: str = "request"):
        self.problems = list(problems)
        listed = "; ".join(str(p) for p in self.problems)
        super().__init__(SERVICE, operation, f"not sent: {listed}", record=record)


def is_session_error(code: str, description: str) -> bool:
    return bool(_SESSION_WORDING.search(code) or _SESSION_WORDING.search(description))
