-- Every event with its customer_id, found through the event's strongest identifier: its
-- user_id first, then its e-mail, its device (anonymous_id), then its social handle.
-- Every identifier of every event is a node of identities_stitched, so one join suffices.
--
-- (intermediate; not published)
with events as (
    select * from events_unioned
),

identities as (
    select * from identities_stitched
),

keyed as (
    select
        *,
        case
            when user_id is not null then 'user_id'
            when email_hash is not null then 'email'
            when anonymous_id is not null then 'anonymous_id'
            when handle_hash is not null then 'social_handle'
        end as strongest_identifier_type,
        coalesce(user_id, email_hash, anonymous_id, handle_hash) as strongest_identifier
    from events
)

select
    keyed.* exclude (strongest_identifier_type, strongest_identifier),
    identities.customer_id
from keyed
left join identities
    on identities.identifier_type = keyed.strongest_identifier_type
    and identities.identifier = keyed.strongest_identifier
