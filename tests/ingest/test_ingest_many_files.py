"""A day delivered as many small files (hourly exports per partition, some empty) costs ingest in
proportion to its files: no statement per JSONL file (they are read in one scan and recorded in
one statement, also when one of them cannot be read), and no Python work that grows with the
square of the files."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from journey_analytics import runs
from journey_analytics.config import load_settings
from journey_analytics.ingest import web
from journey_analytics.ingest._landing import find_landing_files
from tests.conftest import DAY1, DAY2, DAY3, Landing, query, run_day

GOOD = {"event_id": "e1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1"}


def _landing(root: Path, jsonl_files: int, broken: bool) -> Landing:
    """A day of web files: ``jsonl_files`` small JSONL exports (every fifth gzipped, every
    seventh empty), beside the same few CSV files, a file of a type not read and, with
    ``broken``, a gzip file that is not one."""
    landing = Landing(root)
    for i in range(jsonl_files):
        rows = [
            {"event_id": f"e{i}-{j}", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": f"a{i}"}
            for j in range(i % 3 + 1)
        ]
        if i % 7 == 0:
            landing.text("web", DAY1, f"part-{i:04d}.jsonl", "")
        elif i % 5 == 0:
            landing.jsonl_gz("web", DAY1, f"part-{i:04d}.jsonl.gz", rows)
        else:
            landing.jsonl("web", DAY1, f"part-{i:04d}.jsonl", rows)
    header = ["event_id", "event_ts", "event_name", "anonymous_id"]
    landing.csv("web", DAY1, "export-a.csv", header, [{"event_id": "c1", "event_ts": "2026-10-01T11:00:00Z",
                                                        "event_name": "page_view", "anonymous_id": "c"}])
    landing.csv("web", DAY1, "export-b.csv", header, [])  # a header only
    landing.text("web", DAY1, "manifest.txt", "parts\n")
    if broken:
        landing.binary("web", DAY1, "broken.jsonl.gz", b"not gzip")
    return landing


def _parquet_landing(root: Path, parquet_files: int, broken: bool) -> Landing:
    """A day of web files: ``parquet_files`` small Parquet exports, every third with a typed
    timestamp column instead of text (another schema), every seventh empty (0 bytes), and with
    ``broken`` a file named .parquet that is not one and a Parquet file whose pages are damaged."""
    landing = Landing(root)
    for i in range(parquet_files):
        if i % 7 == 0:
            landing.binary("web", DAY1, f"part-{i:04d}.parquet", b"")
            continue
        rows = i % 3 + 1
        ts: pa.Array = pa.array(["2026-10-01T10:00:00Z"] * rows)
        if i % 3 == 0:
            ts = pa.array([datetime(2026, 10, 1, 10, 0, tzinfo=UTC)] * rows, pa.timestamp("ms", tz="UTC"))
        landing.parquet("web", DAY1, f"part-{i:04d}.parquet", pa.table({
            "event_id": [f"e{i}-{j}" for j in range(rows)],
            "event_ts": ts,
            "event_name": ["page_view"] * rows,
            "anonymous_id": [f"a{i}"] * rows,
            "user_id": pa.array([None] * rows, pa.string()),
        }))
    if broken:
        landing.binary("web", DAY1, "broken.parquet", b"not parquet")
        # a file whose footer (its schema) reads and whose pages do not: found by a scan failing
        damaged = bytearray(landing.parquet("web", DAY1, "damaged.parquet", pa.table({
            "event_id": [f"d{j}" for j in range(100)], "event_ts": ["2026-10-01T10:00:00Z"] * 100,
        })).read_bytes())
        footer = int.from_bytes(damaged[-8:-4], "little")
        damaged[4:len(damaged) - 8 - footer] = b"\xff" * (len(damaged) - 12 - footer)
        landing.binary("web", DAY1, "damaged.parquet", bytes(damaged))
    return landing


def _ingest_web(tmp_path: Path, files: int, broken: bool = False, make: Callable = _landing) -> tuple[int, int, Path]:
    """Ingest the web files of :func:`_landing` (or ``make``) in a run that publishes; returns the
    statements ingest ran, the Python function calls it made, and the warehouse."""
    landing = make(tmp_path / f"landing-{files}", files, broken)
    warehouse = tmp_path / f"w-{files}" / "journey.duckdb"
    ctx = runs.open_run(DAY1, landing.root, warehouse, tmp_path / "reports", load_settings(None))
    calls = 0

    def count(frame: object, event: str, arg: object) -> None:
        nonlocal calls
        if event == "call":
            calls += 1

    try:
        ctx.con.execute("call enable_logging('QueryLog')").fetchall()
        sys.setprofile(count)
        try:
            runs.ingest_step(ctx, web.KIND)
        finally:
            sys.setprofile(None)
        ctx.con.execute("call disable_logging()").fetchall()
        ((statements,),) = ctx.con.execute("select count(*) from duckdb_logs where type = 'QueryLog'").fetchall()
        ctx.con.execute("call truncate_duckdb_logs()").fetchall()
        runs.finish_run(ctx, tmp_path / "no-page")
    except BaseException:
        runs.abort_run(ctx)
        raise
    return int(statements), calls, warehouse


def _check_loaded(warehouse: Path, jsonl_files: int, broken: bool) -> None:
    """Every file recorded once, its rows loaded; the files that cannot be read in quarantine."""
    n = jsonl_files + 3 + broken
    assert query(warehouse, "select count(*), count(distinct source_file) from raw.ingested_files") == [(n, n)]
    assert query(warehouse, "select sum(rows_loaded) from raw.ingested_files") == [
        (sum(i % 3 + 1 for i in range(jsonl_files) if i % 7) + 1,)
    ]
    assert query(warehouse, "select source_file from quarantine order by 1") == [
        *([("web/dt=2026-10-01/broken.jsonl.gz",)] if broken else []), ("web/dt=2026-10-01/manifest.txt",),
    ]


class TestManySmallFiles:
    """Four times the JSONL files: the same statements, and about four times the Python work."""

    def test_cost_grows_with_the_files_not_faster(self, tmp_path: Path) -> None:
        _ingest_web(tmp_path, 20)  # warms up what is imported on first use
        few_statements, few_calls, few = _ingest_web(tmp_path, 60)
        many_statements, many_calls, many = _ingest_web(tmp_path, 240)

        _check_loaded(few, 60, broken=False)
        _check_loaded(many, 240, broken=False)
        assert many_statements == few_statements
        assert many_calls < 5 * few_calls, (few_calls, many_calls)

    def test_one_file_that_cannot_be_read_does_not_make_every_file_read_alone(self, tmp_path: Path) -> None:
        """A truncated gzip among the exports is found by halving the scan, not by a read per file."""
        few_statements, _, few = _ingest_web(tmp_path, 60, broken=True)
        many_statements, _, many = _ingest_web(tmp_path, 240, broken=True)

        _check_loaded(few, 60, broken=True)
        _check_loaded(many, 240, broken=True)
        assert many_statements - few_statements < 240 - 60, (few_statements, many_statements)

class TestManyParquetFiles:
    """Parquet files are read in a scan for each schema: one statement per file (its schema
    read), not a read of its own. A file that is not Parquet is left to be read alone, to say why;
    one whose pages are damaged makes its scan fail, and is found by halving the scan."""

    def _check(self, warehouse: Path, files: int, broken: bool) -> None:
        n = files + 2 * broken
        assert query(warehouse, "select count(*), count(distinct source_file) from raw.ingested_files") == [(n, n)]
        expected = [
            (f"web/dt=2026-10-01/part-{i:04d}.parquet", j + 1, f"e{i}-{j}", datetime(2026, 10, 1, 10, 0))
            for i in range(files) if i % 7 for j in range(i % 3 + 1)
        ]
        assert query(
            warehouse, "select source_file, line_no, event_id, event_ts from raw.web_events order by source_file, line_no"
        ) == expected
        errors = query(warehouse, "select source_file from raw.ingested_files where file_error is not null order by 1")
        assert errors == ([("web/dt=2026-10-01/broken.parquet",), ("web/dt=2026-10-01/damaged.parquet",)] if broken else [])

    def test_one_statement_per_file_and_broken_files_found(self, tmp_path: Path) -> None:
        _ingest_web(tmp_path / "warm", 20, make=_parquet_landing)
        few_statements, _, few = _ingest_web(tmp_path, 60, broken=True, make=_parquet_landing)
        many_statements, _, many = _ingest_web(tmp_path, 240, broken=True, make=_parquet_landing)

        self._check(few, 60, broken=True)
        self._check(many, 240, broken=True)
        # a read of each file alone ran two statements a file (its schema, its rows): 308 more
        assert many_statements - few_statements <= 1.2 * (240 - 60), (few_statements, many_statements)


class TestListingTheLandingFolder:
    """Every run lists every dt= folder up to its day (a file may come late to any of them), so
    a year of hourly exports is listed each night: each folder once, each file's stat once."""

    def test_each_folder_listed_once_and_each_file_stat_once(self, tmp_path: Path) -> None:
        landing = Landing(tmp_path / "landing")
        days = [DAY1.replace(day=d) for d in (1, 2, 3)]
        for day in days:
            for i in range(40):
                landing.text("web", day, f"part-h{i % 24:02d}-{i:03d}.jsonl", "")
        landing.text("web", days[0], "_SUCCESS", "")
        system_calls: list[str] = []

        def count(frame: object, event: str, arg: object) -> None:
            name = getattr(arg, "__name__", "")
            if event == "c_call" and name in ("stat", "lstat", "listdir", "scandir"):
                system_calls.append(name)

        sys.setprofile(count)
        try:
            files = find_landing_files(landing.root, web.KIND, days[-1])
        finally:
            sys.setprofile(None)

        assert [f.source_file for f in files][:2] == ["web/dt=2026-10-01/part-h00-000.jsonl", "web/dt=2026-10-01/part-h00-024.jsonl"]
        assert len(files) == 120
        stats = system_calls.count("stat") + system_calls.count("lstat")
        listings = system_calls.count("listdir") + system_calls.count("scandir")
        assert stats <= len(files) + 10, stats  # (it was three a file)
        assert listings <= len(days) + 3, listings  # (it was three a dt= folder)


class TestStrayFilesTriedEveryRun:
    """A file that cannot be read is tried again on every run, and named by each; it is recorded
    in raw.ingested_files again only when it changed or fails for another reason, so the files
    a stray checksum or marker adds do not grow with the square of the nights it lies there."""

    def test_one_row_while_it_stays_as_it_is(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "part-0.jsonl", [GOOD])
        stray = landing.text("web", DAY1, "part-0.jsonl.md5", "d41d8cd98f00b204e9800998ecf8427e\n")
        landing.jsonl("web", DAY2, "part-0.jsonl", [dict(GOOD, event_id="e2")])
        landing.jsonl("web", DAY3, "part-0.jsonl", [dict(GOOD, event_id="e3")])
        reason = "unsupported file type (expected .jsonl, .jsonl.gz, .csv or .parquet)"

        for day in (DAY1, DAY2, DAY2):
            summary = run_day(landing, warehouse, day)
            assert summary.file_errors == [f"web/dt=2026-10-01/part-0.jsonl.md5: {reason}"]
        stray.write_text("0cc175b9c0f1b6a831c399e269772661\n")  # delivered again, changed
        run_day(landing, warehouse, DAY3)

        assert query(
            warehouse,
            "select source_file, size_bytes, file_error from raw.ingested_files where file_error is not null order by read_at",
        ) == [("web/dt=2026-10-01/part-0.jsonl.md5", 33, reason)] * 2
        assert query(warehouse, "select source_file, error from quarantine") == [("web/dt=2026-10-01/part-0.jsonl.md5", reason)]
        assert query(warehouse, "select count(*) from events") == [(3,)]
