"""A simulated world for the relation sync tests: set data up through the services' APIs,
run the relations job through the real engine, and read back what a user would see."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.demo.world import SimulatedWorld
from core.model import (Address, Booking, BookingLine, CrmRelation, EbRelation, Gender, MutatieSoort,
                        RelationKind)
from core.store.relation_state import RelationState
from core.sync.relations import RelationsJob
from tests import eb_apis

# The calls that change something in either service.
EB_WRITES = ("AddRelatie", "UpdateRelatie")
PV_WRITES = ("RelationCreate", "RelationUpdate", "RelationshipUpdate")
VALID_IBAN = "NL91ABNA0417164300"


def organisation(number: str, name: str, **changes: Any) -> CrmRelation:
    base = CrmRelation(id="", kind=RelationKind.ORGANISATION, debtor_number=number, name=name,
                       visiting_address=Address("Dorpsstraat", "12", "a", "3511 AB", "Utrecht", "NL"),
                       postal_address=Address("Postbus", "100", "", "3500 AA", "Utrecht"), iban=VALID_IBAN,
                       bic="ABNANL2A", phone="030-1234567", email=f"info@{number.lower()}.nl",
                       website=f"www.{number.lower()}.nl")
    return replace(base, **changes)


def person(number: str, first: str, middle: str, last: str, **changes: Any) -> CrmRelation:
    base = CrmRelation(id="", kind=RelationKind.PERSON, debtor_number=number, first_name=first, middle_name=middle,
                       last_name=last, gender=Gender.FEMALE,
                       private_address=Address("Laan", "3", "", "3511 AA", "Utrecht", "NL"),
                       deviating_address=Address("Singel", "8", "bis", "1000 AA", "Amsterdam"), iban=VALID_IBAN,
                       phone="030-7654321", mobile="06-22222222", email=f"{first.lower()}@example.nl",
                       website="anna.example")
    return replace(base, **changes)


class RelationWorld:
    """Both simulators, a config and a state folder; `sync()` runs the relations job once."""

    def __init__(self, root: Path, *, loopback: bool = False, seed: str = "empty", api: str = "soap", **settings: Any):
        self.world = SimulatedWorld(root, seed=seed, loopback=loopback, eboekhouden_api=api,
                                    settings={f"relations.{k}": v for k, v in settings.items()})
        self.pv = self.world.perfectview_client()
        self.job = RelationsJob(cursor_overlap=timedelta(0))  # a modified-since read shows only changes
        self.engine = self.world.engine(jobs=[self.job])

    def close(self) -> None:
        self.engine.close()
        self.pv.close()
        self.world.close()

    def __enter__(self) -> RelationWorld:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ pvsync

    def sync(self, *, dry_run: bool = False, force: bool = False):
        report = self.engine.run(trigger="forced", dry_run=dry_run, force=force)
        self.last_run_id = report.run_id
        return report

    @property
    def state(self) -> RelationState:
        return RelationState(self.engine.store)

    def log(self, *, level: str | None = None) -> list[Any]:
        """The logbook lines of the last run, oldest first."""
        entries = self.engine.store.logbook_page(run_id=self.last_run_id, limit=1000, level=level)
        return list(reversed(entries))

    def messages(self, *, level: str | None = None) -> list[str]:
        return [entry.message for entry in self.log(level=level)]

    # ------------------------------------------------------------------ PerfectView, as its users change it

    def pv_add(self, relation: CrmRelation, relation_type: str | None = None, manager: str | None = None) -> str:
        kind_type = "Klant" if relation.kind is RelationKind.ORGANISATION else "Persoon"
        return self.pv.create_relation(relation, relation_type or kind_type, manager)

    def pv_get(self, pv_id: str) -> CrmRelation:
        return self.pv.relation(pv_id, with_account_manager=False)

    def pv_edit(self, pv_id: str, **changes: Any) -> CrmRelation:
        relation = replace(self.pv_get(pv_id), **changes)
        self.pv.update_relation(pv_id, relation)
        return relation

    def pv_remove(self, pv_id: str) -> None:
        """Delete in the web application (the API has no delete)."""
        sim = self.world.perfectview
        with sim.lock:
            del sim.db["relations"][pv_id]
            for link_id in [k for k, v in sim.db["relationships"].items() if v["ChildRelationId"] == pv_id]:
                del sim.db["relationships"][link_id]

    def pv_relations(self) -> list[CrmRelation]:
        return list(self.pv.relations())

    def pv_by_number(self, number: str) -> list[CrmRelation]:
        return [r for r in self.pv_relations() if r.debtor_number == number]

    # ------------------------------------------------------------------ e-Boekhouden, as its users change it

    def eb_add(self, relation: EbRelation) -> int:
        with self.world.eboekhouden_client() as eb:
            return eb.add_relation(relation)

    def eb_book(self, booking: Booking) -> int:
        with self.world.eboekhouden_client() as eb:
            return eb.add_booking(booking)

    def eb_edit(self, code: str, **changes: Any) -> None:
        with self.world.eboekhouden_client() as eb:
            eb.update_relation(eb.relation(code).with_changes(**changes))

    def eb_remove(self, code: str) -> None:
        """Delete in the web application (the API has no delete)."""
        sim = self.world.eboekhouden
        with sim.lock:
            del sim.relations[sim.relation_by_code(code).id]

    def eb(self, code: str) -> EbRelation | None:
        return self.world.eboekhouden.relation_by_code(code)

    def eb_codes(self) -> list[str]:
        return self.world.eboekhouden.relation_codes()

    # ------------------------------------------------------------------ counting

    def reset_calls(self) -> None:
        eb_apis.reset_eb_calls(self.world)
        self.world.perfectview.calls.clear()

    def eb_calls(self, operation: str) -> int:
        """Calls of SOAP `operation`, or of its REST twin when the world talks REST."""
        return eb_apis.eb_calls(self.world, operation)

    def writes(self) -> dict[str, int]:
        """Write calls since the last reset, per operation (e-Boekhouden's in SOAP's names), both services."""
        pv = self.world.perfectview.calls
        return {**eb_apis.eb_counter(self.world, EB_WRITES), **{op: pv[op] for op in PV_WRITES if pv[op]}}


def sale(code: str, invoice_number: str) -> Booking:
    """A sales invoice booking for relation `code` (what makes it a customer "with_sales")."""
    line = BookingLine(amount_excl_vat=Decimal("100.00"), vat_amount=Decimal("21.00"),
                       amount_incl_vat=Decimal("121.00"), btw_code="HOOG_VERK_21", btw_percentage=Decimal(21),
                       ledger="8000")
    return Booking(soort=MutatieSoort.FACTUUR_VERSTUURD, datum=date.today(), ledger="1300", relation_code=code,
                   invoice_number=invoice_number, description=f"Factuur {invoice_number}", lines=(line,))
