"""Run one nightly run's library steps in this process, optionally pausing at a named point.

Used by tests/test_publishing.py as the child process that is read during, killed during or
raced against. Usage::

    python tests/_support/run_pipeline.py --landing L --warehouse W --reports R --date D \
        [--pause-at POINT] [--config TOML]

With ``--pause-at``, the run prints ``READY <POINT>`` (flushed) when it gets there and waits
for a line on stdin (the test kills it there, or writes a line to let it go on). Points, in run order:

- ``open``: after open_run (build copied, lock held).
- ``ingest_read``: inside ingest of web, after the landed files were read into temporary
  tables, before the ingest transaction began.
- ``ingest_txn``: inside ingest of web, inside its open transaction (rows appended to the
  raw tables, files recorded), before commit.
- ``ingest``: after every kind was ingested.
- ``stitch``, ``sessionize``, ``marts``, ``stages``, ``funnels``, ``pain_points``, ``report``:
  after that step.
- ``spilling``: after the marts, with a temporary table of about 200 MB made on the run's
  connection (with a small ``memory_limit``, DuckDB spills it to the build's spill folder).
- ``finish_insert``: in finish_run, after the pipeline_runs row was written, before the
  checkpoint.
- ``replace``: in publish_build after the checkpoint, close and fsync of the build, just
  before the os.replace that publishes it.
- ``published``: just after the os.replace, before the directory fsync and lock release.

Without ``--pause-at`` the run completes and prints ``DONE <run_id>``. Any error prints a
traceback and exits 1 (a WarehouseBusyError exits 3, so a test can tell it apart).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

PAUSE: str | None = None


def pause(point: str) -> None:
    """Announce the point and wait (to be killed, or for a line on stdin), if it is the chosen one."""
    if point == PAUSE:
        print(f"READY {point}", flush=True)
        sys.stdin.readline()


def main() -> int:
    global PAUSE
    parser = argparse.ArgumentParser()
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--reports", type=Path, required=True)
    parser.add_argument("--date", type=date.fromisoformat, required=True)
    parser.add_argument("--pause-at", default=None)
    parser.add_argument("--config", type=Path, default=None)
    args = parser.parse_args()
    PAUSE = args.pause_at

    from journey_analytics import ingest, runs, warehouse
    from journey_analytics.config import load_settings
    from journey_analytics.ingest import KINDS
    from journey_analytics.warehouse import WarehouseBusyError

    # Hooks for the points inside library functions (the library itself is not changed).
    original_load = ingest._load_landed

    def load_landed(con, kind, run_id, report):  # type: ignore[no-untyped-def]
        if kind.name == "web":
            pause("ingest_read")
        return original_load(con, kind, run_id, report)

    ingest._load_landed = load_landed

    original_record = ingest._record_files

    def record_files(con, kind, files, unreadable, run_id):  # type: ignore[no-untyped-def]
        original_record(con, kind, files, unreadable, run_id)
        if kind.name == "web":
            pause("ingest_txn")

    ingest._record_files = record_files

    original_publish = warehouse.publish_build

    def publish_build(con, build, published):  # type: ignore[no-untyped-def]
        pause("finish_insert")
        return original_publish(con, build, published)

    runs.publish_build = publish_build

    original_replace = os.replace

    def replace(src, dst, *a, **k):  # type: ignore[no-untyped-def]
        if Path(dst) == args.warehouse:
            pause("replace")
            result = original_replace(src, dst, *a, **k)
            pause("published")
            return result
        return original_replace(src, dst, *a, **k)

    os.replace = replace  # type: ignore[assignment]

    try:
        ctx = runs.open_run(args.date, args.landing, args.warehouse, args.reports, load_settings(args.config))
    except WarehouseBusyError as exc:
        print(f"BUSY {exc}", flush=True)
        return 3
    pause("open")
    try:
        for kind in KINDS:
            runs.ingest_step(ctx, kind)
        pause("ingest")
        runs.stitch_step(ctx)
        pause("stitch")
        runs.sessionize_step(ctx)
        pause("sessionize")
        runs.marts_step(ctx)
        pause("marts")
        if PAUSE == "spilling":
            # A temporary table larger than a small memory limit, which DuckDB must spill to the
            # build's spill folder: the run is surely spilling when killed here. (Whether the marts
            # themselves leave spilled blocks at a given limit varied with the machine's load: at
            # 110MB they left 3 to 7 spill files, and once, in a CI run beside other work, none.)
            ctx.con.execute(
                "create temp table spill_ballast as "
                "select i, md5(i::varchar) || md5((i + 1)::varchar) as padding from range(3000000) as t(i)"
            ).fetchall()
            pause("spilling")
        runs.stages_step(ctx)
        pause("stages")
        runs.funnels_step(ctx)
        pause("funnels")
        runs.pain_points_step(ctx)
        pause("pain_points")
        page = runs.report_step(ctx)
        pause("report")
        summary = runs.finish_run(ctx, page)
    except BaseException:
        runs.abort_run(ctx)
        raise
    print(f"DONE {summary.run_id}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
