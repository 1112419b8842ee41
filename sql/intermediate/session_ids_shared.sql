-- Session ids given by the source to more than one customer, or to more than one device.
-- Some sources make a session id unique only per user (GA4's ga_session_id is the second the
-- session started), so two customers' visits can carry the same id: each customer's share is
-- then a session of its own. Others number each device's visits (1, 2, 3, ...), so one
-- customer's two devices can carry the same id: each device's share is then a session of its
-- own (across_devices: a customer has the id on several devices).
--
-- (intermediate; not published)
with given as (
    select given_session_id, customer_id, anonymous_id
    from events_stitched
    where given_session_id is not null
),

per_customer as (
    select given_session_id, customer_id, count(distinct anonymous_id) as n_devices
    from given
    group by given_session_id, customer_id
)

select given_session_id, max(n_devices) > 1 as across_devices
from per_customer
group by given_session_id
having count(*) > 1 or max(n_devices) > 1
