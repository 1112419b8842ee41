"""Hostile landing files: each gets its own quarantine reason or a clear file-level error, the
rest of the day loads, and nothing crashes.

One landing day holds the whole corpus (truncated gzip, files that are not what their
extension says, BOMs, CRLF, invalid UTF-8, a 10 MB line, empty files, ragged CSV, Parquet with
the wrong schema, far timestamps, nested JSON, control characters, SQL and HTML in values) next
to good rows; it is run once for the module and each test reads the published warehouse.
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from journey_analytics.config import IngestSettings, Settings
from tests.conftest import DAY1, Landing, query, run_day

TS = "2026-10-01T10:00:00Z"
DAY = "web/dt=2026-10-01/"
WEB_HEADER = "event_id,event_ts,event_name,anonymous_id,page_title"


def page_view(event_id: Any, **fields: Any) -> dict[str, Any]:
    """A valid web page_view; a field given as None is left out."""
    row = {"event_id": event_id, "event_ts": TS, "event_name": "page_view", "anonymous_id": "a1"}
    row.update(fields)
    return {k: v for k, v in row.items() if v is not None}


def line(row: dict[str, Any]) -> bytes:
    return (json.dumps(row) + "\n").encode()


BIG_TITLE = "x" * (10 * 1024 * 1024)  # a 10 MB line, below the 16 MB max_line_bytes

# Values built to break SQL, shells, templates or HTML; each must load verbatim as data.
NASTY = [
    "'; drop table events; --",
    "Robert'); DROP TABLE raw.web_events;--",
    "$$; drop table events; $$",
    "$tag$ x $tag$",
    "back\\slash\\",
    "\\'",
    "\\\\\\",
    "' or '1'='1",
    '"; select 1; --',
    "\u2018smart\u2019 \u201cquotes\u201d \u00ab\u00bb",
    "<script>alert(1)</script>",
    "</td><img src=x onerror=alert(1)>",
    "${jndi:ldap://x}",
    "%s %d {0} {{7*7}}",
]

# Control characters inside values, sent escaped in JSON: each loads verbatim.
CONTROL = ["nul\x00nul", "rs\x1ers", "us\x1fus", "tab\there", "new\nline", "cr\rcr", "bell\x07", "\u2028ls\u2029"]


def write_corpus(landing: Landing) -> None:
    """Every hostile file of the corpus, on DAY1, beside one good file per channel."""
    landing.jsonl("web", DAY1, "good.jsonl", [page_view("good-1")])
    landing.jsonl("email", DAY1, "good.jsonl", [
        {"event_id": "m-good", "event_ts": TS, "event_name": "open", "email": "ann@example.com"},
        {"event_id": "m-nested", "event_ts": TS, "event_name": "open", "email": {"address": "ann@example.com"}},
        {"event_id": "m-url-list", "event_ts": TS, "event_name": "click", "email": "ann@example.com", "url": ["u"]},
    ])
    landing.jsonl("social", DAY1, "good.jsonl", [
        {"event_id": "s-good", "event_ts": TS, "event_name": "like", "platform": "x", "handle": "ann"},
        {"event_id": "s-nested", "event_ts": TS, "event_name": "like", "platform": "x", "handle": ["ann"]},
        {"event_id": "s-text-obj", "event_ts": TS, "event_name": "comment", "platform": "x", "handle": "ann",
         "text": {"a": 1}},
    ])

    # Compression and files that are not what their extension says.
    whole = gzip.compress(b"".join(line(page_view(f"gz-{i}")) for i in range(2000)))
    landing.binary("web", DAY1, "truncated.jsonl.gz", whole[: len(whole) // 2])
    landing.binary("web", DAY1, "plain.jsonl.gz", line(page_view("plain-1")))
    landing.binary("web", DAY1, "json.parquet", line(page_view("pq-json-1")))
    landing.binary("web", DAY1, "binary.csv", bytes(range(256)) * 40)
    landing.binary("web", DAY1, "gzip.csv", gzip.compress(f"{WEB_HEADER}\ncsv-gz,{TS},page_view,a1,t\n".encode()))

    # Byte order marks and CRLF line ends load as if they were not there.
    landing.binary("web", DAY1, "bom.jsonl", b"\xef\xbb\xbf" + line(page_view("bom-j1")) + line(page_view("bom-j2")))
    landing.binary("web", DAY1, "bom.jsonl.gz", gzip.compress(b"\xef\xbb\xbf" + line(page_view("bom-gz1"))))
    landing.binary("web", DAY1, "bom.csv", f"\ufeff{WEB_HEADER}\nbom-c1,{TS},page_view,a1,Home\n".encode())
    landing.binary(
        "web", DAY1, "crlf.jsonl",
        b"".join(json.dumps(r).encode() + b"\r\n" for r in (page_view("crlf-j1", page_title="T1"), page_view("crlf-j2", page_title="T2")))
        + b"{not json\r\n",
    )
    landing.binary(
        "web", DAY1, "crlf.csv",
        f"{WEB_HEADER}\r\ncrlf-c1,{TS},page_view,a1,T3\r\n\r\ncrlf-c2,{TS},page_view,a1,T4\r\ncrlf-c3,{TS}\r\n".encode(),
    )

    # Invalid UTF-8: that line alone is quarantined, the lines around it keep their numbers.
    bad = b'{"event_id": "utf-bad", "event_ts": "' + TS.encode() + b'", "event_name": "page_view", "anonymous_id": "a\xff\xfe"}\n'
    landing.binary("web", DAY1, "bad_utf8.jsonl", line(page_view("utf-1")) + bad + b"\n" + line(page_view("utf-4")))
    landing.binary("web", DAY1, "bad_utf8.jsonl.gz", gzip.compress(b"\n" + bad + line(page_view("utf-gz3"))))
    landing.binary(
        "web", DAY1, "bad_utf8.csv",
        f"{WEB_HEADER}\nutf-c1,{TS},page_view,a1,ok\n".encode()
        + f"utf-c2,{TS},page_view,a1,caf".encode() + b"\xe9\n"  # latin-1, not UTF-8
        + f"utf-c3,{TS},page_view,a1,ok\n".encode(),
    )

    # A 10 MB line, in JSON lines and in CSV.
    landing.jsonl("web", DAY1, "big.jsonl", [page_view("big-j1", page_title=BIG_TITLE), page_view("big-j2")])
    landing.text("web", DAY1, "big.csv", f"{WEB_HEADER}\nbig-c1,{TS},page_view,a1,{BIG_TITLE}\nbig-c2,{TS},page_view,a1,\n")

    # Empty files of every format: 0 rows, no error.
    for name in ("empty.jsonl", "empty.csv", "empty.jsonl.gz", "empty.parquet"):
        landing.binary("web", DAY1, name, b"")
    landing.binary("web", DAY1, "empty-gzip.jsonl.gz", gzip.compress(b""))
    # (tabs are JSON whitespace too: a line of them was refused as not JSON, one of spaces skipped)
    landing.binary("web", DAY1, "blank-lines.jsonl", b"\n\n  \n\t\n \t \n" + "\u00a0\u3000 \n".encode())
    landing.text("web", DAY1, "header-only.csv", WEB_HEADER + "\n")
    landing.parquet("web", DAY1, "no-rows.parquet", pa.table({"event_id": pa.array([], pa.string())}))

    # Ragged CSV rows.
    landing.text(
        "web", DAY1, "ragged.csv",
        f"{WEB_HEADER}\nrag-1,{TS},page_view,a1,ok\nrag-2,{TS}\nrag-3,{TS},page_view,a1,t,surplus\nrag-4,{TS},page_view,a1,ok\n",
    )

    # Parquet with the wrong schema: missing required columns, and wrong types.
    landing.parquet("web", DAY1, "missing-columns.parquet", pa.table({"event_id": ["pm-1"], "event_name": ["page_view"]}))
    landing.parquet("web", DAY1, "wrong-types.parquet", pa.table({
        "event_id": ["pt-1", "pt-2", "pt-3"],
        "event_ts": [TS, TS, TS],
        "event_name": pa.array([["page_view"], None, None], pa.list_(pa.string())),
        "anonymous_id": pa.array([{"x": 1}, {"x": 2}, None], pa.struct([("x", pa.int64())])),
        "value": pa.array([None, None, float("nan")]),
    }))
    landing.parquet("web", DAY1, "nanoseconds.parquet", pa.table({  # pandas' default timestamp type
        "event_id": ["pns-1", "pns-2"],
        "event_ts": pa.array([datetime(2026, 10, 1, 10), datetime(2026, 10, 1, 11)], pa.timestamp("ns", tz="UTC")),
        "event_name": ["page_view", "page_view"],
        "anonymous_id": ["a1", "a1"],
        "local_ts": pa.array([datetime(2026, 10, 1, 10), None], pa.timestamp("ns")),
    }))

    # Timestamps far in the past and the future.
    landing.jsonl("web", DAY1, "timestamps.jsonl", [
        page_view("ts-1970", event_ts="1970-01-01T00:00:00Z"),
        page_view("ts-0001", event_ts="0001-01-01T00:00:00Z"),
        page_view("ts-9999", event_ts="9999-12-31T23:59:59Z"),
        page_view("ts-2100", event_ts="2100-01-01T00:00:00Z"),
        page_view("ts-epoch-0", event_ts=0),
        page_view("ts-epoch-huge", event_ts=999999999999999),
        page_view("ts-year-99999", event_ts="99999-01-01T00:00:00Z"),
        page_view("ts-offset-99", event_ts="2026-10-01T10:00:00+99:00"),
        page_view("ts-ok-offset-14", event_ts="2026-10-01T23:00:00+14:00"),
    ])

    # Nested JSON where a single value is expected.
    landing.jsonl("web", DAY1, "nested.jsonl", [
        page_view("nest-1", event_name={"name": "page_view"}),
        page_view("nest-2", event_name=["page_view"]),
        page_view(["nest-3"]),
        page_view({"id": "nest-4"}),
        page_view("nest-5", page_title={"t": 1}),
        page_view("nest-6", utm_source=[]),
        page_view("nest-ok", event_name="page_view"),
    ])

    # A field given twice: readers disagree on which value counts, so the row is refused.
    landing.jsonl("web", DAY1, "duplicate-keys.jsonl", [
        f'{{"event_id": "dk-1", "event_id": "dk-2", "event_ts": "{TS}", "event_name": "page_view", "anonymous_id": "a1"}}',
        page_view("dk-3", EVENT_ID="other"),  # names differ in case: an extra field, kept in properties
    ])

    # Control characters: escaped in JSON they are data; raw inside a JSON string they are not JSON.
    landing.jsonl("web", DAY1, "control.jsonl", [page_view(f"ctl-{i}", page_title=t) for i, t in enumerate(CONTROL)])
    raw_rs = b'{"event_id": "ctl-raw-rs", "event_ts": "' + TS.encode() + b'", "event_name": "page_view", "anonymous_id": "a1", "page_title": "a\x1eb"}'
    raw_tab = raw_rs.replace(b"ctl-raw-rs", b"ctl-raw-tab").replace(b"a\x1eb", b"a\tb")
    raw_nul = raw_rs.replace(b"ctl-raw-rs", b"ctl-raw-nul").replace(b"a\x1eb", b"a\x00b")
    landing.binary(
        "web", DAY1, "control-raw.jsonl",
        raw_rs + b"\n" + raw_tab + b"\n" + raw_nul + b"\n" + line(page_view("ctl-raw-ok")),
    )
    landing.binary(
        "web", DAY1, "control.csv",
        f"{WEB_HEADER}\n".encode()
        + f"ctl-c1,{TS},page_view,a1,a\tb\n".encode()
        + f"ctl-c2,{TS},page_view,a1,a\x1eb\x1fc\n".encode()
        + f"ctl-c3,{TS},page_view,a1,a\x00b\n".encode()
        + f'ctl-c4,{TS},page_view,a1,"a\rb"\n'.encode(),
    )

    # SQL, shell, template and HTML strings as data, in every format and in key fields.
    landing.jsonl("web", DAY1, "nasty.jsonl", [page_view(f"sql-j{i}", page_title=t) for i, t in enumerate(NASTY)])
    landing.csv(
        "web", DAY1, "nasty.csv", WEB_HEADER.split(","),
        [page_view(f"sql-c{i}", page_title=t) for i, t in enumerate(NASTY)],
    )
    landing.parquet("web", DAY1, "nasty.parquet", pa.table({
        "event_id": [f"sql-p{i}" for i in range(len(NASTY))],
        "event_ts": [TS] * len(NASTY),
        "event_name": ["page_view"] * len(NASTY),
        "anonymous_id": ["a1"] * len(NASTY),
        "page_title": NASTY,
    }))
    landing.jsonl("web", DAY1, "nasty-keys.jsonl", [
        page_view("'; drop table events; --", anonymous_id="$$'\\"),
        page_view("sql-k2", event_name="'); drop table raw.web_events;--", utm_source="<script>alert(1)</script>"),
        page_view("sql-k3", **{"'; drop table x; --": "<b>", "$$": "\\"}),
    ])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The warehouse after one run over the hostile corpus."""
    root = tmp_path_factory.mktemp("hostile")
    landing = Landing(root / "landing")
    write_corpus(landing)
    warehouse = root / "warehouse" / "journey.duckdb"
    run_day(landing, warehouse, DAY1)
    return warehouse


OFFSET_ERROR = 'event_ts "2026-10-01T10:00:00+99:00" has an offset outside -18:00 to +18:00'
NOT_UTF8 = "line is not valid UTF-8 text"
NESTED = "{} must be text, not a JSON object or list"

# Every quarantine row the corpus must give: (channel, source_file, line_no, error).
EXPECTED_QUARANTINE = sorted(
    [
        # whole files (line_no null)
        ("web", DAY + "truncated.jsonl.gz", None, "file could not be read: Unexpected end of GZIP stream (the gzip file is truncated)"),
        ("web", DAY + "plain.jsonl.gz", None,
         "file could not be read: Input is not a GZIP stream (the file is not gzip-compressed, though its name ends in .gz)"),
        ("web", DAY + "json.parquet", None,
         f"file could not be read: No magic bytes found at end of file {DAY}json.parquet (the file is not Parquet, or it is truncated)"),
        ("web", DAY + "binary.csv", None,
         f"file could not be read: Error when sniffing file {DAY}binary.csv "
         "(the file is not CSV text (binary data, or a bare carriage return in a value?))"),
        ("web", DAY + "gzip.csv", None, f"file could not be read: the CSV header line cannot be read: {NOT_UTF8}"),
        # rows
        ("web", DAY + "crlf.jsonl", 3, "line is not valid JSON"),
        ("web", DAY + "crlf.csv", 5, "CSV row does not fit the header: missing columns (Expected Number of Columns: 5 Found: 2)"),
        ("web", DAY + "bad_utf8.jsonl", 2, NOT_UTF8),
        ("web", DAY + "bad_utf8.csv", 3, NOT_UTF8),
        ("web", DAY + "bad_utf8.jsonl.gz", 2, NOT_UTF8),
        ("web", DAY + "ragged.csv", 3, "CSV row does not fit the header: missing columns (Expected Number of Columns: 5 Found: 2)"),
        ("web", DAY + "ragged.csv", 4, "CSV row does not fit the header: too many columns (Expected Number of Columns: 5 Found: 6)"),
        ("web", DAY + "missing-columns.parquet", 1, "missing required field event_ts"),
        ("web", DAY + "wrong-types.parquet", 1, NESTED.format("event_name")),
        ("web", DAY + "wrong-types.parquet", 2, NESTED.format("anonymous_id")),
        ("web", DAY + "wrong-types.parquet", 3, "missing required field event_name"),
        ("web", DAY + "timestamps.jsonl", 1, "event_ts 1970-01-01 is before 2000-01-01"),
        ("web", DAY + "timestamps.jsonl", 2, "event_ts 0001-01-01 is before 2000-01-01"),
        ("web", DAY + "timestamps.jsonl", 3, "event_ts 9999-12-31 23:59 is after the arrival day 2026-10-01 and the 1 day(s) after it that [ingest] max_future_days allows"),
        ("web", DAY + "timestamps.jsonl", 4, "event_ts 2100-01-01 00:00 is after the arrival day 2026-10-01 and the 1 day(s) after it that [ingest] max_future_days allows"),
        ("web", DAY + "timestamps.jsonl", 5, "event_ts 1970-01-01 is before 2000-01-01"),
        ("web", DAY + "timestamps.jsonl", 6, "event_ts 33658-09-27 01:46 is after the arrival day 2026-10-01 and the 1 day(s) after it that [ingest] max_future_days allows"),
        ("web", DAY + "timestamps.jsonl", 7, "event_ts 99999-01-01 00:00 is after the arrival day 2026-10-01 and the 1 day(s) after it that [ingest] max_future_days allows"),
        ("web", DAY + "timestamps.jsonl", 8, OFFSET_ERROR),
        ("web", DAY + "nested.jsonl", 1, NESTED.format("event_name")),
        ("web", DAY + "nested.jsonl", 2, NESTED.format("event_name")),
        ("web", DAY + "nested.jsonl", 3, NESTED.format("event_id")),
        ("web", DAY + "nested.jsonl", 4, NESTED.format("event_id")),
        ("web", DAY + "nested.jsonl", 5, NESTED.format("page_title")),
        ("web", DAY + "nested.jsonl", 6, NESTED.format("utm_source")),
        ("web", DAY + "duplicate-keys.jsonl", 1, 'field "event_id" appears more than once'),
        ("web", DAY + "control-raw.jsonl", 1, "line is not valid JSON"),
        ("web", DAY + "control-raw.jsonl", 2, "line is not valid JSON"),
        ("web", DAY + "control-raw.jsonl", 3, "line is not valid JSON"),
        ("email", "email/dt=2026-10-01/good.jsonl", 2, NESTED.format("email")),
        ("email", "email/dt=2026-10-01/good.jsonl", 3, NESTED.format("url")),
        ("social", "social/dt=2026-10-01/good.jsonl", 2, NESTED.format("handle")),
        ("social", "social/dt=2026-10-01/good.jsonl", 3, NESTED.format("text")),
    ],
    key=lambda r: (r[0], r[1], -1 if r[2] is None else r[2]),
)

# Every web event the corpus must load: (source_file, line_no, event_id).
EXPECTED_WEB_ROWS = sorted(
    [(DAY + "good.jsonl", 1, "good-1")]
    + [(DAY + "bom.jsonl", 1, "bom-j1"), (DAY + "bom.jsonl", 2, "bom-j2"), (DAY + "bom.jsonl.gz", 1, "bom-gz1")]
    + [(DAY + "bom.csv", 2, "bom-c1")]
    + [(DAY + "crlf.jsonl", 1, "crlf-j1"), (DAY + "crlf.jsonl", 2, "crlf-j2")]
    + [(DAY + "crlf.csv", 2, "crlf-c1"), (DAY + "crlf.csv", 4, "crlf-c2")]
    + [(DAY + "bad_utf8.jsonl", 1, "utf-1"), (DAY + "bad_utf8.jsonl", 4, "utf-4")]
    + [(DAY + "bad_utf8.csv", 2, "utf-c1"), (DAY + "bad_utf8.csv", 4, "utf-c3")]
    + [(DAY + "bad_utf8.jsonl.gz", 3, "utf-gz3")]
    + [(DAY + "big.jsonl", 1, "big-j1"), (DAY + "big.jsonl", 2, "big-j2")]
    + [(DAY + "big.csv", 2, "big-c1"), (DAY + "big.csv", 3, "big-c2")]
    + [(DAY + "ragged.csv", 2, "rag-1"), (DAY + "ragged.csv", 5, "rag-4")]
    + [(DAY + "nanoseconds.parquet", 1, "pns-1"), (DAY + "nanoseconds.parquet", 2, "pns-2")]
    + [(DAY + "timestamps.jsonl", 9, "ts-ok-offset-14")]
    + [(DAY + "nested.jsonl", 7, "nest-ok")]
    + [(DAY + "duplicate-keys.jsonl", 2, "dk-3")]
    + [(DAY + "control.jsonl", i + 1, f"ctl-{i}") for i in range(len(CONTROL))]
    + [(DAY + "control-raw.jsonl", 4, "ctl-raw-ok")]
    + [(DAY + "control.csv", i + 2, f"ctl-c{i + 1}") for i in range(4)]
    + [(DAY + "nasty.jsonl", i + 1, f"sql-j{i}") for i in range(len(NASTY))]
    + [(DAY + "nasty.csv", i + 2, f"sql-c{i}") for i in range(len(NASTY))]
    + [(DAY + "nasty.parquet", i + 1, f"sql-p{i}") for i in range(len(NASTY))]
    + [(DAY + "nasty-keys.jsonl", 1, "'; drop table events; --"), (DAY + "nasty-keys.jsonl", 2, "sql-k2"),
       (DAY + "nasty-keys.jsonl", 3, "sql-k3")]
)


def sort_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return (row[0], row[1], -1 if row[2] is None else row[2])


class TestCorpusOutcome:
    """The exact quarantine rows and loaded rows of the whole corpus; nothing else."""

    def test_quarantine_rows_exactly(self, corpus: Path) -> None:
        rows = query(corpus, "select channel, source_file, line_no, error from quarantine")
        assert sorted(rows, key=sort_key) == EXPECTED_QUARANTINE

    def test_loaded_web_rows_exactly(self, corpus: Path) -> None:
        assert sorted(query(corpus, "select source_file, line_no, event_id from raw.web_events")) == EXPECTED_WEB_ROWS

    def test_other_channels_still_load(self, corpus: Path) -> None:
        assert query(corpus, "select event_id from raw.email_events") == [("m-good",)]
        assert query(corpus, "select event_id from raw.social_events") == [("s-good",)]

    def test_events_table_has_every_good_event(self, corpus: Path) -> None:
        web_ids = {row[2] for row in EXPECTED_WEB_ROWS}
        assert {r[0] for r in query(corpus, "select event_id from events")} == web_ids | {"m-good", "s-good"}

    def test_run_reports_exactly_the_unreadable_files(self, corpus: Path) -> None:
        assert query(
            corpus, "select source_file, file_error from raw.ingested_files where file_error is not null order by 1"
        ) == sorted((r[1], r[3]) for r in EXPECTED_QUARANTINE if r[2] is None)


class TestCountsBalance:
    """rows_read = rows_loaded + rows_quarantined + rows_duplicate, per run and per file."""

    def test_per_run(self, corpus: Path) -> None:
        (read, loaded, quarantined, duplicate), = query(
            corpus, "select rows_read, rows_loaded, rows_quarantined, rows_duplicate from pipeline_runs"
        )
        row_errors = sum(1 for r in EXPECTED_QUARANTINE if r[2] is not None)
        assert (loaded, quarantined, duplicate) == (len(EXPECTED_WEB_ROWS) + 2, row_errors, 0)
        assert read == loaded + quarantined + duplicate

    def test_per_file(self, corpus: Path) -> None:
        unbalanced = query(
            corpus,
            "select source_file, rows_read, rows_loaded, rows_quarantined, rows_duplicate from raw.ingested_files "
            "where rows_read <> rows_loaded + rows_quarantined + rows_duplicate",
        )
        assert unbalanced == []

    def test_per_file_quarantine_matches_the_table(self, corpus: Path) -> None:
        assert query(
            corpus,
            """
            select f.source_file, f.rows_quarantined, count(q.line_no)
            from raw.ingested_files f left join quarantine q on q.source_file = f.source_file
            group by all having f.rows_quarantined <> count(q.line_no)
            """,
        ) == []

    @pytest.mark.parametrize(
        "name",
        ["empty.jsonl", "empty.csv", "empty.jsonl.gz", "empty.parquet", "empty-gzip.jsonl.gz", "blank-lines.jsonl",
         "header-only.csv", "no-rows.parquet"],
    )
    def test_empty_file_is_zero_rows_and_no_error(self, corpus: Path, name: str) -> None:
        assert query(
            corpus,
            "select rows_read, rows_loaded, rows_quarantined, rows_duplicate, file_error from raw.ingested_files "
            "where source_file = ?",
            [DAY + name],
        ) == [(0, 0, 0, 0, None)]


class TestValuesVerbatim:
    """What loads keeps its exact text: no BOM, no '\\r', control characters and SQL/HTML kept as data."""

    def test_no_bom_anywhere(self, corpus: Path) -> None:
        assert query(
            corpus,
            "select event_id, properties from raw.web_events where event_id like 'bom%' order by event_id",
        ) == [("bom-c1", None), ("bom-gz1", None), ("bom-j1", None), ("bom-j2", None)]

    def test_no_carriage_return_from_crlf(self, corpus: Path) -> None:
        assert query(
            corpus, "select event_id, page_title from raw.web_events where event_id like 'crlf%' order by event_id"
        ) == [("crlf-c1", "T3"), ("crlf-c2", "T4"), ("crlf-j1", "T1"), ("crlf-j2", "T2")]
        assert query(corpus, "select raw from quarantine where source_file = ?", [DAY + "crlf.jsonl"]) == [("{not json",)]
        assert query(corpus, "select raw from quarantine where source_file = ?", [DAY + "crlf.csv"]) == [
            (f"crlf-c3,{TS}",)
        ]

    def test_ten_megabyte_line_loads_whole(self, corpus: Path) -> None:
        assert query(
            corpus, "select event_id, page_title = ? from raw.web_events where event_id like 'big-%1' order by 1", [BIG_TITLE]
        ) == [("big-c1", True), ("big-j1", True)]

    def test_invalid_utf8_line_is_kept_with_its_bad_bytes_marked(self, corpus: Path) -> None:
        (raw,), = query(corpus, "select raw from quarantine where source_file = ?", [DAY + "bad_utf8.jsonl"])
        assert raw.startswith('{"event_id": "utf-bad"') and raw.endswith('"anonymous_id": "a??"}')

    def test_escaped_control_characters_are_data(self, corpus: Path) -> None:
        rows = query(corpus, "select event_id, page_title from raw.web_events where event_id like 'ctl-%' and event_id not like 'ctl-c%' and event_id <> 'ctl-raw-ok'")
        assert sorted(rows) == sorted((f"ctl-{i}", t) for i, t in enumerate(CONTROL))

    def test_raw_control_characters_in_csv_are_data(self, corpus: Path) -> None:
        assert query(
            corpus, "select event_id, page_title from raw.web_events where event_id like 'ctl-c%' order by event_id"
        ) == [("ctl-c1", "a\tb"), ("ctl-c2", "a\x1eb\x1fc"), ("ctl-c3", "a\x00b"), ("ctl-c4", "a\rb")]

    def test_raw_control_character_line_keeps_its_whole_text(self, corpus: Path) -> None:
        # a raw \x1e must not cut the line short (the line reader once split on it)
        assert query(
            corpus, "select line_no, raw from quarantine where source_file = ? order by line_no", [DAY + "control-raw.jsonl"]
        ) == [
            (1, f'{{"event_id": "ctl-raw-rs", "event_ts": "{TS}", "event_name": "page_view", "anonymous_id": "a1", "page_title": "a\x1eb"}}'),
            (2, f'{{"event_id": "ctl-raw-tab", "event_ts": "{TS}", "event_name": "page_view", "anonymous_id": "a1", "page_title": "a\tb"}}'),
            (3, f'{{"event_id": "ctl-raw-nul", "event_ts": "{TS}", "event_name": "page_view", "anonymous_id": "a1", "page_title": "a\x00b"}}'),
        ]

    @pytest.mark.parametrize("prefix", ["sql-j", "sql-c", "sql-p"])
    def test_sql_and_html_strings_load_verbatim(self, corpus: Path, prefix: str) -> None:
        rows = query(
            corpus, "select event_id, page_title from raw.web_events where starts_with(event_id, ?)", [prefix]
        )
        assert sorted(rows) == sorted((f"{prefix}{i}", t) for i, t in enumerate(NASTY))

    def test_sql_and_html_in_key_fields_and_field_names(self, corpus: Path) -> None:
        assert query(
            corpus,
            "select event_id, event_name, anonymous_id, utm_source, properties from events "
            "where event_id in ('''; drop table events; --', 'sql-k2', 'sql-k3') order by event_id",
        ) == [
            ("'; drop table events; --", "page_view", "$$'\\", None, None),
            ("sql-k2", "'); drop table raw.web_events;--", "a1", "<script>alert(1)</script>", None),
            ("sql-k3", "page_view", "a1", None, json.dumps({"'; drop table x; --": "<b>", "$$": "\\"}, separators=(",", ":"))),
        ]

    def test_field_names_differing_in_case_are_extra_fields(self, corpus: Path) -> None:
        assert query(corpus, "select properties from raw.web_events where event_id = 'dk-3'") == [('{"EVENT_ID":"other"}',)]

    def test_every_table_survives(self, corpus: Path) -> None:
        tables = {r[0] for r in query(corpus, "select table_schema || '.' || table_name from information_schema.tables")}
        assert {"main.events", "main.quarantine", "raw.web_events", "main.pipeline_runs"} <= tables

    def test_dashboard_does_not_carry_the_script_tag(self, corpus: Path) -> None:
        pages = list((corpus.parent / "reports").rglob("*.html"))
        assert pages, "the run wrote no dashboard"
        for page in pages:
            assert "<script>alert(1)</script>" not in page.read_text(encoding="utf-8")

    def test_timestamps_at_the_edges(self, corpus: Path) -> None:
        assert query(corpus, "select event_ts from raw.web_events where event_id = 'ts-ok-offset-14'") == [
            (datetime(2026, 10, 1, 9, 0),)
        ]
        assert query(corpus, "select event_id, event_ts from raw.web_events where event_id like 'pns-%' order by 1") == [
            ("pns-1", datetime(2026, 10, 1, 10, 0)), ("pns-2", datetime(2026, 10, 1, 11, 0)),
        ]


class TestLinesOverTheLimit:
    """A line longer than ingest.max_line_bytes is quarantined with that reason; its neighbours load."""

    LIMIT = 1024 * 1024

    @pytest.mark.parametrize("alone", [True, False], ids=["one file", "with other files"])
    def test_long_line_quarantined(self, landing: Landing, warehouse: Path, alone: bool) -> None:
        long_title = "y" * (2 * self.LIMIT)
        landing.jsonl("web", DAY1, "long.jsonl", [page_view("l1"), page_view("l2", page_title=long_title), page_view("l3")])
        landing.text("web", DAY1, "long.csv", f"{WEB_HEADER}\nlc1,{TS},page_view,a1,t\nlc2,{TS},page_view,a1,{long_title}\nlc3,{TS},page_view,a1,t\n")
        if not alone:
            landing.jsonl("web", DAY1, "other.jsonl", [page_view("o1")])
        settings = Settings(ingest=IngestSettings(max_line_bytes=self.LIMIT))
        summary = run_day(landing, warehouse, DAY1, settings)
        assert summary.file_errors == []
        error = f"line is longer than the limit of {self.LIMIT} bytes (ingest.max_line_bytes)"
        rows = query(warehouse, "select source_file, line_no, error, length(raw) < 1100 from quarantine order by 1")
        assert rows == [(DAY + "long.csv", 3, error, True), (DAY + "long.jsonl", 2, error, True)]
        loaded = query(warehouse, "select event_id, line_no from raw.web_events order by 1")
        assert loaded == [("l1", 1), ("l3", 3), ("lc1", 2), ("lc3", 4)] + ([] if alone else [("o1", 1)])

    def test_long_quoted_csv_value_is_quarantined_only(self, landing: Landing, warehouse: Path) -> None:
        # the long line's text is kept cut short, with its opening quote and not its closing one:
        # the rows after it must still be matched to their lines, not all loaded by row number
        long_title = '"' + "y" * (2 * self.LIMIT) + '"'
        landing.text("web", DAY1, "long.csv", f"{WEB_HEADER}\nlc1,{TS},page_view,a1,t\nlc2,{TS},page_view,a1,{long_title}\nlc3,{TS},page_view,a1,t\n")
        run_day(landing, warehouse, DAY1, Settings(ingest=IngestSettings(max_line_bytes=self.LIMIT)))
        assert query(warehouse, "select line_no from quarantine") == [(3,)]
        assert query(warehouse, "select event_id, line_no from raw.web_events order by 1") == [("lc1", 2), ("lc3", 4)]
        assert query(warehouse, "select rows_read, rows_loaded, rows_quarantined from pipeline_runs") == [(3, 2, 1)]


class TestGlobCharactersInFileNames:
    """DuckDB's readers take a path as a glob pattern: a file named part[1].jsonl must be read as
    itself, not as part1.jsonl, and q?.csv not as qa.csv, in every format and in a batch."""

    def test_each_file_is_read_as_itself(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "part[1].jsonl", [page_view("b1")])
        landing.jsonl("web", DAY1, "part1.jsonl", [page_view("p1")])
        landing.binary("web", DAY1, "x*[y].jsonl", line(page_view("s1")) + b'{"event_id": "s2\xc3"}\n')
        landing.text("web", DAY1, "q?.csv", f"{WEB_HEADER}\nq1,{TS},page_view,a1,t\n")
        landing.text("web", DAY1, "qa.csv", f"{WEB_HEADER}\nqa1,{TS},page_view,a1,t\n")
        landing.parquet("web", DAY1, "p[2].parquet", pa.table({
            "event_id": ["pq1"], "event_ts": [TS], "event_name": ["page_view"], "anonymous_id": ["a1"]}))
        landing.parquet("web", DAY1, "p2.parquet", pa.table({
            "event_id": ["pq2"], "event_ts": [TS], "event_name": ["page_view"], "anonymous_id": ["a1"]}))
        summary = run_day(landing, warehouse, DAY1)
        assert summary.file_errors == []
        assert query(warehouse, "select source_file, event_id from raw.web_events order by 1") == [
            (DAY + "p2.parquet", "pq2"), (DAY + "p[2].parquet", "pq1"),
            (DAY + "part1.jsonl", "p1"), (DAY + "part[1].jsonl", "b1"),
            (DAY + "q?.csv", "q1"), (DAY + "qa.csv", "qa1"), (DAY + "x*[y].jsonl", "s1"),
        ]
        assert query(warehouse, "select source_file, line_no, error from quarantine") == [
            (DAY + "x*[y].jsonl", 2, NOT_UTF8)
        ]
        assert query(
            warehouse, "select sum(rows_read), sum(rows_loaded), sum(rows_duplicate) from raw.ingested_files"
        ) == [(8, 7, 0)]


class TestInvalidUtf8Alone:
    """Invalid UTF-8 is per-line also when the file is read on its own (not in a batch)."""

    def test_one_file(self, landing: Landing, warehouse: Path) -> None:
        landing.binary(
            "web", DAY1, "only.jsonl",
            b"\xff\xfe\n" + line(page_view("u2")) + b'{"event_id": "u3\xc3"}\n' + line(page_view("u4")),
        )
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select line_no, error from quarantine order by 1") == [(1, NOT_UTF8), (3, NOT_UTF8)]
        assert query(warehouse, "select event_id, line_no from raw.web_events order by 1") == [("u2", 2), ("u4", 4)]
        assert query(warehouse, "select rows_read, rows_loaded, rows_quarantined from raw.ingested_files") == [(4, 2, 2)]


class TestBareCarriageReturn:
    """A carriage return that is not part of a line end."""

    def test_bare_cr_in_unquoted_csv_value_is_a_clear_file_error(self, landing: Landing, warehouse: Path) -> None:
        landing.text("web", DAY1, "good.jsonl", json.dumps(page_view("g1")) + "\n")
        landing.binary("web", DAY1, "cr.csv", f"{WEB_HEADER}\nc1,{TS},page_view,a1,a\rb\nc2,{TS},page_view,a1,t\n".encode())
        summary = run_day(landing, warehouse, DAY1)
        assert summary.file_errors == [
            f"{DAY}cr.csv: file could not be read: The CSV Parser state machine reached an invalid state "
            "(the file is not CSV text (binary data, or a bare carriage return in a value?))"
        ]
        assert query(warehouse, "select event_id from events") == [("g1",)]

    def test_bare_cr_as_json_whitespace(self, landing: Landing, warehouse: Path) -> None:
        text = json.dumps(page_view("cr1")).replace(", ", ",\r ", 1)
        landing.binary("web", DAY1, "cr.jsonl", line(page_view("cr0")) + text.encode() + b"\n" + line(page_view("cr2")))
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, line_no from raw.web_events order by 1") == [
            ("cr0", 1), ("cr1", 2), ("cr2", 3)
        ]


    def test_bare_cr_in_a_batch_of_gzipped_files(self, landing: Landing, warehouse: Path) -> None:
        """A file of a multi-file batch with bare CRs is read on its own; the others are not
        touched; a bad line after it keeps its number and a refused line keeps its CR."""
        landing.jsonl("web", DAY1, "a.jsonl", [page_view("a1"), page_view("a2", extra={"k": 1})])
        nested = json.dumps(page_view("cr-nested", extra={"k": 1})).replace('}, "', '}\r, "', 1)
        body = (
            line(page_view("cr0"))
            + b"\r" + line(page_view("cr-leading"))  # a CR that opens a line
            + nested.encode() + b"\n"  # the cut piece before the CR ends with "}"
            + b'{"event_id": "cr-bad",\r "event_ts": 12\n'  # not JSON, with a CR inside
            + b"not json\n"
            + line(page_view("cr-last"))
        )
        landing.binary("web", DAY1, "b.jsonl.gz", gzip.compress(body))
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, source_file, line_no from raw.web_events order by 2, 3") == [
            ("a1", f"{DAY}a.jsonl", 1), ("a2", f"{DAY}a.jsonl", 2),
            ("cr0", f"{DAY}b.jsonl.gz", 1), ("cr-leading", f"{DAY}b.jsonl.gz", 2),
            ("cr-nested", f"{DAY}b.jsonl.gz", 3), ("cr-last", f"{DAY}b.jsonl.gz", 6),
        ]
        assert query(warehouse, "select line_no, raw, error from quarantine order by 1") == [
            (4, '{"event_id": "cr-bad",\r "event_ts": 12', "line is not valid JSON"),
            (5, "not json", "line is not valid JSON"),
        ]
        # the CR was whitespace: the row is as it would be without it
        assert query(
            warehouse, "select count(distinct properties) from raw.web_events where event_id in ('a2', 'cr-nested')"
        ) == [(1,)]

    def test_lf_then_cr_lf_line_ends(self, landing: Landing, warehouse: Path) -> None:
        """Lines ending in LF, then in CR LF (an export appended to a file): each line is one line,
        alone or in a batch of files."""
        body = line(page_view("m1")) + b"not json\r\n" + line(page_view("m3"))[:-1] + b"\r\n" + b"bad again\n"
        landing.binary("web", DAY1, "a.jsonl", line(page_view("a1")))
        landing.binary("web", DAY1, "m.jsonl", body)
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, line_no from raw.web_events order by 1") == [
            ("a1", 1), ("m1", 1), ("m3", 3)
        ]
        assert query(warehouse, "select line_no, raw from quarantine order by 1") == [(2, "not json"), (4, "bad again")]

    def test_json_whitespace_before_the_object(self, landing: Landing, warehouse: Path) -> None:
        """Tab, CR and space before the "{" are JSON whitespace: the object loads."""
        landing.binary("web", DAY1, "ws.jsonl", b"\t" + line(page_view("tab")) + b" \r " + line(page_view("cr")))
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, line_no from raw.web_events order by 2") == [("tab", 1), ("cr", 2)]
        assert query(warehouse, "select count(*) from quarantine") == [(0,)]

    @pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 5, 1 << 22])
    def test_bare_cr_found_and_marked_across_chunk_ends(self, tmp_path: Path, chunk_bytes: int) -> None:
        """The streamed search and copy see a CR whose LF is in the next chunk."""
        from journey_analytics.ingest._read import copy_marking_bare_cr, has_bare_cr

        cases = [b"", b"a\r\nb\r\n", b"\r\n", b"a\rb", b"\r", b"a\r", b"\r\r\n", b"a\r\n\rb\n", b"ab\r\n\r\n\r"]
        for index, text in enumerate(cases):
            source = tmp_path / f"case{index}.jsonl.gz"
            source.write_bytes(gzip.compress(text))
            copy = tmp_path / f"case{index}.copy"
            copy_marking_bare_cr(source, copy, b"<CR>", chunk_bytes)
            expected = text.replace(b"\r\n", b"\0").replace(b"\r", b"<CR>").replace(b"\0", b"\r\n")
            assert copy.read_bytes() == expected, text
            assert has_bare_cr(source, chunk_bytes) == (expected != text), text


class TestCsvLinesAfterAValueOnTwoLines:
    """A quoted CSV value may span lines; the rows after it keep their physical line numbers,
    and a refused row is quarantined with its own line and text, never a neighbour's."""

    def test_ragged_row_after_a_value_on_two_lines(self, landing: Landing, warehouse: Path) -> None:
        landing.text("web", DAY1, "w.csv", (
            f"{WEB_HEADER}\n"
            f'r1,{TS},page_view,a1,"two\nlines"\n'
            f"r2,{TS},page_view,a1,good row\n"
            f"r3,{TS},page_view,a1,ragged,EXTRA\n"
            f"r4,bad,page_view,a1,t\n"
        ))
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, line_no from raw.web_events order by 1") == [("r1", 2), ("r2", 4)]
        assert query(warehouse, "select line_no, raw, left(error, 30) from quarantine order by 1") == [
            (5, f"r3,{TS},page_view,a1,ragged,EXTRA", "CSV row does not fit the heade"),
            (6, "r4,bad,page_view,a1,t", 'event_ts "bad" is not a timest'),
        ]

    @pytest.mark.parametrize("delimiter", [",", "\t", "|"])
    def test_a_quote_inside_an_unquoted_value(self, landing: Landing, warehouse: Path, delimiter: str) -> None:
        """A quote in the middle or at the end of an unquoted value (an inch mark: TV 55" OLED,
        Monitor 27") is a character of it, as the reader takes it; every quote was counted as
        opening a value, so the lines after it were taken for its row's and, with a blank line or
        a value on two lines in the file, the rows after it were numbered wrong."""
        rows = [
            ("s1", 'TV 55" OLED'),
            ("s2", '"two\nlines, with a ""quote"" in them"'),
            ("s3", 'Monitor 27"'),
            None,  # a blank line
            ("s4", '"quoted, then 12"" on the next\nline"'),
            ("s5", 'x"y"z'),
            ("", "no id"),
            ("s6", 'plain'),
        ]
        text = delimiter.join(WEB_HEADER.split(",")) + "\n" + "".join(
            "\n" if row is None else delimiter.join([row[0], TS, "page_view", "a1", row[1]]) + "\n" for row in rows
        )
        landing.text("web", DAY1, "x.csv", text)
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, line_no, page_title from raw.web_events order by 1") == [
            ("s1", 2, 'TV 55" OLED'), ("s2", 3, 'two\nlines, with a "quote" in them'), ("s3", 5, 'Monitor 27"'),
            ("s4", 7, 'quoted, then 12" on the next\nline'), ("s5", 9, 'x"y"z'), ("s6", 11, "plain"),
        ]
        assert query(warehouse, "select line_no, error from quarantine") == [(10, "missing required field event_id")]

    def test_a_quote_inside_an_unquoted_value_of_a_backslash_escaped_file(self, landing: Landing, warehouse: Path) -> None:
        """As above, in a file that escapes a quote inside a value with a backslash: there the
        lines are followed with that escape."""
        landing.text("web", DAY1, "x.csv", (
            f"{WEB_HEADER}\n"
            f'b1,{TS},page_view,a1,TV 55" OLED\n'
            f'b2,{TS},page_view,a1,"say \\"hi\\",\ntwice"\n'
            "\n"
            f",{TS},page_view,a1,no id\n"
            f"b3,{TS},page_view,a1,plain\n"
        ))
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, line_no, page_title from raw.web_events order by 1") == [
            ("b1", 2, 'TV 55" OLED'), ("b2", 3, 'say "hi",\ntwice'), ("b3", 7, "plain"),
        ]
        assert query(warehouse, "select line_no, error from quarantine") == [(6, "missing required field event_id")]

    def test_a_line_end_escaped_with_a_backslash(self, landing: Landing, warehouse: Path) -> None:
        """MySQL writes a line end inside a value as a backslash and the line end: the value goes on."""
        landing.text("web", DAY1, "x.csv", (
            f"{WEB_HEADER}\n"
            f'm1,{TS},page_view,a1,"say \\"hi\\" C:\\\n'
            'next"\n'
            f"m2,{TS},page_view,a1,plain\n"
            "\n"
            f"m3,{TS},page_view,a1,plain\n"
        ))
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, line_no from raw.web_events order by 1") == [
            ("m1", 2), ("m2", 4), ("m3", 6)]

    def test_two_spaces_before_a_quote(self, landing: Landing, warehouse: Path) -> None:
        """The reader opens a quoted value after at most one space; after two the quote is text."""
        landing.text("web", DAY1, "x.csv", (
            f"{WEB_HEADER},note\n"
            f'q1,{TS},page_view,a1,27" TV,  "deal\n'
            f'q2,{TS},page_view,a1,"two\nlines",u\n'
            "\n"
            f"q3,{TS},page_view,a1,plain,\n"
        ))
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, line_no, properties->>'note' from raw.web_events order by 1") == [
            ("q1", 2, '  "deal'), ("q2", 3, "u"), ("q3", 6, None)]

    def test_a_header_that_is_not_the_contracts(self, landing: Landing, warehouse: Path) -> None:
        """With a header the dialect is not read from (a name given twice), the reader guesses the
        delimiter, and the quotes are counted, as before."""
        landing.text("web", DAY1, "x.csv", (
            "event_id;event_ts;event_name;anonymous_id;page_title;page_title\n"
            f'g1;{TS};page_view;a1;"two\nlines";x\n'
            f"g2;{TS};page_view;a1;plain;y\n"
            "\n"
            f"g3;{TS};page_view;a1;plain;z\n"
        ))
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, line_no from raw.web_events order by 1") == [
            ("g1", 2), ("g2", 4), ("g3", 6)]

    def test_text_that_is_not_utf8_after_a_value_on_two_lines(self, landing: Landing, warehouse: Path) -> None:
        landing.binary("web", DAY1, "w.csv", (
            f"{WEB_HEADER}\n".encode()
            + f'r1,{TS},page_view,a1,"two\nlines"\n'.encode()
            + f"r2,{TS},page_view,a1,caf".encode() + b"\xe9\n"
            + f"r3,{TS},page_view,a1,ok\n".encode()
        ))
        summary = run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, line_no from raw.web_events order by 1") == [("r1", 2), ("r3", 5)]
        assert query(warehouse, "select line_no, error from quarantine") == [(4, "line is not valid UTF-8 text")]
        assert (summary.rows_read, summary.rows_loaded, summary.rows_quarantined) == (3, 2, 1)

    def test_crlf_and_lf_line_ends_in_one_file(self, landing: Landing, warehouse: Path) -> None:
        """Rows ending in CR LF, then in LF (an export appended to another): every row loads at
        its line, a refused one is quarantined at its own."""
        landing.binary("web", DAY1, "w.csv", (
            f"{WEB_HEADER}\r\n"
            f'r1,{TS},page_view,a1,"two\r\nlines"\r\n'
            f"r2,{TS},page_view,a1,t\r\n"
            f"r3,{TS},page_view,a1,t\n"
            f"r4,{TS},page_view,a1,ragged,EXTRA\n"
            f"r5,{TS},page_view,a1,t\n"
        ).encode())
        summary = run_day(landing, warehouse, DAY1)
        assert summary.file_errors == []
        assert query(warehouse, "select event_id, line_no from raw.web_events order by 1") == [
            ("r1", 2), ("r2", 4), ("r3", 5), ("r5", 7)
        ]
        assert query(warehouse, "select line_no, raw from quarantine") == [(6, f"r4,{TS},page_view,a1,ragged,EXTRA")]

    @pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 1 << 22])
    def test_mixed_line_ends_found_and_copied_across_chunk_ends(self, tmp_path: Path, chunk_bytes: int) -> None:
        from journey_analytics.ingest._read import copy_with_lf_line_ends, mixes_line_ends

        cases = {b"a\r\nb\n": True, b"a\nb\r\n": True, b"a\r\nb\r\n": False, b"a\nb\n": False, b"a\rb\n": False,
                 b"": False, b"\r\n\r\n\n": True}
        for index, (text, mixed) in enumerate(cases.items()):
            source = tmp_path / f"case{index}.csv"
            source.write_bytes(text)
            assert mixes_line_ends(source, chunk_bytes) == mixed, text
            copy = tmp_path / f"case{index}.copy"
            copy_with_lf_line_ends(source, copy, chunk_bytes)
            assert copy.read_bytes() == text.replace(b"\r\n", b"\n"), text

    @pytest.mark.parametrize("chunk_bytes", [1, 3, 1 << 22])
    def test_lines_found_at_byte_positions(self, tmp_path: Path, chunk_bytes: int) -> None:
        from journey_analytics.ingest._read import physical_lines

        path = tmp_path / "f.csv"
        path.write_bytes(b"ab\r\ncd\n\nef")
        assert physical_lines(path, [0, 4, 7, 8, 9, 11, 99], chunk_bytes) == {
            0: 1, 4: 2, 7: 3, 8: 4, 9: 4, 11: 4, 99: 4
        }


class TestCrmFilesToo:
    """Identity and label files (no dt= folder) get the same treatment; a bad identity row's
    text is withheld, as it may hold a handle."""

    def test_a_stage_padded_with_a_tab_or_a_no_break_space(self, landing: Landing, warehouse: Path) -> None:
        """A stage is read as the identifier it is: whitespace of any kind around it (a tab from a
        spreadsheet, a no-break space) is not part of it, as spaces were not."""
        landing.binary(
            "labels", None, "labels.csv",
            "user_id,stage,as_of_date\nu1,Purchase\t,2026-09-30\nu2,retention\u00a0,2026-09-30\nu3,  advocacy ,2026-09-30\n"
            .encode(),
        )
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select user_id, stage from raw.labels order by 1") == [
            ("u1", "purchase"), ("u2", "retention"), ("u3", "advocacy")]

    def test_bom_and_invalid_utf8(self, landing: Landing, warehouse: Path) -> None:
        landing.binary(
            "identities", None, "crm.csv",
            b"\xef\xbb\xbfuser_id,email,platform,handle\r\n"
            b"u1,ann@example.com,x,ann\r\n"
            b"u2,b\xf6b@example.com,x,bob\r\n"
            b"u3,cy@example.com,,\r\n",
        )
        landing.binary("labels", None, "labels.csv", b"\xef\xbb\xbfuser_id,stage,as_of_date\nu1,purchase,2026-09-30\n")
        summary = run_day(landing, warehouse, DAY1)
        assert summary.file_errors == []
        assert query(warehouse, "select user_id, line_no from raw.identities order by 1") == [("u1", 2), ("u3", 4)]
        assert query(warehouse, "select user_id, stage from raw.labels") == [("u1", "purchase")]
        (channel, line_no, raw, error), = query(warehouse, "select channel, line_no, raw, error from quarantine")
        assert (channel, line_no, error) == ("identities", 3, NOT_UTF8)
        assert raw.startswith("[row withheld") and "bob" not in raw


class TestCsvDialect:
    """A CSV is read with the dialect its header line gives (its delimiter; values quoted with ",
    a quote inside one doubled), not one guessed from its rows."""

    @staticmethod
    def loaded(landing: Landing, warehouse: Path, text: str) -> tuple[list[tuple[Any, ...]], int]:
        """Run a day with one web CSV: its events' (event_id, page_title), and rows quarantined."""
        landing.text("web", DAY1, "x.csv", text)
        run_day(landing, warehouse, DAY1)
        titles = query(warehouse, "select event_id, page_title from events order by 1")
        return titles, query(warehouse, "select count(*) from quarantine")[0][0]

    def test_one_unterminated_quote_does_not_unquote_the_file(self, landing: Landing, warehouse: Path) -> None:
        """One value whose quote never closes made the reader guess the file had no quoting at all:
        the good rows' quoted values holding a comma split, and those rows were refused as having
        too many columns, while the broken row loaded with its quote in its title."""
        landing.text("web", DAY1, "x.csv", (
            f"{WEB_HEADER}\n"
            f'q1,{TS},page_view,a1,"Shoes, red"\n'
            f'q2,{TS},page_view,a2,"Hats, blue"\n'
            f'q3,{TS},page_view,a3,"broken\n'
        ))
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, page_title from events order by 1") == [
            ("q1", "Shoes, red"), ("q2", "Hats, blue")]
        ((line_no, error),) = query(warehouse, "select line_no, error from quarantine")
        assert line_no == 4 and "unterminated quote" in error
        assert query(warehouse, "select rows_read, rows_loaded, rows_quarantined from raw.ingested_files") == [(3, 2, 1)]

    @pytest.mark.parametrize("delimiter", [";", "\t", "|"])
    def test_other_delimiters(self, landing: Landing, warehouse: Path, delimiter: str) -> None:
        """A spreadsheet's export with semicolons (as European Excel writes CSV), tabs or bars."""
        header = WEB_HEADER.replace(",", delimiter)
        text = (f"{header}\n"
                + delimiter.join(["d1", TS, "page_view", "a1", '"Shoes; red, 2 | 3"']) + "\n"
                + delimiter.join(["d2", TS, "page_view", "a2", 'Hats']) + "\n")
        assert self.loaded(landing, warehouse, text) == ([("d1", "Shoes; red, 2 | 3"), ("d2", "Hats")], 0)

    def test_blank_lines_before_the_header(self, landing: Landing, warehouse: Path) -> None:
        """The header is the first line that is not blank, as the reader guessing the dialect took
        it: given the dialect, the reader took the blank first line for the header, and the
        header line loaded as a row (quarantined: event_ts "event_ts" is not a timestamp)."""
        landing.text("web", DAY1, "x.csv", f"\n \n{WEB_HEADER}\nb1,{TS},page_view,a1,\"Shoes, red\"\n")
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, page_title, line_no from raw.web_events") == [("b1", "Shoes, red", 4)]
        assert query(warehouse, "select count(*) from quarantine") == [(0,)]

    def test_spaces_after_the_delimiters_of_the_header(self, landing: Landing, warehouse: Path) -> None:
        """'event_id, event_ts, ...' names event_ts (as the guessing reader read it): given the names
        with their spaces, no row had an event_ts and every row was quarantined."""
        text = f"{WEB_HEADER.replace(',', ', ')}\nb1,{TS},page_view,a1,t\n"
        assert self.loaded(landing, warehouse, text) == ([("b1", "t")], 0)

    def test_quotes_escaped_with_a_backslash(self, landing: Landing, warehouse: Path) -> None:
        """An exporter that escapes a quote as \\" (MySQL's, a csv writer with an escapechar): the
        value loads as it was, as the reader guessing the dialect loaded it."""
        text = f'{WEB_HEADER}\nb1,{TS},page_view,a1,"say \\"hi\\", there"\nb2,{TS},page_view,a2,plain\n'
        assert self.loaded(landing, warehouse, text) == ([("b1", 'say "hi", there'), ("b2", "plain")], 0)

    def test_an_escaped_backslash_at_the_end_of_a_value(self, landing: Landing, warehouse: Path) -> None:
        """An exporter that escapes with a backslash doubles every backslash: "C:\\\\temp\\\\" is
        C:\\temp\\. Read both ways, the file refuses no row; it is read as escaped, as before."""
        text = (f'{WEB_HEADER}\nb1,{TS},page_view,a1,"C:\\\\temp\\\\"\n'
                f'b2,{TS},page_view,a2,"a \\\\ b"\n')
        assert self.loaded(landing, warehouse, text) == ([("b1", "C:\\temp\\"), ("b2", "a \\ b")], 0)

    def test_an_open_quote_after_a_blank_line_in_a_windows_file(self, landing: Landing, warehouse: Path) -> None:
        """With CR LF line ends and a blank line before it, the reader numbers a refused row by the
        blank line: its text is the reader's own, with the row its open quote swallowed."""
        swallowed = f'o3,{TS},page_view,a3,"Hats, blue"'
        landing.text("web", DAY1, "x.csv", "\r\n".join([
            WEB_HEADER, f"o1,{TS},page_view,a1,plain", "", f'o2,{TS},page_view,a2,"broken', swallowed,
            f"o4,{TS},page_view,a4,plain", "",
        ]))
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id from raw.web_events order by 1") == [("o1",), ("o4",)]
        ((raw,),) = query(warehouse, "select raw from quarantine")
        assert raw == f'o2,{TS},page_view,a2,"broken\n{swallowed}'
        assert query(warehouse, "select rows_read, rows_loaded, rows_quarantined from raw.ingested_files") == [(3, 2, 1)]

    def test_a_value_ending_in_a_backslash(self, landing: Landing, warehouse: Path) -> None:
        """A value that ends in a backslash ("not sure :\\", a Windows folder) is RFC 4180's
        backslash and closing quote. Any \\" made the whole file read as backslash-escaped: the
        quote stayed open, the next row was swallowed into a refused one and counted nowhere."""
        landing.text("web", DAY1, "x.csv", (
            f"{WEB_HEADER}\n"
            f'e1,{TS},page_view,a1,"hmm, not sure :\\"\n'
            f'e2,{TS},page_view,a2,"love it, 10/10"\n'
            f'e3,{TS},page_view,a3,"C:\\temp\\"\n'
            f'e4,{TS},page_view,a4,"say ""hi"" \\"\n'
            f"e5,{TS},page_view,a5,plain\n"
        ))
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, line_no, page_title from raw.web_events order by 1") == [
            ("e1", 2, "hmm, not sure :\\"), ("e2", 3, "love it, 10/10"), ("e3", 4, "C:\\temp\\"),
            ("e4", 5, 'say "hi" \\'), ("e5", 6, "plain")]
        assert query(warehouse, "select count(*) from quarantine") == [(0,)]

    def test_a_row_an_open_quote_swallows_is_quarantined_with_it(self, landing: Landing, warehouse: Path) -> None:
        """A quote left open runs on to the next quote, lines later: the refused row is quarantined
        with every line it took (its raw text held only its first, and the rows it swallowed were
        in no table), and the rows after it keep their own line numbers (they were numbered by
        their place among the rows)."""
        swallowed = f'o2,{TS},page_view,a2,"Hats, blue"'
        landing.text("web", DAY1, "x.csv", (
            f"{WEB_HEADER}\n"
            f'o1,{TS},page_view,a1,"broken\n'
            f"{swallowed}\n"
            f'o3,{TS},page_view,a3,"Shoes, red"\n'
            f"o4,{TS},page_view,a4,plain\n"
        ))
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, line_no from raw.web_events order by 1") == [("o3", 4), ("o4", 5)]
        ((line_no, error, raw),) = query(warehouse, "select line_no, error, raw from quarantine")
        assert (line_no, raw) == (2, f'o1,{TS},page_view,a1,"broken\n{swallowed}') and "unterminated quote" in error
        assert query(warehouse, "select rows_read, rows_loaded, rows_quarantined from raw.ingested_files") == [(3, 2, 1)]


class TestInvisibleMarksAroundText:
    def test_a_right_to_left_mark_at_the_end_of_a_value_is_not_part_of_it(self, landing: Landing, warehouse: Path) -> None:
        """Text pasted from a right-to-left page brings invisible marks (RLM, zero-width space)
        around it: one campaign source with and without them is one segment, not two."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            {**page_view("rtl-1"), "utm_source": "فيسبوك"},
            {**page_view("rtl-2"), "utm_source": "فيسبوك\u200f"},
            {**page_view("rtl-3"), "utm_source": "\u200bفيسبوك\u200e "},
            {**page_view("rtl-4"), "utm_source": "a\u200db"},  # a joiner inside text is the text's
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, utm_source from events order by 1") == [
            ("rtl-1", "فيسبوك"), ("rtl-2", "فيسبوك"), ("rtl-3", "فيسبوك"), ("rtl-4", "a\u200db")]
