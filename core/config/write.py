"""Writing the config file back without losing what the person wrote in it.

Reading uses tomllib; writing re-reads the file through tomlkit and changes only the
keys whose value differs, so comments, order and quoting elsewhere survive. The
result is checked like a loaded config (secrets aside) before anything touches the
disk, and lands atomically: a private temp file in the same folder, fsync, rename over
the old one, fsync the folder. A crash leaves either the old file or the new one.
"""

from __future__ import annotations

import os
import secrets as random_names
from collections.abc import Mapping, MutableMapping, Sequence
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import InlineTable

from core.config import values as v
from core.config.load import check_text, read_config_text
from core.config.problems import ConfigError, ConfigProblem, Invalid
from core.secrets import Secret

SAMPLE_RESOURCE = "sample_config.toml"


def sample_config_text() -> str:
    """The sample config shipped with pvsync: every option, commented, with its safe default."""
    return resources.files("core.config").joinpath(SAMPLE_RESOURCE).read_text(encoding="utf-8")


def update_config(path: Path, changes: Mapping[str, object]) -> None:
    """Set dotted keys ("schedule.invoices": "30m") in the config file; None removes a key.

    Keys whose value is already right are left alone; raises ConfigError (and writes
    nothing) when the result would not load.
    """
    path = Path(path)
    _edit(path, {tuple(key.split(".")): value for key, value in changes.items()})


def update_config_paths(path: Path, changes: Mapping[tuple[str, ...], object]) -> None:
    """update_config with each key as a path of TOML keys, for keys that hold dots
    ([perfectview.fields] "organisation.debtor_number", a VAT code "BTW 0.0%")."""
    _edit(Path(path), changes)


def set_vat_rule(path: Path, country: str, perfectview_vat: str, btw_code: str, ledger: str) -> None:
    """Map one PerfectView VAT code (by its description) for `country`, as the console's VAT editor saves it."""
    path = Path(path)
    rule = tomlkit.inline_table()
    rule.update({"btw_code": btw_code, "ledger": ledger})
    # A tuple path, not a dotted string: VAT code names may hold dots ("BTW 0.0%").
    _edit(path, {("vat", country, perfectview_vat): rule})


def write_new_config(path: Path, values: Mapping[str, object]) -> None:
    """A new config from the sample's text with `values` (dotted keys) filled in, readable by its owner only.

    Refuses to replace a file that exists: the setup screen must never overwrite a config.
    """
    path = Path(path)
    if path.exists():
        raise _already_there(path)
    document = tomlkit.parse(sample_config_text())
    _apply(document, {tuple(key.split(".")): value for key, value in values.items()}, path)
    text = _checked(document, path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = _write_private_temp(path, text, mode=0o600)
    try:
        # link() fails when the name exists, so a file that appeared meanwhile is not replaced.
        os.link(temp, path)
    except FileExistsError:
        raise _already_there(path) from None
    finally:
        os.unlink(temp)
    _sync_folder(path.parent)


def _already_there(path: Path) -> ConfigError:
    return ConfigError([ConfigProblem(str(path), "", None, "a config file already exists here",
                                      "edit it in the console or an editor, or choose another path")])


# ---------------------------------------------------------------------- editing


def _edit(path: Path, changes: Mapping[tuple[str, ...], object]) -> None:
    document = tomlkit.parse(read_config_text(path))
    if not _apply(document, changes, path):
        return
    text = _checked(document, path)
    # Replace the file a symlink points at, not the link; keep its mode and (when allowed) its owner,
    # so root editing the daemon's config does not lock the daemon out.
    target = path.resolve()
    info = os.stat(target)
    temp = _write_private_temp(target, text, mode=info.st_mode & 0o7777, owner=(info.st_uid, info.st_gid))
    try:
        os.replace(temp, target)
    except BaseException:
        os.unlink(temp)
        raise
    _sync_folder(target.parent)


def _apply(document: tomlkit.TOMLDocument, changes: Mapping[tuple[str, ...], object], path: Path) -> bool:
    """Make every change; True when the document changed. Refuses all of them if one cannot be made."""
    problems: list[ConfigProblem] = []
    changed = False
    for key, value in changes.items():
        try:
            changed = _set(document, key, value) or changed
        except Invalid as problem:
            problems.append(ConfigProblem(str(path), ".".join(key), None, problem.message, problem.fix))
    if problems:
        raise ConfigError(problems)
    return changed


def _set(document: tomlkit.TOMLDocument, key: Sequence[str], value: object) -> bool:
    """Set (or with None, remove) one key; True when the document changed."""
    *parents, name = key
    container: Any = document
    for depth, part in enumerate(parents):
        if part not in container:
            if value is None:
                return False
            container[part] = tomlkit.table()
        container = container[part]
        if not isinstance(container, MutableMapping):
            raise Invalid(f"{'.'.join(key[:depth + 1])} is a value, not a section", "choose a key inside a section")
    if value is None:
        if name not in container:
            return False
        del container[name]
        return True
    wanted = _toml_value(value)
    if name in container and _plain(container[name]) == _plain(wanted):
        return False
    container[name] = wanted
    return True


def _toml_value(value: object) -> object:
    if isinstance(value, Secret):
        return value.reveal()  # the one place a secret is meant to be written: the private config file
    if isinstance(value, timedelta):
        return v.format_duration(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (str, bool, int, float, InlineTable)):
        return value
    if isinstance(value, Mapping):
        table = tomlkit.inline_table()
        table.update({name: _toml_value(item) for name, item in value.items()})
        return table
    raise Invalid(f"a {type(value).__name__} cannot be written to the config file",
                  "pass text, a number, true/false, a duration or a table")


def _plain(value: object) -> object:
    return value.unwrap() if hasattr(value, "unwrap") else value


def _checked(document: tomlkit.TOMLDocument, path: Path) -> str:
    """The document's text, or ConfigError when it would not load (secrets are not checked here:
    the daemon's environment and credential files are not visible to the console)."""
    text = tomlkit.dumps(document)
    _, problems = check_text(text, path, env={}, with_secrets=False)
    if problems:
        raise ConfigError(problems)
    return text


# ---------------------------------------------------------------------- atomic files


def _write_private_temp(path: Path, text: str, *, mode: int, owner: tuple[int, int] | None = None) -> Path:
    """A fully written, fsynced temp file next to `path`, created private and then given `mode`."""
    temp = path.with_name(f".{path.name}.{random_names.token_hex(6)}.tmp")
    # O_EXCL: never write through a file or link someone else put there.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            if owner is not None and owner != (os.geteuid(), os.getegid()):
                try:
                    os.fchown(handle.fileno(), *owner)
                except PermissionError:
                    pass  # only root may give a file away; the file then belongs to whoever edited it
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(temp)
        raise
    return temp


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

