"""Ingest benchmark: simulate N events, time a full run (ingest to published marts), and
compare with a bare DuckDB scan of the same files.

    python benchmarks/run_benchmark.py --events 1000000 10000000

Each measurement runs in a fresh child process, so its peak RSS is its own. Results are
printed and written to docs/benchmarks.md (use --no-write to only print).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAYS = 30
START = date(2026, 10, 1)


def _child_scan(landing: Path, database: Path | None = None) -> dict:
    """Materialize every landing file with DuckDB's own readers, nothing else: into memory, or
    (with ``database``) into tables of a database file, to show what writing alone costs."""
    import duckdb

    if database is not None:
        for leftover in database.parent.glob(database.name + "*"):
            leftover.unlink()
    con = duckdb.connect(str(database) if database is not None else ":memory:")
    table = "scanned" if database is None else "main.scanned_{kind}"
    start = time.perf_counter()
    rows = 0
    for kind in ("web", "email", "social"):
        for pattern, reader in (
            ("*.jsonl.gz", "read_json_auto"), ("*.jsonl", "read_json_auto"),
            ("*.csv", "read_csv_auto"), ("*.parquet", "read_parquet"),
        ):
            files = sorted(str(p) for p in (landing / kind).glob(f"dt=*/{pattern}"))
            if not files:
                continue
            target = table.format(kind=kind)
            con.execute(
                # ignore_errors: the files hold a share of deliberately broken rows
                f"create or replace {'temp ' if database is None else ''}table {target} as "
                f"select * from {reader}({files!r}, union_by_name = true"
                + (", ignore_errors = true)" if reader != "read_parquet" else ")")
            ).fetchall()
            rows += con.execute(f"select count(*) from {target}").fetchall()[0][0]
    if database is not None:
        con.execute("checkpoint").fetchall()
    return {"seconds": time.perf_counter() - start, "rows": rows}


def _child_run(landing: Path, work: Path) -> dict:
    """One full nightly run (without the orchestrator) into a fresh warehouse."""
    from journey_analytics import runs
    from journey_analytics.config import Settings
    from journey_analytics.ingest import KINDS

    os.environ.setdefault("JOURNEY_HASH_KEY", "benchmark-key")
    warehouse = work / "bench.duckdb"
    for leftover in work.glob("bench.duckdb*"):
        leftover.unlink()
    start = time.perf_counter()
    ctx = runs.open_run(date(2026, 12, 31), landing, warehouse, work / "reports", Settings())
    try:
        for kind in KINDS:
            runs.ingest_step(ctx, kind)
        runs.stitch_step(ctx)
        runs.sessionize_step(ctx)
        runs.marts_step(ctx)
        summary = runs.finish_run(ctx, work / "reports" / "none.html")
    except BaseException:
        runs.abort_run(ctx)
        raise
    return {
        "seconds": time.perf_counter() - start,
        "rows_read": summary.rows_read,
        "events": summary.table_rows.get("events"),
        "step_seconds": summary.step_seconds,
    }


def _in_child(mode: str, *args: str) -> dict:
    """Run a measurement in a fresh process; return its result with that process's peak RSS."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, *args],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _simulate(events: int, out: Path, formats: str) -> dict:
    """Simulate about ``events`` event rows (calibrated on a small run), reusing an earlier one."""
    from journey_analytics.simulate import simulate

    marker = out / "_truth" / "summary.json"
    if marker.exists():
        return json.loads(marker.read_text())
    probe = out.with_name(out.name + "-probe")
    shutil.rmtree(probe, ignore_errors=True)
    small = simulate(out=probe, customers=1000, days=DAYS, seed=1, start=START, formats=formats)
    shutil.rmtree(probe)
    customers = max(1, round(events / (small.n_events_written / 1000)))
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    result = simulate(out=out, customers=customers, days=DAYS, seed=1, start=START, formats=formats)
    seconds = time.perf_counter() - start
    summary = json.loads(marker.read_text())
    summary["simulate_seconds"] = round(seconds, 1)
    summary["customers"] = customers
    summary["n_events_written"] = result.n_events_written
    marker.write_text(json.dumps(summary, indent=2, default=str))
    return summary


def _size_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--format", default="jsonl.gz", help="landing file format (default: %(default)s)")
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "out")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, *rest = args.child
        if mode == "scan":
            result = _child_scan(Path(rest[0]))
        elif mode == "scan-to-file":
            result = _child_scan(Path(rest[0]), Path(rest[1]) / "scan.duckdb")
        else:
            result = _child_run(Path(rest[0]), Path(rest[1]))
        # this process's own peak (RUSAGE_CHILDREN in the parent is a maximum over all children)
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        print(json.dumps(result, default=str))
        return

    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    for n in args.events:
        landing = args.work / f"landing-{n}-{args.format}"
        print(f"simulating about {n:,} events into {landing} ...", flush=True)
        sim = _simulate(n, landing, args.format)
        scan = _in_child("scan", str(landing))
        scan_to_file = _in_child("scan-to-file", str(landing), str(args.work))
        run = _in_child("run", str(landing), str(args.work))
        row = {
            "target_events": n,
            "rows_in_files": sim["n_events_written"],
            "customers": sim.get("customers"),
            "landing_mb": _size_mb(landing),
            "simulate_seconds": sim.get("simulate_seconds"),
            "scan_seconds": round(scan["seconds"], 1),
            "scan_peak_rss_mb": scan["peak_rss_mb"],
            "scan_to_file_seconds": round(scan_to_file["seconds"], 1),
            "run_seconds": round(run["seconds"], 1),
            "run_peak_rss_mb": run["peak_rss_mb"],
            "events_per_second": round(run["rows_read"] / run["seconds"]),
            "ratio_to_scan": round(run["seconds"] / scan["seconds"], 2),
            "ratio_to_scan_to_file": round(run["seconds"] / scan_to_file["seconds"], 2),
            "step_seconds": run["step_seconds"],
        }
        results.append(row)
        print(json.dumps(row, indent=2), flush=True)
    if not args.no_write:
        _write_doc(results, args)


ANALYSIS = [
    "## Reading the numbers",
    "",
    "- The aim is a full run within 3 times a bare scan. It is not met: about 4 times at 1M events",
    "  and 7 times at 10M (3.8 to 4.3 and 6.8 to 7.0 over three measurements on 2026-11-25; it was",
    "  5.4 and 11.3 times before the work of that day). Against a scan",
    "  that writes the same rows into a database file (the column \"scan into a file\") the run takes",
    "  about 3 and 4.3 times. From run to run on this machine the figures move by about 10%, the",
    "  scans as much as the runs (the 1M scan took 2.1 to 2.4 s on 2026-11-25).",
    "- Why the gap remains: the bare scan parses each JSON line once, straight into columns, and keeps",
    "  the result in memory. The run also keeps each line's text and number (for quarantine), checks",
    "  the contract row by row, masks personal data, de-duplicates, stitches and sessionizes, and",
    "  writes every event to disk twice: to the raw tables (the ledger later runs rebuild from) and",
    "  to `events`, then writes `sessions`. Writing a table of 1M rows into a DuckDB file costs about",
    "  0.5 s more than keeping it in memory, compressed or not.",
    "- What made it faster: DuckDB keeps a copy of a CTE that a query reads more than once, so the",
    "  models that read a wide CTE twice (de-duplication, sessionization, identity links, sessions)",
    "  now read narrow inputs or the source again (at 10M: de-duplication 20 s to 9 s, the events",
    "  mart 31 s to 17 s); the properties column and the key checks run only for records with more",
    "  keys than contract fields (web staging 2.9 s to 1.6 s at 1M); masking patterns run only on",
    "  text with an `@` (or `%40`); line numbers come from a group-by instead of a window over every",
    "  line; sessionization makes one window pass fewer; the landed lines are freed once staged; the",
    "  publish loads scikit-learn only when a retrained stage model waits to move in (a second of",
    "  every run without the stage step); `sessions` is one aggregation pass over the events (its",
    "  first and landing events by `arg_min`) instead of a group-by joined back to the events (at",
    "  10M: 6.5 s to 2.5 s).",
    "- Tried and left: staging a batch straight from the scan's table through a view (no copy of the",
    "  lines) saved about 10% of web ingest at 10M, but with a small memory limit the run failed where",
    "  the copy spills; writing without insertion order during ingest, or without compression, gave",
    "  nothing.",
    "- Measured 2026-11-26 (no change to the hot path since): the run is bound by work, not by",
    "  memory or waiting. At 10M events it took 81 s with `memory_limit` 16GB against 84 s with",
    "  the default 4GB, and kept both cores busy (190% CPU); at 1M it spends 13.7 CPU seconds",
    "  against the scan's 3.9. Staging costs the same per web row at 1M and 10M (2.6 and 2.8 us),",
    "  while the bare scan gets cheaper per row as files grow, which is why the ratio grows with",
    "  size. In web staging at 1M, parsing (json_valid, from_json) is 0.34 s of 1.7 s and no other",
    "  piece stands out (trimming text 0.24 s, the rest under 0.15 s each); counting keys without",
    "  building their list, counting given fields without a list, and sessionizing on the device",
    "  ids instead of one prefixed key gave nothing measurable. The `events` mart (19 s at 10M)",
    "  spends, as profiled at 1M, 45% of its CPU writing and a third in its three window passes.",
    "- Measured again later on 2026-11-26, after that day's changes (guest orders linked by order_id,",
    "  money kept as DECIMAL, the line reader's buffer sized to the line limit): 1M events 9.1 s against",
    '  a 2.3 s scan (3.9x), 10M 80.7 s against 11.9 s (6.8x), peak RSS 908 and 4,147 MB; no change',
    "  beyond the usual 10%. The reader's smaller buffer (32 MiB instead of 256 MiB a thread for 16 MiB",
    "  lines) read 1M events' web lines as fast (0.39 s against 0.46 s).",
    "- Where to look next: writing each event once (keeping only keys and provenance in the raw",
    "  tables and building `events` from the last `events` and the new rows). That changes what the",
    "  raw tables hold, so `journey forget` and warehouses built by earlier versions need a migration.",
    "- Memory is bounded by `[warehouse] memory_limit` (default 4GB): DuckDB spills to a folder",
    "  beside the warehouse instead of growing. Peak RSS is each measured process's own.",
]


def _write_doc(results: list[dict], args: argparse.Namespace) -> None:
    lines = [
        "# Benchmarks",
        "",
        "A full run (ingest of every landing file, validation, quarantine, de-duplication,",
        "identity stitching, sessionization, the marts, and the atomic publish) against a bare",
        "DuckDB scan that only materializes the same files in memory with DuckDB's own readers,",
        "and against the same scan writing its tables into a database file.",
        "",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}; "
        f"landing format {args.format}; {DAYS} simulated days; measured {date.today().isoformat()}.",
        "",
        "Reproduce: `make bench` (or `.venv/bin/python benchmarks/run_benchmark.py --events "
        + " ".join(str(r["target_events"]) for r in results) + f" --format {args.format}`).",
        "",
        "| event rows in files | landing MB | bare scan s | scan into a file s | full run s | run / scan | run / scan into a file | events/s | peak RSS run MB | peak RSS scan MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['rows_in_files']:,} | {r['landing_mb']} | {r['scan_seconds']} | {r['scan_to_file_seconds']} | "
            f"{r['run_seconds']} | {r['ratio_to_scan']}x | {r['ratio_to_scan_to_file']}x | {r['events_per_second']:,} | {r['run_peak_rss_mb']:,} | "
            f"{r['scan_peak_rss_mb']:,} |"
        )
    lines += ["", "Seconds per step of the full run:", ""]
    for r in results:
        steps = ", ".join(f"{k} {v:.1f}" for k, v in r["step_seconds"].items())
        lines.append(f"- {r['rows_in_files']:,} rows: {steps}")
    lines += ["", *ANALYSIS, ""]
    (ROOT / "docs" / "benchmarks.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
