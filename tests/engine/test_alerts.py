"""Alerts reach a person: a mail (a local SMTP server) and a JSON POST (a local HTTP receiver)
arrive once per new problem and once when it is resolved, a digest once a day, never a storm;
and `pvsync status` from cron sends the one about an engine that stopped beating."""

from __future__ import annotations

import json
import os
import socket
import threading
from datetime import date, timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from core import cli
from core.config import load_config, update_config
from core.engine.alerts import channels_from_config, send_due_alerts
from core.engine.health import assess
from core.model import SalesInvoice
from core.store import Store
from core.store.invoice_journal import InvoiceJournal
from core.store.records import to_text, utc_now
from core.sync.invoice_states import InvoiceState

WEBHOOK_TOKEN = "T0KEN-in-the-webhook-path-5f1c"


class Inbox:
    def __init__(self) -> None:
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()


@pytest.fixture
def webhook():
    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.received = received
    server.url = f"http://127.0.0.1:{server.server_port}/hooks/{WEBHOOK_TOKEN}"
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def alerting_config(config_file, smtp, webhook, monkeypatch):
    update_config(config_file, {"alerts.enabled": True, "alerts.email_to": "beheer@example.nl",
                                "alerts.smtp_host": "127.0.0.1", "alerts.smtp_port": smtp.port,
                                "alerts.from_address": "pvsync@example.nl"})
    monkeypatch.setenv("PVSYNC_ALERTS_WEBHOOK_URL", webhook.url)
    return config_file


@pytest.fixture
def store(state_dir):
    with Store.open(state_dir) as opened:
        opened.update_engine(pid=os.getpid(), mode="daemon", state="idle", started=True)
        run_id = opened.start_run("schedule", ["invoices"], "h")
        opened.finish_run(run_id, "ok", {}, job_outcomes={"invoices": "ok"})
        yield opened


def block(store, number: str, reason: str = "PerfectView VAT code 'BTW 6%' is not mapped for NL") -> SalesInvoice:
    invoice = SalesInvoice(activity_id=f"a-{number}", activity_number="1", invoice_number=number, relation_id="r",
                           invoice_date=date(2026, 11, 2), due_date=None, step="Verstuurd", lines=())
    InvoiceJournal(store).record_plan(invoice, relation_code="D1", relation_name="X", state=InvoiceState.BLOCKED,
                                      reason=reason, block_code="vat_unmapped")
    return invoice


def check(store, config_path, now=None) -> list[str]:
    if now is not None:  # the engine beats on at that moment too
        store.conn.execute("UPDATE engine SET heartbeat_at = ?", (to_text(now),))
    return send_due_alerts(store, assess(store, now), channels_from_config(load_config(config_path)), now)


def test_a_blocked_invoice_is_told_once_and_resolved_once_by_mail_and_webhook(store, alerting_config, smtp,
                                                                             webhook):
    invoice = block(store, "F2026-0042")
    assert check(store, alerting_config) == []
    (mail,) = smtp.messages
    assert mail["To"] == "beheer@example.nl" and mail["From"] == "pvsync@example.nl"
    assert mail["Subject"] == "pvsync WARNING: 1 new problem - invoice F2026-0042 is blocked"
    assert "F2026-0042 (PerfectView VAT code 'BTW 6%' is not mapped for NL)" in mail.get_content()
    ((path, posted),) = webhook.received
    assert path == f"/hooks/{WEBHOOK_TOKEN}"
    assert posted["kind"] == "problem" and posted["status"] == "WARNING" and "F2026-0042" in posted["text"]

    for _ in range(3):  # the daemon after every run, cron every few minutes: nothing new, nothing sent
        assert check(store, alerting_config) == []
    assert len(smtp.messages) == len(webhook.received) == 1

    InvoiceJournal(store).record_plan(invoice, relation_code="D1", relation_name="X", state=InvoiceState.READY)
    check(store, alerting_config)
    check(store, alerting_config)
    assert [m["Subject"] for m in smtp.messages][1:] == ["pvsync: 1 problem resolved - invoice F2026-0042 is blocked"]
    assert [p["kind"] for _, p in webhook.received] == ["problem", "resolved"]


def test_many_problems_at_once_make_one_message_and_a_daily_digest_repeats_what_still_waits(
        store, alerting_config, smtp, webhook):
    for number in range(20):
        block(store, f"F-{number:02}")
    check(store, alerting_config)
    assert len(smtp.messages) == 1 and smtp.messages[0]["Subject"].startswith("pvsync WARNING: 20 new problems")

    now = utc_now()
    check(store, alerting_config, now + timedelta(hours=23))
    assert len(smtp.messages) == 1
    check(store, alerting_config, now + timedelta(hours=25))
    check(store, alerting_config, now + timedelta(hours=26))
    assert [m["Subject"] for m in smtp.messages][1:] == ["pvsync daily digest: 20 still waiting"]
    check(store, alerting_config, now + timedelta(hours=50))
    assert len(smtp.messages) == 3


def test_a_mail_server_that_is_down_is_reported_and_the_alert_is_sent_later(store, config_file, smtp, monkeypatch):
    update_config(config_file, {"alerts.enabled": True, "alerts.email_to": "beheer@example.nl",
                                "alerts.smtp_host": "127.0.0.1", "alerts.smtp_port": free_port(),
                                "alerts.from_address": "pvsync@example.nl"})
    block(store, "F-1")
    (failure,) = check(store, config_file)
    assert "e-mail to beheer@example.nl" in failure and "127.0.0.1" in failure
    update_config(config_file, {"alerts.smtp_port": smtp.port})
    check(store, config_file)
    assert [m["Subject"] for m in smtp.messages] == ["pvsync WARNING: 1 new problem - invoice F-1 is blocked"]


def test_pvsync_status_from_cron_tells_of_an_engine_that_stopped_beating(store, alerting_config, smtp, webhook,
                                                                         state_dir, capsys):
    store.conn.execute("UPDATE engine SET heartbeat_at = ?", (to_text(utc_now() - timedelta(minutes=5)),))
    argv = ["--config", str(alerting_config), "--state-dir", str(state_dir), "status"]
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out.startswith("PVSYNC CRITICAL - the engine (pid") and err == ""
    assert cli.main(argv) == 2
    (mail,) = smtp.messages
    assert mail["Subject"].startswith("pvsync CRITICAL: 1 new problem - the engine (pid")
    assert "stopped beating" in mail["Subject"]
    assert WEBHOOK_TOKEN not in mail.get_content()
    assert [p["status"] for _, p in webhook.received] == ["CRITICAL"]


def test_the_daemons_run_sends_the_alert_for_the_invoice_it_blocked(tmp_path, smtp, monkeypatch):
    from tests.sync.invoices_world import InvoiceWorld

    for variable in [name for name in os.environ if name.startswith("PVSYNC_")]:
        monkeypatch.delenv(variable)  # the simulated world's own credentials are in its config file

    with InvoiceWorld(tmp_path, **{"alerts.enabled": True, "alerts.email_to": "beheer@example.nl",
                                   "alerts.smtp_host": "127.0.0.1", "alerts.smtp_port": smtp.port,
                                   "alerts.from_address": "pvsync@example.nl"}) as world:
        world.invoice(world.customer("D1001"), "F-ZES", ("Oud", "1", "10.00", "BTW 0%"))
        world.sync()
        world.sync(dry_run=True)  # a dry run tells nobody anything
        world.sync()
    (mail,) = smtp.messages
    assert mail["Subject"] == "pvsync WARNING: 1 new problem - invoice F-ZES is blocked"
    assert "'BTW 0%' is not mapped for NL" in mail.get_content()


def test_refused_credentials_and_a_budget_past_80_percent_are_each_told_once(store, alerting_config, smtp):
    from core.engine.health import Watch

    run_id = store.start_run("schedule", ["invoices"], "h")
    store.log("ERROR", "run", "invoices failed: PerfectViewError: PerfectView WorkflowGetAll: Access denied: the "
                              "combination of API key, database and user is not valid. (code InvalidCredentials)",
              run_id=run_id)
    store.finish_run(run_id, "ok", {}, job_outcomes={"invoices": "ok"})
    for _ in range(9):
        store.record("e-Boekhouden", "GetMutaties")
    channels = channels_from_config(load_config(alerting_config))
    for _ in range(2):
        send_due_alerts(store, assess(store, watch=Watch(mutaties_budget=10)), channels)
    (mail,) = smtp.messages
    body = mail.get_content()
    assert mail["Subject"].startswith("pvsync WARNING: 2 new problems - e-Boekhouden GetMutaties: 9 of the month's")
    assert "PerfectView refused the credentials or the session: WorkflowGetAll: Access denied" in body


def test_status_says_so_when_alerts_are_on_but_the_secrets_are_not_at_hand(store, alerting_config, state_dir,
                                                                         capsys, monkeypatch):
    monkeypatch.delenv("PVSYNC_PERFECTVIEW_API_KEY")  # a cron job without the daemon's environment
    block(store, "F-1")
    assert cli.main(["--config", str(alerting_config), "--state-dir", str(state_dir), "status"]) == 1
    err = capsys.readouterr().err
    assert "alerts are on, but the config cannot be read with its secrets" in err and "api_key" in err


def test_a_relation_that_waits_for_a_person_is_told_once_and_resolved_once(store, alerting_config, smtp):
    """`pvsync status` says WARNING for a relation the run did not write: the alert says which, and why."""
    from core.model import Problem
    from core.store.relation_state import RelationState

    relations = RelationState(store)
    relations.record_problems("pv-7f3a", subject="1001 (Bakkerij Jansen)", code="1001", kind="blocked",
                              problems=[Problem("Debiteurnummer", "1001 is also the Debiteurnummer of Jansen B.V.",
                                                "give one of them another number")])
    for _ in range(2):
        assert check(store, alerting_config) == []
    (mail,) = smtp.messages
    assert mail["Subject"] == ("pvsync WARNING: 1 new problem - relation 1001 (Bakkerij Jansen): 1001 is also the "
                               "Debiteurnummer of Jansen B.V. (waits for a person)")
    relations.clear_problems(["pv-7f3a"])
    check(store, alerting_config)
    check(store, alerting_config)
    assert [m["Subject"].split(" - ")[0] for m in smtp.messages] == ["pvsync WARNING: 1 new problem",
                                                                     "pvsync: 1 problem resolved"]


def test_a_channel_that_was_down_gets_what_the_other_channel_took_once_it_is_back(store, alerting_config, smtp,
                                                                                   webhook):
    """The webhook took the alert while the mail server was down: the mail still goes out, once,
    when the mail server is back, and the webhook is not told twice."""
    update_config(alerting_config, {"alerts.smtp_port": free_port()})  # nothing listens there
    block(store, "F-7")
    (failure,) = check(store, alerting_config)
    assert failure.startswith("e-mail to beheer@example.nl")
    assert [p["kind"] for _, p in webhook.received] == ["problem"] and smtp.messages == []
    assert len(check(store, alerting_config)) == 1, "still down: said again, still owed"
    update_config(alerting_config, {"alerts.smtp_port": smtp.port})
    assert check(store, alerting_config) == []
    assert [m["Subject"] for m in smtp.messages] == ["pvsync WARNING: 1 new problem - invoice F-7 is blocked"]
    check(store, alerting_config)
    assert len(smtp.messages) == 1 and len(webhook.received) == 1, "each channel told once"


def test_two_checks_at_the_same_moment_send_a_problem_once(store, alerting_config, smtp, webhook, state_dir,
                                                           monkeypatch):
    """The daemon checking after a run while `pvsync status` from cron checks too: one of them
    tells the new problem, the other waits for it and finds it told."""
    import time

    from core.engine import alerts

    mail = alerts._mail

    def slow_mail(message, channels):  # a mail server that takes its time
        time.sleep(0.3)
        mail(message, channels)

    monkeypatch.setattr(alerts, "_mail", slow_mail)
    block(store, "F-9")
    channels = channels_from_config(load_config(alerting_config))

    def one_check():
        with Store.open(state_dir) as own:  # each checker its own connection, as two processes have
            send_due_alerts(own, assess(own), channels)

    checkers = [threading.Thread(target=one_check) for _ in range(2)]
    for checker in checkers:
        checker.start()
    for checker in checkers:
        checker.join()
    assert [m["Subject"] for m in smtp.messages] == ["pvsync WARNING: 1 new problem - invoice F-9 is blocked"]
    assert len(webhook.received) == 1
