"""Many administrations on one host: N idle daemons (default 20), each with its own config and
state folder as `contrib/pvsync@.service` gives them, against one simulated e-Boekhouden and one
simulated PerfectView served on loopback by `pvsync simulate` (empty organisations: every run is
a no-op). Every schedule is set to its minimum (1m), so within the window each daemon makes its
no-op runs. Measured per administration from /proc: resident memory (RSS, and its peak) and CPU
time, both for the start-up and for the idle window that follows, plus the runs each made.

    uv run python -m tests.perf.bench_many [--daemons 20] [--seconds 60]

Targets: an idle administration costs <= 150 MB resident and <= 2 % of one core.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core.config import write_new_config
from tests.perf.common import Target, arguments, progress, report

PVSYNC = Path(sys.executable).with_name("pvsync")
TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
TARGETS = [Target("per_administration.rss_mb.max", 150, "MB"),
           Target("per_administration.idle_cpu_percent_of_a_core.mean", 2.0, "%")]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mb(pid: int) -> tuple[float, float]:
    """(resident now, resident peak) in MB."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def simulator(service: str) -> tuple[subprocess.Popen, dict[str, str]]:
    process = subprocess.Popen([str(PVSYNC), "simulate", service, "--port", "0", "--seed", "empty"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return process, json.loads(process.stdout.readline())


def administration(folder: Path, eb: dict[str, str], pv: dict[str, str]) -> tuple[Path, Path]:
    config, state = folder / "config.toml", folder / "state"
    write_new_config(config, {
        "eboekhouden.url": eb["url"], "eboekhouden.username": eb["username"],
        "eboekhouden.security_code_1": eb["security_code_1"], "eboekhouden.security_code_2": eb["security_code_2"],
        "perfectview.url": pv["url"], "perfectview.api_key": pv["api_key"],
        "perfectview.database_id": pv["database_id"], "perfectview.user_id": pv["user_id"],
        "payments.enabled": True, "schedule.relations": "1m", "schedule.invoices": "1m", "schedule.payments": "1m"})
    return config, state


def runs_made(state: Path) -> tuple[int, list[str]]:
    with sqlite3.connect(state / "pvsync.db") as conn:
        outcomes = [row[0] for row in conn.execute("SELECT outcome FROM runs WHERE finished_at IS NOT NULL")]
    return len(outcomes), sorted(set(outcomes))


def wait_for_first_runs(states: list[Path], timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if all(runs_made(state)[0] >= 1 for state in states):
                return time.monotonic() - started
        except sqlite3.Error:
            pass
        time.sleep(0.5)
    raise SystemExit(f"not every daemon finished a first run within {timeout:.0f} s")


def summary(values: list[float]) -> dict[str, float]:
    return {"mean": round(statistics.fmean(values), 2), "max": round(max(values), 2), "min": round(min(values), 2)}


def main() -> None:
    def extra(parser):
        parser.add_argument("--daemons", type=int, default=20)
        parser.add_argument("--seconds", type=float, default=60.0, help="the idle window measured after start-up")

    args = arguments("N idle daemons on one host: memory and CPU per administration.", runs=1, extra=extra)
    simulators, daemons = [], []
    with tempfile.TemporaryDirectory(prefix="pvsync-bench-many-") as root:
        try:
            (eb_process, eb), (pv_process, pv) = simulator("eboekhouden"), simulator("perfectview")
            simulators = [eb_process, pv_process]
            env = {key: value for key, value in os.environ.items() if not key.startswith("PVSYNC_")}
            states = []
            progress(f"starting {args.daemons} daemons")
            began = time.monotonic()
            for n in range(args.daemons):
                config, state = administration(Path(root) / f"administration-{n:02d}", eb, pv)
                states.append(state)
                daemons.append(subprocess.Popen([str(PVSYNC), "daemon", "--config", str(config), "--state-dir",
                                                 str(state)], env=env, stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL))
            start_up_s = wait_for_first_runs(states, timeout=240) + 0.0
            progress(f"all first runs done after {time.monotonic() - began:.1f} s; idle window of {args.seconds:.0f} s")
            cpu_before = [cpu_seconds(d.pid) for d in daemons]
            window_start = time.monotonic()
            time.sleep(args.seconds)
            window = time.monotonic() - window_start
            cpu_after = [cpu_seconds(d.pid) for d in daemons]
            memory = [rss_mb(d.pid) for d in daemons]
            runs = [runs_made(state) for state in states]
            sim_memory = [rss_mb(p.pid)[0] for p in simulators]
            alive = sum(d.poll() is None for d in daemons)
        finally:
            for process in [*daemons, *simulators]:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in [*daemons, *simulators]:
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
    idle_cpu = [(after - before) / window * 100 for before, after in zip(cpu_before, cpu_after)]
    figures = {
        "per_administration": {
            "rss_mb": summary([now for now, _ in memory]),
            "peak_rss_mb": summary([peak for _, peak in memory]),
            "start_up_cpu_s": summary(cpu_before),
            "idle_cpu_percent_of_a_core": summary(idle_cpu),
            "runs_in_window_and_start_up": summary([float(count) for count, _ in runs]),
        },
        "all_administrations": {"rss_mb": round(sum(now for now, _ in memory), 1),
                                "idle_cpu_percent_of_a_core": round(sum(idle_cpu), 2)},
        "simulators_rss_mb": round(sum(sim_memory), 1),
        "start_up_s": round(start_up_s, 1),
        "idle_window_s": round(window, 1),
    }
    outcomes = sorted({outcome for _, seen in runs for outcome in seen})
    report("many_administrations", [figures], TARGETS,
           context={"daemons": args.daemons, "alive_at_end": alive, "run_outcomes": outcomes,
                    "schedules": "1m each (relations, invoices, payments)", "organisations": "empty (no-op runs)"},
           notes=["CPU and memory from /proc/<pid>/stat and /proc/<pid>/status of each daemon process",
                  "start-up includes importing pvsync and the first run; the idle window follows it"])


if __name__ == "__main__":
    main()
