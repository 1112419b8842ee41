-- Web events without a given session_id grouped into sessions per device: a gap of more
-- than the session timeout, or a new campaign (utm source/medium/campaign) starts a new
-- session. Given session ids are kept, except one given to several customers (see
-- session_ids_shared): it becomes '<id>~<8 hex digits of the customer>', one per customer.
-- E-mail and social events have no session.
--
-- (intermediate; not published)
with events as (
    select * from events_stitched
),

-- Sessions belong to a device, not a customer, so they are found from the unstitched events
-- (reading events twice would make the engine keep a copy of every stitched event).
unstitched_web_events as (
    select * from events_unioned
    where channel = 'web'
),

parameters as (
    select * from run_parameters
),

web_without_session as (
    select
        event_id,
        event_ts,
        coalesce('anonymous_id:' || anonymous_id, 'user_id:' || user_id) as device_key,
        case
            when utm_source is not null or utm_medium is not null or utm_campaign is not null
                then coalesce(utm_source, '') || '/' || coalesce(utm_medium, '') || '/' || coalesce(utm_campaign, '')
        end as campaign_key
    from unstitched_web_events
    where given_session_id is null
),

with_previous as (
    select
        *,
        lag(event_ts) over (partition by device_key order by event_ts, event_id) as previous_event_ts,
        last_value(campaign_key ignore nulls) over (
            partition by device_key order by event_ts, event_id
            rows between unbounded preceding and 1 preceding
        ) as previous_campaign_key,
        last_value(case when campaign_key is not null then event_ts end ignore nulls) over (
            partition by device_key order by event_ts, event_id
            rows between unbounded preceding and 1 preceding
        ) as previous_campaign_at
    from web_without_session
),

gaps as (
    select
        with_previous.*,
        previous_event_ts is null
            or epoch(event_ts) - epoch(previous_event_ts) > p.session_timeout_minutes * 60 as starts_after_gap
    from with_previous
    cross join parameters as p
),

-- A visit: the events from one that starts after a gap up to the next gap. Only a campaign
-- seen in the current visit counts as the session's campaign, not one of an earlier visit.
visits as (
    select
        *,
        last_value(case when starts_after_gap then event_ts end ignore nulls) over (
            partition by device_key order by event_ts, event_id rows unbounded preceding
        ) as visit_started_at
    from gaps
),

flagged as (
    select
        visits.*,
        case
            when starts_after_gap then true
            when p.split_session_on_new_campaign
                and campaign_key is not null
                and (previous_campaign_at is null
                    or previous_campaign_at < visit_started_at  -- no campaign yet in this visit
                    or campaign_key <> previous_campaign_key) then true
            else false
        end as is_session_start
    from visits
    cross join parameters as p
),

-- A session's id comes from its device and first event; the events after the first take
-- it over (a running last value, sorted the same way as above, not a second grouping).
session_starts as (
    select
        event_id,
        device_key,
        event_ts,
        case when is_session_start
            then 'ses-' || substr(md5(device_key || '|' || cast(event_ts as varchar)), 1, 20)
        end as started_session_id
    from flagged
),

computed_sessions as (
    select
        event_id,
        last_value(started_session_id ignore nulls) over (
            partition by device_key order by event_ts, event_id rows unbounded preceding
        ) as computed_session_id
    from session_starts
),

shared as (
    select * from session_ids_shared
)

select
    events.*,
    case
        when events.given_session_id is null then computed_sessions.computed_session_id
        when shared.given_session_id is not null
            then events.given_session_id || '~' || substr(md5(events.customer_id), 1, 8)
        else events.given_session_id
    end as session_id
from events
left join computed_sessions on computed_sessions.event_id = events.event_id
left join shared on shared.given_session_id = events.given_session_id
