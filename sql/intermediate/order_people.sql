-- Orders that name one person: an order (its order_id in its currency) carried by one person's
-- own purchase or refund (a user_id or an e-mail, as a store's order export sends it) and seen
-- on at most two devices with no one identified (checked out as a guest on one, perhaps refunded
-- from another). An order that names more people, or is seen on more guest devices, as a tag
-- sending one id for every order does, names no one. Stores, or the shops of one retailer,
-- number their orders alike (each from #1001), and one shop's guest checkout is not the customer
-- of another shop's order of that number: an order_id in two currencies is two orders (each may
-- name its person: a purchase or refund needs a currency), and one whose purchases in one
-- currency are more than two days apart names no one (the tag's purchase and the export's of one
-- order are minutes apart; a day and more where an export gives the order's date alone, or local
-- times read as UTC). Read by identity_links (a guest checkout identifies its device) and
-- events_sessionized (a guest checkout and its visit are the named person's). A user id or e-mail that names no one (identifiers_naming_no_one) is
-- no person here.
--
-- (intermediate; not published)
with order_events as (
    -- purchases and refunds, read apart: only they carry an order_id; a user id or e-mail that
    -- names no one (a 'guest' the export writes for every guest checkout) is no person
    select
        anonymous_id,
        order_person_node(user_id, email_hash) as person_node,
        order_id,
        event_name,
        event_ts,
        currency
    from events_unioned
    where channel = 'web' and event_name in ('purchase', 'refund') and order_id is not null
)

select order_id, currency, min(person_node) as person_node
from order_events
group by order_id, currency
having count(distinct person_node) = 1
   and count(distinct anonymous_id) filter (where person_node is null) between 1 and 2
   and coalesce(max(event_ts) filter (where event_name = 'purchase')
       <= min(event_ts) filter (where event_name = 'purchase') + interval 2 day, true)
