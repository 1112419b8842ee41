"""Dashboard sections: each reads the warehouse set-wise and returns a titled chart or table.

A section returns None when the tables it needs are missing, so a page always renders.
Labels that came from logs are escaped with :func:`esc` before Plotly sees them.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import plotly.graph_objects as go

from journey_analytics.stages.evaluate import HELD_OUT_LABELS
from journey_analytics.warehouse import has_tables, run_script
from journey_analytics.wording import natural_key, plural

STAGES = ("awareness", "consideration", "purchase", "retention", "advocacy")
STAGE_COLOURS = ("#9ecae1", "#6baed6", "#3182bd", "#08519c", "#08306b")


# Characters that reorder the text around them (bidi embeddings, overrides and isolates): in a log
# string, one could make the figures beside it read backwards, so each is shown as its code point.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")

# Longer log strings are cut (with an ellipsis) so that one cannot push the figures off the page:
# in tables (long enough for a finding's sentence, which names a log value in 80 characters at
# most), and (shorter) in chart labels.
MAX_SHOWN_CHARS = 400
LABEL_CHARS = 60
# A category on a chart's axis is cut shorter still (its full label is in the hover): set on end,
# 60 characters take most of a chart's height.
AXIS_LABEL_CHARS = 24


def esc(value: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """A log-derived value made safe for HTML and for Plotly's label markup: escaped (a quote as
    ``&#34;``, which Plotly decodes and ``&quot;`` it does not), bidi controls shown as their code
    points, and cut to ``limit`` characters."""
    text = _BIDI_CONTROLS.sub(lambda m: f"[U+{ord(m.group()):04X}]", "" if value is None else str(value))
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return html.escape(text).replace("&quot;", "&#34;")


def axis_labels(values: list[object], limit: int = AXIS_LABEL_CHARS) -> list[str]:
    """Short, distinct axis categories for log values: each cut to ``limit`` characters, and one
    the same as (or cut to the same text as) an earlier one numbered (a category axis would put
    both on one bar)."""
    labels: list[str] = []
    for value in values:
        label = esc(value, limit)
        n = 1
        while label in labels:
            n += 1
            label = f"{esc(value, limit - 2 - len(str(n)))} {n}"
        labels.append(label)
    return labels


@dataclass(frozen=True)
class Section:
    """One block of the page: a heading, a line of explanation and a figure or HTML table."""

    key: str
    title: str
    note: str
    figure: go.Figure | None = None
    table_html: str | None = None


def _layout(fig: go.Figure, height: int = 360) -> go.Figure:
    fig.update_layout(height=height, margin={"l": 40, "r": 20, "t": 30, "b": 40}, template="plotly_white")
    return fig


def html_table(header: list[str], rows: list[tuple], numeric: set[int] | None = None) -> str:
    """An escaped HTML table."""
    numeric = numeric or set()
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(
            f"<td class=\"{'num' if i in numeric else ''}\">{esc(_fmt(v))}</td>" for i, v in enumerate(row)
        ) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(value: object) -> object:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return value


# The largest rows a section shows of many: e-mail campaigns (by messages), acquisition sources
# (by customers); the section's note says when there are more.
MAX_CAMPAIGNS = 30
MAX_SOURCES = 15

# The checkout funnel's selector shows each breakdown's largest segments, up to this many.
MAX_SEGMENTS_PER_BREAKDOWN = 10

# Revenue is shown per currency, the largest first, up to this many currencies.
MAX_REVENUE_FIGURES = 3


# SQL: a customer_id of someone never identified (identifier_customer_id in
# sql/macros/identity_macros.sql): a device's ('anon:'), or a contact's known by an e-mail address
# or a social handle alone; an identified customer (a user_id on their events by the day, or one
# the CRM knows: customers.is_identified) is named by their user_id. Used where the day's
# customer_stages (with is_identified) are not at hand: a page of an earlier day written again.
UNIDENTIFIED_ID = "regexp_matches(customer_id, '^(anon|email|social):')"


def customers_with_a_stage(con: duckdb.DuckDBPyConnection, as_of: date) -> tuple[int, int]:
    """The customers on the run date as the stage funnel counts them, and how many of them are
    identified: those with a stage. Without a stage history of the day (a run without the stage
    step), the customers with a touch: an event that is not passive in the default stage rules
    (an e-mail only delivered, the brand's own reply), as a contact who only had e-mail delivered
    has no stage."""
    if has_tables(con, "stage_history"):
        ((staged, identified),) = con.execute(
            f"select count(*), count(*) filter (where not {UNIDENTIFIED_ID}) from stage_history where as_of_date = ?",
            [as_of],
        ).fetchall()
        if staged and has_tables(con, "customer_stages") and con.execute(
            "select count(*) from duckdb_columns() where schema_name = 'main' and table_name = 'customer_stages' "
            "and column_name = 'is_identified' and database_name = current_database()"
        ).fetchall()[0][0]:
            # the day's stages themselves (the latest day's): identified as customers.is_identified
            # says, so that a customer named by a user id that names no one (an export's 'guest'
            # orders that no device claims) is not counted identified by its name
            ((of_the_day, identified_that_day),) = con.execute(
                "select count(*), count(*) filter (where is_identified) from customer_stages where as_of_date = ?",
                [as_of],
            ).fetchall()
            if of_the_day == staged:
                return int(staged), int(identified_that_day)
        if staged:
            return int(staged), int(identified)
    from journey_analytics.stages.rules import load_stage_config

    passive = [f"{e.channel}:{e.event_name}" for e in load_stage_config().signals if e.signal == "passive"]
    ((touched, identified),) = con.execute(
        f"""
        select count(distinct customer_id), count(distinct customer_id) filter (where not {UNIDENTIFIED_ID})
        from events
        where event_ts < cast(? as date) + 1 and not list_contains(?, channel || ':' || event_name)
        """,
        [as_of, passive],
    ).fetchall()
    return int(touched), int(identified)


def identified_detail(customers: int, identified: int) -> str:
    """The line under the headline's customers: how many of them are identified."""
    return f"{identified:,} identified, {customers - identified:,} not"


def header_figures(con: duckdb.DuckDBPyConnection, as_of: date, run_id: str | None = None) -> list[tuple[str, str]]:
    """The headline numbers: customers, orders, revenue (per currency, and net of refunds where its orders
    had any), conversion, pain points, and the health of the page's run (``run_id``: recorded in pipeline_runs, or the run writing the page, whose
    files are recorded but whose own row is not yet), or else of the last recorded run."""
    customers, _ = customers_with_a_stage(con, as_of)
    # each order once, at its value and net of its refunds: the rule of customers.revenue and
    # net_revenue and sessions.revenue (order_net_values in sql/macros/order_macros.sql); revenue
    # per currency, as there are no exchange rates to add amounts of different currencies with
    run_script(con, "macros", "order_macros")  # temporary: the page may be written from a read-only connection
    by_currency = con.execute(
        f"""
        select currency, count(*), coalesce(sum(order_value), 0), coalesce(sum(net_value), 0)
        from order_net_values(cast(date '{as_of.isoformat()}' + 1 as timestamp))
        group by 1 order by 3 desc, 1 nulls first
        """
    ).fetchall()
    orders = sum(n for _, n, _, _ in by_currency)
    sessions, converted = con.execute(
        "select count(*), count(*) filter (where converted) from sessions where started_at < cast(? as date) + 1",
        [as_of],
    ).fetchall()[0]
    shown = by_currency[:MAX_REVENUE_FIGURES]
    revenue: list[tuple[str, str]] = []
    for currency, _, amount, net in shown:
        revenue.append((f"Revenue {currency}" if currency else "Revenue", f"{amount:,.0f}"))
        if net != amount:  # refunds of its orders: what the orders kept (refunds of older orders lower none)
            revenue.append((f"Net revenue {currency}" if currency else "Net revenue", f"{net:,.0f}"))
    if len(by_currency) > len(shown):
        others = by_currency[len(shown):]
        revenue.append((f"Orders in {plural(len(others), 'other currency', 'other currencies')}", f"{sum(n for _, n, _, _ in others):,}"))
    figures = [
        ("Customers", f"{customers:,}"),
        ("Orders", f"{orders:,}"),
        *(revenue or [("Revenue", "0")]),
        # no session is no conversion rate at all (an e-mail or social only warehouse), not 0%
        ("Session conversion", f"{converted / sessions:.1%}" if sessions else "n/a: no web sessions"),
    ]
    if has_tables(con, "pain_points"):
        n = con.execute("select count(*) from pain_points where as_of_date = ?", [as_of]).fetchall()[0][0]
        figures.append(("Open pain points", f"{n:,}"))
    recorded = con.execute(
        "select status, rows_read, rows_quarantined, rows_duplicate from pipeline_runs where run_id = ?", [run_id]
    ).fetchall() if run_id is not None else []
    if recorded:  # a page written again later (journey report): that run's own row
        run, label = recorded, "This run"
    elif run_id is not None:  # the run writing the page: its files are recorded, its row not yet
        run = con.execute(
            """
            select 'success', coalesce(sum(rows_read), 0), coalesce(sum(rows_quarantined), 0),
                coalesce(sum(rows_duplicate), 0)
            from raw.ingested_files where run_id = ?
            """,
            [run_id],
        ).fetchall()
        label = "This run"
    else:
        run = con.execute(
            """
            select status, rows_read, rows_quarantined, rows_duplicate, run_id
            from pipeline_runs order by finished_at desc limit 1
            """
        ).fetchall()
        label = "Last run"
    if run:
        status, read, quarantined, duplicate = run[0][:4]
        share = quarantined / read if read else 0.0
        figures.append(
            (label, f"{status}: {plural(read, 'row')} read, {quarantined:,} quarantined ({share:.2%}), {duplicate:,} repeated")
        )
        if quarantined:
            figures += _quarantined_by_reason(con, run_id if run_id is not None else run[0][4], label)
    return figures


# Reasons shown on the run's line, most frequent first; the rest are summed.
MAX_REASONS_SHOWN = 4


def _quarantined_by_reason(con: duckdb.DuckDBPyConnection, run_id: str, label: str) -> list[tuple[str, str]]:
    """The run's rows still in quarantine, counted by reason code (quarantine.reason), or nothing
    (also for a warehouse made before quarantine had reasons, that `journey report` reads as it is)."""
    has_reason = con.execute(
        "select count(*) from duckdb_columns() where schema_name = 'main' and table_name = 'quarantine' "
        "and column_name = 'reason' and database_name = current_database()"
    ).fetchall()[0][0]
    if not has_reason:
        return []
    counts = con.execute(
        "select coalesce(reason, 'unknown'), count(*) from quarantine where run_id = ? group by 1 order by 2 desc, 1",
        [run_id],
    ).fetchall()
    if not counts:
        return []
    shown = [f"{reason} {n:,}" for reason, n in counts[:MAX_REASONS_SHOWN]]
    if len(counts) > MAX_REASONS_SHOWN:
        rest = counts[MAX_REASONS_SHOWN:]
        shown.append(f"{plural(len(rest), 'other reason')} {sum(n for _, n in rest):,}")
    return [(f"{label}: still quarantined, by reason", ", ".join(shown))]


# Said where session conversion is shown when the web logs hold orders alone (a store's order
# export landed without its clickstream): every session is then an order's own.
ORDERS_ONLY_NOTE = (
    "The web events are all purchases and refunds, with no visits logged: every session is an order's"
    " (or a refund's) own, so session conversion is not a share of visits."
)


def _orders_only(con: duckdb.DuckDBPyConnection, as_of: date) -> bool:
    """True when the web events up to the run date are purchases and refunds alone."""
    ((orders, others),) = con.execute(
        """
        select count(*) filter (where event_name in ('purchase', 'refund')),
            count(*) filter (where event_name not in ('purchase', 'refund'))
        from events where channel = 'web' and event_ts < cast(? as date) + 1
        """,
        [as_of],
    ).fetchall()
    return orders > 0 and others == 0


def header_note(con: duckdb.DuckDBPyConnection, as_of: date) -> str:
    """What the headline figures are of: their period is every day the data holds up to the run
    date, where each section below names its own (28 days, 30 days, per day)."""
    ((first,),) = con.execute(
        "select cast(min(event_ts) as date) from events where event_ts < cast(? as date) + 1", [as_of]
    ).fetchall()
    since = f"every day from {first.isoformat()} to {as_of.isoformat()}" if first else f"every day up to {as_of.isoformat()}"
    customers, identified = customers_with_a_stage(con, as_of)
    note = (f"Customers: those with a stage on {as_of.isoformat()}. Orders, revenue and session conversion: "
            f"{since}, not that day alone.")
    if customers:
        note += (f" Of the {plural(customers, 'customer')}, {identified:,} {'is' if identified == 1 else 'are'} identified "
                 "(a user id: they logged in or signed up, or the CRM knows them); the other "
                 f"{customers - identified:,} {'is' if customers - identified == 1 else 'are'} known only by a device (anonymous visitors), an e-mail address "
                 "or a social handle, and one person may be several of them.")
    return f"{note} {ORDERS_ONLY_NOTE}" if _orders_only(con, as_of) else note


def stage_funnel(con: duckdb.DuckDBPyConnection, as_of: date) -> Section | None:
    """Customers per stage and reached (at that stage or later)."""
    if not has_tables(con, "stage_funnel"):
        return None
    rows = con.execute(
        "select stage, customers, reached from stage_funnel where as_of_date = ?", [as_of]
    ).fetchall()
    order = {s: i for i, s in enumerate(STAGES)}
    rows = sorted(rows, key=lambda r: order.get(r[0], 99))
    fig = go.Figure(go.Funnel(y=[esc(r[0], LABEL_CHARS) for r in rows], x=[r[2] for r in rows], textinfo="value+percent initial"))
    return Section("stage-funnel", "Stage funnel", "Customers who reached each stage (at it or later).", _layout(fig))


def stage_movements(con: duckdb.DuckDBPyConnection, as_of: date) -> Section | None:
    """A Sankey of stage moves since the previous run."""
    if not has_tables(con, "stage_transitions"):
        return None
    rows = con.execute(
        "select from_stage, to_stage, customers from stage_transitions where as_of_date = ? and customers > 0",
        [as_of],
    ).fetchall()
    if not rows:
        return Section("stage-movements", "Stage movements", "No earlier run to compare with yet.")
    labels = [f"{s} (before)" for s in STAGES] + [f"{s} (now)" for s in STAGES] + ["new (before)", "gone (now)"]
    index = {label: i for i, label in enumerate(labels)}
    source, target, value = [], [], []
    for before, now, n in rows:
        source.append(index.get(f"{before} (before)", index["new (before)"]))
        target.append(index.get(f"{now} (now)", index["gone (now)"]))
        value.append(n)
    fig = go.Figure(go.Sankey(node={"label": [esc(x, LABEL_CHARS) for x in labels], "pad": 12}, link={"source": source, "target": target, "value": value}))
    return Section("stage-movements", "Stage movements since the previous run", "Customers moving between stages.", _layout(fig, 420))


def stage_mix(con: duckdb.DuckDBPyConnection, as_of: date) -> Section | None:
    """Customers per stage over the run dates up to the page's."""
    if not has_tables(con, "stage_history"):
        return None
    rows = con.execute(
        "select as_of_date, stage, count(*) from stage_history where as_of_date <= ? group by all order by all",
        [as_of],
    ).fetchall()
    # every stage on every run date, 0 where it had no one: a category axis orders its dates as the
    # traces first name them, so a stage missing on a day would put that day out of order
    days = sorted({d for d, _, _ in rows})
    counts = {(d, stage): n for d, stage, n in rows}
    fig = go.Figure()
    for stage, colour in zip(STAGES, STAGE_COLOURS, strict=True):
        fig.add_trace(go.Bar(
            name=stage, x=[d.isoformat() for d in days], y=[counts.get((d, stage), 0) for d in days], marker_color=colour
        ))
    fig.update_layout(barmode="stack")
    fig.update_xaxes(type="category")
    return Section("stage-mix", "Stage mix over time", "Customers in each stage at each run.", _layout(fig))


def _unlogged_steps(con: duckdb.DuckDBPyConnection, funnel_config: Path | None, first: date, last: date) -> list[str]:
    """The checkout funnel's steps that no event of the report period matches: a store that does
    not log a step gets zeros from it on, which the section should say rather than leave to guess."""
    from journey_analytics.funnels.config import FunnelConfigError, load_funnel_config
    from journey_analytics.funnels.engine import condition_sql, events_source, quote

    try:
        funnel = next((f for f in load_funnel_config(funnel_config).funnels if f.name == "checkout"), None)
    except FunnelConfigError:
        return []  # the run's own config was read by its funnel step; a report with another may not parse
    if funnel is None or not has_tables(con, "events"):
        return []
    scope = f"and e.channel in ({', '.join(quote(c) for c in funnel.channels)})" if funnel.channels else ""
    source, sessions = events_source(con, funnel)
    counts = con.execute(
        f"""
        select {', '.join(f'count(*) filter (where {condition_sql(step, sessions)})' for step in funnel.steps)}
        from {source}
        where e.event_date between ? and ? {scope}
        """,
        [first, last],
    ).fetchall()[0]
    return [step.label for step, n in zip(funnel.steps, counts, strict=True) if n == 0]


def _names(words: list[str]) -> str:
    """'a', 'a or b', 'a, b or c'."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _funnel_unit(con: duckdb.DuckDBPyConnection, as_of: date) -> str:
    """What the checkout funnel of the day counts: customer or session (a GA4 closed funnel)."""
    if "unit" not in {c for (c,) in con.execute(
        "select column_name from duckdb_columns() where table_name = 'funnel_steps'").fetchall()}:
        return "customer"
    found = con.execute(
        "select any_value(unit) from funnel_steps where as_of_date = ? and funnel = 'checkout'", [as_of]
    ).fetchall()
    return found[0][0] or "customer"


def _duration(seconds: int | None) -> str:
    """A conversion window in words: '7 days', '24 hours', '30 minutes', '90 seconds'."""
    if seconds is None:
        return "the window"
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds % size == 0:
            return plural(seconds // size, unit)
    return plural(seconds, "second")


def segment_label(key: str, value: str, sep: str = " = ") -> str:
    """A segment as a reader names it: 'device_category = mobile'; the whole funnel or finding,
    whose key and value are both 'all' in the tables, is 'everyone' ('all = all' said nothing)."""
    return "everyone" if key == "all" else f"{key}{sep}{value}"


def checkout_funnel(con: duckdb.DuckDBPyConnection, as_of: date, funnel_config: Path | None = None) -> Section | None:
    """The checkout funnel with a breakdown selector, naming the steps the logs have no events for."""
    if not has_tables(con, "funnel_steps"):
        return None
    rows = con.execute(
        """
        select segment_key, segment_value, step_index, step, entered, period_start, period_end, conversion_window
        from funnel_steps
        where as_of_date = ? and funnel = 'checkout'
        order by segment_key, segment_value, step_index
        """,
        [as_of],
    ).fetchall()
    if not rows:
        return None
    start, end, window = rows[0][5], rows[0][6], rows[0][7]
    note = (f"{'Sessions' if _funnel_unit(con, as_of) == 'session' else 'Customers'} reaching each step in the report period, {start.isoformat()} to {end.isoformat()} "
            f"({plural((end - start).days + 1, 'day')}), each step within {_duration(window)} of their first; choose a breakdown.")
    # a period longer than the data (the first weeks of a store's logs): its first days had no events
    first = con.execute("select min(event_date) from events where event_date <= ?", [end]).fetchall()[0][0] \
        if has_tables(con, "events") else None
    if first is not None and start < first <= end:
        note += (f" The data begins on {first.isoformat()}, {plural((first - start).days, 'day')} into the period: the"
                 f" funnel counts its last {plural((end - first).days + 1, 'day')}.")
    shown = {row[3] for row in rows}  # a report written with another config names only these
    unlogged = [step for step in _unlogged_steps(con, funnel_config, rows[0][5], rows[0][6]) if step in shown]
    ((in_period, web_in_period, latest),) = con.execute(
        """
        select count(*) filter (where event_date between ? and ?),
            count(*) filter (where event_date between ? and ? and channel = 'web'), max(event_date)
        from events where event_date <= ?
        """,
        [start, end, start, end, end],
    ).fetchall() if unlogged else ((1, 1, None),)
    # a run long after the last event: the logs stopped, not a step untracked (a funnel that
    # counts someone had events: they were erased since, journey forget, and the page says so)
    if not in_period and not any(row[4] for row in rows):
        since = f" (the latest is of {latest.isoformat()})" if latest else ""
        note += f" No events at all in the report period{since}: the funnel reads 0 throughout."
    elif not web_in_period and not any(row[4] for row in rows):  # e-mail and social logs alone
        note += " No web events in the report period (its events are e-mail and social): the funnel reads 0 throughout."
    elif unlogged:
        these = "this step" if len(unlogged) == 1 else "these steps"
        note += (
            f" No {_names(unlogged)} events in the report period: the logs may not track {these}, so no"
            f" customer can pass {'it' if len(unlogged) == 1 else 'them'} and the funnel reads 0 from there on."
            " If the store does not log a step, take it out of the checkout funnel in the funnels config."
        )
    segments: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for key, value, _, step, entered, _, _, _ in rows:
        segments.setdefault((key, value), []).append((step, entered))
    # every breakdown, each with its largest segments (by customers entering the funnel): a
    # breakdown with many values (countries, campaigns) must not crowd the others out
    # (a segment no one entered this period, kept in funnel_steps because the previous period had
    # it, is not offered: it would show an empty chart)
    ranked = sorted(
        (k for k in segments if k[0] == "all" or segments[k][0][1] > 0),
        key=lambda k: (k[0] != "all", k[0], -segments[k][0][1], natural_key(k[1])),
    )
    keys, per_key = [], {}
    for key in ranked:
        per_key[key[0]] = per_key.get(key[0], 0) + 1
        if per_key[key[0]] <= MAX_SEGMENTS_PER_BREAKDOWN:
            keys.append(key)
    cut = sorted((name, n) for name, n in per_key.items() if n > MAX_SEGMENTS_PER_BREAKDOWN)
    if cut:  # the note is escaped with the page
        note += (f" Each breakdown shows its {MAX_SEGMENTS_PER_BREAKDOWN} largest segments ("
                 + ", ".join(f"{name} has {n:,}" for name, n in cut) + ").")
    fig = go.Figure()
    for i, key in enumerate(keys):
        steps = segments[key]
        fig.add_trace(
            go.Funnel(
                # distinct: a funnel may repeat a step (page_view, view_item, page_view), and the
                # category axis would draw two steps of one name as one row
                name=esc(segment_label(*key), LABEL_CHARS), y=axis_labels([s for s, _ in steps], LABEL_CHARS),
                x=[n for _, n in steps],
                textinfo="value+percent previous", visible=(i == 0),
            )
        )
    buttons = [
        {"label": esc(segment_label(*k, sep=": "), LABEL_CHARS), "method": "update", "args": [{"visible": [j == i for j in range(len(keys))]}]}
        for i, k in enumerate(keys)
    ]
    fig.update_layout(updatemenus=[{"buttons": buttons, "x": 1.0, "xanchor": "right", "y": 1.15}])
    # Plotly hides the step axis of a chart of several funnel traces (one per segment here): the
    # bars would stand without their steps' names
    fig.update_yaxes(visible=True)
    return Section("checkout-funnel", "Checkout funnel", note, _layout(fig, 420))


def conversion_trend(con: duckdb.DuckDBPyConnection, as_of: date) -> Section:
    """Daily session conversion rate."""
    rows = con.execute(
        """
        select cast(started_at as date) as day, count(*) as sessions, count(*) filter (where converted) as converted
        from sessions
        where started_at < cast(? as date) + 1 and started_at >= cast(? as date) - 89
        group by 1 order by 1
        """,
        [as_of, as_of],
    ).fetchall()
    # every day from the first with sessions to the run date: a day without sessions is a gap (None),
    # not a line drawn across it
    rates = {day: converted / n for day, n, converted in rows}
    first = rows[0][0] if rows else as_of
    days = [first + timedelta(days=k) for k in range((as_of - first).days + 1)]
    fig = go.Figure(
        go.Scatter(x=[d.isoformat() for d in days], y=[rates.get(d) for d in days], mode="lines+markers", name="conversion")
    )
    fig.update_yaxes(tickformat=".1%", rangemode="tozero")
    # half a day either side: a single day reads as that day, not as milliseconds around its midnight
    fig.update_xaxes(
        type="date", tickformat="%b %d",
        range=[f"{(first - timedelta(days=1)).isoformat()} 12:00", f"{as_of.isoformat()} 12:00"],
        dtick=86_400_000 * max(1, -(-len(days) // 10)), tick0=first.isoformat(),
    )
    note = "Share of web sessions with a purchase, per day the session started; a day without sessions is a gap."
    if not rows:
        note += f" No web sessions in the 90 days to {as_of.isoformat()}."
    if _orders_only(con, as_of):
        note += f" {ORDERS_ONLY_NOTE}"
    return Section("conversion-trend", "Conversion trend", note, _layout(fig))


def _finding_values(kind: str, observed: float | None, baseline: float | None) -> tuple[str, str]:
    """A finding's observed value and baseline in their units (pain_points.observed): customers
    against a limit in days for stuck_in_consideration, hours for slow replies, else shares (for
    stuck_in_purchase the shares of first-time buyers not back), shown as percentages as the
    finding's sentence says them."""
    def shown(value: float | None, fmt: str) -> str:
        return "-" if value is None else fmt.format(value)

    def counted(value: float | None, noun: str) -> str:
        return "-" if value is None else plural(round(value), noun)

    if kind == "stuck_in_consideration":
        return counted(observed, "customer"), counted(baseline, "day")
    if kind == "social_slow_replies":
        return shown(observed, "{:,.1f} hours"), shown(baseline, "{:,.1f} hours")
    return shown(observed, "{:.2%}"), shown(baseline, "{:.2%}")


def _abandonment_note(con: duckdb.DuckDBPyConnection, as_of: date, pain_config: Path | None) -> str:
    """Where a checkout or cart abandonment finding sits beside the checkout funnel: why its
    customers are not the funnel's at that step (the finding takes everyone who began in its window
    and had conversion_hours to buy, whatever came before; the funnel those who reached the step
    by its steps in order, in its period, and a purchase within its window); else nothing."""
    from journey_analytics.pain_points import load_config

    found = con.execute(
        """
        select kind, step, try_cast(json_extract(evidence, '$.customers') as bigint)
        from pain_points
        where as_of_date = ? and kind in ('checkout_abandonment', 'cart_abandonment')
        order by kind desc
        """,
        [as_of],
    ).fetchall() if "evidence" in {c for (c,) in con.execute(
        "select column_name from duckdb_columns() where table_name = 'pain_points'").fetchall()} else []
    if not found:
        return ""
    a = load_config(pain_config)["abandonment"]
    funnel = dict(con.execute(
        """
        select step, entered from funnel_steps
        where as_of_date = ? and funnel = 'checkout' and segment_key = 'all'
        """,
        [as_of],
    ).fetchall()) if has_tables(con, "funnel_steps") else {}
    parts = []
    for kind, step, judged in found:
        did = "began checkout" if kind == "checkout_abandonment" else "added to cart"
        counted = f"the {plural(judged, 'customer')}" if judged is not None else "the customers"
        at_step = (f"; the checkout funnel's {funnel[step]:,} at {step} are those who reached it by the steps before"
                   " it, in its period, and it counts a purchase within its own window") if step in funnel else ""
        parts.append(f"{kind.replace('_', ' ').capitalize()} judges {counted} who {did} in the last "
                     f"{plural(int(a['window_days']), 'day')} and had {plural(int(a['conversion_hours']), 'hour')} to buy by"
                     f" the end of the day (later ones are not judged yet), whatever they did before{at_step}.")
    return " " + " ".join(parts)


def pain_points(con: duckdb.DuckDBPyConnection, as_of: date, pain_config: Path | None = None) -> Section | None:
    """The flagged findings, most severe first."""
    if not has_tables(con, "pain_points"):
        return None
    rows = con.execute(
        """
        select severity, kind, segment_key, segment_value, metric, observed, baseline, affected_customers, description
        from pain_points where as_of_date = ? order by severity desc, affected_customers desc
        """,
        [as_of],
    ).fetchall()
    rows = [(sev, kind, segment_label(key, value) if key is not None else "", *rest)
            for sev, kind, key, value, *rest in rows]
    table = html_table(
        ["severity", "kind", "segment", "metric", "observed", "baseline", "customers", "what to do"],
        [(sev, kind, seg, metric, *_finding_values(kind, observed, baseline), n, what)
         for sev, kind, seg, metric, observed, baseline, n, what in rows],
        {0, 4, 5, 6},
    ) if rows else "<p>No pain points flagged.</p>"
    note = "Findings worth a person's attention today, most severe first." + _abandonment_note(con, as_of, pain_config)
    return Section("pain-points", "Pain points", note, table_html=table)


def touchpoints(con: duckdb.DuckDBPyConnection, as_of: date) -> Section | None:
    """Which channels and events reach customers in each stage (last 30 days)."""
    if not has_tables(con, "stage_history"):
        return None
    rows = con.execute(
        """
        select s.stage, e.channel || ': ' || e.event_name as touchpoint, count(*) as n
        from events e
        inner join stage_history s on s.customer_id = e.customer_id and s.as_of_date = ?
        where e.event_ts >= cast(? as date) - 29 and e.event_ts < cast(? as date) + 1
        group by all
        """,
        [as_of, as_of, as_of],
    ).fetchall()
    note = "Events in the last 30 days by the customer's stage on the day."
    if not rows:  # a run long after the last event: say so rather than leave the section out
        return Section("touchpoints", "Touchpoint map",
                       f"{note} No events of customers with a stage in the 30 days to {as_of.isoformat()}.",
                       table_html="")
    totals: dict[str, int] = {}
    for _, t, n in rows:
        totals[t] = totals.get(t, 0) + n
    top = sorted(totals, key=totals.get, reverse=True)[:20]
    grid = {(s, t): n for s, t, n in rows}
    fig = go.Figure(
        go.Heatmap(
            z=[[grid.get((s, t), 0) for t in top] for s in STAGES], x=[esc(t, LABEL_CHARS) for t in top], y=list(STAGES), colorscale="Blues"
        )
    )
    return Section("touchpoints", "Touchpoint map", note, _layout(fig, 380))


def acquisition(con: duckdb.DuckDBPyConnection, as_of: date) -> Section:
    """Acquisition sources (first session's source) and the share of those customers who bought."""
    rows = con.execute(
        """
        with first_sessions as (
            select customer_id, coalesce(utm_source, '(direct)') as source
            from sessions
            where started_at < cast(? as date) + 1
            qualify row_number() over (partition by customer_id order by started_at, session_id) = 1
        ),
        buyers as (
            select distinct customer_id from events
            where event_name = 'purchase' and event_ts < cast(? as date) + 1
        )
        select source, count(*) as customers, count(b.customer_id) as buyers, count(*) over () as sources
        from first_sessions f left join buyers b using (customer_id)
        group by 1
        """,
        [as_of, as_of],
    ).fetchall()
    rows = sorted(rows, key=lambda r: (-r[1], natural_key(r[0])))[:MAX_SOURCES]  # ties by name, as read
    note = "Customers by the source of their first visit, and how many bought."
    if not rows:  # an e-mail or social only warehouse: an empty chart would not say why
        return Section("acquisition", "Acquisition sources that bring buyers", note,
                       table_html=f"<p>No web sessions up to {as_of.isoformat()}: no first visit to take a source from.</p>")
    if rows[0][3] > len(rows):
        note += f" The {len(rows)} sources with the most customers of {rows[0][3]:,}."
    labels, names = axis_labels([r[0] for r in rows]), [esc(r[0], LABEL_CHARS) for r in rows]
    fig = go.Figure(
        [
            go.Bar(name="customers", x=labels, y=[r[1] for r in rows], hovertext=names),
            go.Bar(name="bought", x=labels, y=[r[2] for r in rows], hovertext=names),
        ]
    )
    return Section("acquisition", "Acquisition sources that bring buyers", note, _layout(fig))


def _rate(count: int, of: int) -> str:
    """A share as a percentage (as the pain points and their thresholds say it), or "n/a" when
    there is nothing to take it of (a rate of no deliveries is not 0)."""
    return f"{count / of:.2%}" if of else "n/a"


# E-mail health's checks, as the pain points make them: (pain point kind, metric, the row's column of
# the messages with the event, whether the rate is of delivered + bounced, the threshold's setting)
_EMAIL_CHECKS = (
    ("email_bounce", "bounce rate", 4, True, "bounce_threshold"),
    ("email_spam_complaints", "complaint rate", 5, False, "spam_complaint_threshold"),
    ("email_unsubscribes", "unsubscribe rate", 6, False, "unsubscribe_threshold"),
)


def _unflagged_campaigns(
    con: duckdb.DuckDBPyConnection, as_of: date, rows: list[tuple], e: dict[str, Any]
) -> str:
    """The campaigns over an e-mail threshold that the pain points do not flag, and why: a campaign
    is flagged only when it is also significantly worse than the other campaigns, and judged only
    on min_delivered messages (config/pain_points.toml, [email]); an HTML list, or nothing (also
    without the day's pain points to compare with). As many as the table's campaigns
    (MAX_CAMPAIGNS) are named; the rest are counted by why."""
    if not has_tables(con, "pain_points"):
        return ""
    findings = con.execute(
        "select kind, segment_value from pain_points where as_of_date = ? and segment_key = 'campaign_id'", [as_of]
    ).fetchall()
    flagged = set(findings)
    sender_wide = {kind for kind, value in findings if value in ("all", "all others")}
    items, too_few = [], []
    for kind, metric, column, of_bounced, setting in _EMAIL_CHECKS:
        threshold = float(e[setting])
        total_bad = sum(r[column] for r in rows)
        total_n = sum(r[1] + (r[4] if of_bounced else 0) for r in rows)
        for row in sorted(rows, key=lambda r: natural_key(r[0])):
            bad, n = row[column], row[1] + (row[4] if of_bounced else 0)
            if not n or bad / n <= threshold or (kind, str(row[0])) in flagged:
                continue
            said = f"{esc(row[0])}: {metric} {bad / n:.2%}, over the threshold of {threshold:.2%}, "
            if n < e["min_delivered"]:
                said += f"too few messages to judge ({n:,}; a campaign needs {e['min_delivered']:,})"
            else:
                rest = f"{(total_bad - bad) / (total_n - n):.2%}" if total_n > n else "n/a"
                said += (f"but not significantly worse than the other campaigns' {rest} on "
                         f"{plural(n, 'message')}, so not flagged as its own pain point")
                if kind in sender_wide:
                    said += " (it is in the finding about all campaigns)"
            items.append(f"<li>{said}.</li>")
            too_few.append(n < e["min_delivered"])
    if not items:
        return ""
    more = ""
    if len(items) > MAX_CAMPAIGNS:
        rest = too_few[MAX_CAMPAIGNS:]
        why = [f"{sum(rest):,} with too few messages to judge" if any(rest) else "",
               f"{len(rest) - sum(rest):,} not significantly worse than the other campaigns" if not all(rest) else ""]
        more = f"<li>{len(rest):,} more over a threshold: {', '.join(w for w in why if w)}.</li>"
    return "<p>Over a threshold, not a pain point:</p><ul>" + "".join(items[:MAX_CAMPAIGNS]) + more + "</ul>"


def email_health(con: duckdb.DuckDBPyConnection, as_of: date, pain_config: Path | None = None) -> Section:
    """Per-campaign delivery, engagement and complaint rates (the pain points' window, 28 days by
    default), and the campaigns over a threshold that the pain points do not flag, with why."""
    from journey_analytics.pain_points import email_campaign_counts, load_config

    e = load_config(pain_config)["email"]
    days = int(e["window_days"])

    # the messages of the window with their events, as the pain points judge them: a message
    # opened (clicked) or reported twice is one; an event without a message id is its own
    rows = con.execute(
        f"""
        select campaign, delivered, opens, clicks, bounces, complaints, unsubscribes, dropped,
            count(*) over () as campaigns
        from {email_campaign_counts(days)}
        """,
        [as_of] * 9,
    ).fetchall()
    unflagged = _unflagged_campaigns(con, as_of, rows, e)
    # the campaigns with the most messages first, those with as many by name as a reader orders
    # them (campaign_2 before campaign_10, not as text)
    rows = sorted(rows, key=lambda r: (-(r[1] + r[4] + r[7]), natural_key(r[0])))[:MAX_CAMPAIGNS]
    note = (f"Per campaign (the most messages first), last {plural(days, 'day')}. Rates are of the messages delivered;"
            " the bounce rate is of those delivered or bounced.")
    if not rows:
        return Section("email-health", "E-mail health", note,
                       table_html=f"<p>No e-mail events in the last {plural(days, 'day')}.</p>")
    if rows[0][-1] > len(rows):
        note += f" The {len(rows)} campaigns with the most messages of {rows[0][-1]:,}."
    table = html_table(
        ["campaign", "delivered", "dropped", "open rate", "click rate", "bounce rate", "complaint rate", "unsubscribe rate"],
        [(c, d, x, _rate(o, d), _rate(k, d), _rate(b, d + b), _rate(s, d), _rate(u, d)) for c, d, o, k, b, s, u, x, _ in rows],
        {1, 2, 3, 4, 5, 6, 7},
    )
    return Section("email-health", "E-mail health", note, table_html=table + unflagged)


def social_health(con: duckdb.DuckDBPyConnection, as_of: date, pain_config: Path | None = None) -> Section:
    """Per platform: inbound messages, median hours to a brand reply, unanswered (as the pain
    points judge it, with the run's pain point thresholds), sentiment."""
    from journey_analytics.pain_points import answered_messages, load_config

    unanswered_after_hours = float(load_config(pain_config)["social"]["unanswered_after_hours"])

    rows = con.execute(
        f"""
        with {answered_messages(28, unanswered_after_hours)},
        sentiment as (
            select platform, avg(sentiment) as mean_sentiment
            from events
            where channel = 'social' and sentiment is not null and event_name <> 'brand_reply'  -- the brand's own
              and event_ts >= cast(? as date) - 27 and event_ts < cast(? as date) + 1
            group by 1
        )
        -- every platform with messages or with sentiment (a platform people only comment on)
        select coalesce(a.platform, s.platform) as platform, count(a.platform) as messages,
            median(epoch(a.replied_at) - epoch(a.asked_at)) / 3600.0 as median_reply_hours,
            count(*) filter (where a.is_unanswered) as unanswered,
            count(*) filter (where a.replied_at is null and not a.is_judged) as waiting,
            any_value(s.mean_sentiment) as mean_sentiment
        from answered a
        full join sentiment s on s.platform = a.platform
        group by 1
        """,
        [as_of, as_of, as_of, as_of, as_of, as_of],
    ).fetchall()
    rows = sorted(rows, key=lambda r: (-r[1], natural_key(r[0])))  # ties by name, as read
    table = "<p>No social messages or sentiment in the last 28 days.</p>" if not rows else html_table(
        ["platform", "inbound messages", "median hours to reply", "unanswered", "waiting", "mean sentiment"],
        # hours to one decimal, as the findings give them: 15 beside 8.934 read as two precisions
        [(p, n, f"{h:,.1f}" if h is not None else "-", u, w, s if s is not None else "-") for p, n, h, u, w, s in rows],
        {1, 2, 3, 4, 5},
    )
    note = (f"Inbound messages in the last 28 days and how fast the brand replied (messages sent in a row before "
            f"a reply count once; a customer's unanswered, not negative, word after a reply, as a thanks, counts "
            f"none). Unanswered: no reply within {plural(unanswered_after_hours, 'hour')}, nor since; waiting: "
            "younger messages without a reply yet; mean sentiment of the platform's posts, comments and messages.")
    return Section("social-health", "Social care", note, table_html=table)


# Precision, recall and F1 for a reader who does not use them (the tables keep the figures).
SCORES_IN_PLAIN_WORDS = (
    "Precision: of the customers put in a stage, the share who belong there. Recall: of the customers who belong"
    " in a stage, the share put there. F1 weighs the two together: 1 is every customer right, 0 none; macro-F1 is"
    " the stages' F1 averaged. Support: the customers of each stage the scores are taken on."
)


def _in_plain_words(report: dict[str, Any]) -> str:
    """One sentence a marketing reader can take away from the evaluation: how many customers of the
    report's best reference (supplied labels, the simulator's truth, the labelled customers held out
    of a classifier trained on labels, else the held-out customers the rules are sure of) got the
    stage the reference gives them, and what the scores mean."""
    for key in ("labels", "truth", "held_out"):
        section = report.get(key) or {}
        scored = section.get("rules_plus_model") or {}
        n = section.get("n")
        if n and scored.get("accuracy") is not None:
            right = round(scored["accuracy"] * n)
            share = f"{right:,} of {plural(n, 'customer')} ({scored['accuracy']:.0%})"
            if key == "labels":
                said = f"the stages on this page are right for {share} whose stage your labels give"
            elif key == "held_out" and section.get("reference") == HELD_OUT_LABELS:
                # trained on labels: scored on the labelled customers kept out of its training
                decided = section.get("decided_by_model") or 0
                said = (f"the stages on this page are right for {share} whose stage your labels give, kept out of"
                        f" the classifier's training; the classifier decided {decided:,} of them, the rules the rest")
            elif key == "truth":
                said = f"the stages on this page are right for {share} whose true stage the simulator knows"
            else:
                said = (f"tried on {plural(n, 'customer')} whose stage the rules are sure of, the classifier gives the"
                        f" same stage to {right:,} ({scored['accuracy']:.0%}); it decides only the customers the rules"
                        " are not sure of, and there are no labels to check it against")
            return f"<p><b>In plain words:</b> {esc(said)}. {esc(SCORES_IN_PLAIN_WORDS)}</p>"
    return f"<p>{esc(SCORES_IN_PLAIN_WORDS)}</p>"


def classifier_evaluation(con: duckdb.DuckDBPyConnection, evaluation_path: Path | None) -> Section | None:
    """Per-stage precision, recall and F1 of the stage classifier, from its evaluation report."""
    if evaluation_path is None or not evaluation_path.is_file():
        return None
    report = json.loads(evaluation_path.read_text())
    tables = report.get("display", {}).get("tables", [])
    if not tables:
        return None
    parts = []
    for table in tables:
        numeric = {i for i, c in enumerate(table["columns"]) if i > 0}
        parts.append(f"<h3>{esc(table.get('caption', ''))}</h3>" + html_table(table["columns"], [tuple(r) for r in table["rows"]], numeric))
    model = report.get("model", {})
    if report.get("no_classifier"):
        note = (f"No classifier this run ({report['no_classifier']}): the rules alone against the supplied labels; "
                "rules plus model are the rules.")
    else:
        note = (f"Model trained on {model.get('trained_on', '?')} from {model.get('training_source', '?')}; "
                "scores for rules alone and rules plus model against the reference each table names.")
    return Section("classifier", "Stage classifier evaluation", note, table_html=_in_plain_words(report) + "".join(parts))
