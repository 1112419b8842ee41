"""The funnel engine: which steps each unit (customer or session) reached, computed set-wise.

The loop is over steps, never over customers or events: each step is one SQL statement that
links every candidate event of step k to the chain state of step k-1.

Closed, ordered funnels reproduce ClickHouse's ``windowFunnel(window, 'strict_increase')``
exactly. ClickHouse walks a unit's events sorted by (timestamp, step number) and keeps, per
level, the chain that last reached it: its start time and the time of its last event. A
step-k event at time t extends level k-1 when that state's last event is strictly before t
and t is no more than ``window`` after the chain's start (the boundary counts). Here that
"state just before (t, k)" is an ASOF join: the latest step-(k-1) chain end at a time <= t.
A step-(k-1) chain ending at the same instant t is the state ClickHouse sees, and it blocks
the link (strict increase); this is what makes ties in time agree.

Options change only the link condition: a per-step window bounds the gap from the previous
step; an exclusion event strictly between the two steps breaks the link; in strict order the
previous step must be the unit's previous event (no other in-scope event strictly between).
Open funnels run the same chain from every entry step; any-order funnels count, per start
event, which steps occur within the window.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from journey_analytics.funnels.config import Exclusion, Funnel, Step
from journey_analytics.warehouse import has_tables

US = 1_000_000
# Fields a tag sends on a session's landing page view only; the session row holds them for its events.
CAMPAIGN_COLUMNS = frozenset({"utm_source", "utm_medium", "utm_campaign"})


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def condition_sql(item: Step | Exclusion, sessions: str | None = None, alias: str = "e") -> str:
    """The SQL predicate on main.events (alias ``alias``) that an event matches a step or exclusion.

    Campaign fields (utm_*) are on a session's landing page view only, so with ``sessions``
    (the alias of main.sessions joined on the event's session) an event without them is
    tested on its session's, as breakdowns read them.
    """
    parts = [f"{alias}.event_name = {quote(item.event)}"]
    if item.channel is not None:
        parts.append(f"{alias}.channel = {quote(item.channel)}")
    if item.page_url_like is not None:
        parts.append(f"{alias}.page_url like {quote(item.page_url_like)}")
    for column, value in item.equals:
        parts.append(f"{event_field(column, sessions, alias)} = {quote(value)}")
    return "coalesce(" + " and ".join(parts) + ", false)"


# main.sessions joined to main.events (alias e) as ``se``, for the campaign fields of an event's session.
SESSIONS_JOIN = "left join main.sessions as se on se.session_id = e.session_id"


def event_field(column: str, sessions: str | None, alias: str = "e") -> str:
    """SQL for an event's field (alias ``alias``); with ``sessions`` (the alias of its session's row), a
    campaign field (utm_*) the event does not carry is its session's: tags send them on the
    landing page view only. Conditions and breakdowns read them alike."""
    if sessions is not None and column in CAMPAIGN_COLUMNS:
        return f"coalesce({alias}.{column}, {sessions}.{column})"
    return f"{alias}.{column}"


def events_source(con: duckdb.DuckDBPyConnection, funnel: Funnel) -> tuple[str, str | None]:
    """The FROM clause of a funnel's events (alias e), and the alias of their sessions when joined.

    Sessions are joined only when a step or exclusion tests a campaign field (utm_*).
    """
    items = (*funnel.steps, *funnel.exclusions)
    if any(column in CAMPAIGN_COLUMNS for item in items for column, _ in item.equals) and has_tables(con, "sessions"):
        return f"main.events as e {SESSIONS_JOIN}", "se"
    return "main.events as e", None


def _run(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    con.execute(sql).fetchall()


def prepare_events(con: duckdb.DuckDBPyConnection, funnel: Funnel, start: datetime, end: datetime) -> None:
    """Write ``_fn_events``: the funnel's in-scope events of the period, one flag column per step.

    ``s<k>`` is true when the event matches step k, ``x<k>`` when it is an exclusion between
    steps k and k+1. Time is ``ts``, microseconds since the epoch (UTC).
    """
    n = len(funnel.steps)
    unit = "e.customer_id" if funnel.unit == "customer" else "e.session_id"
    source, sessions = events_source(con, funnel)
    flags = [f"{condition_sql(step, sessions)} as s{k}" for k, step in enumerate(funnel.steps, 1)]
    for k in range(1, n):
        excl = [condition_sql(x, sessions) for x in funnel.exclusions if x.after_step == k]
        flags.append(f"{' or '.join(excl) if excl else 'false'} as x{k}")
    scope = ""
    if funnel.channels:
        scope = f"and e.channel in ({', '.join(quote(c) for c in funnel.channels)})"
    relevant = " or ".join([f"s{k}" for k in range(1, n + 1)] + [f"x{k}" for k in range(1, n)])
    # Strict order needs every in-scope event (any of them can break a chain).
    keep = "" if funnel.order == "strict" else f"where {relevant}"
    _run(con, f"""
        create or replace temp table _fn_events as
        select * from (
            select
                -- an event's key: its event_id is unique within its channel only; the id comes
                -- first, so the smallest key is the smallest id
                e.event_id || chr(31) || e.channel as event_id,
                e.customer_id,
                {unit} as unit_id,
                epoch_us(e.event_ts) as ts,
                {', '.join(flags)}
            from {source}
            where e.event_ts >= {quote(start.isoformat(sep=' '))}::timestamp
              and e.event_ts < {quote(end.isoformat(sep=' '))}::timestamp
              and {unit} is not null
              and e.customer_id is not null
              {scope}
        )
        {keep}
    """)
    if funnel.order == "strict":
        _run(con, """
            create or replace temp table _fn_prev_ts as
            select unit_id, ts, lag(ts) over (partition by unit_id order by ts) as prev_ts
            from (select distinct unit_id, ts from _fn_events)
        """)


def _chain_tables(con: duckdb.DuckDBPyConnection, funnel: Funnel, entry: int) -> list[str]:
    """Chain states per step for chains entering at step ``entry``; returns the table names.

    Table ``_fn_m<entry>_<k>`` holds, per unit and time of a step-k event that ends a valid
    chain, the chain's start time, start event and the times of its events (``path``).
    """
    n = len(funnel.steps)
    window = funnel.window_seconds * US
    first = f"_fn_m{entry}_{entry}"
    _run(con, f"""
        create or replace temp table {first} as
        select unit_id, ts, ts as start_ts, min(event_id) as start_event_id, [ts] as path
        from _fn_events where s{entry}
        group by unit_id, ts
    """)
    tables = [first]
    for k in range(entry + 1, n + 1):
        prev = tables[-1]
        if funnel.order == "strict":
            linked = f"""
                select c.unit_id, c.ts, p.ts as prev_ts, p.start_ts, p.start_event_id, p.path
                from (select distinct unit_id, ts from _fn_events where s{k}) as c
                join _fn_prev_ts as t on t.unit_id = c.unit_id and t.ts = c.ts
                join {prev} as p on p.unit_id = c.unit_id and p.ts = t.prev_ts
            """
        else:
            linked = f"""
                select c.unit_id, c.ts, p.ts as prev_ts, p.start_ts, p.start_event_id, p.path
                from (select distinct unit_id, ts from _fn_events where s{k}) as c
                asof join {prev} as p on p.unit_id = c.unit_id and c.ts >= p.ts
            """
        conditions = ["l.prev_ts < l.ts", f"l.ts - l.start_ts <= {window}"]
        step_window = funnel.steps[k - 1].window_seconds
        if step_window is not None:
            conditions.append(f"l.ts - l.prev_ts <= {step_window * US}")
        exclusion_join = ""
        if any(x.after_step == k - 1 for x in funnel.exclusions):
            # The latest exclusion strictly before this event must not fall after the previous step.
            exclusion_join = f"""
                asof left join (select unit_id, ts from _fn_events where x{k - 1}) as x
                    on x.unit_id = l.unit_id and l.ts > x.ts
            """
            conditions.append("(x.ts is null or x.ts <= l.prev_ts)")
        table = f"_fn_m{entry}_{k}"
        _run(con, f"""
            create or replace temp table {table} as
            select l.unit_id, l.ts, l.start_ts, l.start_event_id, list_append(l.path, l.ts) as path
            from ({linked}) as l
            {exclusion_join}
            where {' and '.join(conditions)}
        """)
        tables.append(table)
    return tables


def _closed_chosen(con: duckdb.DuckDBPyConnection, funnel: Funnel, entry: int) -> str:
    """Per unit, the first chain (entering at ``entry``) to reach the unit's furthest step."""
    tables = _chain_tables(con, funnel, entry)
    union = "\nunion all\n".join(
        f"select unit_id, {entry + i} as level, ts, start_ts, start_event_id, path from {t}"
        for i, t in enumerate(tables)
    )
    name = f"_fn_chosen{entry}"
    _run(con, f"""
        create or replace temp table {name} as
        select {entry} as entry_step, * from ({union})
        qualify row_number() over (partition by unit_id order by level desc, ts) = 1
    """)
    return name


def _any_order_chosen(con: duckdb.DuckDBPyConnection, funnel: Funnel) -> str:
    """Per unit, the start event whose window holds the longest prefix of steps, in any order.

    Each step needs an event of its own: a step whose condition an earlier step already has
    (a funnel that repeats an event) takes the second (third, ...) such event in the window."""
    n = len(funnel.steps)
    window = funnel.window_seconds * US
    any_step = " or ".join(f"s{k}" for k in range(1, n + 1))
    conditions = [condition_sql(step) for step in funnel.steps]
    firsts = ", ".join(
        f"min(case when e.s{k} then e.ts end) as f{k}" if conditions[:k - 1].count(conditions[k - 1]) == 0
        else f"(list(e.ts order by e.ts) filter (where e.s{k}))[{conditions[:k - 1].count(conditions[k - 1]) + 1}] as f{k}"
        for k in range(1, n + 1)
    )
    level = "case " + " ".join(f"when f{k} is null then {k - 1}" for k in range(1, n + 1)) + f" else {n} end"
    path = "[" + ", ".join(f"f{k}" for k in range(1, n + 1)) + "]"
    _run(con, f"""
        create or replace temp table _fn_chosen1 as
        with starts as (
            select unit_id, ts as start_ts, min(event_id) as start_event_id
            from _fn_events where {any_step}
            group by unit_id, ts
        ),
        firsts as (
            select s.unit_id, s.start_ts, s.start_event_id, {firsts}
            from starts as s
            join _fn_events as e
                on e.unit_id = s.unit_id and e.ts >= s.start_ts and e.ts <= s.start_ts + {window}
            group by s.unit_id, s.start_ts, s.start_event_id
        )
        select 1 as entry_step, unit_id, {level} as level, null::bigint as ts, start_ts,
            start_event_id, {path} as path
        from firsts
        where f1 is not null
        qualify row_number() over (partition by unit_id order by {level} desc, start_ts) = 1
    """)
    return "_fn_chosen1"


def compute_reached(
    con: duckdb.DuckDBPyConnection, funnel: Funnel, start: datetime, end: datetime
) -> None:
    """Write ``_fn_reached``: one row per unit and step it reached in the period [start, end).

    Columns: unit_id, step_index, entry_step, start_ts and start_event_id (the chain that
    reached the step), step_ts (when the chain did the step), secs_from_previous (the
    chain's gap from the previous step; null at its entry step and in any order) and
    is_last (the unit reached no further step).
    """
    n = len(funnel.steps)
    prepare_events(con, funnel, start, end)
    if funnel.order == "any":
        chosen = [_any_order_chosen(con, funnel)]
    else:
        entries = range(1, n + 1) if funnel.is_open else range(1, 2)
        chosen = [_closed_chosen(con, funnel, j) for j in entries]
    union = "\nunion all\n".join(f"select * from {c}" for c in chosen)
    if funnel.order == "any":
        step_ts = "list_max(list_slice(c.path, 1, s.step_index))"
        gap = "null::double"
    else:
        i = "s.step_index - c.entry_step + 1"
        step_ts = f"c.path[{i}]"
        gap = f"case when s.step_index > c.entry_step then (c.path[{i}] - c.path[{i} - 1]) / 1e6 end"
    _run(con, f"""
        create or replace temp table _fn_reached as
        with chosen as ({union}),
        steps as (select unnest(range(1, {n + 1})) as step_index),
        reached as (
            select
                c.unit_id,
                s.step_index,
                c.entry_step,
                c.start_ts,
                c.start_event_id,
                {step_ts} as step_ts,
                {gap} as secs_from_previous
            from chosen as c
            join steps as s on s.step_index between c.entry_step and c.level
            -- an open funnel counts a unit at a step through the chain entering earliest
            qualify row_number() over (partition by c.unit_id, s.step_index order by c.entry_step) = 1
        )
        select
            *,
            lead(step_index) over (partition by unit_id order by step_index)
                is distinct from step_index + 1 as is_last
        from reached
    """)
