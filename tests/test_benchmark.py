"""The benchmark script (make bench) runs end to end on a small landing and reports every figure
docs/benchmarks.md shows; its timings are not asserted (speed is measured, not tested)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_reports_every_figure(tmp_path: Path) -> None:
    doc = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run_benchmark.py"), "--events", "3000",
         "--work", str(tmp_path), "--no-write"],
        check=True, capture_output=True, text=True, timeout=300,
    ).stdout
    row = json.loads(out[out.index("{"):])
    assert row["rows_in_files"] > 2000
    for key in ("scan_seconds", "scan_to_file_seconds", "run_seconds", "ratio_to_scan", "ratio_to_scan_to_file"):
        assert row[key] > 0, key
    assert row["run_peak_rss_mb"] > 50 and row["scan_peak_rss_mb"] > 50  # each process's own, in MB
    assert set(row["step_seconds"]) >= {"ingest_web", "stitch_identities", "sessionize", "build_marts"}
    assert (tmp_path / "bench.duckdb").exists()  # the run published its warehouse in the work folder
    assert (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8") == doc  # --no-write wrote nothing


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated store (60 customers, 3 days)."""
    landing = tmp_path_factory.mktemp("store") / "landing"
    subprocess.run(
        [sys.executable, "-m", "journey_analytics.cli", "simulate", "--customers", "60", "--days", "3",
         "--seed", "1", "--out", str(landing)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    return landing


def test_profile_names_each_step_and_statement(landing: Path, tmp_path: Path) -> None:
    """benchmarks/profile_run.py times each step of a run and lists its slowest statements."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "profile_run.py"), str(landing), str(tmp_path / "work"), "--top", "3"],
        check=True, capture_output=True, text=True, timeout=300,
    ).stdout.splitlines()
    assert out[0].startswith("total ") and "'ingest_web'" in out[0] and "'marts'" in out[0]
    assert len(out) == 4 and all(line.split()[1] in out[0] for line in out[1:])
    assert (tmp_path / "work" / "profile.duckdb").exists()


def test_staging_model_times_one_model_on_saved_rows(landing: Path, tmp_path: Path) -> None:
    """benchmarks/staging_model.py keeps the landed rows of the event kinds, then builds one
    staging model on them as often as asked and prints each build's seconds."""
    work = tmp_path / "work"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "staging_model.py"), "save", str(landing), str(work)],
                   check=True, capture_output=True, text=True, timeout=300)
    assert sorted(p.name for p in work.glob("landed_*.parquet")) == [
        "landed_email_events.parquet", "landed_social_events.parquet", "landed_web_events.parquet"]
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "staging_model.py"), "time", str(work), "web_events", "--repeat", "2"],
        check=True, capture_output=True, text=True, timeout=300,
    ).stdout
    assert re.fullmatch(r"stg_web_events: \[[0-9.]+, [0-9.]+\] s \(best [0-9.]+\)\n", out), out


def test_memory_floor_bisects_whole_runs(landing: Path, tmp_path: Path) -> None:
    """benchmarks/memory_floor.py runs the whole nightly run at each limit it tries, halving the
    bracket, and says the smallest limit that completed (and, here, that none it tried failed)."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "memory_floor.py"), str(landing), "--low", "80", "--high", "256",
         "--step", "100", "--work", str(tmp_path / "work")],
        check=True, capture_output=True, text=True, timeout=600,
    ).stdout
    lines = out.splitlines()
    assert lines[0].startswith("256MB: completed (") and lines[1].startswith("168MB: completed ("), out
    assert lines[-1] == "completes in 168MB (2 threads); no smaller limit tried failed", out
    assert not (tmp_path / "work" / "run").exists()  # the attempts' warehouses are removed


def test_long_lines_runs_and_names_the_key_given_twice(tmp_path: Path) -> None:
    """benchmarks/long_lines.py runs over lines of many keys: the one that gives a key twice is
    refused with that key named, the other loaded."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "long_lines.py"), "--keys", "100", "3000", "--work", str(tmp_path)],
        check=True, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])},
    ).stdout.splitlines()
    assert [line.split(":")[0].strip() for line in out] == ["100 keys a line", "3,000 keys a line"], out
    assert all("; 1,001 events; quarantine [(1002" in line for line in out), out
    assert all(line.endswith("""quarantine [(1002, 'field "x5" appears more than once')]""") for line in out), out


def test_a_new_table_keeps_the_reading_written_by_hand(tmp_path: Path) -> None:
    """Writing new figures keeps the doc's "Reading the numbers" as it stands (the script held a
    copy of it, which fell behind the doc)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_benchmark", ROOT / "benchmarks" / "run_benchmark.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n| old table |\n\n## Reading the numbers\n\n- a note by hand\n", encoding="utf-8")
    assert module._reading(doc) == ["## Reading the numbers", "", "- a note by hand"]
    assert module._reading(tmp_path / "none.md") == ["## Reading the numbers"]
