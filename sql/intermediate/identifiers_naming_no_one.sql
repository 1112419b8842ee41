-- Identifiers that name no one, as an order_id naming several people does (order_people): a
-- value a tag or an export writes for everyone it does not know, and an id shared by more
-- people than one person's own ids are. Stitching links none of them to anything (each stays a
-- customer of its own, holding the events that carry nothing else), and an event that carries
-- one is the customer of its next identifier (a 'guest' page view is its device's).
--
-- - a user_id or anonymous_id in a well-known placeholder spelling, in any case and with any
--   spaces around it: guest, anonymous, anon, unknown, n/a, #n/a (Excel), na, none, null, nil, undefined,
--   not set, (not set), 0, -1 (a null marker in the spellings of landing_macros'
--   without_null_marker is missing already, at staging);
-- - a user_id or e-mail shown on more devices than [identity] max_devices_per_person within
--   30 days (a 'guest' the tag sends for every visitor, a QA account a bot logs in with, a
--   shop's noreply@ address given on every lead), in periods of 30 days starting every 15 days,
--   so that any 15 days lie within one. Within 30 days, not over the whole history:
--   a browser that keeps its cookies a week (Safari's tracking prevention) gives a loyal
--   customer a new device id every week they come back, some fifty a year;
-- - an e-mail or handle of more user ids than [identity] max_people_per_identifier (info@ a
--   company's 300 accounts share; a few, as duplicate accounts or a family's, still join), a
--   user_id of more e-mails or handles than that (a '0' a CRM export gives every contact), and
--   a device on which more people identified than that (a shop's kiosk, where the latest
--   person would otherwise get every visitor's visits).
--
-- node: The identifier, written '<identifier_type>:<identifier>' as in identity_links.
-- reason: placeholder, devices or people.
--
-- (intermediate; not published)
with events as (
    -- only the identifiers (the engine keeps one copy of this, as it is read several times)
    select channel, event_ts, anonymous_id, user_id, email_hash, handle_hash
    from events_unioned
),

identities as (
    select user_id, email_hash, handle_hash from raw.identities
),

parameters as (
    select * from run_parameters
),

placeholders as (
    select node, 'placeholder' as reason
    from (
        -- each id once, before the test below (an id is on many events)
        select 'user_id:' || value as node, value
        from (select user_id as value from events where user_id is not null union select user_id from identities)
        group by value
        union all
        select 'anonymous_id:' || value, value
        from (select anonymous_id as value from events where anonymous_id is not null)
        group by value
    )
    -- (the first test is cheap and lets through every value the pattern below can make a
    -- placeholder of: one of at most 9 characters (lower keeps the count), one not in ASCII (trim
    -- takes off every Unicode space, U+00A0 and U+3000 too, not only ' '), or one holding the
    -- whitespace that \s collapses; the pattern runs only on text with whitespace to collapse:
    -- on every id it made this model ten times slower)
    where (length(value) <= 9 or strlen(value) <> length(value) or contains(value, ' ')
            or contains(value, chr(9)) or contains(value, chr(10)) or contains(value, chr(12)) or contains(value, chr(13)))
        and case
            when contains(value, '  ') or contains(value, chr(9)) or contains(value, chr(10))
                or contains(value, chr(12)) or contains(value, chr(13))
                then regexp_replace(lower(trim(value)), '\s+', ' ', 'g')
            else lower(trim(value))
        end in (
            'guest', 'anonymous', 'anon', 'unknown', 'n/a', '#n/a', 'na', 'none', 'null', 'nil', 'undefined',
            'not set', '(not set)', '0', '-1'
        )
),

shown as (
    -- a person's identifier shown on a device, by an event carrying both, on a day (counted from
    -- 1970-01-01)
    select 'user_id:' || user_id as person_node, anonymous_id, date_diff('day', date '1970-01-01', cast(event_ts as date)) as day
    from events
    where channel = 'web' and anonymous_id is not null and user_id is not null
    union
    select 'email:' || email_hash, anonymous_id, date_diff('day', date '1970-01-01', cast(event_ts as date))
    from events
    where channel = 'web' and anonymous_id is not null and email_hash is not null
),

shown_in_periods as (
    -- in periods of 30 days, starting every 15 days (each day is in two of them), so that any 15
    -- days lie within one: blocks of 30 alone let a bot on 30 devices in two days stay one person
    -- when a block began between them (15 in each)
    select person_node, anonymous_id, day // 30 * 2 as period from shown
    union
    select person_node, anonymous_id, (day + 15) // 30 * 2 + 1 from shown
),

on_many_devices as (
    select distinct crowded.person_node as node, 'devices' as reason
    from (
        select shown.person_node
        from shown_in_periods as shown
        cross join parameters as p
        group by shown.person_node, shown.period, p.max_devices_per_person
        having count(distinct shown.anonymous_id) > p.max_devices_per_person
    ) as crowded
),

device_people as (
    -- the people identified on a device: each by its user id, else by its e-mail
    select anonymous_id, coalesce('user_id:' || user_id, 'email:' || email_hash) as person_node
    from events
    where channel = 'web' and anonymous_id is not null and (user_id is not null or email_hash is not null)
),

crowded_devices as (
    select 'anonymous_id:' || d.anonymous_id as node, 'people' as reason
    from device_people as d
    cross join parameters as p
    group by d.anonymous_id, p.max_people_per_identifier
    having count(distinct d.person_node) > p.max_people_per_identifier
),

user_links as (
    -- a user id and an e-mail or handle given with it (by an event or the CRM)
    select user_id, 'email:' || email_hash as other_node from events where user_id is not null and email_hash is not null
    union
    select user_id, 'social_handle:' || handle_hash from events where user_id is not null and handle_hash is not null
    union
    select user_id, 'email:' || email_hash from identities where email_hash is not null
    union
    select user_id, 'social_handle:' || handle_hash from identities where handle_hash is not null
),

shared_by_many as (
    select u.other_node as node, 'people' as reason
    from user_links as u
    cross join parameters as p
    group by u.other_node, p.max_people_per_identifier
    having count(distinct u.user_id) > p.max_people_per_identifier
    union all
    select 'user_id:' || u.user_id, 'people'
    from user_links as u
    cross join parameters as p
    group by u.user_id, p.max_people_per_identifier
    having count(distinct u.other_node) > p.max_people_per_identifier
),

named as (
    select node, reason from placeholders
    union all
    select node, reason from on_many_devices
    union all
    select node, reason from crowded_devices
    union all
    select node, reason from shared_by_many
)

select node, min(reason) as reason
from named
group by node
