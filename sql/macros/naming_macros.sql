-- DuckDB macros over identifiers_naming_no_one (sql/intermediate/identifiers_naming_no_one.sql),
-- defined once that table is built (identity.stitch_identities): an identifier that names no
-- one (a 'guest' user id, an e-mail on hundreds of devices) is read as missing where links and
-- customers are made.
--
-- (no table)

-- The identifier (a user_id, an e-mail's hash, an anonymous_id, a handle's hash, of the type
-- identifier_type: 'user_id', 'email', 'anonymous_id', 'social_handle') when it names someone,
-- else null.
create or replace temp macro naming_someone(identifier_type, identifier) as
    case when identifier_type || ':' || identifier not in (select node from identifiers_naming_no_one) then identifier end;

-- The person an order event names, as a node ('user_id:<id>', else 'email:<hash>'), of its
-- identifiers that name someone; null when none does (a guest checkout, or an export's 'guest').
create or replace temp macro order_person_node(user_id, email_hash) as
    coalesce('user_id:' || naming_someone('user_id', user_id), 'email:' || naming_someone('email', email_hash));
