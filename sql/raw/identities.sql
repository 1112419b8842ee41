-- Identity links from CRM exports (identities/ in the landing folder), pseudonymized.
-- One row per distinct link (a user id alone, with no e-mail or handle, is a row too: the CRM knows it).
--
-- user_id: The business's customer id.
-- email_hash: Keyed hash of the lower-cased e-mail address (its @ decoded when written %40 or %2540), if the row had one.
-- platform: Social platform of the handle, if any.
-- handle_hash: Keyed hash of platform and lower-cased handle, if the row had one.
-- source_file: Landing file the row came from.
-- line_no: Line number in that file, 1-based.
-- run_id: The pipeline run that loaded the row.
create table if not exists raw.identities (
    user_id varchar not null,
    email_hash varchar,
    platform varchar,
    handle_hash varchar,
    source_file varchar not null,
    line_no bigint not null,
    run_id varchar not null
);
