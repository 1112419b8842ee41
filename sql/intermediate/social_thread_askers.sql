-- Social threads that one person wrote in (a message, comment or mention): a brand_reply in such
-- a thread answers that person (events_unioned gives it to them). A thread several people wrote
-- in answers no one in particular, and is left out. A small table, built before events_unioned
-- joins it (as a table its size is known, so the join keeps it, not the social rows, in memory).
--
-- (intermediate; not published)
select platform, thread_id, min(handle_hash) as handle_hash, max(user_id) as user_id
from raw.social_events
where thread_id is not null and event_name <> 'brand_reply'
group by platform, thread_id
having count(distinct handle_hash) = 1 and count(distinct user_id) <= 1
