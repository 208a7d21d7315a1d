"""Hostile or broken answers from either service are refused, and nothing is lost.

Between the real clients and the simulators sits a small WSGI app that rewrites the
genuine answer to one operation: a DTD with an external entity pointing at a local file
(XXE), nested entities (billion laughs), an answer larger than the 64 MB cap, a value of
the wrong type, a missing element. For a read and a write of each service, through the
real engine and jobs: the run says what was refused in words, the local file's content
is nowhere, nothing is written for the records concerned (the relation link is as it
was, the invoice still waits), and the next run against an honest server finishes the
work exactly once.

On e-Boekhouden's REST API every call pvsync makes meets the same and more: test_badinput_rest_answers.py
(built on this file's Scene and Hostile).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from decimal import Decimal

import httpx
import pytest

from core.demo.world import SimulatedWorld
from core.engine.engine import Engine
from core.engine.services import RunServices
from core.soap.caller import RetryPolicy
from core.soap.loopback import InProcessTransport
from core.soap.transport import MAX_RESPONSE_BYTES
from core.store.invoice_journal import InvoiceJournal
from core.store.relation_state import RelationState
from core.sync.invoice_states import InvoiceState
from core.sync.invoices import InvoicesJob
from core.sync.relations import RelationsJob
from tests.sync.invoices_world import DUE_DATE, INVOICE_DATE
from tests.sync.relations_world import organisation

SECRET_FILE_TEXT = "contents-of-a-local-file-4c1d"
Rewrite = Callable[[bytes], Iterable[bytes]]


def with_doctype(doctype: str, reference: str) -> Rewrite:
    """The answer with a DTD before the envelope and an entity reference inside its body."""
    def rewrite(body: bytes) -> Iterable[bytes]:
        text = body.decode().replace("<soap:Envelope", f"{doctype}<soap:Envelope", 1)
        return [re.sub(r"(<soap:Body>)", rf"\g<1>{reference}", text, count=1).encode()]
    return rewrite


def oversized(body: bytes) -> Iterable[bytes]:
    # Well-formed XML (trailing white space), so only the size cap can refuse it.
    yield body
    megabyte = b" " * (1024 * 1024)
    for _ in range(MAX_RESPONSE_BYTES // len(megabyte) + 1):
        yield megabyte


def substitute(pattern: str, replacement: str) -> Rewrite:
    def rewrite(body: bytes) -> Iterable[bytes]:
        text, count = re.subn(pattern, replacement, body.decode(), count=1)
        assert count == 1, f"the answer no longer has {pattern}: the test needs a new target"
        return [text.encode()]
    return rewrite


def attacks(file_url: str) -> dict[str, tuple[Rewrite, str]]:
    """Attack name -> (rewrite, words the refusal must use)."""
    laughs = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">' for n in range(1, 10))
    return {
        "xxe": (with_doctype(f'<!DOCTYPE x [<!ENTITY file SYSTEM "{file_url}">]>', "&file;"), "DTD or entities"),
        # libxml2 stops the expansion itself, before zeep gets to look at the DTD.
        "billion-laughs": (with_doctype(f"<!DOCTYPE x [{laughs}]>", "&lol9;"), "not valid XML"),
        "huge": (oversized, "larger than 64 MB"),
    }


# Per operation: a value of the wrong type, and a required element taken out of the genuine
# answer (pattern, replacement, words of the refusal).
BROKEN = {
    ("eboekhouden", "GetRelaties"): {
        "wrong-type": (r"<ID>\d+</ID>", "<ID>duizend</ID>", "does not match the WSDL (ID is not Long"),
        "missing": (r"<ID>\d+</ID>", "", "does not match the WSDL (cRelatie without its required element ID")},
    # UpdateRelatie's answer (read without zeep, by core.soap.fast_read) has only text:
    # an element the WSDL does not know is what can be wrong with it.
    ("eboekhouden", "UpdateRelatie"): {
        "unknown-element": (r"<LastErrorCode\s*/>|<LastErrorCode></LastErrorCode>", "<Foutcode>0</Foutcode>",
                            "does not match the WSDL (Unexpected element 'Foutcode'")},
    ("eboekhouden", "AddMutatie"): {
        "wrong-type": (r"<Mutatienummer>\d+<", "<Mutatienummer>een<", "does not match the WSDL"),
        "missing": (r"<Mutatienummer>\d+</Mutatienummer>", "", "the answer has no Mutatienummer")},
    ("perfectview", "RelationGetModified"): {
        "wrong-type": (r"<Number>0<", "<Number>nul<", "does not match the WSDL (Number is not Int"),
        # zeep on its own reads any boolean but true/1 as false: a refusal, or a relation made inactive.
        "wrong-boolean": (r"<Succeeded>true<", "<Succeeded>ja<", "does not match the WSDL (Succeeded is not Boolean"),
        "missing": (r"<Succeeded>true</Succeeded>", "", "without its required element Succeeded")},
    ("perfectview", "RelationGetActivitiesModified_V2"): {
        "wrong-type": (r"<ViewSortingDate>[^<]*<", "<ViewSortingDate>gisteren<", "does not match the WSDL"),
        "missing": (r"<Succeeded>true</Succeeded>", "", "does not match the WSDL (PvApiResultDataOfObject without "
                                                         "its required element Succeeded")},
    ("perfectview", "ActivityUpdate"): {
        "wrong-type": (r"<Number>0<", "<Number>nul<", "does not match the WSDL"),
        "wrong-boolean": (r"<Succeeded>true<", "<Succeeded>yes<", "does not match the WSDL (Succeeded is not Boolean"),
        # zeep's strict reading notices a required element missing before others, not at the end.
        "missing": (r"<Result>.*</Result>", "<Result></Result>", "no Result.Succeeded")},
}
CASES = [pytest.param(service, operation, attack, id=f"{operation}-{attack}")
         for service, operation in BROKEN for attack in ["xxe", "billion-laughs", "huge", *BROKEN[service, operation]]]

class Hostile:
    """WSGI middleware: the wrapped simulator's answers, one operation's rewritten while `rewrite` is set
    (and its HTTP status replaced while `status` is set, e.g. "401 Unauthorized"; with `before_work`
    the simulator never sees the request, as when the service refuses it before doing anything)."""

    def __init__(self, app):
        self.app = app
        self.operation = ""
        self.rewrite: Rewrite | None = None
        self.status: str | None = None
        self.before_work = False
        self.served = 0

    def __call__(self, environ, start_response):
        action = environ.get("HTTP_SOAPACTION", "").strip('"').rsplit("/", 1)[-1]
        path = re.sub(r"/\d+$", "/{id}", environ.get("PATH_INFO", ""))
        if path.startswith("/v1/"):
            action = f"{environ.get('REQUEST_METHOD')} {path}"  # REST: the request as the client names it
        if self.rewrite is None or action != self.operation:
            return self.app(environ, start_response)
        captured: list = []
        if self.before_work:
            body, captured = b"", [(self.status, [("Content-Type", "application/json")])]
        else:
            body = b"".join(self.app(environ, lambda status, headers, exc=None: captured.append((status, headers))))
        status, headers = captured[0]
        self.served += 1
        start_response(self.status or status, [(k, v) for k, v in headers if k.lower() != "content-length"])
        return self.rewrite(body)


class Scene:
    """One customer and one booked invoice; then the customer is renamed and a second invoice sent."""

    numbers = ("F-1", "F-2")  # the invoices whose journal entries a run reads back

    def __init__(self, root, api: str = "soap"):
        self.world = SimulatedWorld(root, seed="empty", eboekhouden_api=api,
                                    settings={"eboekhouden.calls_per_second": 100} if api == "rest" else {})
        self.hostile = {"eboekhouden": Hostile(self.world.eboekhouden_service),
                        "perfectview": Hostile(self.world.perfectview)}
        with self.world.perfectview_client() as pv:
            self.relation = pv.create_relation(organisation("D1", "Oude Naam B.V."), "Klant", None)
            self.send(pv, "F-1")
            self.run()
            pv.update_relation(self.relation, organisation("D1", "Nieuwe Naam B.V."))
            self.send(pv, "F-2")

    def send(self, pv, number: str) -> None:
        activity = pv.create_invoice(self.relation, number, INVOICE_DATE, DUE_DATE)
        pv.add_product_line(activity, "Werk", Decimal(1), Decimal("100.00"), "BTW hoog 21%")
        pv.move_to_step(activity, "Verstuurd")

    def services(self, config, store) -> RunServices:
        return RunServices(config, store,
                           eboekhouden_http=httpx.Client(transport=InProcessTransport(app=self.hostile["eboekhouden"])),
                           perfectview_http=httpx.Client(transport=InProcessTransport(app=self.hostile["perfectview"])))

    def run(self):
        engine = Engine(self.world.state_dir, self.world.config_path, mode="cli", jobs=self.jobs(),
                        services=self.services)
        assert engine.acquire()
        try:
            report = engine.run(trigger="forced")
            self.links = {link.code: link for link in RelationState(engine.store).links()}
            self.journal = {number: InvoiceJournal(engine.store).by_number(number) for number in self.numbers}
            self.log = [(e.level, e.message) for e in engine.store.logbook_page(run_id=report.run_id, limit=500)]
        finally:
            engine.close()
        return report

    def jobs(self) -> list:
        return [RelationsJob(), InvoicesJob()]

    def eb_name(self) -> str:
        return self.world.eboekhouden.relation_by_code("D1").bedrijf

    def booked(self, number: str) -> int:
        return len(self.world.eboekhouden.bookings_for_invoice(number))


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    """Reads are retried as ever, without the waits between attempts (retrying is tested in tests/soap)."""
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, attempt, rng: 0.0)


@pytest.mark.parametrize(("service", "operation", "attack"), CASES)
def test_a_hostile_answer_is_refused_in_words_and_nothing_is_lost(tmp_path, service, operation, attack):
    local_file = tmp_path / "local-file.txt"
    local_file.write_text(SECRET_FILE_TEXT)
    scene = Scene(tmp_path / "world")
    link_before = scene.links["D1"]
    assert scene.eb_name() == "Oude Naam B.V." and scene.booked("F-1") == 1

    hostile = scene.hostile[service]
    broken = BROKEN[(service, operation)]
    if attack in broken:
        pattern, replacement, words = broken[attack]
        rewrite = substitute(pattern, replacement)
    else:
        rewrite, words = attacks(local_file.as_uri())[attack]
    hostile.operation, hostile.rewrite = operation, rewrite
    report = scene.run()

    assert hostile.served >= 1, "the hostile answer was given"
    assert report.outcome != "ok", report.summary_lines()
    told = " ".join(message for level, message in scene.log if level in ("WARNING", "ERROR"))
    assert f"{'e-Boekhouden' if service == 'eboekhouden' else 'PerfectView'} {operation}" in told and words in told
    everything = [*(m for _, m in scene.log), *scene.world.eboekhouden.relation_codes(), scene.eb_name(),
                  *(tmp_path / "world" / "state").glob("*")]
    assert not [x for x in everything if SECRET_FILE_TEXT in (x.read_bytes().decode("latin-1")
                                                              if hasattr(x, "read_bytes") else x)]
    # Nothing lost, nothing doubled: the booked invoice stays booked once, the new one booked at most once
    # (an AddMutatie whose answer was refused did land) and never forgotten.
    assert scene.booked("F-1") == 1 and scene.booked("F-2") <= 1
    (f2,) = scene.journal["F-2"] or [None]
    if f2 is not None and scene.booked("F-2") == 0:
        assert f2.state is not InvoiceState.BOOKED
    if operation in ("GetRelaties", "RelationGetModified"):
        assert scene.links["D1"] == link_before and scene.eb_name() == "Oude Naam B.V.", "the link is as it was"

    hostile.rewrite = None
    report = scene.run()
    assert report.outcome == "ok", report.summary_lines()
    assert scene.eb_name() == "Nieuwe Naam B.V." and scene.world.eboekhouden.relation_codes() == ["D1"]
    assert (scene.booked("F-1"), scene.booked("F-2")) == (1, 1)
    assert [e.state for e in scene.journal["F-1"] + scene.journal["F-2"]] == [InvoiceState.BOOKED] * 2
