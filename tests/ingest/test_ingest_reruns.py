"""Re-running, running out of order, repeated event ids and changed files never double anything."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DAY1, DAY2, DAY3, Landing, jsonl_text, query, run_day

# What a run publishes, without the columns that name the run itself.
SNAPSHOT = {
    "events": "select * from events order by event_id",
    "identity_map": "select * from identity_map order by all",
    "sessions": "select * from sessions order by session_id",
    "quarantine": "select * exclude (run_id, ingested_at) from quarantine order by all",
    "raw.web_events": "select * exclude (run_id) from raw.web_events order by all",
    "raw.email_events": "select * exclude (run_id) from raw.email_events order by all",
    "raw.social_events": "select * exclude (run_id) from raw.social_events order by all",
    "raw.identities": "select * exclude (run_id) from raw.identities order by all",
}


def snapshot(warehouse: Path) -> dict[str, list[tuple[Any, ...]]]:
    return {table: query(warehouse, sql) for table, sql in SNAPSHOT.items()}


def web(event_id: str, event_ts: str, event_name: str = "page_view", **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "event_ts": event_ts, "event_name": event_name, "anonymous_id": "a1", **fields}


def three_days(landing: Landing) -> None:
    """Three days of files: a sign-up, a late event, a bad line, an id repeated across days."""
    landing.jsonl("web", DAY1, "web.jsonl", [
        web("e1", "2026-10-01T09:00:00Z"),
        web("e2", "2026-10-01T09:10:00Z", "sign_up", user_id="u1", email="ann@example.com"),
        "not json",
    ])
    landing.jsonl("email", DAY1, "esp.jsonl", [
        {"event_id": "m1", "event_ts": "2026-10-01T08:00:00Z", "event_name": "open", "email": "ann@example.com"},
    ])
    landing.jsonl("web", DAY2, "web.jsonl", [
        web("e3", "2026-10-02T09:00:00Z", user_id="u1"),
        web("e1", "2026-10-02T09:30:00Z", "purchase", order_id="o9", value=9, currency="EUR"),  # e1 again, other content
    ])
    landing.jsonl("web", DAY3, "web.jsonl", [
        web("e4", "2026-10-01T23:00:00Z"),  # late: happened on day 1
        web("e5", "2026-10-03T09:00:00Z", "purchase", user_id="u1", order_id="o1", value=20, currency="EUR"),
    ])
    landing.jsonl("social", DAY3, "social.jsonl", [
        {"event_id": "s1", "event_ts": "2026-10-03T10:00:00Z", "event_name": "like", "platform": "x", "handle": "ann"},
    ])
    landing.text("identities", None, "crm.csv", "user_id,email,platform,handle\nu1,ann@example.com,x,ann\n")


@pytest.fixture(scope="module")
def three_day_landing(tmp_path_factory: pytest.TempPathFactory) -> Landing:
    """The three days of files, written once and never touched again."""
    landing = Landing(tmp_path_factory.mktemp("reruns") / "landing")
    three_days(landing)
    return landing


def fresh_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("warehouse") / "journey.duckdb"


@pytest.fixture(scope="module")
def in_order(three_day_landing: Landing, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The warehouse after days 1, 2 and 3, in order."""
    warehouse = fresh_warehouse(tmp_path_factory)
    for day in (DAY1, DAY2, DAY3):
        run_day(three_day_landing, warehouse, day)
    return warehouse


@dataclass
class OutOfOrder:
    """A warehouse run for days 3, 3 again, 2 and 3, and its tables after the first run."""

    warehouse: Path
    after_first_run: dict[str, list[tuple[Any, ...]]]


@pytest.fixture(scope="module")
def out_of_order(three_day_landing: Landing, tmp_path_factory: pytest.TempPathFactory) -> OutOfOrder:
    """Days 3, 3, 2 and 3 on one warehouse."""
    warehouse = fresh_warehouse(tmp_path_factory)
    run_day(three_day_landing, warehouse, DAY3)
    after_first_run = snapshot(warehouse)
    for day in (DAY3, DAY2, DAY3):
        run_day(three_day_landing, warehouse, day)
    return OutOfOrder(warehouse, after_first_run)


class TestSameDayTwice:
    """Running a day again changes no table and reads nothing, as the files are unchanged."""

    def test_tables_unchanged(self, out_of_order: OutOfOrder) -> None:
        assert snapshot(out_of_order.warehouse) == out_of_order.after_first_run

    def test_later_runs_read_nothing(self, out_of_order: OutOfOrder) -> None:
        assert query(
            out_of_order.warehouse,
            "select as_of_date, rows_read, rows_loaded, rows_quarantined, rows_duplicate, rows_late, files_read, "
            "files_skipped from pipeline_runs order by started_at",
        ) == [
            (DAY3, 10, 8, 1, 1, 1, 6, 0),
            (DAY3, 0, 0, 0, 0, 0, 0, 6),
            (DAY2, 0, 0, 0, 0, 0, 0, 4),
            (DAY3, 0, 0, 0, 0, 0, 0, 6),
        ]


class TestOutOfOrderDays:
    """Days run out of order (3, 3, 2, 3) leave the same tables as days run in order (1, 2, 3)."""

    def test_same_tables(self, in_order: Path, out_of_order: OutOfOrder) -> None:
        assert snapshot(out_of_order.warehouse) == snapshot(in_order)

    def test_earliest_arrival_of_a_repeated_id_wins(self, out_of_order: OutOfOrder) -> None:
        assert query(
            out_of_order.warehouse, "select event_name, event_ts, arrived_on from events where event_id = 'e1'"
        ) == [("page_view", datetime(2026, 10, 1, 9, 0), DAY1)]


class TestRunCounts:
    """Day by day, each run's rows read are its rows loaded, quarantined and duplicate."""

    def test_counts_balance_per_run(self, in_order: Path) -> None:
        assert query(
            in_order,
            "select as_of_date, rows_read, rows_loaded, rows_quarantined, rows_duplicate from pipeline_runs order by started_at",
        ) == [(DAY1, 5, 4, 1, 0), (DAY2, 2, 1, 0, 1), (DAY3, 3, 3, 0, 0)]


class TestRepeatedEventIds:
    """An event_id seen again (same file, another file, a later day) is loaded once and counted as a duplicate."""

    def test_loaded_once_and_counted(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "a.jsonl", [
            web("e1", "2026-10-01T09:00:00Z"),
            web("e1", "2026-10-01T09:05:00Z"),  # same file
        ])
        landing.jsonl("web", DAY1, "b.jsonl", [web("e1", "2026-10-01T09:10:00Z"), web("e2", "2026-10-01T09:20:00Z")])
        first = run_day(landing, warehouse, DAY1)
        landing.jsonl("web", DAY2, "c.jsonl", [web("e1", "2026-10-02T09:00:00Z")])  # a later day
        second = run_day(landing, warehouse, DAY2)

        assert query(warehouse, "select event_id, event_ts, source_file, line_no from raw.web_events order by event_id") == [
            ("e1", datetime(2026, 10, 1, 9, 0), "web/dt=2026-10-01/a.jsonl", 1),
            ("e2", datetime(2026, 10, 1, 9, 20), "web/dt=2026-10-01/b.jsonl", 2),
        ]
        assert (first.rows_read, first.rows_loaded, first.rows_duplicate) == (4, 2, 2)
        assert (second.rows_read, second.rows_loaded, second.rows_duplicate) == (1, 0, 1)
        assert query(
            warehouse,
            "select source_file, rows_read, rows_loaded, rows_quarantined, rows_duplicate from raw.ingested_files order by source_file",
        ) == [
            ("web/dt=2026-10-01/a.jsonl", 2, 1, 0, 1),
            ("web/dt=2026-10-01/b.jsonl", 2, 1, 0, 1),
            ("web/dt=2026-10-02/c.jsonl", 1, 0, 0, 1),
        ]


    def test_the_earliest_delivery_is_kept_whatever_order_the_days_ran_in(
        self, landing: Landing, warehouse: Path, tmp_path: Path
    ) -> None:
        """An event delivered on 10-01 and again on 10-02: the 10-01 copy is kept, also when its
        file came late and 10-02 ran first (it kept the first copy read, so arrived_on, is_late
        and the row's text depended on the order of the runs)."""
        early = [web("e1", "2026-10-01T09:00:00Z"), web("e2", "2026-10-01T09:20:00Z")]
        late = [web("e1", "2026-10-01T09:00:01Z")]  # the retry, its clock a second on
        in_order = Landing(tmp_path / "in-order")
        in_order.jsonl("web", DAY1, "a.jsonl", early)
        in_order.jsonl("web", DAY2, "b.jsonl", late)
        run_day(in_order, tmp_path / "in-order.duckdb", DAY1)
        run_day(in_order, tmp_path / "in-order.duckdb", DAY2)

        landing.jsonl("web", DAY2, "b.jsonl", late)
        run_day(landing, warehouse, DAY2)
        landing.jsonl("web", DAY1, "a.jsonl", early)  # 10-01's file comes late
        again = run_day(landing, warehouse, DAY1)
        assert (again.rows_read, again.rows_loaded, again.rows_duplicate) == (2, 1, 1)

        shown = (
            "select e.event_id, e.event_ts, e.arrived_on, e.is_late, r.source_file, r.line_no "
            "from events as e inner join raw.web_events as r using (event_id) order by e.event_id"
        )
        assert query(warehouse, shown) == query(tmp_path / "in-order.duckdb", shown) == [
            ("e1", datetime(2026, 10, 1, 9, 0), DAY1, False, "web/dt=2026-10-01/a.jsonl", 1),
            ("e2", datetime(2026, 10, 1, 9, 20), DAY1, False, "web/dt=2026-10-01/a.jsonl", 2),
        ]
        assert query(warehouse, "select count(*) from raw.web_events") == [(2,)]

    def test_the_earliest_delivery_in_one_folder_is_kept_when_its_file_comes_late(
        self, landing: Landing, warehouse: Path, tmp_path: Path
    ) -> None:
        """An event delivered twice in one dt= folder, in a.jsonl and b.jsonl: a.jsonl's copy is
        kept, as a run that reads both does, also when a.jsonl comes after b.jsonl was loaded (only
        a copy in an earlier folder took the place of the one loaded, so b.jsonl's stayed)."""
        first = [web("e1", "2026-10-01T09:00:00Z", country="FR")]
        earlier = [web("e1", "2026-10-01T09:00:00Z", country="DE"), web("e2", "2026-10-01T09:20:00Z")]
        together = Landing(tmp_path / "together")
        together.jsonl("web", DAY1, "b.jsonl", first)
        together.jsonl("web", DAY1, "a.jsonl", earlier)
        run_day(together, tmp_path / "together.duckdb", DAY1)

        landing.jsonl("web", DAY1, "b.jsonl", first)
        run_day(landing, warehouse, DAY1)
        landing.jsonl("web", DAY1, "a.jsonl", earlier)  # comes late, into the same folder
        again = run_day(landing, warehouse, DAY2)
        assert (again.rows_read, again.rows_loaded, again.rows_duplicate) == (2, 1, 1)

        shown = (
            "select e.event_id, e.country, r.source_file, r.line_no "
            "from events as e inner join raw.web_events as r using (event_id) order by e.event_id"
        )
        assert query(warehouse, shown) == query(tmp_path / "together.duckdb", shown) == [
            ("e1", "DE", "web/dt=2026-10-01/a.jsonl", 1),
            ("e2", None, "web/dt=2026-10-01/a.jsonl", 2),
        ]

    def test_ids_are_the_channels_own(self, landing: Landing, warehouse: Path) -> None:
        """The tag, the ESP and the social tool each issue their own ids, so the same id in two
        channels is two events: both load, once each, also on a re-run; only the web event has a
        session."""
        landing.jsonl("web", DAY1, "web.jsonl", [web("1", "2026-10-01T09:00:00Z"), web("2", "2026-10-01T09:05:00Z")])
        landing.jsonl("email", DAY1, "esp.jsonl", [
            {"event_id": str(i), "event_ts": "2026-10-01T08:00:00Z", "event_name": "open", "email": "ann@example.com"}
            for i in (1, 2, 3)
        ])
        landing.jsonl("social", DAY1, "social.jsonl", [
            {"event_id": "1", "event_ts": "2026-10-01T07:00:00Z", "event_name": "like", "platform": "x", "handle": "ann"}
        ])
        first = run_day(landing, warehouse, DAY1)
        assert (first.rows_read, first.rows_loaded, first.rows_duplicate) == (6, 6, 0)
        landing.jsonl("email", DAY2, "esp.jsonl", [
            {"event_id": "3", "event_ts": "2026-10-02T08:00:00Z", "event_name": "open", "email": "ann@example.com"}
        ])
        second = run_day(landing, warehouse, DAY2)
        assert (second.rows_read, second.rows_loaded, second.rows_duplicate) == (1, 0, 1)
        assert query(warehouse, "select channel, count(*), count(session_id) from events group by 1 order by 1") == [
            ("email", 3, 0), ("social", 1, 0), ("web", 2, 2),
        ]


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse after a run, two lines appended to its file, and another run."""
    root = tmp_path_factory.mktemp("grown")
    landing = Landing(root / "landing")
    warehouse = root / "journey.duckdb"
    path = landing.jsonl("web", DAY1, "web.jsonl", [web("e1", "2026-10-01T09:00:00Z"), "bad 1"])
    run_day(landing, warehouse, DAY1)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(jsonl_text([web("e2", "2026-10-01T09:05:00Z"), "bad 2"]))
    run_day(landing, warehouse, DAY1)
    return warehouse


class TestChangedFile:
    """A file that grows is read again: its new rows load, nothing is loaded or quarantined twice."""

    def test_new_rows_load_once(self, grown: Path) -> None:
        assert query(grown, "select event_id, line_no from raw.web_events order by event_id") == [("e1", 1), ("e2", 3)]
        assert query(grown, "select line_no, raw from quarantine order by line_no") == [(2, "bad 1"), (4, "bad 2")]

    def test_file_read_by_both_runs(self, grown: Path) -> None:
        assert query(grown, "select files_read, files_skipped from pipeline_runs order by started_at") == [(1, 0), (1, 0)]

    def test_counts_balance_per_run_and_file(self, grown: Path) -> None:
        runs = query(grown, "select rows_read, rows_loaded, rows_quarantined, rows_duplicate from pipeline_runs")
        files = query(grown, "select rows_read, rows_loaded, rows_quarantined, rows_duplicate from raw.ingested_files")
        assert [r[0] == r[1] + r[2] + r[3] for r in runs + files] == [True] * 4

    def test_loaded_totals_match_the_table(self, grown: Path) -> None:
        assert query(grown, "select sum(rows_loaded) from pipeline_runs") == [(2,)]

    def test_quarantined_totals_match_the_table(self, grown: Path) -> None:
        assert query(grown, "select sum(rows_quarantined) from pipeline_runs") == [(2,)]


class TestRefusedLineThatPassesLater:
    """Quarantine holds what is still wrong: a line refused when its file was read before that
    passes when the file is read again (read while still being written, or corrected and
    delivered again under its name) leaves quarantine; the earlier run's counts stay as they were."""

    def test_a_last_line_cut_short_while_the_file_was_written(self, landing: Landing, warehouse: Path) -> None:
        whole = jsonl_text([web("e1", "2026-10-01T09:00:00Z"), web("e2", "2026-10-01T09:05:00Z")])
        path = landing.text("web", DAY1, "web.jsonl", whole[: whole.index("09:05")])  # the writer is mid-line
        first = run_day(landing, warehouse, DAY1)
        assert (first.rows_loaded, first.rows_quarantined) == (1, 1)
        path.write_text(whole, encoding="utf-8")  # the writer finished
        second = run_day(landing, warehouse, DAY1)
        assert (second.rows_loaded, second.rows_quarantined) == (1, 0)
        assert query(warehouse, "select event_id from events order by 1") == [("e1",), ("e2",)]
        assert query(warehouse, "select count(*) from quarantine") == [(0,)]
        assert query(warehouse, "select rows_quarantined from pipeline_runs order by started_at") == [(1,), (0,)]

    def test_a_file_corrected_and_delivered_again(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("e1", "2026-10-01T09:00:00Z"), web("e2", "yesterday"), web("e3", "tomorrow"),
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select line_no from quarantine order by 1") == [(2,), (3,)]
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("e1", "2026-10-01T09:00:00Z"), web("e2", "2026-10-01T09:05:00Z"), web("e3", "tomorrow"), "",
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select line_no, error like 'event_ts%' from quarantine") == [(3, True)]
        assert query(warehouse, "select event_id from events order by 1") == [("e1",), ("e2",)]

    def test_a_file_refused_as_a_whole_then_readable(self, landing: Landing, warehouse: Path) -> None:
        text = jsonl_text([web("e1", "2026-10-01T09:00:00Z")])
        landing.binary("web", DAY1, "web.jsonl", text.encode("utf-16"))
        landing.binary("web", DAY1, "other.jsonl", text.replace("e1", "e9").encode("utf-16"))
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select source_file, line_no from quarantine order by 1") == [
            ("web/dt=2026-10-01/other.jsonl", None), ("web/dt=2026-10-01/web.jsonl", None),
        ]
        landing.text("web", DAY1, "web.jsonl", text)  # exported again as UTF-8
        landing.binary("web", DAY1, "other.jsonl", text.replace("e1", "e8").encode("utf-16"))  # changed, still UTF-16
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select source_file, line_no from quarantine") == [("web/dt=2026-10-01/other.jsonl", None)]
        assert query(warehouse, "select event_id from events") == [("e1",)]

    def test_a_bad_last_line_dropped_from_the_file(self, landing: Landing, warehouse: Path) -> None:
        """The usual correction is to drop the bad line: a line no longer in the file is refused no
        longer, wherever it stood."""
        landing.jsonl("web", DAY1, "web.jsonl", [web("e1", "2026-10-01T09:00:00Z"), web("e2", "yesterday")])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select line_no from quarantine") == [(2,)]
        landing.jsonl("web", DAY1, "web.jsonl", [web("e1", "2026-10-01T09:00:00Z")])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select count(*) from quarantine") == [(0,)]

    def test_a_line_still_refused_as_other_text(self, landing: Landing, warehouse: Path) -> None:
        """A line corrected and still wrong is one row, of the text the file holds now."""
        landing.jsonl("web", DAY1, "web.jsonl", [web("e1", "2026-10-01T09:00:00Z"), web("e2", "yesterday")])
        run_day(landing, warehouse, DAY1)
        landing.jsonl("web", DAY1, "web.jsonl", [web("e1", "2026-10-01T09:00:00Z"), web("e2", "not a time")])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select line_no, raw like '%not a time%' from quarantine") == [(2, True)]

    def test_a_line_inserted_above_and_a_file_of_that_name_on_another_day(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [web("e1", "2026-10-01T09:00:00Z"), web("e2", "yesterday")])
        landing.jsonl("email", DAY1, "web.jsonl", [{"event_id": "m1", "event_ts": "tomorrow", "event_name": "open"}] * 2)
        run_day(landing, warehouse, DAY1)
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("e1", "2026-10-01T09:00:00Z"), web("e0", "2026-10-01T09:01:00Z"), web("e2", "yesterday"),
        ])
        landing.jsonl("web", DAY2, "web.jsonl", [web("e3", "2026-10-02T09:00:00Z")] * 3)
        run_day(landing, warehouse, DAY2)
        assert query(warehouse, "select source_file, line_no from quarantine order by all") == [
            ("email/dt=2026-10-01/web.jsonl", 1), ("email/dt=2026-10-01/web.jsonl", 2), ("web/dt=2026-10-01/web.jsonl", 3),
        ]
