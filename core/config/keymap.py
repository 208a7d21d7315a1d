"""The console's keymap as the config file gives it, read without any secret.

Apart from `console_keys` (the bindings themselves, which the loader checks) so that
the loader and the bindings do not import each other.
"""

from __future__ import annotations

from typing import Any

from core.config.load import check_text, read_config_text
from core.config.problems import ConfigError


def read_keymap(config_path: Any) -> tuple[dict[str, str], list[str]]:
    """The config's keymap as Textual's `App.set_keymap` takes it ({id: "f5,ctrl+r"}), and the
    problems of `[console.keys]` in words. An entry with a problem is left out, so the console
    still starts with its own key for it; no secrets are needed or read."""
    try:
        text = read_config_text(config_path)
    except ConfigError:
        return {}, []  # no config yet: Setup says so
    config, problems = check_text(text, config_path, env={}, with_secrets=False)
    mine = [problem for problem in problems if problem.key.startswith("console.")]
    if config is None:
        return {}, []
    wrong = {problem.key.removeprefix("console.keys.") for problem in mine}
    keymap = {binding_id: ",".join(keys) for binding_id, keys in config.console.keys.items() if binding_id not in wrong}
    return keymap, [str(problem) for problem in mine]
