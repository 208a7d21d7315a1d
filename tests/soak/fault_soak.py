"""The fault soak (issue 10): a generated organisation synced through 20 % failing calls.

    uv run python -m tests.soak.fault_soak --invoices 1000 --relations 1000 --fault-rate 0.2 --seed 1 [--api rest]

Both simulators serve on loopback sockets (so read timeouts are real) and fail the given
share of calls, spread evenly over every fault kind (reset, lost, HTTP 500, SOAP fault,
malformed XML, slow body, session expiry), plus latency spikes longer than the read
timeout. pvsync runs (`pvsync sync`: a fresh engine, every job) until every sent invoice is
booked and every customer is in e-Boekhouden, or `--max-runs` is reached; then the
verdict is taken from what both services hold (tests/reliability/fault_world.py).

Prints one JSON object (runs needed, calls made, faults injected per kind, duplicates
and lost found, longest run, elapsed) and exits 1 on any duplicate or anything lost.
Read retries skip their backoff sleeps, as in the fault tests: the soak tests the paths,
not the waiting. Progress goes to stderr.

`--api rest`: pvsync talks to e-Boekhouden's REST API, and the faults are spread over REST's kinds
as well (429 with Retry-After, which is honoured; the others as on SOAP, the "fault" kind being an
ERR_001 error body); PerfectView ignores the REST-only kind. The client's pace is raised to
`--calls-per-second` (default 100): the simulator does not throttle but by the 429 fault, and the
soak tests exactly-once, not the pace.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

from core.eboekhouden.rest.sim_wire import REST_FAULT_KINDS
from core.soap.simulator import Knobs
from tests.reliability.fault_world import FaultWorld, figures, quick_retries

READ_TIMEOUT = 0.2  # seconds; a slow body or a spike beyond it is a timeout on the client
SLOW_SECONDS = 1.0
SPIKE_MS = 400.0
SPIKE_SHARE = 0.1  # of the fault rate, on top of it: latency spikes (they only fail past the timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak.fault_soak", description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--relations", type=int, default=1000)
    parser.add_argument("--fault-rate", type=float, default=0.2, help="share of calls that fail, 0..1")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-runs", type=int, default=60, help="give up (and fail) after this many runs")
    parser.add_argument("--api", choices=("soap", "rest"), default="soap", help="e-Boekhouden API (default soap)")
    parser.add_argument("--calls-per-second", type=float, default=100.0, help="REST client pace (default 100)")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # the retry warnings of thousands of faults; the figures say it all
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pvsync-soak-") as root, quick_retries():
        world = FaultWorld(Path(root), relations=args.relations, invoices=args.invoices, seed=args.seed,
                           loopback=True, api=args.api,
                           settings={"eboekhouden.read_timeout": READ_TIMEOUT, "perfectview.read_timeout": READ_TIMEOUT,
                                     **({"eboekhouden.calls_per_second": args.calls_per_second}
                                        if args.api == "rest" else {})})
        try:
            rates = Knobs.parse_faults(f"all={args.fault_rate}", *([REST_FAULT_KINDS] if args.api == "rest" else []))
            rates["spike"] = args.fault_rate * SPIKE_SHARE
            world.set_faults(rates, slow_seconds=SLOW_SECONDS, spike_ms=SPIKE_MS)
            verdict = world.verdict()
            while verdict.lost and len(world.reports) < args.max_runs:
                report = world.run()
                verdict = world.verdict()
                print(f"run {len(world.reports)}: {report.outcome} in {report.seconds:.1f} s, "
                      f"{len(verdict.lost)} left", file=sys.stderr)
        finally:
            world.world.close()
        print(figures(world, verdict, api=args.api, fault_rate=args.fault_rate, seed=args.seed,
                      elapsed_s=round(time.monotonic() - started, 1)))
    return 0 if verdict.exactly_once else 1


if __name__ == "__main__":
    sys.exit(main())
