"""A daemon, three consoles and CLI commands on one state folder, for a while.

    uv run python -m tests.soak.concurrency --minutes 10

Both simulators serve the demo organisation on loopback sockets in this process. The
daemon (`pvsync daemon`) and three consoles run in processes of their own; each console
is the real Textual app, headless, attached to the daemon, pressing its sync key at
random and editing the VAT mapping the way the VAT screen does (the config written with
`set_vat_rule`, then a reload request). Meanwhile this process runs CLI commands:
`pvsync sync` (refused with exit 75 while the daemon holds the folder), `status`,
`invoices list`, `invoices retry`, `log`. At the end it waits for the daemon to answer
every request, stops it, and prints one JSON object:

    requests_made / requests_served   console requests written / answered (each exactly once)
    runs, overlapping_runs            runs the daemon made; pairs of runs that overlapped in time
    database_locked                   "database is locked" seen in any output or the logbook
    soap_calls                        calls the simulators answered
    ok                                every figure as it must be

The default suite runs a short version (tests/reliability/test_concurrency.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PVSYNC = [sys.executable, "-c", "import sys; from core.cli import main; sys.exit(main(sys.argv[1:]))"]
LOCKED = "database is locked"
VAT_CHOICES = [("BU_EU_VERK", "8040"), ("BI_EU_VERK", "8030"), ("VERL_VERK", "8020")]


# --------------------------------------------------------------------------- one console (its own process)


async def console(config: Path, state: Path, seconds: float, seed: int) -> dict[str, Any]:
    """The real console, headless and attached, used by a restless admin for `seconds`."""
    from textual.notifications import Notify

    from core.config import set_vat_rule
    from tui.app import create_app
    from tui.messages import SyncRequested

    rng = random.Random(seed)
    made: dict[str, list[int]] = {"sync": [], "reload_config": []}
    errors: list[str] = []

    def hook(message: Any) -> None:
        if isinstance(message, SyncRequested):
            made["sync"].append(message.request_id)
        elif isinstance(message, Notify) and message.notification.severity == "error":
            errors.append(str(message.notification.message))

    app = create_app(config, state, engine_mode="attach")
    deadline = time.monotonic() + seconds
    async with app.run_test(headless=True, size=(120, 40), message_hook=hook) as pilot:
        while time.monotonic() < deadline:
            await asyncio.sleep(rng.uniform(0.3, 1.5))
            if rng.random() < 0.2:
                code, ledger = rng.choice(VAT_CHOICES)
                try:
                    # What the VAT screen does on save: write the mapping, ask the engine to reload.
                    await asyncio.to_thread(set_vat_rule, config, "NL", "BTW 0%", code, ledger)
                    made["reload_config"].append(await asyncio.to_thread(app.store.add_request, "reload_config"))
                except Exception as error:  # counted, not fatal: the soak reports it
                    errors.append(f"VAT edit: {type(error).__name__}: {error}")
            else:
                await pilot.press(rng.choice("s1234"))
                await pilot.press("s")
        await pilot.pause()
    return {"made": made, "errors": errors}


# --------------------------------------------------------------------------- the soak


def _pvsync(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*PVSYNC, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return value


def _engine_up(state: Path) -> bool:
    from core.engine.health import assess
    from core.store import StateMissing, Store

    try:
        with Store.open(state, create=False) as store:
            return assess(store).engine_up
    except StateMissing:
        return False


def _overlaps(runs: list[Any]) -> int:
    spans = sorted((r.started_at, r.finished_at or r.started_at) for r in runs)
    return sum(1 for (_, end), (start, _) in zip(spans, spans[1:]) if start < end)


def soak(seconds: float, root: Path | None = None, seed: int = 1) -> dict[str, Any]:
    from core.demo.world import SimulatedWorld
    from core.store import Store
    from core.store.invoice_journal import InvoiceJournal
    from core.sync.invoice_states import InvoiceState

    root = Path(root or tempfile.mkdtemp(prefix="pvsync-soak-"))
    rng = random.Random(seed)
    world = SimulatedWorld(root, seed="demo", loopback=True, settings={"logbook.level": "DEBUG"})
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVSYNC_")} | {"PYTHONPATH": str(ROOT)}
    where = ["--config", str(world.config_path), "--state-dir", str(world.state_dir)]
    outputs: list[str] = []
    daemon_err = open(root / "daemon.stderr", "w+")
    daemon = subprocess.Popen([*PVSYNC, "daemon", *where], cwd=ROOT, env=env, stdout=daemon_err,
                              stderr=subprocess.STDOUT, text=True)
    consoles: list[subprocess.Popen] = []
    cli_runs: dict[str, int] = {}
    try:
        _wait(lambda: _engine_up(world.state_dir), 60, "the daemon's heartbeat")
        consoles = [subprocess.Popen([sys.executable, "-m", "tests.soak.concurrency", "--console",
                                      str(world.config_path), str(world.state_dir), str(seconds), str(seed + n)],
                                     cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    for n in range(3)]
        with Store.open(world.state_dir, create=False) as store:
            waiting = InvoiceJournal(store).entries(states=[InvoiceState.BLOCKED])
        retried = waiting[0].invoice_number if waiting else "F-NONE"  # the demo keeps one waiting (BTW 0%)
        deadline = time.monotonic() + seconds
        refused_syncs = 0
        while time.monotonic() < deadline:
            command = rng.choice([["sync"], ["status", "--json"], ["invoices", "list"],
                                  ["invoices", "retry", retried], ["log", "-n", "20"]])
            done = _pvsync([*command, *where], env)
            cli_runs[command[0]] = cli_runs.get(command[0], 0) + 1
            outputs += [done.stdout, done.stderr]
            if command == ["sync"]:
                assert done.returncode == 75, f"pvsync sync ran beside the daemon: {done.returncode} {done.stderr}"
                refused_syncs += 1
            time.sleep(rng.uniform(0.2, 1.0))
        reports = []
        for process in consoles:
            out, err = process.communicate(timeout=120)
            outputs += [out, err]
            lines = [line for line in out.splitlines() if line.startswith("{")]
            reports.append(json.loads(lines[-1]) if lines else {"made": {}, "errors": [f"console died: {err[-500:]}"]})
        made = sorted({i for r in reports for ids in r["made"].values() for i in ids})
        with Store.open(world.state_dir, create=False) as store:
            def all_answered() -> bool:
                return all(store.request(i).state == "done" for i in made)
            _wait(all_answered, 120, "the daemon to answer every request")
    finally:
        for process in consoles:
            if process.poll() is None:
                process.kill()
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=120)
        except subprocess.TimeoutExpired:
            daemon.kill()
        daemon_err.seek(0)
        outputs.append(daemon_err.read())
        daemon_err.close()
        calls = sum(world.eboekhouden.calls.values()) + sum(world.perfectview.calls.values())
        world.close()

    with Store.open(world.state_dir, create=False) as store:
        runs = store.runs(limit=100_000)
        requests = [store.request(i) for i in made]
        rows = store.conn.execute("SELECT id, claimed_by, state FROM requests").fetchall()
        logbook = [e.message for e in store.logbook_page(limit=100_000)]
    served = [r for r in requests if r.state == "done" and r.outcome]
    locked = sum(text.count(LOCKED) for text in outputs + logbook)
    result = {
        "seconds": seconds, "requests_made": len(made), "requests_served": len(served),
        "requests_in_table": len(rows), "requests_unanswered": sum(1 for r in rows if r[2] != "done"),
        "runs": len(runs), "overlapping_runs": _overlaps(runs), "database_locked": locked,
        "console_errors": [e for r in reports for e in r["errors"]], "cli_commands": cli_runs,
        "cli_sync_refused_busy": refused_syncs, "soap_calls": calls, "daemon_exit": daemon.returncode,
        "state": str(root),
    }
    result["ok"] = (result["requests_made"] == result["requests_served"] and not result["requests_unanswered"]
                    and result["overlapping_runs"] == 0 and locked == 0 and not result["console_errors"]
                    and result["runs"] > 0 and daemon.returncode == 0)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak.concurrency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--console", nargs=4, metavar=("CONFIG", "STATE", "SECONDS", "SEED"),
                        help=argparse.SUPPRESS)  # one console process of the soak
    args = parser.parse_args(argv)
    if args.console:
        config, state, seconds, seed = args.console
        print(json.dumps(asyncio.run(console(Path(config), Path(state), float(seconds), int(seed)))))
        return 0
    result = soak(args.minutes * 60, seed=args.seed)
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
