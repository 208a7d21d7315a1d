"""Fixtures shared by the engine and CLI tests (imported by both conftests).

The config is the real thing: a file written by `core.config.write_new_config` from the
shipped sample (private, 0600) and read by the real loader, with the credentials in the
real `PVSYNC_*` environment variables, as an admin gives them to a daemon. Only the
three sync jobs are stand-ins (see stand_in_jobs.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from core.config import write_new_config
from core.engine import jobs
from tests.config.conftest import VALID_SECRETS, sample_with
from tests.engine import stand_in_jobs

ROOT = Path(__file__).resolve().parents[2]
PVSYNC = Path(sys.executable).with_name("pvsync")  # the console script a user runs

# The sample's defaults, with the three jobs on and services nobody listens on (the stand-in
# jobs never call them; a test that does must say so).
TEST_SETTINGS = {"eboekhouden.api": "soap", "eboekhouden.url": "http://127.0.0.1:9/soap.asmx",
                 "perfectview.url": "http://127.0.0.1:9/V1/perfectview.asmx",
                 "payments.enabled": True, "engine.approve_first_run": False}


@pytest.fixture(autouse=True)
def secrets_in_environment(monkeypatch):
    """Valid credentials in the variables the real loader reads."""
    for variable, value in VALID_SECRETS.items():
        monkeypatch.setenv(variable, value)


@pytest.fixture(autouse=True)
def sync_job_stand_ins(monkeypatch):
    """The registry holds stand-ins for the three jobs (see stand_in_jobs.py)."""
    for name, job in stand_in_jobs.stand_ins().items():
        monkeypatch.setitem(jobs._REGISTRY, name, job)


@pytest.fixture(scope="session")
def config_text(tmp_path_factory) -> str:
    """The text write_new_config makes of TEST_SETTINGS, made once: each test gets its own copy."""
    path = tmp_path_factory.mktemp("config") / "config.toml"
    write_new_config(path, TEST_SETTINGS)
    return path.read_text(encoding="utf-8")


@pytest.fixture
def config_file(tmp_path, config_text) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(config_text, encoding="utf-8")
    path.chmod(0o600)
    return path


def write_raw_value(config_file: Path, dotted: str, value: str) -> int:
    """Replace the line of `dotted` with `key = value`, `value` as TOML text, as a person edits the file
    (update_config would refuse to write a value pvsync cannot use); returns that line's number."""
    text, line = sample_with(dotted, value, config_file.read_text(encoding="utf-8"))
    config_file.write_text(text, encoding="utf-8")
    return line


@pytest.fixture
def state_dir(tmp_path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def pvsync_env(config_file, state_dir) -> dict[str, str]:
    """Environment for a `pvsync` subprocess: this test's config, state folder and credentials."""
    return {**os.environ, **VALID_SECRETS, "PVSYNC_CONFIG": str(config_file),
            "PVSYNC_STATE_DIR": str(state_dir), "PYTHONPATH": str(ROOT)}


def start_pvsync(args: list[str], env: dict[str, str], *, stand_in_jobs: bool = False) -> subprocess.Popen:
    """`pvsync ARGS` as a process: the installed command, or with `stand_in_jobs` the same command
    with the stand-in jobs registered (`python -m tests.engine.stand_in_pvsync`)."""
    command = [sys.executable, "-m", "tests.engine.stand_in_pvsync"] if stand_in_jobs else [str(PVSYNC)]
    return subprocess.Popen([*command, *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition: Callable[[], object], timeout: float = 15.0, what: str = "condition"):
    """Poll until `condition()` is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
