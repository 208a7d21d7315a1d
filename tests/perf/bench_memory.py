"""Memory and time of an initial sync at 1k, 10k and 50k relations (half as many invoices).

Target: peak RSS <= 300 MB at 10k relations, and linear growth: the exponent k in
cost ~ size**k, fitted over the sizes, close to 1 for both time and memory.

Peak RSS is a process's high-water mark, so every size gets fresh processes: one serves
the generated world on loopback sockets (the simulators' memory is not pvsync's), and
one runs pvsync against it as `pvsync sync` would: an engine on the state folder with the
world's config, real HTTP over loopback. Until the sync jobs land, the pvsync process
does what a run does first: read every relation (and invoice) from both sides through
the clients, keeping them, as a run's snapshot does.

    uv run python -m tests.perf.bench_memory [--sizes 1000,10000,50000] [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.perf.common import (Stopwatch, Target, arguments, growth_exponent, peak_rss_mb, progress, report)

TARGETS = [Target("at_10000.peak_rss_mb", 300, "MB"), Target("exponent.seconds", 1.2, "k"),
           Target("exponent.net_rss", 1.2, "k")]
MODULE = "tests.perf.bench_memory"


def serve(root: Path, size: int, api: str = "soap") -> None:
    """Child: generate the world, serve it on loopback, say so, wait for stdin to close."""
    from core.demo.generate import generate
    from tests.perf.common import bench_world

    with bench_world(root, loopback=True, api=api) as world:
        made = generate(world, relations=size, invoices=size // 2, open_items=True, seed=size)
        print(json.dumps({"ready": True, **made.counts()}), flush=True)
        sys.stdin.read()


def sync(root: Path) -> None:
    """Child: pvsync's side. Prints its figures as one JSON line."""
    from tests.perf.sync_bench import sync_jobs

    baseline = _current_rss_mb()
    jobs, missing = sync_jobs("relations", "invoices", "payments")
    figures: dict[str, Any] = {"baseline_rss_mb": baseline, "jobs": [job.name for job in jobs], "pending": missing}
    with Stopwatch() as watch:
        if jobs:
            from core.engine.engine import Engine

            engine = Engine(root / "state", root / "config.toml", mode="cli", jobs=jobs)
            if not engine.acquire():
                raise engine.busy
            try:
                figures["outcome"] = engine.run(trigger="forced").outcome
            finally:
                engine.close()
        else:
            figures["kept"] = _read_everything(root)
    figures.update(seconds=round(watch.seconds, 3), peak_rss_mb=peak_rss_mb())
    figures["net_rss_mb"] = round(figures["peak_rss_mb"] - baseline, 1)
    print(json.dumps(figures), flush=True)


def _read_everything(root: Path) -> dict[str, int]:
    from core.config import load_config
    from core.engine.services import eboekhouden_client, perfectview_client

    env = {k: v for k, v in os.environ.items() if not k.startswith("PVSYNC_")}
    config = load_config(root / "config.toml", env=env)
    with perfectview_client(config) as pv:
        relations, invoices = list(pv.relations()), list(pv.sales_invoices())
    eb = eboekhouden_client(config)
    with eb:
        eb_relations, open_items = eb.relations(), eb.open_items()
    eb.close()
    return {"pv_relations": len(relations), "pv_invoices": len(invoices), "eb_relations": len(eb_relations),
            "eb_open_items": len(open_items)}


def _current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def measure(size: int, api: str = "soap") -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"pvsync-bench-memory-{size}-") as folder:
        server = subprocess.Popen([sys.executable, "-m", MODULE, "--serve", str(size), "--root", folder,
                                   "--api", api],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            ready = json.loads(server.stdout.readline())
            done = subprocess.run([sys.executable, "-m", MODULE, "--sync", "--root", folder], capture_output=True,
                                  text=True, check=True)
            figures = json.loads(done.stdout.strip().splitlines()[-1])
        finally:
            server.stdin.close()
            server.wait(timeout=60)
    return {**figures, "world": {k: v for k, v in ready.items() if k != "ready"}}


def main() -> None:
    if "--serve" in sys.argv or "--sync" in sys.argv:
        parser = argparse.ArgumentParser()
        parser.add_argument("--serve", type=int)
        parser.add_argument("--sync", action="store_true")
        parser.add_argument("--root", type=Path, required=True)
        parser.add_argument("--api", default="soap")
        child = parser.parse_args()
        serve(child.root, child.serve, child.api) if child.serve else sync(child.root)
        return

    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--sizes", default="1000,10000,50000", help="relation counts (invoices: half)")

    args = arguments("Peak memory and time of an initial sync at several sizes.", runs=1, extra=extra)
    sizes = [int(s) for s in args.sizes.split(",")]
    runs = []
    for number in range(args.runs):
        figures: dict[str, Any] = {}
        for size in sizes:
            progress(f"run {number + 1}/{args.runs}: {size:,} relations")
            figures[f"at_{size}"] = measure(size, args.api)
        if len(sizes) > 1:
            measured = [figures[f"at_{s}"] for s in sizes]
            figures["exponent"] = {
                "seconds": round(growth_exponent(sizes, [m["seconds"] for m in measured]), 3),
                "peak_rss": round(growth_exponent(sizes, [m["peak_rss_mb"] for m in measured]), 3),
                "net_rss": round(growth_exponent(sizes, [max(0.1, m["net_rss_mb"]) for m in measured]), 3)}
        runs.append(figures)
    report("memory", runs, TARGETS, context={"sizes": sizes, "api": args.api}, notes=[
        "net_rss = peak RSS minus the RSS after imports: what the run itself added",
        "linear growth shows as an exponent near 1 (the limit 1.2 leaves room for noise at small sizes)"])


if __name__ == "__main__":
    main()
