"""Reading one landing file, in any supported format, into rows of raw text and a JSON record.

Every format ends in the same shape, so one validation path (the staging models) serves
all of them: ``landed_<kind>_rows(source_file, arrived_on, line_no, raw, record, parse_error)``.
"""

from __future__ import annotations

import duckdb

from journey_analytics.ingest._landing import LandingFile


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def create_landed_table(con: duckdb.DuckDBPyConnection, kind: str) -> str:
    """(Re)create the empty temporary table that a kind's files are read into."""
    table = f"landed_{kind}_rows"
    con.execute(
        f"""
        create or replace temp table {table} (
            source_file varchar, arrived_on date, line_no bigint,
            raw varchar, record varchar, parse_error varchar
        )
        """
    ).fetchall()
    return table


def _read_lines(con: duckdb.DuckDBPyConnection, file: LandingFile, max_line_bytes: int) -> None:
    """Read a text file as lines into temp table file_lines(line_no, line); blank lines kept as null."""
    con.execute(
        f"""
        create or replace temp table file_lines_read as
        select line from read_csv({_lit(str(file.path))},
            columns = {{'line': 'VARCHAR'}}, header = false, delim = '\x1e', quote = '',
            escape = '', auto_detect = false, strict_mode = false, null_padding = true,
            max_line_size = {max_line_bytes}, hive_partitioning = false)
        """
    ).fetchall()
    con.execute(
        "create or replace temp table file_lines as select rowid - min(rowid) over () + 1 as line_no, line from file_lines_read"
    ).fetchall()


def read_jsonl(con: duckdb.DuckDBPyConnection, file: LandingFile, table: str, max_line_bytes: int) -> None:
    """One JSON object per line; the staging model parses it and names a line that is not one."""
    _read_lines(con, file, max_line_bytes)
    con.execute(
        f"""
        insert into {table}
        select
            ? as source_file,
            ? as arrived_on,
            line_no,
            line as raw,
            null as record,  -- the line itself is the record; staging parses it once
            null as parse_error
        from file_lines
        where line is not null and trim(line) <> ''
        """,
        [file.source_file, file.arrived_on],
    ).fetchall()


def read_jsonl_batch(
    con: duckdb.DuckDBPyConnection, files: list[LandingFile], table: str, max_line_bytes: int
) -> None:
    """Many JSONL files in one scan (fast); raises if any file cannot be read."""
    con.execute(
        "create or replace temp table batch_files (path varchar, source_file varchar, arrived_on date)"
    ).fetchall()
    con.executemany(
        "insert into batch_files values (?, ?, ?)",
        [(str(f.path), f.source_file, f.arrived_on) for f in files],
    )
    paths = "[" + ", ".join(_lit(str(f.path)) for f in files) + "]"
    # A multi-file scan keeps file order and line order (insertion order is preserved),
    # so a line's number is its position within its file.
    con.execute(
        f"""
        create or replace temp table file_lines_read as
        select filename, line from read_csv({paths},
            columns = {{'line': 'VARCHAR'}}, header = false, delim = '\x1e', quote = '',
            escape = '', auto_detect = false, strict_mode = false, null_padding = true,
            max_line_size = {max_line_bytes}, hive_partitioning = false, filename = true)
        """
    ).fetchall()
    con.execute(
        f"""
        insert into {table}
        select b.source_file, b.arrived_on, l.line_no, l.line, null, null
        from (
            select filename, rowid - min(rowid) over (partition by filename) + 1 as line_no, line
            from file_lines_read
        ) as l
        inner join batch_files as b on b.path = l.filename
        where l.line is not null and trim(l.line) <> ''
        """
    ).fetchall()


def read_csv(con: duckdb.DuckDBPyConnection, file: LandingFile, table: str, max_line_bytes: int) -> None:
    """A CSV with a header; ragged rows are kept with their parse error and exact line."""
    _read_lines(con, file, max_line_bytes)
    con.execute("drop table if exists csv_rejects").fetchall()
    con.execute("drop table if exists csv_reject_scans").fetchall()
    con.execute(
        f"""
        create or replace temp table csv_rows_read as
        select * from read_csv({_lit(str(file.path))}, header = true, all_varchar = true,
            store_rejects = true, rejects_table = 'csv_rejects', rejects_scan = 'csv_reject_scans',
            strict_mode = true, max_line_size = {max_line_bytes}, hive_partitioning = false)
        """
    ).fetchall()
    con.execute(
        "create or replace temp table csv_rows as select rowid - min(rowid) over () + 1 as row_no, cast(to_json(t) as varchar) as record from csv_rows_read t"
    ).fetchall()
    # Data lines in order, without the header, blank lines and rejected lines: the k-th of
    # them is the k-th parsed row, unless a quoted field spans lines (then fall back).
    con.execute(
        """
        create or replace temp table csv_data_lines as
        select row_number() over (order by line_no) as row_no, line_no, line
        from file_lines
        where line_no > (select min(line_no) from file_lines where line is not null and trim(line) <> '')
          and line is not null and trim(line) <> ''
          and line_no not in (select line from csv_rejects)
        """
    ).fetchall()
    exact = con.execute(
        "select (select count(*) from csv_data_lines) = (select count(*) from csv_rows)"
    ).fetchall()[0][0]
    if exact:
        con.execute(
            f"""
            insert into {table}
            select ?, ?, l.line_no, l.line, r.record, null
            from csv_rows r join csv_data_lines l using (row_no)
            """,
            [file.source_file, file.arrived_on],
        ).fetchall()
    else:
        con.execute(
            f"insert into {table} select ?, ?, row_no + 1, cast(record as varchar), record, null from csv_rows",
            [file.source_file, file.arrived_on],
        ).fetchall()
    con.execute(
        f"""
        insert into {table}
        select ?, ?, r.line, coalesce(l.line, trim(r.csv_line, chr(10) || chr(13))), null,
            'CSV row does not fit the header: ' || lower(r.error_type) || ' (' || r.error_message || ')'
        from csv_rejects as r
        left join file_lines as l on l.line_no = r.line
        qualify row_number() over (partition by r.line order by r.column_idx nulls last) = 1
        """,
        [file.source_file, file.arrived_on],
    ).fetchall()


def read_parquet(con: duckdb.DuckDBPyConnection, file: LandingFile, table: str) -> None:
    """A Parquet file; typed timestamps become epoch milliseconds, so they keep their instant."""
    path = _lit(str(file.path))
    schema = con.execute(f"describe select * from read_parquet({path}, hive_partitioning = false)").fetchall()
    fields = []
    for name, dtype, *_ in schema:
        quoted = '"' + name.replace('"', '""') + '"'
        value = f"epoch_ms({quoted})" if dtype.startswith("TIMESTAMP") else quoted
        fields.append(f"{quoted} := {value}")
    con.execute(
        f"""
        insert into {table}
        select ?, ?, file_row_number + 1, cast(record as varchar), record, null
        from (
            select file_row_number, to_json(struct_pack({", ".join(fields)})) as record
            from read_parquet({path}, file_row_number = true, hive_partitioning = false)
        )
        """,
        [file.source_file, file.arrived_on],
    ).fetchall()


def read_file(con: duckdb.DuckDBPyConnection, file: LandingFile, table: str, max_line_bytes: int) -> None:
    """Read one landing file into the kind's landed table, by its format."""
    if file.file_format in ("jsonl", "jsonl.gz"):
        read_jsonl(con, file, table, max_line_bytes)
    elif file.file_format == "csv":
        read_csv(con, file, table, max_line_bytes)
    elif file.file_format == "parquet":
        read_parquet(con, file, table)
    else:
        raise ValueError(f"no reader for {file.source_file}")
