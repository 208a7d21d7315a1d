"""The invoice journal's states and the only moves between them (ARCHITECTURE.md).

```
 seen --> blocked(reason) <--> ready --> booking --> booked --> paid
                                         |   ^
                                 crash / timeout
                                         v   |
                                      unknown --(GetMutaties by Factuurnummer)--> booked | ready
```

`booking` is committed before AddMutatie is sent; a `booking` or `unknown` invoice is
never sent again before its number has been looked up in e-Boekhouden, because a
booking there cannot be edited or deleted through the API.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from core.model import Booking
from core.sync.booking import booked_matches


class InvoiceState(str, enum.Enum):
    SEEN = "seen"
    BLOCKED = "blocked"
    READY = "ready"
    BOOKING = "booking"
    UNKNOWN = "unknown"
    BOOKED = "booked"
    PAID = "paid"


S = InvoiceState
ALLOWED: dict[InvoiceState, frozenset[InvoiceState]] = {
    S.SEEN: frozenset({S.BLOCKED, S.READY, S.BOOKED}),
    S.BLOCKED: frozenset({S.BLOCKED, S.READY, S.BOOKED}),
    S.READY: frozenset({S.BLOCKED, S.READY, S.BOOKING, S.BOOKED}),
    # After the intent is committed: the answer decides, or we do not know.
    S.BOOKING: frozenset({S.BOOKED, S.UNKNOWN, S.READY, S.BLOCKED}),
    # Only a lookup by Factuurnummer leaves unknown: found -> booked, certainly absent -> ready.
    S.UNKNOWN: frozenset({S.UNKNOWN, S.BOOKED, S.READY, S.BLOCKED}),
    S.BOOKED: frozenset({S.PAID}),
    S.PAID: frozenset(),
}
NEEDS_LOOKUP = frozenset({S.BOOKING, S.UNKNOWN})  # never send again before a lookup
OPEN = frozenset({S.SEEN, S.BLOCKED, S.READY, S.BOOKING, S.UNKNOWN})


class IllegalTransition(Exception):
    def __init__(self, invoice_number: str, old: InvoiceState, new: InvoiceState):
        super().__init__(f"invoice {invoice_number}: {old.value} -> {new.value} is not an allowed step")


def check_transition(invoice_number: str, old: InvoiceState, new: InvoiceState) -> None:
    if new not in ALLOWED[old]:
        raise IllegalTransition(invoice_number, old, new)


@dataclass(frozen=True)
class NotBooked:
    """e-Boekhouden has no booking with this invoice number for this relation."""


@dataclass(frozen=True)
class AlreadyBooked:
    """Found: link it instead of booking again. `differences` lists what disagrees."""

    mutatienummer: int
    differences: tuple[str, ...]
    ours: bool  # its Boekstuk carries our activity number


@dataclass(frozen=True)
class Ambiguous:
    """More than one booking claims this invoice: a person has to look."""

    reason: str


LookupOutcome = NotBooked | AlreadyBooked | Ambiguous


def interpret_lookup(planned: Booking, found: list[Booking]) -> LookupOutcome:
    """What GetMutaties by Factuurnummer tells about an invoice we may have booked."""
    same = [b for b in found if b.invoice_number == planned.invoice_number and b.relation_code == planned.relation_code
            and b.soort == planned.soort]
    if not same:
        return NotBooked()
    if len(same) > 1:
        numbers = ", ".join(str(b.number) for b in same)
        return Ambiguous(f"invoice {planned.invoice_number} is booked {len(same)} times in e-Boekhouden "
                         f"(mutaties {numbers}); remove the extra booking there, then retry")
    (booking,) = same
    return AlreadyBooked(booking.number, tuple(booked_matches(planned, booking)),
                         ours=bool(planned.boekstuk) and booking.boekstuk == planned.boekstuk)
