-- Every event with its customer_id: through its user_id first, then its e-mail, its
-- device (anonymous_id), then its social handle.
--
-- (intermediate; not published)
with events as (
    select * from events_unioned
),

identities as (
    select * from identities_stitched
)

select
    events.*,
    coalesce(
        by_user.customer_id, by_email.customer_id, by_device.customer_id, by_handle.customer_id
    ) as customer_id
from events
left join identities as by_user
    on by_user.identifier_type = 'user_id' and by_user.identifier = events.user_id
left join identities as by_email
    on by_email.identifier_type = 'email' and by_email.identifier = events.email_hash
left join identities as by_device
    on by_device.identifier_type = 'anonymous_id' and by_device.identifier = events.anonymous_id
left join identities as by_handle
    on by_handle.identifier_type = 'social_handle' and by_handle.identifier = events.handle_hash
