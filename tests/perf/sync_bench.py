"""What the sync benchmarks share: the relation and invoice jobs (once their issues land),
counting a run's reads and writes from the simulators' own call counters, and the reads
that can be timed through the clients before the jobs exist.

The jobs are looked up by name (`core.sync.relations.RelationsJob`,
`core.sync.invoices.InvoicesJob`); while one is missing, a benchmark measures what it can
and reports the job's figures as null with the reason, so its JSON shape stays the same.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from typing import Any

from core.demo.world import SimulatedWorld
from core.engine.engine import RunReport
from core.store import Store
from core.store.records import Run
from tests.perf.common import Stopwatch, calls_between, service_calls

JOBS = {"relations": ("core.sync.relations", "RelationsJob"), "invoices": ("core.sync.invoices", "InvoicesJob"),
        "payments": ("core.sync.payments", "PaymentsJob")}

# Operations that change something at the service; every other operation is a read.
WRITES = {
    "eboekhouden": {"AddRelatie", "UpdateRelatie", "AddMutatie",
                    "POST /v1/relation", "PATCH /v1/relation/{id}", "POST /v1/mutation"},
    "perfectview": {"RelationCreate", "RelationUpdate", "RelationshipUpdate", "RelationAddNote", "ActivityCreate",
                    "ActivityUpdate", "ActivityFlow", "ActivityAddProductLine", "ActivityAddNote",
                    "ActivityAddAttachment"},
}
SESSION_CALLS = {"OpenSession", "CloseSession", "POST /v1/session", "DELETE /v1/session"}
# The child's last stderr line: the CPU seconds of the pvsync process (every thread), from
# just before `main` to its end, so the interpreter's start-up and imports are not in it.
CPU_MARK = "pvsync-cpu-seconds "
CHILD = """import sys, time
from core.cli import main
started = time.process_time()
try:
    code = main({argv!r})
finally:
    sys.stderr.write("\\n{mark}%.4f\\n" % (time.process_time() - started))
sys.exit(code)
"""


def sync_jobs(*names: str) -> tuple[list[Any], list[str]]:
    """The named jobs that exist, and a sentence for each that does not (its issue has not landed)."""
    jobs, missing = [], []
    for name in names:
        module_name, class_name = JOBS[name]
        try:
            jobs.append(getattr(importlib.import_module(module_name), class_name)())
        except (ImportError, AttributeError) as exc:
            missing.append(f"{module_name}.{class_name} is not available yet ({exc})")
    return jobs, missing


def tally(calls: dict[str, dict[str, int]]) -> dict[str, int]:
    """Reads and writes per side of a calls-per-operation delta."""
    result = {}
    for side, operations in calls.items():
        writes = sum(n for op, n in operations.items() if op in WRITES[side])
        result[f"{side}_writes"] = writes
        result[f"{side}_reads"] = sum(operations.values()) - writes
        result[f"{side}_calls"] = sum(operations.values())
    result["writes"] = result["eboekhouden_writes"] + result["perfectview_writes"]
    result["reads"] = result["eboekhouden_reads"] + result["perfectview_reads"]
    return result


def run_jobs(world: SimulatedWorld, jobs: list[Any]) -> tuple[RunReport, float, dict[str, dict[str, int]]]:
    """One engine run of `jobs`: its report, wall seconds and the calls it made per operation."""
    engine = world.engine(jobs=jobs)
    try:
        before = service_calls(world)
        with Stopwatch() as watch:
            report = engine.run(trigger="forced")
        return report, watch.seconds, calls_between(before, service_calls(world))
    finally:
        engine.close()


def timed_reads(world: SimulatedWorld, *, invoices: bool, modified_since: Any = None) -> dict[str, Any]:
    """The read phase of a run through the real clients (what a job reads before it plans):
    PerfectView relations (and invoices), e-Boekhouden relations and open items, in one session."""
    before = service_calls(world)
    figures: dict[str, Any] = {}
    pv = world.perfectview_client()
    try:
        with Stopwatch() as watch:
            figures["pv_relations"] = sum(1 for _ in pv.relations(modified_since))
        figures["pv_relations_s"] = round(watch.seconds, 3)
        if invoices:
            with Stopwatch() as watch:
                figures["pv_invoices"] = sum(1 for _ in pv.sales_invoices(modified_since=modified_since))
            figures["pv_invoices_s"] = round(watch.seconds, 3)
    finally:
        pv.close()
    with Stopwatch() as watch, world.eboekhouden_client() as eb:
        figures["eb_relations"] = len(eb.relation_index())  # what a run lists; details cost a call each on REST
        figures["eb_open_items"] = len(eb.open_items())
    figures["eb_s"] = round(watch.seconds, 3)
    calls = calls_between(before, service_calls(world))
    figures["calls"] = tally(calls)
    figures["calls_by_operation"] = calls
    return figures


def run_in_own_process(world: SimulatedWorld, only: str | None, *,
                       force: bool = True) -> tuple[Run, float, dict[str, dict[str, int]], float]:
    """`pvsync sync [--only ONLY] [--force]` in a process of its own against `world`'s loopback
    simulators, as pvsync runs against the real services: the simulators' CPU is not on
    pvsync's interpreter lock. The seconds are the run's own (from the runs table, without
    the interpreter's start-up); the calls are the simulators' counts; the last figure is
    the CPU seconds of the pvsync process alone (time.process_time, all its threads)."""
    # An installed pvsync has its bytecode compiled: the child may use (and write) the cache.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVSYNC_") and k != "PYTHONDONTWRITEBYTECODE"}
    before = service_calls(world)
    argv = ["--config", str(world.config_path), "--state-dir", str(world.state_dir), "sync",
            *(["--only", only] if only else []), *(["--force"] if force else [])]
    done = subprocess.run([sys.executable, "-c", CHILD.format(argv=argv, mark=CPU_MARK)],
                          capture_output=True, text=True, env=env, timeout=3600)
    calls = calls_between(before, service_calls(world))
    with Store.open(world.state_dir, create=False) as store:
        run = store.last_run()
    if run is None or run.finished_at is None:
        raise RuntimeError(f"pvsync sync did not record a finished run (exit {done.returncode}): {done.stderr[-2000:]}")
    marks = [line for line in done.stderr.splitlines() if line.startswith(CPU_MARK)]
    if not marks:
        raise RuntimeError(f"pvsync sync did not report its CPU time (exit {done.returncode}): {done.stderr[-2000:]}")
    return run, (run.finished_at - run.started_at).total_seconds(), calls, float(marks[-1][len(CPU_MARK):])


def cpu_per_thousand(cpu_s: float | None, count: int) -> float | None:
    """pvsync's own CPU seconds per 1,000 of `count` (writes): comparable across sizes."""
    return round(cpu_s * 1000 / count, 3) if cpu_s is not None and count else None

