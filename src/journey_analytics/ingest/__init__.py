"""Ingest: read landing files, validate rows against the contract, quarantine the bad ones,
de-duplicate, and append the good ones to the raw tables.

All five landing kinds share one path: each file is read into rows of raw text and a JSON
record (:mod:`._read`), the kind's staging model types and checks them, and
:func:`load_kind` moves them on. Nothing is dropped silently: for every kind,
rows read = rows loaded + rows quarantined + rows duplicate + rows forgotten, the last
being rows of customers erased with ``journey forget`` (see :mod:`journey_analytics.forget`),
which are neither loaded nor quarantined.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from journey_analytics.config import Settings
from journey_analytics.ingest import email, identities, labels, social, web
from journey_analytics.ingest._landing import (
    IN_FLIGHT_SUFFIXES,
    LandingError,
    LandingFile,
    LandingKind,
    find_landing_files,
    in_flight_notice,
)
from journey_analytics.ingest._read import (
    RESOURCE_ERRORS,
    create_landed_table,
    encoding_problem,
    parquet_schema_groups,
    read_csv_batch,
    read_file,
    read_jsonl_batch,
    read_parquet_batch,
)
from journey_analytics.privacy import ID_EDGE
from journey_analytics.warehouse import run_model

KINDS: tuple[LandingKind, ...] = (web.KIND, email.KIND, social.KIND, identities.KIND, labels.KIND)

__all__ = ["KINDS", "IngestReport", "KindReport", "LandingError", "ingest_kind", "plan_files"]

Progress = Callable[[str, int, int], None]

@dataclass
class KindReport:
    """What ingesting one landing kind did in one run."""

    kind: str
    files_read: int = 0
    files_skipped: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    rows_late: int = 0
    rows_forgotten: int = 0
    # rows loaded by earlier runs that an earlier dt= folder's delivery (its file came late)
    # replaced in place: counted as duplicates, yet they change what the warehouse knows
    rows_replaced: int = 0
    file_errors: list[str] = field(default_factory=list)
    # files still being uploaded (a temporary name: see IN_FLIGHT_SUFFIXES), left for a later run
    # and said as notices, not errors: 'file: still being written ...'
    notices: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    """What ingest did across all kinds in one run."""

    kinds: list[KindReport] = field(default_factory=list)

    def total(self, attribute: str) -> int:
        """Sum one counter over the kinds."""
        return sum(getattr(k, attribute) for k in self.kinds)

    @property
    def file_errors(self) -> list[str]:
        """Every file-level error, as 'file: reason'."""
        return [e for k in self.kinds for e in k.file_errors]


def plan_files(
    con: duckdb.DuckDBPyConnection, landing: Path, kind: LandingKind, up_to: date
) -> tuple[list[LandingFile], int, list[LandingFile]]:
    """The files of a kind to read now (new or changed since read), how many were skipped, and
    the files still being uploaded (named so: see IN_FLIGHT_SUFFIXES), neither read nor refused
    until they are renamed."""
    files = find_landing_files(landing, kind, up_to)
    in_flight = [f for f in files if f.in_flight]
    files = [f for f in files if not f.in_flight]
    seen = {
        (row[0], row[1], row[2])
        for row in con.execute(
            # a file that could not be read is tried again on every run until it can be; so is a
            # file with rows an earlier version refused that this one loads (reason no_identifier:
            # a CRM row with a user id alone), its refusals replaced as a file read again's are
            """
            select source_file, size_bytes, modified_at from raw.ingested_files as i
            where kind = ? and file_error is null
              and not exists (
                  select 1 from main.quarantine as q
                  where q.channel = i.kind and q.source_file = i.source_file and q.reason = 'no_identifier'
              )
            """,
            [kind.name],
        ).fetchall()
    }
    todo = [f for f in files if (f.source_file, f.size_bytes, f.modified_at) not in seen]
    return todo, len(files) - len(todo), in_flight


def ingest_kind(
    con: duckdb.DuckDBPyConnection,
    landing: Path,
    kind: LandingKind,
    up_to: date,
    run_id: str,
    settings: Settings,
    progress: Progress | None = None,
) -> KindReport:
    """Read every new or changed file of one kind and load its rows (see module docstring)."""
    report = KindReport(kind.name)
    files, report.files_skipped, in_flight = plan_files(con, landing, kind, up_to)
    report.notices = [in_flight_notice(f) for f in in_flight]
    landed = create_landed_table(con, kind.name)
    unreadable: dict[str, str] = {}
    readable = [f for f in files if not f.problem]
    unreadable.update({f.source_file: f.problem for f in files if f.problem})
    # a UTF-16 or UTF-32 file (Excel's "Unicode Text") is refused as a file, with why
    unreadable.update({f.source_file: problem for f in readable if (problem := encoding_problem(f))})
    readable = [f for f in readable if f.source_file not in unreadable]
    # JSON Lines files are read in one scan, CSV files in one for each header, Parquet files in one
    # for each schema; the files a scan leaves out (or cannot read) are read one by one below
    jsonl = [f for f in readable if f.file_format in ("jsonl", "jsonl.gz")]
    csv = [f for f in readable if f.file_format == "csv"]
    parquet = [f for f in readable if f.file_format == "parquet"]
    left_out: list[LandingFile] = []
    max_line_bytes = settings.ingest.max_line_bytes
    if len(jsonl) > 1:
        left_out += _read_in_batches(con, jsonl, landed, lambda fs: read_jsonl_batch(con, fs, landed, max_line_bytes))
    if len(csv) > 1:
        for chunk in _chunks_of(csv, CSV_BATCH_BYTES):
            left_out += _read_in_batches(
                con, chunk, landed, lambda fs: read_csv_batch(con, fs, landed, max_line_bytes, kind.name)
            )
    if len(parquet) > 1:
        groups, left_out_parquet = parquet_schema_groups(con, parquet)
        left_out += left_out_parquet
        for group in groups:
            left_out += _read_in_batches(con, group, landed, lambda fs: read_parquet_batch(con, fs, landed))
    batched = {f.source_file for files_of_a_format in (jsonl, csv, parquet) if len(files_of_a_format) > 1
               for f in files_of_a_format}
    alone = {f.source_file for f in left_out}  # by name: a list's `in` made this quadratic in the files
    readable = [f for f in readable if f.source_file not in batched or f.source_file in alone]
    for index, file in enumerate(readable, start=1):
        if progress:
            progress(file.source_file, index, len(readable))
        try:
            read_file(con, file, landed, settings.ingest.max_line_bytes)
        except RESOURCE_ERRORS:
            raise  # the machine, not the file: fail the run rather than skip the file
        except duckdb.Error as exc:
            # The file as a whole cannot be read: record why, load the rest of the day.
            con.execute(f"delete from {landed} where source_file = ?", [file.source_file]).fetchall()
            unreadable[file.source_file] = _file_error_message(exc)
    report.files_read = len(files)
    report.file_errors = [f"{name}: {reason}" for name, reason in unreadable.items()]
    # Reading only fills temporary tables; the writes below happen in one transaction, so
    # a step that fails (and is retried) leaves nothing half-written.
    con.execute("begin transaction").fetchall()
    try:
        _load_landed(con, kind, run_id, report)
        _record_files(con, kind, files, unreadable, run_id)
        _drop_in_flight_refusals(con, kind)
        report.notices += _files_refused_whole(con, kind)
        con.execute("commit").fetchall()
    except BaseException:
        con.execute("rollback").fetchall()
        raise
    return report


def _files_refused_whole(con: duckdb.DuckDBPyConnection, kind: LandingKind) -> list[str]:
    """A notice for each file read now whose every row was quarantined, with its most common
    reason and one of its errors: a column named otherwise than the contract (timestamp for
    event_ts), times without an offset, epoch seconds, are the export's, not a few rows', and
    the run's counts alone ("771 quarantined") say nothing of why."""
    rows = con.execute(
        """
        with refused as (
            select q.source_file, q.reason, count(*) as rows, min(q.error) as error
            from staged_file_counts as f
            join main.quarantine as q on q.channel = ? and q.source_file = f.source_file and q.line_no is not null
            where f.rows_read > 0 and f.rows_quarantined = f.rows_read
            group by all
        )
        select source_file, sum(rows) over (partition by source_file) as quarantined, reason, rows, error
        from refused
        qualify row_number() over (partition by source_file order by rows desc, reason) = 1
        order by source_file
        """,
        [kind.name],
    ).fetchall()
    return [
        f"{name}: every one of its {total:,} rows was quarantined"
        + (f" as {reason}" if rows == total else f", {rows:,} as {reason}")
        + f": {error}"
        for name, total, reason, rows, error in rows
    ]


def _drop_in_flight_refusals(con: duckdb.DuckDBPyConnection, kind: LandingKind) -> None:
    """Take out of quarantine the refusals of uploads still being written (a name such as
    a.jsonl.tmp) as files of an unknown type, which versions before such files were left for a
    later run made: each stayed after its file was renamed and read, a loss that never happened."""
    con.execute(
        """
        delete from main.quarantine
        where channel = ? and line_no is null and starts_with(error, 'unsupported file type')
          and len(list_filter(cast(? as varchar[]), lambda s: ends_with(lower(source_file), s))) > 0
        """,
        [kind.name, list(IN_FLIGHT_SUFFIXES)],
    ).fetchall()


# CSV files are read in batches of about this many bytes: a batch pairs each parsed row with its
# line in one join, which stays in memory for about 128MB of files (1M events: 0.4 s), and spilled
# to disk when one batch held 10M events' 1.2GB (13 s, against 3.6 s in batches of 128MB).
CSV_BATCH_BYTES = 128 << 20


def _chunks_of(files: list[LandingFile], max_bytes: int) -> list[list[LandingFile]]:
    """Consecutive files in chunks of at most ``max_bytes`` (a larger file is a chunk alone)."""
    chunks: list[list[LandingFile]] = []
    size = 0
    for file in files:
        if not chunks or size + file.size_bytes > max_bytes:
            chunks.append([])
            size = 0
        chunks[-1].append(file)
        size += file.size_bytes
    return chunks


def _read_in_batches(
    con: duckdb.DuckDBPyConnection,
    files: list[LandingFile],
    landed: str,
    read_batch: Callable[[list[LandingFile]], list[LandingFile]],
) -> list[LandingFile]:
    """Read files of one format in few scans (``read_batch``); return the files to read one by
    one: those the scan left out (a bare CR in a JSON line, a CSV file that is not plain) and each
    file that made a scan fail. A scan that fails (one file cannot be read: a truncated gzip, a
    file not gzipped, a damaged Parquet page) is tried again in halves, down to the single files,
    so one bad file among thousands costs a few dozen scans, not a read per file."""
    if len(files) <= 1:
        return files
    try:
        return read_batch(files)
    except RESOURCE_ERRORS:
        raise  # the machine, not a file
    except duckdb.Error:
        con.execute(
            f"delete from {landed} where list_contains(?, source_file)", [[f.source_file for f in files]]
        ).fetchall()
    half = len(files) // 2
    return _read_in_batches(con, files[:half], landed, read_batch) + _read_in_batches(con, files[half:], landed, read_batch)


def _file_error_message(exc: Exception) -> str:
    """The first line of a DuckDB error, without its class prefix."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for prefix in ("Invalid Input Error: ", "IO Error: ", "Conversion Error: ", "Parser Error: "):
        text = text.removeprefix(prefix)
    return f"file could not be read: {text[:300]}"


def _load_landed(con: duckdb.DuckDBPyConnection, kind: LandingKind, run_id: str, report: KindReport) -> None:
    """Validate the landed rows, quarantine the bad, de-duplicate and append the good.

    The rows loaded are counted back from the raw table by this run's id, so no second
    copy of them is kept in memory."""
    run_model(con, "staging", kind.staging_model)
    forgotten = _stage_withholding_forgotten(con, kind.staging_model)
    # ``staged`` holds all that is needed from here on: free the memory of the raw lines.
    con.execute(f"drop table if exists landed_{kind.name}_rows").fetchall()
    columns = ", ".join(kind.output_columns)
    if kind.has_event_id:
        new_rows = f"""
            -- Few ids repeat, so only their rows are ranked. They are found by grouping the ids'
            -- 64-bit hashes (cheaper than grouping the text); a hash collision only sends a few
            -- more rows to the exact ranking below. The staged table is then read whole once,
            -- less the later deliveries (by row number: cheaper than a second full read of it
            -- for the first ones, which made this statement a third slower at 10M events).
            with repeated_hashes as (
                select hash(event_id) as id_hash from staged where contract_error is null
                group by id_hash having count(*) > 1
            ),
            later_deliveries as (
                select s.rowid as staged_row from staged as s
                where s.contract_error is null and hash(s.event_id) in (select id_hash from repeated_hashes)
                qualify row_number() over (
                    partition by s.event_id order by s.arrived_on, s.source_file, s.line_no
                ) > 1
            )
            select g.* from staged as g
            where g.contract_error is null
              and g.rowid not in (select staged_row from later_deliveries)
              -- an event_id is unique within its channel: each tool (tag, ESP, social tool) issues its own
              and not exists (select 1 from {kind.raw_table} as k where k.event_id = g.event_id)
        """
    else:
        key = "user_id, email_hash, platform, handle_hash" if kind.name == "identities" else "user_id, stage, as_of_date"
        new_rows = f"""
            with good as (
                select * from staged where contract_error is null
            ),
            first_of_batch as (
                select * from good
                qualify row_number() over (partition by {key} order by source_file, line_no) = 1
            )
            select f.* from first_of_batch f
            where not exists (
                select 1 from {kind.raw_table} k
                where ({", ".join(f"k.{c}" for c in key.split(", "))})
                    is not distinct from ({", ".join(f"f.{c}" for c in key.split(", "))})
            )
        """
    con.execute(
        f"insert into {kind.raw_table} ({columns}, run_id) select {columns}, ? from ({new_rows})",
        [run_id],
    ).fetchall()
    if kind.has_event_id and kind.dated:
        report.rows_replaced += _keep_earliest_delivery(con, kind, run_id)
    late = "case when cast(event_ts as date) < arrived_on then 1 else 0 end" if kind.dated else "0"
    con.execute(
        f"""
        create or replace temp table loaded_file_counts as
        select source_file, count(*) as rows_loaded, sum({late}) as rows_late
        from {kind.raw_table} where run_id = ? group by source_file
        """,
        [run_id],
    ).fetchall()
    arrived = "arrived_on" if kind.dated else "cast(null as date)"
    # A bad row already in quarantine (its file changed and was read again) is not written
    # twice; it counts as a duplicate, like a good row already loaded.
    con.execute(
        f"""
        create or replace temp table staged_quarantine as
        select ? as channel, s.source_file, s.line_no, s.raw_masked as raw, s.contract_error as error,
            {arrived} as arrived_on, s.contract_reason as reason
        from staged s
        where s.contract_error is not null
          and not exists (
              select 1 from main.quarantine q
              where q.source_file = s.source_file and q.line_no = s.line_no and q.raw is not distinct from s.raw_masked
          )
        """,
        [kind.name],
    ).fetchall()
    con.execute(
        """
        insert into main.quarantine (channel, source_file, line_no, raw, error, arrived_on, run_id, ingested_at, reason)
        select channel, source_file, line_no, raw, error, arrived_on, ?, now(), reason from staged_quarantine
        """,
        [run_id],
    ).fetchall()
    (read,) = con.execute("select count(*) from staged").fetchall()[0]
    (quarantined,) = con.execute("select count(*) from staged_quarantine").fetchall()[0]
    (loaded, late_rows) = con.execute(
        "select coalesce(sum(rows_loaded), 0), coalesce(sum(rows_late), 0) from loaded_file_counts"
    ).fetchall()[0]
    report.rows_read += read + forgotten
    report.rows_quarantined += quarantined
    report.rows_loaded += int(loaded)
    report.rows_forgotten += forgotten
    report.rows_duplicate += read - int(loaded) - quarantined
    report.rows_late += int(late_rows)
    con.execute(
        """
        create or replace temp table staged_file_counts as
        with read_counts as (
            select source_file, count(*) as rows_read from staged group by source_file
        ),
        forgotten_counts as (
            select source_file, count(*) as rows_forgotten from staged_forgotten group by source_file
        ),
        quarantined_counts as (
            select source_file, count(*) as rows_quarantined from staged_quarantine group by source_file
        ),
        files as (
            select source_file from read_counts union select source_file from forgotten_counts
        )
        select f.source_file,
            coalesce(r.rows_read, 0) + coalesce(x.rows_forgotten, 0) as rows_read,
            coalesce(q.rows_quarantined, 0) as rows_quarantined,
            coalesce(l.rows_loaded, 0) as rows_loaded,
            coalesce(x.rows_forgotten, 0) as rows_forgotten
        from files as f
        left join read_counts as r using (source_file)
        left join forgotten_counts as x using (source_file)
        left join quarantined_counts as q using (source_file)
        left join loaded_file_counts as l using (source_file)
        """
    ).fetchall()


def _keep_earliest_delivery(con: duckdb.DuckDBPyConnection, kind: LandingKind, run_id: str) -> int:
    """An event loaded by an earlier run and delivered again earlier (in an earlier dt= folder,
    or in its folder in a file whose name sorts first, whose file came late) takes that earlier
    delivery's row, as if the files had been read together: the warehouse keeps an event's
    earliest delivery (by dt=, file, line), whatever order the days and files came in. The row
    is replaced in place and counted as a duplicate, as any repeat is; returns how many were
    replaced.

    Only rows that arrived on or before the newest day loaded by earlier runs can be such
    deliveries, so a run of the days in order (every night) looks at none."""
    ((newest,),) = con.execute(
        f"select max(arrived_on) from {kind.raw_table} where run_id <> ?", [run_id]
    ).fetchall()
    if newest is None:
        return 0
    def loaded_later_than(row: str) -> str:  # k, the row loaded, delivered after ``row``
        return (
            f"(k.arrived_on > {row}.arrived_on or (k.arrived_on = {row}.arrived_on and (k.source_file > {row}.source_file"
            f" or (k.source_file = {row}.source_file and k.line_no > {row}.line_no))))"
        )

    con.execute(
        f"""
        create or replace temp table earlier_deliveries as
        select s.* from staged as s
        where s.contract_error is null and s.arrived_on <= ?
          and exists (
              select 1 from {kind.raw_table} as k
              where k.event_id = s.event_id and k.run_id <> ? and {loaded_later_than("s")}
          )
        qualify row_number() over (partition by s.event_id order by s.arrived_on, s.source_file, s.line_no) = 1
        """,
        [newest, run_id],
    ).fetchall()
    ((replaced,),) = con.execute("select count(*) from earlier_deliveries").fetchall()
    if not replaced:
        return 0
    assignments = ", ".join(f"{c} = e.{c}" for c in kind.output_columns if c != "event_id")
    con.execute(
        f"""
        update {kind.raw_table} as k set {assignments}
        from earlier_deliveries as e
        where k.event_id = e.event_id and k.run_id <> ? and {loaded_later_than("e")}
        """,
        [run_id],
    ).fetchall()
    return int(replaced)


# The characters around an id in a row's text, as a SQL string literal.
_ID_EDGE_SQL = "'" + ID_EDGE.replace("'", "''") + "'"

# Staged columns that can carry an identifier, and the identity_map type each one holds.
_IDENTIFIER_COLUMNS = {
    "user_id": "user_id",
    "anonymous_id": "anonymous_id",
    "email_hash": "email",
    "handle_hash": "social_handle",
}


def _stage_withholding_forgotten(con: duckdb.DuckDBPyConnection, staging_model: str) -> int:
    """Fill ``staged`` from the staging view, less the rows of forgotten customers; return how many.

    A row is withheld, good or bad, when any identifier on it (user_id, e-mail hash, handle
    hash; anonymous_id unless the row names someone else by a user id or e-mail that is not
    forgotten, on a shared device) is in ``raw.forgotten_identifiers``, compared as the keyed hash
    of ``<identifier_type>:<identifier>`` (see :mod:`journey_analytics.forget`); a refused row
    also when its text holds a forgotten user id or device between quotes or separators. Withheld rows go to no table, not
    even quarantine; ``staged_forgotten`` keeps only their file names, for the per-file counts.
    """
    (any_forgotten,) = con.execute("select exists (select 1 from raw.forgotten_identifiers)").fetchall()[0]
    # the view's columns from the catalog (describing the view by a query would plan it once more)
    columns = [r[0] for r in con.execute(
        "select column_name from duckdb_columns() where database_name = 'temp' and table_name = ?", [staging_model]
    ).fetchall()]
    if not columns:
        raise RuntimeError(f"no staging view {staging_model} to load from")
    def forgotten(column: str) -> str:
        return f"keyed_hash('{_IDENTIFIER_COLUMNS[column]}:' || {column}) in (select identifier_hash from raw.forgotten_identifiers)"

    checks = [forgotten(column) for column in _IDENTIFIER_COLUMNS if column in columns and column != "anonymous_id"]
    if "anonymous_id" in columns:
        # a forgotten device's row that names someone else (their user id or e-mail) is theirs, on
        # a shared device (a kiosk): it loads, as `journey forget` kept such rows
        someone_else = [f"({c} is not null and not {forgotten(c)})" for c in ("user_id", "email_hash") if c in columns]
        device = forgotten("anonymous_id")
        if "anonymous_id_as_given_hash" in columns:  # erased before device ids that are addresses were pseudonymized
            device = f"({device} or anonymous_id_as_given_hash in (select identifier_hash from raw.forgotten_identifiers))"
        checks.append(f"({device} and not ({' or '.join(someone_else) or 'false'}))")
    if "user_id_as_given_hash" in columns:  # erased before user ids that are addresses were pseudonymized
        checks.append("user_id_as_given_hash in (select identifier_hash from raw.forgotten_identifiers)")
    if "email_as_given_hash" in columns:  # erased before an encoded @ in an e-mail field was decoded
        checks.append("email_as_given_hash in (select identifier_hash from raw.forgotten_identifiers)")
    if "email_a_label_hash" in columns:  # erased in its 'xn--' spelling before domains were given one form
        checks.append("email_a_label_hash in (select identifier_hash from raw.forgotten_identifiers)")
    if "handle_as_given_hash" in columns:  # erased before handles were composed and invisible marks trimmed
        checks.append("handle_as_given_hash in (select identifier_hash from raw.forgotten_identifiers)")
    if "raw_masked" in columns:
        # A refused row may not have been parsed into columns (a broken JSON line): its text is
        # searched for a forgotten user id or device, as `journey forget` searched quarantine.
        checks.append(
            f"""(raw_masked is not null and len(list_filter(
                regexp_split_to_array(raw_masked, {_ID_EDGE_SQL}),
                lambda t: t <> '' and (
                    list_contains(forgotten_, keyed_hash('user_id:' || t))
                    or list_contains(forgotten_, keyed_hash('anonymous_id:' || t))
                )
            )) > 0)"""
        )
    if not any_forgotten or not checks:
        con.execute(f"create or replace temp table staged as select * from {staging_model}").fetchall()
        con.execute("create or replace temp table staged_forgotten (source_file varchar)").fetchall()
        return 0
    con.execute(
        f"""
        create or replace temp table staged_all as
        with forgotten as (select list(identifier_hash) as forgotten_ from raw.forgotten_identifiers)
        select s.*, coalesce({" or ".join(checks)}, false) as is_forgotten_
        from {staging_model} as s
        cross join forgotten
        """
    ).fetchall()
    con.execute(
        "create or replace temp table staged as select * exclude (is_forgotten_) from staged_all where not is_forgotten_"
    ).fetchall()
    con.execute(
        "create or replace temp table staged_forgotten as select source_file from staged_all where is_forgotten_"
    ).fetchall()
    con.execute("drop table staged_all").fetchall()
    return int(con.execute("select count(*) from staged_forgotten").fetchall()[0][0])


def _record_files(
    con: duckdb.DuckDBPyConnection,
    kind: LandingKind,
    files: list[LandingFile],
    unreadable: dict[str, str],
    run_id: str,
) -> None:
    """Remember each file read (with its counts) and quarantine whole-file errors."""
    if not files:
        return
    counts = {
        row[0]: row[1:]
        for row in con.execute(
            "select source_file, rows_read, rows_quarantined, rows_loaded, rows_forgotten from staged_file_counts"
        ).fetchall()
    }
    rows = []
    for f in files:
        read, quarantined, loaded, forgotten = counts.get(f.source_file, (0, 0, 0, 0))
        rows.append(
            (
                f.source_file, f.file_format, f.size_bytes, f.modified_at,
                read, loaded, quarantined, read - loaded - quarantined - forgotten,
                unreadable.get(f.source_file), forgotten,
            )
        )
    # One statement for all the files (a statement per file cost a millisecond each). A file that
    # could not be read is tried again on every run; it is recorded again only when it changed or
    # fails for another reason, so a stray file (a checksum, a marker of another tool) does not add
    # a row on every run for as long as it lies in the landing folder.
    columns = [list(column) for column in zip(*rows, strict=True)]
    con.execute(
        """
        insert into raw.ingested_files (
            source_file, kind, file_format, size_bytes, modified_at, rows_read, rows_loaded,
            rows_quarantined, rows_duplicate, file_error, run_id, read_at, rows_forgotten
        )
        select f.source_file, ?, f.file_format, f.size_bytes, f.modified_at, f.rows_read, f.rows_loaded,
            f.rows_quarantined, f.rows_duplicate, f.file_error, ?, now(), f.rows_forgotten
        from (
            select unnest(cast(? as varchar[])) as source_file, unnest(cast(? as varchar[])) as file_format,
                unnest(cast(? as bigint[])) as size_bytes, unnest(cast(? as timestamp[])) as modified_at,
                unnest(cast(? as bigint[])) as rows_read, unnest(cast(? as bigint[])) as rows_loaded,
                unnest(cast(? as bigint[])) as rows_quarantined, unnest(cast(? as bigint[])) as rows_duplicate,
                unnest(cast(? as varchar[])) as file_error, unnest(cast(? as bigint[])) as rows_forgotten
        ) as f
        where f.file_error is null or not exists (
            select 1 from raw.ingested_files as i
            where i.kind = ? and i.source_file = f.source_file and i.size_bytes = f.size_bytes
              and i.modified_at = f.modified_at and i.file_error = f.file_error
        )
        """,
        [kind.name, run_id, *columns, kind.name],
    ).fetchall()
    # A file read again replaces what quarantine said of its lines: a line refused before that
    # passes now (the file was read while still being written, its last line cut short, or was
    # corrected and delivered again under its name), or that is no longer in the file, or is
    # refused now as other text, is refused no longer; quarantine holds what is still wrong. (The
    # earlier run's counts stay: they say what that run did.)
    con.execute(
        """
        delete from main.quarantine as q
        where q.channel = ? and q.line_no is not null
          and list_contains(cast(? as varchar[]), q.source_file)
          and not exists (
              select 1 from staged as s
              where s.contract_error is not null and s.source_file = q.source_file
                and s.line_no = q.line_no and s.raw_masked is not distinct from q.raw
          )
        """,
        [kind.name, [f.source_file for f in files if f.source_file not in unreadable]],
    ).fetchall()
    # a file refused as a whole before that reads now (or is refused for another reason now): its
    # earlier reason is stale
    con.execute(
        """
        delete from main.quarantine
        where channel = ? and line_no is null
          and list_contains(cast(? as varchar[]), source_file)
          and not list_contains(cast(? as varchar[]), source_file || chr(0) || error)
        """,
        [kind.name, [f.source_file for f in files], [f"{name}\0{reason}" for name, reason in unreadable.items()]],
    ).fetchall()
    if not unreadable:
        return
    arrived = {f.source_file: f.arrived_on for f in files}
    con.execute(
        """
        insert into main.quarantine (channel, source_file, line_no, raw, error, arrived_on, run_id, ingested_at, reason)
        select ?, u.source_file, null, null, u.error, u.arrived_on, ?, now(), refusal_reason(null, u.error)
        from (
            select unnest(cast(? as varchar[])) as source_file, unnest(cast(? as varchar[])) as error,
                unnest(cast(? as date[])) as arrived_on
        ) as u
        where not exists (
            select 1 from main.quarantine as q where q.source_file = u.source_file and q.line_no is null and q.error = u.error
        )
        """,
        [kind.name, run_id, list(unreadable), list(unreadable.values()), [arrived[name] for name in unreadable]],
    ).fetchall()
