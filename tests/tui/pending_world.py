"""An organisation for the pending screen's tests: both simulators on loopback (the console
reaches them by the URLs in the config, as in production), invoices booked and payments
matched by the real invoices and payments jobs."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from core.model import Booking, BookingLine, MutatieSoort
from core.sync.payments import PaymentsJob
from tests.sync.invoices_world import InvoiceWorld

HIGH = ("Onderhoud", "1", "100.00", "BTW hoog 21%")  # € 121,00
UNMAPPED = ("Export", "1", "80.00", "BTW 0%")  # the simulated world leaves BTW 0% unmapped


class PendingWorld(InvoiceWorld):
    def __init__(self, root: Path, **settings):
        super().__init__(root, loopback=True, **settings)
        self.customer_id = self.customer("D1001")

    def restart(self, crash: str | None = None) -> None:
        super().restart(crash)
        self.engine.close()
        self.engine = self.world.engine(jobs=[self.job, PaymentsJob()])

    def pay(self, number: str, amount: str) -> None:
        """The customer pays into the bank (1010), settling the debtor (1300)."""
        paid = Decimal(amount)
        self.eb.add_booking(Booking(
            MutatieSoort.FACTUURBETALING_ONTVANGEN, self.entry(number).booking.datum, "1010", relation_code="D1001",
            invoice_number=number, description=f"Betaling {number}", in_ex_vat="EX",
            lines=(BookingLine(paid, Decimal(0), paid, "GEEN", Decimal(0), "1300", amount_entered=paid),)))

    def release(self) -> None:
        """The test's engine gives up the state folder, so a console can run its own."""
        self.engine.close()
