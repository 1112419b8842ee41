-- One row per known identifier (user id, device, e-mail, social handle) with the customer
-- it was stitched to. Identifiers linked directly or through a chain (A to B to C) share
-- one customer_id. E-mail addresses and handles appear only as keyed hashes.
--
-- identifier_type: user_id, anonymous_id, email (keyed hash) or social_handle (keyed hash of platform and handle).
-- identifier: The identifier's value (a hash for email and social_handle).
-- customer_id: The customer it belongs to.
-- customer_identifiers: How many identifiers the customer has in all.
with identities as (
    select * from identities_stitched
)

select
    identifier_type,
    identifier,
    customer_id,
    count(*) over (partition by customer_id) as customer_identifiers
from identities
order by customer_id, identifier_type, identifier
