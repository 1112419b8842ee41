-- One row per run date and stage: how many customers are in the stage, how many reached it
-- (are in it or a later stage), and the share of those who reached the previous stage
-- that reached this one. Stages in order: awareness, consideration, purchase, retention,
-- advocacy.
--
-- as_of_date: The run date (from stage_history).
-- stage: The stage.
-- stage_order: 1 (awareness) to 5 (advocacy).
-- customers: Customers in this stage on the run date.
-- reached: Customers in this stage or a later one.
-- conversion_from_previous: reached divided by the previous stage's reached; null for awareness or when the previous stage has none.
with history as (
    select * from main.stage_history
),

stages as (
    select stage, stage_rank(stage) as stage_order
    from (select unnest(journey_stages()) as stage)
),

run_dates as (
    select distinct as_of_date from history
),

counts as (
    select as_of_date, stage, count(*) as customers
    from history
    group by as_of_date, stage
),

grid as (
    select
        run_dates.as_of_date,
        stages.stage,
        stages.stage_order,
        coalesce(counts.customers, 0) as customers
    from run_dates
    cross join stages
    left join counts on counts.as_of_date = run_dates.as_of_date and counts.stage = stages.stage
),

reached as (
    select
        *,
        sum(customers) over (
            partition by as_of_date order by stage_order desc rows between unbounded preceding and current row
        ) as reached
    from grid
)

select
    as_of_date,
    stage,
    stage_order,
    customers,
    cast(reached as bigint) as reached,
    reached / nullif(lag(reached) over (partition by as_of_date order by stage_order), 0) as conversion_from_previous
from reached
order by as_of_date, stage_order
