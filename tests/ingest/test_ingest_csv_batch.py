"""A day of many CSV files is read in few scans (one of their lines, one parse for each header),
and loads exactly what each file loads when it is the only one: the same rows at the same line
numbers, the same refusals, the same files that cannot be read. The files below each take one
of the ways a CSV export differs from the plain one, and are read in the scan or alone."""

from __future__ import annotations

import gzip
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from journey_analytics import ingest
from journey_analytics.config import load_settings
from journey_analytics.ingest import web
from journey_analytics.ingest._landing import LandingFile, find_landing_files
from journey_analytics.ingest._read import create_landed_table, read_csv_batch
from tests.conftest import DAY1, Landing, query, run_day

HEADER = "event_id,event_ts,event_name,anonymous_id,page_url"
TS = "2026-10-01T10:00:00Z"

# name: exact bytes
FILES: dict[str, bytes] = {
    "plain-a.csv": f"{HEADER}\na1,{TS},page_view,d1,https://shop.example/\na2,{TS},add_to_cart,d1,\n".encode(),
    # a quoted comma, an empty value, a row refused by the contract (no event_name)
    "plain-b.csv": (
        f'{HEADER}\nb1,{TS},page_view,d2,"https://shop.example/?a=1,2"\nb2,{TS},,d2,\nb3,{TS},page_view,d2,\n'
    ).encode(),
    # another order of the columns and a column beyond the contract
    "other-order.csv": f"anonymous_id,event_name,event_id,event_ts,coupon\nd3,page_view,c1,{TS},WELCOME\nd3,login,c2,{TS},\n".encode(),
    # the same header as other-order.csv: one parse for both
    "other-order-2.csv": f"anonymous_id,event_name,event_id,event_ts,coupon\nd3,page_view,c3,{TS},SPRING\n".encode(),
    "semicolon.csv": f"event_id;event_ts;event_name;anonymous_id\ns1;{TS};page_view;d4\n".encode(),
    # a byte order mark, CR LF line ends, blank lines before the header and between rows
    "windows.csv": f"\ufeff\r\n{HEADER}\r\nw1,{TS},page_view,d5,\r\n\r\n  \r\nw2,{TS},page_view,d5,\r\n".encode(),
    # a quoted value spanning two lines: read alone, the row after it keeps its line number
    "spanning.csv": f'{HEADER}\nq1,{TS},page_view,d6,"https://shop.example/\nnext"\nq2,{TS},page_view,d6,\n'.encode(),
    # a row with a value too many: refused with its line
    "ragged.csv": f"{HEADER}\nr1,{TS},page_view,d7,,extra\nr2,{TS},page_view,d7,\n".encode(),
    # a line that is not UTF-8
    "latin1.csv": f"{HEADER}\nl1,{TS},page_view,d8,\nl2,{TS},page_view,d8,caf".encode() + b"\xe9\n",
    # no header: the file cannot be read
    "no-header.csv": f"n1,{TS},page_view,d9,\n".encode(),
    # a quote written \" by an exporter that escapes with a backslash
    "backslashed.csv": f'{HEADER}\nx1,{TS},page_view,d10,"say \\"hi\\""\n'.encode(),
    # a value ending in a backslash (RFC 4180): its \" is not an escaped quote
    "trailing-backslash.csv": f'{HEADER}\nt1,{TS},page_view,d15,"C:\\temp\\"\nt2,{TS},page_view,d15,"a, b"\n'.encode(),
    # a quote doubled inside a quoted value (RFC 4180), beside a file of another header
    "doubled.csv": f'{HEADER}\ny1,{TS},page_view,d14,"say ""hi"""\ny2,{TS},page_view,d14,"a, b"\n'.encode(),
    "header-only.csv": f"{HEADER}\n".encode(),
    "empty.csv": b"",
    # lines ending in CR LF and in LF, as an export appended to another
    "mixed-ends.csv": f"{HEADER}\r\nm1,{TS},page_view,d11,\r\nm2,{TS},page_view,d11,\nm3,{TS},page_view,d11,\n".encode(),
    # a column named rowid (DuckDB's name for a table's row number)
    "rowid-column.csv": f"event_id,event_ts,event_name,anonymous_id,rowid\nr9,{TS},page_view,d13,5\n".encode(),
    # a first line of one value beyond Python's CSV field limit (131,072 characters): no header
    "blob.csv": b"x" * 200_000 + b"\n",
    # gzip-compressed, beside the plain files
    "compressed.csv.gz": gzip.compress(f"{HEADER}\nz1,{TS},page_view,d12,\n".encode()),
    # the same event twice, in two files: loaded once (a duplicate)
    "repeat.csv": f"{HEADER}\na1,{TS},page_view,d1,https://shop.example/\n".encode(),
}

RAW = (
    "select source_file, line_no, event_id, event_ts, event_name, anonymous_id, page_url, properties "
    "from raw.web_events order by all"
)
QUARANTINE = "select source_file, line_no, reason, error, raw from quarantine order by all"
FILES_READ = (
    "select source_file, rows_read, rows_loaded, rows_quarantined, rows_duplicate, file_error "
    "from raw.ingested_files order by all"
)


def _run(root: Path, warehouse: Path, *deliveries: list[str]) -> dict[str, list[tuple]]:
    """Run the day once for each delivery of files, into one warehouse."""
    landing = Landing(root)
    for names in deliveries:
        for name in names:
            landing.binary("web", DAY1, name, FILES[name])
        run_day(landing, warehouse, DAY1)
    return {sql: query(warehouse, sql) for sql in (RAW, QUARANTINE, FILES_READ)}


@pytest.fixture(scope="module")
def together(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple]]:
    root = tmp_path_factory.mktemp("together")
    return _run(root / "landing", root / "w" / "journey.duckdb", list(FILES))


@pytest.fixture(scope="module")
def in_small_batches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple]]:
    """The files read in batches of about 300 bytes (a few files each) instead of 128MB."""
    root = tmp_path_factory.mktemp("small-batches")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ingest, "CSV_BATCH_BYTES", 300)
        return _run(root / "landing", root / "w" / "journey.duckdb", list(FILES))


@pytest.fixture(scope="module")
def alone(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple]]:
    """Each file the only one its run reads (repeat.csv in a run after the file it repeats)."""
    found: dict[str, list[tuple]] = {RAW: [], QUARANTINE: [], FILES_READ: []}
    for name in FILES:
        if name == "repeat.csv":
            continue
        root = tmp_path_factory.mktemp("alone")
        deliveries = [[name], ["repeat.csv"]] if name == "plain-a.csv" else [[name]]
        for sql, rows in _run(root / "landing", root / "w" / "journey.duckdb", *deliveries).items():
            found[sql] += rows
    return {sql: sorted(rows, key=repr) for sql, rows in found.items()}


@pytest.mark.parametrize("sql", [RAW, QUARANTINE, FILES_READ], ids=["rows", "quarantine", "files"])
def test_many_files_load_as_each_alone(together: dict[str, list[tuple]], alone: dict[str, list[tuple]], sql: str) -> None:
    assert sorted(together[sql], key=repr) == alone[sql]


@pytest.mark.parametrize("sql", [RAW, QUARANTINE, FILES_READ], ids=["rows", "quarantine", "files"])
def test_in_small_batches_as_each_alone(
    in_small_batches: dict[str, list[tuple]], alone: dict[str, list[tuple]], sql: str
) -> None:
    assert sorted(in_small_batches[sql], key=repr) == alone[sql]


def test_batches_of_a_size() -> None:
    sizes = [100, 150, 60, 400, 10, 10]
    files = [
        LandingFile("web", Path(f"f{i}.csv"), f"web/f{i}.csv", "csv", DAY1, size, datetime(2026, 10, 2))
        for i, size in enumerate(sizes)
    ]
    chunks = ingest._chunks_of(files, 300)
    assert [[f.size_bytes for f in chunk] for chunk in chunks] == [[100, 150], [60], [400], [10, 10]]


def test_what_the_files_load(together: dict[str, list[tuple]]) -> None:
    """The comparison above is of something: the rows and refusals each file should give."""
    loaded = {(row[0].rsplit("/", 1)[1], row[1], row[2]) for row in together[RAW]}
    assert {
        ("plain-a.csv", 2, "a1"), ("plain-a.csv", 3, "a2"), ("plain-b.csv", 2, "b1"), ("plain-b.csv", 4, "b3"),
        ("other-order.csv", 2, "c1"), ("other-order-2.csv", 2, "c3"), ("semicolon.csv", 2, "s1"),
        ("windows.csv", 3, "w1"), ("windows.csv", 6, "w2"), ("spanning.csv", 2, "q1"), ("spanning.csv", 4, "q2"),
        ("ragged.csv", 3, "r2"), ("latin1.csv", 2, "l1"), ("backslashed.csv", 2, "x1"),
        ("mixed-ends.csv", 2, "m1"), ("mixed-ends.csv", 3, "m2"), ("mixed-ends.csv", 4, "m3"),
        ("compressed.csv.gz", 2, "z1"), ("rowid-column.csv", 2, "r9"), ("doubled.csv", 2, "y1"), ("doubled.csv", 3, "y2"),
        ("trailing-backslash.csv", 2, "t1"), ("trailing-backslash.csv", 3, "t2"),
    } <= loaded
    assert ("repeat.csv", 2, "a1") not in loaded  # loaded once, from plain-a.csv
    refused = {(row[0].rsplit("/", 1)[1], row[1]) for row in together[QUARANTINE]}
    assert {
        ("plain-b.csv", 3), ("ragged.csv", 2), ("latin1.csv", 3), ("no-header.csv", None), ("blob.csv", None),
    } <= refused
    rows = {row[2]: row for row in together[RAW]}
    assert rows["b1"][6] == "https://shop.example/?a=1,2"
    assert rows["c1"][7] == '{"coupon":"WELCOME"}'
    assert rows["r9"][7] == '{"rowid":"5"}'
    assert rows["x1"][6] == 'say "hi"'
    assert rows["y1"][6] == 'say "hi"'
    assert rows["y2"][6] == "a, b"
    assert rows["t1"][6] == "C:\\temp\\"
    assert rows["t2"][6] == "a, b"


def test_plain_files_are_read_in_the_batch(tmp_path: Path) -> None:
    """Only the files that are not plain are left to be read alone: a doubled quote (RFC 4180) is
    read in the batch; a file with a backslashed quote is left to read_csv, which parses it both
    ways (\" may escape a quote, or end a value in a backslash)."""
    landing = Landing(tmp_path)
    for name, data in FILES.items():
        landing.binary("web", DAY1, name, data)
    con = duckdb.connect()
    landed = create_landed_table(con, "web")
    files = find_landing_files(tmp_path, web.KIND, DAY1)
    left_out = read_csv_batch(con, files, landed, load_settings(None).ingest.max_line_bytes, "web")
    assert sorted(f.source_file.rsplit("/", 1)[1] for f in left_out) == [
        "backslashed.csv", "blob.csv", "latin1.csv", "no-header.csv", "ragged.csv", "spanning.csv",
        "trailing-backslash.csv", "windows.csv",
    ]
    # the others' rows are landed (empty.csv and header-only.csv have none)
    assert con.execute(f"select count(distinct source_file) from {landed}").fetchall() == [(len(files) - 8 - 2,)]
