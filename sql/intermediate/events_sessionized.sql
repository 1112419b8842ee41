-- Web events without a given session_id grouped into sessions per device: a gap of more
-- than the session timeout, or a new campaign (utm source/medium/campaign) starts a new
-- session. Given session ids are kept. E-mail and social events have no session.
--
-- (intermediate; not published)
with events as (
    select * from events_stitched
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
    from events
    where channel = 'web' and given_session_id is null
),

with_previous as (
    select
        *,
        lag(event_ts) over (partition by device_key order by event_ts, event_id) as previous_event_ts,
        last_value(campaign_key ignore nulls) over (
            partition by device_key order by event_ts, event_id
            rows between unbounded preceding and 1 preceding
        ) as previous_campaign_key
    from web_without_session
),

flagged as (
    select
        with_previous.*,
        case
            when previous_event_ts is null then 1
            when epoch(event_ts) - epoch(previous_event_ts) > p.session_timeout_minutes * 60 then 1
            when p.split_session_on_new_campaign
                and campaign_key is not null
                and (previous_campaign_key is null or campaign_key <> previous_campaign_key) then 1
            else 0
        end as is_session_start
    from with_previous
    cross join parameters as p
),

numbered as (
    select
        *,
        sum(is_session_start) over (
            partition by device_key order by event_ts, event_id rows unbounded preceding
        ) as session_index
    from flagged
),

session_starts as (
    select
        event_id,
        'ses-' || substr(md5(device_key || '|' || cast(
            min(event_ts) over (partition by device_key, session_index) as varchar
        )), 1, 20) as computed_session_id
    from numbered
)

select
    events.*,
    coalesce(events.given_session_id, session_starts.computed_session_id) as session_id
from events
left join session_starts on session_starts.event_id = events.event_id
