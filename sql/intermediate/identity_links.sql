-- Pairs of identifiers known to belong to one person: a device and the person who
-- identified on it, a user id and its e-mail, a user id and a social handle. Each
-- identifier also links to itself so that unlinked identifiers become customers too.
-- Nodes are written '<identifier_type>:<identifier>'.
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

parameters as (
    select * from run_parameters
),

device_identifications as (
    -- a device links to the identity shown on it; with the setting on, only to the latest
    select
        anonymous_id,
        user_id,
        email_hash,
        row_number() over (
            partition by anonymous_id order by event_ts desc, event_id desc
        ) as recency_rank
    from events
    where channel = 'web'
      and anonymous_id is not null
      and (user_id is not null or email_hash is not null)
),

device_links as (
    select
        'anonymous_id:' || d.anonymous_id as node_a,
        coalesce('user_id:' || d.user_id, 'email:' || d.email_hash) as node_b
    from device_identifications as d
    cross join parameters as p
    where d.recency_rank = 1 or not p.link_device_to_latest_identity_only
),

user_email_links as (
    select 'user_id:' || user_id as node_a, 'email:' || email_hash as node_b
    from events
    where user_id is not null and email_hash is not null
    union all
    select 'user_id:' || user_id as node_a, 'email:' || email_hash as node_b
    from identities
    where email_hash is not null
),

user_handle_links as (
    select 'user_id:' || user_id as node_a, 'social_handle:' || handle_hash as node_b
    from events
    where user_id is not null and handle_hash is not null
    union all
    select 'user_id:' || user_id as node_a, 'social_handle:' || handle_hash as node_b
    from identities
    where handle_hash is not null
),

all_identifiers as (
    select 'anonymous_id:' || anonymous_id as node_a from events where anonymous_id is not null
    union all
    select 'user_id:' || user_id as node_a from events where user_id is not null
    union all
    select 'email:' || email_hash as node_a from events where email_hash is not null
    union all
    select 'social_handle:' || handle_hash as node_a from events where handle_hash is not null
    union all
    select 'user_id:' || user_id as node_a from identities
),

self_links as (
    select distinct node_a, node_a as node_b from all_identifiers
),

links as (
    select node_a, node_b from device_links
    union
    select node_a, node_b from user_email_links
    union
    select node_a, node_b from user_handle_links
)

select node_a, node_b from links
union
select node_b as node_a, node_a as node_b from links
union
select node_a, node_b from self_links
