"""What every benchmark shares: timing, medians and percentiles, peak memory, the worlds
they run on, the floor formula, and the one JSON object each prints.

This machine is shared and noisy, so a benchmark repeats its measurement (`--runs`),
reports the median of each figure, keeps every run's figures beside it, and states
ratios measured within one run rather than against numbers from another day.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import resource
import statistics
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from core.demo.world import SimulatedWorld
from core.soap.simulator import Knobs

# The demo maps every PerfectView VAT code but one ("BTW 0%", to show a blocked invoice).
# Benchmarks book every invoice, so they map that one too.
BENCH_SETTINGS = {"vat.NL.BTW 0%": {"btw_code": "BU_EU_VERK", "ledger": "8040"}}
LATENCY_MS = 20.0
APIS = ("soap", "rest")
# What `--api rest` needs in this tree: the REST adapter and the REST simulator (issue 15).
REST_MODULES = ("core.eboekhouden.rest.client", "core.eboekhouden.rest.simulator")


# --------------------------------------------------------------------------- timing


class Stopwatch:
    """`with Stopwatch() as watch: ...; watch.seconds` (perf_counter, wall time)."""

    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.started


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    with Stopwatch() as watch:
        result = action()
    return result, watch.seconds


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (share 0.95 = p95); no interpolation between samples."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def summary_ms(seconds: list[float]) -> dict[str, float]:
    """p50/p95/max in milliseconds of a list of durations in seconds."""
    return {"n": len(seconds), "p50_ms": round(percentile(seconds, 0.5) * 1000, 2),
            "p95_ms": round(percentile(seconds, 0.95) * 1000, 2), "max_ms": round(max(seconds, default=math.nan) * 1000, 2)}


# --------------------------------------------------------------------------- memory


def peak_rss_mb(*, children: bool = False) -> float:
    """Peak resident set size of this process (or of its waited-for children), in MB.
    Linux reports ru_maxrss in kilobytes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return round(usage.ru_maxrss / 1024, 1)


def growth_exponent(sizes: list[float], values: list[float]) -> float:
    """The k in value ~ size**k, by least squares on log-log: 1.0 is linear growth."""
    xs, ys = [math.log(s) for s in sizes], [math.log(v) for v in values]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)


# --------------------------------------------------------------------------- the floor


def floor_seconds(*, writes: int, reads: int, concurrency: int, latency_ms: float = LATENCY_MS) -> float:
    """The least time a job can take when each call costs `latency_ms`: reads one after the
    other (each page depends on the last), writes `concurrency` at a time."""
    return (math.ceil(writes / concurrency) + reads) * latency_ms / 1000


def rate_floor_seconds(api: str, eboekhouden_calls: int) -> float:
    """On REST the client spaces its e-Boekhouden calls by its own rate (no quicker than
    START_RATE a second, issue 15): those calls take at least calls / rate. 0 on SOAP."""
    if api != "rest":
        return 0.0
    from core.eboekhouden.rest.throttle import START_RATE

    return round(eboekhouden_calls / START_RATE, 3)


# --------------------------------------------------------------------------- worlds


def bench_world(root: Path, *, latency_ms: float = 0.0, loopback: bool = False,
                settings: dict[str, Any] | None = None, api: str = "soap") -> SimulatedWorld:
    """An empty simulated world (the generator fills it), with `latency_ms` on every call;
    pvsync talks to e-Boekhouden over `api` (check it first with `require_api`)."""
    chosen = {} if api == "soap" else {"eboekhouden_api": api}  # SOAP: the world as it was before REST
    return SimulatedWorld(root, seed="empty", loopback=loopback,
                          eboekhouden_knobs=Knobs(latency_ms=latency_ms, seed=1),
                          perfectview_knobs=Knobs(latency_ms=latency_ms, seed=2),
                          settings={**BENCH_SETTINGS, **(settings or {})}, **chosen)


def missing_for_api(api: str) -> list[str]:
    """What this tree lacks to benchmark pvsync on `api` (empty: it can run)."""
    if api == "soap":
        return []
    return [name for name in REST_MODULES if not _importable(name)]


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its package is missing too
        return False


def require_api(api: str) -> None:
    """Stop with a sentence, before any work, when the tree cannot run `api` yet."""
    missing = missing_for_api(api)
    if missing:
        raise SystemExit(f"--api {api}: this tree has no {' and no '.join(missing)} yet (issue 15: the REST "
                         f"client and simulator); run with --api soap, or after they are merged")


@contextmanager
def latency(world: SimulatedWorld, latency_ms: float) -> Iterator[None]:
    """Latency on both simulators for a while (none while the generator fills them)."""
    before = world.eboekhouden.knobs.latency_ms, world.perfectview.knobs.latency_ms
    world.eboekhouden.knobs.latency_ms = world.perfectview.knobs.latency_ms = latency_ms
    try:
        yield
    finally:
        world.eboekhouden.knobs.latency_ms, world.perfectview.knobs.latency_ms = before


def service_calls(world: SimulatedWorld) -> dict[str, dict[str, int]]:
    """Calls each simulator answered, per operation (a copy: subtract two to get a run's).
    e-Boekhouden's are both its APIs' (REST ones named "GET /v1/relation")."""
    rest = getattr(getattr(world, "eboekhouden_service", None), "rest", None)
    eboekhouden = {**dict(world.eboekhouden.calls), **(dict(rest.calls) if rest is not None else {})}
    return {"eboekhouden": eboekhouden, "perfectview": dict(world.perfectview.calls)}


def calls_between(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {side: {op: n - before[side].get(op, 0) for op, n in ops.items() if n - before[side].get(op, 0)}
            for side, ops in after.items()}


# --------------------------------------------------------------------------- running and reporting


@dataclass(frozen=True)
class Target:
    """A figure's limit; `at_least` for figures where more is better (a speed-up ratio)."""

    figure: str
    limit: float
    unit: str
    at_least: bool = False

    def verdict(self, value: float | None) -> dict[str, Any]:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return {"limit": self.limit, "unit": self.unit, "value": None, "pass": None}
        passed = value >= self.limit if self.at_least else value <= self.limit
        return {"limit": self.limit, "unit": self.unit, "value": value, "pass": passed,
                "rule": ">=" if self.at_least else "<="}


def arguments(description: str, *, runs: int = 3, extra: Callable[[argparse.ArgumentParser], None] | None = None
              ) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=int, default=runs, help=f"repetitions; figures are medians (default {runs})")
    parser.add_argument("--api", choices=APIS, default="soap", help="how pvsync talks to e-Boekhouden (default soap)")
    if extra:
        extra(parser)
    args = parser.parse_args()
    require_api(args.api)
    return args


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per figure, the median over the runs (numbers only; nested dicts recurse)."""
    result: dict[str, Any] = {}
    for key in runs[0]:
        values = [run.get(key) for run in runs]
        if all(isinstance(v, dict) for v in values):
            result[key] = medians(values)
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            result[key] = round(statistics.median(values), 4)
        else:
            result[key] = values[-1]
    return result


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "cpus": os.cpu_count(),
            "load_1m": round(os.getloadavg()[0], 2), "cpu_probe_s": cpu_probe(),
            "platform": platform.platform(terse=True)}


def cpu_probe() -> float:
    """Seconds one fixed pure-Python loop takes on this thread now, the quickest of five. On a
    shared VM the neighbours take CPU that the load average does not show: the same run of pvsync
    used 18 s of CPU in a quiet spell and 26 s in a busy one. This box took 0.082 s at its
    quickest; a probe well above that says the figures beside it were taken in a busy spell."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        sum(i * i for i in range(2_000_000))
        best = min(best, time.perf_counter() - started)
    return round(best, 3)


def report(benchmark: str, runs: list[dict[str, Any]], targets: list[Target], *,
           notes: list[str] | None = None, context: dict[str, Any] | None = None) -> dict[str, Any]:
    """Print the one JSON object of a benchmark on stdout (and return it)."""
    figures = medians(runs)
    checked = {t.figure: t.verdict(_lookup(figures, t.figure)) for t in targets}
    verdicts = [c["pass"] for c in checked.values()]
    document = {"benchmark": benchmark, "runs": len(runs), "figures": figures, "targets": checked,
                "passed": None if None in verdicts else all(verdicts), "per_run": runs,
                "context": context or {}, "notes": notes or [], "machine": machine()}
    json.dump(document, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    sys.stdout.flush()
    return document


def _lookup(figures: dict[str, Any], dotted: str) -> Any:
    value: Any = figures
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def progress(text: str) -> None:
    """What a benchmark is doing, on stderr: stdout carries only the JSON."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)
