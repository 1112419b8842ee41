-- Pairs of identifiers known to belong to one person: a device and the person who
-- identified on it (by an event carrying both, or by a guest checkout whose order_id the
-- person's own purchase or refund also carries), a user id and its e-mail, a user id and a
-- social handle. Each identifier also links to itself so that unlinked identifiers become
-- customers too. Nodes are written '<identifier_type>:<identifier>'. An identifier that names
-- no one (identifiers_naming_no_one: a placeholder such as 'guest', an id on more devices or
-- people than one person has) links to nothing but itself: a device where it was shown links
-- to the person identified there before or after it, and an event carrying it and an e-mail
-- links the e-mail.
--
-- (intermediate; not published)
with events as (
    -- only the identifiers (the engine keeps one copy of this, as it is read several times)
    select channel, event_id, event_ts, anonymous_id, user_id, email_hash, handle_hash
    from events_unioned
),

identities as (
    select * from raw.identities
),

naming_no_one as (
    select node from identifiers_naming_no_one
),

named_events as (
    -- the events with the identifiers that name no one left out (most events, carrying none, as they are)
    select
        channel, event_id, event_ts,
        naming_someone('anonymous_id', anonymous_id) as anonymous_id,
        naming_someone('user_id', user_id) as user_id,
        naming_someone('email', email_hash) as email_hash,
        naming_someone('social_handle', handle_hash) as handle_hash
    from events
),

parameters as (
    select * from run_parameters
),

order_events as (
    -- purchases and refunds, read apart: only they carry an order_id
    select
        anonymous_id,
        order_person_node(user_id, email_hash) as person_node,
        order_id,
        currency,
        event_ts,
        event_id
    from events_unioned
    where channel = 'web' and event_name in ('purchase', 'refund') and order_id is not null
),

guest_checkouts as (
    -- the device of a purchase or refund with no one identified, and the person the same
    -- order_id names elsewhere (order_people: an id naming one person, on at most two guest devices)
    select g.anonymous_id, o.person_node, g.event_ts, g.event_id
    from order_events as g
    inner join order_people as o on o.order_id = g.order_id and o.currency = g.currency
    where g.anonymous_id is not null and g.person_node is null
),

guest_devices as (
    -- a device whose guest checkouts name one person; a shop's kiosk where several people
    -- checked out as guests is none of theirs
    select anonymous_id
    from guest_checkouts
    group by anonymous_id
    having count(distinct person_node) = 1
),

identifications as (
    -- a device and the person shown on it, at a time
    select anonymous_id, coalesce('user_id:' || user_id, 'email:' || email_hash) as person_node, event_ts, event_id
    from named_events
    where channel = 'web'
      and anonymous_id is not null
      and (user_id is not null or email_hash is not null)
    union all
    select anonymous_id, person_node, event_ts, event_id
    from guest_checkouts
    where anonymous_id in (select anonymous_id from guest_devices)
),

device_links as (
    -- a device links to the identity shown on it; with the setting on, only to the latest (by
    -- time, then event_id). (One aggregation, not a ranking window over every identification:
    -- the window took half of this model's time.)
    select
        'anonymous_id:' || i.anonymous_id as node_a,
        unnest(case
            when p.link_device_to_latest_identity_only
                then [arg_max(i.person_node, struct_pack(i.event_ts, i.event_id))]
            else list(distinct i.person_node)
        end) as node_b
    from identifications as i
    cross join parameters as p
    group by i.anonymous_id, p.link_device_to_latest_identity_only
),

user_email_links as (
    select 'user_id:' || user_id as node_a, 'email:' || email_hash as node_b
    from named_events
    where user_id is not null and email_hash is not null
    union all
    select 'user_id:' || user_id as node_a, 'email:' || email_hash as node_b
    from identities
    where email_hash is not null
),

user_handle_links as (
    select 'user_id:' || user_id as node_a, 'social_handle:' || handle_hash as node_b
    from named_events
    where user_id is not null and handle_hash is not null
    union all
    select 'user_id:' || user_id as node_a, 'social_handle:' || handle_hash as node_b
    from identities
    where handle_hash is not null
),

all_identifiers as (
    -- (each column's distinct values first: most events repeat their device and person)
    select 'anonymous_id:' || anonymous_id as node_a from (select distinct anonymous_id from events where anonymous_id is not null)
    union all
    select 'user_id:' || user_id as node_a from (select distinct user_id from events where user_id is not null)
    union all
    select 'email:' || email_hash as node_a from (select distinct email_hash from events where email_hash is not null)
    union all
    select 'social_handle:' || handle_hash as node_a from (select distinct handle_hash from events where handle_hash is not null)
    union all
    select 'user_id:' || user_id as node_a from identities
    union all
    -- (the CRM's e-mails and handles are nodes through their links to their user ids; one whose
    -- link is left out, as the e-mail of a user id that names no one, is a customer of its own)
    select 'email:' || email_hash as node_a from identities
    where email_hash is not null
      and ('user_id:' || user_id in (select node from naming_no_one)
           or 'email:' || email_hash in (select node from naming_no_one))
    union all
    select 'social_handle:' || handle_hash as node_a from identities
    where handle_hash is not null
      and ('user_id:' || user_id in (select node from naming_no_one)
           or 'social_handle:' || handle_hash in (select node from naming_no_one))
),

self_links as (
    select distinct node_a, node_a as node_b from all_identifiers
),

links as (
    select node_a, node_b
    from (
        select node_a, node_b from device_links
        union
        select node_a, node_b from user_email_links
        union
        select node_a, node_b from user_handle_links
    )
    -- (the CRM's rows, and a guest checkout's device, are read as given: leave out here what names no one)
    where node_a not in (select node from naming_no_one)
      and node_b not in (select node from naming_no_one)
)

select node_a, node_b from links
union
select node_b as node_a, node_a as node_b from links
union
select node_a, node_b from self_links
