-- Every event with its session and its customer as its visit gives it. Web events without a
-- given session_id take the session worked out from their device's visits (web_event_sessions,
-- which tells how). Given session ids are kept, except one given to several customers or
-- devices (see session_ids_shared): it becomes '<id>~<8 hex digits>' of the customer, or of the
-- customer and device when several devices share it: one session each. A web event that names
-- no one in a guest buyer's visit, and a guest order, are the buyer's (web_event_sessions).
-- E-mail and social events have no session.
--
-- (intermediate; not published)
with events as (
    select * from events_stitched
),

web_sessions as (
    select * from web_event_sessions
),

shared as (
    select * from session_ids_shared
),

-- Each event with its customer and its visit.
attributed as (
    select
        events.* replace (
            coalesce(web_sessions.buyer_customer_id, events.customer_id) as customer_id,
            coalesce(events.given_session_id, web_sessions.joined_given_session_id) as given_session_id
        ),
        -- the device of the visit a deviceless event joined (for a session id shared across devices)
        coalesce(events.anonymous_id, web_sessions.joined_anonymous_id) as visit_anonymous_id,
        web_sessions.computed_session_id,
        shared.given_session_id is not null as is_shared,
        shared.across_devices
    from events
    -- (an event_id is unique within its channel only)
    left join web_sessions on web_sessions.event_id = events.event_id and events.channel = 'web'
    left join shared on shared.given_session_id = coalesce(events.given_session_id, web_sessions.joined_given_session_id)
)

select
    * exclude (computed_session_id, is_shared, across_devices, visit_anonymous_id),
    case
        when given_session_id is null then computed_session_id
        when across_devices
            then given_session_id || '~' || substr(md5(customer_id || '|' || coalesce(visit_anonymous_id, '')), 1, 8)
        when is_shared
            then given_session_id || '~' || substr(md5(customer_id), 1, 8)
        else given_session_id
    end as session_id
from attributed
