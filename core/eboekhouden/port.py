"""What the sync jobs need from e-Boekhouden, whichever API carries it.

The SOAP client (core.eboekhouden.soap.client) and the REST client (core.eboekhouden.rest.client)
both fit this; the jobs get one from `RunServices.eboekhouden()` and never ask which.
Names and types are the domain's (core.model), which grew up on SOAP: the REST adapter
translates codes to its numeric ids and back.

Optional, where the relation list carries every field (SOAP's GetRelaties): `relation_details_are_free
= True`, `relation_index_if_changed(digest)` (None when the list is byte for byte the one whose
`relations_digest` is given) and `relations_digest`. The relations job looks for them with getattr.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Literal, Protocol, Self

from core.eboekhouden.errors import SERVICE
from core.model import Booking, EbRelation, Ledger, OpenItem

# Both APIs want a date window on a booking search; a search without dates is given this one,
# meaning "any date" (innovato's bounds).
ANY_DATE_FROM = date(1980, 1, 1)
ANY_DATE_TO = date(2049, 12, 31)

Purpose = Literal["exactly_once", "other"]
OpenItemKind = Literal["Debiteuren", "Crediteuren"]
# The writes a job may count before it hands them to a worker thread (`count_ahead`).
RelationWrite = Literal["add_relation", "update_relation"]


def count_ahead_with(meter: object, operation: str) -> None:
    """Count the write `operation` on `meter` now, when the meter can (core.store.call_counts);
    a meter that cannot counts it when it is sent, as always."""
    count = getattr(meter, "count_ahead", None)
    if count is not None:
        count(SERVICE, operation)


class EboekhoudenPort(Protocol):
    """One administration, one session per run: `with client:` opens it and always closes it."""

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...

    def session(self) -> Self: ...

    def close(self) -> None:
        """Release the connection pool (if the client made it)."""

    # ------------------------------------------------------------------ relations

    def relations(self, code: str | None = None, keyword: str | None = None) -> list[EbRelation]:
        """Relations with `code` exactly or `keyword` in them; all of them (with every field) when neither."""

    def relation(self, code: str) -> EbRelation | None: ...

    def has_relation(self, code: str) -> bool:
        """Whether e-Boekhouden has a relation with `code`: from this session's relation list when
        it was read (no call), else one filtered list call (and never a detail read)."""

    def relation_index(self) -> Mapping[str, int]:
        """Every relation code with its e-Boekhouden id: the cheap list (one call per 2,000 on REST)."""

    def relations_by_code(self, codes: Iterable[str]) -> list[EbRelation]:
        """The whole records of just these codes, in the order asked (codes e-Boekhouden does not
        have are left out)."""

    def add_relation(self, rel: EbRelation) -> int:
        """Create it; returns its id. Refuses (not sent) what breaks e-Boekhouden's limits."""

    def update_relation(self, rel: EbRelation) -> None:
        """Replace the record with this one (read it, merge the changes, pass it whole)."""

    def count_ahead(self, write: RelationWrite) -> None:
        """Count one `write` (a method of this port) now, on the thread that hands the call to a
        worker thread to send; that call then counts nothing more. A write refused before it is
        sent (what the plan lets through never is) stays counted."""

    # ------------------------------------------------------------------ bookings and open items

    def add_booking(self, b: Booking) -> int:
        """Book it; returns the Mutatienummer. Never repeated by the client: after a lost answer the caller
        looks it up by invoice number."""

    def bookings(self, *, invoice_number: str | None = None, number: int | None = None,
                 date_from: date | None = None, date_to: date | None = None,
                 purpose: Purpose) -> list[Booking]:
        """Bookings matching the filter. `purpose="exactly_once"` marks the lookup that decides whether an
        invoice is booked; those come with their lines, so the caller can compare amounts."""

    def open_items(self, kind: OpenItemKind = "Debiteuren") -> list[OpenItem]: ...

    def ledgers(self, code: str | None = None, category: str | None = None) -> list[Ledger]: ...

    def mutaties_budget_status(self) -> tuple[int, int | None]:
        """(mutation lookups made this month, the monthly cap or None where the API publishes none)."""
