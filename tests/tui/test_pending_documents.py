"""Choosing the invoice document from the pending screen, against both simulators and a
local SMTP server: the choice travels as the request the engine answers, embedded and
attached alike, and the chosen file is the one mailed."""

from __future__ import annotations

import os

from textual.widgets import DataTable

from core.engine import EngineLock
from core.store import Store
from core.store.invoice_journal import InvoiceJournal
from core.sync.invoice_commands import answer_choose_document_request
from tests.sync.test_invoices_documents import PDF, mail_settings, smtp  # noqa: F401  (smtp: the fixture)
from tests.tui.conftest import settle, wait_until
from tests.tui.pending_world import HIGH, PendingWorld
from tui.app import create_app
from tui.screens.document_choice import DocumentChoiceScreen
from tui.screens.pending import DocumentChoiceRequested


def two_attachments(tmp_path, port: int) -> tuple[PendingWorld, str, str]:
    """F-1 booked with an offer and the invoice attached (which is which is for a person to say);
    F-2 booked with no attachment at all."""
    world = PendingWorld(tmp_path, **mail_settings(port))
    f1 = world.invoice(world.customer_id, "F-1", HIGH)
    offer = world.pv.add_attachment(f1, "offerte.pdf", b"%PDF offerte")
    invoice = world.pv.add_attachment(f1, "factuur.pdf", PDF)
    world.invoice(world.customer_id, "F-2", HIGH)
    world.sync()
    assert world.entry("F-1").document_state == "choose"
    return world, offer, invoice


def rows(app) -> list[str]:
    table = app.screen.query_one("#pending-table", DataTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


async def select(app, pilot, number: str) -> None:
    app.screen.query_one("#pending-table", DataTable).move_cursor(row=rows(app).index(number))
    await pilot.pause()


async def choose(app, pilot, file_name: str) -> None:
    """d on the selected invoice, then Enter on `file_name` in the list of attachments."""
    await pilot.press("d")
    await wait_until(pilot, lambda: isinstance(app.screen, DocumentChoiceScreen), what="the attachments")
    table = app.screen.query_one("#document-table", DataTable)
    files = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
    assert sorted(files) == ["factuur.pdf", "offerte.pdf"]
    table.move_cursor(row=files.index(file_name))
    await pilot.press("enter")


async def test_embedded_the_chosen_attachment_is_recorded_by_the_engine_and_mailed(tmp_path, smtp):  # noqa: F811
    world, offer, invoice = two_attachments(tmp_path, smtp.port)
    world.release()  # no daemon: the console runs the engine itself
    messages = []
    try:
        app = create_app(world.world.config_path, world.world.state_dir, engine_mode="auto")
        async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
            await wait_until(pilot, lambda: app.link.mode.kind == "embedded", what="the embedded engine")
            await pilot.press("4")
            await wait_until(pilot, lambda: "F-1" in rows(app), what="the pending list")
            summary = str(app.screen.query_one("#pending-summary").render())
            assert summary.startswith("1 waits for you (at the top)")
            assert rows(app)[0] == "F-1"  # the invoice that waits for a choice is on top...
            table = app.screen.query_one("#pending-table", DataTable)
            assert str(table.get_row_at(0)[1]) == "PICK DOC"  # ... said in its state
            detail = str(app.screen.query_one("#pending-detail").render())
            assert "(d: choose the document)" in detail

            await select(app, pilot, "F-2")
            await pilot.press("d")  # F-2 has no attachment: nothing to choose, and nothing requested
            await settle(app, pilot)
            assert any("F-2 does not wait for a choice of document (no document on the activity)" in n.message
                       for n in app._notifications)
            assert not isinstance(app.screen, DocumentChoiceScreen)

            await select(app, pilot, "F-1")
            await choose(app, pilot, "factuur.pdf")
            await wait_until(pilot, lambda: any(isinstance(m, DocumentChoiceRequested) for m in messages),
                             what="the request")
            await wait_until(pilot, lambda: len(smtp.messages) == 1, what="the mail", timeout=30)
            await wait_until(pilot, lambda: any("factuur.pdf is the invoice document" in n.message
                                                for n in app._notifications), what="the engine's answer")
            await pilot.press("q")
        (_, mail), = smtp.messages
        assert [part.get_filename() for part in mail.iter_attachments()] == ["factuur.pdf"]
        with Store.open(world.world.state_dir) as store:
            (entry,) = InvoiceJournal(store).by_number("F-1")
            assert (entry.document_attachment_id, entry.document_state) == (invoice, "sent") and invoice != offer
    finally:
        world.close()


async def test_attached_the_choice_is_a_request_the_daemon_answers(tmp_path, smtp):  # noqa: F811
    world, offer, _ = two_attachments(tmp_path, smtp.port)
    world.release()
    lock = EngineLock(world.world.state_dir)
    lock.acquire()  # a daemon holds the state folder
    messages = []
    try:
        with Store.open(world.world.state_dir) as daemon:
            daemon.update_engine(pid=os.getpid(), mode="daemon", state="idle")
            app = create_app(world.world.config_path, world.world.state_dir, engine_mode="auto")
            async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
                await settle(app, pilot)
                assert app.link.mode.kind == "attached"
                await pilot.press("4")
                await settle(app, pilot)
                await select(app, pilot, "F-1")
                await choose(app, pilot, "offerte.pdf")
                await settle(app, pilot)
                (requested,) = [m for m in messages if isinstance(m, DocumentChoiceRequested)]
                request = daemon.claim_request(["choose_document"])
                assert request.id == requested.request_id
                assert request.payload == {"activity_id": requested.activity_id, "attachment": offer}

                outcome, message = answer_choose_document_request(daemon, request.payload)  # as the daemon does
                daemon.finish_request(request.id, outcome, message)
                app._tick()
                await wait_until(pilot, lambda: any("offerte.pdf is the invoice document" in n.message
                                                    for n in app._notifications), what="the daemon's answer")
            (entry,) = InvoiceJournal(daemon).by_number("F-1")
            assert (entry.document_attachment_id, entry.document_state) == (offer, "pending")
            assert daemon.claim_request(["sync"]).payload == {"only": ["invoices"]}  # mailed in a run right away
    finally:
        lock.release()
        world.close()
