"""Where a credential comes from: the environment, a file of its own, or the config file.

Each secret (say `eboekhouden.security_code_1`) can be given three ways, checked in
this order:

1. the environment variable `PVSYNC_EBOEKHOUDEN_SECURITY_CODE_1` (wins over the file,
   so a deployment can override a value without editing the config);
2. `security_code_1_file = "/run/credentials/pvsync.service/eb_code_1"`: the file is
   read and stripped. This is how systemd's LoadCredential= hands secrets over;
   `${CREDENTIALS_DIRECTORY}` at the start of the path is expanded;
3. `security_code_1 = "..."` in the config file itself.

Writing both 2 and 3 in the file is refused as ambiguous. A secret file is refused when
others can read it or its group can write it; a group *read* bit is accepted because
systemd hands credentials out as 0400 or 0440 in a folder only the service can enter.
The config file, edited by people and copied around, is held to ssh's rule: as soon as
it holds a secret, no group or other permission bit may be set.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from core.config.problems import Invalid
from core.config.values import kind_of
from core.secrets import Secret

MAX_SECRET_FILE_BYTES = 64 * 1024
CREDENTIALS_DIRECTORY = "CREDENTIALS_DIRECTORY"
# Bits that make a secret file unsafe: anything for others, or write for the group.
_UNSAFE_SECRET_FILE_BITS = stat.S_IRWXO | stat.S_IWGRP

GUID = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")
HEX_32 = re.compile(r"^[0-9a-fA-F]{32}$")


@dataclass(frozen=True)
class SecretFormat:
    """What a valid value looks like, described without showing one."""

    pattern: re.Pattern[str] | None
    description: str
    # False for a value that is also an ordinary word (a username): see core.secrets.Secret.
    masked_in_text: bool = True

    def secret(self, value: str) -> Secret:
        return Secret(value, masked_in_text=self.masked_in_text)


ANY_TEXT = SecretFormat(None, "text")
USERNAME = SecretFormat(None, "text", masked_in_text=False)
GUID_FORMAT = SecretFormat(GUID, "a GUID (8-4-4-4-12 hexadecimal characters, "
                                 "e.g. 1b4e28ba-2fa1-11d2-883f-0016d3cca427)")
HEX_32_FORMAT = SecretFormat(HEX_32, "32 hexadecimal characters (0-9, a-f)")


def env_name(path: tuple[str, ...]) -> str:
    return "PVSYNC_" + "_".join(path).upper()


def file_key(name: str) -> str:
    return f"{name}_file"


ENVIRONMENT = "environment"


@dataclass(frozen=True)
class Found:
    secret: Secret
    source: str  # in words, for `pvsync check`: where the value came from
    file: str | None  # the file to blame when the value is malformed; None: the config file


class SecretProblem(Invalid):
    """A secret could not be read; `file` is the file to blame when it is not the config."""

    def __init__(self, message: str, fix: str, file: str | None = None):
        super().__init__(message, fix)
        self.file = file


def how_to_give(path: tuple[str, ...]) -> str:
    name = path[-1]
    return (f"set the environment variable {env_name(path)}, or point {file_key(name)} at a file that holds it "
            f"(for example a systemd credential), or write {name} in this file and make it private with chmod 600")


def find_secret(path: tuple[str, ...], raw: Mapping[str, object], env: Mapping[str, str], config_file: Path,
                fmt: SecretFormat) -> Found | None:
    """The secret at `path` ((section..., key)) from its first source, checked against `fmt`.

    None when no source gives it; raises SecretProblem for a source that is broken.
    """
    name = path[-1]
    inline, pointer = raw.get(name, ""), raw.get(file_key(name), "")
    for key, value in ((name, inline), (file_key(name), pointer)):
        if not isinstance(value, str):
            raise SecretProblem(f"{key} is {kind_of(value)}, expected text in quotes",
                                f'write it in quotes: {key} = "..."')
    if inline.strip() and pointer.strip():
        raise SecretProblem(f"is given twice, as {name} and as {file_key(name)}",
                            f"keep one of them (an environment variable {env_name(path)} would win over both)")
    variable = env_name(path)
    if env.get(variable, "").strip():
        found = Found(fmt.secret(env[variable].strip()), f"environment variable {variable}", ENVIRONMENT)
        _check_format(found, fmt, f"the environment variable {variable}", f"correct {variable}")
    elif pointer.strip():
        secret_path = _expand(pointer.strip(), env, config_file.parent)
        found = Found(fmt.secret(_read_secret_file(secret_path)), f"file {secret_path}", str(secret_path))
        _check_format(found, fmt, f"the file {secret_path}", f"correct the contents of {secret_path}")
    elif inline.strip():
        found = Found(fmt.secret(inline.strip()), f"config file {config_file}", None)
        _check_format(found, fmt, "the value in the config file", f"correct {name} in the config file")
    else:
        return None
    return found


def _check_format(found: Found, fmt: SecretFormat, origin: str, fix: str) -> None:
    if fmt.pattern is not None and not fmt.pattern.match(found.secret.reveal()):
        # Never say what was found: not even part of it.
        raise SecretProblem(f"{origin} is not in the expected form: {fmt.description}",
                            f"{fix}; copy it again from the service's settings page", found.file)


def _expand(pointer: str, env: Mapping[str, str], config_dir: Path) -> Path:
    for prefix in ("${" + CREDENTIALS_DIRECTORY + "}", "$" + CREDENTIALS_DIRECTORY):
        if pointer.startswith(prefix):
            if not env.get(CREDENTIALS_DIRECTORY):
                raise SecretProblem(f"refers to ${CREDENTIALS_DIRECTORY}, which is not set",
                                    "start pvsync from its systemd unit with LoadCredential=, or give a full path")
            pointer = env[CREDENTIALS_DIRECTORY] + pointer[len(prefix):]
            break
    path = Path(pointer).expanduser()
    return path if path.is_absolute() else config_dir / path


def _read_secret_file(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise SecretProblem(f"the file {path} does not exist", "create it, or correct the path") from None
    except OSError as error:
        raise SecretProblem(f"the file {path} cannot be opened ({error.strerror})",
                            "make it readable by the user pvsync runs as") from None
    try:
        # Check the descriptor we read from, not the name, so the file cannot be swapped in between.
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SecretProblem(f"{path} is not a regular file", "point it at the file that holds the secret",
                                str(path))
        if info.st_mode & _UNSAFE_SECRET_FILE_BITS:
            raise SecretProblem(f"the permissions {stat.S_IMODE(info.st_mode):04o} of {path} are too open: "
                                "others can read it or its group can change it",
                                f"chmod 600 {path}", str(path))
        content = os.read(fd, MAX_SECRET_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(content) > MAX_SECRET_FILE_BYTES:
        raise SecretProblem(f"the file {path} is larger than a secret can be", "point it at the right file", str(path))
    try:
        value = content.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SecretProblem(f"the file {path} is not UTF-8 text", "write the secret as plain text", str(path)) from None
    if not value:
        raise SecretProblem(f"the file {path} is empty", "write the secret into it", str(path))
    return value


def group_or_others_can_read(path: Path) -> int | None:
    """The file's mode when any group/other bit is set (ssh's rule for private keys), else None."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    return mode if mode & (stat.S_IRWXG | stat.S_IRWXO) else None
