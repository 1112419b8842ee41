"""Property-based ingest tests (Hypothesis): whatever mix of good, bad and repeated rows lands,
in whatever format, and whatever order the days are run in, every row read is loaded,
quarantined or a duplicate; events holds exactly the distinct valid event ids of each channel
(an event_id is unique within its channel); quarantine holds
exactly the bad rows, once each, with their reason; and running again changes nothing.
"""

from __future__ import annotations

import gzip
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import DAY1, DAY2, DAY3, Landing, jsonl_text, query, run_day

KINDS = ("web", "email", "social")
FORMATS = ("jsonl", "jsonl.gz", "csv", "parquet")
EXTENSIONS = {"jsonl": "jsonl", "jsonl.gz": "jsonl.gz", "csv": "csv", "parquet": "parquet"}
COLUMNS = {
    "web": ["event_id", "event_ts", "event_name", "anonymous_id", "rating", "value"],
    "email": ["event_id", "event_ts", "event_name", "email"],
    "social": ["event_id", "event_ts", "event_name", "platform", "handle"],
}
EVENT_IDS = [f"e{i}" for i in range(8)]  # a small pool, so ids repeat within and across files, days, kinds


def valid_row(kind: str, event_id: str, minute: int) -> dict[str, Any]:
    row = {"event_id": event_id, "event_ts": f"2026-10-01T10:{minute:02d}:00Z"}
    if kind == "web":
        return row | {"event_name": "page_view", "anonymous_id": f"a{minute % 3}"}
    if kind == "email":
        return row | {"event_name": "open", "email": f"p{minute % 3}@example.com"}
    return row | {"event_name": "like", "platform": "x", "handle": f"h{minute % 3}"}


# A breach of the contract: how to make a valid row break it, and the reason it must get.
BREACHES: dict[str, tuple[tuple[str, Any], str]] = {
    "no event_id": (("event_id", None), "missing required field event_id"),
    "no event_ts": (("event_ts", None), "missing required field event_ts"),
    "no event_name": (("event_name", None), "missing required field event_name"),
    "unreadable event_ts": (
        ("event_ts", "soon"), 'event_ts "soon" is not a timestamp (ISO-8601 with offset, or epoch milliseconds)'
    ),
    "far past": (("event_ts", "1999-12-31T00:00:00Z"), "event_ts 1999-12-31 is before 2000-01-01"),
    "far future": (("event_ts", "2100-01-01T00:00:00Z"), None),  # reason names the arrival day
}
KIND_BREACHES: dict[str, dict[str, tuple[tuple[str, Any], str]]] = {
    "web": {
        "no anonymous_id": (("anonymous_id", None), "web event needs an anonymous_id or a user_id"),
        "rating 9": (("rating", "9"), "rating 9 is outside 1 to 5"),
        "value abc": (("value", "abc"), 'value "abc" is not a number'),
    },
    "email": {"no email": (("email", None), "missing required field email")},
    "social": {
        "no handle": (("handle", None), "missing required field handle"),
        "no platform": (("platform", None), "missing required field platform"),
    },
}
JSON_ONLY_BREACHES = {
    "not JSON": "line is not valid JSON",
    "nested event_name": "event_name must be text, not a JSON object or list",
}


@dataclass(frozen=True)
class Row:
    """One generated row: its content (a dict, or a raw line), and the reason it must be refused."""

    content: dict[str, Any] | str
    error: str | None
    event_id: str | None


@dataclass(frozen=True)
class LandedFile:
    kind: str
    day: date
    fmt: str
    rows: tuple[Row, ...]


@st.composite
def rows_for(draw: st.DrawFn, kind: str, fmt: str, day: date) -> Row:
    event_id = draw(st.sampled_from(EVENT_IDS))
    row = valid_row(kind, event_id, draw(st.integers(0, 59)))
    breaches = dict(BREACHES) | KIND_BREACHES[kind]
    names = ["valid"] * 3 + sorted(breaches) + (sorted(JSON_ONLY_BREACHES) if fmt.startswith("jsonl") else [])
    name = draw(st.sampled_from(names))
    if name == "valid":
        return Row(row, None, event_id)
    if name == "not JSON":
        return Row("{not json " + event_id, JSON_ONLY_BREACHES[name], None)
    if name == "nested event_name":
        return Row(row | {"event_name": {"name": row["event_name"]}}, JSON_ONLY_BREACHES[name], None)
    (field, value), error = breaches[name]
    row = {k: v for k, v in (row | {field: value}).items() if v is not None}
    if name == "far future":
        error = f"event_ts 2100-01-01 00:00 is after the arrival day {day.isoformat()} and the 1 day(s) after it that [ingest] max_future_days allows"
    return Row(row, error, None)


@st.composite
def landed_files(draw: st.DrawFn) -> LandedFile:
    kind = draw(st.sampled_from(KINDS))
    fmt = draw(st.sampled_from(FORMATS))
    day = draw(st.sampled_from([DAY1, DAY2, DAY3]))
    rows = draw(st.lists(rows_for(kind, fmt, day), min_size=1, max_size=6))
    return LandedFile(kind, day, fmt, tuple(rows))


def write(landing: Landing, index: int, f: LandedFile) -> tuple[str, list[int]]:
    """Write one file; its source_file and the line number of each of its rows."""
    name = f"f{index}.{EXTENSIONS[f.fmt]}"
    contents = [r.content for r in f.rows]
    if f.fmt == "jsonl":
        landing.jsonl(f.kind, f.day, name, contents)
    elif f.fmt == "jsonl.gz":
        landing.binary(f.kind, f.day, name, gzip.compress(jsonl_text(contents).encode()))
    elif f.fmt == "csv":
        landing.csv(f.kind, f.day, name, COLUMNS[f.kind], contents)  # type: ignore[arg-type]
    else:
        columns = {c: pa.array([r.get(c) for r in contents], pa.string()) for c in COLUMNS[f.kind]}  # type: ignore[union-attr]
        landing.parquet(f.kind, f.day, name, pa.table(columns))
    first = 2 if f.fmt == "csv" else 1
    return f"{f.kind}/dt={f.day.isoformat()}/{name}", [first + i for i in range(len(f.rows))]


SNAPSHOT = {
    "events": "select * from events order by channel, event_id",
    "quarantine": "select * exclude (run_id, ingested_at) from quarantine order by all",
    "raw.web_events": "select * exclude (run_id) from raw.web_events order by all",
    "raw.email_events": "select * exclude (run_id) from raw.email_events order by all",
    "raw.social_events": "select * exclude (run_id) from raw.social_events order by all",
}


def snapshot(warehouse: Path) -> dict[str, list[tuple[Any, ...]]]:
    return {table: query(warehouse, sql) for table, sql in SNAPSHOT.items()}


def assert_counts_balance(warehouse: Path) -> None:
    assert query(
        warehouse,
        "select run_id from pipeline_runs where rows_read <> rows_loaded + rows_quarantined + rows_duplicate",
    ) == []
    assert query(
        warehouse,
        "select source_file from raw.ingested_files where rows_read <> rows_loaded + rows_quarantined + rows_duplicate",
    ) == []


@settings(max_examples=7, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    files=st.lists(landed_files(), min_size=1, max_size=6),
    run_days=st.lists(st.sampled_from([DAY1, DAY2, DAY3]), min_size=1, max_size=3),
)
def test_every_row_is_loaded_quarantined_or_a_duplicate(files: list[LandedFile], run_days: list[date]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        landing = Landing(Path(tmp) / "landing")
        warehouse = Path(tmp) / "warehouse" / "journey.duckdb"
        written = [(f, *write(landing, i, f)) for i, f in enumerate(files)]

        summaries = [run_day(landing, warehouse, day) for day in run_days]

        last = max(run_days)
        arrived = [(f, source, lines) for f, source, lines in written if f.day <= last]
        # an event is known by its channel and event_id
        good_ids = {(f.kind, r.event_id) for f, _, _ in arrived for r in f.rows if r.error is None}
        bad_rows = sorted(
            (f.kind, source, line_no, r.error)
            for f, source, lines in arrived
            for r, line_no in zip(f.rows, lines, strict=True)
            if r.error is not None
        )
        n_rows = sum(len(f.rows) for f, _, _ in arrived)

        for s in summaries:
            assert s.rows_read == s.rows_loaded + s.rows_quarantined + s.rows_duplicate
        assert sum(s.rows_read for s in summaries) == n_rows
        assert sum(s.rows_loaded for s in summaries) == len(good_ids)
        assert sum(s.rows_quarantined for s in summaries) == len(bad_rows)
        assert_counts_balance(warehouse)
        assert set(query(warehouse, "select channel, event_id from events")) == good_ids
        assert query(warehouse, "select count(*) = count(distinct (channel, event_id)) from events") == [(True,)]
        assert query(warehouse, "select channel, source_file, line_no, error from quarantine order by all") == bad_rows

        # Running the last day again (the files unchanged) reads nothing and changes nothing.
        before = snapshot(warehouse)
        again = run_day(landing, warehouse, last)
        assert (again.rows_read, again.rows_loaded, again.rows_quarantined) == (0, 0, 0)
        assert snapshot(warehouse) == before
        assert_counts_balance(warehouse)


@settings(max_examples=2, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=st.lists(landed_files(), min_size=2, max_size=6), order=st.permutations([DAY1, DAY2, DAY3]))
def test_day_order_does_not_change_what_loads(files: list[LandedFile], order: list[date]) -> None:
    """Days run in any order end with the same event ids and the same quarantine as in order."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        landing = Landing(Path(tmp) / "landing")
        for i, f in enumerate(files):
            write(landing, i, f)
        for n, days in enumerate(([DAY1, DAY2, DAY3], list(order))):
            warehouse = Path(tmp) / f"warehouse{n}" / "journey.duckdb"
            for day in days:
                run_day(landing, warehouse, day)
            assert_counts_balance(warehouse)
            results.append((
                query(warehouse, "select channel, event_id from events order by all"),
                query(warehouse, "select channel, source_file, line_no, error from quarantine order by all"),
            ))
    assert results[0] == results[1]
