-- Web (clickstream) events as loaded from the landing folder: validated, de-duplicated on
-- event_id, e-mail pseudonymized, timestamps in UTC. Append-only; the marts are rebuilt from it.
--
-- event_id: Unique id of the event, the de-duplication key across all files and days.
-- event_ts: When the event happened, UTC.
-- event_name: GA4-style event name (page_view, purchase, ...): a contract name in any spelling as the contract spells it, others as given.
-- anonymous_id: Cookie or device id as given (one holding an e-mail address as device: and a keyed digest).
-- user_id: The business's own customer id once logged in, as given (one holding an e-mail address as user: and a keyed digest).
-- session_id: Session id given by the source, if any.
-- email_hash: Keyed hash (HMAC-SHA256) of the lower-cased e-mail address; never the address.
-- page_url: Page URL, e-mail addresses masked.
-- page_title: Page title, e-mail addresses masked.
-- referrer: Referring URL.
-- utm_source: Campaign source.
-- utm_medium: Campaign medium.
-- utm_campaign: Campaign name.
-- device_category: desktop, mobile or tablet (lower-cased; another category as given, lower-cased).
-- country: ISO 3166 alpha-2 country code (upper-cased); a value that is not two characters long as given.
-- order_id: Order id on purchase and refund.
-- value: Monetary value on purchase and refund.
-- currency: ISO 4217 currency code.
-- rating: Review rating 1 to 5 on write_review.
-- properties: Fields beyond the contract, kept as a JSON object (values keep their JSON types).
-- source_file: Landing file the row came from, relative to the landing folder.
-- line_no: Line (or row) number in that file, 1-based.
-- arrived_on: The dt= day the file arrived (of an event delivered more than once, its earliest delivery).
-- run_id: The pipeline run that loaded the row.
create table if not exists raw.web_events (
    event_id varchar not null,
    event_ts timestamp not null,
    event_name varchar not null,
    anonymous_id varchar,
    user_id varchar,
    session_id varchar,
    email_hash varchar,
    page_url varchar,
    page_title varchar,
    referrer varchar,
    utm_source varchar,
    utm_medium varchar,
    utm_campaign varchar,
    device_category varchar,
    country varchar,
    order_id varchar,
    value double,
    currency varchar,
    rating integer,
    properties json,
    source_file varchar not null,
    line_no bigint not null,
    arrived_on date not null,
    run_id varchar not null
);
