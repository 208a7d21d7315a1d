"""What the e-Boekhouden client notices in the middle of a run (a session that expired and
was reopened, the GetMutaties budget running low) is in that run's logbook, where the
admin looks, and not only on stderr. The budget warning does not make the link look broken."""

from __future__ import annotations

from core.eboekhouden.errors import SERVICE
from core.engine.health import service_health
from core.soap.simulator import SimulatedDisconnect
from core.store.store import amsterdam_day
from core.sync.invoice_states import InvoiceState
from tests.sync.invoices_world import InvoiceWorld


def test_a_reopened_session_and_a_low_budget_are_in_the_runs_logbook(tmp_path):
    with InvoiceWorld(tmp_path) as world:
        world.invoice(world.customer("D1001"), "F2026-301", ("Onderhoud", "1", "100.00", "BTW hoog 21%"))
        store = world.engine.store
        store.record_calls({(SERVICE, "GetMutaties", amsterdam_day()): 4100})  # 82 % of 5,000 this month

        simulator = world.world.eboekhouden
        original = type(simulator).handle
        add_mutatie_calls = [0]

        def handle(operation, request):
            # The first AddMutatie finds its session expired; the one sent again on a new session
            # is booked, and its answer is lost on the way back.
            if operation == "AddMutatie":
                add_mutatie_calls[0] += 1
                if add_mutatie_calls[0] == 1:
                    simulator.expire_sessions()
            response = original(simulator, operation, request)
            if operation == "AddMutatie" and add_mutatie_calls[0] == 2:
                raise SimulatedDisconnect(committed=True)
            return response

        simulator.handle = handle

        first = world.sync()
        run_log = [(e.level, e.kind, e.message) for e in store.logbook_page(run_id=first.run_id, limit=500)]
        assert ("INFO", "eboekhouden", "e-Boekhouden session lost during AddMutatie; opening a new one") in run_log
        assert world.entry("F2026-301").state is not InvoiceState.BOOKED  # in doubt: looked up next run

        second = world.sync()  # the lookup by Factuurnummer spends one GetMutaties call
        warnings = [e.message for e in store.logbook_page(run_id=second.run_id, level="WARNING", limit=500)]
        assert [m for m in warnings if "GetMutaties budget runs low: 4100 of 5000" in m], warnings
        assert world.entry("F2026-301").state is InvoiceState.BOOKED and len(world.booked("F2026-301")) == 1
        last = store.runs(limit=1)[0]
        assert last.id == second.run_id
        assert service_health(store, SERVICE, None, last).state == "OK"
