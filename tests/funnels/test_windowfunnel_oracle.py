"""The customer funnel equals ClickHouse's windowFunnel(window, 'strict_increase'), run in chdb.

Both engines read the same events (exported to Parquet in a shuffled row order, so arrival
order differs from event time), over the same period and window; every customer's level
and every step's entered count must agree exactly.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journey_analytics.funnels.build import build_funnels
from journey_analytics.funnels.config import load_funnel_config, parse_funnel_config
from journey_analytics.funnels.engine import compute_reached
from journey_analytics.warehouse import connect
from tests.funnels.conftest import EVENT_COLUMNS

chdb = pytest.importorskip("chdb")


def windowfunnel_levels(
    parquet: Path,
    conditions: list[str],
    window_seconds: int,
    start: datetime,
    end: datetime,
    unit: str = "customer_id",
) -> dict[str, int]:
    """Each unit's windowFunnel level (units at level 0 left out), computed by chdb."""
    start_us = int((start - datetime(1970, 1, 1)).total_seconds()) * 1_000_000
    end_us = int((end - datetime(1970, 1, 1)).total_seconds()) * 1_000_000
    sql = f"""
        select {unit},
            windowFunnel({window_seconds * 1_000_000}, 'strict_increase')(toUInt64(ts_us), {', '.join(conditions)})
        from file('{parquet}', Parquet)
        where ts_us >= {start_us} and ts_us < {end_us} and {unit} is not null
        group by {unit}
    """
    text = chdb.query(sql, "CSV").bytes().decode()
    return {unit_id: int(level) for unit_id, level in csv.reader(io.StringIO(text)) if int(level) > 0}


def duckdb_levels(con: duckdb.DuckDBPyConnection, funnel: dict, start: datetime, end: datetime) -> dict[str, int]:
    """Each customer's furthest step from the funnel engine."""
    parsed = parse_funnel_config({"funnels": [{"name": "f", **funnel}]}).funnels[0]
    compute_reached(con, parsed, start, end)
    return dict(con.execute("select unit_id, max(step_index) from _fn_reached group by 1").fetchall())


def export_shuffled(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Write the events to Parquet in an order unrelated to their time."""
    con.execute(
        f"copy (select customer_id, session_id, channel, event_name, epoch_us(event_ts) as ts_us from main.events "
        f"order by hash(event_id, 'shuffle')) to '{path}' (format parquet)"
    ).fetchall()


def ch_condition(step: str) -> str:
    """A ClickHouse condition for a step written "event" or "channel:event"."""
    if ":" in step:
        channel, event = step.split(":")
        return f"(channel = '{channel}' and event_name = '{event}')"
    return f"event_name = '{step}'"


def as_steps(steps: list[str]) -> list[dict[str, str]]:
    """Config steps for steps written "event" or "channel:event"."""
    out = []
    for step in steps:
        if ":" in step:
            channel, event = step.split(":")
            out.append({"event": event, "channel": channel, "label": step.replace(":", "_")})
        else:
            out.append({"event": step})
    return out


@pytest.fixture(scope="module")
def random_events(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    """400 customers, 8000 events named a, b, c, d or x, in 300 seconds: many share a second."""
    folder = tmp_path_factory.mktemp("random_funnel")
    con = connect(folder / "w.duckdb")
    columns = ", ".join(f"{name} {kind}" for name, kind in EVENT_COLUMNS.items())
    con.execute(f"create table main.events ({columns})").fetchall()
    con.execute("""
        insert into main.events (event_id, customer_id, channel, event_name, event_ts)
        select 'e' || i, 'c' || (hash(i, 'who') % 400), 'web',
            ['a', 'b', 'c', 'd', 'x'][1 + (hash(i, 'what') % 5)::int],
            timestamp '2026-11-20 00:00:00' + to_seconds((hash(i, 'when') % 300)::bigint)
        from range(8000) as t(i)
        order by hash(i, 'arrival')
    """).fetchall()
    export_shuffled(con, folder / "events.parquet")
    yield con, folder / "events.parquet"
    con.close()


def toml_step(step: str) -> str:
    """A step written "event" or "channel:event" as a TOML inline table."""
    if ":" in step:
        channel, event = step.split(":")
        return f'{{ event = "{event}", channel = "{channel}", label = "{channel}_{event}" }}'
    return f'{{ event = "{step}" }}'


class TestRandomEvents:
    """On random events dense with ties, repeats and repeated steps, levels agree for every window."""

    @pytest.mark.parametrize("steps", [
        ["a", "b", "c", "d"],
        ["a", "b", "a", "c"],
        ["a", "b", "a", "b"],
        ["b"],
    ])
    @pytest.mark.parametrize("window", [1, 5, 30, 1000])
    def test_levels_agree(self, random_events: tuple[duckdb.DuckDBPyConnection, Path], steps: list[str], window: int) -> None:
        """Every customer's level equals windowFunnel's."""
        con, parquet = random_events
        start, end = datetime(2026, 11, 1), datetime(2026, 12, 1)
        mine = duckdb_levels(con, {"window": window, "steps": as_steps(steps)}, start, end)
        theirs = windowfunnel_levels(parquet, [ch_condition(s) for s in steps], window, start, end)
        assert mine == theirs
        assert len(theirs) > 300


AS_OF = date(2026, 11, 4)
FUNNELS = {
    "checkout": ["view_item", "add_to_cart", "begin_checkout", "add_payment_info", "purchase"],
    "email": ["email:delivered", "email:open", "email:click", "web:page_view", "web:purchase"],
    "browse": ["page_view", "view_item", "page_view", "add_to_cart"],
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    """300 simulated customers over 35 days, ingested, stitched, sessionized and built; times rounded to the hour."""
    from journey_analytics import runs
    from journey_analytics.config import HASH_KEY_ENV, Settings
    from journey_analytics.ingest import KINDS
    from journey_analytics.simulate import simulate

    folder = tmp_path_factory.mktemp("simulated_funnel")
    simulate(folder / "landing", 300, 35, 11)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HASH_KEY_ENV, os.environ.get(HASH_KEY_ENV, "funnel-test-key"))
        ctx = runs.open_run(AS_OF, folder / "landing", folder / "w.duckdb", folder / "reports", Settings())
        for kind in KINDS:
            runs.ingest_step(ctx, kind)
        runs.stitch_step(ctx)
        runs.sessionize_step(ctx)
        runs.marts_step(ctx)
        default_counts = build_funnels(ctx.con, AS_OF)
        runs.finish_run(ctx, folder / "report.html")
    shutil.copyfile(folder / "w.duckdb", folder / "rounded.duckdb")
    con = connect(folder / "rounded.duckdb")
    con.execute(
        "create or replace table main.events as "
        "select * replace (time_bucket(interval 1 hour, event_ts) as event_ts) from main.events"
    ).fetchall()
    export_shuffled(con, folder / "events.parquet")
    (folder / "default_counts.json").write_text(json.dumps(default_counts))
    yield con, folder
    con.close()


class TestSimulatedWarehouse:
    """On the simulator's events run through the pipeline, with times rounded to the hour (ties), the published funnel_steps agree."""

    @pytest.mark.parametrize("window", ["1h", "1d", "7d"])
    def test_published_entered_and_levels_agree(
        self, warehouse: tuple[duckdb.DuckDBPyConnection, Path], window: str
    ) -> None:
        """Per-customer levels and funnel_steps' entered per step, this period and the previous, equal windowFunnel's."""
        con, folder = warehouse
        blocks = [
            f'[[funnels]]\nname = "{name}"\nwindow = "{window}"\nperiod_days = 14\n'
            f'breakdowns = ["device_category"]\nsteps = [{", ".join(toml_step(s) for s in steps)}]\n'
            for name, steps in FUNNELS.items()
        ]
        config = folder / f"funnels-{window}.toml"
        config.write_text("\n".join(blocks), encoding="utf-8")
        build_funnels(con, AS_OF, config_path=config)
        funnels = load_funnel_config(config).funnels
        seconds = {f.name: f.window_seconds for f in funnels}
        this_start = datetime(2026, 10, 22)
        periods = {"entered": (this_start, this_start + timedelta(days=14)),
                   "previous_entered": (this_start - timedelta(days=14), this_start)}
        for name, steps in FUNNELS.items():
            for column, (start, end) in periods.items():
                theirs = windowfunnel_levels(
                    folder / "events.parquet", [ch_condition(s) for s in steps], seconds[name], start, end
                )
                mine = duckdb_levels(con, {"window": window, "steps": as_steps(steps)}, start, end)
                assert mine == theirs, (name, column)
                published = con.execute(
                    f"select list({column} order by step_index) from funnel_steps "
                    "where funnel = ? and segment_key = 'all' and as_of_date = ?",
                    [name, AS_OF],
                ).fetchall()[0][0]
                expected = [sum(level >= k for level in theirs.values()) for k in range(1, len(steps) + 1)]
                assert published == expected, (name, column)
                assert expected[0] > 0

    def test_session_unit_equals_windowfunnel_per_session(
        self, warehouse: tuple[duckdb.DuckDBPyConnection, Path]
    ) -> None:
        """With unit = session, each session's level equals windowFunnel grouped by session."""
        con, folder = warehouse
        steps = FUNNELS["browse"]
        start, end = datetime(2026, 10, 8), datetime(2026, 11, 5)
        mine = duckdb_levels(con, {"window": "1h", "unit": "session", "steps": as_steps(steps)}, start, end)
        theirs = windowfunnel_levels(
            folder / "events.parquet", [ch_condition(s) for s in steps], 3600, start, end, unit="session_id"
        )
        assert mine == theirs
        assert len(theirs) > 100 and max(theirs.values()) >= 2


events_strategy = st.lists(
    st.tuples(st.sampled_from(["c1", "c2", "c3"]), st.sampled_from(["a", "b", "c"]), st.integers(0, 12)),
    max_size=30,
)


class TestProperty:
    """For any small set of events, levels equal windowFunnel's (Hypothesis searches for a difference)."""

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        rows=events_strategy,
        steps=st.sampled_from([["a", "b", "c"], ["a", "b", "a"], ["b", "a", "b"], ["b", "a", "c", "a"]]),
        window=st.integers(1, 14),
    )
    def test_levels_agree(self, tmp_path: Path, rows: list[tuple[str, str, int]], steps: list[str], window: int) -> None:
        """Every customer's level equals windowFunnel's on the same hand-built events."""
        con = connect(":memory:")
        columns = ", ".join(f"{name} {kind}" for name, kind in EVENT_COLUMNS.items())
        con.execute(f"create table main.events ({columns})").fetchall()
        for i, (customer, name, second) in enumerate(rows):
            con.execute(
                "insert into main.events (event_id, customer_id, channel, event_name, event_ts) "
                "values (?, ?, 'web', ?, timestamp '2026-11-20 00:00:00' + to_seconds(?))",
                [f"e{i:03d}", customer, name, second],
            ).fetchall()
        parquet = tmp_path / f"events-{uuid.uuid4().hex}.parquet"
        export_shuffled(con, parquet)
        start, end = datetime(2026, 11, 1), datetime(2026, 12, 1)
        mine = duckdb_levels(con, {"window": window, "steps": as_steps(steps)}, start, end)
        theirs = windowfunnel_levels(parquet, [ch_condition(s) for s in steps], window, start, end) if rows else {}
        con.close()
        assert mine == theirs


class TestInTheNightlyRun:
    """build_funnels on a run's build connection publishes the default funnels with the warehouse."""

    def test_default_funnels_published(self, warehouse: tuple[duckdb.DuckDBPyConnection, Path]) -> None:
        """The published warehouse holds the checkout and e-mail funnels for the run date, every step of each."""
        _, folder = warehouse
        counts = json.loads((folder / "default_counts.json").read_text())
        with duckdb.connect(str(folder / "w.duckdb"), read_only=True) as con:
            whole = con.execute(
                "select funnel, list(entered order by step_index) from funnel_steps "
                "where as_of_date = ? and segment_key = 'all' group by funnel order by funnel",
                [AS_OF],
            ).fetchall()
            keys = con.execute(
                "select distinct funnel, segment_key from funnel_steps where as_of_date = ? order by 1, 2",
                [AS_OF],
            ).fetchall()
            published = {
                table: con.execute(f"select count(*) from {table} where as_of_date = ?", [AS_OF]).fetchall()[0][0]
                for table in ("funnel_steps", "funnel_next_events")
            }
        assert [name for name, _ in whole] == ["checkout", "email"]
        assert all(len(entered) == 5 and entered[0] > entered[-1] > 0 for _, entered in whole)
        assert keys == [
            ("checkout", "all"), ("checkout", "country"), ("checkout", "device_category"),
            ("checkout", "utm_medium"), ("checkout", "utm_source"),
            ("email", "all"), ("email", "campaign_id"),
        ]
        assert published == counts
