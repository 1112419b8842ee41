-- One row per pair of consecutive run dates in stage_history and per move between stages
-- (staying in a stage included): how many customers went from one stage on the previous
-- run date to another on the run date.
--
-- as_of_date: The run date.
-- previous_as_of_date: The run date before it in stage_history.
-- from_stage: Stage on the previous run date; none when the customer had no stage then.
-- to_stage: Stage on the run date; none when the customer has no stage any more.
-- is_move: True when from_stage and to_stage differ.
-- customers: Customers who made this move.
with history as (
    select * from main.stage_history
),

run_dates as (
    select distinct as_of_date from history
),

consecutive as (
    select
        as_of_date,
        lag(as_of_date) over (order by as_of_date) as previous_as_of_date
    from run_dates
),

pairs as (
    select * from consecutive where previous_as_of_date is not null
),

current_rows as (
    select pairs.as_of_date, pairs.previous_as_of_date, history.customer_id, history.stage
    from pairs
    inner join history on history.as_of_date = pairs.as_of_date
),

previous_rows as (
    select pairs.as_of_date, pairs.previous_as_of_date, history.customer_id, history.stage
    from pairs
    inner join history on history.as_of_date = pairs.previous_as_of_date
),

moves as (
    select
        coalesce(current_rows.as_of_date, previous_rows.as_of_date) as as_of_date,
        coalesce(current_rows.previous_as_of_date, previous_rows.previous_as_of_date) as previous_as_of_date,
        coalesce(previous_rows.stage, 'none') as from_stage,
        coalesce(current_rows.stage, 'none') as to_stage
    from current_rows
    full outer join previous_rows
        on previous_rows.as_of_date = current_rows.as_of_date
        and previous_rows.customer_id = current_rows.customer_id
)

select
    as_of_date,
    previous_as_of_date,
    from_stage,
    to_stage,
    from_stage <> to_stage as is_move,
    count(*) as customers
from moves
group by as_of_date, previous_as_of_date, from_stage, to_stage
order by as_of_date, from_stage, to_stage
