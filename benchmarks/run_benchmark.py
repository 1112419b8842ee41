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

    os.environ.setdefault("JOURNEY_HASH_KEY", "benchmark-key")
    warehouse = work / "bench.duckdb"
    for leftover in work.glob("bench.duckdb*"):
        leftover.unlink()
    start = time.perf_counter()
    ctx = runs.open_run(date(2026, 12, 31), landing, warehouse, work / "reports", Settings())
    try:
        runs.build_through_sessions(ctx)
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
            # to the millisecond (a tenth read 0.0 s for a small test's scan); the table shows tenths
            "scan_seconds": round(scan["seconds"], 3),
            "scan_peak_rss_mb": scan["peak_rss_mb"],
            "scan_to_file_seconds": round(scan_to_file["seconds"], 3),
            "run_seconds": round(run["seconds"], 3),
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


# The doc's reading of the figures is written by hand, measurement by measurement: a new table
# keeps it as it stands.
READING = "## Reading the numbers"


def _reading(doc: Path) -> list[str]:
    """The doc's own "Reading the numbers" section, or its heading alone for a new doc."""
    text = doc.read_text(encoding="utf-8") if doc.is_file() else ""
    return text[text.index(READING):].rstrip("\n").splitlines() if READING in text else [READING]


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
            f"| {r['rows_in_files']:,} | {r['landing_mb']} | {r['scan_seconds']:.1f} | {r['scan_to_file_seconds']:.1f} | "
            f"{r['run_seconds']:.1f} | {r['ratio_to_scan']}x | {r['ratio_to_scan_to_file']}x | {r['events_per_second']:,} | {r['run_peak_rss_mb']:,} | "
            f"{r['scan_peak_rss_mb']:,} |"
        )
    lines += ["", "Seconds per step of the full run:", ""]
    for r in results:
        steps = ", ".join(f"{k} {v:.1f}" for k, v in r["step_seconds"].items())
        lines.append(f"- {r['rows_in_files']:,} rows: {steps}")
    doc = ROOT / "docs" / "benchmarks.md"
    lines += ["", *_reading(doc), ""]
    doc.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
