"""Writes the analyst notebooks from the cells below (run: python notebooks/build_notebooks.py).

Keeping the source here makes the notebooks reviewable as code; the .ipynb files are the
output, committed without outputs. Both run top to bottom in the test suite.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent

CONNECT = '''import os
from pathlib import Path

import duckdb

# The warehouse `make demo` writes; set JOURNEY_WAREHOUSE to use another one.
WAREHOUSE = Path(os.environ.get("JOURNEY_WAREHOUSE", "../data/warehouse/journey.duckdb"))
con = duckdb.connect(str(WAREHOUSE), read_only=True)  # read-only: safe while a nightly run publishes
# the last day run successfully (a failed night is recorded in pipeline_runs too, with no stages or findings)
as_of = con.sql("select max(as_of_date) from pipeline_runs where status = 'success'").fetchall()[0][0]
print(WAREHOUSE, "as of", as_of)'''

TOUR = [
    new_markdown_cell("""# A tour of the journey-analytics warehouse

The nightly run publishes one DuckDB file. This notebook shows its tables, how they join,
how to build a funnel of your own in SQL, and a cohort retention table. Run `make demo`
first (it writes `data/warehouse/journey.duckdb`), or, for your own warehouse, start Jupyter with
`JOURNEY_WAREHOUSE` set to its path (`JOURNEY_WAREHOUSE=/data/warehouse/journey.duckdb jupyter lab`).
Nothing else is tied to the sample: the day shown is the last one the nightly run finished."""),
    new_code_cell(CONNECT),
    new_markdown_cell("""## The tables and what they hold

Every table and column carries a comment: the warehouse documents itself."""),
    new_code_cell('''con.sql("""
    select table_name, estimated_size as approx_rows, comment
    from duckdb_tables() where schema_name = 'main' order by table_name
""").show(max_width=200)'''),
    new_code_cell('''con.sql("""
    select column_name, data_type, comment from duckdb_columns()
    where schema_name = 'main' and table_name = 'events' order by column_index
""").show(max_rows=50, max_width=200)'''),
    new_markdown_cell("""## How they join

`customer_id` is the stitched customer: `events`, `sessions`, `customers` and
`customer_stages` all carry it; `identity_map` says which identifiers (devices, user ids,
hashed e-mails and handles) belong to it. The warehouse holds no e-mail address, only its keyed
hash: to find the customer of an address (a support ticket), run
`journey find --customer ann@example.com --warehouse <the warehouse>`, which hashes it with the
warehouse's key and prints the `customer_id`. Here is one customer seen on several devices."""),
    new_code_cell('''multi_device = con.sql("""
    select customer_id, count(*) filter (where identifier_type = 'anonymous_id') as devices
    from identity_map group by 1 having devices > 1 order by devices desc, customer_id limit 1
""").fetchall()
if multi_device:
    customer = multi_device[0][0]
else:
    # one with web sessions, so the table below shows how they join (else the first of any)
    customer = con.sql("select coalesce((select min(customer_id) from sessions), (select min(customer_id) from events))").fetchall()[0][0]
    print("No customer was seen on more than one device; here is one customer:", customer)
    if not con.sql("select count(*) from sessions where customer_id = $c", params={"c": customer}).fetchall()[0][0]:
        print("(This warehouse has no web sessions: its events are e-mail and social, so the sessions table is empty.)")
con.sql("select identifier_type, identifier from identity_map where customer_id = $c order by 1",
        params={"c": customer}).show()
con.sql("""
    select s.session_id, s.started_at, s.device_category, s.utm_source, s.n_events, s.converted
    from sessions s where s.customer_id = $c order by s.started_at
""", params={"c": customer}).show()'''),
    new_code_cell('''con.sql("""
    select e.channel, e.event_name, count(*) as events, count(distinct e.customer_id) as customers
    from events e group by all order by events desc limit 15
""").show()'''),
    new_markdown_cell("""## A custom funnel in SQL

Customers who searched, then viewed an item, then bought, each step after the one before,
within 7 days of the search. (The nightly run's `funnel_steps` table holds the configured
funnels; this is how to ask a new question without changing any config.) Every search may start
the chain, not only a customer's first: someone who searched in May and bought after a search in
June counts. Taking each step's earliest event after the one before is enough, as an earlier step
leaves the most time for the next. This is ClickHouse's `windowFunnel` in `strict_increase` mode,
as the configured funnels are."""),
    new_code_cell('''con.sql("""
    with searched as (
        select customer_id, event_ts as searched_at from events where event_name = 'search'
    ),
    viewed as (
        -- for each search, the first item viewed after it within the 7 days
        select s.customer_id, s.searched_at, min(e.event_ts) as viewed_at
        from searched s join events e on e.customer_id = s.customer_id
         and e.event_name = 'view_item' and e.event_ts > s.searched_at
         and e.event_ts <= s.searched_at + interval 7 day
        group by all
    ),
    bought as (
        select distinct v.customer_id from viewed v join events e on e.customer_id = v.customer_id
         and e.event_name = 'purchase' and e.event_ts > v.viewed_at
         and e.event_ts <= v.searched_at + interval 7 day
    )
    select 'search' as step, count(distinct customer_id) as customers from searched
    union all select 'view_item', count(distinct customer_id) from viewed
    union all select 'purchase', count(*) from bought
""").show()
if not con.sql("select count(*) from events where event_name = 'search'").fetchall()[0][0]:
    print("No search events in this warehouse (the store may not log searches): the funnel reads 0 throughout. "
          "Start it at an event the store logs, such as view_item.")'''),
    new_markdown_cell("""## Cohort retention

Customers grouped by the week of their first order, and the share who ordered again in
each later week, up to the run date's week (not over yet, so its figures are still growing).
A week in which nobody ordered again shows 0."""),
    new_code_cell('''import polars as pl

retention = con.sql("""
    with orders as (
        select customer_id, cast(date_trunc('week', event_ts) as date) as order_week
        from events where event_name = 'purchase' and event_ts < cast($d as date) + 1 group by all
    ),
    cohorts as (select customer_id, min(order_week) as cohort_week from orders group by 1),
    activity as (
        select c.cohort_week, datediff('week', c.cohort_week, o.order_week) as weeks_later,
               count(distinct o.customer_id) as customers
        from cohorts c join orders o using (customer_id) group by all
    ),
    weeks as (
        -- every week from the cohort's to the run date's, also those in which nobody ordered
        select cohort_week, unnest(range(datediff('week', cohort_week, date_trunc('week', cast($d as date))) + 1)) as weeks_later
        from cohorts group by 1
    )
    select w.cohort_week, w.weeks_later, coalesce(a.customers, 0) as customers,
           round(coalesce(a.customers, 0) / first_value(a.customers) over (partition by w.cohort_week order by w.weeks_later), 3) as share
    from weeks w left join activity a using (cohort_week, weeks_later)
    order by w.cohort_week, w.weeks_later
""", params={"d": as_of}).pl()
if retention.is_empty():
    print(f"No orders up to {as_of}: there is no cohort to show.")
else:
    with pl.Config(tbl_rows=100):  # every cohort, not the first and last five
        display(retention.pivot(on="weeks_later", index="cohort_week", values="share").sort("cohort_week"))'''),
    new_markdown_cell("""## Stages

Each customer's stage, who decided it (a rule or the classifier), how sure, and why."""),
    new_code_cell('''con.sql("""
    select stage, stage_source, count(*) as customers, round(avg(confidence), 2) as mean_confidence
    from customer_stages where as_of_date = $d group by all order by 1, 2
""", params={"d": as_of}).show()
con.sql("select customer_id, stage, stage_source, rule_id, reason from customer_stages where as_of_date = $d limit 5",
        params={"d": as_of}).show(max_width=200)'''),
]

INVESTIGATION = [
    new_markdown_cell("""# Investigating a pain point

The nightly run flags findings in `pain_points`, most severe first. This notebook takes the
worst funnel finding and digs into it: is it real, since when, and for whom. It reads the
warehouse named by `JOURNEY_WAREHOUSE` (the sample's by default; see the tour), and the rules its
runs used from the settings file named by `JOURNEY_CONFIG` (your `journey.toml`; the bundled rules
by default): the checkout steps the findings judge and the hours a step has to be taken."""),
    new_code_cell(CONNECT),
    new_code_cell('''con.sql("""
    select severity, kind, segment_key, segment_value, step, round(observed, 3) as observed,
           round(baseline, 3) as baseline, p_value, description
    from pain_points where as_of_date = $d order by severity desc
""", params={"d": as_of}).show(max_width=250)'''),
    new_markdown_cell("""## The funnel finding with the most customers lost

Pick the step of the most severe funnel finding (a step that converts worse for a segment, or
worse than its own baseline). When a segment converts worse at that step, take the worst such
segment: a drop for everyone is often one segment's (a broken mobile payment page), and the
segment says for whom."""),
    new_code_cell('''rows = con.sql("""
    with funnel_findings as (
        select kind, step, segment_key, segment_value, severity from pain_points
        where as_of_date = $d and kind in ('segment_drop', 'funnel_step_drop')
    )
    select kind, step, segment_key, segment_value from funnel_findings
    where step = (select step from funnel_findings order by severity desc limit 1)
    order by kind = 'segment_drop' desc, severity desc limit 1
""", params={"d": as_of}).fetchall()
from journey_analytics.config import load_settings
from journey_analytics.pain_points import checkout_funnel, load_config, step_names, step_sql

# the rules the runs used ([rules] pain_points and funnels of JOURNEY_CONFIG; else the bundled ones):
# the findings judge the steps of the checkout funnel
settings = load_settings(os.environ.get("JOURNEY_CONFIG") or None)
rules = load_config(settings.rule_file("pain_points"))
funnel = checkout_funnel(settings.rule_file("funnels"))
steps = step_names(funnel)
if rows and rows[0][1] in steps[1:]:
    kind, step, segment_key, segment_value = rows[0]
else:  # nothing flagged: look at the last step for everyone, or set step and segment by hand
    if rows:
        print(f"The finding's step {rows[0][1]} is not one of the checkout steps {steps}: set JOURNEY_CONFIG "
              "to the settings file the runs used.")
    kind, step, segment_key, segment_value = None, steps[-1], "all", "all"
    print(f"No funnel finding on {as_of} to look at: looking at the {step} step for everyone instead.")
k = steps.index(step) + 1
previous_step = steps[k - 2]
# SQL: an event (alias e, its session s) is the previous step; one (alias n) is the step, as the findings match them
IS_PREVIOUS, IS_STEP = step_sql(funnel, k - 1, "s"), step_sql(funnel, k, alias="n")
print(f"{kind or 'no finding'}: {previous_step} -> {step} for {segment_key} = {segment_value}")
reached = con.sql(f"""
    select count(*) from events e left join sessions s using (session_id) where {IS_PREVIOUS}
    and e.event_ts >= cast($d as date) - 27 and e.event_ts < cast($d as date) + 1
""", params={"d": as_of}).fetchall()[0][0]
if not reached:  # a store without these web steps (orders from a shop system only, or no web at all)
    print(f"No one reached {previous_step} in the four weeks to {as_of}: there is no {previous_step} -> {step} "
          "step to look at in this warehouse, so the tables below are empty.")'''),
    new_markdown_cell("""## Day by day: when did it start?

For each day of the last four weeks, the times customers reached the previous step, and the share
that took the next step within `HOURS` hours (the rules' `[abandonment] conversion_hours`, 24 by default),
for the segment and for everyone else. As in the finding, a step is judged once its hours are
over by the end of the run date: the run date itself has no row yet, rather than a false drop."""),
    new_code_cell('''import polars as pl

HOURS = rules["abandonment"]["conversion_hours"]
segment_column = segment_key if segment_key in ("device_category", "utm_source", "utm_medium", "country") else None
in_segment = f"coalesce(p.{segment_column}, '') = $v" if segment_column else "true"
daily = con.sql(f"""
    with previous as (
        -- campaign fields sit on a session's landing page view: an event without them takes its session's
        select e.customer_id, e.event_ts, e.device_category, e.country,
            coalesce(e.utm_source, s.utm_source) as utm_source, coalesce(e.utm_medium, s.utm_medium) as utm_medium
        from events e left join sessions s using (session_id)
        where {IS_PREVIOUS}
    ),
    labelled as (
        select cast(p.event_ts as date) as day, ({in_segment}) as in_segment,
            exists (select 1 from events n where n.customer_id = p.customer_id and {IS_STEP}
                    and n.event_ts > p.event_ts and n.event_ts <= p.event_ts + to_hours($hours)) as converted
        from previous p
        -- judged once its hours are over; the four weeks ending on the run date
        where p.event_ts + to_hours($hours) < cast($d as date) + 1 and p.event_ts >= cast($d as date) - 27
    )
    select day, in_segment, count(*) as reached_previous, round(avg(converted::int), 3) as conversion
    from labelled group by all order by day, in_segment
""", params={"d": as_of, "hours": HOURS,
             **({"v": segment_value} if segment_column else {})}).pl()
# a column for the segment and one for everyone else; one column, everyone, when the segment is everyone
label = f"{segment_key} = {segment_value}" if segment_column else "everyone"
who = pl.when(pl.col("in_segment")).then(pl.lit(label)).otherwise(pl.lit("everyone else")).alias("who")
table = daily.with_columns(who).pivot(on="who", index="day", values="conversion").sort("day")
with pl.Config(tbl_rows=28):  # every day, not the first and last five
    display(table.select(["day"] + [c for c in (label, "everyone else") if c in table.columns]))'''),
    new_markdown_cell("""## Who is affected, and what did they do instead?

The customers of the segment who stopped after the previous step in the last week (each once,
at their first stop, judged once its hours were over), and what they did next within a week,
or up to the run date for the latest: their own next event on any channel (e-mails merely sent to
them and the brand's replies are not theirs)."""),
    new_code_cell('''con.sql(f"""
    with previous as (
        select e.customer_id, e.event_ts, e.device_category, e.country,
            coalesce(e.utm_source, s.utm_source) as utm_source, coalesce(e.utm_medium, s.utm_medium) as utm_medium
        from events e left join sessions s using (session_id)
        where {IS_PREVIOUS} and e.event_ts >= cast($d as date) - 6
          and e.event_ts + to_hours($hours) < cast($d as date) + 1
    ),
    stopped as (
        select p.customer_id, p.event_ts from previous p
        where ({in_segment})
          and not exists (select 1 from events n where n.customer_id = p.customer_id and {IS_STEP}
                          and n.event_ts > p.event_ts and n.event_ts <= p.event_ts + to_hours($hours))
        qualify row_number() over (partition by p.customer_id order by p.event_ts) = 1
    ),
    next_events as (
        select s.customer_id, min_by(e.channel || ': ' || e.event_name, e.event_ts) as next_event
        from stopped s join events e on e.customer_id = s.customer_id and e.event_ts > s.event_ts
            and e.event_ts <= s.event_ts + interval 7 day
        where e.event_name not in ('processed', 'delivered', 'deferred', 'bounce', 'dropped', 'brand_reply')
        group by 1
    )
    select coalesce(n.next_event, '(nothing within a week)') as next_event, count(*) as customers
    from stopped s left join next_events n using (customer_id) group by 1 order by 2 desc
""", params={"d": as_of, "hours": HOURS,
             **({"v": segment_value} if segment_column else {})}).show()'''),
    new_markdown_cell("""## What to do

If the segment's conversion fell on a given day while the rest held steady, look at what
shipped that day for that segment (a release, a payment provider change). The finding's
`evidence` column holds the counts behind it."""),
]


def main() -> None:
    for name, cells in (("01_warehouse_tour.ipynb", TOUR), ("02_pain_point_investigation.ipynb", INVESTIGATION)):
        notebook = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
        for index, cell in enumerate(notebook.cells):
            cell.id = f"cell-{index:02d}"  # stable ids: a rebuild changes only the cells that changed
        nbformat.write(notebook, HERE / name)


if __name__ == "__main__":
    main()
