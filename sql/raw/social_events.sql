-- Social media events as loaded: validated, de-duplicated on event_id, handles
-- pseudonymized, timestamps in UTC. Append-only.
--
-- event_id: Unique id of the event, the de-duplication key across all files and days.
-- event_ts: When the event happened, UTC.
-- event_name: impression, like, comment, share, save, follow, unfollow, mention, message, brand_reply or review (in any spelling, written as here); other names as given.
-- platform: Social platform, lower-cased (instagram, facebook, x, ...).
-- handle_hash: Keyed hash (HMAC-SHA256) of platform and lower-cased handle; never the handle.
-- user_id: The business's customer id, when known.
-- post_id: Post the event refers to.
-- thread_id: Conversation thread; ties a message to the brand_reply that answers it.
-- sentiment: Sentiment score from -1 (negative) to 1 (positive).
-- rating: Review rating 1 to 5.
-- text: Message text with e-mail addresses and @handles masked.
-- properties: Fields beyond the contract, kept as a JSON object (values keep their JSON types).
-- source_file: Landing file the row came from, relative to the landing folder.
-- line_no: Line (or row) number in that file, 1-based.
-- arrived_on: The dt= day the file arrived (of an event delivered more than once, its earliest delivery).
-- run_id: The pipeline run that loaded the row.
create table if not exists raw.social_events (
    event_id varchar not null,
    event_ts timestamp not null,
    event_name varchar not null,
    platform varchar not null,
    handle_hash varchar not null,
    user_id varchar,
    post_id varchar,
    thread_id varchar,
    sentiment double,
    rating integer,
    text varchar,
    properties json,
    source_file varchar not null,
    line_no bigint not null,
    arrived_on date not null,
    run_id varchar not null
);
