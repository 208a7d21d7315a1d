"""The two ways PerfectView says no: the service refused a call, or the database lacks a
name the configuration uses."""

from __future__ import annotations

from core.secrets import scrub
from core.soap.errors import ApiError

SERVICE = "PerfectView"


class PerfectViewError(ApiError):
    """Result.Succeeded was false: the service read the call and refused it.

    Carries the service's Code, Number, Description and (on create, update and search
    calls) ErrorInformation, scrubbed of secrets like every ServiceError.
    """

    def __init__(self, operation: str, code: str, description: str, *, number: int = 0,
                 error_information: str = "", record: str = ""):
        self.number = number
        self.error_information = scrub(error_information or "")
        text = description or "refused without a description"
        if self.error_information:
            text = f"{text}; {self.error_information}"
        super().__init__(SERVICE, operation, code, text, record=record)
        self.description = scrub(description or "")


class NotInDatabase(LookupError):
    """A field, relation type, user, workflow, step, VAT code or country named in the
    configuration does not exist in this PerfectView database."""

    SHOWN = 40  # enough to spot a typo, short enough to read in a log line

    def __init__(self, kind: str, name: str, available: list[str]):
        self.kind = kind
        self.name = name
        self.available = sorted(available, key=str.casefold)
        shown = ", ".join(repr(a) for a in self.available[: self.SHOWN])
        if len(self.available) > self.SHOWN:
            shown += f" and {len(self.available) - self.SHOWN} more"
        super().__init__(f"PerfectView has no {kind} {name!r}. This database has: {shown or 'none'}. "
                         f"Correct the name in the configuration or add the {kind} in PerfectView.")
