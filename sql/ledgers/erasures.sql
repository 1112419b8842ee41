-- One row per customer erased with journey forget: when, how many rows it removed from
-- each table and how many identifiers it suppressed for later runs. Holds no identifier
-- of the customer: the audit says that an erasure happened, not whom it was about.
--
-- erasure_id: Unique id of the erasure.
-- erased_at: When the erasure was published, UTC.
-- rows_removed: Rows removed per table, as a JSON object ({"raw.web_events": 12, ...}).
-- identifiers_suppressed: Identifiers (user ids, devices, e-mail and handle hashes) recorded in raw.forgotten_identifiers.
-- pipeline_version: Version of journey-analytics that erased.
create table if not exists main.erasures (
    erasure_id varchar not null,
    erased_at timestamp not null,
    rows_removed json not null,
    identifiers_suppressed bigint not null,
    pipeline_version varchar not null
);
