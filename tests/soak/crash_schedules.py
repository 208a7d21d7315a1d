"""Random crash schedules: pvsync SIGKILLed at random crash points, restarted, checked.

    uv run python -m tests.soak.crash_schedules --schedules 200 --seed 1 [--api rest]

`--api rest` runs pvsync on e-Boekhouden's REST API: the crash points the default suite leaves
to this script on REST (tests/reliability/test_crash_points.py: the imports, marker, note and
payment points, two kills in a row) are drawn here like every other.

Each schedule: a few random edits by people between runs (a customer added or edited in
PerfectView, invoices sent, a customer added in e-Boekhouden, booked invoices paid), always
including the edits that make the chosen crash point come up `k` times; then a run killed
the `nth` time it reaches that point (nth random in 1..k), sometimes a second run killed at
another random point, then a run that is not killed, and the invariants of
tests/reliability/crash_harness.check (no duplicate booking, relation or note, no lost
invoice or relation, no half-written local state, no write sent twice).

Worlds are built small (crash_harness.build_world) and replaced every `--per-world`
schedules so runs stay fast. Prints one JSON object; exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from core.model import MutatieSoort, RelationKind
from tests.reliability.crash_harness import (CRASH_POINTS, JOB_POINTS, EngineLauncher, People, Simulators, Writes,
                                             build_world, check, eboekhouden_state)

# Which edit makes a crash point come up (once per edit).
EDIT_FOR_POINT = {point: ("new_customer" if "add_relation" in point else "edit_customer" if "update_relation" in point
                          else "new_eboekhouden_customer") for point in JOB_POINTS["relations"]}
EDIT_FOR_POINT.update({point: "send_invoice" for point in JOB_POINTS["invoices"]})
EDIT_FOR_POINT.update({point: "pay" for point in JOB_POINTS["payments"]})
EDITS = sorted(set(EDIT_FOR_POINT.values()))
SECOND_CRASH_SHARE = 0.3


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Schedules:
    def __init__(self, rng: random.Random, launcher: EngineLauncher):
        self.rng, self.launcher = rng, launcher
        self.crashes: Counter[str] = Counter()
        self.not_reached: Counter[str] = Counter()
        self.edits: Counter[str] = Counter()
        self.found = {"duplicates": 0, "lost": 0, "local": 0}
        self.violations: list[str] = []
        self.double = 0
        self.serial = 0  # numbers for new codes and invoices, unique across worlds

    def edit(self, people: People, root: Path, kind: str) -> bool:
        """One edit by a person; False when there was nothing to do it on."""
        self.serial += 1
        rng = self.rng
        if kind == "new_customer":
            people.new_customer(str(900_000 + self.serial))
        elif kind == "edit_customer":
            organisations = [r for r in people.customers() if r.kind is RelationKind.ORGANISATION]
            people.edit_customer(rng.choice(organisations), f"030-{rng.randint(1_000_000, 9_999_999)}")
        elif kind == "new_eboekhouden_customer":
            people.new_eboekhouden_customer(f"E{self.serial:06d}")
        elif kind == "send_invoice":
            customer = rng.choice(people.customers())
            people.send_invoice(customer.id, f"S{self.serial:06d}", f"{rng.randint(10, 5000)}.{rng.randint(0, 99):02d}")
        else:  # pay a booked invoice that is still open
            eb = eboekhouden_state(root)
            open_ = sorted(b.invoice_number for b in eb.mutations.values() if b.soort is MutatieSoort.FACTUUR_VERSTUURD
                           and (item := eb.open_item(b.invoice_number)) is not None and item[2] > 0)
            if not open_ or not people.pay(rng.choice(open_)):
                return False
        self.edits[kind] += 1
        return True

    def crash(self, root: Path, point: str, nth: int) -> bool:
        if self.launcher.run(root, crash=point, nth=nth).killed:
            self.crashes[point] += 1
            return True
        self.not_reached[point] += 1
        return False

    def work_for(self, people: People, root: Path, point: str) -> int:
        """Edits that make `point` come up; how many times it will (at least once)."""
        return sum(self.edit(people, root, EDIT_FOR_POINT[point]) for _ in range(self.rng.randint(1, 3))) or 1

    def one(self, number: int, root: Path, people: People, first_in_world: bool) -> None:
        rng = self.rng
        kills = [rng.choice(CRASH_POINTS) for _ in range(2 if rng.random() < SECOND_CRASH_SHARE else 1)]
        # A new world has work for every point (up to twice) already; later ones get edits.
        times = [2 if first_in_world else self.work_for(people, root, point) for point in kills]
        for _ in range(rng.randint(0, 2)):
            self.edit(people, root, rng.choice(EDITS))
        self.double += len(kills) > 1
        for point, most in zip(kills, times, strict=True):
            # The second kill's point may have passed before the first kill: then it is not reached.
            self.crash(root, point, rng.randint(1, most))
        before = Writes.now(root)
        finished = self.launcher.run(root)
        if finished.outcome != "ok":
            self.violations.append(f"schedule {number}: the run after the crash ended {finished.outcome}: "
                                   f"{finished.output[-500:]}")
        found = check(root, since=before)
        for kind in self.found:
            problems = getattr(found, kind)
            self.found[kind] += len(problems)
            self.violations += [f"schedule {number} ({' then '.join(kills)}): {problem}" for problem in problems]

    def report(self, schedules: int, seed: int, worlds: int, elapsed: float) -> dict[str, Any]:
        return {"schedules": schedules, "seed": seed, "worlds": worlds,
                "crashes_injected": sum(self.crashes.values()), "crashes_per_point": dict(sorted(self.crashes.items())),
                "points_not_reached": dict(sorted(self.not_reached.items())), "schedules_with_two_crashes": self.double,
                "edits": dict(sorted(self.edits.items())), "duplicates_found": self.found["duplicates"],
                "lost_found": self.found["lost"], "local_state_problems": self.found["local"],
                "violations": self.violations[:50], "elapsed_seconds": round(elapsed, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schedules", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-world", type=int, default=25, help="schedules before a fresh world (default 25)")
    parser.add_argument("--api", choices=("soap", "rest"), default="soap",
                        help="the e-Boekhouden API pvsync talks to (default soap)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    started = time.monotonic()
    worlds = 0
    with EngineLauncher() as launcher, tempfile.TemporaryDirectory(prefix="pvsync-crash-schedules-") as folder:
        runner = Schedules(rng, launcher)
        done = 0
        while done < args.schedules:
            worlds += 1
            root = Path(folder) / f"world-{worlds}"
            build_world(root, seed=args.seed * 1000 + worlds, api=args.api)
            with Simulators(root), People(root) as people:
                for index in range(min(args.per_world, args.schedules - done)):
                    done += 1
                    runner.one(done, root, people, first_in_world=index == 0)
                    progress(f"schedule {done}/{args.schedules}: {sum(runner.crashes.values())} crashes, "
                             f"{len(runner.violations)} violations")
        report = {"api": args.api, **runner.report(done, args.seed, worlds, time.monotonic() - started)}
    print(json.dumps(report, indent=2))
    return 1 if report["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
