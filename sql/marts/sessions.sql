-- One row per web session: a visit by one device, ended by 30 minutes of inactivity or a
-- new campaign (both configurable), or as given by the source's session_id.
--
-- session_id: The session (given by the source, or computed as ses-<hash>).
-- customer_id: The customer whose visit it was.
-- anonymous_id: Device of the session's first event.
-- started_at: First event, UTC.
-- ended_at: Last event, UTC.
-- duration_seconds: Seconds from first to last event.
-- n_events: Events in the session.
-- n_page_views: page_view events in the session.
-- landing_page: page_url of the first event.
-- utm_source: Campaign source of the first event (null for direct visits).
-- utm_medium: Campaign medium of the first event.
-- utm_campaign: Campaign name of the first event.
-- device_category: Device category of the first event.
-- country: Country of the first event.
-- converted: True when the session has a purchase.
-- revenue: Sum of the values of the orders placed in the session (a purchase sent twice for one order_id counts once).
with events as (
    -- the columns used below (the engine keeps one copy of this, as it is read more than once)
    select
        session_id, event_id, event_ts, event_name, value, customer_id, anonymous_id,
        page_url, utm_source, utm_medium, utm_campaign, device_category, country
    from main.events
    where session_id is not null
),

totals as (
    select
        session_id,
        min(event_ts) as started_at,
        max(event_ts) as ended_at,
        count(*) as n_events,
        sum(case when event_name = 'page_view' then 1 else 0 end) as n_page_views,
        max(case when event_name = 'purchase' then 1 else 0 end) = 1 as converted
    from events
    group by session_id
),

-- each order once (as in customers: its largest value), even when its purchase was sent twice
session_orders as (
    select session_id, coalesce(order_id, event_id) as order_key, max(value) as order_value
    from main.events
    where event_name = 'purchase' and session_id is not null
    group by session_id, order_key
),

session_revenue as (
    select session_id, sum(order_value) as revenue
    from session_orders
    group by session_id
),

-- A session's first event: one at its start time (ties broken by event_id); finding them
-- through the start times is cheaper than ranking every event of every session.
first_events as (
    select events.*
    from events
    inner join totals on totals.session_id = events.session_id and totals.started_at = events.event_ts
    qualify row_number() over (partition by events.session_id order by events.event_id) = 1
)

select
    totals.session_id,
    first_events.customer_id,
    first_events.anonymous_id,
    totals.started_at,
    totals.ended_at,
    epoch(totals.ended_at) - epoch(totals.started_at) as duration_seconds,
    totals.n_events,
    totals.n_page_views,
    first_events.page_url as landing_page,
    first_events.utm_source,
    first_events.utm_medium,
    first_events.utm_campaign,
    first_events.device_category,
    first_events.country,
    totals.converted,
    coalesce(session_revenue.revenue, 0) as revenue
from totals
inner join first_events on first_events.session_id = totals.session_id
left join session_revenue on session_revenue.session_id = totals.session_id
order by totals.started_at, totals.session_id
