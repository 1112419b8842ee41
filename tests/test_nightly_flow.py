"""The nightly Prefect flow end to end on the bundled sample, checked against its truth."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest
from prefect.testing.utilities import prefect_test_harness

from pipelines.nightly import nightly

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


@pytest.fixture(scope="module")
def truth() -> dict:
    return json.loads((SAMPLE / "_truth" / "summary.json").read_text())


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory, truth: dict) -> tuple[Path, dict, dict]:
    """Run the flow twice on the sample, as the scheduler would, and keep both summaries."""
    work = tmp_path_factory.mktemp("nightly")
    as_of = date.fromisoformat(str(truth["last_day"]))
    with prefect_test_harness():
        first = nightly(as_of, SAMPLE, work / "journey.duckdb", work / "reports", None)
        second = nightly(as_of, SAMPLE, work / "journey.duckdb", work / "reports", None)
    return work, first, second


def _query(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


class TestNightlyOnSample:
    """The flow loads the sample with every row accounted for, as the simulator's truth says."""

    def test_every_row_is_accounted_for(self, sample_run: tuple[Path, dict, dict]) -> None:
        _, first, _ = sample_run
        assert first["rows_read"] == first["rows_loaded"] + first["rows_quarantined"] + first["rows_duplicate"]
        assert first["rows_read"] > 0

    def test_bad_and_repeated_rows_match_the_truth(self, sample_run: tuple[Path, dict, dict], truth: dict) -> None:
        work, first, _ = sample_run
        event_rows = _query(
            work / "journey.duckdb",
            "select coalesce(sum(rows_read), 0), coalesce(sum(rows_quarantined), 0), coalesce(sum(rows_duplicate), 0) "
            "from raw.ingested_files where kind in ('web', 'email', 'social')",
        )[0]
        assert event_rows[0] == truth["n_events_written"]
        assert event_rows[1] == truth["n_bad_rows"]
        assert event_rows[2] == truth["n_duplicate_rows"]

    def test_events_are_unique_and_stitched(self, sample_run: tuple[Path, dict, dict]) -> None:
        work, _, _ = sample_run
        n, distinct, unstitched = _query(
            work / "journey.duckdb",
            "select count(*), count(distinct event_id), count(*) - count(customer_id) from events",
        )[0]
        assert n == distinct
        assert unstitched == 0

    def test_second_run_reads_nothing_and_changes_nothing(self, sample_run: tuple[Path, dict, dict]) -> None:
        work, first, second = sample_run
        assert second["rows_read"] == 0
        assert second["table_rows"]["events"] == first["table_rows"]["events"]
        assert second["table_rows"]["sessions"] == first["table_rows"]["sessions"]
        runs = _query(work / "journey.duckdb", "select count(*), count(distinct run_id) from pipeline_runs")[0]
        assert runs == (2, 2)

    def test_report_page_written(self, sample_run: tuple[Path, dict, dict], truth: dict) -> None:
        work, first, _ = sample_run
        page = Path(first["report"])
        assert page == work / "reports" / str(truth["last_day"]) / "index.html"
        assert page.read_text().startswith("<!doctype html>")
        assert (work / "reports" / "index.html").exists()

    def test_headline_customers_are_the_stage_funnels(self, sample_run: tuple[Path, dict, dict], truth: dict) -> None:
        """The page's "Customers" counts those with a stage, as the stage funnel beside it does
        (it counted contacts who only had e-mail delivered too)."""
        import re

        work, first, _ = sample_run
        shown = re.search(r"<b>([0-9,]+)</b><span>Customers</span>", Path(first["report"]).read_text()).group(1)
        ((staged,),) = _query(
            work / "journey.duckdb",
            f"select sum(customers) from stage_funnel where as_of_date = date '{truth['last_day']}'",
        )
        assert int(shown.replace(",", "")) == staged > 0

    def test_no_build_files_left(self, sample_run: tuple[Path, dict, dict]) -> None:
        work, _, _ = sample_run
        assert not list(work.glob(".journey.duckdb.build-*"))


class TestAQueryInterruptedAsTheRunPublishes:
    """A signal that lands while a query of the publish runs (its checkpoint: DuckDB gives it back
    as a RuntimeError "Query interrupted", the stop lost) stops the run as a stop anywhere else
    does: nothing published, no failure recorded (a copy of the whole warehouse, in the seconds
    before a SIGKILL), RunStopped for the command's one line and exit 143. (It was a failure:
    "journey: error: Query interrupted", exit 1.)"""

    def test_it_is_a_stop_not_a_failure(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        import os
        import signal
        import threading

        from journey_analytics import runs
        from journey_analytics.cli import _stopped_by_signals

        landing = tmp_path / "landing"
        for day in ("2026-10-01", "2026-10-02"):
            (landing / "web" / f"dt={day}").mkdir(parents=True)
            (landing / "web" / f"dt={day}" / "a.jsonl").write_text(json.dumps(
                {"event_id": f"e{day}", "event_ts": f"{day}T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1"}
            ) + "\n")
        warehouse = tmp_path / "wh" / "journey.duckdb"
        publish_build = runs.publish_build

        def a_slow_query_then_publish(con, build, target):  # type: ignore[no-untyped-def]
            threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()  # lands in the query
            con.execute("select count(*) from range(3000000000) as t(i) where i % 7 = 3").fetchall()
            publish_build(con, build, target)

        with prefect_test_harness(), _stopped_by_signals():
            nightly(date(2026, 10, 1), landing, warehouse, tmp_path / "reports", None)
            monkeypatch.setattr(runs, "publish_build", a_slow_query_then_publish)
            with pytest.raises(runs.RunStopped) as stopped:
                nightly(date(2026, 10, 2), landing, warehouse, tmp_path / "reports", None)
        assert (stopped.value.as_of, stopped.value.step) == (date(2026, 10, 2), "publish")
        assert _query(warehouse, "select as_of_date, status from pipeline_runs") == [(date(2026, 10, 1), "success")]
        assert [p.name for p in warehouse.parent.iterdir() if p.name.startswith(".")] == []
