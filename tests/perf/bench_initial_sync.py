"""Initial relation sync of 10,000 PerfectView relations into an empty e-Boekhouden, with
20 ms latency on every call, over real loopback sockets.

Targets: pvsync's run within 1.25x of its floor, ceil(writes / C) x 20 ms + reads x 20 ms,
where C is the configured concurrency (`[engine] concurrency`, default 4) and reads and
writes are the calls the run made, counted by the simulators; and at least 8x faster
than the naive script below, on an identical world in the same run. The 20 ms is each
call's whole round trip: the simulators do their own work inside it (tests/perf/README.md,
"The floor").

The naive script is what someone without pvsync writes: read every PerfectView relation
(paged, as the API demands), then per customer, one call at a time and no change
detection: open a session, look the code up, add or update the relation, close the
session. It runs on `--naive-sample` customers (its time per customer is flat, so the
whole job is extrapolated from that; `--naive-sample 0` runs all of them).

pvsync runs in a process of its own (`pvsync sync --only relations --force`, timed from its
runs table), as it runs against the real services: the loopback simulators stay in this
process, and their CPU is not on pvsync's interpreter lock. With `--profile` the run is
made in this process instead, so the profile can see it (slower: note `pvsync_process`).

Until `core.sync.relations.RelationsJob` lands, the run's own figures are null and the
benchmark reports the read phase it can already time and the floor those reads imply.

    uv run python -m tests.perf.bench_initial_sync [--runs 3] [--relations 10000] [--naive-sample 300]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from core.demo.generate import generate
from core.demo.world import SimulatedWorld
from core.perfectview.client import PerfectViewClient
from core.sync.mapping import merge_into
from tests.perf.common import (LATENCY_MS, Stopwatch, Target, arguments, bench_world, calls_between, cpu_probe,
                               floor_seconds, latency, progress, rate_floor_seconds, report, service_calls)
from tests.perf.profiles import profiled
from tests.perf.rig import minimal_client_round_trip
from tests.perf.sync_bench import cpu_per_thousand, run_in_own_process, run_jobs, sync_jobs, tally, timed_reads

TARGETS = [Target("floor_ratio", 1.25, "x"), Target("naive_speedup", 8.0, "x", at_least=True)]


def naive_script(world: SimulatedWorld, sample: int) -> dict[str, Any]:
    """The script without pvsync (see the module docstring); `sample` customers, 0 for all."""
    config = world.config()
    before = service_calls(world)
    with Stopwatch() as reading:
        pv: PerfectViewClient = world.perfectview_client()
        customers = [r for r in pv.relations() if r.debtor_number]
        pv.close()
    chosen = customers[:sample] if sample else customers
    eb = world.eboekhouden_client()
    with Stopwatch() as writing:
        for relation in chosen:
            with eb:
                current = eb.relation(relation.debtor_number)
                wanted = merge_into(current, relation, config.relations.person_name_format)
                if current is None:
                    eb.add_relation(wanted)
                else:
                    eb.update_relation(wanted)
    eb.close()
    per_customer = writing.seconds / max(1, len(chosen))
    return {"customers": len(customers), "measured_customers": len(chosen), "read_s": round(reading.seconds, 3),
            "per_customer_ms": round(per_customer * 1000, 2),
            "total_s": round(reading.seconds + per_customer * len(customers), 3),
            "calls": tally(calls_between(before, service_calls(world)))}


def one_run(root: Path, *, relations: int, sample: int, seed: int, profile: Path | None,
            api: str = "soap") -> dict[str, Any]:
    figures: dict[str, Any] = {"api": api}
    with bench_world(root / "pvsync", loopback=True, api=api) as world, \
            bench_world(root / "naive", loopback=True) as naive_world:
        made = generate(world, relations=relations, invoices=0, open_items=False, seed=seed)
        generate(naive_world, relations=relations, invoices=0, open_items=False, seed=seed)
        concurrency = world.config().engine.concurrency
        figures["customers"] = len(made.customers)
        figures["concurrency"] = concurrency
        with latency(world, LATENCY_MS), latency(naive_world, LATENCY_MS):
            jobs, missing = sync_jobs("relations")
            progress("read phase through the clients")
            reads, read_profile = profiled(None if jobs else profile, lambda: timed_reads(world, invoices=False))
            figures["read_phase"] = reads
            # What the floor is at least: these reads, and one AddRelatie per customer.
            figures["floor_estimate_s"] = floor_seconds(writes=len(made.customers), reads=reads["calls"]["reads"],
                                                        concurrency=concurrency)
            figures["pending"] = missing
            figures.update(pvsync_s=None, floor_s=None, floor_ratio=None, naive_speedup=None, profile=read_profile,
                           pvsync_cpu_s=None, cpu_s_per_1000_writes=None)
            if jobs:
                if profile is None:
                    progress("pvsync's initial relation sync, in a process of its own")
                    probe_before = cpu_probe()
                    (run, seconds, calls, cpu_s), figures["profile"] = run_in_own_process(world, "relations"), None
                    figures["cpu_probe_s"] = {"before": probe_before, "after": cpu_probe()}
                    outcome = run.outcome
                else:
                    progress("pvsync's initial relation sync, in this process (profiled)")
                    (report_, seconds, calls), figures["profile"] = profiled(profile, lambda: run_jobs(world, jobs))
                    outcome, cpu_s = report_.outcome, None  # the simulators share this process: not pvsync's own
                figures["pvsync_process"] = "own" if profile is None else "shared with the simulators (profiled)"
                counted = tally(calls)
                floor = max(floor_seconds(writes=counted["writes"], reads=counted["reads"], concurrency=concurrency),
                            rate_floor_seconds(api, counted["eboekhouden_calls"]))
                figures.update(pvsync_s=round(seconds, 3), outcome=outcome, calls=counted, floor_s=floor,
                               floor_ratio=round(seconds / floor, 3) if floor else None, pvsync_cpu_s=cpu_s,
                               cpu_s_per_1000_writes=cpu_per_thousand(cpu_s, counted["writes"]))
            if jobs:
                progress("the rig's own round trip (a minimal client, tests/perf/rig.py)")
                figures["rig_round_trip_ms"] = minimal_client_round_trip(world)
            progress(f"the naive script on {sample or 'all'} customers")
            figures["naive"] = naive_script(naive_world, sample)
            if figures["pvsync_s"]:
                figures["naive_speedup"] = round(figures["naive"]["total_s"] / figures["pvsync_s"], 2)
    return figures


def main() -> None:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--relations", type=int, default=10_000)
        parser.add_argument("--naive-sample", type=int, default=300, help="customers the naive script writes "
                            "(0: all); its total is extrapolated from the time per customer")
        parser.add_argument("--profile", type=Path, help="write a cProfile of pvsync's run (until the job "
                            "exists: of the read phase) in the first run here (.pstats)")

    args = arguments("Initial relation sync with 20 ms latency: floor ratio and the naive script.", extra=extra)
    runs = []
    for number in range(args.runs):
        progress(f"run {number + 1}/{args.runs}")
        with tempfile.TemporaryDirectory(prefix="pvsync-bench-initial-") as folder:
            runs.append(one_run(Path(folder), relations=args.relations, sample=args.naive_sample, seed=number + 1,
                                profile=args.profile if number == 0 else None, api=args.api))
    report("initial_sync", runs, TARGETS, context={"latency_ms": LATENCY_MS, "relations": args.relations,
                                                   "api": args.api},
           notes=["on REST the floor is at least e-Boekhouden's calls / the client's rate (5 a second)",
                  "pvsync_cpu_s: CPU seconds of the pvsync process alone (all threads, from main() to its end; "
                  "null when profiled in this process); cpu_s_per_1000_writes divides it by the run's writes",
                  "floor = ceil(writes / C) x 20 ms + reads x 20 ms, counted from the simulators' call counters",
                  "the naive script's per-customer calls: OpenSession, GetRelaties(code), AddRelatie or "
                  "UpdateRelatie, CloseSession"])


if __name__ == "__main__":
    main()
