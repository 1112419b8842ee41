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

named as (
    -- the event's identifiers that name someone (identifiers_naming_no_one: a 'guest' user id
    -- is no one, and its page view is its device's)
    select
        *,
        naming_someone('user_id', user_id) as named_user_id,
        naming_someone('email', email_hash) as named_email_hash,
        naming_someone('anonymous_id', anonymous_id) as named_anonymous_id,
        naming_someone('social_handle', handle_hash) as named_handle_hash
    from events
),

keyed as (
    -- the strongest identifier that names someone; an order event with none is the customer of
    -- the device its order was checked out on (order_devices), any other event the customer of
    -- its strongest identifier all the same (a 'guest' with nothing else: the customer 'guest')
    select
        named.* exclude (named_user_id, named_email_hash, named_anonymous_id, named_handle_hash),
        case
            when named_user_id is not null then 'user_id'
            when named_email_hash is not null then 'email'
            when named_anonymous_id is not null then 'anonymous_id'
            when named_handle_hash is not null then 'social_handle'
            when order_devices.anonymous_id is not null then 'anonymous_id'
            when user_id is not null then 'user_id'
            when email_hash is not null then 'email'
            when named.anonymous_id is not null then 'anonymous_id'
            when handle_hash is not null then 'social_handle'
        end as strongest_identifier_type,
        coalesce(
            named_user_id, named_email_hash, named_anonymous_id, named_handle_hash,
            order_devices.anonymous_id,
            user_id, email_hash, named.anonymous_id, handle_hash
        ) as strongest_identifier
    from named
    left join order_devices
        on order_devices.order_id = named.order_id
        and named.channel = 'web'
        and named.named_user_id is null and named.named_email_hash is null
        and named.named_anonymous_id is null and named.named_handle_hash is null
)

select
    keyed.* exclude (strongest_identifier_type, strongest_identifier),
    identities.customer_id
from keyed
left join identities
    on identities.identifier_type = keyed.strongest_identifier_type
    and identities.identifier = keyed.strongest_identifier
