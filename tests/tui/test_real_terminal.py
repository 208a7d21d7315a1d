"""The README's first command in a real terminal: `pvsync demo` under tmux.

Starts the demo, sees the status screen after the first run, sends a new invoice in the
demo's PerfectView (with a VAT code nobody mapped), presses `s`, and sees the forced run
complete and the pending list grow by that invoice. Skipped, with the reason printed,
where tmux cannot be had.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from core.config import load_config
from core.engine.services import perfectview_client

ROOT = Path(__file__).resolve().parents[2]
SESSION = "pvsync-demo-test"
# A tmux server of this test's own: another test run (or a person's tmux) on the machine
# never shares, kills or types into this session.
TMUX = ("tmux", "-L", f"pvsync-test-{os.getpid()}")

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="tmux is not installed here; the real-terminal test needs it")


def tmux(*args: str) -> str:
    return subprocess.run([*TMUX, *args], check=True, capture_output=True, text=True).stdout


def screen() -> str:
    return tmux("capture-pane", "-t", SESSION, "-p")


def wait_for(predicate, what: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = screen()
        if predicate(text):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; the screen shows:\n{text}")
        time.sleep(0.2)


def pending_count(text: str) -> int | None:
    """How many wait for a person, as the pending screen's summary says (None: not on screen)."""
    # "(at the top)": a run's notice says "1 waits for you" too, on any screen.
    match = re.search(r"(\d+) waits? for you \(at the top\)|(Nothing) waits for you", text)
    return (0 if match.group(2) else int(match.group(1))) if match else None


@pytest.fixture
def demo():
    subprocess.run([*TMUX, "kill-session", "-t", SESSION], capture_output=True)
    command = f"{sys.executable} -c 'from core.cli import main; main([\"demo\"])'"
    tmux("new-session", "-d", "-s", SESSION, "-x", "120", "-y", "40", "-c", str(ROOT), command)
    try:
        yield
    finally:
        subprocess.run([*TMUX, "send-keys", "-t", SESSION, "q"], capture_output=True)
        time.sleep(1)
        subprocess.run([*TMUX, "kill-server"], capture_output=True)


def test_demo_status_sync_now_and_the_pending_list(demo):
    text = wait_for(lambda t: "embedded: this console runs the engine" in t and re.search(r"invoices\s.*OK", t),
                    "the status screen after the first run")
    config_path = Path(re.search(r"Config\s+(\S+config\.toml)", text).group(1))

    tmux("send-keys", "-t", SESSION, "4")
    before = wait_for(lambda t: pending_count(t) is not None, "the pending list")
    assert "F2026-TMUX1" not in before

    # Someone sends an invoice in the demo's PerfectView with a VAT code that is not mapped.
    pv = perfectview_client(load_config(config_path))
    customer = next(r.id for r in pv.relations() if r.debtor_number)
    invoice = pv.create_invoice(customer, "F2026-TMUX1", date.today(), date.today() + timedelta(days=14))
    pv.add_product_line(invoice, "Levering zonder btw", Decimal(1), Decimal("75.00"), "BTW 0%")
    pv.move_to_step(invoice, "Verstuurd")
    pv.close()

    tmux("send-keys", "-t", SESSION, "1")
    wait_for(lambda t: "Run     none in progress" in t, "the status screen")
    tmux("send-keys", "-t", SESSION, "s")
    # "2026-03-09 14:29 (run 2)" where the terminal is wide, "run 2" at 80 columns
    wait_for(lambda t: re.search(r"invoices\s+(\S+ \S+ \()?run [2-9]\)?\s+OK", t) is not None,
             "the forced run to complete")

    tmux("send-keys", "-t", SESSION, "4")
    # The list holds more than a screenful (booked invoices wait for their payment too): filter.
    wait_for(lambda t: pending_count(t) is not None, "the pending list")
    tmux("send-keys", "-t", SESSION, "/")
    tmux("send-keys", "-t", SESSION, "-l", "F2026-TMUX1")
    tmux("send-keys", "-t", SESSION, "Enter")

    def blocked_row(text: str) -> bool:
        # With its reason: the run's notice may cover the reason column for a few seconds.
        return any("F2026-TMUX1" in line and "BLOCKED" in line and "VAT code" in line for line in text.splitlines())

    def filtered_to_it(text: str) -> bool:
        # The filter applied (the row alone would show unfiltered too: what waits comes first).
        return blocked_row(text) and re.search(r'1 of \d+ shown matching "F2026-TMUX1"', text) is not None

    wait_for(filtered_to_it, "the new invoice, blocked for its VAT code, alone in the filtered pending list")
