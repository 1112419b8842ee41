-- E-mail service provider events as loaded: validated, de-duplicated on event_id, the
-- recipient pseudonymized, timestamps in UTC. Append-only.
--
-- event_id: Unique id of the event, the de-duplication key across all files and days.
-- event_ts: When the event happened, UTC.
-- event_name: processed, delivered, open, click, bounce, dropped, deferred, spamreport or unsubscribe (in any spelling, written as here); other names as given.
-- email_hash: Keyed hash (HMAC-SHA256) of the lower-cased recipient address; never the address.
-- user_id: The business's customer id, when the provider knows it.
-- campaign_id: Campaign the message belongs to.
-- message_id: Message id.
-- url: Clicked URL, on click.
-- reason: Provider's reason, on bounce and dropped.
-- properties: Fields beyond the contract, kept as a JSON object (values keep their JSON types).
-- source_file: Landing file the row came from, relative to the landing folder.
-- line_no: Line (or row) number in that file, 1-based.
-- arrived_on: The dt= day the file arrived (of an event delivered more than once, its earliest delivery).
-- run_id: The pipeline run that loaded the row.
create table if not exists raw.email_events (
    event_id varchar not null,
    event_ts timestamp not null,
    event_name varchar not null,
    email_hash varchar not null,
    user_id varchar,
    campaign_id varchar,
    message_id varchar,
    url varchar,
    reason varchar,
    properties json,
    source_file varchar not null,
    line_no bigint not null,
    arrived_on date not null,
    run_id varchar not null
);
