"""Shared fixtures: a landing folder built by hand, a run of one day without Prefect, queries.

A test writes a few rows into ``tmp_path`` with :class:`Landing`, runs the library steps of
one nightly run with :func:`run_day` (the flow's steps from ingest to the marts, the report
and the publish, in the flow's order, without the Prefect engine) and reads the published
warehouse with :func:`query`. Tests import the helpers with ``from tests.conftest import``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from journey_analytics import runs
from journey_analytics.config import HASH_KEY_ENV, Settings, load_settings

TEST_HASH_KEY = "test-only-pseudonymization-key"

DAY1 = date(2026, 10, 1)
DAY2 = date(2026, 10, 2)
DAY3 = date(2026, 10, 3)

Row = Mapping[str, Any] | str


class Landing:
    """A landing folder under construction: ``<root>/<kind>/dt=<day>/<name>``.

    ``day=None`` writes an undated file (identities, labels) at ``<root>/<kind>/<name>``.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, kind: str, day: date | None, name: str) -> Path:
        """Where a file of a kind and day lives (its folder is created)."""
        folder = self.root / kind if day is None else self.root / kind / f"dt={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    def text(self, kind: str, day: date | None, name: str, text: str) -> Path:
        """A file with exactly this text."""
        path = self.path(kind, day, name)
        path.write_text(text, encoding="utf-8")
        return path

    def binary(self, kind: str, day: date | None, name: str, data: bytes) -> Path:
        """A file with exactly these bytes."""
        path = self.path(kind, day, name)
        path.write_bytes(data)
        return path

    def jsonl(self, kind: str, day: date | None, name: str, rows: Iterable[Row]) -> Path:
        """One line per row: a dict is dumped as JSON, a string is written as it is."""
        return self.text(kind, day, name, jsonl_text(rows))

    def jsonl_gz(self, kind: str, day: date | None, name: str, rows: Iterable[Row]) -> Path:
        """As :meth:`jsonl`, gzip-compressed."""
        return self.binary(kind, day, name, gzip.compress(jsonl_text(rows).encode("utf-8")))

    def csv(self, kind: str, day: date | None, name: str, header: list[str], rows: Iterable[Mapping[str, Any]]) -> Path:
        """A CSV file with a header line; missing fields are empty."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        return self.text(kind, day, name, out.getvalue())

    def parquet(self, kind: str, day: date | None, name: str, table: Any) -> Path:
        """A Parquet file from a ``pyarrow.Table``."""
        import pyarrow.parquet as pq

        path = self.path(kind, day, name)
        pq.write_table(table, path)
        return path


def jsonl_text(rows: Iterable[Row]) -> str:
    """JSON lines text: dicts dumped, strings kept verbatim, one per line."""
    return "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows)


def run_day(
    landing: Landing | Path,
    warehouse: Path,
    day: date,
    config: Settings | Path | str | None = None,
    *,
    funnels: bool = False,
) -> runs.RunSummary:
    """Run one day from landing to published warehouse without Prefect: open the run, ingest
    every kind, stitch, sessionize, build the marts (and the funnels, with ``funnels``), write
    the report, publish (abort on error). Stages and pain points are left to their own tests."""
    root = Path(landing) if isinstance(landing, (str, Path)) else landing.root  # (a Path has a .root too: "/")
    settings = config if isinstance(config, Settings) else load_settings(config)
    ctx = runs.open_run(day, root, warehouse, warehouse.parent / "reports", settings)
    try:
        runs.build_through_sessions(ctx)
        if funnels:
            runs.funnels_step(ctx)
        page = runs.report_step(ctx)
        return runs.finish_run(ctx, page)
    except BaseException:
        runs.abort_run(ctx)
        raise


def query(warehouse: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Rows of one query on the published warehouse, opened read-only as an analyst would."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'").fetchall()
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="session", autouse=True)
def hash_key() -> Iterator[str]:
    """Every test (and module fixture) runs with a known pseudonymization key, so no key file
    is written; a test that wants another key or none uses ``monkeypatch``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(HASH_KEY_ENV, TEST_HASH_KEY)
        yield TEST_HASH_KEY


@pytest.fixture
def landing(tmp_path: Path) -> Landing:
    """An empty landing folder."""
    return Landing(tmp_path / "landing")


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """Where the test's warehouse is published (not created until a run publishes)."""
    return tmp_path / "warehouse" / "journey.duckdb"


# The columns of sql/marts/events.sql, in order: tests that build main.events by hand use them
# (tests/test_warehouse.py checks they match the real table).
EVENT_COLUMNS = {
    "event_id": "varchar", "customer_id": "varchar", "anonymous_id": "varchar", "user_id": "varchar",
    "channel": "varchar", "event_name": "varchar", "event_ts": "timestamp", "event_date": "date",
    "session_id": "varchar", "device_category": "varchar", "utm_source": "varchar",
    "utm_medium": "varchar", "utm_campaign": "varchar", "country": "varchar", "page_url": "varchar",
    "page_title": "varchar", "referrer": "varchar", "order_id": "varchar", "value": "decimal(18,4)",
    "currency": "varchar", "rating": "integer", "email_hash": "varchar", "campaign_id": "varchar",
    "message_id": "varchar", "url": "varchar", "reason": "varchar", "platform": "varchar",
    "social_handle_hash": "varchar", "post_id": "varchar", "thread_id": "varchar",
    "sentiment": "double", "text": "varchar", "properties": "json", "arrived_on": "date",
    "is_late": "boolean",
}
