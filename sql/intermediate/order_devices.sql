-- The one device each order was checked out on (by the web tag), for the store's export of the
-- order that names no one (a 'guest' it writes for every guest order, no device): that order
-- is the visitor's, in their visit and counted once, as the tag's and the export's rows of one
-- order are. As in order_people, an order number with events in two currencies, or purchases
-- more than two days apart, is two shops' orders and names no device; nor does one seen on a
-- device that names no one (identifiers_naming_no_one), or on several devices. Read by
-- events_stitched and events_sessionized.
--
-- (intermediate; not published)
with order_events as (
    -- purchases and refunds, read apart: only they carry an order_id
    select anonymous_id, order_id, event_name, event_ts, currency
    from events_unioned
    where channel = 'web' and event_name in ('purchase', 'refund') and order_id is not null
)

select order_id, min(anonymous_id) as anonymous_id
from order_events
group by order_id
having count(distinct anonymous_id) = 1
   and min(anonymous_id) not in (
       select substr(node, strlen('anonymous_id:') + 1) from identifiers_naming_no_one
       where starts_with(node, 'anonymous_id:')
   )
   and count(distinct currency) <= 1
   and coalesce(max(event_ts) filter (where event_name = 'purchase')
       <= min(event_ts) filter (where event_name = 'purchase') + interval 2 day, true)
