"""core/ runs without a screen: importing every module under it loads neither Textual
nor Rich. Checked in a fresh interpreter, so nothing the test runner loaded counts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import importlib, json, pkgutil, sys, traceback
import core
failures = {}
names = ["core"]
for module in pkgutil.walk_packages(core.__path__, "core."):
    names.append(module.name)
for name in names:
    try:
        importlib.import_module(name)
    except Exception:
        failures[name] = traceback.format_exc(limit=1)
screens = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "rich"))
print(json.dumps({"imported": names, "failures": failures, "screens": screens}))
"""


def test_no_core_module_imports_textual_or_rich():
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert {"core.cli", "core.engine.engine", "core.store.store"} <= set(report["imported"])
    assert report["failures"] == {}
    assert report["screens"] == []
