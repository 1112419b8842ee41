-- One row per pipeline run that ended: a successful run with what it read, loaded, refused and how long each
-- step took; a failed run with its error and zero counts (none of its work was kept). A run killed before
-- it could record its failure, or a first run that failed (no warehouse yet), leaves no row. For each run, rows_read = rows_loaded + rows_quarantined + rows_duplicate + rows_forgotten.
--
-- run_id: Unique id of the run.
-- as_of_date: The day the run reports as of (it processes everything that arrived up to it).
-- started_at: When the run started, UTC.
-- finished_at: When the run published (success) or gave up (failed), UTC.
-- status: success, or failed (a failed run publishes none of its data; only this row records it).
-- rows_read: Input rows read from landing files in this run (0 for a failed run, as every count below: its reading was thrown away and is done again by the next run).
-- rows_loaded: Rows loaded into the raw tables.
-- rows_quarantined: Rows refused and sent to quarantine.
-- rows_duplicate: Rows already in the warehouse: a valid row whose event_id (within its channel; for identities and labels, its whole row) was loaded before or earlier in the batch, or a refused row already in quarantine (its file was read again).
-- rows_late: Loaded events whose event_ts falls on a day before the day they arrived.
-- files_read: Landing files read.
-- files_skipped: Landing files skipped because they were read before and are unchanged.
-- step_seconds: Seconds per step, as a JSON object.
-- pipeline_version: Version of journey-analytics that ran.
-- rows_forgotten: Rows neither loaded nor quarantined because they carry an identifier of a customer erased with journey forget (see raw.forgotten_identifiers).
-- error: Why a failed run failed (first line of the error); null on success.
create table if not exists main.pipeline_runs (
    run_id varchar not null,
    as_of_date date not null,
    started_at timestamp not null,
    finished_at timestamp,
    status varchar not null,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null,
    rows_duplicate bigint not null,
    rows_late bigint not null,
    files_read bigint not null,
    files_skipped bigint not null,
    step_seconds json,
    pipeline_version varchar not null,
    rows_forgotten bigint default 0,
    error varchar
);
alter table main.pipeline_runs add column if not exists rows_forgotten bigint default 0;
alter table main.pipeline_runs add column if not exists error varchar;
