-- One row per pair of consecutive run dates in stage_history and per move between stages
-- (staying in a stage included): how many customers went from one stage on the previous
-- run date to another on the run date. Customers are today's: a visitor's earlier anonymous
-- id is followed to the customer they became (see identity_map).
--
-- as_of_date: The run date.
-- previous_as_of_date: The run date before it in stage_history.
-- from_stage: Stage on the previous run date; none when the customer had no stage then.
-- to_stage: Stage on the run date; none when the customer has no stage any more.
-- is_move: True when from_stage and to_stage differ.
-- customers: Customers who made this move.
with history_rows as (
    select * from main.stage_history
),

identity_map as (
    select * from main.identity_map
),

-- The id a customer had on an earlier run date, before identities joined: a provisional anon:,
-- email: or social: id, or another user_id (see identifier_customer_id); and whose it is now.
earlier_ids as (
    select
        identifier_customer_id(identifier_type, identifier) as earlier_id,
        min(customer_id) as customer_id
    from identity_map
    group by 1
),

-- Every run date's rows under today's customers, so a visitor who later signed up moves from
-- their stage as a visitor (not from 'none'); a person seen as two customers on a day counts
-- once, at the furthest stage.
history as (
    select
        coalesce(earlier_ids.customer_id, history_rows.customer_id) as customer_id,
        history_rows.as_of_date,
        arg_max(history_rows.stage, stage_rank(history_rows.stage)) as stage
    from history_rows
    left join earlier_ids on earlier_ids.earlier_id = history_rows.customer_id
    group by all
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
