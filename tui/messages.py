"""Messages workers post back to the console; tests assert on them through `message_hook`.

Worker threads never touch widgets: they post one of these (posting is thread-safe) and
the handler on the UI side updates the screen. Those a screen posts to itself do not
bubble: they concern that screen only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.message import Message

from tui.engine_link import EngineMode
from tui.state import ConsoleState


@dataclass
class StateRefreshed(Message):
    """A fresh read of the state folder; a newer one supersedes a queued older one."""

    state: ConsoleState

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StateRefreshed)


@dataclass
class EngineModeChanged(Message):
    mode: EngineMode


@dataclass
class SyncRequested(Message):
    """A "sync" request row was written (or joined the pending one)."""

    request_id: int


@dataclass
class LogbookExported(Message, bubble=False):
    path: Path
    entries: int


@dataclass
class VatRuleSaved(Message, bubble=False):
    country: str
    perfectview_vat: str


@dataclass
class InvoiceRetryRequested(Message, bubble=False):
    activity_id: str
    request_id: int


@dataclass
class ConfigWritten(Message, bubble=False):
    path: Path
