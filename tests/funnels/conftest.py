"""Tiny hand-built warehouses for the funnel tests: main.events (and main.sessions) made row by row."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from journey_analytics.funnels.build import build_funnels
from journey_analytics.funnels.config import parse_funnel_config
from journey_analytics.funnels.engine import compute_reached
from journey_analytics.warehouse import connect
from tests.conftest import EVENT_COLUMNS

AS_OF = date(2026, 11, 28)
# A moment well inside the default 28-day period ending on AS_OF.
T0 = datetime(2026, 11, 20, 12, 0, 0)



class Events:
    """A warehouse with main.events and main.sessions, filled one event at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.con = connect(path)
        self._ids = itertools.count(1)
        columns = ", ".join(f"{name} {kind}" for name, kind in EVENT_COLUMNS.items())
        self.con.execute(f"create table main.events ({columns})").fetchall()
        self.con.execute(
            "create table main.sessions (session_id varchar, customer_id varchar, "
            "utm_source varchar, utm_medium varchar, utm_campaign varchar)"
        ).fetchall()

    def add(self, customer: str, name: str, at: float | datetime, channel: str = "web", **fields: Any) -> str:
        """One event; ``at`` is seconds after T0 or a datetime. Returns its event_id."""
        ts = at if isinstance(at, datetime) else T0 + timedelta(seconds=at)
        event_id = fields.pop("event_id", f"e{next(self._ids):05d}")
        row: dict[str, Any] = {
            "event_id": event_id, "customer_id": customer, "channel": channel, "event_name": name,
            "event_ts": ts, "event_date": ts.date(), "arrived_on": ts.date(), "is_late": False,
        }
        if channel == "web":
            row["session_id"] = f"s-{customer}"
        row.update(fields)
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.con.execute(f"insert into main.events ({names}) values ({marks})", list(row.values())).fetchall()
        return event_id

    def session(self, session_id: str, customer: str, **utm: str) -> None:
        """A session row (only the columns the funnels read)."""
        self.con.execute(
            "insert into main.sessions values (?, ?, ?, ?, ?)",
            [session_id, customer, utm.get("utm_source"), utm.get("utm_medium"), utm.get("utm_campaign")],
        ).fetchall()

    def levels(self, funnel: dict[str, Any], as_of: date = AS_OF, days: int = 28) -> dict[str, int]:
        """Each unit's furthest step in the funnel over the ``days`` ending on ``as_of``."""
        parsed = parse_funnel_config({"funnels": [{"name": "f", **funnel}]}).funnels[0]
        start = datetime.combine(as_of - timedelta(days=days - 1), datetime.min.time())
        compute_reached(self.con, parsed, start, start + timedelta(days=days))
        return dict(self.con.execute(
            "select unit_id, max(step_index) from _fn_reached group by unit_id order by unit_id"
        ).fetchall())

    def build(self, toml: str, as_of: date = AS_OF) -> dict[str, int]:
        """Run build_funnels with this funnel config text."""
        config = self.path.with_name("funnels.toml")
        config.write_text(textwrap.dedent(toml), encoding="utf-8")
        return build_funnels(self.con, as_of, config_path=config)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """The rows of a query."""
        return self.con.execute(sql).fetchall()


@pytest.fixture
def events(tmp_path: Path) -> Iterator[Events]:
    """An empty hand-built warehouse."""
    warehouse = Events(tmp_path / "warehouse.duckdb")
    yield warehouse
    warehouse.con.close()


CHECKOUT = ["view_item", "add_to_cart", "begin_checkout", "add_payment_info", "purchase"]


def steps(*names: str) -> list[dict[str, str]]:
    """Steps on these event names."""
    return [{"event": name} for name in names]


def duckdb_rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    """The rows of a query."""
    return con.execute(sql).fetchall()
