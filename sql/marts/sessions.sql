-- One row per web session: a visit by one device, ended by inactivity ([sessions]
-- timeout_minutes of the run's settings, 30 by default) or a new campaign ([sessions]
-- split_on_new_campaign, on by default), or as given by the source's session_id.
--
-- session_id: The session (given by the source, or computed as ses-<hash>).
-- customer_id: The customer whose visit it was.
-- anonymous_id: Device of the session's first event.
-- started_at: First event, UTC.
-- ended_at: Last event, UTC.
-- duration_seconds: Seconds from first to last event.
-- n_events: Events in the session.
-- n_page_views: page_view events in the session.
-- landing_page: page_url of the landing event: the session's first event with a page_url (at one instant, one with a campaign first; a GA4 session_start at the same instant has none).
-- utm_source: Campaign source of the landing event (null for direct visits).
-- utm_medium: Campaign medium of the landing event.
-- utm_campaign: Campaign name of the landing event.
-- device_category: Device category of the session's first event that has one.
-- country: Country of the session's first event that has one.
-- converted: True when the session has a purchase (a purchase of an order whose rows total below nothing, a cancellation landed as a purchase, is no order and converts nothing).
-- revenue: Sum of the values of the orders placed in the session, in the orders' currency as given (this table has no currency column: summed over sessions, values in different currencies are added as given, with no exchange rates; the currency is on the purchase events). An order's rows sent together are its lines and add up (lines told apart by value and product: an extra field such as sku or item_id); an order sent again counts once, in the session where it was first sent; an order sent by the tag and by the store's export with two totals counts the larger; purchase rows of one order that total below nothing (a cancellation landed as a purchase) are no order and add nothing.
with cancellations as (
    -- purchase rows of one order number that total below nothing: a cancellation landed as a
    -- purchase (order_totals; only the numbers with a negative row are read)
    select customer_id, order_key from order_totals(timestamp 'infinity', true) where order_value < 0
),

events as (
    select
        e.session_id, e.event_id, e.event_ts, e.event_name, e.customer_id, e.anonymous_id,
        e.page_url, e.utm_source, e.utm_medium, e.utm_campaign, e.device_category, e.country,
        e.event_name = 'purchase' and cancellations.order_key is null as is_order
    from main.events as e
    left join cancellations
        on e.event_name = 'purchase'
        and cancellations.customer_id is not distinct from e.customer_id
        and cancellations.order_key = coalesce(e.order_id, e.event_id)
    where e.session_id is not null
),

-- One pass over the events: the session's first event (ties broken by event_id) says whose it
-- was; its landing event (the first with a page_url, else the first) gives the landing page and
-- the campaign; device and country come from the first event that has them.
totals as (
    select
        session_id,
        min(event_ts) as started_at,
        max(event_ts) as ended_at,
        count(*) as n_events,
        count(*) filter (where event_name = 'page_view') as n_page_views,
        coalesce(bool_or(is_order), false) as converted,
        arg_min(struct_pack(customer_id, anonymous_id), struct_pack(event_ts, event_id)) as first_event,
        arg_min(
            struct_pack(page_url, utm_source, utm_medium, utm_campaign),
            struct_pack(
                no_page := page_url is null, event_ts,
                -- at one instant, campaign first (as sessions are split: see events_sessionized)
                no_campaign := utm_source is null and utm_medium is null and utm_campaign is null,
                event_id
            )
        ) as landing_event,
        arg_min(device_category, struct_pack(event_ts, event_id)) filter (where device_category is not null)
            as device_category,
        arg_min(country, struct_pack(event_ts, event_id)) filter (where country is not null) as country
    from events
    group by session_id
),

-- Each order once, at its value, in the session of its first sending that has a session
-- (order_values in sql/macros/order_macros.sql: the rule of customers.revenue and the
-- dashboard's headline figures), so an order sent again in a later visit is not counted twice.
session_revenue as (
    select session_id, sum(order_value) as revenue
    from order_values(timestamp 'infinity')
    where session_id is not null
    group by session_id
)

select
    totals.session_id,
    totals.first_event.customer_id,
    totals.first_event.anonymous_id,
    totals.started_at,
    totals.ended_at,
    epoch(totals.ended_at) - epoch(totals.started_at) as duration_seconds,
    totals.n_events,
    totals.n_page_views,
    totals.landing_event.page_url as landing_page,
    totals.landing_event.utm_source,
    totals.landing_event.utm_medium,
    totals.landing_event.utm_campaign,
    totals.device_category,
    totals.country,
    totals.converted,
    coalesce(session_revenue.revenue, 0) as revenue
from totals
left join session_revenue on session_revenue.session_id = totals.session_id
order by totals.started_at, totals.session_id
