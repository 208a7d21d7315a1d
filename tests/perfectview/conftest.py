from __future__ import annotations

from dataclasses import replace

import pytest

from core.model import Address, CrmRelation, Gender, RelationKind
from core.perfectview.client import PerfectViewClient
from core.perfectview.simulator import PerfectViewSimulator, SimCredentials
from core.secrets import Secret
from core.soap.caller import RetryPolicy
from core.soap.loopback import InProcessTransport
from core.soap.simulator import Knobs
from core.soap.transport import Timeouts, make_http_client

URL = "http://127.0.0.1/V1/perfectview.asmx"


def connect(sim: PerfectViewSimulator | None, *, url: str = URL, transport=None, api_key: str | None = None,
            credentials: SimCredentials | None = None, **options) -> PerfectViewClient:
    """A client for `sim`, in-process unless a transport is given (then `sim` may be None
    and `credentials` say what to send)."""
    http = make_http_client(transport=transport if transport is not None else InProcessTransport(app=sim),
                            timeouts=options.pop("timeouts", Timeouts()))
    creds = credentials or sim.credentials
    options.setdefault("retry", RetryPolicy(attempts=3, base_delay=0))
    return PerfectViewClient(url, Secret(api_key or creds.api_key), Secret(creds.database_id),
                             Secret(creds.user_id), http=http, **options)


@pytest.fixture
def sim() -> PerfectViewSimulator:
    return PerfectViewSimulator(Knobs(seed=11), seed_data="empty")


@pytest.fixture
def client(sim) -> PerfectViewClient:
    return connect(sim)


def organisation(**changes) -> CrmRelation:
    base = CrmRelation(
        id="", kind=RelationKind.ORGANISATION, debtor_number="2001", name="Bakkerij De Korenschoof B.V.",
        visiting_address=Address("Lange Nieuwstraat", "41", "a", "3512 PE", "Utrecht", "NL"),
        postal_address=Address("Postbus", "1234", "", "3500 AA", "Utrecht", "NL"),
        iban="NL91ABNA0417164300", bic="ABNANL2A", phone="030-2311234", email="info@korenschoof.nl",
        website="https://www.korenschoof.nl")
    return replace(base, **changes)


def person(**changes) -> CrmRelation:
    base = CrmRelation(
        id="", kind=RelationKind.PERSON, debtor_number="2002", first_name="Anouk", middle_name="van der",
        last_name="Meer", gender=Gender.FEMALE,
        private_address=Address("Kerkstraat", "7", "", "3811 CV", "Amersfoort", "NL"),
        deviating_address=Address("Rue Haute", "12", "", "1000", "Brussel", "BE"),
        iban="NL20INGB0001234567", bic="INGBNL2A", phone="033-4612345", mobile="06-12345678",
        email="anouk@example.nl", website="https://anouk.example.nl")
    return replace(base, **changes)
