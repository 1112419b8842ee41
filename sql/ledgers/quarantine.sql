-- Input rows that broke the landing contract, with the reason, so nothing is dropped
-- silently. Personal data in the raw text is masked. One row per rejected row still refused; a
-- re-run never writes the same row twice, and a line that passes when its file is read again
-- (read while still being written, or corrected and delivered again), or is no longer in it,
-- leaves it.
--
-- channel: Landing kind the row came from: web, email, social, identities or labels.
-- source_file: Landing file, relative to the landing folder.
-- line_no: Line (or row) number in that file, 1-based; null for an error about the whole file.
-- raw: The row's text as read, e-mail addresses and handles masked.
-- error: Why the row was refused, in words (it may quote the refused value; count refusals by reason).
-- arrived_on: The dt= day the file arrived (null for identities and labels).
-- run_id: The run that read it.
-- ingested_at: When it was read, UTC.
-- reason: The kind of refusal as a stable code that quotes no value, to group by: unparseable_json (not JSON), not_json_object (JSON but not one object), duplicate_field (a field given twice), not_utf8, line_too_long (over [ingest] max_line_bytes), unreadable_line, bad_csv_row (a CSV row that does not fit its header), missing_required_field (a field the contract requires, a web event's anonymous_id or user_id, a handle's platform), missing_order_field (a purchase or refund without order_id, value or currency), no_identifier (an identities row linking its user_id to nothing, refused by versions before such rows were loaded; the next run reads its file again and loads it), bad_timestamp (event_ts not readable as the contract allows), timestamp_too_early (before [ingest] earliest_event_year), timestamp_in_future (after the arrival day and [ingest] max_future_days), bad_type (a value not of its field's type: not a number, not a whole number, a JSON object or list, an id written as a number in scientific notation as Excel saves a long one), out_of_range (value, sentiment or rating outside its range), unknown_stage (a label's stage not one of the five), bad_date (a label's as_of_date not a date), unreadable_file (the file as a whole; line_no is null), or unknown (a row quarantined by an earlier version whose error this version does not word so).
create table if not exists main.quarantine (
    channel varchar not null,
    source_file varchar not null,
    line_no bigint,
    raw varchar,
    error varchar not null,
    arrived_on date,
    run_id varchar not null,
    ingested_at timestamp not null,
    reason varchar
);
-- a warehouse made before quarantine had reason codes: the column is added and its rows coded
-- from their errors (sql/macros/refusal_macros.sql)
alter table main.quarantine add column if not exists reason varchar;
update main.quarantine set reason = refusal_reason(line_no, error) where reason is null;
