"""Every call pvsync makes to e-Boekhouden's REST API meets a hostile or broken answer, and is refused
in words that name the call (and the record where there is one); nothing is lost or half-written.

One run of the real engine and jobs makes all eleven calls: the session (opened, closed), ledgers,
the relation list and a relation's details, a relation created and one patched, an invoice booked,
an invoice in doubt looked up by invoice number with its mutation's details, the outstanding invoices,
and a paid invoice's payment found by its invoice number. Each answer in turn is rewritten to: a value
of the wrong type, a required field left out, text that is not JSON, an HTML error page, a body over
the 64 MB cap, and for the four lists a broken `{items, count}` envelope (items not a list, count
missing, negative or lying, a page longer than the `limit` asked for).

As on SOAP (test_badinput_answers.py): the run says what failed, the link is as it was, no invoice is
booked twice or marked Betaald without proof, the invoice in doubt stays in doubt, and the next run
against an honest service finishes everything exactly once.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path

import pytest

from core.demo.world import SimulatedWorld
from core.eboekhouden.rest.errors import TOKEN_PAGE
from core.eboekhouden.rest.throttle import AdaptiveRate
from core.engine.health import CRITICAL, assess, read_watch
from core.model import Booking, BookingLine, MutatieSoort
from core.soap.caller import RetryPolicy
from core.store import Store
from core.store.invoice_journal import InvoiceJournal
from core.store.relation_state import RelationState
from core.sync.invoice_states import InvoiceState
from core.sync.invoices import InvoicesJob
from core.sync.payments import PaymentsJob
from core.sync.relations import RelationsJob
from tests import eb_apis
from tests.reliability.test_badinput_answers import Hostile, Rewrite, Scene, oversized
from tests.sync.relations_world import organisation

HTML_PAGE = b"<html><head><title>Service Unavailable</title></head><body><h1>Onderhoud</h1></body></html>"
MISSING = object()  # an edit that takes the field out
LIMIT = 2000  # the page size pvsync asks for


def edit(*path: str | int, to: object) -> Rewrite:
    """The JSON answer with the value at `path` replaced by `to` (or taken out: MISSING)."""
    def rewrite(body: bytes) -> Iterable[bytes]:
        answer = json.loads(body)
        *parents, last = path
        holder = answer
        for step in parents:
            holder = holder[step]
        assert last in holder if isinstance(holder, dict) else len(holder) > last, \
            f"the answer no longer has {path}: the test needs a new target"
        if to is MISSING:
            del holder[last]
        else:
            holder[last] = to
        return [json.dumps(answer).encode()]
    return rewrite


def envelope(change: Callable[[dict], None]) -> Rewrite:
    def rewrite(body: bytes) -> Iterable[bytes]:
        page = json.loads(body)
        if not page["items"]:  # a second page, asked for by a client that trusted the first one
            return [body]
        change(page)
        return [json.dumps(page).encode()]
    return rewrite


def too_long(page: dict) -> None:
    page["items"] = (page["items"] * (LIMIT + 1))[:LIMIT + 1]
    page["count"] = LIMIT + 1


# Every call: attack -> (rewrite, words the refusal uses).
def half(body: bytes) -> Iterable[bytes]:
    return [body[: max(1, len(body) // 2)]]


ANY_BODY: dict[str, tuple[Rewrite, str]] = {
    "huge": (oversized, "larger than 64 MB"),
    "not-json": (half, "the answer is not JSON"),
    "html-page": (lambda body: [HTML_PAGE], "the answer is not JSON"),
}
# A 204 has no content to read: whatever comes with it is not looked at, only its size is capped.
NO_BODY = {"huge": ANY_BODY["huge"]}
LISTS: dict[str, tuple[Rewrite, str]] = {
    "items-not-a-list": (envelope(lambda page: page.update(items={"0": page["items"][0]})),
                         "items is an object, not a list"),
    "count-missing": (envelope(lambda page: page.pop("count")), "count is missing"),
    "count-negative": (envelope(lambda page: page.update(count=-1)), "count is negative"),
    "count-lying": (envelope(lambda page: page.update(count=len(page["items"]) + 7)), "count says"),
    "page-longer-than-limit": (envelope(too_long), f"more than the {LIMIT} asked for"),
}
ANSWERS: dict[str, dict[str, tuple[Rewrite, str]]] = {
    "POST /v1/session": {
        "wrong-type": (edit("expiresIn", to="3600"), "expiresIn is text, not a whole number"),
        "missing": (edit("token", to=MISSING), "token is missing")},
    "GET /v1/ledger": {
        "wrong-type": (edit("items", 0, "id", to="acht"), "id is text, not a whole number"),
        "missing": (edit("items", 0, "code", to=MISSING), "code is missing"), **LISTS},
    "GET /v1/relation": {
        "wrong-type": (edit("items", 0, "id", to="vijfduizend"), "id is text, not a whole number"),
        "missing": (edit("items", 0, "code", to=MISSING), "code is missing"), **LISTS},
    "GET /v1/relation/{id}": {
        "wrong-type": (edit("id", to="vijfduizend"), "id is text, not a whole number"),
        "wrong-type-name": (edit("name", to=42), "name is a whole number, not text"),
        "missing": (edit("code", to=MISSING), "code is missing")},
    "POST /v1/relation": {
        "wrong-type": (edit("id", to="een"), "the answer has no id"),
        "missing": (edit("id", to=MISSING), "the answer has no id")},
    "PATCH /v1/relation/{id}": {},
    "POST /v1/mutation": {
        "wrong-type": (edit("id", to="een"), "the answer has no id"),
        "missing": (edit("id", to=MISSING), "the answer has no id")},
    "GET /v1/mutation": {
        "wrong-type": (edit("items", 0, "id", to="een"), "id is text, not a whole number"),
        "missing": (edit("items", 0, "id", to=MISSING), "id is missing"), **LISTS},
    "GET /v1/mutation/{id}": {
        "wrong-type": (edit("rows", 0, "amount", to="honderd"), "amount is text, not a number"),
        "missing": (edit("date", to=MISSING), "date is missing")},
    "GET /v1/mutation/invoice/outstanding": {
        "wrong-type": (edit("items", 0, "outstandingAmount", to="veel"), "outstandingAmount is text, not a number"),
        "missing": (edit("items", 0, "outstandingAmount", to=MISSING), "outstandingAmount is missing"), **LISTS},
    "DELETE /v1/session": {},
}
# The record a refusal names, where the call has one (any of these).
RECORDS = {
    "GET /v1/relation/{id}": ("for relation D1",),
    "POST /v1/relation": ("for relation D2",),
    "PATCH /v1/relation/{id}": ("for relation D1",),
    "POST /v1/mutation": ("for invoice F-2",),
    "GET /v1/mutation": ("for invoice F-1", "for invoice F-3"),
    "GET /v1/mutation/{id}": ("for invoice F-1", "for invoice F-3"),
}
NO_ANSWER_BODY = ("PATCH /v1/relation/{id}", "DELETE /v1/session")
CASES = [pytest.param(operation, attack, id=f"{operation}-{attack}") for operation, broken in ANSWERS.items()
         for attack in [*(NO_BODY if operation in NO_ANSWER_BODY else ANY_BODY), *broken]]


class RestScene(Scene):
    """D1 with F-1 booked and then paid in e-Boekhouden; F-3 sent, its booking's answer lost (in doubt);
    then D1 renamed, customer D2 new, F-2 sent: the next run makes every REST call pvsync makes.

    Both simulators keep their state in files under `root`, so a scene built once is copied for each
    case (`copy_of`) instead of being set up again through three runs."""

    numbers = ("F-1", "F-2", "F-3")

    def __init__(self, root: Path):
        fresh = not (root / "state").exists()
        self.world = SimulatedWorld(root, seed="empty", eboekhouden_api="rest", persist=True,
                                    settings={"eboekhouden.calls_per_second": 100})
        self.hostile = {"eboekhouden": Hostile(self.world.eboekhouden_service),
                        "perfectview": Hostile(self.world.perfectview)}
        if fresh:
            self.build()
        with Store.open(self.world.state_dir) as store:
            self.links = {link.code: link for link in RelationState(store).links()}
            self.journal = {number: InvoiceJournal(store).by_number(number) for number in self.numbers}

    @classmethod
    def copy_of(cls, built: Path, root: Path) -> RestScene:
        shutil.copytree(built, root)
        return cls(root)

    def build(self) -> None:
        with self.world.perfectview_client() as pv:
            self.relation = pv.create_relation(organisation("D1", "Oude Naam B.V."), "Klant", None)
            self.send(pv, "F-1")
            self.run()
            self.send(pv, "F-3")
            eb_apis.lose_answers(self.world, "AddMutatie")
            self.run()
            self.pay("F-1")
            pv.update_relation(self.relation, organisation("D1", "Nieuwe Naam B.V."))
            pv.create_relation(organisation("D2", "Nieuwe Klant B.V."), "Klant", None)
            self.send(pv, "F-2")
        # Changes made beside the API (the payment) are in the files only once saved.
        self.world.eboekhouden.save_state()
        self.world.perfectview.save_state()

    def pay(self, number: str) -> None:
        """The customer pays the whole invoice into the bank (1010), settling the debtor (1300)."""
        (invoice,) = self.world.eboekhouden.bookings_for_invoice(number)
        paid = sum((line.amount_incl_vat for line in invoice.lines), Decimal(0))
        self.world.eboekhouden.store_mutation(Booking(
            MutatieSoort.FACTUURBETALING_ONTVANGEN, invoice.datum, "1010", relation_code="D1", invoice_number=number,
            description=f"Betaling {number}", in_ex_vat="EX",
            lines=(BookingLine(paid, Decimal(0), paid, "GEEN", Decimal(0), "1300", amount_entered=paid,
                               invoice_number=number),)))

    def jobs(self) -> list:
        return [RelationsJob(), InvoicesJob(), PaymentsJob()]

    def booked(self, number: str) -> int:
        """Sales bookings of invoice `number` (its payment carries the number too)."""
        found = self.world.eboekhouden.bookings_for_invoice(number)
        return sum(booking.soort is MutatieSoort.FACTUUR_VERSTUURD for booking in found)

    def states(self) -> dict[str, InvoiceState | None]:
        return {number: entries[-1].state if entries else None for number, entries in self.journal.items()}


@pytest.fixture(autouse=True)
def no_waits(monkeypatch):
    """Reads are retried as ever, without the waits between attempts (retrying is tested in tests/soap),
    and calls are not spaced out (the pace is tested in tests/eboekhouden/rest)."""
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, attempt, rng: 0.0)
    monkeypatch.setattr(AdaptiveRate, "wait_turn", lambda self: None)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("rest-scene") / "world"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AdaptiveRate, "wait_turn", lambda self: None)
        RestScene(root)
    return root


def test_one_run_of_the_scene_makes_every_rest_call_pvsync_makes(built, tmp_path):
    scene = RestScene.copy_of(built, tmp_path / "world")
    rest = scene.world.eboekhouden_service.rest
    rest.calls.clear()

    report = scene.run()

    assert report.outcome == "ok", report.summary_lines()
    assert set(rest.calls) == set(ANSWERS), "a call pvsync makes that no case attacks, or a case for none"
    assert scene.states() == {"F-1": InvoiceState.PAID, "F-2": InvoiceState.BOOKED, "F-3": InvoiceState.BOOKED}


@pytest.mark.parametrize(("operation", "attack"), CASES)
def test_a_hostile_rest_answer_is_refused_in_words_and_nothing_is_lost(built, tmp_path, operation, attack):
    scene = RestScene.copy_of(built, tmp_path / "world")
    link_before = scene.links["D1"]
    before = scene.states()

    hostile = scene.hostile["eboekhouden"]
    hostile.operation = operation
    hostile.rewrite, words = {**(NO_BODY if operation in NO_ANSWER_BODY else ANY_BODY), **ANSWERS[operation]}[attack]
    report = scene.run()

    assert hostile.served >= 1, "the hostile answer was given"
    told = " ".join(message for level, message in scene.log if level in ("WARNING", "ERROR"))
    assert f"e-Boekhouden {operation}" in told and words in told, told
    if operation in RECORDS:
        assert any(record in told for record in RECORDS[operation]), told
    if operation == "DELETE /v1/session":  # the work is done; a session not closed ends on its own
        assert report.outcome == "ok" and "could not close the e-Boekhouden session" in told
    elif operation == "POST /v1/relation":  # no answer: looked up by its code in the same run, and linked
        assert "was already in e-Boekhouden" in " ".join(message for _, message in scene.log)
        assert scene.links["D2"].eb_id, "linked"
    else:
        assert report.outcome != "ok", report.summary_lines()
    # Nothing lost, nothing doubled: every invoice booked at most once, none forgotten.
    assert [scene.booked(n) for n in ("F-1", "F-3")] == [1, 1] and scene.booked("F-2") <= 1
    assert scene.world.eboekhouden.relation_codes().count("D2") <= 1
    after = scene.states()
    if scene.booked("F-2") == 0:
        assert after["F-2"] is not InvoiceState.BOOKED
    assert InvoiceState.PAID not in (after["F-2"], after["F-3"]), "an unpaid invoice marked Betaald"
    if operation.startswith(("GET /v1/mutation", "POST /v1/session")):
        assert after["F-1"] is not InvoiceState.PAID, "marked Betaald without the evidence"
    if operation in ("GET /v1/mutation", "GET /v1/mutation/{id}", "POST /v1/session"):
        assert after["F-3"] is before["F-3"] is InvoiceState.UNKNOWN, "the invoice in doubt taken for booked"
    if operation.startswith("GET /v1/relation") or operation == "POST /v1/session":
        assert scene.links["D1"] == link_before and scene.eb_name() == "Oude Naam B.V.", "the link is as it was"

    hostile.rewrite = None
    report = scene.run()
    assert report.outcome == "ok", report.summary_lines()
    assert scene.eb_name() == "Nieuwe Naam B.V." and scene.world.eboekhouden.relation_codes() == ["D1", "D2"]
    assert [scene.booked(n) for n in ("F-1", "F-2", "F-3")] == [1, 1, 1]
    assert scene.states() == {"F-1": InvoiceState.PAID, "F-2": InvoiceState.BOOKED, "F-3": InvoiceState.BOOKED}


TRACE = "00-4bf92f3577b34da6-badinput-01"
ERROR_BODY = {"type": "validation", "code": "MUT_777", "title": "Iets nieuws", "message": "nog niet gedocumenteerd",
              "status": 400, "traceId": TRACE}


@pytest.mark.parametrize(("operation", "status", "before_work", "words"), [
    pytest.param("POST /v1/mutation", "400 Bad Request", True, "Iets nieuws: nog niet gedocumenteerd", id="refused"),
    pytest.param("POST /v1/mutation", "400 Bad Request", False, "Iets nieuws: nog niet gedocumenteerd",
                 id="booked-then-refused"),
    pytest.param("GET /v1/relation", "500 Internal Server Error", False, "HTTP 500 MUT_777: Iets nieuws",
                 id="server-error"),
])
def test_an_error_answer_is_told_with_its_trace_id_in_the_logbook(built, tmp_path, operation, status, before_work,
                                                                  words):
    scene = RestScene.copy_of(built, tmp_path / "world")
    hostile = scene.hostile["eboekhouden"]
    hostile.operation, hostile.status, hostile.before_work = operation, status, before_work
    hostile.rewrite = lambda body: [json.dumps(ERROR_BODY).encode()]

    report = scene.run()

    told = [message for _, message in scene.log if TRACE in message]
    assert told and all(words in line for line in told), scene.log
    if operation == "GET /v1/relation":  # a read: retried, then the run says it failed
        assert report.outcome != "ok" and all(f"e-Boekhouden {operation}" in line for line in told)
    elif before_work:  # e-Boekhouden refused the booking: it waits for a person, named with the call's trace
        assert scene.booked("F-2") == 0 and scene.states()["F-2"] is InvoiceState.BLOCKED
    else:  # it was booked after all: found by its invoice number and linked, never booked twice
        assert scene.booked("F-2") == 1 and scene.states()["F-2"] is InvoiceState.BOOKED
        assert "linked, not booked again" in told[0]


@pytest.mark.parametrize("body", [
    pytest.param(b"", id="bare-401"),
    pytest.param(json.dumps({"type": "security", "code": "SECURITY_010", "title": "Not authenticated", "status": 401,
                             "traceId": TRACE}).encode(), id="security-010"),
])
def test_a_token_refused_on_a_fresh_session_is_critical_and_says_where_a_new_one_is_made(built, tmp_path, body):
    scene = RestScene.copy_of(built, tmp_path / "world")
    hostile = scene.hostile["eboekhouden"]
    hostile.operation, hostile.status, hostile.before_work = "POST /v1/session", "401 Unauthorized", True
    hostile.rewrite = lambda _: [body]

    report = scene.run()

    with Store.open(scene.world.state_dir) as store:
        health = assess(store, watch=read_watch(scene.world.config_path))
    assert report.outcome == "failed" and health.exit_code == CRITICAL
    assert health.services[0].token_rejected
    first = health.attention()[0]
    assert first.startswith("e-Boekhouden refuses the API token") and TOKEN_PAGE in first
    told = " ".join(message for level, message in scene.log if level == "ERROR")
    assert TOKEN_PAGE in told and scene.world.eboekhouden.credentials.api_token not in told
    if body:
        assert TRACE in told
    hostile.rewrite = None
    assert scene.run().outcome == "ok", "a new token (here: the service taking it again) is all it takes"
