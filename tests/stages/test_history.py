"""Stage history across runs, transitions between consecutive runs, the stage funnel, and
the documentation of every table the stage step writes."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import ClassVar

import pytest

from journey_analytics.stages import assign_stages
from tests.stages.conftest import Warehouse

D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)


@pytest.fixture
def three_runs(wh: Warehouse, tmp_path: Path) -> Warehouse:
    """u1 browses, then views an item, then buys; u2 considers, then buys twice; u3 appears on d3."""
    wh.event("u1", "page_view", "2026-11-01T09:00:00")
    wh.event("u1", "view_item", "2026-11-02T09:00:00")
    wh.order("u1", "o1", "2026-11-03T09:00:00")
    wh.event("u2", "search", "2026-11-01T10:00:00")
    wh.order("u2", "o2", "2026-11-03T10:00:00")
    wh.order("u2", "o3", "2026-11-03T11:00:00")
    wh.event("u3", "open", "2026-11-03T12:00:00", channel="email")
    wh.identify()
    for day in (D1, D2, D3):
        assign_stages(wh.con, day, model_dir=tmp_path / "models")
    return wh


class TestStageHistory:
    """stage_history keeps one row per customer and run date; a re-run replaces only its day."""

    EXPECTED: ClassVar[list[tuple[str, date, str]]] = [
        ("u1", D1, "awareness"), ("u1", D2, "consideration"), ("u1", D3, "purchase"),
        ("u2", D1, "consideration"), ("u2", D2, "consideration"), ("u2", D3, "retention"),
        ("u3", D3, "awareness"),
    ]

    def test_three_runs(self, three_runs: Warehouse) -> None:
        """Each run adds its day; older days stay."""
        rows = three_runs.rows("select customer_id, as_of_date, stage from main.stage_history order by 1, 2")
        assert rows == self.EXPECTED

    def test_rerunning_a_day_replaces_it(self, three_runs: Warehouse, tmp_path: Path) -> None:
        """Running d2 again leaves the same rows, once."""
        assign_stages(three_runs.con, D2, model_dir=tmp_path / "models")
        rows = three_runs.rows("select customer_id, as_of_date, stage from main.stage_history order by 1, 2")
        assert rows == self.EXPECTED
        # customer_stages holds the latest run only
        assert three_runs.rows("select distinct as_of_date from main.customer_stages") == [(D2,)]

    def test_transitions(self, three_runs: Warehouse) -> None:
        """Moves between consecutive run dates, staying put included, new customers from none."""
        rows = three_runs.rows(
            "select as_of_date, previous_as_of_date, from_stage, to_stage, is_move, customers "
            "from main.stage_transitions order by 1, 3, 4"
        )
        assert rows == [
            (D2, D1, "awareness", "consideration", True, 1),
            (D2, D1, "consideration", "consideration", False, 1),
            (D3, D2, "consideration", "purchase", True, 1),
            (D3, D2, "consideration", "retention", True, 1),
            (D3, D2, "none", "awareness", True, 1),
        ]

    def test_a_visitor_who_signs_up_moves_from_their_visitor_stage(self, wh: Warehouse, tmp_path: Path) -> None:
        """On d1 the visitor is anon:a9 (aware); on d2 they signed up and are u9 (considering), with
        their device now under u9: one move awareness -> consideration, not a loss and a gain."""
        wh.event("anon:a9", "page_view", "2026-11-01T09:00:00", anonymous_id="a9")
        wh.event("u1", "page_view", "2026-11-01T09:00:00")
        wh.identify()
        assign_stages(wh.con, D1, model_dir=tmp_path / "models")
        wh.con.execute("update main.events set customer_id = 'u9', user_id = 'u9' where anonymous_id = 'a9'").fetchall()
        wh.event("u9", "sign_up", "2026-11-02T09:00:00", anonymous_id="a9")
        wh.identify()
        assign_stages(wh.con, D2, model_dir=tmp_path / "models")
        assert wh.rows("select customer_id, as_of_date, stage from main.stage_history order by 2, 1") == [
            ("anon:a9", D1, "awareness"), ("u1", D1, "awareness"),  # as they were that day
            ("u1", D2, "awareness"), ("u9", D2, "consideration"),
        ]
        assert wh.rows("select from_stage, to_stage, customers from main.stage_transitions order by 1, 2") == [
            ("awareness", "awareness", 1), ("awareness", "consideration", 1),
        ]

    def test_funnel(self, three_runs: Warehouse) -> None:
        """customers per stage, reached (this stage or later) and conversion from the previous stage."""
        rows = three_runs.rows(
            "select stage, customers, reached, conversion_from_previous from main.stage_funnel "
            "where as_of_date = ? order by stage_order",
            [D3],
        )
        assert rows == [
            ("awareness", 1, 3, None),
            ("consideration", 0, 2, pytest.approx(2 / 3)),
            ("purchase", 1, 2, 1.0),
            ("retention", 1, 1, 0.5),
            ("advocacy", 0, 0, 0.0),
        ]
        assert three_runs.rows("select count(distinct as_of_date) from main.stage_funnel") == [(3,)]


class TestDocumentation:
    """Every table and column the stage step writes carries a comment."""

    def test_comments(self, three_runs: Warehouse) -> None:
        """No table or column of the stage tables is left without a COMMENT."""
        tables = ("customers", "customer_stages", "stage_history", "stage_transitions", "stage_funnel")
        comments = three_runs.rows(
            "select table_name, comment from duckdb_tables() where schema_name = 'main' "
            "and table_name in ? order by 1",
            [list(tables)],
        )
        assert [t for t, _ in comments] == sorted(tables)
        assert all(c for _, c in comments)
        missing = three_runs.rows(
            "select table_name, column_name from duckdb_columns() where schema_name = 'main' "
            "and table_name in ? and (comment is null or comment = '')",
            [list(tables)],
        )
        assert missing == []
