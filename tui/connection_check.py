""""Test the connection" on the setup screen: the form's values, checked by the real config loader,
then one call to the service; and "Check the databases": `pvsync check`'s register against
the saved config. Both run in a worker thread.

The form is written to a private temporary config and read back with an empty
environment, so the loader judges exactly what was typed (formats of GUIDs and codes)
and the environment of the console cannot stand in for a missing value.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from core.secrets import scrub

SERVICES = {"eboekhouden": "e-Boekhouden", "perfectview": "PerfectView"}


def check_connection(section: str, values: Mapping[str, object]) -> tuple[bool, str]:
    """(ok, what happened in words) for the service of config section `section`."""
    from core.config import ConfigError, write_new_config
    from core.config.load import check_text, read_config_text
    from core.engine import services

    name = SERVICES[section]
    with tempfile.TemporaryDirectory(prefix="pvsync-setup-") as folder:
        path = Path(folder) / "config.toml"
        try:
            write_new_config(path, values)
        except ConfigError as error:
            return False, "; ".join(f"{p.key}: {p.message}" for p in error.problems)
        config, problems = check_text(read_config_text(path), path, env={}, with_secrets=True)
    mine = [p for p in problems if p.key.startswith(section + ".")]
    if mine or config is None:
        return False, "; ".join(f"{p.key.split('.', 1)[-1]}: {p.message}" for p in mine or problems)
    if section == "eboekhouden":
        # Which API was tested, also when it failed: a refusal reads differently on each.
        name = f"{name} ({config.eboekhouden.api.upper()} API)"
    check = services.check_eboekhouden if section == "eboekhouden" else services.check_perfectview
    result = check(config)
    return result.ok, scrub(f"{name}: {result.message}")


def check_databases(config_path: Path) -> tuple[str, list]:
    """("", the register's findings) for the saved config, or (why it could not run, [])."""
    from core.assumptions import check_assumptions
    from core.config import ConfigError, load_config
    from core.engine.services import RunServices, check_services

    try:
        config = load_config(config_path)
    except ConfigError as error:
        return "the config is not complete yet: " + "; ".join(f"{p.key}: {p.message}" for p in error.problems), []
    failed = [check for check in check_services(config) if not check.ok]
    if failed:
        return scrub("; ".join(f"{check.service}: {check.message}" for check in failed)), []
    services = RunServices(config, None)
    try:
        return "", check_assumptions(config, services.perfectview, services.eboekhouden)
    finally:
        services.close()
