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
-- landing_page: page_url of the landing event: the session's first event with a page_url (a GA4 session_start at the same instant has none).
-- utm_source: Campaign source of the landing event (null for direct visits).
-- utm_medium: Campaign medium of the landing event.
-- utm_campaign: Campaign name of the landing event.
-- device_category: Device category of the session's first event that has one.
-- country: Country of the session's first event that has one.
-- converted: True when the session has a purchase.
-- revenue: Sum of the values of the orders placed in the session, in the orders' currency as given. An order's rows sent together are its lines and add up (lines told apart by value and product: an extra field such as sku or item_id); an order sent again counts once.
with events as (
    select
        session_id, event_id, event_ts, event_name, customer_id, anonymous_id,
        page_url, utm_source, utm_medium, utm_campaign, device_category, country
    from main.events
    where session_id is not null
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
        sum(case when event_name = 'page_view' then 1 else 0 end) as n_page_views,
        max(case when event_name = 'purchase' then 1 else 0 end) = 1 as converted,
        arg_min(struct_pack(customer_id, anonymous_id), struct_pack(event_ts, event_id)) as first_event,
        arg_min(
            struct_pack(page_url, utm_source, utm_medium, utm_campaign),
            struct_pack(no_page := page_url is null, event_ts, event_id)
        ) as landing_event,
        arg_min(device_category, struct_pack(event_ts, event_id)) filter (where device_category is not null)
            as device_category,
        arg_min(country, struct_pack(event_ts, event_id)) filter (where country is not null) as country
    from events
    group by session_id
),

-- Each order once, at its value (the rule of customers.sql and the dashboard's headline
-- figures): the rows sent together (one instant, one device or user) are its lines and add
-- up; lines are told apart by value and product (the extra fields item_id, sku, product_id,
-- variant_id, stock_code, line_id, line_item_id, line_number), so a row sent twice is one line
-- whatever else it carries. When the whole order is sent again (another instant or sender), each value counts as many times as in
-- the sending with the most lines of that value.
purchase_lines as (
    select distinct
        session_id, coalesce(order_id, event_id) as order_key, event_ts,
        coalesce(anonymous_id, user_id) as sender, value,
        -- the first of the product fields that the row has
        list_filter(json_extract_string(properties, ['$.item_id', '$.sku', '$.product_id', '$.variant_id', '$.stock_code', '$.line_id', '$.line_item_id', '$.line_number']), lambda x: x is not null)[1] as line_item
    from main.events
    where event_name = 'purchase' and session_id is not null
),

order_value_counts as (
    select session_id, order_key, value, max(n) as n
    from (
        select session_id, order_key, event_ts, sender, value, count(*) as n
        from purchase_lines
        group by all
    )
    group by all
),

session_revenue as (
    select session_id, sum(value * n) as revenue
    from order_value_counts
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
