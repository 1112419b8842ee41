"""Late events (arrived on a later day than they happened) are kept with their own event_ts."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from tests.conftest import DAY1, DAY3, Landing, query, run_day


class TestLateEvents:
    """An event in dt=2026-10-03 that happened on 10-01 is loaded as it happened, flagged late and counted."""

    def test_kept_flagged_and_counted(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY3, "web.jsonl", [
            {"event_id": "late", "event_ts": "2026-10-01T23:30:00Z", "event_name": "page_view", "anonymous_id": "a1"},
            {"event_id": "on_time", "event_ts": "2026-10-03T08:00:00Z", "event_name": "page_view", "anonymous_id": "a1"},
            {"event_id": "early", "event_ts": "2026-10-04T23:59:59Z", "event_name": "page_view", "anonymous_id": "a1"},
        ])
        # 01:30 on 10-02 in Berlin is still 10-01 in UTC: lateness is judged on the UTC day.
        landing.jsonl("email", DAY3, "esp.jsonl", [
            {"event_id": "m1", "event_ts": "2026-10-02T01:30:00+02:00", "event_name": "open", "email": "a@example.com"},
        ])

        summary = run_day(landing, warehouse, DAY3)

        assert query(
            warehouse, "select event_id, event_ts, event_date, arrived_on, is_late from events order by event_ts, event_id"
        ) == [
            ("late", datetime(2026, 10, 1, 23, 30), DAY1, DAY3, True),
            ("m1", datetime(2026, 10, 1, 23, 30), DAY1, DAY3, True),
            ("on_time", datetime(2026, 10, 3, 8, 0), DAY3, DAY3, False),
            ("early", datetime(2026, 10, 4, 23, 59, 59), date(2026, 10, 4), DAY3, False),
        ]
        assert summary.rows_late == 2
        assert query(warehouse, "select rows_loaded, rows_late from pipeline_runs") == [(4, 2)]
