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
-- error: Why the row was refused, in words.
-- arrived_on: The dt= day the file arrived (null for identities and labels).
-- run_id: The run that read it.
-- ingested_at: When it was read, UTC.
create table if not exists main.quarantine (
    channel varchar not null,
    source_file varchar not null,
    line_no bigint,
    raw varchar,
    error varchar not null,
    arrived_on date,
    run_id varchar not null,
    ingested_at timestamp not null
);
