-- Every event with its customer_id, found through the event's strongest identifier: its
-- user_id first, then its e-mail, its device (anonymous_id), then its social handle, each
-- only when it names someone (identifiers_naming_no_one).
-- Every identifier of every event is a node of identities_stitched, so one join suffices.
--
-- (intermediate; not published)
with events as (
    select * from events_unioned
),

identities as (
    select * from identities_stitched
),

naming_no_one as (
    select node from identifiers_naming_no_one
),

named as (
    -- the event's identifiers that name someone (identifiers_naming_no_one: a 'guest' user id
    -- is no one, and its page view is its device's)
    select
        *,
        case when 'user_id:' || user_id not in (select node from naming_no_one) then user_id end as named_user_id,
        case when 'email:' || email_hash not in (select node from naming_no_one) then email_hash end as named_email_hash,
        case when 'anonymous_id:' || anonymous_id not in (select node from naming_no_one) then anonymous_id end as named_anonymous_id,
        case when 'social_handle:' || handle_hash not in (select node from naming_no_one) then handle_hash end as named_handle_hash
    from events
),

keyed as (
    -- the strongest identifier that names someone; an event with none is the customer of its
    -- strongest identifier all the same (a 'guest' order with no device: the customer 'guest')
    select
        * exclude (named_user_id, named_email_hash, named_anonymous_id, named_handle_hash),
        case
            when named_user_id is not null then 'user_id'
            when named_email_hash is not null then 'email'
            when named_anonymous_id is not null then 'anonymous_id'
            when named_handle_hash is not null then 'social_handle'
            when user_id is not null then 'user_id'
            when email_hash is not null then 'email'
            when anonymous_id is not null then 'anonymous_id'
            when handle_hash is not null then 'social_handle'
        end as strongest_identifier_type,
        coalesce(
            named_user_id, named_email_hash, named_anonymous_id, named_handle_hash,
            user_id, email_hash, anonymous_id, handle_hash
        ) as strongest_identifier
    from named
)

select
    keyed.* exclude (strongest_identifier_type, strongest_identifier),
    identities.customer_id
from keyed
left join identities
    on identities.identifier_type = keyed.strongest_identifier_type
    and identities.identifier = keyed.strongest_identifier
