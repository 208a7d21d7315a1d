"""No-op run: 10,000 relations and 5,000 invoices already in step, nothing changed since,
simulators on loopback sockets (no latency). Targets: <= 2 s wall, <= 5 calls to
e-Boekhouden, 0 writes to either side.

Each timed run is `pvsync sync` in a process of its own (timed from its runs table,
without the interpreter's start-up), so `pvsync_cpu_s` is pvsync's own CPU, not the
simulators'; with `--profile` the runs are made in this process instead (`pvsync_process`).
It is the run the daemon makes on its schedule: not `--force`, which makes the invoices job
read every invoice as on its daily full pass. That daily full pass (both jobs' full-pass
cursors a day old) is run once after the timed runs and reported as `daily_full_pass_run` in
the context, beside the target, not as the no-op.

On REST the client paces its calls (`eboekhouden.calls_per_second`); the world is brought in
step at 100 calls a second and the timed runs are made at the default pace (5 a second).

The world is generated (with part of the invoices already booked and open items in
e-Boekhouden), brought in step by one untimed run of every job that exists, and then
each timed run is the next run of those jobs. "Nothing changed since" is taken as the
services see it: the in-step run, with the markers and notes it wrote in PerfectView,
lies an hour back (the PerfectView simulator's `age`). A run straight after a run that wrote to
PerfectView reads again what that run wrote (everything modified within the cursor
overlap, 10 minutes); that "echo" run is timed once and reported beside the target,
not as the no-op. Jobs that have not landed yet are listed
under `pending`; the figures then cover the jobs that ran. Beside the run, the benchmark
times the read phase through the clients with a modified-since moment of "now" (what a
no-op run cannot avoid reading) and, with `--full-read`, everything (what a run that
ignores modified-since would read: every invoice costs two more calls).

    uv run python -m tests.perf.bench_noop [--runs 3] [--relations 10000] [--invoices 5000] [--profile noop.pstats]
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.config.write import update_config
from core.demo.generate import generate
from core.store import Store
from core.store.relation_state import FULL_PASS_CURSOR as RELATIONS_FULL_PASS
from core.store.records import to_text, utc_now
from core.sync.invoices import FULL_PASS_CURSOR as INVOICES_FULL_PASS
from tests.perf.common import Target, arguments, bench_world, progress, report, timed
from tests.perf.profiles import profiled
from tests.perf.sync_bench import run_in_own_process, run_jobs, sync_jobs, tally, timed_reads

TARGETS = [Target("noop_s", 2.0, "s"), Target("calls.eboekhouden_calls", 5, "calls"),
           Target("calls.writes", 0, "writes")]
SETUP_PACE = {"eboekhouden.calls_per_second": 100}  # REST: in step in minutes, not an hour
DEFAULT_PACE = {"eboekhouden.calls_per_second": 5}


def daily_full_pass(world: Any) -> dict[str, Any]:
    """One run with both jobs' daily full pass due (what the no-op is not): its figures."""
    with Store.open(world.state_dir, create=False) as store:
        for cursor in (RELATIONS_FULL_PASS, INVOICES_FULL_PASS):
            store.set_cursor(cursor, to_text(utc_now() - timedelta(days=2)))
    run, seconds, calls, cpu_s = run_in_own_process(world, None, force=False)
    return {"outcome": run.outcome, "seconds": round(seconds, 3), "pvsync_cpu_s": round(cpu_s, 3),
            "calls": tally(calls), "calls_by_operation": calls}


def main() -> None:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--relations", type=int, default=10_000)
        parser.add_argument("--invoices", type=int, default=5_000)
        parser.add_argument("--full-read", action="store_true", help="also time reading everything (slow)")
        parser.add_argument("--profile", type=Path, help="write a cProfile of the first timed run here")

    args = arguments("No-op run at 10k relations and 5k invoices, in-process.", extra=extra)
    with tempfile.TemporaryDirectory(prefix="pvsync-bench-noop-") as folder, \
            bench_world(Path(folder), loopback=True, api=args.api, settings=SETUP_PACE) as world:
        made, generate_s = timed(lambda: generate(world, relations=args.relations, invoices=args.invoices,
                                                  open_items=True, seed=1))
        context: dict[str, Any] = {"generated": made.counts(), "generate_s": round(generate_s, 2), "api": args.api}
        jobs, missing = sync_jobs("relations", "invoices", "payments")
        context["jobs"] = [job.name for job in jobs]
        if args.full_read:
            progress("reading everything through the clients")
            context["full_read"] = timed_reads(world, invoices=True)
        if jobs:
            progress(f"bringing both sides in step: {', '.join(context['jobs'])}")
            first, seconds, calls = run_jobs(world, jobs)
            context["initial_run"] = {"outcome": first.outcome, "seconds": round(seconds, 2), "calls": tally(calls)}
            # Before the echo run: a changed config makes the next run check the databases' names again.
            update_config(world.config_path, DEFAULT_PACE)
            progress("the echo run: straight after, re-reading what the first run wrote in PerfectView")
            echo, seconds, calls = run_jobs(world, jobs)
            context["echo_run"] = {"outcome": echo.outcome, "seconds": round(seconds, 2), "calls": tally(calls),
                                   "job_seconds": {o.job: round(o.seconds, 3) for o in echo.jobs}}
            # What both runs wrote happened an hour ago as PerfectView tells it: outside the overlap.
            world.perfectview.age(60)
        runs = []
        for number in range(args.runs):
            progress(f"run {number + 1}/{args.runs}")
            figures: dict[str, Any] = {"pending": missing, "noop_s": None, "calls": None, "pvsync_cpu_s": None}
            since = datetime.now(UTC)
            figures["read_phase_unchanged"] = timed_reads(world, invoices=True, modified_since=since)
            if jobs and args.profile is None:
                run, seconds, calls, cpu_s = run_in_own_process(world, None, force=False)
                figures.update(noop_s=round(seconds, 3), outcome=run.outcome, calls=tally(calls),
                               calls_by_operation=calls, pvsync_cpu_s=round(cpu_s, 3), pvsync_process="own")
            elif jobs:
                (report_, seconds, calls), figures["profile"] = profiled(
                    args.profile if number == 0 else None, lambda: run_jobs(world, jobs))
                figures.update(noop_s=round(seconds, 3), outcome=report_.outcome, calls=tally(calls),
                               calls_by_operation=calls, pvsync_process="shared with the simulators (profiled)",
                               job_seconds={o.job: round(o.seconds, 3) for o in report_.jobs})
            runs.append(figures)
        if jobs and args.profile is None:
            progress("the daily full pass (not the no-op): every invoice page, a slice of the relations compared")
            context["daily_full_pass_run"] = daily_full_pass(world)
        report("noop", runs, TARGETS, context=context, notes=[
            "pvsync_cpu_s: CPU seconds of the pvsync process per run (all threads, from main() to its end); "
            "null when profiled in this process",
            "profile: the calling thread only; the loopback simulators answer in threads of their own"])


if __name__ == "__main__":
    main()
