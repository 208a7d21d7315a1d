"""Console benchmark: a state folder with a year of history (1,000,000 logbook entries,
10,000 linked relations, 5,000 journal rows, a run every four hours), then the console
on it through Textual's pilot (headless, 120x40):

- first frame: from creating the app to the first frame on screen, and to the first
  frame that shows the state read from the database (target <= 1 s);
- keypress to updated frame while another thread writes 200 logbook events a second
  through its own store connection, as an embedded engine's run does: cursor moves,
  page moves (which load pages by id near the window's edge) and switching between the
  status and logbook screens; p95 over several hundred presses (target <= 100 ms);
- jumps in the logbook: Home (oldest) and End (newest) from the far end, each a page
  read in a worker and a new window (target <= 100 ms), and the store's page read from
  arbitrary ids with and without filters, which a "go to entry" would do.

A frame is timed when Textual hands the compositor's update to the display; headless
Textual skips turning it into terminal output, so the benchmark does that step itself
(into a buffer) to keep its cost in the figure.

    uv run python -m tests.perf.bench_console [--runs 3] [--entries 1000000] [--samples 320]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from textual import events
from textual._compositor import CompositorUpdate

from core import paths
from core.demo.world import SimulatedWorld
from core.store import Store
from core.store.records import to_text
from tests.perf.common import Target, arguments, peak_rss_mb, progress, report, summary_ms, timed
from tui.app import PvsyncApp, create_app
from tui.logbook_query import KINDS, LogFilter, newer_page, older_page
from tui.widgets.logbook_view import PAGE, LogbookView

SIZE = (120, 40)
WRITES_PER_SECOND = 200
TIMEOUT_S = 10.0
KEY_CYCLE = ("up", "up", "down", "down", "pageup", "pagedown", "1", "2")
TARGETS = [Target("first_frame_s", 1.0, "s"), Target("first_state_frame_s", 1.0, "s"),
           Target("keypress_under_writes.all.p95_ms", 100, "ms"),
           Target("jump.home.p95_ms", 100, "ms"), Target("jump.end.p95_ms", 100, "ms"),
           Target("store_jump.no_filter.p95_ms", 100, "ms"), Target("store_jump.level.p95_ms", 100, "ms"),
           Target("store_jump.kind.p95_ms", 100, "ms"), Target("store_jump.text.p95_ms", 100, "ms"),
           Target("writer.events_per_s", WRITES_PER_SECOND * 0.95, "events/s", at_least=True)]


# --------------------------------------------------------------------------- a year of state


def fill_state(state_dir: Path, *, entries: int, relations: int, invoices: int, seed: int) -> dict[str, Any]:
    """Bulk rows, one transaction per table: what a year of four-hourly runs leaves behind."""
    rng = random.Random(seed)
    end = datetime.now(UTC) - timedelta(minutes=5)
    start = end - timedelta(days=365)
    run_count = max(1, entries // 450)
    with Store.open(state_dir) as store, store.write():
        conn = store.conn
        step = (end - start) / run_count
        conn.executemany(
            "INSERT INTO runs (id, trigger, jobs_json, started_at, finished_at, outcome, job_outcomes_json, "
            "counters_json) VALUES (?, 'schedule', ?, ?, ?, 'ok', ?, ?)",
            ((n + 1, '["relations", "invoices", "payments"]', to_text(start + step * n),
              to_text(start + step * n + timedelta(seconds=40)),
              '{"invoices": "ok", "payments": "ok", "relations": "ok"}', '{"booked": 3, "updated": 12}')
             for n in range(run_count)))
        conn.executemany("INSERT INTO logbook (at, level, kind, run_id, subject, message, details_json) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", _logbook_rows(rng, entries, start, end, run_count))
        now = to_text(end)
        conn.executemany(
            "INSERT INTO relation_links (perfectview_id, eboekhouden_code, eboekhouden_id, perfectview_hash, "
            "eboekhouden_hash, linked_at, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((str(uuid.UUID(int=rng.getrandbits(128))), str(100_000 + n), 1001 + n, f"{n:032x}", f"{n:032x}", now, now)
             for n in range(relations)))
        conn.executemany(
            "INSERT INTO invoices (activity_id, invoice_number, relation_code, state, reason, mutatienummer, "
            "total_excl_vat_cents, vat_cents, total_incl_vat_cents, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            _invoice_rows(rng, invoices, relations, now))
    return {"logbook_entries": entries, "runs": run_count, "relation_links": relations, "invoices": invoices}


def _logbook_rows(rng: random.Random, count: int, start: datetime, end: datetime, runs: int):
    step = (end - start) / max(1, count)
    levels = ("INFO",) * 80 + ("DEBUG",) * 14 + ("WARNING",) * 5 + ("ERROR",)
    for n in range(count):
        level, kind = rng.choice(levels), rng.choice(KINDS[:5])
        code = 100_000 + rng.randrange(10_000)
        if kind == "invoice":
            subject, message = f"2026{rng.randrange(5000):06d}", f"booked as mutatie {rng.randrange(1, 90000)}"
        elif kind == "relation":
            subject, message = str(code), f"updated in e-Boekhouden: E-mail: info@old{code}.nl -> info@new{code}.nl"
        else:
            subject, message = "", f"{kind} step {n % 7} done in {rng.randint(1, 900)} ms"
        details = '{"calls": 3}' if n % 50 == 0 else None
        yield to_text(start + step * n), level, kind, 1 + n * runs // max(1, count), subject, message, details


def _invoice_rows(rng: random.Random, count: int, relations: int, now: str):
    states = ("booked",) * 6 + ("paid",) * 3 + ("blocked", "ready")
    for n in range(count):
        state, cents = rng.choice(states), rng.randint(1000, 500000)
        yield (str(uuid.UUID(int=rng.getrandbits(128))), f"2026{n:06d}", str(100_000 + rng.randrange(max(1, relations))),
               state, "BTW 0% is not mapped" if state == "blocked" else "",
               n + 1 if state in ("booked", "paid") else None, cents, cents * 21 // 100, cents * 121 // 100, now)


# --------------------------------------------------------------------------- watching frames


class FrameClock:
    """Timestamps of the frames the app sends to its display, and of the moments the
    console changed what it shows (stamped by wrapping the methods that change it)."""

    def __init__(self, app: PvsyncApp):
        self.app = app
        self.frames: list[tuple[float, str, bool]] = []  # (time, screen class, state read yet)
        self.stamps: dict[str, list[float]] = {}
        display = app._display

        def timed_display(screen, renderable) -> None:
            if renderable is not None:
                if isinstance(renderable, CompositorUpdate):
                    renderable.render_segments(app.console)  # the step headless mode skips
                self.frames.append((time.perf_counter(), type(app.screen).__name__, app.state is not None))
            display(screen, renderable)

        app._display = timed_display

    def stamp_calls(self, owner: Any, name: str) -> None:
        method = getattr(owner, name)
        stamps = self.stamps.setdefault(name, [])

        def stamped(*args, **kwargs):
            result = method(*args, **kwargs)
            stamps.append(time.perf_counter())
            return result

        setattr(owner, name, stamped)

    async def frame_after(self, moment: float, where: Callable[[str, bool], bool] = lambda s, r: True) -> float:
        """The time of the first frame at or after `moment` that satisfies `where`."""
        deadline = time.perf_counter() + TIMEOUT_S
        seen = 0
        while time.perf_counter() < deadline:
            for at, screen, ready in self.frames[seen:]:
                if at >= moment and where(screen, ready):
                    return at
            seen = len(self.frames)
            await asyncio.sleep(0.001)
        raise TimeoutError(f"no frame within {TIMEOUT_S} s")

    async def stamp_after(self, name: str, moment: float) -> float:
        deadline = time.perf_counter() + TIMEOUT_S
        while time.perf_counter() < deadline:
            found = [at for at in self.stamps.get(name, []) if at >= moment]
            if found:
                return found[0]
            await asyncio.sleep(0.001)
        raise TimeoutError(f"{name} was not called within {TIMEOUT_S} s")


def press(app: PvsyncApp, key: str) -> float:
    """Send one key the way the terminal driver does; returns the moment it was sent."""
    moment = time.perf_counter()
    app._driver.send_message(events.Key(key, key if len(key) == 1 else None))
    return moment


async def key_latency(app: PvsyncApp, clock: FrameClock, key: str) -> tuple[str, float]:
    """Seconds from sending `key` to the first frame that shows its effect."""
    if key in ("1", "2"):
        target = "StatusScreen" if key == "1" else "LogbookScreen"
        sent = press(app, key)
        return "mode", await clock.frame_after(sent, lambda screen, _: screen == target) - sent
    action = "action_cursor" if key in ("up", "down") else "action_page"
    sent = press(app, key)
    changed = await clock.stamp_after(action, sent)
    return ("cursor" if action == "action_cursor" else "page"), await clock.frame_after(changed) - sent


# --------------------------------------------------------------------------- the engine's side


class LogbookWriter(threading.Thread):
    """Writes `rate` logbook events a second through its own connection, like a run."""

    def __init__(self, state_dir: Path, rate: int):
        super().__init__(name="bench-logbook-writer", daemon=True)
        self.state_dir, self.rate = state_dir, rate
        self.stop = threading.Event()
        self.written = 0
        self.seconds = 0.0

    def run(self) -> None:
        with Store.open(self.state_dir) as store:
            started = time.perf_counter()
            while not self.stop.is_set():
                due = started + self.written / self.rate
                wait = due - time.perf_counter()
                if wait > 0:
                    self.stop.wait(wait)
                    continue
                store.log("INFO", "invoice", f"booked as mutatie {90_000 + self.written}",
                          subject=f"2026{self.written % 5000:06d}", run_id=1)
                self.written += 1
            self.seconds = time.perf_counter() - started

    def rate_achieved(self) -> float:
        return round(self.written / self.seconds, 1) if self.seconds else 0.0


# --------------------------------------------------------------------------- one run


async def measure_console(world: SimulatedWorld, *, samples: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    started = time.perf_counter()
    app = create_app(world.config_path, world.state_dir, engine_mode="attach")
    clock = FrameClock(app)
    figures: dict[str, Any] = {}
    async with app.run_test(size=SIZE) as pilot:
        figures["first_frame_s"] = round(await clock.frame_after(started) - started, 4)
        figures["first_state_frame_s"] = round(await clock.frame_after(started, lambda s, ready: ready) - started, 4)
        await pilot.pause()

        sent = press(app, "2")
        await clock.frame_after(sent, lambda screen, _: screen == "LogbookScreen")
        view = app.screen.query_one(LogbookView)
        for name in ("replace", "action_cursor", "action_page"):
            clock.stamp_calls(view, name)
        while not view.entries:
            await asyncio.sleep(0.005)
        figures["logbook_open_s"] = round(time.perf_counter() - sent, 4)

        writer = LogbookWriter(world.state_dir, WRITES_PER_SECOND)
        writer.start()
        latencies: dict[str, list[float]] = {"cursor": [], "page": [], "mode": []}
        try:
            for index in range(samples):
                kind, seconds = await key_latency(app, clock, KEY_CYCLE[index % len(KEY_CYCLE)])
                latencies[kind].append(seconds)
                await asyncio.sleep(rng.uniform(0.02, 0.06))  # a person pressing keys, not a flood
        finally:
            writer.stop.set()
            writer.join()
        figures["keypress_under_writes"] = {"all": summary_ms([s for v in latencies.values() for s in v]),
                                            **{kind: summary_ms(v) for kind, v in latencies.items()}}
        figures["writer"] = {"events": writer.written, "events_per_s": writer.rate_achieved()}

        await pilot.pause()
        jumps: dict[str, list[float]] = {"home": [], "end": []}
        for _ in range(10):
            for key in ("home", "end"):
                sent = press(app, key)
                replaced = await clock.stamp_after("replace", sent)
                jumps[key].append(await clock.frame_after(replaced) - sent)
                await asyncio.sleep(0.05)
        figures["jump"] = {key: summary_ms(values) for key, values in jumps.items()}
        figures["frames"] = len(clock.frames)
    return figures


def measure_store_jumps(state_dir: Path, *, seed: int, samples: int = 200) -> dict[str, Any]:
    """A page read from arbitrary ids, both ways, as the logbook screen's worker reads it."""
    rng = random.Random(seed)
    result = {}
    with Store.open(state_dir) as store:
        low, high = store.logbook_bounds()
        middle_run = store.runs(limit=1)[0].id // 2
        filters = {"no_filter": LogFilter(), "level": LogFilter(level="WARNING"), "kind": LogFilter(kind="payment"),
                   "run": LogFilter(run_id=middle_run), "text": LogFilter(text="old100123")}
        for name, log_filter in filters.items():
            seconds = []
            for n in range(samples if name != "text" else samples // 10):
                anchor = rng.randint(low, high)
                read = newer_page if n % 2 else older_page
                seconds.append(timed(lambda: read(store, log_filter, anchor, PAGE + 1))[1])
            result[name] = summary_ms(seconds)
    return result


def main() -> None:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--entries", type=int, default=1_000_000, help="logbook entries (default 1,000,000)")
        parser.add_argument("--relations", type=int, default=10_000, help="linked relations (default 10,000)")
        parser.add_argument("--invoices", type=int, default=5_000, help="invoice journal rows (default 5,000)")
        parser.add_argument("--samples", type=int, default=320, help="keypresses per run (default 320)")

    args = arguments("Console: first frame, keypress latency under writes, logbook jumps.", extra=extra)
    with tempfile.TemporaryDirectory(prefix="pvsync-bench-console-") as folder:
        world = SimulatedWorld(Path(folder), seed="empty")
        progress(f"filling the state: {args.entries:,} logbook entries, {args.relations:,} relations")
        filled, fill_seconds = timed(lambda: fill_state(world.state_dir, entries=args.entries,
                                                        relations=args.relations, invoices=args.invoices, seed=1))
        database = paths.database_file(world.state_dir)
        runs = []
        for number in range(args.runs):
            progress(f"run {number + 1}/{args.runs}")
            figures = asyncio.run(measure_console(world, samples=args.samples, seed=number))
            figures["store_jump"] = measure_store_jumps(world.state_dir, seed=number)
            runs.append(figures)
        context = {**filled, "fill_seconds": round(fill_seconds, 1), "terminal": f"{SIZE[0]}x{SIZE[1]}",
                   "writes_per_second_target": WRITES_PER_SECOND, "peak_rss_mb": peak_rss_mb(),
                   "database_mb": round(sum(p.stat().st_size for p in database.parent.glob("*.db*")) / 2**20, 1)}
        report("console", runs, TARGETS, context=context, notes=[
            "first frames are measured on a warm OS page cache (the state was just written)",
            "keypress latency: key sent as the terminal driver sends it -> first frame after the console's "
            "state changed (cursor/page) or the target screen is shown (mode)"])
        world.close()


if __name__ == "__main__":
    main()
