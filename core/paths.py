"""Where config and state live: explicit option, then environment, then platformdirs."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "pvsync"
CONFIG_ENV = "PVSYNC_CONFIG"
STATE_DIR_ENV = "PVSYNC_STATE_DIR"


def config_path(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def state_dir(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(STATE_DIR_ENV):
        return Path(os.environ[STATE_DIR_ENV]).expanduser()
    return Path(platformdirs.user_state_dir(APP_NAME))


def ensure_private_dir(path: Path) -> Path:
    """Create a folder readable by its owner only (it holds the state database)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def database_file(state: Path) -> Path:
    return state / "pvsync.db"


def lock_file(state: Path) -> Path:
    # A separate file: locking the database file itself would break SQLite's own locks.
    return state / "engine.lock"


def alerts_lock_file(state: Path) -> Path:
    # Held while one process checks and sends the alerts (the daemon, or `pvsync status` from cron).
    return state / "alerts.lock"
