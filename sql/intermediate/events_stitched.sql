-- Every event with its customer_id, found through the event's strongest identifier: its
-- user_id first, then its e-mail, its device (anonymous_id), then its social handle. A guest
-- checkout's purchase or refund (a device, no one identified) whose order_id names one person
-- (order_people) is that person's, not the device's: a shared device follows the person who
-- last identified on it, and its guest orders would otherwise be counted for that person too.
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
),

guest_orders as (
    -- a guest checkout's purchase or refund and the customer of the person its order_id names
    -- (narrow reads of their own, not second reads of the CTEs above, which would be copied)
    select e.channel, e.event_id, i.customer_id
    from events_unioned as e
    inner join order_people as o on o.order_id = e.order_id
    inner join identities_stitched as i
        on i.identifier_type = split_part(o.person_node, ':', 1)
        and i.identifier = substr(o.person_node, strpos(o.person_node, ':') + 1)
    where e.channel = 'web' and e.event_name in ('purchase', 'refund')
      and e.user_id is null and e.email_hash is null
)

select
    keyed.* exclude (strongest_identifier_type, strongest_identifier),
    coalesce(guest_orders.customer_id, identities.customer_id) as customer_id
from keyed
left join identities
    on identities.identifier_type = keyed.strongest_identifier_type
    and identities.identifier = keyed.strongest_identifier
-- (an event_id is unique within its channel only)
left join guest_orders
    on guest_orders.event_id = keyed.event_id and guest_orders.channel = keyed.channel
