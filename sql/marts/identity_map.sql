-- One row per known identifier (user id, device, e-mail, social handle) with the customer
-- it was stitched to. Identifiers linked directly or through a chain (A to B to C) share
-- one customer_id. E-mail addresses and handles appear only as keyed hashes. An identifier that
-- names no one (a placeholder such as 'guest', an id on more devices or people than a person
-- has: sql/intermediate/identifiers_naming_no_one.sql) is a customer of its own, linked to none.
--
-- identifier_type: user_id, anonymous_id, email (keyed hash) or social_handle (keyed hash of platform and handle).
-- identifier: The identifier's value (a hash for email and social_handle).
-- customer_id: The customer it belongs to; an identifier that names no one (a placeholder such as 'guest', a user id or e-mail on more than [identity] max_devices_per_person devices within 30 days, an e-mail or handle of more than max_people_per_identifier user ids, a device of more people than that) is its own customer, linked to none.
-- customer_identifiers: How many identifiers the customer has in all.
-- names_someone: False for an identifier that names no one (see customer_id: a placeholder such as 'guest', a bot's account, noreply@, a shop's kiosk); such a user id identifies no one (customers.is_identified) and a label given to it labels no one.
with identities as (
    select * from identities_stitched
),

naming_no_one as (
    select node from identifiers_naming_no_one
)

select
    identities.identifier_type,
    identities.identifier,
    identities.customer_id,
    count(*) over (partition by identities.customer_id) as customer_identifiers,
    naming_no_one.node is null as names_someone
from identities
left join naming_no_one on naming_no_one.node = identities.identifier_type || ':' || identities.identifier
order by identities.customer_id, identities.identifier_type, identities.identifier
