"""The demo mails invoice documents to its own mail sink on loopback, so choosing the
document (`d` on Pending, `pvsync invoices choose-document`) can be tried in the demo."""

from __future__ import annotations

from datetime import date

from core import cli
from core.demo.scenario import build_demo
from core.store import Store
from core.store.invoice_journal import InvoiceJournal


def run_once(world) -> None:
    engine = world.engine()
    try:
        engine.run(trigger="cli")
    finally:
        engine.close()


def test_the_demo_mails_documents_and_the_two_attachment_invoice_waits_for_a_choice(tmp_path, capsys):
    demo = build_demo(tmp_path, relations=5, invoices=3)
    world, sink = demo.world, demo.mail_sink
    two_attachments = f"F{date.today().year}-903A"
    try:
        document = world.config().invoices.document
        assert document.send and document.smtp_host == "127.0.0.1" and document.smtp_port == sink.port
        run_once(world)

        with Store.open(world.state_dir, create=False) as store:
            journal = InvoiceJournal(store)
            (waiting,) = journal.by_number(two_attachments)
            assert waiting.document_state == "choose"
            sent = {e.invoice_number for e in journal.entries() if e.document_state == "sent"}
        mailed = {mail.message["Subject"].split()[1] for mail in sink.mails}
        assert two_attachments not in mailed
        year = date.today().year
        assert {f"F{year}-900V", f"F{year}-901C"} <= sent, "the demo's own invoices were booked and mailed"
        assert mailed == sent, "every document recorded as sent arrived at the sink"
        assert all(mail.recipients == [document.archive_address] for mail in sink.mails)
        assert all(mail.path.is_file() and mail.path.parent == tmp_path / "mail" for mail in sink.mails)

        where = ["--config", str(world.config_path), "--state-dir", str(world.state_dir)]
        assert cli.main([*where, "invoices", "choose-document", two_attachments, "offerte-bijlage.pdf"]) == 0
        assert "offerte-bijlage.pdf is the invoice document" in capsys.readouterr().out
        before = len(sink.mails)
        run_once(world)

        (chosen,) = [mail for mail in sink.mails[before:] if two_attachments in mail.message["Subject"]]
        assert chosen.attachment_names == ["offerte-bijlage.pdf"]
        with Store.open(world.state_dir, create=False) as store:
            assert InvoiceJournal(store).by_number(two_attachments)[0].document_state == "sent"
    finally:
        demo.close()
