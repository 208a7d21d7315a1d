"""The invoice document mailed to e-Boekhouden's archive address, against a local SMTP
server the tests start (aiosmtpd on a loopback address)."""

from __future__ import annotations

import socket
from datetime import timedelta
from email import message_from_bytes, policy
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller

from core.model import Attachment
from core.secrets import Secret
from core.sync.documents import DocumentNotSent, build_message, choose_attachment, send_document
from core.sync.invoice_commands import InvoiceCommandError, choose_document, list_invoices, retry_invoice

from tests.sync.invoices_world import InvoiceWorld

HIGH = ("Onderhoud", "1", "100.00", "BTW hoog 21%")
PDF = b"%PDF-1.4 factuur F-1\n%%EOF"
ARCHIVE = "archief-12345@e-boekhouden.nl"


class Inbox:
    def __init__(self) -> None:
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    port = free_port("127.0.0.1")
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.port = port
    yield inbox
    controller.stop()


def mail_settings(port: int, **extra) -> dict:
    return {"invoices.document.send": True, "invoices.document.archive_address": ARCHIVE,
            "invoices.document.smtp_host": "127.0.0.1", "invoices.document.smtp_port": port,
            "invoices.document.from_address": "facturen@example.nl", **extra}


def attachments(world: InvoiceWorld, activity: str, *files: tuple[str, bytes]) -> list[str]:
    return [world.pv.add_attachment(activity, name, content) for name, content in files]


def test_the_only_attachment_is_mailed_with_invoice_number_and_mutatienummer(tmp_path, smtp):
    with InvoiceWorld(tmp_path, **mail_settings(smtp.port)) as world:
        activity = world.invoice(world.customer("D1001"), "F-1", HIGH)
        attachments(world, activity, ("factuur-F-1.pdf", PDF))

        world.sync()

        (recipients, message), = smtp.messages
        mutatie = world.entry("F-1").mutatienummer
        assert recipients == [ARCHIVE]
        assert "F-1" in message["Subject"] and f"mutatie {mutatie}" in message["Subject"]
        (part,) = list(message.iter_attachments())
        assert part.get_filename() == "factuur-F-1.pdf" and part.get_content() == PDF
        entry = world.entry("F-1")
        assert (entry.document_state, entry.document_file) == ("sent", "factuur-F-1.pdf")
        assert any("document factuur-F-1.pdf mailed" in m for m in world.messages())

        world.sync()
        assert len(smtp.messages) == 1  # sent once


def test_a_document_attached_after_booking_is_mailed_when_it_appears(tmp_path, smtp):
    with InvoiceWorld(tmp_path, **mail_settings(smtp.port)) as world:
        activity = world.invoice(world.customer("D1001"), "F-1", HIGH)
        world.sync()
        assert world.entry("F-1").document_state == "no_attachment" and smtp.messages == []
        world.sync()  # booked invoices are otherwise not read line by line again; this one waits

        world.world.perfectview.add_minutes(10)
        world.clock.advance(timedelta(minutes=10))
        attachments(world, activity, ("factuur-F-1.pdf", PDF))
        world.sync()  # PerfectView lists the activity as modified

        (recipients, message), = smtp.messages
        assert recipients == [ARCHIVE] and (message.get_body() is not None)
        assert [part.get_filename() for part in message.iter_attachments()] == ["factuur-F-1.pdf"]
        assert world.entry("F-1").document_state == "sent"
        assert len(world.booked("F-1")) == 1


def test_several_attachments_wait_for_a_choice_then_the_chosen_one_goes(tmp_path, smtp):
    with InvoiceWorld(tmp_path, **mail_settings(smtp.port)) as world:
        activity = world.invoice(world.customer("D1001"), "F-1", HIGH)
        offer, invoice = attachments(world, activity, ("offerte.pdf", b"%PDF offerte"), ("factuur.pdf", PDF))

        world.sync()

        assert smtp.messages == [] and world.entry("F-1").state.value == "booked"  # the booking does not wait
        (listed,) = list_invoices(world.engine.store, "pending")
        assert "choose the invoice document" in listed.line()
        assert any("choose the invoice document" in m and "choose-document F-1" in m
                   for m in world.messages(level="WARNING"))

        with pytest.raises(InvoiceCommandError, match="is not one of the attachments"):
            choose_document(world.engine.store, "F-1", "bestaat-niet.pdf")
        assert "factuur.pdf" in choose_document(world.engine.store, "F-1", invoice)
        world.sync()

        (_, message), = smtp.messages
        assert [p.get_filename() for p in message.iter_attachments()] == ["factuur.pdf"]
        assert world.entry("F-1").document_attachment_id == invoice != offer
        assert list_invoices(world.engine.store, "pending") == []


def test_policy_newest_pdf_picks_the_newest_pdf(tmp_path, smtp):
    with InvoiceWorld(tmp_path, **mail_settings(smtp.port, **{"invoices.document.policy": "newest_pdf"})) as world:
        activity = world.invoice(world.customer("D1001"), "F-1", HIGH)
        attachments(world, activity, ("oud.pdf", b"%PDF oud"))
        world.world.perfectview.add_minutes(5)  # attached later
        attachments(world, activity, ("nieuw.pdf", PDF), ("bijlage.docx", b"docx"))

        world.sync()

        (_, message), = smtp.messages
        assert [p.get_filename() for p in message.iter_attachments()] == ["nieuw.pdf"]


def test_a_failed_mail_keeps_the_booking_and_is_sent_next_run(tmp_path, smtp):
    with InvoiceWorld(tmp_path, **mail_settings(free_port("127.0.0.1"))) as world:  # nobody listens there
        activity = world.invoice(world.customer("D1001"), "F-1", HIGH)
        attachments(world, activity, ("factuur.pdf", PDF))

        report = world.sync()

        assert report.outcome == "partial"
        entry = world.entry("F-1")
        assert entry.state.value == "booked" and entry.document_state == "pending" and entry.document_error
        assert any("was not mailed to the archive" in m and "The booking stands" in m
                   for m in world.messages(level="ERROR"))

        from core.config import update_config
        update_config(world.world.config_path, {"invoices.document.smtp_port": smtp.port})
        world.reload_config()
        world.sync()

        assert len(smtp.messages) == 1 and world.entry("F-1").document_state == "sent"
        assert world.eb_calls("AddMutatie") == 1


def test_a_stop_between_mailing_and_recording_mails_again_with_the_same_message_id(tmp_path, smtp, monkeypatch):
    from core.store.invoice_journal import InvoiceJournal
    from tests.sync.invoices_world import Crash

    with InvoiceWorld(tmp_path, **mail_settings(smtp.port)) as world:
        activity = world.invoice(world.customer("D1001"), "F-1", HIGH)
        attachments(world, activity, ("factuur.pdf", PDF))
        recorded = InvoiceJournal.document_sent

        def dies_before_recording(self, *args, **kwargs):
            raise Crash("after the mail left, before pvsync wrote it down")

        monkeypatch.setattr(InvoiceJournal, "document_sent", dies_before_recording)
        with pytest.raises(Crash):
            world.sync()
        monkeypatch.setattr(InvoiceJournal, "document_sent", recorded)
        world.restart()
        world.sync()
        world.sync()

        first, again = (message for _, message in smtp.messages)  # at least once, never lost
        assert first["Message-ID"] == again["Message-ID"] and first["Message-ID"].endswith("@pvsync.invalid>")
        assert world.entry("F-1").document_state == "sent" and len(world.booked("F-1")) == 1


def test_documents_are_not_mailed_when_sending_is_off(tmp_path, smtp):
    with InvoiceWorld(tmp_path) as world:
        activity = world.invoice(world.customer("D1001"), "F-1", HIGH)
        attachments(world, activity, ("factuur.pdf", PDF))
        world.sync()
        assert smtp.messages == [] and world.entry("F-1").document_state == ""


# --------------------------------------------------------------------------- the rules, unit by unit


def settings(host: str, port: int, **changes) -> SimpleNamespace:
    values = dict(smtp_host=host, smtp_port=port, smtp_starttls=True, smtp_username="", smtp_password=Secret(""),
                  from_address="facturen@example.nl", archive_address=ARCHIVE)
    values.update(changes)
    return SimpleNamespace(**values)


def test_plain_smtp_is_refused_anywhere_but_the_loopback_name(smtp):
    """127.0.0.2 is this machine too, but not a name the rule trusts: without STARTTLS the
    mail is refused before anything is sent."""
    inbox = Inbox()
    port = free_port("127.0.0.2")
    controller = Controller(inbox, hostname="127.0.0.2", port=port)
    controller.start()
    try:
        message = build_message(settings("127.0.0.2", port), invoice_number="F-1", mutatienummer=7,
                                relation_name="Klant", attachment=Attachment("a1", "f.pdf", "pdf", content=PDF))
        with pytest.raises(DocumentNotSent, match="does not offer STARTTLS"):
            send_document(settings("127.0.0.2", port), message)
        assert inbox.messages == []
        send_document(settings("127.0.0.1", smtp.port), message)  # loopback by name: allowed
        assert len(smtp.messages) == 1
    finally:
        controller.stop()


def test_choosing_the_attachment():
    from datetime import datetime, timezone

    def att(i, name, minute):
        return Attachment(i, name, name.rsplit(".", 1)[-1], datetime(2026, 3, 2, 10, minute, tzinfo=timezone.utc))

    old, new, doc = att("1", "oud.pdf", 1), att("2", "nieuw.PDF", 5), att("3", "brief.docx", 9)
    assert choose_attachment([]).waiting == "no_attachment"
    assert choose_attachment([doc]).attachment == doc
    assert choose_attachment([old, new, doc]).waiting == "choose"
    assert choose_attachment([old, new, doc], policy="newest_pdf").attachment == new
    assert choose_attachment([doc, att("4", "x.docx", 2)], policy="newest_pdf").waiting == "choose"
    assert choose_attachment([old, new], chosen_id="1").attachment == old


def test_retry_and_choose_refuse_what_cannot_be_done(tmp_path):
    with InvoiceWorld(tmp_path) as world:
        world.invoice(world.customer("D1001"), "F-1", HIGH)
        world.invoice(world.customer("D1002"), "F-2", ("Export", "1", "80.00", "BTW 0%"))
        world.sync()
        store = world.engine.store
        with pytest.raises(InvoiceCommandError, match="no invoice numbered 'F-9'"):
            retry_invoice(store, "F-9")
        with pytest.raises(InvoiceCommandError, match="nothing to retry"):
            retry_invoice(store, "F-1")
        assert "planned again" in retry_invoice(store, "F-2")
        with pytest.raises(InvoiceCommandError, match="unknown state"):
            list_invoices(store, "weg")
        assert [(l.invoice_number, l.state) for l in list_invoices(store)] == [("F-1", "booked"), ("F-2", "blocked")]
        (blocked,) = list_invoices(store, "blocked")
        assert "'BTW 0%' is not mapped" in blocked.line() and "VAT mapping" in blocked.line()


def test_a_console_request_records_the_choice_and_asks_for_an_invoices_run(tmp_path, smtp):
    from core.sync.invoice_commands import answer_choose_document_request, answer_retry_request

    with InvoiceWorld(tmp_path, **mail_settings(smtp.port)) as world:
        activity = world.invoice(world.customer("D1001"), "F-1", HIGH)
        _, invoice = attachments(world, activity, ("offerte.pdf", b"%PDF offerte"), ("factuur.pdf", PDF))
        world.sync()
        store = world.engine.store

        assert answer_retry_request(store, {"invoice_number": "F-404"})[0] == "failed"
        assert store.claim_request(["sync"]) is None  # a refused request asks for no run
        outcome, message = answer_choose_document_request(store, {"invoice_number": "F-1",
                                                                  "attachment": "factuur.pdf"})
        assert outcome == "ok" and "factuur.pdf" in message
        assert store.claim_request(["sync"]).payload == {"only": ["invoices"]}
        world.sync()
        (_, sent), = smtp.messages
        assert [p.get_filename() for p in sent.iter_attachments()] == ["factuur.pdf"]
        assert world.entry("F-1").document_attachment_id == invoice


def test_the_console_lists_pending_invoices_and_retries_by_activity_id(tmp_path):
    from core.sync.invoice_commands import answer_retry_request, pending_invoices

    with InvoiceWorld(tmp_path) as world:
        world.invoice(world.customer("D1001"), "F-1", HIGH)
        activity = world.invoice(world.customer("D1002"), "F-2", ("Export", "1", "80.00", "BTW 0%"))
        world.sync()
        store = world.engine.store

        (pending,) = pending_invoices(store)
        assert (pending.activity_id, pending.invoice_number, pending.state) == (activity, "F-2", "blocked")
        assert pending.total_incl_vat is None and pending.updated_at is not None and "not mapped" in pending.reason

        outcome, message = answer_retry_request(store, {"activity_id": activity})
        assert outcome == "ok" and "F-2" in message
        assert world.entry("F-2").block_code == "retry"
