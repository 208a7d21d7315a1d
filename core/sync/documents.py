"""The sent invoice's PDF, mailed to the administration's digital-archive address.

e-Boekhouden's public APIs cannot attach a file to a booking, but every administration
has an archive e-mail address that files what it receives. pvsync mails the invoice
document there after booking, with invoice number and Mutatienummer in the subject so
the bookkeeper can put the two together.

Which attachment is the invoice: the only one, or the one a person chose, or (policy
"newest_pdf") the newest PDF. With several and policy "ask", nothing is guessed.

The mail goes encrypted: STARTTLS (port 587) or TLS from the first byte (465), with the
system's certificate checks. The one exception is a mail server on this machine's
loopback address that offers no STARTTLS (the tests' server, or a local relay): the mail
never leaves the machine, so plain SMTP is allowed there and nowhere else, the same rule
the config applies to plain http for the simulators.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Sequence

from core.model import Attachment
from core.secrets import scrub

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
SMTP_TIMEOUT_S = 30


class DocumentNotSent(Exception):
    """The mail did not go out; the message says why and what to do."""


@dataclass(frozen=True)
class Choice:
    """Which attachment is the invoice document, or why none is chosen."""

    attachment: Attachment | None
    waiting: str = ""  # "choose" (several, a person must pick) or "no_attachment"


def is_pdf(attachment: Attachment) -> bool:
    name = attachment.file_name.casefold()
    return attachment.extension.casefold().lstrip(".") == "pdf" or name.endswith(".pdf")


def choose_attachment(attachments: Sequence[Attachment], *, chosen_id: str = "", policy: str = "ask") -> Choice:
    """The invoice document among an activity's attachments."""
    if chosen_id:
        found = next((a for a in attachments if a.id == chosen_id), None)
        if found is not None:
            return Choice(found)
    if not attachments:
        return Choice(None, "no_attachment")
    if len(attachments) == 1:
        return Choice(attachments[0])
    if policy == "newest_pdf":
        pdfs = [a for a in attachments if is_pdf(a)]
        if pdfs:
            return Choice(max(pdfs, key=lambda a: (a.created_at is not None, a.created_at or 0, a.file_name)))
    return Choice(None, "choose")


def subject_for(invoice_number: str, mutatienummer: int) -> str:
    return f"Factuur {invoice_number} - e-Boekhouden mutatie {mutatienummer}"


def message_id(mutatienummer: int, attachment: Attachment) -> str:
    """The same for every mail of one document for one booking. A mail is sent again after a
    failure, or after pvsync stopped between sending and recording it (at least once, never
    lost); a mailbox that keeps one message per Message-ID then keeps one."""
    key = hashlib.sha256(f"{mutatienummer}/{attachment.id}".encode()).hexdigest()[:32]
    return f"<document.{key}@pvsync.invalid>"


def build_message(settings: Any, *, invoice_number: str, mutatienummer: int, relation_name: str,
                  attachment: Attachment) -> EmailMessage:
    if attachment.content is None:
        raise ValueError("the attachment must be fetched with its file before it can be mailed")
    message = EmailMessage()
    message["From"] = settings.from_address
    message["To"] = settings.archive_address
    message["Subject"] = subject_for(invoice_number, mutatienummer)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = message_id(mutatienummer, attachment)
    message.set_content(f"Invoice {invoice_number} for {relation_name}, booked in e-Boekhouden as mutatie "
                        f"{mutatienummer}. The invoice document is attached ({attachment.file_name}).\n\n"
                        "Sent by pvsync.")
    maintype, subtype = ("application", "pdf") if is_pdf(attachment) else ("application", "octet-stream")
    message.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.file_name)
    return message


def send_document(settings: Any, message: EmailMessage, *,
                  recipient_key: str = "invoices.document.archive_address") -> None:
    """Send through the configured server; raises DocumentNotSent with what to do. The alerts
    send through here too (`recipient_key` names their setting in the message)."""
    host, port = settings.smtp_host, settings.smtp_port
    where = f"mail server {host}:{port}"
    context = ssl.create_default_context()
    try:
        if settings.smtp_starttls:
            server: smtplib.SMTP = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_S)
        else:
            server = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT_S, context=context)
        with server:
            server.ehlo()
            if settings.smtp_starttls:
                if server.has_extn("starttls"):
                    server.starttls(context=context)
                    server.ehlo()
                elif host.lower() not in LOOPBACK_HOSTS:
                    raise DocumentNotSent(f"{where} does not offer STARTTLS, and pvsync does not send mail "
                                          "unencrypted; use the server's TLS port (465) with smtp_starttls = false, "
                                          "or a server that offers STARTTLS")
            if settings.smtp_username:
                server.login(settings.smtp_username, settings.smtp_password.reveal())
            refused = server.send_message(message)
            if refused:
                raise DocumentNotSent(f"{where} refused the recipient {settings.archive_address}: "
                                      f"{scrub(str(refused))}; check {recipient_key}")
    except DocumentNotSent:
        raise
    except smtplib.SMTPAuthenticationError as error:
        raise DocumentNotSent(f"{where} refused the login ({error.smtp_code}); check smtp_username and "
                              "smtp_password") from None
    except (smtplib.SMTPException, OSError) as error:
        raise DocumentNotSent(scrub(f"{where}: {type(error).__name__}: {error}; pvsync tries again next run")) \
            from None
