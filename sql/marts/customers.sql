-- One row per customer seen up to the end of the run date (stage step's as_of): activity,
-- orders, the intent and advocacy signals over 7, 30 and 90 days, sessions, e-mail and
-- social engagement, channel and device mix. These are the features the stage classifier
-- reads and the facts the stage rules test. Events after the run date are ignored.
--
-- customer_id: The stitched customer (see identity_map).
-- as_of_date: The run date the features describe (events up to the end of this day, UTC).
-- is_identified: True when the customer had a user_id by the run date (logged in or signed up by then) or is known to the CRM; a user_id that names no one (a 'guest' the tag writes for every visitor, see identity_map) identifies no one.
-- first_seen: First event of any kind, UTC (an e-mail delivered counts; the first visit is min(sessions.started_at) of the customer).
-- last_seen: Last event of any kind up to the run date, UTC.
-- days_since_first_seen: Whole days from first_seen to the run date.
-- days_since_last_seen: Whole days from last_seen to the run date.
-- has_touch: True when the customer did something themselves (any event not in the passive signal list of config/stages.toml, such as an e-mail merely delivered).
-- n_touches: Events the customer did themselves.
-- last_touch_at: Last event the customer did themselves, UTC.
-- last_touch_event: Name of that event.
-- days_since_last_touch: Whole days from last_touch_at to the run date.
-- n_active_days: Distinct days with a touch.
-- n_active_days_30d: Distinct days with a touch in the 30 days ending on the run date.
-- n_orders: Distinct orders (purchase events counted once per order_id), and 1 more when a refund of an order not among the customer's purchases in its currency came before their first purchase in the data, or they have none (an order bought before the data begins, known from its refund; several such refunds count as one). Such a refund after a purchase adds no order: it may cancel that purchase under a number of its own (Online Retail's C536379, a credit note).
-- revenue: Sum of the orders' values (an order's rows sent together are its lines and add up, lines told apart by value and product: an extra field such as sku or item_id; an order sent again counts once; sent by the tag and by the store's export with two totals, the larger; a negative line, such as a discount, lowers its order; an order of no value is an order; purchase rows of one order_id that total below nothing are a cancellation landed as a purchase, no order but a refund, see refunded_value), before refunds (see n_refunds); values in different currencies are added as given, with no exchange rates (see revenue_currency).
-- revenue_currency: The currency of revenue: the one currency of the customer's orders with a value; 'mixed' when they were in more than one, also within one order (its lines, or the web tag's total and the store export's, in two currencies) (revenue then adds amounts of different currencies, so filter on this column before summing revenue across customers); null without such an order.
-- first_order_at: First purchase, UTC; null when the customer's orders are known only from refunds.
-- last_order_at: Last purchase, UTC; null when the customer's orders are known only from refunds.
-- days_since_last_order: Whole days from last_order_at to the run date; null without a purchase time.
-- n_refunds: Distinct orders with a refund (an order number refunded in two currencies is two orders).
-- refunded_value: Value refunded on the customer's orders (order_refunds in sql/macros/order_macros.sql: a refund's rows sent together are its lines and add up; the same refund sent again at its own time counts once; refunds sent at different times are partial refunds and all count, so one resent at another time under a new event id counts twice; sent by the tag and by the store's export with two totals, the larger; a negative refund, a credit note, is read as the amount refunded; so are purchase rows of one order_id that total below nothing, a cancellation landed as a purchase: Online Retail's invoice C536379 of negative quantities), including refunds of orders not among the customer's purchases in the refund's currency (bought before the data begins, a cancellation numbered on its own, a number another customer or another store's currency also used), which net_revenue leaves out; added as given with no exchange rates, in the refunds' currency. Not a classifier feature.
-- net_revenue: revenue less the refunds of its orders (order_net_values: each order's value less its refunds, never below nothing, so refunds over an order's value take the whole order and no more); a refund lowers only the customer's own order of its number in its currency: a refund of an order whose purchase is not in the data (bought before it begins), of a number only another customer bought (two stores numbering orders alike), or in another currency than the order's (no exchange rates: dollars are not taken off euros) lowers nothing, as that order adds no revenue. In revenue_currency; 0 without an order. Not a classifier feature.
-- n_view_item_7d: view_item events in the 7 days ending on the run date.
-- n_view_item_30d: view_item events in the 30 days ending on the run date.
-- n_view_item_90d: view_item events in the 90 days ending on the run date.
-- n_search_7d: search events in the 7 days ending on the run date.
-- n_search_30d: search events in the 30 days ending on the run date.
-- n_search_90d: search events in the 90 days ending on the run date.
-- n_add_to_cart_7d: add_to_cart events in the 7 days ending on the run date.
-- n_add_to_cart_30d: add_to_cart events in the 30 days ending on the run date.
-- n_add_to_cart_90d: add_to_cart events in the 90 days ending on the run date.
-- n_begin_checkout_7d: begin_checkout events in the 7 days ending on the run date.
-- n_begin_checkout_30d: begin_checkout events in the 30 days ending on the run date.
-- n_begin_checkout_90d: begin_checkout events in the 90 days ending on the run date.
-- n_add_payment_info_7d: add_payment_info events in the 7 days ending on the run date.
-- n_add_payment_info_30d: add_payment_info events in the 30 days ending on the run date.
-- n_add_payment_info_90d: add_payment_info events in the 90 days ending on the run date.
-- n_generate_lead_7d: generate_lead events in the 7 days ending on the run date.
-- n_generate_lead_30d: generate_lead events in the 30 days ending on the run date.
-- n_generate_lead_90d: generate_lead events in the 90 days ending on the run date.
-- n_sign_up_7d: sign_up events in the 7 days ending on the run date.
-- n_sign_up_30d: sign_up events in the 30 days ending on the run date.
-- n_sign_up_90d: sign_up events in the 90 days ending on the run date.
-- n_page_view_7d: page_view events in the 7 days ending on the run date.
-- n_page_view_30d: page_view events in the 30 days ending on the run date.
-- n_page_view_90d: page_view events in the 90 days ending on the run date.
-- n_email_click_7d: e-mail click events in the 7 days ending on the run date.
-- n_email_click_30d: e-mail click events in the 30 days ending on the run date.
-- n_email_click_90d: e-mail click events in the 90 days ending on the run date.
-- n_refer_friend_7d: refer_friend events in the 7 days ending on the run date.
-- n_refer_friend_30d: refer_friend events in the 30 days ending on the run date.
-- n_refer_friend_90d: refer_friend events in the 90 days ending on the run date.
-- n_positive_review_7d: write_review rated 4 or 5 events in the 7 days ending on the run date.
-- n_positive_review_30d: write_review rated 4 or 5 events in the 30 days ending on the run date.
-- n_positive_review_90d: write_review rated 4 or 5 events in the 90 days ending on the run date.
-- n_positive_social_review_7d: social review rated 4 or 5 events in the 7 days ending on the run date.
-- n_positive_social_review_30d: social review rated 4 or 5 events in the 30 days ending on the run date.
-- n_positive_social_review_90d: social review rated 4 or 5 events in the 90 days ending on the run date.
-- n_positive_share_7d: social share with positive sentiment events in the 7 days ending on the run date.
-- n_positive_share_30d: social share with positive sentiment events in the 30 days ending on the run date.
-- n_positive_share_90d: social share with positive sentiment events in the 90 days ending on the run date.
-- n_positive_mention_7d: social mention with positive sentiment events in the 7 days ending on the run date.
-- n_positive_mention_30d: social mention with positive sentiment events in the 30 days ending on the run date.
-- n_positive_mention_90d: social mention with positive sentiment events in the 90 days ending on the run date.
-- n_sessions: Web sessions (by session_id) with an event up to the run date.
-- n_sessions_30d: Sessions that started in the 30 days ending on the run date.
-- avg_events_per_session: Session depth: mean events per session.
-- max_events_per_session: Events in the deepest session.
-- avg_session_seconds: Mean seconds from a session's first to last event.
-- total_session_seconds: Sum of session durations in seconds.
-- n_sessions_from_email: Sessions whose first event came from an e-mail (utm_medium email).
-- avg_dwell_seconds: Dwell: mean seconds between consecutive events of a session (time spent on a page before the next click).
-- max_dwell_seconds: Longest such gap.
-- n_long_dwells_30d: Gaps of 2 minutes or more inside sessions, in the 30 days ending on the run date.
-- n_long_dwells_90d: Gaps of 2 minutes or more inside sessions, in the 90 days ending on the run date.
-- n_emails_delivered: Distinct e-mail messages delivered.
-- n_emails_opened: Distinct e-mail messages opened.
-- n_emails_clicked: Distinct e-mail messages clicked.
-- n_email_clicks: E-mail click events.
-- email_open_rate: Messages opened per message delivered (null without e-mail).
-- email_click_rate: Messages clicked per message delivered (null without e-mail).
-- n_email_unsubscribes: unsubscribe events (spam complaints are n_email_spam_reports).
-- n_email_spam_reports: spamreport events: the customer marked an e-mail as spam (a complaint, not an unsubscribe).
-- n_social_events: Social events the customer did (not brand replies).
-- n_social_engagements: Likes, comments, shares, saves, follows, mentions, messages and reviews.
-- avg_social_sentiment: Mean sentiment (-1 to 1) of the customer's social events that carry one.
-- n_social_positive: Social events with positive sentiment.
-- n_social_negative: Social events with negative sentiment.
-- share_web: Share of the customer's touches on the web.
-- share_email: Share of the customer's touches in e-mail.
-- share_social: Share of the customer's touches on social.
-- n_channels: Channels (web, email, social) with a touch.
-- share_desktop: Share of web events on desktop.
-- share_mobile: Share of web events on mobile.
-- share_tablet: Share of web events on tablet.
-- n_devices: Distinct devices (anonymous ids) seen on the web.
with events as (
    select * from main.events
),

identity_map as (
    select * from main.identity_map
),

parameters as (
    select * from stage_parameters
),

passive_events as (
    select distinct channel, event_name from stage_signal_definitions where signal = 'passive'
),

events_as_of as (
    select
        events.*,
        passive_events.event_name is null as is_touch
    from events
    cross join parameters as p
    left join passive_events
        on passive_events.channel = events.channel and passive_events.event_name = events.event_name
    where events.event_ts < p.as_of_end
        and events.customer_id is not null
),

-- Identified as of the run date: a user_id on one of the customer's events up to then, or a
-- user_id the CRM knows (identity files carry no date). A later login does not identify a
-- customer for an earlier date, so a backfill gives the stages that day had. A user_id that
-- names no one (a 'guest' the tag writes for every visitor, a bot's account on many devices:
-- identity_map.names_someone false) identifies no one, also the customer it is itself (an
-- export's 'guest' orders that no device claims).
identified as (
    select e.customer_id
    from events_as_of as e
    left join identity_map as m on m.identifier_type = 'user_id' and m.identifier = e.user_id
    where e.user_id is not null and m.names_someone is not false
      and (m.customer_id is null or m.customer_id = e.customer_id)
    union
    select identity_map.customer_id
    from identity_map
    inner join raw.identities on identities.user_id = identity_map.identifier
    where identity_map.identifier_type = 'user_id' and identity_map.names_someone
),

activity as (
    select
        customer_id,
        min(event_ts) as first_seen,
        max(event_ts) as last_seen,
        count(*) filter (where is_touch) as n_touches,
        max(event_ts) filter (where is_touch) as last_touch_at,
        arg_max(event_name, event_ts) filter (where is_touch) as last_touch_event,
        count(distinct event_date) filter (where is_touch) as n_active_days,
        count(distinct event_date) filter (where is_touch and event_ts >= p.as_of_end - interval 30 day) as n_active_days_30d,
        count(*) filter (where is_touch and channel = 'web') as n_web_touches,
        count(*) filter (where is_touch and channel = 'email') as n_email_touches,
        count(*) filter (where is_touch and channel = 'social') as n_social_touches,
        count(*) filter (where channel = 'web') as n_web_events,
        count(*) filter (where channel = 'web' and device_category = 'desktop') as n_desktop_events,
        count(*) filter (where channel = 'web' and device_category = 'mobile') as n_mobile_events,
        count(*) filter (where channel = 'web' and device_category = 'tablet') as n_tablet_events,
        count(distinct anonymous_id) as n_devices
    from events_as_of
    cross join parameters as p
    group by customer_id
),

signals as (
    select
        customer_id,
        count(*) filter (where channel = 'web' and event_name = 'view_item' and event_ts >= p.as_of_end - interval 7 day) as n_view_item_7d,
        count(*) filter (where channel = 'web' and event_name = 'view_item' and event_ts >= p.as_of_end - interval 30 day) as n_view_item_30d,
        count(*) filter (where channel = 'web' and event_name = 'view_item' and event_ts >= p.as_of_end - interval 90 day) as n_view_item_90d,
        count(*) filter (where channel = 'web' and event_name = 'search' and event_ts >= p.as_of_end - interval 7 day) as n_search_7d,
        count(*) filter (where channel = 'web' and event_name = 'search' and event_ts >= p.as_of_end - interval 30 day) as n_search_30d,
        count(*) filter (where channel = 'web' and event_name = 'search' and event_ts >= p.as_of_end - interval 90 day) as n_search_90d,
        count(*) filter (where channel = 'web' and event_name = 'add_to_cart' and event_ts >= p.as_of_end - interval 7 day) as n_add_to_cart_7d,
        count(*) filter (where channel = 'web' and event_name = 'add_to_cart' and event_ts >= p.as_of_end - interval 30 day) as n_add_to_cart_30d,
        count(*) filter (where channel = 'web' and event_name = 'add_to_cart' and event_ts >= p.as_of_end - interval 90 day) as n_add_to_cart_90d,
        count(*) filter (where channel = 'web' and event_name = 'begin_checkout' and event_ts >= p.as_of_end - interval 7 day) as n_begin_checkout_7d,
        count(*) filter (where channel = 'web' and event_name = 'begin_checkout' and event_ts >= p.as_of_end - interval 30 day) as n_begin_checkout_30d,
        count(*) filter (where channel = 'web' and event_name = 'begin_checkout' and event_ts >= p.as_of_end - interval 90 day) as n_begin_checkout_90d,
        count(*) filter (where channel = 'web' and event_name = 'add_payment_info' and event_ts >= p.as_of_end - interval 7 day) as n_add_payment_info_7d,
        count(*) filter (where channel = 'web' and event_name = 'add_payment_info' and event_ts >= p.as_of_end - interval 30 day) as n_add_payment_info_30d,
        count(*) filter (where channel = 'web' and event_name = 'add_payment_info' and event_ts >= p.as_of_end - interval 90 day) as n_add_payment_info_90d,
        count(*) filter (where channel = 'web' and event_name = 'generate_lead' and event_ts >= p.as_of_end - interval 7 day) as n_generate_lead_7d,
        count(*) filter (where channel = 'web' and event_name = 'generate_lead' and event_ts >= p.as_of_end - interval 30 day) as n_generate_lead_30d,
        count(*) filter (where channel = 'web' and event_name = 'generate_lead' and event_ts >= p.as_of_end - interval 90 day) as n_generate_lead_90d,
        count(*) filter (where channel = 'web' and event_name = 'sign_up' and event_ts >= p.as_of_end - interval 7 day) as n_sign_up_7d,
        count(*) filter (where channel = 'web' and event_name = 'sign_up' and event_ts >= p.as_of_end - interval 30 day) as n_sign_up_30d,
        count(*) filter (where channel = 'web' and event_name = 'sign_up' and event_ts >= p.as_of_end - interval 90 day) as n_sign_up_90d,
        count(*) filter (where channel = 'web' and event_name = 'page_view' and event_ts >= p.as_of_end - interval 7 day) as n_page_view_7d,
        count(*) filter (where channel = 'web' and event_name = 'page_view' and event_ts >= p.as_of_end - interval 30 day) as n_page_view_30d,
        count(*) filter (where channel = 'web' and event_name = 'page_view' and event_ts >= p.as_of_end - interval 90 day) as n_page_view_90d,
        count(*) filter (where channel = 'email' and event_name = 'click' and event_ts >= p.as_of_end - interval 7 day) as n_email_click_7d,
        count(*) filter (where channel = 'email' and event_name = 'click' and event_ts >= p.as_of_end - interval 30 day) as n_email_click_30d,
        count(*) filter (where channel = 'email' and event_name = 'click' and event_ts >= p.as_of_end - interval 90 day) as n_email_click_90d,
        count(*) filter (where channel = 'web' and event_name = 'refer_friend' and event_ts >= p.as_of_end - interval 7 day) as n_refer_friend_7d,
        count(*) filter (where channel = 'web' and event_name = 'refer_friend' and event_ts >= p.as_of_end - interval 30 day) as n_refer_friend_30d,
        count(*) filter (where channel = 'web' and event_name = 'refer_friend' and event_ts >= p.as_of_end - interval 90 day) as n_refer_friend_90d,
        count(*) filter (where channel = 'web' and event_name = 'write_review' and rating >= 4 and event_ts >= p.as_of_end - interval 7 day) as n_positive_review_7d,
        count(*) filter (where channel = 'web' and event_name = 'write_review' and rating >= 4 and event_ts >= p.as_of_end - interval 30 day) as n_positive_review_30d,
        count(*) filter (where channel = 'web' and event_name = 'write_review' and rating >= 4 and event_ts >= p.as_of_end - interval 90 day) as n_positive_review_90d,
        count(*) filter (where channel = 'social' and event_name = 'review' and rating >= 4 and event_ts >= p.as_of_end - interval 7 day) as n_positive_social_review_7d,
        count(*) filter (where channel = 'social' and event_name = 'review' and rating >= 4 and event_ts >= p.as_of_end - interval 30 day) as n_positive_social_review_30d,
        count(*) filter (where channel = 'social' and event_name = 'review' and rating >= 4 and event_ts >= p.as_of_end - interval 90 day) as n_positive_social_review_90d,
        count(*) filter (where channel = 'social' and event_name = 'share' and sentiment > 0 and event_ts >= p.as_of_end - interval 7 day) as n_positive_share_7d,
        count(*) filter (where channel = 'social' and event_name = 'share' and sentiment > 0 and event_ts >= p.as_of_end - interval 30 day) as n_positive_share_30d,
        count(*) filter (where channel = 'social' and event_name = 'share' and sentiment > 0 and event_ts >= p.as_of_end - interval 90 day) as n_positive_share_90d,
        count(*) filter (where channel = 'social' and event_name = 'mention' and sentiment > 0 and event_ts >= p.as_of_end - interval 7 day) as n_positive_mention_7d,
        count(*) filter (where channel = 'social' and event_name = 'mention' and sentiment > 0 and event_ts >= p.as_of_end - interval 30 day) as n_positive_mention_30d,
        count(*) filter (where channel = 'social' and event_name = 'mention' and sentiment > 0 and event_ts >= p.as_of_end - interval 90 day) as n_positive_mention_90d
    from events_as_of
    cross join parameters as p
    group by customer_id
),

-- Each order once, at its value and net of its refunds (order_net_values in
-- sql/macros/order_macros.sql: the rule of sessions.revenue and the dashboard's headline figures)
order_values as (
    select customer_id, order_key, currency, ordered_at, order_value, net_value
    from order_net_values((select as_of_end from parameters))
    where customer_id is not null
),

-- Each refunded order once (a number and a currency), with the value refunded (order_refunds:
-- the rule order_net_values nets orders with)
order_refunds as (
    select customer_id, order_key, currency, refunded_at, refunded_value
    from order_refunds((select as_of_end from parameters))
    where customer_id is not null
),

order_lines as (
    select customer_id, order_key, ordered_at, order_value, net_value, null as refunded_at
    from order_values
    union all
    -- an order refunded whose purchase is not among the customer's orders (bought before the data
    -- begins; a number another customer also bought, or bought in another currency, is another
    -- order), with no value and no purchase time
    select customer_id, order_key, null, null, null, refunded_at
    from order_refunds as r
    where not exists (
        select 1 from order_values as o
        where o.customer_id = r.customer_id and o.order_key = r.order_key
          and o.currency is not distinct from r.currency
    )
),

orders as (
    select
        customer_id,
        -- the orders in the data, and one more when a refund of an order not in it came before
        -- the first of them (or there is none): it shows an order bought before the data began.
        -- A refund of an order not in the data after a purchase adds none: it may be a
        -- cancellation of that purchase numbered on its own (Online Retail's C536379, a credit
        -- note), which counted adds an order with every return and puts a one-time buyer in
        -- retention. Several such refunds before the first order are read as one order.
        count(ordered_at)
            + case when min(refunded_at) < coalesce(min(ordered_at), timestamp 'infinity') then 1 else 0 end
            as n_orders,
        sum(order_value) as revenue,
        sum(net_value) as net_revenue,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at
    from order_lines
    group by customer_id
),

-- The currency of revenue, from every purchase row of the customer's orders (the rows
-- order_values values): an order's own currency is its smallest when its lines or its two
-- senders disagree, but its value adds or takes amounts of each
revenue_currencies as (
    select
        customer_id,
        case count(distinct currency) when 0 then null when 1 then min(currency) else 'mixed' end as revenue_currency
    from events_as_of as e
    where channel = 'web' and event_name = 'purchase' and customer_id is not null and value is not null
      -- (not the rows of a cancellation landed as a purchase, which order_values leaves out)
      and exists (
          select 1 from order_values as o
          where o.customer_id = e.customer_id and o.order_key = coalesce(e.order_id, e.event_id)
      )
    group by customer_id
),

refunds as (
    select
        customer_id,
        count(*) as n_refunds,
        sum(refunded_value) as refunded_value
    from order_refunds
    group by customer_id
),

session_totals as (
    select
        customer_id,
        session_id,
        min(event_ts) as started_at,
        max(event_ts) as ended_at,
        count(*) as n_events,
        arg_min(utm_medium, event_ts) as first_utm_medium
    from events_as_of
    where session_id is not null
    group by customer_id, session_id
),

sessions as (
    select
        customer_id,
        count(*) as n_sessions,
        count(*) filter (where started_at >= p.as_of_end - interval 30 day) as n_sessions_30d,
        avg(n_events) as avg_events_per_session,
        max(n_events) as max_events_per_session,
        -- sums of exact decimals (times are whole microseconds): the same figures whatever order
        -- the rows are added in, so one warehouse built two ways compares equal
        avg(cast(epoch(ended_at) - epoch(started_at) as decimal(18, 6))) as avg_session_seconds,
        cast(sum(cast(epoch(ended_at) - epoch(started_at) as decimal(18, 6))) as double) as total_session_seconds,
        count(*) filter (where lower(first_utm_medium) = 'email') as n_sessions_from_email
    from session_totals
    cross join parameters as p
    group by customer_id
),

event_gaps as (
    select
        customer_id,
        event_ts,
        epoch(event_ts) - epoch(lag(event_ts) over (partition by session_id order by event_ts, event_id)) as gap_seconds
    from events_as_of
    where session_id is not null
),

dwell as (
    select
        customer_id,
        avg(cast(gap_seconds as decimal(18, 6))) as avg_dwell_seconds,
        max(gap_seconds) as max_dwell_seconds,
        count(*) filter (where gap_seconds >= 120 and event_ts >= p.as_of_end - interval 30 day) as n_long_dwells_30d,
        count(*) filter (where gap_seconds >= 120 and event_ts >= p.as_of_end - interval 90 day) as n_long_dwells_90d
    from event_gaps
    cross join parameters as p
    where gap_seconds is not null
    group by customer_id
),

email as (
    select
        customer_id,
        count(distinct coalesce(message_id, event_id)) filter (where event_name = 'delivered') as n_emails_delivered,
        count(distinct coalesce(message_id, event_id)) filter (where event_name = 'open') as n_emails_opened,
        count(distinct coalesce(message_id, event_id)) filter (where event_name = 'click') as n_emails_clicked,
        count(*) filter (where event_name = 'click') as n_email_clicks,
        count(*) filter (where event_name = 'unsubscribe') as n_email_unsubscribes,
        count(*) filter (where event_name = 'spamreport') as n_email_spam_reports
    from events_as_of
    where channel = 'email'
    group by customer_id
),

social as (
    select
        customer_id,
        count(*) filter (where is_touch) as n_social_events,
        count(*) filter (
            where event_name in ('like', 'comment', 'share', 'save', 'follow', 'mention', 'message', 'review')
        ) as n_social_engagements,
        avg(cast(sentiment as decimal(18, 6))) filter (where is_touch) as avg_social_sentiment,  -- exact sum, as above
        count(*) filter (where is_touch and sentiment > 0) as n_social_positive,
        count(*) filter (where is_touch and sentiment < 0) as n_social_negative
    from events_as_of
    where channel = 'social'
    group by customer_id
)

select
    activity.customer_id,
    p.as_of_date,
    identified.customer_id is not null as is_identified,
    activity.first_seen,
    activity.last_seen,
    date_diff('day', cast(activity.first_seen as date), p.as_of_date) as days_since_first_seen,
    date_diff('day', cast(activity.last_seen as date), p.as_of_date) as days_since_last_seen,
    activity.n_touches > 0 as has_touch,
    activity.n_touches,
    activity.last_touch_at,
    activity.last_touch_event,
    date_diff('day', cast(activity.last_touch_at as date), p.as_of_date) as days_since_last_touch,
    activity.n_active_days,
    activity.n_active_days_30d,
    coalesce(orders.n_orders, 0) as n_orders,
    coalesce(orders.revenue, 0) as revenue,
    revenue_currencies.revenue_currency,
    orders.first_order_at,
    orders.last_order_at,
    date_diff('day', cast(orders.last_order_at as date), p.as_of_date) as days_since_last_order,
    coalesce(refunds.n_refunds, 0) as n_refunds,
    coalesce(refunds.refunded_value, 0) as refunded_value,
    coalesce(orders.net_revenue, 0) as net_revenue,
        coalesce(signals.n_view_item_7d, 0) as n_view_item_7d,
        coalesce(signals.n_view_item_30d, 0) as n_view_item_30d,
        coalesce(signals.n_view_item_90d, 0) as n_view_item_90d,
        coalesce(signals.n_search_7d, 0) as n_search_7d,
        coalesce(signals.n_search_30d, 0) as n_search_30d,
        coalesce(signals.n_search_90d, 0) as n_search_90d,
        coalesce(signals.n_add_to_cart_7d, 0) as n_add_to_cart_7d,
        coalesce(signals.n_add_to_cart_30d, 0) as n_add_to_cart_30d,
        coalesce(signals.n_add_to_cart_90d, 0) as n_add_to_cart_90d,
        coalesce(signals.n_begin_checkout_7d, 0) as n_begin_checkout_7d,
        coalesce(signals.n_begin_checkout_30d, 0) as n_begin_checkout_30d,
        coalesce(signals.n_begin_checkout_90d, 0) as n_begin_checkout_90d,
        coalesce(signals.n_add_payment_info_7d, 0) as n_add_payment_info_7d,
        coalesce(signals.n_add_payment_info_30d, 0) as n_add_payment_info_30d,
        coalesce(signals.n_add_payment_info_90d, 0) as n_add_payment_info_90d,
        coalesce(signals.n_generate_lead_7d, 0) as n_generate_lead_7d,
        coalesce(signals.n_generate_lead_30d, 0) as n_generate_lead_30d,
        coalesce(signals.n_generate_lead_90d, 0) as n_generate_lead_90d,
        coalesce(signals.n_sign_up_7d, 0) as n_sign_up_7d,
        coalesce(signals.n_sign_up_30d, 0) as n_sign_up_30d,
        coalesce(signals.n_sign_up_90d, 0) as n_sign_up_90d,
        coalesce(signals.n_page_view_7d, 0) as n_page_view_7d,
        coalesce(signals.n_page_view_30d, 0) as n_page_view_30d,
        coalesce(signals.n_page_view_90d, 0) as n_page_view_90d,
        coalesce(signals.n_email_click_7d, 0) as n_email_click_7d,
        coalesce(signals.n_email_click_30d, 0) as n_email_click_30d,
        coalesce(signals.n_email_click_90d, 0) as n_email_click_90d,
        coalesce(signals.n_refer_friend_7d, 0) as n_refer_friend_7d,
        coalesce(signals.n_refer_friend_30d, 0) as n_refer_friend_30d,
        coalesce(signals.n_refer_friend_90d, 0) as n_refer_friend_90d,
        coalesce(signals.n_positive_review_7d, 0) as n_positive_review_7d,
        coalesce(signals.n_positive_review_30d, 0) as n_positive_review_30d,
        coalesce(signals.n_positive_review_90d, 0) as n_positive_review_90d,
        coalesce(signals.n_positive_social_review_7d, 0) as n_positive_social_review_7d,
        coalesce(signals.n_positive_social_review_30d, 0) as n_positive_social_review_30d,
        coalesce(signals.n_positive_social_review_90d, 0) as n_positive_social_review_90d,
        coalesce(signals.n_positive_share_7d, 0) as n_positive_share_7d,
        coalesce(signals.n_positive_share_30d, 0) as n_positive_share_30d,
        coalesce(signals.n_positive_share_90d, 0) as n_positive_share_90d,
        coalesce(signals.n_positive_mention_7d, 0) as n_positive_mention_7d,
        coalesce(signals.n_positive_mention_30d, 0) as n_positive_mention_30d,
        coalesce(signals.n_positive_mention_90d, 0) as n_positive_mention_90d,
    coalesce(sessions.n_sessions, 0) as n_sessions,
    coalesce(sessions.n_sessions_30d, 0) as n_sessions_30d,
    coalesce(sessions.avg_events_per_session, 0) as avg_events_per_session,
    coalesce(sessions.max_events_per_session, 0) as max_events_per_session,
    coalesce(sessions.avg_session_seconds, 0) as avg_session_seconds,
    coalesce(sessions.total_session_seconds, 0) as total_session_seconds,
    coalesce(sessions.n_sessions_from_email, 0) as n_sessions_from_email,
    dwell.avg_dwell_seconds,
    dwell.max_dwell_seconds,
    coalesce(dwell.n_long_dwells_30d, 0) as n_long_dwells_30d,
    coalesce(dwell.n_long_dwells_90d, 0) as n_long_dwells_90d,
    coalesce(email.n_emails_delivered, 0) as n_emails_delivered,
    coalesce(email.n_emails_opened, 0) as n_emails_opened,
    coalesce(email.n_emails_clicked, 0) as n_emails_clicked,
    coalesce(email.n_email_clicks, 0) as n_email_clicks,
    email.n_emails_opened / nullif(greatest(email.n_emails_delivered, email.n_emails_opened, email.n_emails_clicked), 0) as email_open_rate,
    email.n_emails_clicked / nullif(greatest(email.n_emails_delivered, email.n_emails_opened, email.n_emails_clicked), 0) as email_click_rate,
    coalesce(email.n_email_unsubscribes, 0) as n_email_unsubscribes,
    coalesce(email.n_email_spam_reports, 0) as n_email_spam_reports,
    coalesce(social.n_social_events, 0) as n_social_events,
    coalesce(social.n_social_engagements, 0) as n_social_engagements,
    social.avg_social_sentiment,
    coalesce(social.n_social_positive, 0) as n_social_positive,
    coalesce(social.n_social_negative, 0) as n_social_negative,
    activity.n_web_touches / nullif(activity.n_touches, 0) as share_web,
    activity.n_email_touches / nullif(activity.n_touches, 0) as share_email,
    activity.n_social_touches / nullif(activity.n_touches, 0) as share_social,
    (activity.n_web_touches > 0)::integer + (activity.n_email_touches > 0)::integer
        + (activity.n_social_touches > 0)::integer as n_channels,
    activity.n_desktop_events / nullif(activity.n_web_events, 0) as share_desktop,
    activity.n_mobile_events / nullif(activity.n_web_events, 0) as share_mobile,
    activity.n_tablet_events / nullif(activity.n_web_events, 0) as share_tablet,
    activity.n_devices
from activity
cross join parameters as p
left join identified on identified.customer_id = activity.customer_id
left join signals on signals.customer_id = activity.customer_id
left join orders on orders.customer_id = activity.customer_id
left join revenue_currencies on revenue_currencies.customer_id = activity.customer_id
left join refunds on refunds.customer_id = activity.customer_id
left join sessions on sessions.customer_id = activity.customer_id
left join dwell on dwell.customer_id = activity.customer_id
left join email on email.customer_id = activity.customer_id
left join social on social.customer_id = activity.customer_id
order by activity.customer_id
