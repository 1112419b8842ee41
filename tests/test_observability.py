"""Every run leaves its health in pipeline_runs: a success with its counts, or a failure with its reason."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from journey_analytics import runs
from journey_analytics.config import Settings
from journey_analytics.ingest import KINDS
from tests.conftest import Landing, query, run_day

DAY1, DAY2 = date(2026, 10, 1), date(2026, 10, 2)


def _web(landing: Landing, day: date, event_id: str) -> None:
    landing.jsonl("web", day, f"{event_id}.jsonl", [
        {"event_id": event_id, "event_ts": f"{day.isoformat()}T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1"}
    ])


def _fail_the_second_day(landing: Landing, warehouse: Path, message: str) -> None:
    """Day 1 runs; day 2 ingests, then fails with a RuntimeError of ``message``."""
    _web(landing, DAY1, "e1")
    run_day(landing, warehouse, DAY1)
    _web(landing, DAY2, "e2")
    ctx = runs.open_run(DAY2, landing.root, warehouse, warehouse.parent / "reports", Settings())
    for kind in KINDS:
        runs.ingest_step(ctx, kind)
    runs.abort_run(ctx, RuntimeError(message))


class TestFailedRunIsRecorded:
    """A failed run publishes none of its data but records status 'failed' and its error."""

    def test_failure_row_and_data_unchanged(self, landing: Landing, warehouse: Path) -> None:
        _fail_the_second_day(landing, warehouse, "disk full\nmore detail")

        assert query(warehouse, "select event_id from events") == [("e1",)]
        rows = query(warehouse, "select as_of_date, status, error, rows_read from pipeline_runs order by started_at")
        assert rows == [(DAY1, "success", None, 1), (DAY2, "failed", "RuntimeError: disk full", 0)]
        assert not list(warehouse.parent.glob(f".{warehouse.name}.build-*"))

    def test_the_comments_say_what_a_failed_run_records(self, landing: Landing, warehouse: Path) -> None:
        """An analyst reads the failed row by the comments: it finished (gave up) but published
        nothing, and its counts are 0 although it read a file."""
        _fail_the_second_day(landing, warehouse, "disk full")
        failed = "select rows_read, finished_at is not null from pipeline_runs where status = 'failed'"
        assert query(warehouse, failed) == [(0, True)]
        (table,), = query(warehouse, "select comment from duckdb_tables() where table_name = 'pipeline_runs'")
        comments = dict(query(warehouse, "select column_name, comment from duckdb_columns() where table_name = 'pipeline_runs'"))
        assert "failed run" in table and "completed" not in table
        assert "failed" in comments["finished_at"] and "published" in comments["finished_at"]
        assert "0 for a failed run" in comments["rows_read"]

    def test_success_row_has_step_timings(self, landing: Landing, warehouse: Path) -> None:
        _web(landing, DAY1, "e1")
        run_day(landing, warehouse, DAY1)
        (status, steps), = query(warehouse, "select status, step_seconds from pipeline_runs")
        assert status == "success"
        assert {"ingest_web", "stitch_identities", "build_marts"} <= set(json.loads(steps))
