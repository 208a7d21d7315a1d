"""Booking 1,000 sent invoices with 20 ms latency on every call, over loopback.

Target: the invoice job's run within 1.25x of its floor, ceil(writes / C) x 20 ms +
reads x 20 ms (C = `[engine] concurrency`), reads and writes counted by the simulators.
The relations are brought over first (untimed, no latency), so every invoice can be booked;
the benchmark maps every VAT code the generator uses, so none waits for a mapping.

Until `core.sync.invoices.InvoicesJob` lands, it times what the job will have to read
through the clients: every sent invoice with its lines and attachments (two calls per
invoice on top of the pages), e-Boekhouden's relations and open items, and reports the
floor those reads and one AddMutatie plus one booked marker per invoice imply.

    uv run python -m tests.perf.bench_booking [--runs 3] [--invoices 1000] [--profile booking.pstats]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from core.demo.generate import generate
from tests.perf.common import (LATENCY_MS, Target, arguments, bench_world, floor_seconds, latency, progress,
                               rate_floor_seconds, report)
from tests.perf.profiles import profiled
from tests.perf.sync_bench import cpu_per_thousand, run_in_own_process, run_jobs, sync_jobs, tally, timed_reads

TARGETS = [Target("floor_ratio", 1.25, "x")]


def one_run(root: Path, *, invoices: int, seed: int, profile: Path | None, api: str = "soap") -> dict[str, Any]:
    figures: dict[str, Any] = {"api": api, "pending": [], "booking_s": None, "floor_s": None, "floor_ratio": None,
                               "pvsync_cpu_s": None, "cpu_s_per_1000_writes": None}
    with bench_world(root, loopback=True, api=api) as world:
        made = generate(world, relations=max(200, invoices // 2), invoices=invoices, open_items=False, seed=seed,
                        concept_share=0.0)
        concurrency = world.config().engine.concurrency
        figures.update(sent=len(made.sent_invoice_ids), concurrency=concurrency)
        relation_jobs, missing = sync_jobs("relations")
        invoice_jobs, missing_invoices = sync_jobs("invoices")
        figures["pending"] = missing + missing_invoices
        if relation_jobs:
            progress("relations first (no latency, untimed)")
            run_jobs(world, relation_jobs)
        with latency(world, LATENCY_MS):
            if not invoice_jobs:
                progress("the invoice job's read phase through the clients")
                reads, figures["profile"] = profiled(profile, lambda: timed_reads(world, invoices=True))
                figures["read_phase"] = reads
                # One AddMutatie and one booked marker (ActivityUpdate) per invoice, at the least.
                figures["floor_estimate_s"] = floor_seconds(writes=2 * len(made.sent_invoice_ids),
                                                            reads=reads["calls"]["reads"], concurrency=concurrency)
                return figures
            if profile is None:
                progress(f"booking {len(made.sent_invoice_ids)} invoices, pvsync in a process of its own")
                run, seconds, calls, cpu_s = run_in_own_process(world, "invoices")
                outcome = run.outcome
            else:
                progress(f"booking {len(made.sent_invoice_ids)} invoices, in this process (profiled)")
                (report_, seconds, calls), figures["profile"] = profiled(profile, lambda: run_jobs(world,
                                                                                                  invoice_jobs))
                outcome, cpu_s = report_.outcome, None  # the simulators share this process: not pvsync's own
            figures["pvsync_process"] = "own" if profile is None else "shared with the simulators (profiled)"
        counted = tally(calls)
        floor = max(floor_seconds(writes=counted["writes"], reads=counted["reads"], concurrency=concurrency),
                    rate_floor_seconds(api, counted["eboekhouden_calls"]))  # REST: its own rate
        booked = sum(1 for b in world.eboekhouden.mutations.values() if b.invoice_number and b.soort.value ==
                     "FactuurVerstuurd")
        figures.update(booking_s=round(seconds, 3), outcome=outcome, booked=booked, calls=counted,
                       calls_by_operation=calls, floor_s=floor, floor_ratio=round(seconds / floor, 3) if floor else None,
                       pvsync_cpu_s=cpu_s, cpu_s_per_1000_writes=cpu_per_thousand(cpu_s, counted["writes"]))
    return figures


def main() -> None:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--invoices", type=int, default=1_000)
        parser.add_argument("--profile", type=Path, help="write a cProfile of the first run here (.pstats)")

    args = arguments("Booking 1,000 invoices with 20 ms latency: floor ratio.", extra=extra)
    runs = []
    for number in range(args.runs):
        progress(f"run {number + 1}/{args.runs}")
        with tempfile.TemporaryDirectory(prefix="pvsync-bench-booking-") as folder:
            runs.append(one_run(Path(folder), invoices=args.invoices, seed=number + 1,
                                profile=args.profile if number == 0 else None, api=args.api))
    report("booking", runs, TARGETS, context={"latency_ms": LATENCY_MS, "invoices": args.invoices, "api": args.api},
           notes=["on REST the floor is at least e-Boekhouden's calls / the client's rate (5 a second)",
                  "pvsync runs in a process of its own (`pvsync sync --only invoices --force`, timed from its runs "
                  "table) unless profiled; pvsync_cpu_s is that process's CPU (all threads, from main() to its end)",
                  "floor = ceil(writes / C) x 20 ms + reads x 20 ms, counted from the simulators' call counters"])


if __name__ == "__main__":
    main()
