"""Reading one landing file, in any supported format, into rows of raw text and a JSON record.

Every format ends in the same shape, so one validation path (the staging models) serves
all of them: ``landed_<kind>_rows(source_file, arrived_on, line_no, raw, record, parse_error)``.

Hostile input is contained at the smallest unit DuckDB allows: a line that is not UTF-8 or is
longer than ``ingest.max_line_bytes`` becomes one landed row with its ``parse_error`` (the
rest of the file loads at its own line numbers); a file that cannot be read at all (truncated
gzip, not the format its name says) raises :class:`UnreadableFile` with a clear reason; an
empty (0-byte) file is 0 rows in any format.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import tempfile
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import duckdb

from journey_analytics.contract import FIELDS
from journey_analytics.ingest._landing import LandingFile


# Errors about the machine (memory, an interruption), not about a file's contents: never taken
# for a file that cannot be read.
RESOURCE_ERRORS = (duckdb.OutOfMemoryException, duckdb.InterruptException)


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    """A column name as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _path_lit(path: Path | str) -> str:
    """A file's path as a SQL literal for DuckDB's readers, which take a path as a glob pattern:
    each ``*``, ``?`` and ``[`` is written as a one-character class, so ``part[1].csv`` reads
    that file and not ``part1.csv``, and ``q?.jsonl`` not ``qa.jsonl``."""
    return _lit("".join(f"[{c}]" if c in "*?[" else c for c in str(path)))


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


# The line reader splits on line ends only: its column delimiter is a 4-byte sequence of
# separator control characters that no real line holds (a single \x1e or \x1f in a value
# must not cut the line short).
_LINE_DELIM = "\x1e\x1f\x1e\x1f"


def line_buffer_bytes(max_line_bytes: int) -> int:
    """The CSV reader's buffer for lines of up to ``max_line_bytes``. DuckDB's default is 16 times
    the line limit (256 MiB a thread for 16 MiB lines), which a modest memory_limit cannot hold;
    twice the limit, and at least 8 MiB, reads as fast (measured on 1M events)."""
    return max(2 * max_line_bytes, 8 << 20)


def _scan_lines(con: duckdb.DuckDBPyConnection, paths: str, max_line_bytes: int) -> None:
    """Read text files as lines into temp table file_lines_read(filename, line), in file and
    line order, blank lines kept as null. A line that cannot be read (not UTF-8, longer than
    max_line_bytes) does not stop the scan: it lands in line_rejects(filename, line_no,
    error, raw) and the other lines keep their physical line numbers (see _number_lines).

    Lines end at LF or CR LF, mixed in one file as appended exports mix them: the reader is told
    so (left to itself, it takes the first line's end for the whole file and, after an LF,
    counts each CR LF as two line ends)."""
    con.execute("drop table if exists line_rejects_read").fetchall()
    con.execute("drop table if exists line_reject_scans").fetchall()
    con.execute(
        f"""
        create or replace temp table file_lines_read as
        select filename, line from read_csv({paths},
            columns = {{'line': 'VARCHAR'}}, header = false, delim = {_lit(_LINE_DELIM)}, quote = '',
            escape = '', auto_detect = false, strict_mode = false, null_padding = true, new_line = '\\r\\n',
            max_line_size = {max_line_bytes}, buffer_size = {line_buffer_bytes(max_line_bytes)},
            hive_partitioning = false, filename = true,
            store_rejects = true, rejects_table = 'line_rejects_read', rejects_scan = 'line_reject_scans')
        """
    ).fetchall()
    con.execute(
        f"""
        create or replace temp table line_rejects as
        select s.file_path as filename, r.line as line_no,
            case r.error_type
                when 'INVALID ENCODING' then 'line is not valid UTF-8 text'
                when 'LINE SIZE OVER MAXIMUM'
                    then 'line is longer than the limit of {max_line_bytes} bytes (ingest.max_line_bytes)'
                else 'line could not be read: ' || lower(r.error_type) || ' (' || r.error_message || ')'
            end as error,
            -- the rejected text, trimmed of the line ends around it; bad bytes show as '?'
            case when r.error_type = 'LINE SIZE OVER MAXIMUM'
                then left(trim(r.csv_line, chr(10) || chr(13)), 1000) || ' [... cut at 1000 characters]'
                else trim(r.csv_line, chr(10) || chr(13))
            end as raw,
            -- csv_line holds at most 10,000 bytes of a long line; its real size is in the message
            coalesce(try_cast(regexp_extract(r.error_message, 'Actual Size: *([0-9]+)', 1) as bigint),
                strlen(r.csv_line)) as line_bytes
        from line_rejects_read as r
        inner join line_reject_scans as s using (scan_id, file_id)
        qualify row_number() over (partition by s.file_path, r.line order by r.column_idx nulls last) = 1
        """
    ).fetchall()


# --- A carriage return that does not end a line ---------------------------------------------
# DuckDB's line reader ends a line at LF, CR LF and also at a bare CR. In JSON a bare CR is
# whitespace, so a valid JSON line holding one would be cut in two invalid pieces and every
# later line number would be one too high. Such a cut always leaves a piece that does not start
# with "{" (the text after whitespace inside an object never opens it) or an empty one, so only
# a file with such a line is searched for a bare CR (by Python, streamed); if it holds one, it
# is read from a copy in which each bare CR is a marker, turned back into a CR in the text.
_BARE_CR = re.compile(rb"\r(?!\n)")
_CHUNK_BYTES = 1 << 22


def _may_hold_bare_cr(line: str) -> str:
    """SQL that is true for a line that a bare CR could have cut off."""
    return f"({line} is null or (not starts_with({line}, '{{') and not starts_with(ltrim({line}), '{{')))"


def _chunks(path: Path, chunk_bytes: int) -> Iterator[bytes]:
    """A (gzipped) file's bytes, uncompressed, in chunks of at most ``chunk_bytes``."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            yield chunk


# Byte order marks, with the encoding and byte order they show; "" with each order of UTF-16 last,
# for a file without one.
_WIDE_MARKS = (
    (b"\xff\xfe\x00\x00", "UTF-32", 4, "little"), (b"\x00\x00\xfe\xff", "UTF-32", 4, "big"),
    (b"\xff\xfe", "UTF-16", 2, "little"), (b"\xfe\xff", "UTF-16", 2, "big"),
    (b"", "UTF-16", 2, "little"), (b"", "UTF-16", 2, "big"),
)


def _wide_text(head: bytes) -> str | None:
    """The encoding ("UTF-16" or "UTF-32") of a text file whose first bytes are a byte order mark
    (or none) and then two characters of ASCII text in that encoding, as a JSON or CSV file
    starts ({", a header's letters); None otherwise, also for bytes that only look like a mark
    (a garbled first line of a UTF-8 file)."""
    for mark, encoding, width, order in _WIDE_MARKS:
        if head.startswith(mark):
            body = head[len(mark):len(mark) + 2 * width]
            codes = [int.from_bytes(body[i:i + width], order) for i in range(0, len(body) - width + 1, width)]
            if len(codes) == 2 and all(9 <= code < 127 for code in codes):
                return encoding
    return None


def encoding_problem(file: LandingFile) -> str | None:
    """Why a text (JSONL or CSV) file cannot be read, seen in its first bytes: it is UTF-16 or
    UTF-32, as Excel saves "Unicode Text", not UTF-8. Read as UTF-8, its first line would be
    refused as not UTF-8 and every other as not JSON (or its CSV header as unreadable), and a
    stray last line of one NUL counted as a row. None for any other file, and for a file whose
    first bytes cannot be read (its reader says why)."""
    if file.file_format not in ("jsonl", "jsonl.gz", "csv") or file.size_bytes == 0:
        return None
    try:
        head = next(_chunks(file.path, 16), b"")
    except (OSError, EOFError, zlib.error):
        return None
    encoding = _wide_text(head)
    if encoding is None:
        return None
    return (f"the file is {encoding} text, not UTF-8 (as Excel saves \"Unicode Text\"): "
            "export it as UTF-8 (in Excel: \"CSV UTF-8\")")


def has_bare_cr(path: Path, chunk_bytes: int = _CHUNK_BYTES) -> bool:
    """Whether a (gzipped) text file holds a CR that is not followed by an LF. A file that
    Python's gzip cannot read (DuckDB could) is taken as it was read: False."""
    pending = False  # the last chunk ended with a CR: the next byte decides
    try:
        for chunk in _chunks(path, chunk_bytes):
            if pending and not chunk.startswith(b"\n"):
                return True
            pending = chunk.endswith(b"\r")
            if _BARE_CR.search(chunk[:-1] if pending else chunk):
                return True
    except (OSError, EOFError, zlib.error):
        return False
    return pending


def _copy_rewriting_cr(path: Path, target: Path, bare_cr: bytes, cr_lf: bytes, chunk_bytes: int) -> None:
    """Copy a (gzipped) text file uncompressed, each CR LF written as ``cr_lf`` and each other
    CR as ``bare_cr``, also where a chunk ends between the CR and its LF."""
    pending = False  # the last chunk ended with a CR: the next byte decides
    with open(target, "wb") as out:
        for chunk in _chunks(path, chunk_bytes):
            if pending:
                out.write(cr_lf if chunk.startswith(b"\n") else bare_cr)
                chunk = chunk[1:] if chunk.startswith(b"\n") else chunk
            pending = chunk.endswith(b"\r")
            out.write(_BARE_CR.sub(bare_cr, chunk[:-1] if pending else chunk).replace(b"\r\n", cr_lf))
        if pending:
            out.write(bare_cr)


def copy_marking_bare_cr(path: Path, target: Path, marker: bytes, chunk_bytes: int = _CHUNK_BYTES) -> None:
    """Copy a (gzipped) text file uncompressed, each bare CR replaced by ``marker``."""
    _copy_rewriting_cr(path, target, marker, b"\r\n", chunk_bytes)


def bare_cr_files(con: duckdb.DuckDBPyConnection, lines_table: str) -> list[str]:
    """The files of a line scan (its ``filename`` column) that hold a bare CR."""
    candidates = con.execute(
        f"select distinct filename from {lines_table} where {_may_hold_bare_cr('line')} order by 1"
    ).fetchall()
    return [name for (name,) in candidates if has_bare_cr(Path(name))]


# Lines are read in file order, so a line's number is its rowid less that of its file's first
# line, plus one (a small group-by and join; a window over every line costs more).
_FILE_STARTS = "select filename, min(rowid) - 1 as before from file_lines_read group by filename"


def _not_blank(column: str, tabs: bool = False) -> str:
    """SQL that is true when a line holds more than spaces (as trim() counts them: the space and
    the Unicode space separators), and, with ``tabs`` (a JSON line, where a tab is whitespace
    as a space is; in a CSV split by tabs it is a row of empty values), tabs. Only a line that
    does not start with a visible ASCII character is trimmed to find out: trimming every line
    costs as much as reading it."""
    spaced = f"replace({column}, chr(9), ' ')" if tabs else column
    return f"({column} is not null and (ascii({column}) between 33 and 126 or trim({spaced}) <> ''))"


def _number_lines(con: duckdb.DuckDBPyConnection) -> None:
    """file_lines_numbered(filename, line_no, line): each read line with its physical number.

    The k-th line read from a file is line k, plus one for each rejected line before it:
    with rejects at lines r_1 < r_2 < ..., the j-th has r_j - j read lines before it, so a
    read line k comes after every reject with r_j - j < k (found with one ASOF join).
    A view, so that the common case (no rejects) costs no more than numbering the lines."""
    (any_rejects,) = con.execute("select count(*) > 0 from line_rejects").fetchall()[0]
    if not any_rejects:
        con.execute(
            f"""
            create or replace temp view file_lines_numbered as
            select l.filename, l.rowid - s.before as line_no, l.line
            from file_lines_read as l
            inner join ({_FILE_STARTS}) as s using (filename)
            """
        ).fetchall()
        return
    con.execute(
        f"""
        create or replace temp view file_lines_numbered as
        with numbered as (
            select l.filename, l.rowid - s.before as k, l.line
            from file_lines_read as l
            inner join ({_FILE_STARTS}) as s using (filename)
        ),
        thresholds as (
            select filename, line_no - j + 1 as threshold, max(j) as rejects_before
            from (select filename, line_no, row_number() over (partition by filename order by line_no) as j
                  from line_rejects)
            group by all
        )
        select n.filename, n.k + coalesce(t.rejects_before, 0) as line_no, n.line
        from numbered as n
        asof left join thresholds as t on n.filename = t.filename and n.k >= t.threshold
        """
    ).fetchall()


def _read_lines(con: duckdb.DuckDBPyConnection, file: LandingFile, max_line_bytes: int) -> None:
    """Read a text file as lines into temp table file_lines(line_no, line); blank lines kept as
    null; lines that cannot be read are in line_rejects."""
    _scan_lines(con, _path_lit(file.path), max_line_bytes)
    _number_lines(con)
    con.execute("create or replace temp table file_lines as select line_no, line from file_lines_numbered").fetchall()


def _read_json_lines(con: duckdb.DuckDBPyConnection, file: LandingFile, max_line_bytes: int) -> None:
    """_read_lines for a JSONL file: lines end at LF (or CR LF) only; a bare CR inside a line
    (JSON whitespace) stays in its text (see has_bare_cr)."""
    _read_lines(con, file, max_line_bytes)
    if not bare_cr_files(con, "file_lines_read"):
        return
    marker = f"\x1f{uuid.uuid4().hex}\x1f"  # a text no file holds
    with tempfile.TemporaryDirectory(prefix="journey-lines-") as folder:
        copy = Path(folder) / "lines.jsonl"
        copy_marking_bare_cr(file.path, copy, marker.encode())
        _scan_lines(con, _path_lit(copy), max_line_bytes)
        _number_lines(con)
        con.execute(
            f"""
            create or replace temp table file_lines as
            select line_no, replace(line, {_lit(marker)}, chr(13)) as line from file_lines_numbered
            """
        ).fetchall()
        con.execute(f"update line_rejects set raw = replace(raw, {_lit(marker)}, chr(13))").fetchall()


def read_jsonl(con: duckdb.DuckDBPyConnection, file: LandingFile, table: str, max_line_bytes: int) -> None:
    """One JSON object per line; the staging model parses it and names a line that is not one."""
    _read_json_lines(con, file, max_line_bytes)
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
        where {_not_blank('line', tabs=True)}
        union all by name
        select ? as source_file, ? as arrived_on, line_no, raw, null as record, error as parse_error
        from line_rejects
        """,
        [file.source_file, file.arrived_on, file.source_file, file.arrived_on],
    ).fetchall()


def _create_batch_files(con: duckdb.DuckDBPyConnection, files: list[LandingFile]) -> None:
    """Temp table batch_files(path, source_file, arrived_on) of a batch's files, which a scan's
    filename column joins; one statement for all the files (a statement per file cost a
    millisecond each)."""
    con.execute(
        """
        create or replace temp table batch_files as
        select unnest(cast(? as varchar[])) as path, unnest(cast(? as varchar[])) as source_file,
            unnest(cast(? as date[])) as arrived_on
        """,
        [[str(f.path) for f in files], [f.source_file for f in files], [f.arrived_on for f in files]],
    ).fetchall()


def read_jsonl_batch(
    con: duckdb.DuckDBPyConnection, files: list[LandingFile], table: str, max_line_bytes: int
) -> list[LandingFile]:
    """Many JSONL files in one scan (fast); raises if any file cannot be read. Returns the
    files left out, to be read one by one: those with a bare CR in a line."""
    files = [f for f in files if f.size_bytes > 0]  # an empty file is 0 rows, in any format
    if not files:
        return []
    _create_batch_files(con, files)
    paths = "[" + ", ".join(_path_lit(f.path) for f in files) + "]"
    # A multi-file scan keeps file order and line order (insertion order is preserved),
    # so a line's number is its position within its file (rejected lines counted).
    _scan_lines(con, paths, max_line_bytes)
    left_out = bare_cr_files(con, "file_lines_read")
    if left_out:
        con.execute("delete from batch_files where list_contains(?, path)", [left_out]).fetchall()
    _number_lines(con)
    # Copied into the landed table, then the scan's table is freed. (A view over the scan's
    # table saves the copy, about 10% of web ingest at 10M events, but staging through it needs
    # more memory: with a small memory_limit it failed where the copy spills.)
    con.execute(
        f"""
        insert into {table}
        select b.source_file, b.arrived_on, l.line_no, l.line, null, null
        from file_lines_numbered as l
        inner join batch_files as b on b.path = l.filename
        where {_not_blank('l.line', tabs=True)}
        union all
        select b.source_file, b.arrived_on, r.line_no, r.raw, null, r.error
        from line_rejects as r
        inner join batch_files as b on b.path = r.filename
        """
    ).fetchall()
    con.execute("drop table file_lines_read").fetchall()
    return [f for f in files if str(f.path) in left_out]


def physical_lines(path: Path, positions: list[int], chunk_bytes: int = _CHUNK_BYTES) -> dict[int, int]:
    """The line (1 + the LFs before it) at each byte position of a file, in one streamed pass."""
    wanted = sorted(set(positions))
    found: dict[int, int] = {}
    offset = 0
    lines_before = 0
    next_wanted = 0
    with open(path, "rb") as handle:
        while next_wanted < len(wanted) and (chunk := handle.read(chunk_bytes)):
            while next_wanted < len(wanted) and wanted[next_wanted] <= offset + len(chunk):
                position = wanted[next_wanted]
                found[position] = 1 + lines_before + chunk.count(b"\n", 0, position - offset)
                next_wanted += 1
            offset += len(chunk)
            lines_before += chunk.count(b"\n")
    for position in wanted[next_wanted:]:  # past the end
        found[position] = 1 + lines_before
    return found


def _number_csv_rejects(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Give each row the CSV reader rejected (csv_rejects) its physical line number. The reader
    numbers records, and a quoted value may span lines, so its number is found from the byte
    where the row starts (only files with rejected rows pay for this pass)."""
    positions = [int(p) for (p,) in con.execute("select distinct line_byte_position from csv_rejects").fetchall()]
    if not positions:
        return
    lines = physical_lines(path, positions)
    con.execute(
        "create or replace temp table csv_reject_lines as select unnest(?::bigint[]) as position, unnest(?::bigint[]) as line_no",
        [list(lines), list(lines.values())],
    ).fetchall()
    con.execute(
        """
        update csv_rejects set line = l.line_no
        from csv_reject_lines as l
        where csv_rejects.line_byte_position = l.position
        """
    ).fetchall()


_CSV_DELIMITERS = (",", ";", "\t", "|")


def _csv_line_ends_within(csv_line: str) -> str:
    """SQL for the line ends inside a refused row's text as the CSV reader gives it (its
    csv_line): a row that spans lines holds them; the reader also gives a row the line ends
    before it (a blank line, the LF of a CR LF) and may give the one after it, which are not its."""
    text = f"trim(coalesce({csv_line}, ''), chr(10) || chr(13))"
    return f"(strlen({text}) - strlen(replace({text}, chr(10), '')))"


# A CSV delimiter in an RE2 pattern, as itself and inside a character class.
_RE2_DELIMITER = {",": (",", ","), ";": (";", ";"), "\t": ("\\t", "\\t"), "|": ("\\|", "|")}


def _csv_quote_patterns(delimiter: str, escape: str) -> tuple[str, str]:
    """RE2 patterns that a CSV line fully matches when it ends inside a quoted value (a value
    that goes on to the next line), having started outside one, and having started inside one.
    As the reader parses: a quote opens a value only at its start (after at most one space); one
    elsewhere in an unquoted value is a character of it; inside a quoted value a quote is doubled (or,
    with a backslash escape, escaped), and after the closing quote the value ends at the
    delimiter."""
    d, not_d = _RE2_DELIMITER.get(delimiter, (",", ","))
    inside = '(?:[^"]|"")*' if escape == '"' else r'(?:[^"\\]|\\.)*'
    # a value still open at the line's end (with a backslash escape, the line end may be the
    # escaped character: MySQL writes a line end inside a value so)
    open_to_end = inside if escape == '"' else inside + r'\\?'
    after_close = f'(?:[^{not_d}"][^{not_d}]*)?'
    # (the reader opens a quoted value after at most one space; after two, the quote is text)
    field = f'(?: ?"{inside}"{after_close}| ?[^{not_d}" ][^{not_d}]*|  +[^{not_d}]*| *)'
    opened = f' ?"{open_to_end}'
    return f"(?:{field}{d})*{opened}", f'{open_to_end}|{inside}"{after_close}(?:{d}{field})*{d}{opened}'


def _csv_header(con: duckdb.DuckDBPyConnection, kind: str) -> tuple[str, list[str], int, str] | None:
    """The delimiter, column names (without spaces around them) and number of lines before it
    (blank ones) of a CSV's header line (its first line that is not blank),
    when it names a field of the contract; None otherwise (the reader then guesses, and a file
    without a header is refused by _check_csv_header). Given the dialect, the reader need not
    guess it from the rows: one value with an unterminated quote made it read the whole file as
    if nothing were quoted, so every quoted value holding a comma split and its row was refused,
    while the broken row loaded with its quote."""
    rows = con.execute(
        f"select line, line_no from file_lines where {_not_blank('line')} order by line_no limit 1"
    ).fetchall()
    if not rows or rows[0][0] is None:
        return None
    # a quote inside a value is doubled (RFC 4180), or written \" by exporters that escape with a
    # backslash (MySQL's, a csv writer with an escapechar): a file with no \" is RFC 4180; one
    # with any is parsed both ways (see _parse_csv_either_escape)
    ((backslashed,),) = con.execute(r"select coalesce(bool_or(contains(line, '\"')), false) from file_lines").fetchall()
    return _csv_header_of(rows[0][0], int(rows[0][1]), backslashed, kind)


def _csv_header_of(first_line: str, line_no: int, backslashed: bool, kind: str) -> tuple[str, list[str], int, str] | None:
    """_csv_header from a file's first line that is not blank, its number, and whether any of its
    lines holds a backslashed quote."""
    line = first_line.lstrip("\ufeff").rstrip("\r")
    fields = FIELDS[kind]
    best: tuple[int, str, list[str]] | None = None
    for delimiter in _CSV_DELIMITERS:
        try:
            names = [name.strip() for name in next(csv.reader([line], delimiter=delimiter, quotechar='"'), [])]
        except csv.Error:  # a value beyond Python's field size limit (131,072 characters) names no field
            continue
        found = sum(1 for name in names if name in fields)
        if found and (best is None or found > best[0]):
            best = (found, delimiter, names)
    if best is None:
        return None
    _, delimiter, names = best
    if any(not name for name in names) or len(set(names)) != len(names):
        return None  # the reader's own naming of empty and repeated columns
    names = _unique_ignoring_case(names, fields)
    return delimiter, names, line_no - 1, "\\" if backslashed else '"'


def _unique_ignoring_case(names: list[str], fields: tuple[str, ...] | list[str]) -> list[str]:
    """Column names DuckDB can hold together: it compares them ignoring case, so of two header
    names that differ in case only (``Extra`` and ``extra``, or ``EVENT_NAME`` beside the
    contract's ``event_name``) the second, or the one that is not the contract's spelling, is
    named ``<name>_1`` (``_2``, ...), as the reader names a repeated column. (Given both, the
    reader refused the whole file: "Duplicate named argument".)"""
    taken = {name.lower() for name in names}
    keeps = {name.lower(): name for name in reversed(names)}  # the first spelling of each
    keeps.update({name.lower(): name for name in names if name in fields})  # the contract's, if given
    out = []
    for name in names:
        if keeps[name.lower()] == name:
            out.append(name)
            continue
        n = 1
        while f"{name}_{n}".lower() in taken:
            n += 1
        taken.add(f"{name}_{n}".lower())
        out.append(f"{name}_{n}")
    return out


def _parse_csv_either_escape(
    con: duckdb.DuckDBPyConnection, path: Path, line_limit: int, header: tuple[str, list[str], int, str] | None
) -> str:
    """_parse_csv, for a file that may escape a quote inside a value with a backslash (its header
    says \\"-escaped when any line holds \\"): parsed both ways, the reading that refuses fewer
    rows kept. A value that ends in a backslash ("C:\\temp\\", "not sure :\\") is RFC 4180's
    backslash and closing quote; read as an escaped quote, it left the value open and the next
    row was swallowed into a refused one. When both refuse as many, a file holding \\\\ is taken
    for escaped (an escaping writer doubles every backslash: "C:\\\\temp\\\\" is C:\\temp\\), any
    other for RFC 4180. Returns the escape of the reading kept."""
    if header is None or header[3] == '"':
        _parse_csv(con, path, line_limit, header)
        return '"'
    as_rfc_4180 = (header[0], header[1], header[2], '"')
    _parse_csv(con, path, line_limit, as_rfc_4180)
    refused_as_rfc_4180 = _rows_refused(con)
    _parse_csv(con, path, line_limit, header)
    refused_as_escaped = _rows_refused(con)
    if refused_as_escaped < refused_as_rfc_4180:
        return header[3]
    if refused_as_escaped == refused_as_rfc_4180:
        ((doubled,),) = con.execute(
            r"select coalesce(bool_or(contains(line, '\\')), false) from file_lines"
        ).fetchall()
        if doubled:
            return header[3]
    _parse_csv(con, path, line_limit, as_rfc_4180)
    return '"'


def _rows_refused(con: duckdb.DuckDBPyConnection) -> int:
    """Rows the last _parse_csv refused (csv_rejects gives a row once for each error)."""
    ((refused,),) = con.execute("select count(distinct line_byte_position) from csv_rejects").fetchall()
    return int(refused)


def _parse_csv(
    con: duckdb.DuckDBPyConnection, path: Path, line_limit: int, header: tuple[str, list[str], int, str] | None = None
) -> None:
    """Parse a CSV file with its header into csv_rows_read; refused rows into csv_rejects.
    With ``header`` (delimiter, column names, blank lines before it, escape) the dialect is given,
    not guessed: values are quoted with '"', a quote inside one doubled (RFC 4180) or escaped."""
    con.execute("drop table if exists csv_rejects").fetchall()
    con.execute("drop table if exists csv_reject_scans").fetchall()
    dialect = "all_varchar = true"
    if header is not None:
        delimiter, names, skip, escape = header
        columns = ", ".join(f"{_lit(name)}: 'VARCHAR'" for name in names)
        # skip: the blank lines before the header (else the reader takes the first for the header)
        dialect = (f"auto_detect = false, delim = {_lit(delimiter)}, quote = '\"', escape = {_lit(escape)}, "
                   f"skip = {skip}, columns = {{{columns}}}")
    con.execute(
        f"""
        create or replace temp table csv_rows_read as
        select * from read_csv({_path_lit(path)}, header = true, {dialect},
            store_rejects = true, rejects_table = 'csv_rejects', rejects_scan = 'csv_reject_scans',
            strict_mode = true, max_line_size = {line_limit}, buffer_size = {line_buffer_bytes(line_limit)},
            hive_partitioning = false)
        """
    ).fetchall()


def mixes_line_ends(path: Path, chunk_bytes: int = _CHUNK_BYTES) -> bool:
    """Whether a file has lines ending in CR LF and lines ending in a lone LF."""
    crlf = lone_lf = False
    last = b""
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            ends = chunk.count(b"\n")
            pairs = chunk.count(b"\r\n") + (1 if last == b"\r" and chunk.startswith(b"\n") else 0)
            crlf = crlf or pairs > 0
            lone_lf = lone_lf or ends > pairs
            if crlf and lone_lf:
                return True
            last = chunk[-1:]
    return False


def copy_with_lf_line_ends(path: Path, target: Path, chunk_bytes: int = _CHUNK_BYTES) -> None:
    """Copy a file with each CR LF written as LF (so its line numbers stay)."""
    _copy_rewriting_cr(path, target, b"\r", b"\n", chunk_bytes)


def _check_csv_header(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    """Refuse a CSV whose first line names no field of the contract: it has no header (its first
    row would be taken for one and lost) or one in another spelling."""
    names = [name for name, *_ in con.execute("describe csv_rows_read").fetchall()]
    fields = FIELDS[kind]
    if not names or any(name in fields for name in names):
        return
    if any(name.strip().lower().replace(" ", "_") in fields for name in names):
        shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
        raise UnreadableFile(
            f"the CSV header ({shown}) names no field as the contract spells them: field names are "
            f"lower case, such as {', '.join(fields[:3])}"
        )
    # (the line itself is not quoted: without a header it is a row, and may hold an address)
    raise UnreadableFile(
        f"the first line names no field of the contract ({', '.join(fields[:3])}, ...): "
        "a CSV file needs a header line"
    )


def _json_object_without_nulls(values: list[tuple[str, str]]) -> str:
    """SQL for a JSON object (as text) of ``(name, value SQL)`` pairs, each value as its JSON type,
    leaving out a name whose value is null, as a JSON line leaves out a field it has no value for.
    (With every column as a key, null or not, each row counts more keys than values and takes
    staging's slow path for fields beyond the contract: CSV staging took six times JSON's, and
    Parquet staging three times.)"""
    if not values:
        return "'{}'"
    pairs = ", ".join(
        f"case when {value} is not null then {_lit(json.dumps(name) + ':')} || cast(to_json({value}) as varchar) end"
        for name, value in values
    )
    return f"'{{' || concat_ws(',', {pairs}) || '}}'"


def _csv_record(con: duckdb.DuckDBPyConnection) -> str:
    """SQL for a parsed CSV row (csv_rows_read, all text) as a JSON object of its values, an
    empty value left out (see _json_object_without_nulls)."""
    names = [name for name, *_ in con.execute("describe csv_rows_read").fetchall()]
    return _json_object_without_nulls([(name, f"t.{_ident(name)}") for name in names])


def read_csv(con: duckdb.DuckDBPyConnection, file: LandingFile, table: str, max_line_bytes: int) -> None:
    """A CSV with a header; ragged rows are kept with their parse error and exact line."""
    _read_lines(con, file, max_line_bytes)
    (header_error,) = con.execute(
        f"""
        select first(r.error order by r.line_no) from line_rejects as r
        where r.line_no < coalesce(
            (select min(line_no) from file_lines where {_not_blank('line')}), r.line_no + 1)
        """
    ).fetchall()[0]
    if header_error is not None:
        raise UnreadableFile(f"the CSV header line cannot be read: {header_error}")
    # The CSV parser must get past the lines the line reader refused as too long (they are
    # quarantined from line_rejects below), or it fails the whole file while sniffing.
    (longest,) = con.execute("select coalesce(max(line_bytes), 0) from line_rejects").fetchall()[0]
    csv_line_limit = max(max_line_bytes, int(longest) + 1024)
    header = _csv_header(con, file.kind)
    with tempfile.TemporaryDirectory(prefix="journey-csv-") as folder:
        try:
            source = file.path
            escape = _parse_csv_either_escape(con, source, csv_line_limit, header)
        except duckdb.InvalidInputException as exc:
            # DuckDB's CSV reader takes one line end for a whole file: a file whose lines end in
            # CR LF and LF (an export appended to another) is read from a copy with LF ends only
            cannot_parse = "Error when sniffing" in str(exc) or "state machine reached an invalid state" in str(exc)
            if not cannot_parse or not mixes_line_ends(file.path):
                raise
            source = Path(folder) / "lf.csv"
            copy_with_lf_line_ends(file.path, source)
            escape = _parse_csv_either_escape(con, source, csv_line_limit, header)
        _number_csv_rejects(con, source)
    _check_csv_header(con, file.kind)
    # (a table made anew numbers its rows from 0, in the order the reader gave them)
    # (the records first, in a table of their own: a CSV column named rowid would stand for the
    # table's own row number in csv_rows_read)
    con.execute(f"create or replace temp table csv_records as select {_csv_record(con)} as record from csv_rows_read t").fetchall()
    con.execute("create or replace temp table csv_rows as select rowid + 1 as row_no, record from csv_records").fetchall()
    con.execute("drop table csv_records").fetchall()
    # Records in order, each at the physical line it starts on, without the header, blank
    # lines and rejected rows: the k-th of them is the k-th parsed row. A line starts a record
    # when the quotes before it are balanced (a quote inside a quoted field is doubled, so a
    # field that spans lines leaves an odd count until it closes). If the counts disagree (a
    # quoting this cannot follow), fall back to row numbers below.
    # (A line too long to read is known by its first 1000 characters only: it is taken as one
    # whole record, its quotes balanced, as a huge quoted value on one line is.)
    # The lines of each refused row (a value whose quote is left open runs on to the quote that
    # closes it, lines later): their quotes are counted for none, so the rows after it are found.
    con.execute(
        f"""
        create or replace temp table csv_reject_spans as
        select line as first_line, max(line + {_csv_line_ends_within('csv_line')}) as last_line
        from csv_rejects
        group by line
        """
    ).fetchall()
    con.execute(
        f"""
        create or replace temp table csv_physical_lines as
        with lines as (
            select line_no, line, strlen(line) - strlen(replace(line, '"', '')) as quotes from file_lines
            union all
            select line_no, raw, case when error like 'line is longer than the limit%' then 0
                else strlen(raw) - strlen(replace(raw, '"', '')) end
            from line_rejects
        )
        select l.line_no, l.line, case when s.first_line is null then l.quotes else 0 end as quotes,
            s.first_line is not null as in_refused_row
        from lines as l
        left join csv_reject_spans as s on l.line_no between s.first_line and s.last_line
        """
    ).fetchall()
    ((spans_lines,),) = con.execute(
        "select coalesce(bool_or(quotes % 2 = 1), false) from csv_physical_lines"
    ).fetchall()
    if spans_lines:
        # A line's quotes open or close a value as the reader takes them (a quote in the middle
        # of an unquoted value is a character of it: TV 55" OLED; counting every quote, a line
        # after it was taken for part of its record and the rows after it were numbered wrong).
        # Each line leaves the state it starts in (inside a quoted value or not) as it was,
        # changes it, or sets it whatever it was; a line starts a record when the state before
        # it is outside: the last line that set it, and the changes since.
        # (with no header naming the contract's fields the reader guessed the delimiter: each
        # quote is counted, a line with an odd count changing the state)
        if header is not None:
            from_outside, from_inside = _csv_quote_patterns(header[0], escape)
            moves = (f"regexp_full_match(coalesce(line, ''), {_lit(from_outside)})",
                     f"regexp_full_match(coalesce(line, ''), {_lit(from_inside)})")
        else:
            moves = ("quotes % 2 = 1", "quotes % 2 = 0")
        records = f"""
            quote_moves as (
                select
                    line_no,
                    line,
                    in_refused_row,
                    case when coalesce(quotes, 0) = 0 then false else {moves[0]} end as out_to_in,
                    case when coalesce(quotes, 0) = 0 then true else {moves[1]} end as in_to_in
                from csv_physical_lines
            ),
            quote_changes as (
                select
                    *,
                    case when out_to_in = in_to_in then out_to_in::int end as sets_inside,
                    sum((out_to_in and not in_to_in)::int) over (order by line_no rows unbounded preceding) as changes_through
                from quote_moves
            ),
            quote_parity as (
                select
                    line_no,
                    line,
                    in_refused_row,
                    -- (running maxima, not last_value(... ignore nulls), which DuckDB computes in
                    -- time that grows with the square of the lines since the last line that set
                    -- the state: 28 s for a file of a million lines with one inch mark in it)
                    (coalesce(max(case when sets_inside is not null then line_no * 2 + sets_inside end) over before, 0) % 2
                        + coalesce(lag(changes_through) over (order by line_no), 0)
                        - coalesce(max(case when sets_inside is not null then changes_through end) over before, 0)
                    ) % 2 = 0 as starts_record
                from quote_changes
                window before as (order by line_no rows between unbounded preceding and 1 preceding)
            ),
            numbered_records as (
                select
                    line_no,
                    line,
                    in_refused_row,
                    sum(case when starts_record then 1 else 0 end) over (order by line_no rows unbounded preceding) as record_no
                from quote_parity
            ),
            records as (
                select min(line_no) as line_no, string_agg(coalesce(line, ''), chr(10) order by line_no) as line,
                    bool_or(in_refused_row) as in_refused_row
                from numbered_records
                group by record_no
            )"""
    else:
        # no line leaves a quote open (the common case): each line is a record of its own
        records = "records as (select line_no, line, in_refused_row from csv_physical_lines)"
    con.execute(
        f"""
        create or replace temp table csv_data_lines as
        with {records}
        select row_number() over (order by line_no) as row_no, line_no, line
        from records
        where line_no > (select min(line_no) from file_lines where {_not_blank('line')})
          and {_not_blank('line')}
          and not in_refused_row
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
            where l.line_no not in (select line_no from line_rejects)
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
        select ?, ?, r.line,
            case
                -- a refused row that spans lines (a quote left open) is quarantined with them all:
                -- a row the open quote swallowed is in no other row
                -- (the reader's own text of the row: the line it is numbered by may be a blank
                -- one before it, which a CR LF file with blank lines gives)
                when {_csv_line_ends_within('r.csv_line')} > 0
                    then replace(trim(r.csv_line, chr(10) || chr(13)), chr(13) || chr(10), chr(10))
                else coalesce(l.line, lr.raw, trim(r.csv_line, chr(10) || chr(13)))
            end,
            null,
            case
                when lr.error is not null then lr.error
                when r.error_type = 'UNQUOTED VALUE'
                    then 'CSV row has a value with an unterminated quote (a " opens it and none closes it)'
                else 'CSV row does not fit the header: ' || lower(r.error_type) || ' (' || r.error_message || ')'
            end
        from csv_rejects as r
        left join file_lines as l on l.line_no = r.line
        left join line_rejects as lr on lr.line_no = r.line
        qualify row_number() over (partition by r.line order by r.column_idx nulls last) = 1
        union all
        -- lines the line reader refused and the CSV reader did not report
        select ?, ?, lr.line_no, lr.raw, null, lr.error
        from line_rejects as lr
        where lr.line_no not in (select line from csv_rejects)
        """,
        [file.source_file, file.arrived_on, file.source_file, file.arrived_on],
    ).fetchall()


def read_csv_batch(
    con: duckdb.DuckDBPyConnection, files: list[LandingFile], table: str, max_line_bytes: int, kind: str
) -> list[LandingFile]:
    """Many CSV files in few scans: one scan of their lines, and one parse for each header (its
    dialect and names). A statement per file cost about 20 ms, and read_csv runs about ten
    (3.8 s of web ingest at 1M events in 50 files). Only plain files are read so: each line one
    record (no quoted value spanning lines, no blank line between rows, no \\" that may escape a
    quote), no line or row refused,
    the header naming a field of the contract, as many rows parsed as data lines. The others are
    returned, to be read one by one by read_csv, which numbers their refused rows and says why a
    file cannot be read. Raises if a file cannot be read at all."""
    files = [f for f in files if f.size_bytes > 0]  # an empty file is 0 rows, in any format
    if not files:
        return []
    by_path = {str(f.path): f for f in files}
    paths = "[" + ", ".join(_path_lit(f.path) for f in files) + "]"
    _scan_lines(con, paths, max_line_bytes)
    _number_lines(con)
    con.execute(
        f"""
        create or replace temp table csv_batch_lines as
        select filename, line_no, line, {_not_blank('line')} as not_blank,
            strlen(line) - strlen(replace(line, '"', '')) as quotes
        from file_lines_numbered
        """
    ).fetchall()
    con.execute("drop table file_lines_read").fetchall()
    # each file's first line that is not blank (its header), whether a line leaves a quote open,
    # holds a backslashed quote or was refused, and how many blank lines lie between its rows
    facts = con.execute(
        r"""
        with files as (
            select filename,
                arg_min(line, line_no) filter (where not_blank) as header,
                min(line_no) filter (where not_blank) as header_line_no,
                max(line_no) filter (where not_blank) as last_line_no,
                coalesce(bool_or(quotes % 2 = 1), false) as spans_lines,
                coalesce(bool_or(contains(line, '\"')), false) as backslashed,
                filename in (select filename from line_rejects) as refused
            from csv_batch_lines
            group by filename
        )
        select f.filename, f.header, f.header_line_no, f.spans_lines, f.backslashed, f.refused,
            (select count(*) from csv_batch_lines as l where l.filename = f.filename and not l.not_blank
                and l.line_no between f.header_line_no and f.last_line_no) as blank_lines_between
        from files as f
        """
    ).fetchall()
    left_out = {str(f.path) for f in files} - {name for name, *_ in facts}  # (no line read)
    groups: dict[tuple[str, tuple[str, ...], int, str], list[tuple[str, int]]] = {}
    for name, header_line, header_line_no, spans_lines, backslashed, refused, blank_lines_between in facts:
        header = None if header_line is None else _csv_header_of(header_line, header_line_no, backslashed, kind)
        if header is None or spans_lines or refused or blank_lines_between or backslashed:
            # (a \" may be an escaped quote or a value's last backslash: read_csv tries both)
            left_out.add(name)
            continue
        delimiter, names, skip, escape = header
        groups.setdefault((delimiter, tuple(names), skip, escape), []).append((name, header_line_no))
    for (delimiter, names, skip, escape), group in groups.items():
        columns = ", ".join(f"{_lit(name)}: 'VARCHAR'" for name in names)
        record = _json_object_without_nulls([(name, f"t.{_ident(name)}") for name in names])
        group_paths = "[" + ", ".join(_path_lit(name) for name, _ in group) + "]"
        con.execute("drop table if exists csv_batch_rejects").fetchall()
        con.execute("drop table if exists csv_batch_reject_scans").fetchall()
        try:
            con.execute(
                f"""
                create or replace temp table csv_batch_rows as
                select filename, {record} as record from read_csv({group_paths}, header = true,
                    auto_detect = false, delim = {_lit(delimiter)}, quote = '"', escape = {_lit(escape)},
                    skip = {skip}, columns = {{{columns}}}, filename = true,
                    store_rejects = true, rejects_table = 'csv_batch_rejects', rejects_scan = 'csv_batch_reject_scans',
                    strict_mode = true, max_line_size = {max_line_bytes}, buffer_size = {line_buffer_bytes(max_line_bytes)},
                    hive_partitioning = false) as t
                """
            ).fetchall()
        except RESOURCE_ERRORS:
            raise  # the machine, not the files
        except duckdb.Error:
            # (mixed line ends, a column named filename, ...): read_csv reads them one by one
            left_out.update(name for name, _ in group)
            continue
        con.execute(
            """
            create or replace temp table csv_batch_files as
            select unnest(cast(? as varchar[])) as path, unnest(cast(? as varchar[])) as source_file,
                unnest(cast(? as date[])) as arrived_on, unnest(cast(? as bigint[])) as header_line_no
            """,
            [[name for name, _ in group], [by_path[name].source_file for name, _ in group],
             [by_path[name].arrived_on for name, _ in group], [line_no for _, line_no in group]],
        ).fetchall()
        # A file with a refused row, or with other than one row for each line after its header
        # that is not blank, is read alone. (Rows come in file and line order: a file's k-th row
        # is the line k after its header, there being no blank line between them.)
        con.execute(
            """
            create or replace temp table csv_batch_unplain as
            with parsed as (select filename, count(*) as n from csv_batch_rows group by filename),
            data_lines as (
                select l.filename, count(*) filter (where l.not_blank and l.line_no > b.header_line_no) as n
                from csv_batch_lines as l
                inner join csv_batch_files as b on b.path = l.filename
                group by l.filename
            )
            select d.filename
            from data_lines as d
            left join parsed as p using (filename)
            where coalesce(p.n, 0) <> d.n
            union
            select s.file_path from csv_batch_rejects as r inner join csv_batch_reject_scans as s using (scan_id, file_id)
            """
        ).fetchall()
        left_out.update(name for (name,) in con.execute("select filename from csv_batch_unplain").fetchall())
        con.execute(
            f"""
            insert into {table}
            with starts as (
                select filename, min(rowid) - 1 as before from csv_batch_rows group by filename
            )
            select b.source_file, b.arrived_on, l.line_no, l.line, r.record, null
            from csv_batch_rows as r
            inner join starts as s using (filename)
            inner join csv_batch_files as b on b.path = r.filename
            inner join csv_batch_lines as l on l.filename = r.filename and l.line_no = b.header_line_no + (r.rowid - s.before)
            where r.filename not in (select filename from csv_batch_unplain)
            """
        ).fetchall()
    for name in ("csv_batch_lines", "csv_batch_rows", "csv_batch_files", "csv_batch_unplain"):
        con.execute(f"drop table if exists {name}").fetchall()
    return [f for f in files if str(f.path) in left_out]


def _utc_microseconds(column: str, dtype: str) -> str:
    """SQL for a Parquet timestamp column as a naive UTC timestamp to the microsecond.
    Nanoseconds are cut (a cast rounds 23:59:59.999999999 into the next day); other precisions
    are cast, as epoch_ns cannot hold a date after 2262 (a "valid until 9999-12-31")."""
    if dtype.startswith(("TIMESTAMP_NS", "TIMESTAMPTZ_NS")):
        return f"make_timestamp(epoch_ns({column}) // 1000)"
    if dtype.startswith(("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE")):
        return f"timezone('UTC', {column})"
    return f"cast({column} as timestamp)"


def _parquet_record(con: duckdb.DuckDBPyConnection, source: str) -> str:
    """SQL for a row of the Parquet files ``source`` (a read_parquet(...) call, aliased p) as a JSON
    record of its non-null values (see _json_object_without_nulls); typed timestamps become ISO-8601
    text in UTC to the microsecond (see _utc_microseconds)."""
    values = []
    for name, dtype, *_ in con.execute(f"describe select * from {source}").fetchall():
        value = f"p.{_ident(name)}"
        # any precision and zone (pandas writes ns); not a list of them (TIMESTAMP[]), which
        # to_json writes as it is (its cast refused the whole file)
        if dtype.startswith("TIMESTAMP") and not dtype.endswith("]"):
            value = f"strftime({_utc_microseconds(value, dtype)}, '%Y-%m-%dT%H:%M:%S.%fZ')"
        values.append((name, value))
    return _json_object_without_nulls(values)


def read_parquet(con: duckdb.DuckDBPyConnection, file: LandingFile, table: str) -> None:
    """A Parquet file; typed timestamps become ISO-8601 text in UTC to the microsecond, so they keep
    their instant (a timestamp without a time zone counts as UTC; nanoseconds are cut, not rounded,
    so 23:59:59.999999999 stays on its day). A null value is left out of the row's record, as it
    is of a CSV row's; the record is also the row's text in quarantine."""
    path = _path_lit(file.path)
    record = _parquet_record(con, f"read_parquet({path}, hive_partitioning = false)")
    con.execute(
        f"""
        insert into {table}
        select ?, ?, file_row_number + 1, record, record, null
        from (
            select p.file_row_number, {record} as record
            from read_parquet({path}, file_row_number = true, hive_partitioning = false) as p
        )
        """,
        [file.source_file, file.arrived_on],
    ).fetchall()


def parquet_schema_groups(
    con: duckdb.DuckDBPyConnection, files: list[LandingFile]
) -> tuple[list[list[LandingFile]], list[LandingFile]]:
    """Parquet files in groups of one schema each (a group is read in one scan), and the files
    to be read one by one: those whose schema cannot be read (the read says why), or that have
    a column named as the scan's own (filename, file_row_number). Empty files are left
    out: they are 0 rows, in any format."""
    by_schema: dict[tuple[tuple[str, str], ...], list[LandingFile]] = {}
    alone = []
    for file in files:
        if file.size_bytes == 0:
            continue
        try:
            schema = con.execute(
                f"describe select * from read_parquet({_path_lit(file.path)}, hive_partitioning = false)"
            ).fetchall()
        except RESOURCE_ERRORS:
            raise  # the machine, not the file
        except duckdb.Error:
            alone.append(file)
            continue
        if any(name.lower() in ("filename", "file_row_number") for name, *_ in schema):
            alone.append(file)  # names the scan's own columns give: read alone
            continue
        by_schema.setdefault(tuple((name, dtype) for name, dtype, *_ in schema), []).append(file)
    return list(by_schema.values()), alone


def read_parquet_batch(con: duckdb.DuckDBPyConnection, files: list[LandingFile], table: str) -> list[LandingFile]:
    """Parquet files of one schema (see parquet_schema_groups) in one scan; a statement per file
    cost about 30 ms, 1.5 s of web ingest at 1M events in 50 files. Raises if any file cannot be
    read; returns no file left out (the list a batch reader returns)."""
    _create_batch_files(con, files)
    paths = "[" + ", ".join(_path_lit(f.path) for f in files) + "]"
    record = _parquet_record(con, f"read_parquet({_path_lit(files[0].path)}, hive_partitioning = false)")
    con.execute(
        f"""
        insert into {table}
        select b.source_file, b.arrived_on, r.file_row_number + 1, r.record, r.record, null
        from (
            select p.filename, p.file_row_number, {record} as record
            from read_parquet({paths}, filename = true, file_row_number = true, hive_partitioning = false) as p
        ) as r
        inner join batch_files as b on b.path = r.filename
        """
    ).fetchall()
    return []


class UnreadableFile(duckdb.InvalidInputException):
    """A landing file that cannot be read as its format, with a message a person can act on."""


# Hints after DuckDB's first error line, for files that are not what their name says.
_HINTS = (
    ("Input is not a GZIP stream", "the file is not gzip-compressed, though its name ends in .gz"),
    ("Unexpected end of GZIP stream", "the gzip file is truncated"),
    ("No magic bytes found at end of file", "the file is not Parquet, or it is truncated"),
    ("too small to be a Parquet file", "the file is not Parquet, or it is truncated"),
    ("Error when sniffing file", "the file is not CSV text (binary data, or a bare carriage return in a value?)"),
    # the same, read with the dialect its header gives (nothing left to sniff)
    ("state machine reached an invalid state", "the file is not CSV text (binary data, or a bare carriage return in a value?)"),
)


def _clear_error(file: LandingFile, exc: duckdb.Error) -> str:
    """DuckDB's error, first line only, with the landing-relative file name and a hint."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()] or [type(exc).__name__]
    first = lines[0]
    for prefix in ("Invalid Input Error: ", "IO Error: ", "Conversion Error: ", "Parser Error: ", "Binder Error: "):
        first = first.removeprefix(prefix)
    for spelled in (f"'{file.path}'", f'"{file.path}"', str(file.path)):
        first = first.replace(spelled, file.source_file)
    for marker, hint in _HINTS:
        if marker in first:
            if marker.startswith(("Input is", "Unexpected end")):
                first = first.split(":")[0]
            return f"{first.rstrip(' .')} ({hint})"
    if first.startswith("CSV Error on Line") and len(lines) > 2 and lines[1].startswith("Original Line"):
        # lines[1] quotes the row (it may hold personal data, so it is left out); lines[2] says why
        return f"{first}: {lines[2][:200]}"
    return first


def read_file(con: duckdb.DuckDBPyConnection, file: LandingFile, table: str, max_line_bytes: int) -> None:
    """Read one landing file into the kind's landed table, by its format.

    An empty (0-byte) file is 0 rows in any format. A file that cannot be read raises
    :class:`UnreadableFile` (a ``duckdb.Error``) naming why."""
    if file.file_format not in ("jsonl", "jsonl.gz", "csv", "parquet"):
        raise ValueError(f"no reader for {file.source_file}")
    if file.size_bytes == 0:
        return
    try:
        if file.file_format in ("jsonl", "jsonl.gz"):
            read_jsonl(con, file, table, max_line_bytes)
        elif file.file_format == "csv":
            read_csv(con, file, table, max_line_bytes)
        else:
            read_parquet(con, file, table)
    except UnreadableFile:
        raise
    except duckdb.Error as exc:
        raise UnreadableFile(_clear_error(file, exc)) from exc
