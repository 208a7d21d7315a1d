"""core.store.call_counts: reads counted in batches, writes and GetMutaties before they are sent."""

from __future__ import annotations

import sqlite3

from core.paths import database_file
from core.store import Store
from core.store.call_counts import BatchedCallMeter, is_plain_read


def on_disk(store: Store, operation: str) -> int:
    """What another process sees (a second connection): only what is committed."""
    conn = sqlite3.connect(database_file(store.path.parent))
    try:
        return conn.execute("SELECT coalesce(sum(count), 0) FROM api_calls WHERE operation = ?",
                            (operation,)).fetchone()[0]
    finally:
        conn.close()


def test_reads_wait_in_memory_until_a_batch_is_full(tmp_path):
    with Store.open(tmp_path) as store:
        meter = BatchedCallMeter(store, batch=3, flush_seconds=3600)
        meter.record("PerfectView", "ActivityGetProductLines")
        meter.record("PerfectView", "ActivityGetProductLines")
        assert on_disk(store, "ActivityGetProductLines") == 0
        assert meter.count_today("PerfectView") == 2, "a count includes what waits"
        meter.record("PerfectView", "ActivityGetProductLines")
        assert on_disk(store, "ActivityGetProductLines") == 3


def test_writes_and_getmutaties_are_on_disk_before_the_call_goes_out(tmp_path):
    with Store.open(tmp_path) as store:
        meter = BatchedCallMeter(store, batch=1000, flush_seconds=3600)
        meter.record("PerfectView", "RelationGet")
        for operation in ("AddMutatie", "GetMutaties", "ActivityUpdate"):
            meter.record("e-Boekhouden" if "Mutat" in operation else "PerfectView", operation)
            assert on_disk(store, operation) == 1, f"{operation} is counted durably at once"
        assert on_disk(store, "RelationGet") == 1, "a durable count takes the waiting reads along"
        assert meter.count_this_month("e-Boekhouden", "GetMutaties") == 1


def test_closing_the_run_writes_what_waits(tmp_path):
    from core.engine.services import RunServices

    with Store.open(tmp_path) as store:
        services = RunServices(config=None, meter=store)
        services.meter.record("e-Boekhouden", "GetRelaties")
        assert on_disk(store, "GetRelaties") == 0
        services.close()
        assert on_disk(store, "GetRelaties") == 1


def test_every_operation_that_changes_something_counts_as_a_write():
    writes = ("AddRelatie", "UpdateRelatie", "AddMutatie", "RelationCreate", "RelationUpdate", "RelationshipUpdate",
              "RelationAddNote", "ActivityCreate", "ActivityUpdate", "ActivityFlow", "ActivityAddProductLine",
              "ActivityAddNote", "ActivityAddAttachment", "OpenSession", "CloseSession", "GetMutaties",
              "POST /v1/session", "DELETE /v1/session", "POST /v1/relation", "PATCH /v1/relation/{id}",
              "POST /v1/mutation")
    assert not any(is_plain_read(operation) for operation in writes)
    assert all(is_plain_read(op) for op in ("GetRelaties", "RelationGetAll", "ActivitySearchByField", "UsersGetActive",
                                             "GET /v1/relation", "GET /v1/relation/{id}", "GET /v1/mutation",
                                             "GET /v1/mutation/invoice/outstanding", "GET /v1/ledger"))


def test_a_write_counted_ahead_is_on_disk_before_it_is_handed_over_and_counted_once(tmp_path):
    """A job counts the relation it hands to a worker thread (count_ahead); the worker's own
    count of that call then writes nothing, and a write not counted ahead still counts."""
    import threading

    import pytest

    with Store.open(tmp_path) as store:
        meter = BatchedCallMeter(store, batch=1000, flush_seconds=3600)
        meter.count_ahead("e-Boekhouden", "AddRelatie")
        meter.count_ahead("e-Boekhouden", "AddRelatie")
        assert on_disk(store, "AddRelatie") == 2, "on disk before any worker sends"
        workers = [threading.Thread(target=meter.record, args=("e-Boekhouden", "AddRelatie")) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert on_disk(store, "AddRelatie") == 2, "the two sends were counted when they were handed over"
        meter.record("e-Boekhouden", "AddRelatie")  # a third, sent without being counted ahead
        assert on_disk(store, "AddRelatie") == 3
        meter.count_ahead("e-Boekhouden", "UpdateRelatie")
        meter.record("e-Boekhouden", "AddRelatie")
        assert (on_disk(store, "AddRelatie"), on_disk(store, "UpdateRelatie")) == (4, 1), "per operation"
        with pytest.raises(ValueError):
            meter.count_ahead("e-Boekhouden", "GetRelaties")  # reads are counted in batches, never ahead
        with pytest.raises(ValueError):
            meter.count_ahead("e-Boekhouden", "GetMutaties")  # the monthly budget waits for the disk, at the send


def test_the_memory_meter_counts_ahead_the_same_way():
    from core.soap.caller import MemoryCallMeter

    meter = MemoryCallMeter()
    meter.count_ahead("e-Boekhouden", "AddRelatie")
    assert meter.count("e-Boekhouden", "AddRelatie") == 1
    meter.record("e-Boekhouden", "AddRelatie")
    meter.record("e-Boekhouden", "AddRelatie")
    assert meter.count("e-Boekhouden", "AddRelatie") == 2
