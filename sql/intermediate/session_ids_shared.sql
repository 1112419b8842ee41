-- Session ids given by the source to more than one customer. Some sources make a session id
-- unique only per user (GA4's ga_session_id is the second the session started), so two
-- customers' visits can carry the same id; each customer's share is then a session of its own.
--
-- (intermediate; not published)
with given as (
    select given_session_id, customer_id
    from events_stitched
    where given_session_id is not null
)

select given_session_id
from given
group by given_session_id
having count(distinct customer_id) > 1
