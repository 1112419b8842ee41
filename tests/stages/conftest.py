"""A tiny hand-built warehouse for the stage tests: main.events, main.identity_map, raw.labels
and raw.identities created with the published tables' columns, filled row by row."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from journey_analytics.stages.rules import DEFAULT_RULES_PATH
from journey_analytics.warehouse import connect, run_script
from tests.conftest import EVENT_COLUMNS

AS_OF = date(2026, 11, 30)



class Warehouse:
    """A DuckDB file with the tables the stage step reads, and helpers to fill them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.con = connect(path)
        self._ids = itertools.count(1)
        columns = ", ".join(f"{name} {kind}" for name, kind in EVENT_COLUMNS.items())
        self.con.execute(f"create table main.events ({columns})").fetchall()
        self.con.execute(
            "create table main.identity_map (identifier_type varchar, identifier varchar, "
            "customer_id varchar, customer_identifiers bigint, names_someone boolean)"
        ).fetchall()
        self.con.execute("create schema raw").fetchall()
        self.con.execute(
            "create table raw.labels (user_id varchar not null, stage varchar not null, "
            "as_of_date date not null, source_file varchar not null, line_no bigint not null, "
            "run_id varchar not null)"
        ).fetchall()
        run_script(self.con, "raw", "identities")  # the CRM's links (empty unless a test adds some)

    def event(
        self,
        customer: str,
        name: str,
        at: datetime | date | str,
        channel: str = "web",
        **fields: Any,
    ) -> None:
        """One event of a customer; a customer id not starting with anon: is identified."""
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        elif not isinstance(at, datetime):
            at = datetime(at.year, at.month, at.day, 12, 0)
        row: dict[str, Any] = {
            "event_id": f"e{next(self._ids):06d}",
            "customer_id": customer,
            "channel": channel,
            "event_name": name,
            "event_ts": at,
            "event_date": at.date(),
            "arrived_on": at.date(),
            "is_late": False,
        }
        if channel == "web":
            row["session_id"] = f"s-{customer}-{at.date()}"
            row["anonymous_id"] = f"dev-{customer}"
            row["device_category"] = "desktop"
        if not customer.startswith("anon:"):
            row["user_id"] = customer
        row.update(fields)
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.con.execute(f"insert into main.events ({names}) values ({marks})", list(row.values())).fetchall()

    def order(self, customer: str, order_id: str, at: datetime | date | str, value: float = 50.0) -> None:
        """A purchase event."""
        self.event(customer, "purchase", at, order_id=order_id, value=value, currency="EUR")

    def label(self, customer: str, stage: str, as_of: date = AS_OF) -> None:
        """A known stage for an identified customer."""
        self.con.execute(
            "insert into raw.labels values (?, ?, ?, 'labels/test.csv', 1, 'test')", [customer, stage, as_of]
        ).fetchall()

    def identify(self) -> None:
        """Rebuild identity_map from the events: a user_id for identified customers, devices."""
        self.con.execute("delete from main.identity_map").fetchall()
        self.con.execute(
            """
            insert into main.identity_map
            select identifier_type, identifier, customer_id, count(*) over (partition by customer_id), true
            from (
                select distinct 'user_id' as identifier_type, user_id as identifier, customer_id
                from main.events where user_id is not null
                union
                select distinct 'anonymous_id', anonymous_id, customer_id
                from main.events where anonymous_id is not null
            )
            """
        ).fetchall()

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows of a query."""
        return self.con.execute(sql, params or []).fetchall()


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    """An empty hand-built warehouse."""
    warehouse = Warehouse(tmp_path / "stages.duckdb")
    yield warehouse
    warehouse.con.close()


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    """A copy of the default rule file that a test may edit."""
    path = tmp_path / "stages.toml"
    shutil.copyfile(DEFAULT_RULES_PATH, path)
    return path


def days_before(as_of: date, n: int, hour: int = 12) -> datetime:
    """Noon (or another hour) n days before a run date."""
    d = as_of - timedelta(days=n)
    return datetime(d.year, d.month, d.day, hour)
