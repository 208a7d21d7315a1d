"""Fixtures shared by the engine and CLI tests (imported by both conftests)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from core.engine import jobs
from tests.engine import fake_config, stand_in_jobs

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def config_module(monkeypatch):
    """core.config as the fake, whether or not the real one exists yet."""
    monkeypatch.setitem(sys.modules, "core.config", fake_config)
    for variable, value in fake_config.TEST_SECRETS.items():
        monkeypatch.setenv(variable, value)
    return fake_config


@pytest.fixture(autouse=True)
def sync_job_stand_ins(monkeypatch):
    """The registry holds stand-ins for the three jobs (see stand_in_jobs.py)."""
    for name, job in stand_in_jobs.stand_ins().items():
        monkeypatch.setitem(jobs._REGISTRY, name, job)


@pytest.fixture
def config_file(tmp_path) -> Path:
    return fake_config.write_config(tmp_path / "config.toml")


@pytest.fixture
def state_dir(tmp_path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def pvsync_env(config_file, state_dir) -> dict[str, str]:
    """Environment for a `pvsync` subprocess: this test's config and state folder."""
    return {**os.environ, **fake_config.TEST_SECRETS, "PVSYNC_CONFIG": str(config_file),
            "PVSYNC_STATE_DIR": str(state_dir), "PYTHONPATH": str(ROOT)}


def start_pvsync(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.engine.fake_pvsync", *args], cwd=ROOT, env=env,
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
