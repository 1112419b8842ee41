-- Each web event's session as its device's visits give it, worked out before the events are
-- stitched into the events mart (a narrow table, one row per web event; events_sessionized
-- joins it to the stitched events, so that the mart's one query holds few joins):
-- web events without a given session_id grouped into sessions per device: a gap of more
-- than the session timeout, or a new campaign (utm source/medium/campaign) starts a new
-- session.
-- On a device whose events carry a session_id the source gave, its events without one also start
-- a new visit after each event with one; a visit that starts while that session is open (within
-- the timeout), and not with a campaign, is part of it (see visits_in_given_sessions): a purchase
-- sent from the shop's server without GA4's ga_session_id belongs to the tag's visit. A guest
-- checkout's buyer (below) is found per visit so merged.
-- A web event with no device (a user_id and no anonymous_id, as a store's server-side order
-- export sends a purchase) joins its customer's visit that is open at its time, on that visit's
-- device; with no such visit open, its customer's visit with a session_id given by the source
-- (GA4's ga_session_id) open at its time, in that session; with none open, such events are
-- grouped per user_id. A joined event never moves its visit's bounds (see deviceless_visits).
-- A guest checkout's visit (its events that name no one) is the customer's of the person its
-- order_id names (order_people), not the device's latest person's: see visit_buyers;
-- a guest order itself is always its buyer's, also in a visit with several buyers.
-- Events at one instant are taken campaign first (then by campaign and event_id), so that a
-- visit's grouping does not depend on how ids sort: a GA4 session_start sent at the instant of a
-- landing page view with a campaign belongs to that view's session, not to one of its own.
--
-- (intermediate; not published)
-- Sessions belong to a device, not a customer, so they are found from the unstitched events
-- (reading events twice would make the engine keep a copy of every stitched event).
with unstitched_web_events as (
    select * from events_unioned
    where channel = 'web'
),

parameters as (
    select * from run_parameters
),

-- Events with no device and no session_id, with their customer. (identities_stitched and
-- events_unioned are read where needed, not as CTEs: a CTE read twice is copied whole.)
deviceless_events as (
    -- (an order under a user id that names no one is the customer's of the device it was checked
    -- out on, order_devices, as events_stitched gives it)
    select e.event_id, e.event_ts, coalesce(by_order.customer_id, i.customer_id) as customer_id
    from events_unioned as e
    inner join identities_stitched as i on i.identifier_type = 'user_id' and i.identifier = e.user_id
    left join order_devices as o
        on o.order_id = e.order_id
        and naming_someone('user_id', e.user_id) is null
    left join identities_stitched as by_order
        on by_order.identifier_type = 'anonymous_id' and by_order.identifier = o.anonymous_id
    where e.channel = 'web' and e.given_session_id is null and e.anonymous_id is null
),

-- The device events of those customers only (a narrow read), each with the customer its
-- events are stitched to: through its user_id, else its device; with the session_id the source
-- gave, if any. Of a customer's events at one instant (on two devices, or in two sessions whose
-- ids the source gave), only the last in the order sessions take events in is kept (campaign
-- first, then by campaign and event_id): a deviceless event then joins the same visit however
-- the rows were landed (the ASOF joins below would take any one of them).
customer_device_events as (
    select
        e.event_ts,
        e.anonymous_id,
        e.given_session_id,
        coalesce(by_user.customer_id, by_device.customer_id) as customer_id
    from events_unioned as e
    left join identities_stitched as by_user
        on by_user.identifier_type = 'user_id' and by_user.identifier = e.user_id
        -- (a user id that names no one, a 'guest' on every visitor, is not its visitors' customer:
        -- an export's 'guest' order would join any guest's visit open at its time)
        and naming_someone('user_id', e.user_id) is not null
    left join identities_stitched as by_device
        on by_device.identifier_type = 'anonymous_id' and by_device.identifier = e.anonymous_id
    where e.channel = 'web' and e.anonymous_id is not null
      and (
          e.anonymous_id in (
              select identifier from identities_stitched
              where identifier_type = 'anonymous_id' and customer_id in (select customer_id from deviceless_events)
          )
          or e.user_id in (
              select identifier from identities_stitched
              where identifier_type = 'user_id' and customer_id in (select customer_id from deviceless_events)
          )
      )
    qualify row_number() over (
        partition by coalesce(by_user.customer_id, by_device.customer_id), e.event_ts, e.given_session_id is null
        order by
            e.utm_source is null and e.utm_medium is null and e.utm_campaign is null desc,
            coalesce(e.utm_source, '') || '/' || coalesce(e.utm_medium, '') || '/' || coalesce(e.utm_campaign, '') desc,
            e.event_id desc
    ) = 1
),

-- A deviceless event joins the device of its customer's last device event (of a visit whose
-- session is computed) at or before it, when that event is no more than the session timeout
-- before it (the visit is still open). It joins that event's visit and never moves the visit's
-- bounds: it is sessionized at that event's time (joined_at, taken after it) and with no
-- campaign, so it does not keep the visit open past the timeout (bridging two visits of the
-- device, on a family computer two people's), nor start a new one with the campaign the export
-- gave the order.
-- (ASOF JOIN is DuckDB's; elsewhere a join on the customer within the timeout, keeping the
-- latest device event, gives the same.)
deviceless_visits as (
    select d.event_id, 'anonymous_id:' || c.anonymous_id as device_key, c.event_ts as joined_at
    from deviceless_events as d
    asof inner join (select * from customer_device_events where given_session_id is null) as c
        on c.customer_id = d.customer_id and d.event_ts >= c.event_ts
    cross join parameters as p
    where epoch(d.event_ts) - epoch(c.event_ts) <= p.session_timeout_minutes * 60
      -- (a visit that an event of its device with a session_id the source gave closed, after the
      -- event joined and at or before the deviceless one, is not open: the source's session is)
      and not exists (
          select 1 from events_unioned as g
          where g.channel = 'web' and g.given_session_id is not null and g.anonymous_id = c.anonymous_id
            and g.event_ts > c.event_ts and g.event_ts <= d.event_ts
      )
),

-- A deviceless event with no computed visit open joins the given session of its customer's last
-- event with one at or before it, within the session timeout (the visit is still open), so a
-- store's exported order converts the tag's visit instead of making a page-less session.
deviceless_given_visits as (
    select d.event_id, c.given_session_id, c.anonymous_id
    from deviceless_events as d
    asof inner join (select * from customer_device_events where given_session_id is not null) as c
        on c.customer_id = d.customer_id and d.event_ts >= c.event_ts
    cross join parameters as p
    where epoch(d.event_ts) - epoch(c.event_ts) <= p.session_timeout_minutes * 60
      and d.event_id not in (select event_id from deviceless_visits)
),

web_without_session as (
    select
        e.event_id,
        -- (the time the event is sessionized at; events keep their own)
        coalesce(v.joined_at, e.event_ts) as event_ts,
        coalesce('anonymous_id:' || e.anonymous_id, v.device_key, 'user_id:' || e.user_id) as device_key,
        case
            when v.event_id is null and (e.utm_source is not null or e.utm_medium is not null or e.utm_campaign is not null)
                then coalesce(e.utm_source, '') || '/' || coalesce(e.utm_medium, '') || '/' || coalesce(e.utm_campaign, '')
        end as campaign_key,
        -- taken after the device's events at its time, so it never starts the visit (nor names it)
        v.event_id is not null as is_joined,
        -- the time of the device's last event with a session_id the source gave, at or before it
        given.event_ts as given_session_seen_at
    from unstitched_web_events as e
    left join deviceless_visits as v on v.event_id = e.event_id
    asof left join (
        select anonymous_id, event_ts from events_unioned
        where channel = 'web' and given_session_id is not null and anonymous_id is not null
    ) as given
        on given.anonymous_id = e.anonymous_id and e.event_ts >= given.event_ts
    where e.given_session_id is null
      and e.event_id not in (select event_id from deviceless_given_visits)
),

with_previous as (
    select
        *,
        lag(event_ts) over (partition by device_key order by event_ts, campaign_key, is_joined, event_id) as previous_event_ts,
        last_value(campaign_key ignore nulls) over (
            partition by device_key order by event_ts, campaign_key, is_joined, event_id
            rows between unbounded preceding and 1 preceding
        ) as previous_campaign_key,
        last_value(case when campaign_key is not null then event_ts end ignore nulls) over (
            partition by device_key order by event_ts, campaign_key, is_joined, event_id
            rows between unbounded preceding and 1 preceding
        ) as previous_campaign_at
    from web_without_session
),

-- A visit starts after a gap of more than the timeout, or after an event of the device with a
-- session_id the source gave (later than the device's previous event without one): the events
-- without one before and after the source's session are not one visit across it.
gaps as (
    select
        with_previous.*,
        previous_event_ts is null
            or epoch(event_ts) - epoch(previous_event_ts) > p.session_timeout_minutes * 60
            or given_session_seen_at > previous_event_ts as starts_after_gap
    from with_previous
    cross join parameters as p
),

-- A visit: the events from one that starts after a gap up to the next gap. Only a campaign
-- seen in the current visit counts as the session's campaign, not one of an earlier visit.
visits as (
    select
        *,
        last_value(case when starts_after_gap then event_ts end ignore nulls) over (
            partition by device_key order by event_ts, campaign_key, is_joined, event_id rows unbounded preceding
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
        campaign_key,
        is_joined,
        case when is_session_start
            -- the first event's id too: two sessions of a device may start at one instant (a new campaign)
            then 'ses-' || substr(md5(device_key || '|' || cast(event_ts as varchar) || '|' || event_id), 1, 20)
        end as started_session_id
    from flagged
),

computed_sessions as (
    select
        event_id,
        last_value(started_session_id ignore nulls) over (
            partition by device_key order by event_ts, campaign_key, is_joined, event_id rows unbounded preceding
        ) as computed_session_id
    from session_starts
),

-- A computed visit that starts while a session the source gave is open on its device (its first
-- event no more than the session timeout after the device's last event with a session_id at or
-- before it) is part of that session: GA4's tag gives each event the visit's ga_session_id, and a
-- purchase the shop's server sends through the Measurement Protocol names the device (client_id)
-- but no session; alone it made a page-less session, and the visit it closed did not convert.
-- The whole visit goes, so a device's visit is never cut in two (an app's visits with a session
-- id and the web's without, on one device id, are one visit when the web's starts within the
-- timeout), except a visit that starts with a campaign: a new campaign starts a new session
-- (when [sessions] split_on_new_campaign). Of the device's events with a session_id at one instant,
-- the last in the order sessions take events in is taken (campaign first, then by campaign and
-- event_id), however the rows were landed. (ASOF JOIN as above.)
visits_in_given_sessions as (
    select s.started_session_id as computed_session_id, g.given_session_id, g.anonymous_id
    from (
        select started_session_id, event_ts, substr(device_key, length('anonymous_id:') + 1) as anonymous_id
        from session_starts
        cross join parameters as p
        where started_session_id is not null and starts_with(device_key, 'anonymous_id:')
          and not (p.split_session_on_new_campaign and campaign_key is not null)
    ) as s
    asof inner join (
        select anonymous_id, event_ts, given_session_id
        from events_unioned
        where channel = 'web' and given_session_id is not null and anonymous_id is not null
        qualify row_number() over (
            partition by anonymous_id, event_ts
            order by
                utm_source is null and utm_medium is null and utm_campaign is null desc,
                coalesce(utm_source, '') || '/' || coalesce(utm_medium, '') || '/' || coalesce(utm_campaign, '') desc,
                event_id desc
        ) = 1
    ) as g
        on g.anonymous_id = s.anonymous_id and s.event_ts >= g.event_ts
    cross join parameters as p
    where epoch(s.event_ts) - epoch(g.event_ts) <= p.session_timeout_minutes * 60
),

shared as (
    select * from session_ids_shared
),

-- Each web event with the visit it is part of: its computed session, or the session the source
-- gave it, or the one it joined (a deviceless event, or an event of a computed visit that is part
-- of a given session: that session and its device). visit_key names the visit as the sessions
-- will ('given:' or 'computed:' and the id), for the guest buyers below; a session id the source
-- gave to several customers or devices is split later (events_sessionized), and has no key here.
web_visits as (
    select
        e.event_id,
        e.user_id,
        e.email_hash,
        computed_sessions.computed_session_id,
        coalesce(given_visit.given_session_id, in_given.given_session_id) as joined_given_session_id,
        coalesce(given_visit.anonymous_id, in_given.anonymous_id) as joined_anonymous_id,
        case
            when coalesce(e.given_session_id, given_visit.given_session_id, in_given.given_session_id)
                in (select given_session_id from shared) then null
            when coalesce(e.given_session_id, given_visit.given_session_id, in_given.given_session_id) is not null
                then 'given:' || coalesce(e.given_session_id, given_visit.given_session_id, in_given.given_session_id)
            else 'computed:' || computed_sessions.computed_session_id
        end as visit_key
    from events_unioned as e
    left join computed_sessions on computed_sessions.event_id = e.event_id
    left join deviceless_given_visits as given_visit on given_visit.event_id = e.event_id
    left join visits_in_given_sessions as in_given on in_given.computed_session_id = computed_sessions.computed_session_id
    where e.channel = 'web'
),

-- A guest checkout's purchase or refund (a device, no one identified) whose order_id names one
-- person (order_people), with that person's customer. (Narrow reads of their own.)
guest_orders as (
    select e.event_id, i.customer_id
    from events_unioned as e
    inner join order_people as o on o.order_id = e.order_id and o.currency = e.currency
    inner join identities_stitched as i
        on i.identifier_type = split_part(o.person_node, ':', 1)
        and i.identifier = substr(o.person_node, strpos(o.person_node, ':') + 1)
    where e.channel = 'web' and e.event_name in ('purchase', 'refund')
      and order_person_node(e.user_id, e.email_hash) is null  -- (a 'guest' user id is no one)
),

-- The visit of a guest checkout is the buyer's: a session holding guest orders of one person
-- only, in which no one else identified. A shared device (a family computer, a shop's kiosk)
-- follows the person who last identified on it, so without this its guests' visits would be
-- that person's. (A session id the source gave to several customers is left as it is.)
guest_visits as (
    select v.visit_key, min(g.customer_id) as customer_id
    from guest_orders as g
    inner join web_visits as v on v.event_id = g.event_id
    where v.visit_key is not null
    group by v.visit_key
    having count(distinct g.customer_id) = 1
),

-- The customers that the identified web events of those visits name (a login after the guest
-- checkout, on the family computer, within the same visit).
named_in_guest_visits as (
    select g.visit_key, i.customer_id
    from guest_visits as g
    inner join web_visits as v on v.visit_key = g.visit_key
    inner join identities_stitched as i
        on i.identifier_type || ':' || i.identifier = order_person_node(v.user_id, v.email_hash)
    where order_person_node(v.user_id, v.email_hash) is not null
),

-- The guest visits whose buyer is theirs: no one else identified in them.
visit_buyers as (
    select g.visit_key, g.customer_id
    from guest_visits as g
    where not exists (
        select 1 from named_in_guest_visits as n
        where n.visit_key = g.visit_key and n.customer_id <> g.customer_id
    )
)

select
    v.event_id,
    -- the session computed from its device's visits (an event without a given session_id)
    v.computed_session_id,
    -- a deviceless event that joined a visit with a given session_id, or an event of a computed
    -- visit that is part of one: that session and its device
    v.joined_given_session_id,
    v.joined_anonymous_id,
    -- an event that names no one, in a guest buyer's visit, is the buyer's; a guest order is its
    -- own buyer's in any case (a visit holding several people's guest orders, as a shop's kiosk
    -- does, or a session id the source gave to several customers, has no one buyer)
    case
        when order_person_node(v.user_id, v.email_hash) is null
            then coalesce(own_order.customer_id, buyers.customer_id)
    end as buyer_customer_id
from web_visits as v
left join guest_orders as own_order on own_order.event_id = v.event_id
left join visit_buyers as buyers on buyers.visit_key = v.visit_key
