"""The config as the console reads it.

Settings without secrets can always be read (pending invoices need the VAT mapping and
whether the payments job is on). The secrets may live only where the daemon runs (its
environment, `*_file` keys only its user can read), so an action that calls the services
says so in words and names the CLI command to run there instead, rather than failing on
a missing key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import ConfigError, ConfigProblem
from core.config.load import check_text, read_config_text


@dataclass(frozen=True)
class Settings:
    """The config without its secrets, or why it cannot be read."""

    config: Any | None
    problem: str = ""


class CredentialsNotHere(Exception):
    """The config is sound, but this console cannot read its secrets."""

    def __init__(self, problems: list[ConfigProblem]):
        self.keys = sorted({problem.key for problem in problems})
        super().__init__(f"this console cannot read {', '.join(self.keys)} (not in its environment, in a file "
                         "it may read, or in the config)")


def read_settings(path: Path) -> Settings:
    try:
        text = read_config_text(path)
    except ConfigError as error:
        return Settings(None, error.problems[0].message if error.problems else str(error))
    config, problems = check_text(text, path, env={}, with_secrets=False)
    return Settings(config, str(problems[0]) if problems else "")


def load_with_secrets(path: Path) -> Any:
    """The config with its secrets; raises ConfigError for a config that has problems of its
    own, CredentialsNotHere when only the secrets are out of this console's reach."""
    text = read_config_text(path)
    config, problems = check_text(text, path, env=os.environ, with_secrets=True)
    if not problems:
        return config
    _, plain = check_text(text, path, env={}, with_secrets=False)
    if plain:
        raise ConfigError(plain)
    raise CredentialsNotHere(problems)
