"""Time each step of one nightly run, and its slowest SQL statements, on a landing folder.

    python benchmarks/profile_run.py LANDING WORK [--top 20]

Runs the steps the benchmark times (ingest, stitching, sessions, marts, publish) into a fresh
WORK/profile.duckdb and prints seconds per step and the statements that took longest. To compare
two versions of the code on one machine, run it from each checkout back to back (with
PYTHONPATH=<checkout>/src), as the figures of one machine move by about 10% from run to run.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date
from pathlib import Path
from typing import Any

from journey_analytics import runs, warehouse
from journey_analytics.config import Settings
from journey_analytics.ingest import KINDS


class _TimedConnection:
    """A DuckDB connection whose execute calls are timed into ``log``."""

    def __init__(self, con: Any, log: list[tuple[float, str, str]], step: list[str]) -> None:
        self._con, self._log, self._step = con, log, step

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        result = self._con.execute(sql, *args, **kwargs)
        self._log.append((time.perf_counter() - start, self._step[0], " ".join(sql.split())[:140]))
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("landing", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("JOURNEY_HASH_KEY", "benchmark-key")
    args.work.mkdir(parents=True, exist_ok=True)
    for leftover in args.work.glob("profile.duckdb*"):
        leftover.unlink()
    log: list[tuple[float, str, str]] = []
    step = ["open"]
    connect = warehouse.connect
    runs.connect = lambda *a, **k: _TimedConnection(connect(*a, **k), log, step)  # type: ignore[assignment]
    seconds: dict[str, float] = {}

    def timed(name: str, action: Any) -> Any:
        step[0] = name
        start = time.perf_counter()
        result = action()
        seconds[name] = round(time.perf_counter() - start, 2)
        return result

    start = time.perf_counter()
    ctx = timed("open", lambda: runs.open_run(date(2026, 12, 31), args.landing, args.work / "profile.duckdb",
                                               args.work / "reports", Settings()))
    for kind in KINDS:
        timed(f"ingest_{kind.name}", lambda kind=kind: runs.ingest_step(ctx, kind))
    timed("stitch", lambda: runs.stitch_step(ctx))
    timed("sessionize", lambda: runs.sessionize_step(ctx))
    timed("marts", lambda: runs.marts_step(ctx))
    timed("finish", lambda: runs.finish_run(ctx, args.work / "reports" / "none.html"))
    print(f"total {time.perf_counter() - start:.2f} s; per step: {seconds}")
    for took, name, sql in sorted(log, reverse=True)[: args.top]:
        print(f"{took:7.2f}  {name:18} {sql}")


if __name__ == "__main__":
    main()
