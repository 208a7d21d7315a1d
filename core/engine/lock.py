"""One engine per state folder: an exclusive flock on `engine.lock` beside the database.

A separate file, because closing any descriptor of the database file would drop
SQLite's own POSIX locks. The kernel releases a flock when its holder dies, so a
crashed engine never leaves a stale lock; the holder's pid is written into the file
only so that a refused engine can say who holds it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from core import paths


class EngineBusy(Exception):
    """Another engine (daemon, console or `pvsync sync`) runs for this state folder."""

    def __init__(self, state_dir: Path, pid: int | None):
        self.state_dir = state_dir
        self.pid = pid
        holder = f"process {pid}" if pid else "another process"
        super().__init__(
            f"another pvsync engine ({holder}) is running for the state folder {state_dir}. "
            f"Ask it to sync (the console's sync key, or wait for its schedule), or stop it first "
            f"(systemctl stop pvsync, or close the console).")


class EngineLock:
    def __init__(self, state_dir: Path):
        self.state_dir = Path(state_dir)
        self.path = paths.lock_file(self.state_dir)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise EngineBusy naming the holder. Never waits."""
        if self._fd is not None:
            return
        paths.ensure_private_dir(self.state_dir)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise EngineBusy(self.state_dir, self.holder_pid()) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        # Empty the pid first: a reader must not name a process that no longer holds the lock.
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def holder_pid(self) -> int | None:
        try:
            text = self.path.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None
