"""Time one staging model alone, on the landed rows of a landing folder.

    python benchmarks/staging_model.py save LANDING WORK
    python benchmarks/staging_model.py time WORK web_events [--repeat 5]

``save`` reads LANDING's web, e-mail and social files as a run does and keeps each kind's landed
rows (before staging) in WORK/landed_<kind>.parquet. ``time`` builds the staging model
``stg_<kind>`` on those rows, with the code on PYTHONPATH, ``--repeat`` times, and prints the
seconds of each build. A whole run's figures move by about 10% from run to run; one model's,
timed alone and repeated, show a change of a few tenths of a second. To compare two versions of
the code, save once, then time from each checkout in turn (PYTHONPATH=<checkout>/src).
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from datetime import date
from pathlib import Path
from typing import Any

from journey_analytics import runs, warehouse
from journey_analytics.config import Settings
from journey_analytics.contract import install_contract_macros
from journey_analytics.ingest import KINDS
from journey_analytics.privacy import install_hash_macro
from journey_analytics.warehouse import run_model, run_script

STAGED = "create or replace temp table staged as select * from stg_"


class _SavingConnection:
    """A connection that, as ingest stages a kind, first writes that kind's landed rows to a file."""

    def __init__(self, con: Any, work: Path) -> None:
        self._con, self._work = con, work

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        if sql.startswith(STAGED):
            model = sql[len(STAGED):].split()[0]  # web_events, email_events, ...
            landed = f"landed_{model.removesuffix('_events')}_rows"
            target = str(self._work / f"landed_{model}.parquet").replace("'", "''")
            self._con.execute(f"copy {landed} to '{target}'").fetchall()
        return self._con.execute(sql, *args, **kwargs)


def save(landing: Path, work: Path) -> None:
    build = work / "build"
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    connect = warehouse.connect
    runs.connect = lambda *a, **k: _SavingConnection(connect(*a, **k), work)  # type: ignore[assignment]
    ctx = runs.open_run(date(2026, 12, 31), landing, build / "save.duckdb", build / "reports", Settings())
    for kind in KINDS:
        if kind.name in ("web", "email", "social"):
            runs.ingest_step(ctx, kind)
    print(f"saved {sorted(p.name for p in work.glob('landed_*.parquet'))} in {work}")


def time_model(work: Path, model: str, repeat: int) -> None:
    settings = Settings()
    con = warehouse.connect(":memory:", memory_limit=settings.warehouse.memory_limit)
    key, _ = runs.resolve_key(settings.hash_key_from_environment(), work / "timing.duckdb")
    install_hash_macro(con, key)
    install_contract_macros(con)
    for script in ("landing_macros", "refusal_macros"):
        run_script(con, "macros", script)
    con.execute(f"set variable earliest_event_year = {int(settings.ingest.earliest_event_year)}").fetchall()
    con.execute(f"set variable max_future_days = {int(settings.ingest.max_future_days)}").fetchall()
    landed = str(work / f"landed_{model}.parquet").replace("'", "''")
    con.execute(
        f"create temp table landed_{model.removesuffix('_events')}_rows as select * from '{landed}'"
    ).fetchall()
    run_model(con, "staging", f"stg_{model}")
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        con.execute(f"{STAGED}{model}").fetchall()
        seconds.append(round(time.perf_counter() - start, 2))
    print(f"stg_{model}: {seconds} s (best {min(seconds)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    saving = sub.add_parser("save")
    saving.add_argument("landing", type=Path)
    saving.add_argument("work", type=Path)
    timing = sub.add_parser("time")
    timing.add_argument("work", type=Path)
    timing.add_argument("model", choices=["web_events", "email_events", "social_events"])
    timing.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("JOURNEY_HASH_KEY", "benchmark-key")
    if args.mode == "save":
        save(args.landing, args.work)
    else:
        time_model(args.work, args.model, args.repeat)


if __name__ == "__main__":
    main()
