-- Every landing file a run has read, with its fingerprint, so an unchanged file is
-- never read twice and a changed one is read again.
--
-- source_file: Path relative to the landing folder.
-- kind: web, email, social, identities or labels.
-- file_format: jsonl, jsonl.gz, csv or parquet.
-- size_bytes: File size when read.
-- modified_at: File modification time when read, UTC.
-- rows_read: Rows (lines) read from the file.
-- rows_loaded: Rows loaded into the raw table.
-- rows_quarantined: Rows sent to quarantine.
-- rows_duplicate: Rows already in the warehouse: a valid row whose event_id (within its channel; for identities and labels, its whole row) was loaded before or earlier in the batch, or a refused row already in quarantine (its file was read again).
-- file_error: Why the whole file could not be read, if it could not.
-- run_id: The run that read it.
-- read_at: When it was read, UTC.
-- rows_forgotten: Rows neither loaded nor quarantined because they carry an identifier of a customer erased with journey forget.
create table if not exists raw.ingested_files (
    source_file varchar not null,
    kind varchar not null,
    file_format varchar,
    size_bytes bigint not null,
    modified_at timestamp not null,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null,
    rows_duplicate bigint not null,
    file_error varchar,
    run_id varchar not null,
    read_at timestamp not null,
    rows_forgotten bigint default 0
);
alter table raw.ingested_files add column if not exists rows_forgotten bigint default 0;
