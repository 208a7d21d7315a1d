"""Every rule of the service (and of the client's name resolution) shown refusing the wrong request."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from core.model import RelationKind
from core.perfectview.errors import NotInDatabase, PerfectViewError
from core.perfectview.simulator import PerfectViewSimulator
from core.soap.caller import RetryPolicy
from core.soap.errors import SoapFault, TransportFailure
from core.soap.simulator import Knobs

from tests.perfectview.conftest import connect, organisation, person


def _field(client, kind, attribute):
    return client.relation_field_map(kind)[attribute].id


def test_wrong_api_key_is_a_typed_error_and_nothing_is_written(sim):
    stranger = connect(sim, api_key=str(uuid.uuid4()))
    before = len(sim.db["relations"])
    with pytest.raises(PerfectViewError) as refused:
        stranger.create_relation(organisation(), "Klant", None)
    assert refused.value.code == "InvalidCredentials" and refused.value.number == 101
    assert "Access denied" in str(refused.value) and "PerfectView EntityTypeGetAll" in str(refused.value)
    assert len(sim.db["relations"]) == before
    assert sim.calls_today() == 0, "refused calls are not counted against the database"


def test_unknown_relation_guid_is_refused(client):
    with pytest.raises(PerfectViewError) as refused:
        client.relation(str(uuid.uuid4()))
    assert refused.value.code == "RelationNotFound"


def test_unknown_field_guid_is_refused_and_the_relation_is_unchanged(sim, client):
    relation_id = client.create_relation(organisation(), "Klant", None)
    before = sim.relation(relation_id)["fields"]
    unknown = {"Id": str(uuid.uuid4()), "Value": "x"}
    debtor = {"Id": _field(client, RelationKind.ORGANISATION, "debtor_number"), "Value": "9999"}
    with pytest.raises(PerfectViewError) as refused:
        client._write("RelationUpdate", relationId=relation_id, fieldValues={"PvFieldValueData": [debtor, unknown]})
    assert refused.value.code == "FieldNotFound" and unknown["Id"] in refused.value.error_information
    assert sim.relation(relation_id)["fields"] == before, "a refused update changes nothing"


def test_a_person_field_on_an_organisation_is_refused(client):
    person_field = _field(client, RelationKind.PERSON, "last_name")
    with pytest.raises(PerfectViewError, match="FieldNotFound"):
        client._write("RelationSearchByField", relationEntityTypeId=client.relation_type_id("Klant"),
                      fieldValues={"PvFieldValueData": [{"Id": person_field, "Value": "x"}]},
                      pageNumber=1, pageSize=10, includeFields=False, includeCounters=False)


def test_unknown_vat_guid_on_a_product_line_is_refused(sim, client):
    relation_id = client.create_relation(organisation(), "Klant", None)
    activity_id = client.create_invoice(relation_id, "F-9", date(2025, 1, 2))
    with pytest.raises(PerfectViewError, match="VatNotFound"):
        client._write("ActivityAddProductLine", activityId=activity_id, quantity=Decimal(1), amount=Decimal(10),
                      purchaseAmount=Decimal(0), productId="00000000-0000-0000-0000-000000000000",
                      description="x", vatId=str(uuid.uuid4()))
    assert sim.activity(activity_id)["lines"] == []


def test_a_malformed_guid_is_a_client_fault_not_processed(client):
    with pytest.raises(SoapFault) as fault:
        client.relation("not-a-guid")
    assert fault.value.maybe_processed is False and "not a valid guid" in str(fault.value)


def test_required_fields_and_field_values_are_checked(client):
    with pytest.raises(PerfectViewError) as refused:
        client.create_relation(organisation(name=""), "Klant", None)
    assert refused.value.code == "RequiredFieldMissing" and "Organisatienaam" in str(refused.value)
    with pytest.raises(PerfectViewError, match="longer than 15 characters"):
        client.create_relation(organisation(debtor_number="1" * 16), "Klant", None)


def test_page_size_above_the_cap_is_refused(sim):
    with pytest.raises(PerfectViewError) as refused:
        list(connect(sim, page_size=251).relations())
    assert refused.value.code == "InvalidPageSize" and "1 to 250" in str(refused.value)
    assert len(list(connect(sim, page_size=250).relations())) == 3


def test_pages_are_numbered_from_one(client):
    with pytest.raises(PerfectViewError, match="InvalidPageNumber"):
        client._read("RelationGetAll", pageNumber=0, pageSize=10, includeFields=False, includeCounters=False)


def test_a_period_that_ends_before_it_starts_is_refused(client):
    now = datetime.now(timezone.utc)
    with pytest.raises(PerfectViewError, match="InvalidPeriod"):
        list(client.relations(modified_since=now, until=now - timedelta(minutes=1)))
    with pytest.raises(ValueError, match="timezone"):
        list(client.relations(modified_since=datetime(2025, 1, 1)))


def test_activity_flow_refuses_a_transition_the_workflow_lacks(sim, client):
    relation_id = client.create_relation(organisation(), "Klant", None)
    activity_id = client.create_invoice(relation_id, "F-10", date(2025, 1, 2))
    with pytest.raises(PerfectViewError) as refused:
        client.move_to_step(activity_id, "Betaald")
    assert refused.value.code == "TransitionNotAllowed"
    assert "from 'Concept' to 'Betaald'" in str(refused.value) and "allows: Verstuurd" in str(refused.value)
    assert sim.activity(activity_id)["step"] == "Concept"
    client.move_to_step(activity_id, "Verstuurd")
    client.move_to_step(activity_id, "Betaald")
    with pytest.raises(PerfectViewError, match="allows: none"):
        client.move_to_step(activity_id, "Concept")


def test_names_the_database_lacks_list_what_it_has(sim, client):
    with pytest.raises(NotInDatabase) as missing:
        client.relation_type_id("Klnat")
    assert missing.value.available[:4] == ["Eigen organisatie", "Klant", "Persoon", "Prospect"]
    assert "'Klant'" in str(missing.value) and "'Te beoordelen'" in str(missing.value)
    with pytest.raises(NotInDatabase, match="'Concept', 'Verstuurd', 'Betaald'|'Betaald', 'Concept', 'Verstuurd'"):
        client.step_id("Verkoopfactuur", "Geboekt")
    with pytest.raises(NotInDatabase, match="'Joost Bakker'"):
        client.create_relation(organisation(), "Klant", "Jan Modaal")
    with pytest.raises(NotInDatabase, match="'Offerte', 'Verkoopfactuur'"):
        list(client.sales_invoices(workflow="Factuur"))
    with pytest.raises(NotInDatabase, match="person relation type 'Klant'.*'Persoon'"):
        client.create_relation(person(), "Klant", None)
    assert sim.calls["RelationCreate"] == 0, "nothing was sent for a name that does not resolve"


def test_a_configured_field_the_database_lacks_lists_its_fields(sim):
    client = connect(sim, field_names={"debtor_number": ["Financieel", "Debiteurnr"]})
    with pytest.raises(NotInDatabase) as missing:
        list(client.relations())
    assert missing.value.name == "Financieel / Debiteurnr"
    assert "Administratie / Debiteurnummer" in missing.value.available
    renamed = connect(sim, field_names={"organisation.website": "COM_website", "person.mobile": "PCOM_mobile"})
    relation_id = renamed.create_relation(organisation(), "Klant", None)
    assert renamed.relation(relation_id).website == "https://www.korenschoof.nl"


def test_daily_call_limit_refuses_calls_beyond_it(sim, client):
    client.entity_types()
    sim.daily_call_limit = 2
    assert client.calls_today() == 2
    with pytest.raises(PerfectViewError) as refused:
        client.calls_today()
    assert refused.value.code == "DailyCallLimitExceeded" and "Try again tomorrow" in str(refused.value)
    sim.add_minutes(24 * 60)
    assert client.calls_today() == 1, "the counter starts again the next day"


def test_reads_are_retried_through_faults_and_writes_are_not():
    sim = PerfectViewSimulator(Knobs(seed=4), seed_data="empty")
    client = connect(sim, retry=RetryPolicy(attempts=8, base_delay=0), page_size=1)
    client.relation_field_map(RelationKind.ORGANISATION), client.entity_types(), client.countries()
    sim.knobs.faults = {"http500": 0.5}
    assert len(list(client.relations())) == 3
    attempts = client._caller.meter.count("PerfectView", "RelationGetAll")
    assert attempts > sim.calls["RelationGetAll"] == 5, "some pages were only read on a retry"
    sim.knobs.faults = {"lost": 1.0}
    with pytest.raises(TransportFailure) as lost:
        client.create_relation(organisation(), "Klant", None)
    assert lost.value.maybe_processed
    assert sim.calls["RelationCreate"] == 1 and len(sim.db["relations"]) == 5, "created once, never resent"
