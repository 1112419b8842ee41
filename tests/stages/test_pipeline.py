"""The stage step wired into a real run: landing files through ingest, stitching, sessions
and marts, then assign_stages on the run's connection, published atomically."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from journey_analytics import runs
from journey_analytics.config import load_settings
from journey_analytics.stages import assign_stages
from tests.conftest import Landing, query

DAY = date(2026, 10, 3)


class TestStagesInARun:
    """Stages are computed from the run's own marts and published with the warehouse."""

    def test_landing_to_stages(self, landing: Landing, warehouse: Path, tmp_path: Path) -> None:
        """A buyer logged in on a device, an anonymous browser, a reader, a contact only mailed."""
        landing.jsonl("web", DAY, "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-01T09:00:00Z", "event_name": "page_view", "anonymous_id": "dev-a"},
            {"event_id": "w2", "event_ts": "2026-10-01T09:01:00Z", "event_name": "login", "anonymous_id": "dev-a",
             "user_id": "u1", "email": "ann@example.com"},
            {"event_id": "w3", "event_ts": "2026-10-02T10:00:00Z", "event_name": "purchase", "anonymous_id": "dev-a",
             "user_id": "u1", "order_id": "o1", "value": 40, "currency": "EUR"},
            {"event_id": "w4", "event_ts": "2026-10-03T10:00:00Z", "event_name": "purchase", "anonymous_id": "dev-a",
             "user_id": "u1", "order_id": "o2", "value": 60, "currency": "EUR"},
            {"event_id": "w5", "event_ts": "2026-10-02T11:00:00Z", "event_name": "view_item", "anonymous_id": "dev-b"},
            {"event_id": "w6", "event_ts": "2026-10-02T11:01:00Z", "event_name": "add_to_cart", "anonymous_id": "dev-b"},
        ])
        landing.jsonl("email", DAY, "email.jsonl", [
            {"event_id": "m1", "event_ts": "2026-10-02T08:00:00Z", "event_name": "delivered", "email": "bo@example.com", "user_id": "u2"},
            {"event_id": "m2", "event_ts": "2026-10-02T08:30:00Z", "event_name": "open", "email": "bo@example.com", "user_id": "u2"},
            {"event_id": "m3", "event_ts": "2026-10-02T08:00:00Z", "event_name": "delivered", "email": "cy@example.com", "user_id": "u3"},
        ])
        ctx = runs.open_run(DAY, landing.root, warehouse, tmp_path / "reports", load_settings(None))
        try:
            runs.build_through_sessions(ctx)
            result = assign_stages(ctx.con, DAY, model_dir=tmp_path / "models")
            runs.finish_run(ctx, tmp_path / "reports" / "index.html")
        except BaseException:
            runs.abort_run(ctx)
            raise
        assert result.by_stage == {"awareness": 1, "consideration": 1, "purchase": 0, "retention": 1, "advocacy": 0}
        rows = query(warehouse, "select customer_id, stage, stage_source, rule_id, reason from customer_stages order by 1")
        assert rows == [
            ("anon:dev-b", "consideration", "rule", "consideration.repeated_intent",
             "No order; 2 intent signals in the last 90 days, last add_to_cart on 2026-10-02."),
            ("u1", "retention", "rule", "retention.repeat_orders", "2 orders, last on 2026-10-03."),
            ("u2", "awareness", "rule", "awareness.touch", "No order; last touch open on 2026-10-02."),
        ]
        assert query(warehouse, "select n_orders, revenue from customers where customer_id = 'u1'") == [(2, 100.0)]
        assert query(warehouse, "select count(*) from stage_history") == [(3,)]


class TestEarlierDayRunAgain:
    """customers and customer_stages hold the latest day run: running an earlier day again
    rewrites that day's stage history (and its page), not the later day's tables."""

    def test_later_day_kept(self, landing: Landing, warehouse: Path, tmp_path: Path) -> None:
        landing.jsonl("web", date(2026, 10, 1), "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-01T09:00:00Z", "event_name": "page_view", "anonymous_id": "d1",
             "user_id": "u1"},
        ])
        landing.jsonl("web", date(2026, 10, 2), "web.jsonl", [
            {"event_id": "w2", "event_ts": "2026-10-02T09:00:00Z", "event_name": "purchase", "anonymous_id": "d1",
             "user_id": "u1", "order_id": "o1", "value": 10, "currency": "EUR"},
        ])
        settings = load_settings(None)
        for day in (date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 1)):
            summary = runs.run_day_in_process(day, landing.root, warehouse, tmp_path / "reports", settings)
        assert not [n for n in summary.notices if "holds" in n]
        assert query(warehouse, "select customer_id, as_of_date, stage from customer_stages") == [
            ("u1", date(2026, 10, 2), "purchase")
        ]
        assert query(warehouse, "select customer_id, as_of_date, n_orders from customers") == [
            ("u1", date(2026, 10, 2), 1)
        ]
        assert query(warehouse, "select as_of_date, stage from stage_history order by 1") == [
            (date(2026, 10, 1), "awareness"), (date(2026, 10, 2), "purchase"),
        ]
        # the day's own page shows that day's stages
        page = (tmp_path / "reports" / "2026-10-01" / "index.html").read_text()
        assert "Touchpoint map" in page

    def test_late_files_restate_the_later_day(self, landing: Landing, warehouse: Path, tmp_path: Path) -> None:
        """Files of an earlier day that arrive after a later day ran: running that day again makes
        customers and customer_stages (the latest day's) know them; put back as they were, they
        named a customer the late login had merged away and counted none of the late orders."""
        landing.jsonl("web", date(2026, 10, 1), "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-01T09:00:00Z", "event_name": "page_view", "anonymous_id": "d1"},
        ])
        landing.jsonl("web", date(2026, 10, 3), "web.jsonl", [
            {"event_id": "w3", "event_ts": "2026-10-03T09:00:00Z", "event_name": "purchase", "anonymous_id": "d1",
             "order_id": "o1", "value": 10, "currency": "EUR"},
        ])
        settings = load_settings(None)
        for day in (date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)):
            runs.run_day_in_process(day, landing.root, warehouse, tmp_path / "reports", settings)
        assert query(warehouse, "select customer_id, stage from customer_stages") == [("anon:d1", "purchase")]
        # 10-02's file arrives late: the device logs in as u1 and buys again
        landing.jsonl("web", date(2026, 10, 2), "web.jsonl", [
            {"event_id": "w2", "event_ts": "2026-10-02T09:00:00Z", "event_name": "login", "anonymous_id": "d1",
             "user_id": "u1"},
            {"event_id": "w2b", "event_ts": "2026-10-02T09:05:00Z", "event_name": "purchase", "anonymous_id": "d1",
             "user_id": "u1", "order_id": "o0", "value": 5, "currency": "EUR"},
        ])
        summary = runs.run_day_in_process(date(2026, 10, 2), landing.root, warehouse, tmp_path / "reports", settings)
        assert summary.rows_loaded == 2
        assert query(warehouse, "select customer_id, as_of_date, stage from customer_stages") == [
            ("u1", date(2026, 10, 3), "retention")
        ]
        assert query(warehouse, "select customer_id, as_of_date, n_orders from customers") == [
            ("u1", date(2026, 10, 3), 2)
        ]
        assert query(warehouse, "select as_of_date, customer_id, stage from stage_history order by 1") == [
            (date(2026, 10, 1), "anon:d1", "awareness"),
            (date(2026, 10, 2), "u1", "purchase"),
            (date(2026, 10, 3), "u1", "retention"),
        ]

    def test_a_late_earlier_delivery_that_loads_no_row_restates_the_later_day(
        self, landing: Landing, warehouse: Path, tmp_path: Path
    ) -> None:
        """A late file of an earlier day whose events were all loaded already, from a later day's
        delivery without the user id: no row loads, but the earlier delivery replaces them (the
        warehouse keeps an event's earliest delivery), so the device joins u1. customers and
        customer_stages must follow, as with rows loaded late; put back as they were, they still
        named the device's customer (anon:d2, with its order), which events no longer name."""
        landing.jsonl("web", date(2026, 10, 1), "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-01T09:00:00Z", "event_name": "page_view", "anonymous_id": "d1",
             "user_id": "u1"},
        ])
        landing.jsonl("web", date(2026, 10, 2), "web.jsonl", [
            {"event_id": "w2", "event_ts": "2026-10-01T10:00:00Z", "event_name": "login", "anonymous_id": "d2"},
            {"event_id": "w3", "event_ts": "2026-10-02T09:00:00Z", "event_name": "purchase", "anonymous_id": "d2",
             "order_id": "o1", "value": 10, "currency": "EUR"},
        ])
        settings = load_settings(None)
        for day in (date(2026, 10, 1), date(2026, 10, 2)):
            runs.run_day_in_process(day, landing.root, warehouse, tmp_path / "reports", settings)
        assert query(warehouse, "select customer_id from customers order by 1") == [("anon:d2",), ("u1",)]
        # 10-01's delivery of w2 arrives late, with the user id the later delivery lacked
        landing.jsonl("web", date(2026, 10, 1), "late.jsonl", [
            {"event_id": "w2", "event_ts": "2026-10-01T10:00:00Z", "event_name": "login", "anonymous_id": "d2",
             "user_id": "u1"},
        ])
        summary = runs.run_day_in_process(date(2026, 10, 1), landing.root, warehouse, tmp_path / "reports", settings)
        assert (summary.rows_loaded, summary.rows_duplicate) == (0, 1)
        assert query(warehouse, "select distinct customer_id from events") == [("u1",)]
        assert query(warehouse, "select customer_id, as_of_date, n_orders from customers") == [
            ("u1", date(2026, 10, 2), 1)
        ]
        assert query(warehouse, "select customer_id, as_of_date, stage from customer_stages") == [
            ("u1", date(2026, 10, 2), "purchase")
        ]
