"""A stand-in for core.config with its agreed API, for the engine and CLI tests.

The engine and the CLI only need the agreed surface (load_config, config_hash,
ConfigError with ConfigProblem(file, key, line, message, fix), a handful of settings),
so their tests do not follow every change of the config's file format and rules.
The fake reads a small TOML file of its own and takes secrets from the environment as
Secrets. `install()` puts it in place of core.config for this process (subprocesses:
`python -m tests.engine.fake_pvsync`). The canary-secret test uses the real core.config.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import ModuleType

from core.secrets import Secret

SECRET_ENV = {
    "eboekhouden.username": "PVSYNC_EB_USERNAME",
    "eboekhouden.security_code1": "PVSYNC_EB_SECURITY_CODE1",
    "eboekhouden.security_code2": "PVSYNC_EB_SECURITY_CODE2",
    "perfectview.api_key": "PVSYNC_PV_API_KEY",
    "perfectview.database_id": "PVSYNC_PV_DATABASE_ID",
    "perfectview.user_id": "PVSYNC_PV_USER_ID",
}

DEFAULT_TOML = """\
[schedule]
relations_minutes = 240
invoices_minutes = 240
payments_minutes = 1440

[relations]
import_from_eboekhouden = true
export_to_eboekhouden = true

[invoices]
enabled = true

[payments]
enabled = true

[logbook]
retention_days = 90
level = "INFO"

[engine]
run_deadline_seconds = 3600

[eboekhouden]
url = "http://127.0.0.1:9/soap.asmx"

[perfectview]
url = "http://127.0.0.1:9/perfectview.asmx"
"""


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    key: str
    line: int | None
    message: str
    fix: str


class ConfigError(Exception):
    def __init__(self, problems: list[ConfigProblem]):
        self.problems = problems
        super().__init__("\n".join(f"{p.file}:{p.line} {p.key}: {p.message} ({p.fix})" for p in problems))


@dataclass(frozen=True)
class Schedule:
    relations: timedelta
    invoices: timedelta
    payments: timedelta


@dataclass(frozen=True)
class Relations:
    import_from_eboekhouden: bool
    export_to_eboekhouden: bool


@dataclass(frozen=True)
class Toggle:
    enabled: bool


@dataclass(frozen=True)
class Logbook:
    retention_days: int
    level: str


@dataclass(frozen=True)
class EngineSettings:
    run_deadline: timedelta
    concurrency: int = 4


@dataclass(frozen=True)
class Service:
    url: str
    secrets: dict[str, Secret] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    schedule: Schedule
    relations: Relations
    invoices: Toggle
    payments: Toggle
    logbook: Logbook
    engine: EngineSettings
    eboekhouden: Service
    perfectview: Service


def _line_of(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.split("=")[0].strip() == key:
            return number
    return None


def load_config(path, *, env=os.environ) -> Config:
    path = Path(path)
    text = path.read_text()
    data = tomllib.loads(text)
    problems = []
    schedule = {}
    for job in ("relations", "invoices", "payments"):
        minutes = data["schedule"][f"{job}_minutes"]
        if minutes <= 0:
            problems.append(ConfigProblem(str(path), f"schedule.{job}_minutes", _line_of(text, f"{job}_minutes"),
                                          "must be more than 0", "set a number of minutes, e.g. 240"))
        schedule[job] = timedelta(minutes=minutes)
    secrets = {}
    for key, variable in SECRET_ENV.items():
        section, name = key.split(".")
        value = env.get(variable, "")
        secrets.setdefault(section, {})[name] = Secret(value)
        if not value:
            problems.append(ConfigProblem(str(path), key, None, "is missing", f"set ${variable}"))
    if problems:
        raise ConfigError(problems)
    return Config(
        schedule=Schedule(**schedule),
        relations=Relations(**data["relations"]),
        invoices=Toggle(**data["invoices"]),
        payments=Toggle(**data["payments"]),
        logbook=Logbook(**data["logbook"]),
        engine=EngineSettings(timedelta(seconds=data["engine"]["run_deadline_seconds"])),
        eboekhouden=Service(data["eboekhouden"]["url"], secrets["eboekhouden"]),
        perfectview=Service(data["perfectview"]["url"], secrets["perfectview"]),
    )


def config_hash(config: Config) -> str:
    return hashlib.sha256(repr((config.schedule, config.relations, config.invoices, config.payments,
                                config.logbook, config.engine)).encode()).hexdigest()[:16]


def write_config(path: Path, *, replace: dict[str, str] | None = None) -> Path:
    """The default file, with whole lines swapped (`{"level = \\"INFO\\"": "level = \\"DEBUG\\""}`)."""
    text = DEFAULT_TOML
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text)
    return path


def install() -> ModuleType:
    module = sys.modules[__name__]
    sys.modules["core.config"] = module
    return module


TEST_SECRETS = {variable: f"test-secret-{index}-value" for index, variable in enumerate(SECRET_ENV.values())}
