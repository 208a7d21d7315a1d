"""The demo's own mail server: it takes the invoice documents pvsync mails and keeps them.

The demo mails documents as a customer's pvsync does, so the invoice with two attachments
waits for a person to choose one. The mail goes to a small SMTP server on this machine's
loopback address, started inside the demo process; it never leaves the machine, so the
plain-SMTP exception for loopback in core.sync.documents applies and nothing is weakened.
Each mail is kept in memory and written as an .eml file in the demo folder, where a person
can open it.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

SINK_HOST = "127.0.0.1"
DEMO_ARCHIVE_ADDRESS = "archief@demo-administratie.invalid"
DEMO_FROM_ADDRESS = "facturen@demo-organisatie.invalid"
PORT_ATTEMPTS = 5  # a free port can be taken between asking for it and listening on it


@dataclass
class SunkMail:
    recipients: list[str]
    message: EmailMessage
    path: Path

    @property
    def attachment_names(self) -> list[str]:
        return [part.get_filename() or "" for part in self.message.iter_attachments()]


@dataclass
class _Handler:
    folder: Path
    mails: list[SunkMail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802  (aiosmtpd's hook name)
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            path = self.folder / f"{len(self.mails) + 1:04d}.eml"
            path.write_bytes(envelope.content)
            self.mails.append(SunkMail(list(envelope.rcpt_tos), message, path))
        return "250 OK"


class MailSink:
    """An SMTP server on 127.0.0.1 that keeps what it receives (start, then stop)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._handler = _Handler(self.folder)
        self._controller: Controller | None = None
        self.port = 0

    @property
    def mails(self) -> list[SunkMail]:
        with self._handler.lock:
            return list(self._handler.mails)

    def settings(self) -> dict[str, object]:
        """The demo config's [invoices.document] keys that send through this sink."""
        return {"invoices.document.send": True, "invoices.document.smtp_host": SINK_HOST,
                "invoices.document.smtp_port": self.port,
                "invoices.document.archive_address": DEMO_ARCHIVE_ADDRESS,
                "invoices.document.from_address": DEMO_FROM_ADDRESS}

    def start(self) -> MailSink:
        self.folder.mkdir(parents=True, exist_ok=True)
        last_error: Exception | None = None
        for _ in range(PORT_ATTEMPTS):
            port = _free_port()
            controller = Controller(self._handler, hostname=SINK_HOST, port=port)
            try:
                controller.start()
            except (OSError, RuntimeError) as error:  # taken meanwhile: another port
                last_error = error
                continue
            self._controller, self.port = controller, port
            return self
        raise RuntimeError(f"the demo's mail sink found no free port on {SINK_HOST}: {last_error}")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((SINK_HOST, 0))
        return probe.getsockname()[1]
