-- Every event up to the end of the run date that counts as a stage signal (intent,
-- advocacy, ... as config/stages.toml defines them), with the signal it counts for.
-- An event can count for more than one signal.
--
-- (intermediate; not published)
with events as (
    select * from main.events
),

definitions as (
    select * from stage_signal_definitions
),

parameters as (
    select * from stage_parameters
)

select
    events.customer_id,
    definitions.signal,
    events.event_id,
    events.channel,
    events.event_name,
    events.event_ts,
    events.rating,
    events.sentiment
from events
inner join definitions
    on definitions.channel = events.channel and definitions.event_name = events.event_name
cross join parameters as p
where events.event_ts < p.as_of_end
    and events.customer_id is not null
    and (definitions.min_rating is null or events.rating >= definitions.min_rating)
    and (definitions.sentiment_above is null or events.sentiment > definitions.sentiment_above)
