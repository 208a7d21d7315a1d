"""A cProfile of a benchmarked run, written for `snakeviz`/`pstats` and summarised in the JSON."""

from __future__ import annotations

import cProfile
import io
import pstats
from pathlib import Path
from typing import Any, Callable


def write_profile(profiler: cProfile.Profile, path: Path, *, top: int = 15) -> dict[str, Any]:
    """Save the profile to `path` and return its top costs (cumulative and own time)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(str(path))
    stats = pstats.Stats(profiler, stream=io.StringIO())
    return {"file": str(path), "top_cumulative": _top(stats, "cumulative", top), "top_own": _top(stats, "tottime", top)}


def _top(stats: pstats.Stats, key: str, count: int) -> list[dict[str, Any]]:
    stats.sort_stats(key)
    rows = []
    for function in stats.fcn_list[:count]:  # type: ignore[attr-defined]
        calls, _, own, cumulative, _ = stats.stats[function]  # type: ignore[attr-defined]
        filename, line, name = function
        rows.append({"function": f"{Path(filename).name}:{line}({name})", "calls": calls,
                     "own_s": round(own, 3), "cumulative_s": round(cumulative, 3)})
    return rows


def profiled(path: Path | None, action: Callable[[], Any]) -> tuple[Any, dict[str, Any] | None]:
    """Run `action`, under cProfile when `path` is given (the calling thread only: work in
    other threads, such as the loopback simulators, is not in it)."""
    if path is None:
        return action(), None
    profiler = cProfile.Profile()
    result = profiler.runcall(action)
    return result, write_profile(profiler, path)
