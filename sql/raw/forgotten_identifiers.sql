-- Identifiers of customers erased with journey forget, kept only as keyed hashes so that
-- later runs never load their rows again (from files still in the landing folder or from
-- new ones). Never holds a plain user_id or anonymous_id. One row per identifier.
--
-- identifier_type: user_id, anonymous_id, email or social_handle (as in identity_map).
-- identifier_hash: Keyed hash (HMAC-SHA256, the warehouse's key) of identifier_type, a colon and the identifier as identity_map held it (the e-mail and handle identifiers are themselves keyed hashes).
-- erasure_id: The erasure that suppressed it (see erasures).
-- erased_at: When it was suppressed, UTC.
create table if not exists raw.forgotten_identifiers (
    identifier_type varchar not null,
    identifier_hash varchar not null,
    erasure_id varchar not null,
    erased_at timestamp not null
);
