"""Build ``funnel_steps`` and ``funnel_next_events`` for one run date from the funnel config."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb

from journey_analytics.contract import EVENT_NAMES
from journey_analytics.funnels.config import Funnel, load_funnel_config
from journey_analytics.funnels.engine import SESSIONS_JOIN, US, compute_reached, event_field, quote
from journey_analytics.warehouse import comment_table, has_tables, load_model

TABLES = ("funnel_steps", "funnel_next_events")


@dataclass(frozen=True)
class Period:
    """A report period of whole UTC days, first and last day inclusive."""

    first: date
    last: date

    @classmethod
    def ending(cls, last: date, days: int) -> Period:
        """The ``days`` days ending on ``last``."""
        return cls(last - timedelta(days=days - 1), last)

    def before(self) -> Period:
        """The period of the same length just before this one."""
        days = (self.last - self.first).days + 1
        return Period.ending(self.first - timedelta(days=1), days)

    @property
    def start(self) -> datetime:
        """First instant of the period."""
        return datetime.combine(self.first, time())

    @property
    def end(self) -> datetime:
        """First instant after the period."""
        return datetime.combine(self.last + timedelta(days=1), time())


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> None:
    con.execute(sql, params or []).fetchall()


def _segment_source(con: duckdb.DuckDBPyConnection, funnel: Funnel) -> None:
    """Write ``_fn_seg``: reached rows with the customer and breakdown values of the chain's start event.

    Campaign fields (utm_*) are on a session's landing page view only: an event without them
    takes its session's.
    """
    sessions = "se" if has_tables(con, "sessions") else None
    join = SESSIONS_JOIN if sessions else ""
    columns = [f"cast({event_field(column, sessions)} as varchar) as b_{column}" for column in funnel.breakdowns]
    extra = "".join(f", {c}" for c in columns)
    _run(con, f"""
        create or replace temp table _fn_seg as
        select r.*, e.customer_id{extra}
        from _fn_reached as r
        join main.events as e on e.event_id || chr(31) || e.channel = r.start_event_id  -- see prepare_events
        {join}
    """)


def _aggregate(con: duckdb.DuckDBPyConnection, funnel: Funnel, table: str) -> None:
    """Write ``table``: entered and median gap per step and segment, every step for every segment."""
    n = len(funnel.steps)
    rows = ["select unit_id, step_index, secs_from_previous, 'all' as segment_key, 'all' as segment_value from _fn_seg"]
    for column in funnel.breakdowns:
        rows.append(
            f"select unit_id, step_index, secs_from_previous, {quote(column)}, "
            f"coalesce(b_{column}, '(none)') from _fn_seg"
        )
    _run(con, f"""
        create or replace temp table {table} as
        with seg_rows as ({' union all '.join(rows)}),
        segments as (
            select distinct segment_key, segment_value from seg_rows
            union select 'all', 'all'
        ),
        counts as (
            select segment_key, segment_value, step_index, count(*) as entered,
                median(secs_from_previous) as median_time_from_previous
            from seg_rows
            group by segment_key, segment_value, step_index
        )
        select g.segment_key, g.segment_value, s.step_index,
            coalesce(c.entered, 0) as entered, c.median_time_from_previous
        from segments as g
        cross join (select unnest(range(1, {n + 1})) as step_index) as s
        left join counts as c using (segment_key, segment_value, step_index)
    """)


def _next_events(con: duckdb.DuckDBPyConnection, funnel: Funnel, period: Period, table: str) -> None:
    """Write ``table``: per step, what the units that stopped there did next, within the window."""
    n = len(funnel.steps)
    _run(con, f"""
        create or replace temp table {table} as
        with dropped as (
            select unit_id, customer_id, step_index, step_ts,
                least(start_ts + {funnel.window_seconds * US}, epoch_us(?::timestamp) - 1) as until_ts
            from _fn_seg
            where is_last and step_index < {n}
        ),
        later as (
            select customer_id, epoch_us(event_ts) as ts, event_id, channel, event_name
            from main.events
            where event_ts >= ?::timestamp and event_ts < ?::timestamp
        ),
        nexts as (
            select d.unit_id, d.step_index, l.channel, l.event_name
            from dropped as d
            join later as l
                on l.customer_id = d.customer_id and l.ts > d.step_ts and l.ts <= d.until_ts
            qualify row_number() over (partition by d.unit_id, d.step_index order by l.ts, l.event_id) = 1
        )
        select d.step_index,
            coalesce(x.channel, '(none)') as next_channel,
            coalesce(x.event_name, '(none)') as next_event,
            count(*) as dropped
        from dropped as d
        left join nexts as x using (unit_id, step_index)
        group by all
    """, [period.end, period.start, period.end])


def _steps_values(funnel: Funnel) -> str:
    rows = ", ".join(
        f"({k}, {quote(s.label)}, {s.window_seconds if s.window_seconds is not None else 'null'}::bigint)"
        for k, s in enumerate(funnel.steps, 1)
    )
    return f"(values {rows}) as st(step_index, step, step_window)"


def build_funnel(
    con: duckdb.DuckDBPyConnection, funnel: Funnel, as_of: date, compare_previous: bool = True
) -> None:
    """Append one funnel's rows to the build tables ``funnel_steps_build`` and ``funnel_next_events_build``."""
    current = Period.ending(as_of, funnel.period_days)
    previous = current.before()
    compute_reached(con, funnel, current.start, current.end)
    _segment_source(con, funnel)
    _aggregate(con, funnel, "_fn_agg_current")
    _next_events(con, funnel, current, "_fn_next_current")
    if compare_previous:
        compute_reached(con, funnel, previous.start, previous.end)
        _segment_source(con, funnel)
        _aggregate(con, funnel, "_fn_agg_previous")
    else:
        _run(con, "create or replace temp table _fn_agg_previous as select * from _fn_agg_current where false")
    keep = f"case when {str(compare_previous).lower()} then"
    _run(con, f"""
        insert into funnel_steps_build
        with joined as (
            select
                coalesce(c.segment_key, p.segment_key) as segment_key,
                coalesce(c.segment_value, p.segment_value) as segment_value,
                coalesce(c.step_index, p.step_index) as step_index,
                coalesce(c.entered, 0) as entered,
                c.median_time_from_previous,
                coalesce(p.entered, 0) as previous_entered
            from _fn_agg_current as c
            full join _fn_agg_previous as p using (segment_key, segment_value, step_index)
        ),
        framed as (
            select *,
                lag(entered) over seg as entered_before,
                first_value(entered) over seg as entered_first,
                lag(previous_entered) over seg as previous_entered_before,
                first_value(previous_entered) over seg as previous_entered_first
            from joined
            window seg as (partition by segment_key, segment_value order by step_index)
        )
        select
            ?::date as as_of_date,
            {quote(funnel.name)} as funnel,
            {quote(funnel.unit)} as unit,
            {quote(funnel.order)} as step_order,
            {str(funnel.is_open).lower()} as is_open,
            f.step_index,
            st.step,
            f.segment_key,
            f.segment_value,
            ?::date as period_start,
            ?::date as period_end,
            {funnel.window_seconds}::bigint as conversion_window,
            st.step_window,
            f.entered,
            f.entered / nullif(f.entered_before, 0) as conversion_from_previous,
            f.entered / nullif(f.entered_first, 0) as conversion_from_start,
            f.entered_before - f.entered as drop_off,
            f.median_time_from_previous,
            ?::date as previous_period_start,
            ?::date as previous_period_end,
            {keep} f.previous_entered end,
            {keep} f.previous_entered / nullif(f.previous_entered_before, 0) end,
            {keep} f.previous_entered / nullif(f.previous_entered_first, 0) end
        from framed as f
        join {_steps_values(funnel)} using (step_index)
    """, [as_of, current.first, current.last, previous.first if compare_previous else None,
          previous.last if compare_previous else None])
    _run(con, f"""
        insert into funnel_next_events_build
        select
            ?::date,
            {quote(funnel.name)},
            {quote(funnel.unit)},
            x.step_index,
            st.step,
            ?::date,
            ?::date,
            x.next_channel,
            x.next_event,
            x.dropped,
            x.dropped / sum(x.dropped) over (partition by x.step_index)
        from _fn_next_current as x
        join {_steps_values(funnel)} using (step_index)
    """, [as_of, current.first, current.last])


def _create_build_tables(con: duckdb.DuckDBPyConnection) -> None:
    _run(con, """
        create or replace temp table funnel_steps_build (
            as_of_date date, funnel varchar, unit varchar, step_order varchar, is_open boolean,
            step_index integer, step varchar, segment_key varchar, segment_value varchar,
            period_start date, period_end date, conversion_window bigint, step_window bigint,
            entered bigint, conversion_from_previous double, conversion_from_start double,
            drop_off bigint, median_time_from_previous double, previous_period_start date,
            previous_period_end date, previous_entered bigint,
            previous_conversion_from_previous double, previous_conversion_from_start double
        )
    """)
    _run(con, """
        create or replace temp table funnel_next_events_build (
            as_of_date date, funnel varchar, unit varchar, step_index integer, step varchar,
            period_start date, period_end date, next_channel varchar, next_event varchar,
            dropped bigint, share_of_dropped double
        )
    """)


def _publish(con: duckdb.DuckDBPyConnection, name: str, as_of: date) -> int:
    """Replace ``as_of``'s rows of main.<name> with the build table's, keeping other dates."""
    model = load_model("marts", name)
    body = model.sql.strip().rstrip(";")
    _run(con, f"create table if not exists main.{name} as select * from ({body}) where false")
    _run(con, f"delete from main.{name} where as_of_date = ?", [as_of])
    _run(con, f"insert into main.{name} by name select * from ({body})")
    comment_table(con, f"main.{name}", model)
    return int(con.execute(f"select count(*) from main.{name} where as_of_date = ?", [as_of]).fetchall()[0][0])


def _drop_working_tables(con: duckdb.DuckDBPyConnection) -> None:
    names = con.execute(
        "select table_name from duckdb_tables() where temporary and "
        "(table_name like '\\_fn\\_%' escape '\\' or table_name like 'funnel\\_%\\_build' escape '\\')"
    ).fetchall()
    for (name,) in names:
        _run(con, f"drop table if exists temp.{name}")


def build_funnels(
    con: duckdb.DuckDBPyConnection, as_of: date, *, config_path: Path | None = None
) -> dict[str, int]:
    """(Re)build main.funnel_steps and main.funnel_next_events for ``as_of``; returns their rows for that date.

    Rows of other run dates are kept, so the tables hold every run's funnels side by side.
    """
    config = load_funnel_config(config_path)
    _create_build_tables(con)
    try:
        for funnel in config.funnels:
            build_funnel(con, funnel, as_of, config.compare_previous_period)
        return {name: _publish(con, name, as_of) for name in TABLES}
    finally:
        _drop_working_tables(con)


def steps_no_event_carries(con: duckdb.DuckDBPyConnection, *, config_path: Path | None = None) -> list[str]:
    """A notice for each funnel step whose event name is none of the contract's and that no event
    in the warehouse carries: a custom name is kept as given, so a typo (add_to_crat) would leave
    the funnel at zero from that step on with nothing said. (A contract name not logged yet is
    the dashboard's to explain.)"""
    config = load_funnel_config(config_path)
    contract = {name for names in EVENT_NAMES.values() for name in names}
    custom = [
        (funnel.name, i, step.event)
        for funnel in config.funnels
        for i, step in enumerate(funnel.steps, start=1)
        if step.event not in contract
    ]
    if not custom or not has_tables(con, "events"):
        return []
    seen = {
        name for (name,) in con.execute(
            "select distinct event_name from main.events where list_contains(?, event_name)",
            [sorted({event for _, _, event in custom})],
        ).fetchall()
    }
    return [
        f"funnel {funnel} step {i}: no event is named {event!r}, nor does the contract name one so"
        " (a typo? the funnel is zero from that step on)"
        for funnel, i, event in custom
        if event not in seen
    ]
