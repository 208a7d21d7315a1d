"""Every request a run sends is written without zeep's type walk where its shape allows
(core.soap.fast_write): on both services, in a whole demo run (the PerfectView demo is
filled through its API, then relations, invoices and payments are synced), each one must be
byte for byte the request zeep writes, with the same HTTP headers."""

from __future__ import annotations

from collections import Counter

import pytest
from zeep.wsdl.utils import etree_to_string

from core.demo.world import SimulatedWorld
from core.soap.caller import SoapCaller
from core.sync.invoices import InvoicesJob
from core.sync.payments import PaymentsJob
from core.sync.relations import RelationsJob


@pytest.fixture
def compared(monkeypatch) -> Counter:
    """Requests written quickly and found equal to zeep's, per operation."""
    seen: Counter = Counter()
    original = SoapCaller._written_quickly

    def checking(self, writer, arguments):
        message = original(self, writer, arguments)
        if message is not None:
            envelope, headers = self.proxy._binding._create(writer.operation, (), dict(arguments),
                                                            client=self.proxy._client)
            assert message == etree_to_string(envelope), writer.operation
            assert headers == writer.headers, writer.operation
            seen[f"{self.service_name} {writer.operation}"] += 1
        return message

    monkeypatch.setattr(SoapCaller, "_written_quickly", checking)
    return seen


def test_a_whole_demo_run_sends_what_zeep_would_send(tmp_path, compared):
    with SimulatedWorld(tmp_path, seed="demo") as world:
        engine = world.engine(jobs=[RelationsJob(), InvoicesJob(), PaymentsJob()])
        try:
            report = engine.run(trigger="forced")
        finally:
            engine.close()
    assert report.outcome in ("ok", "partial"), report.summary_lines()
    operations = {name.split(" ", 1)[1] for name in compared}
    # The writes of a first run and the PerfectView demo's filling, and the reads around them.
    assert {"OpenSession", "GetRelaties", "AddRelatie", "AddMutatie", "CloseSession"} <= operations
    assert {"RelationCreate", "ActivityCreate", "ActivityAddProductLine", "ActivityAddAttachment",
            "ActivityUpdate"} <= operations, sorted(operations)
