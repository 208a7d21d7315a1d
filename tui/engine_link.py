"""How this console reaches the engine of its state folder: it runs it, or it attaches.

When no daemon holds the state folder's lock, the console takes it and runs the same
`Engine.serve` loop the daemon runs (embedded). When a daemon (or another console, or
`pvsync sync`) holds it, the console attaches: it only reads the database and writes
requests. Either way "sync now" is one request row that the engine claims, so the two
modes behave the same. Blocking calls here run in worker threads; nothing imports Textual.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.secrets import scrub

Policy = Literal["auto", "attach"]
EMBEDDED, ATTACHED, NO_ENGINE = "embedded", "attached", "none"


@dataclass(frozen=True)
class EngineMode:
    """This console's relation to the engine, in words for the status screen."""

    kind: str  # embedded | attached | none
    pid: int | None = None
    reason: str = ""  # why there is no engine (kind "none")

    def describe(self, *, show_pid: bool = True) -> str:
        pid = f" (pid {self.pid})" if show_pid and self.pid else ""
        if self.kind == EMBEDDED:
            return f"embedded: this console runs the engine{pid}"
        if self.kind == ATTACHED:
            return f"attached to daemon{pid}"
        return f"no engine: {self.reason}" if self.reason else "no engine"


class EngineLink:
    """Decides the mode once (`connect`), then serves the embedded engine until told to stop."""

    def __init__(self, state_dir: Path, config_path: Path, *, policy: Policy = "auto"):
        self.state_dir = Path(state_dir)
        self.config_path = Path(config_path)
        self.policy = policy
        self.stop_event = threading.Event()
        self.mode = EngineMode(NO_ENGINE, reason="starting")
        self._engine = None

    def connect(self) -> EngineMode:
        """Run the engine here when the lock is free and the config is sound; else attach."""
        from core.config import ConfigError
        from core.engine import Engine

        if self.policy == "attach":
            # Attached only to an engine that beats; the status says which one.
            self.mode = EngineMode(NO_ENGINE, reason="this console only attaches, and no engine beats")
            return self.mode
        if not self.config_path.exists():
            self.mode = EngineMode(NO_ENGINE, reason="there is no config file yet; open Setup (ctrl+p, Open setup)")
            return self.mode
        engine = Engine(self.state_dir, self.config_path, mode="embedded")
        try:
            engine.load_config()
        except ConfigError as error:
            count = len(error.problems)
            first = error.problems[0] if error.problems else None
            detail = f": {first.key} {first.message}" if first else ""
            self.mode = EngineMode(NO_ENGINE, reason=scrub(
                f"the config has {count} problem{'s' if count != 1 else ''}{detail} (pvsync config check lists all)"))
            return self.mode
        if engine.acquire():
            self._engine = engine
            self.mode = EngineMode(EMBEDDED, os.getpid())
        else:
            self.mode = EngineMode(ATTACHED, engine.busy.pid if engine.busy else None)
        return self.mode

    @property
    def embedded(self) -> bool:
        return self._engine is not None

    def serve(self) -> None:
        """The embedded engine's scheduler loop; returns once `stop()` was called."""
        if self._engine is None:
            return
        try:
            self._engine.serve(self.stop_event)
        finally:
            self._engine.close()
            self._engine = None
            self.mode = EngineMode(NO_ENGINE, reason="the console's engine has stopped")

    def stop(self) -> None:
        """Let the embedded engine finish its current action and give up the lock."""
        self.stop_event.set()
