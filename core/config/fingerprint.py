"""A short, stable fingerprint of the settings a run used (stored with each run).

Two runs with the same fingerprint ran with the same effective settings, whatever the
file's comments, key order or spelling of defaults. Secrets are left out entirely: not
even a hash of one is stored, and rotating a credential is not a settings change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from datetime import timedelta
from pathlib import Path

from core.config.settings import Config
from core.secrets import Secret

_SKIPPED = object()


def config_hash(config: Config) -> str:
    blob = json.dumps(_plain(config), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def _plain(value: object) -> object:
    if isinstance(value, Secret):
        return _SKIPPED
    if is_dataclass(value):
        pairs = ((f.name, _plain(getattr(value, f.name))) for f in fields(value) if f.compare)
        return {name: item for name, item in pairs if item is not _SKIPPED}
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Path):
        return str(value)
    return value
