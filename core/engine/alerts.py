"""Alerts that reach a person: e-mail and a JSON webhook, once per problem, never a storm.

The problems are read from the same `Health` that `pvsync status` reports, so what a
monitoring system sees and what a person is told cannot drift apart. Each problem has a
key (``invoice_blocked:F2026-0042``, ``engine_down``, ``credentials:e-Boekhouden`` ...);
the keys already told are kept in the state folder (`cursors` table), so a problem is
announced once however often the check runs, said "resolved" once when its key is gone,
and what still waits is repeated at most once a day in a digest. Everything new in one
check goes in one message, so fifty invoices blocked by one unmapped VAT code make one
mail, not fifty.

The daemon checks after every run; `pvsync status` checks too, so a cron job running it
is what notices an engine that stopped beating (a dead engine sends nothing itself).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Iterator

import httpx

from core import paths
from core.engine.health import WARNING_ALERTS, Health
from core.secrets import Secret, scrub
from core.store import Store
from core.store.records import from_text, to_text, utc_now

CURSOR = "alerts.state"
DIGEST_EVERY = timedelta(days=1)
WEBHOOK_TIMEOUT_S = 10
# How a refused login reads in a failed call's message (both services word it their own way).
_CREDENTIALS = re.compile(r"credential|api ?key|token|unauthori|forbidden|login|password|wachtwoord|security ?code|"
                          r"beveiligingscode|not allowed|geen toegang|expired|verlopen|OpenSession", re.IGNORECASE)


@dataclass(frozen=True)
class Problem:
    key: str
    message: str


@dataclass(frozen=True)
class Channels:
    """Where alerts go: the [alerts] section with the mail server resolved (its own, else the
    invoice documents')."""

    email_to: str
    webhook_url: Secret
    mail: Any  # has smtp_host, smtp_port, smtp_username, smtp_password, smtp_starttls, from_address


@dataclass(frozen=True)
class _MailServer:
    smtp_host: str
    smtp_port: int
    smtp_username: str
    smtp_password: Secret
    smtp_starttls: bool
    from_address: str


def channels_from_config(config: Any) -> Channels | None:
    """None when alerts are switched off."""
    alerts, document = config.alerts, config.invoices.document
    if not alerts.enabled:
        return None
    if alerts.smtp_host:
        server = _MailServer(alerts.smtp_host, alerts.smtp_port or 587, alerts.smtp_username, alerts.smtp_password,
                             alerts.smtp_starttls, alerts.from_address or document.from_address)
    else:
        server = _MailServer(document.smtp_host, document.smtp_port, document.smtp_username, document.smtp_password,
                             document.smtp_starttls, alerts.from_address or document.from_address)
    return Channels(alerts.email_to, alerts.webhook_url, server)


class AlertsUnreadable(Exception):
    """Alerts are switched on, but the config cannot be read with its secrets (a cron job
    without the daemon's environment, typically): said, so the silence is not mistaken for
    all being well."""


def alert_settings(config_path: Path) -> Channels | None:
    """The channels of the config at `config_path`, read with its secrets (the mail password,
    the webhook address); None when alerts are off or there is no readable config."""
    from core.config import ConfigError, load_config
    from core.config.load import check_text, read_config_text

    try:
        return channels_from_config(load_config(config_path))
    except ConfigError as error:
        try:
            config, _ = check_text(read_config_text(config_path), config_path, env={}, with_secrets=False)
        except ConfigError:
            return None
        if config is not None and config.alerts.enabled:
            first = error.problems[0] if error.problems else error
            raise AlertsUnreadable(f"alerts are on, but the config cannot be read with its secrets ({first}); "
                                   "run pvsync status with the daemon's environment") from None
        return None


# --------------------------------------------------------------------------- what is wrong


def problems_of(health: Health) -> list[Problem]:
    """Every problem a person should hear of, each with a key that stays the same while the
    problem lasts."""
    found: list[Problem] = []
    if not health.engine_up:
        found.append(Problem("engine_down", health.problems[0] if health.problems else "the engine is down"))
    for job in health.jobs:
        if job.overdue:
            found.append(Problem(f"overdue:{job.job}", f"{job.job} is overdue (it was due {to_text(job.next_due)})"))
    for alert in health.alerts:
        if alert.kind == "failing_in_a_row":
            found.append(Problem(f"failing:{alert.message.split(' ', 1)[0]}", alert.message))
        elif alert.kind in WARNING_ALERTS:
            found.append(Problem(alert.kind, alert.message))
    for service in health.services:
        if service.state == "FAILING" and _CREDENTIALS.search(service.message):
            found.append(Problem(f"credentials:{service.service}",
                                 f"{service.service} refused the credentials or the session: {service.message}; "
                                 "check them with pvsync check"))
    for waiting in health.waiting:
        if waiting.kind in ("invoices_blocked", "invoices_unknown"):
            state = "blocked" if waiting.kind == "invoices_blocked" else "unknown"
            found += [Problem(f"invoice_{state}:{number}", f"invoice {number} is {state}")
                      for number in waiting.subjects]
        elif waiting.kind == "relations":  # not written to the other side until a person acts
            found += [Problem(f"relation:{key}", f"relation {words} (waits for a person)")
                      for key, words in zip(waiting.subjects, waiting.words or waiting.subjects)]
    return found


def _details(health: Health) -> dict[str, str]:
    """The invoice problems told with their reason, from the summary lines of `health.waiting`."""
    return {w.kind: w.summary for w in health.waiting}


# --------------------------------------------------------------------------- what was told


RECORD_KEYS = frozenset({"kind", "subject", "lines", "status"})  # a Message as the state folder keeps it
# Messages kept for a channel that is down, newest last: after weeks of a dead mail server the
# daily digest says what still waits, so the oldest are let go.
OWED_AT_MOST = 20


@dataclass(frozen=True)
class Told:
    open: dict[str, dict[str, str]]  # key -> {"message", "since"}
    digest_at: datetime | None
    # Messages one channel could not take while another did ("email" or "webhook" -> messages as
    # JSON): sent to that channel at the next checks until it takes them.
    owed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _load(store: Store) -> Told:
    text = store.cursor(CURSOR)
    try:
        data = json.loads(text) if text else {}
        owed = {channel: [dict(m) for m in messages if isinstance(m, dict) and RECORD_KEYS <= m.keys()]
                for channel, messages in dict(data.get("owed", {})).items()}
        return Told(dict(data.get("open", {})), from_text(data.get("digest_at")), owed)
    except (ValueError, TypeError, AttributeError):
        return Told({}, None)  # unreadable: tell again rather than never


def _save(store: Store, told: Told) -> None:
    store.set_cursor(CURSOR, json.dumps({"open": told.open, "digest_at": to_text(told.digest_at),
                                         "owed": told.owed}, ensure_ascii=False))


@dataclass(frozen=True)
class Message:
    kind: str  # problem, resolved, digest
    subject: str
    lines: tuple[str, ...]
    status: str  # the check's status word when sent

    def text(self) -> str:
        return "\n".join([self.subject, "", *self.lines, "", "Sent by pvsync; pvsync status says more."])

    def to_json(self) -> dict[str, Any]:
        return {"text": self.subject + "\n" + "\n".join(self.lines), "kind": self.kind, "status": self.status,
                "problems": list(self.lines)}

    def to_record(self) -> dict[str, Any]:
        """As kept in the state folder until a channel takes it."""
        return {"kind": self.kind, "subject": self.subject, "lines": list(self.lines), "status": self.status}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Message:
        return cls(str(record["kind"]), str(record["subject"]), tuple(map(str, record["lines"])),
                   str(record["status"]))


def due_messages(told: Told, current: list[Problem], health: Health, now: datetime) -> tuple[list[Message], Told]:
    """The messages this check sends and what is told afterwards. Pure: the tests drive it."""
    by_key = {problem.key: problem for problem in current}
    new = [problem for problem in current if problem.key not in told.open]
    gone = [key for key in told.open if key not in by_key]
    messages = []
    details = list(_details(health).values())
    if new:
        noun = "problem" if len(new) == 1 else "problems"
        lines = [problem.message for problem in new]
        if any(p.key.startswith("invoice_") for p in new):
            lines += ["", *details]
        messages.append(Message("problem", f"pvsync {health.status}: {len(new)} new {noun} - {new[0].message}",
                                tuple(lines), health.status))
    if gone:
        noun = "problem" if len(gone) == 1 else "problems"
        messages.append(Message("resolved", f"pvsync: {len(gone)} {noun} resolved - {told.open[gone[0]]['message']}",
                                tuple(told.open[key]["message"] for key in gone), health.status))
    still = {key: told.open[key] for key in told.open if key in by_key}
    still.update({p.key: {"message": p.message, "since": to_text(now)} for p in new})
    digest_at = told.digest_at
    waiting_since = min((from_text(v["since"]) for v in still.values()), default=None)
    last = digest_at or waiting_since
    if still and not new and last is not None and now - last >= DIGEST_EVERY:
        lines = [f"{v['message']} (since {v['since']})" for v in still.values()]
        messages.append(Message("digest", f"pvsync daily digest: {len(still)} still waiting", tuple(lines),
                                health.status))
        digest_at = now
    if not still:
        digest_at = None
    return messages, Told(still, digest_at, {channel: list(owed) for channel, owed in told.owed.items()})


# --------------------------------------------------------------------------- sending


def send_due_alerts(store: Store, health: Health, channels: Channels | None, now: datetime | None = None
                    ) -> list[str]:
    """Send what is due and remember it; returns what could not be sent, in words. A message
    that could not go out on any channel is not remembered as told: the next check tries again."""
    if channels is None:
        return []
    with _one_sender(store):
        return _send_due(store, health, channels, now or utc_now())


@contextmanager
def _one_sender(store: Store) -> Iterator[None]:
    """One process at a time reads what was told, sends and writes it back: the daemon checking
    after a run and `pvsync status` from cron at the same moment would otherwise both find the
    same problem new and both send it. The next one waits (a send is bounded by its timeouts)
    and then finds it told. A flock: the kernel lets go of it when its holder dies."""
    path = paths.alerts_lock_file(store.path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing lets go of the flock


def _send_due(store: Store, health: Health, channels: Channels, now: datetime) -> list[str]:
    told = _load(store)
    failures: list[str] = []
    owed = _pay_owed(told.owed, channels, failures)
    told_before = Told(told.open, told.digest_at, owed)
    messages, after = due_messages(told_before, problems_of(health), health, now)
    for message in messages:
        failed = deliver(message, channels)
        failures += failed.values()
        if failed and len(failed) == len(_channels(channels)):
            after = told_before  # nothing went out: tell it all again next time
            break
        for channel in failed:  # another channel took it: this one gets it at the next check
            after.owed[channel] = [*after.owed.get(channel, []), message.to_record()][-OWED_AT_MOST:]
    if after.owed != told.owed or messages:
        _save(store, after)
    return failures


def _pay_owed(owed: dict[str, list[dict[str, Any]]], channels: Channels,
              failures: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Send each channel what it could not take before, oldest first; what it still cannot take
    stays owed (a channel no longer configured is owed nothing)."""
    left: dict[str, list[dict[str, Any]]] = {}
    for channel in _channels(channels):
        waiting = [Message.from_record(m) for m in owed.get(channel, [])]
        for number, message in enumerate(waiting):
            failed = deliver(message, channels, only=channel)
            if failed:
                failures += failed.values()
                left[channel] = [m.to_record() for m in waiting[number:]]
                break
    return left


def _channels(channels: Channels) -> list[str]:
    return [name for name, on in (("email", channels.email_to), ("webhook", channels.webhook_url)) if on]


def deliver(message: Message, channels: Channels, *, only: str | None = None) -> dict[str, str]:
    """Send `message` on every channel (or `only` one); the channels that failed, with why in words."""
    failures = {}
    if channels.email_to and only in (None, "email"):
        try:
            _mail(message, channels)
        except Exception as error:  # noqa: BLE001 - any failure is reported, and retried next check
            failures["email"] = scrub(f"e-mail to {channels.email_to}: {error}")
    if channels.webhook_url and only in (None, "webhook"):
        try:
            _post(message, channels.webhook_url)
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            failures["webhook"] = scrub(f"webhook: {type(error).__name__}: {_without_address(str(error))}")
    return failures


def _without_address(text: str) -> str:
    # httpx names the URL in its errors; webhook addresses carry their token in the path.
    return re.sub(r"https?://\S+", "<webhook address>", text)


def _mail(message: Message, channels: Channels) -> None:
    from core.sync.documents import send_document

    mail = EmailMessage()
    mail["From"] = channels.mail.from_address
    mail["To"] = channels.email_to
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = make_msgid(domain="pvsync.invalid")
    mail.set_content(message.text())
    send_document(_Recipient(channels), mail, recipient_key="alerts.email_to")


@dataclass(frozen=True)
class _Recipient:
    """The mail server settings as `send_document` reads them, with the alert address as recipient."""

    channels: Channels

    def __getattr__(self, name: str) -> Any:
        if name == "archive_address":
            return self.channels.email_to
        return getattr(self.channels.mail, name)


def _post(message: Message, url: Secret) -> None:
    response = httpx.post(url.reveal(), json=message.to_json(), timeout=WEBHOOK_TIMEOUT_S)
    response.raise_for_status()
