-- DuckDB macros about customer ids, shared by stitching, the stage history and forget.
--
-- (no table)

-- The customer_id an identifier gives its customer: a user_id as it is; for people never
-- identified 'anon:', 'email:' or 'social:' and the identifier (24 characters of a hash).
-- identities_stitched names a customer by its smallest user_id, else by the smallest identifier
-- of the first of these kinds it has; an id a customer had on an earlier run date is always
-- one of these of an identifier it still holds.
create or replace temp macro identifier_customer_id(identifier_type, identifier) as
    case identifier_type
        when 'user_id' then identifier
        when 'anonymous_id' then 'anon:' || identifier
        when 'email' then 'email:' || substr(identifier, 1, 24)
        when 'social_handle' then 'social:' || substr(identifier, 1, 24)
    end;
