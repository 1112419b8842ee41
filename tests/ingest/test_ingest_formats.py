"""Every landing format (jsonl, jsonl.gz, csv, parquet) loads the same logical rows alike."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from journey_analytics.privacy import HashKey, install_hash_macro
from journey_analytics.warehouse import run_script
from tests.conftest import DAY1, TEST_HASH_KEY, Landing, query, run_day

# The same four web events, 5 minutes apart; event_ts as Z, an offset and epoch milliseconds (text).
ROWS: list[dict[str, Any]] = [
    {
        "event_id": "e1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view",
        "anonymous_id": "a1", "page_url": "https://shop.example/", "utm_source": "news",
        "utm_medium": "email", "utm_campaign": "autumn", "device_category": "Mobile",
        "country": "de", "coupon": "WELCOME",
    },
    {
        "event_id": "e2", "event_ts": "2026-10-01T12:05:00+02:00", "event_name": "add_to_cart",
        "anonymous_id": "a1", "page_url": "https://shop.example/p/1", "coupon": "WELCOME",
    },
    {
        "event_id": "e3", "event_ts": "1790849400000", "event_name": "purchase",
        "anonymous_id": "a1", "order_id": "o1", "value": "12.5", "currency": "eur", "coupon": "WELCOME",
    },
    {
        "event_id": "e4", "event_ts": "1790849700000", "event_name": "page_view",
        "anonymous_id": "a1", "page_url": "https://shop.example/thanks", "coupon": "WELCOME",
    },
]
COLUMNS = list(dict.fromkeys(k for row in ROWS for k in row))

EXPECTED = [
    # event_id, event_ts, event_name, anonymous_id, page_url, utm_source, utm_medium, utm_campaign,
    # device_category, country, order_id, value, currency, properties, is_late
    ("e1", datetime(2026, 10, 1, 10, 0), "page_view", "a1", "https://shop.example/", "news", "email", "autumn", "mobile", "DE", None, None, None, '{"coupon":"WELCOME"}', False),
    ("e2", datetime(2026, 10, 1, 10, 5), "add_to_cart", "a1", "https://shop.example/p/1", None, None, None, None, None, None, None, None, '{"coupon":"WELCOME"}', False),
    ("e3", datetime(2026, 10, 1, 10, 10), "purchase", "a1", None, None, None, None, None, None, "o1", 12.5, "EUR", '{"coupon":"WELCOME"}', False),
    ("e4", datetime(2026, 10, 1, 10, 15), "page_view", "a1", "https://shop.example/thanks", None, None, None, None, None, None, None, None, '{"coupon":"WELCOME"}', False),
]
EVENT_COLUMNS = (
    "event_id, event_ts, event_name, anonymous_id, page_url, utm_source, utm_medium, utm_campaign, "
    "device_category, country, order_id, value, currency, properties, is_late"
)


def as_strings(rows: list[dict[str, Any]]) -> pa.Table:
    """A Parquet-ready table with every column as text (missing values null)."""
    return pa.table({c: pa.array([row.get(c) for row in rows], pa.string()) for c in COLUMNS})


def with_typed_columns(rows: list[dict[str, Any]]) -> pa.Table:
    """The same rows with a typed timestamp (zone +02:00) and a double value column."""
    table = as_strings(rows)
    plus2 = timezone(timedelta(hours=2))
    instants = [datetime(2026, 10, 1, 12, 0, tzinfo=plus2) + timedelta(minutes=5 * i) for i in range(len(rows))]
    table = table.set_column(COLUMNS.index("event_ts"), "event_ts", pa.array(instants, pa.timestamp("ms", tz="+02:00")))
    values = [float(row["value"]) if "value" in row else None for row in rows]
    return table.set_column(COLUMNS.index("value"), "value", pa.array(values, pa.float64()))


def with_naive_timestamps(rows: list[dict[str, Any]]) -> pa.Table:
    """The same rows with a timestamp column that carries no time zone (as pandas writes one),
    holding the UTC times."""
    table = as_strings(rows)
    instants = [datetime(2026, 10, 1, 10, 0) + timedelta(minutes=5 * i) for i in range(len(rows))]
    return table.set_column(COLUMNS.index("event_ts"), "event_ts", pa.array(instants, pa.timestamp("us")))


def write(landing: Landing, fmt: str, rows: list[dict[str, Any]]) -> None:
    if fmt == "jsonl":
        landing.jsonl("web", DAY1, "events.jsonl", rows)
    elif fmt == "jsonl.gz":
        landing.jsonl_gz("web", DAY1, "events.jsonl.gz", rows)
    elif fmt == "csv":
        landing.csv("web", DAY1, "events.csv", COLUMNS, rows)
    elif fmt == "parquet":
        landing.parquet("web", DAY1, "events.parquet", as_strings(rows))
    elif fmt == "parquet, typed":
        landing.parquet("web", DAY1, "events.parquet", with_typed_columns(rows))
    elif fmt == "parquet, naive timestamps":  # read as UTC
        landing.parquet("web", DAY1, "events.parquet", with_naive_timestamps(rows))


FORMATS = ["jsonl", "jsonl.gz", "csv", "parquet", "parquet, typed", "parquet, naive timestamps"]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One warehouse per format, each after one run over the same rows in that format."""
    warehouses = {}
    for fmt in FORMATS:
        root = tmp_path_factory.mktemp("format")
        landing = Landing(root / "landing")
        write(landing, fmt, ROWS)
        summary = run_day(landing, root / "journey.duckdb", DAY1)
        assert (summary.rows_read, summary.rows_loaded, summary.rows_quarantined) == (4, 4, 0)
        warehouses[fmt] = root / "journey.duckdb"
    return warehouses


class TestFormatsLoadAlike:
    """The same logical rows in any format become identical events rows."""

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_events_rows(self, loaded: dict[str, Path], fmt: str) -> None:
        assert query(loaded[fmt], f"select {EVENT_COLUMNS} from events order by event_ts") == EXPECTED

    @pytest.mark.parametrize("fmt", FORMATS[1:])
    def test_whole_events_table_matches_jsonl(self, loaded: dict[str, Path], fmt: str) -> None:
        everything = "select * from events order by event_id"
        assert query(loaded[fmt], everything) == query(loaded["jsonl"], everything)

    def test_line_numbers_count_the_csv_header(self, loaded: dict[str, Path]) -> None:
        assert query(loaded["csv"], "select event_id, line_no from raw.web_events order by line_no") == [
            ("e1", 2), ("e2", 3), ("e3", 4), ("e4", 5),
        ]

    def test_parquet_rows_are_numbered_from_one(self, loaded: dict[str, Path]) -> None:
        assert query(loaded["parquet, typed"], "select event_id, line_no from raw.web_events order by line_no") == [
            ("e1", 1), ("e2", 2), ("e3", 3), ("e4", 4),
        ]


INSTANT = datetime(2026, 10, 1, 10, 0, tzinfo=UTC)
MILLIS = int(INSTANT.timestamp() * 1000)
SPELLINGS = [
    "2026-10-01T10:00:00Z", "2026-10-01T12:00:00+02:00", "2026-10-01T05:00:00-05:00", MILLIS, str(MILLIS),
    # ISO-8601's decimal comma, and a space before the offset (which DuckDB's cast refuses)
    "2026-10-01T10:00:00,000Z", "2026-10-01T15:30:00,0+0530", "2026-10-01 15:30:00 +05:30", "2026-10-01T10:00:00 Z",
    "2026-10-01t10:00:00.000z",
    # UTC or GMT named, as database exports write it (BigQuery: "2026-10-01 10:00:00 UTC")
    "2026-10-01 10:00:00 UTC", "2026-10-01T10:00:00.000UTC", "2026-10-01 10:00:00 gmt",
]


@pytest.fixture(scope="module")
def spelled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One instant spelled many ways, and a row with fields beyond the contract."""
    root = tmp_path_factory.mktemp("spelled")
    landing = Landing(root / "landing")
    landing.jsonl(
        "web", DAY1, "ts.jsonl",
        [
            {"event_id": f"t{i}", "event_ts": ts, "event_name": "page_view", "anonymous_id": "a1"}
            for i, ts in enumerate(SPELLINGS)
        ]
        + [
            {"event_id": "x1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1",
             "ab_test": "B", "scroll_depth": 75},
        ],
    )
    run_day(landing, root / "journey.duckdb", DAY1)
    return root / "journey.duckdb"


class TestTimestampSpellings:
    """Z, an offset (after a space or not), UTC or GMT, a decimal point or comma, and epoch
    milliseconds as a number or as text are the same UTC instant."""

    def test_one_instant(self, spelled: Path) -> None:
        assert dict(query(spelled, "select event_id, event_ts from events where event_id like 't%'")) == {
            f"t{i}": datetime(2026, 10, 1, 10, 0) for i in range(len(SPELLINGS))
        }


class TestExtraColumns:
    """Fields beyond the contract are kept in properties (with their JSON types), never an error."""

    def test_extra_fields_in_properties(self, spelled: Path) -> None:
        assert query(spelled, "select properties from events where event_id = 'x1'") == [
            ('{"ab_test":"B","scroll_depth":75}',)
        ]

    def test_an_analyst_reads_a_number_as_a_number(self, spelled: Path) -> None:
        assert query(spelled, "select properties->'scroll_depth', json_type(properties, '$.scroll_depth') "
                              "from events where event_id = 'x1'") == [("75", "UBIGINT")]

    def test_row_without_extra_fields_has_no_properties(self, spelled: Path) -> None:
        assert query(spelled, "select properties from events where event_id = 't0'") == [(None,)]

    def test_extra_values_of_every_json_type(self, landing: Landing, warehouse: Path) -> None:
        # Each value keeps its JSON type (a number, a boolean, an object an analyst can reach
        # into); null values are left out; personal data is masked inside values (in the text,
        # not its escapes: "a\nb@example.com"), including an @ spelled as a JSON escape; a name
        # differing only in case from a contract field is an extra field.
        base = '"event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1"'
        landing.text("web", DAY1, "extra.jsonl", "\n".join([
            '{"event_id": "v1", ' + base + ', "EVENT_ID": "o", "n": 75, "f": 1.50, "b": true, "gone": null,'
            ' "obj": {"x": null, "y": "q@example.com"}, "list": [1, 2], "esc": "s\\u0040example.com",'
            ' "who": "@bob hi", "nl": "a\\nb@example.com"}',
            '{"event_id": "v2", ' + base + ', "gone": null}',  # only a null extra: no properties
            '{"event_id": "v3", ' + base + ', "user_id": null}',  # a contract field given as null
            '{"event_id": "v4", ' + base + ', "note": "plain"}',
        ]) + "\n")
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, properties from events order by event_id") == [
            ("v1", '{"EVENT_ID":"o","n":75,"f":1.5,"b":true,"obj":{"x":null,"y":"[email]"},'
                   '"list":[1,2],"esc":"[email]","who":"@[handle] hi","nl":"a\\n[email]"}'),
            ("v2", None),
            ("v3", None),
            ("v4", '{"note":"plain"}'),
        ]

    def test_extra_field_given_twice_is_refused(self, landing: Landing, warehouse: Path) -> None:
        base = '"event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1"'
        landing.text("web", DAY1, "twice.jsonl", "\n".join([
            '{"event_id": "d1", ' + base + ', "coupon": "A", "coupon": "B"}',
            '{"event_id": "d2", ' + base + ', "coupon": "A"}',
        ]) + "\n")
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, properties from events") == [("d2", '{"coupon":"A"}')]
        assert query(warehouse, "select line_no, error from quarantine") == [(1, 'field "coupon" appears more than once')]

    def test_a_key_given_twice_is_found_among_many_keys(self, landing: Landing, warehouse: Path) -> None:
        # Records of up to 64 keys and longer ones are searched for a key given twice in two ways
        # (see duplicated_key): both find the first key given again, however far apart.
        base = '"event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1"'
        def extras(n: int) -> str:
            return ", ".join(f'"x{i}": {i}' for i in range(n))
        landing.text("web", DAY1, "many-keys.jsonl", "\n".join([
            '{"event_id": "m1", ' + base + ", " + extras(60) + "}",  # 64 keys, none twice
            '{"event_id": "m2", ' + base + ", " + extras(60) + ', "x0": 0}',  # 65 keys
            '{"event_id": "m3", ' + base + ", " + extras(59) + ', "x3": 3}',  # 64 keys
            '{"event_id": "m4", ' + base + ", " + extras(80) + "}",  # 84 keys, none twice
            '{"event_id": "m5", ' + base + ", " + extras(80) + ', "event_name": "view_item"}',
        ]) + "\n")
        run_day(landing, warehouse, DAY1)
        loaded = query(warehouse, "select event_id, properties from events order by event_id")
        assert [(event_id, len(json.loads(properties))) for event_id, properties in loaded] == [("m1", 60), ("m4", 80)]
        assert query(warehouse, "select line_no, error from quarantine order by line_no") == [
            (2, 'field "x0" appears more than once'),
            (3, 'field "x3" appears more than once'),
            (5, 'field "event_name" appears more than once'),
        ]

    def test_the_key_named_is_the_first_one_given_again(self, landing: Landing, warehouse: Path) -> None:
        # Among several keys given twice, the reason names the one whose repeat comes first in the
        # line, not the first in the alphabet or the first to appear; and a line of 50,000 keys
        # (a hostile or broken exporter) is refused with its whole text (its time is measured by
        # benchmarks/long_lines.py, not here).
        base = '"event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1"'
        def extras(n: int) -> list[str]:
            return [f'"x{i}": {i}' for i in range(n)]
        long_keys = extras(50_000)
        long_keys.insert(40_000, '"x30000": 0')
        long_keys.insert(45_000, '"x5": 0')
        long_line = '{"event_id": "k3", ' + base + ", " + ", ".join(long_keys) + "}"
        landing.text("web", DAY1, "repeats.jsonl", "\n".join([
            '{"event_id": "k1", ' + base + ", " + ", ".join([*extras(10), '"x7": 7', '"x2": 2']) + "}",
            '{"event_id": "k2", ' + base + ', "zz": 1, "aa": 1, "zz": 2, "aa": 2}',
            long_line,
            '{"event_id": "k4", ' + base + "}",
        ]) + "\n")
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id from events") == [("k4",)]
        assert query(warehouse, "select line_no, error, raw = ? from quarantine order by line_no",
                     [long_line]) == [
            (1, 'field "x7" appears more than once', False),
            (2, 'field "zz" appears more than once', False),
            (3, 'field "x30000" appears more than once', True),
        ]

    @pytest.mark.parametrize("settings", [
        ["set default_collation = 'nocase'"],
        ["set default_order = 'desc'"],
        ["set default_collation = 'noaccent.nocase'", "set default_order = 'desc'", "set default_null_order = 'nulls_last'"],
    ])
    def test_the_key_named_does_not_depend_on_the_sessions_sort_settings(self, settings: list[str]) -> None:
        # The key given twice is found by sorting the record's keys: that sort is by bytes and
        # ascending, whatever a connection's default collation or order (a case-blind collation
        # once named "a" for ["A", "a", "b", "b"], a key never given twice; a descending default
        # named "a" for ["a", "b", "b", "a"], whose first repeat is "b").
        con = duckdb.connect()
        try:
            for setting in settings:
                con.execute(setting).fetchall()
            install_hash_macro(con, HashKey(TEST_HASH_KEY.encode(), "test"))
            run_script(con, "macros", "landing_macros")
            many = ", ".join(f"'k{i}'" for i in range(70))  # past 64 keys: the other way of finding one
            assert con.execute(f"""
                select duplicated_key(['A', 'a', 'b', 'b']), duplicated_key(['a', 'b', 'b', 'a']),
                       duplicated_key(['é', 'e', 'E', 'x', 'x']), duplicated_key(['A', 'a']),
                       duplicated_key([{many}, 'K5', 'k7', 'k1'])
            """).fetchall() == [("b", "b", "x", None, "k7")]
        finally:
            con.close()

    def test_a_record_writing_every_column_null_or_not(self, landing: Landing, warehouse: Path) -> None:
        # An export that writes every column ("user_id": null, as pandas does) takes staging's
        # quick path for records whose keys are contract fields given once: a key given twice, a
        # field beyond the contract or a contract field as an object is still found among nulls.
        nulls = ", ".join(f'"{k}": null' for k in (
            "user_id", "session_id", "email", "page_url", "page_title", "referrer", "utm_source", "utm_medium",
            "utm_campaign", "device_category", "country", "order_id", "value", "currency"))
        base = '"event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1", ' + nulls
        landing.text("web", DAY1, "every-column.jsonl", "\n".join([
            '{"event_id": "n1", ' + base + ', "rating": null}',
            '{"rating": null, ' + base + ', "event_id": "n2"}',  # another order
            '{"event_id": "n3", "event_id": "n3b", ' + base + ', "rating": null}',
            '{"event_id": "n4", ' + base + ', "rating": null, "rating": null}',
            '{"event_id": "n5", ' + base + ', "rating": null, "gone": null, "coupon": "q@example.com"}',
            '{"event_id": "n6", ' + base + ', "rating": {"stars": null}}',
            '{"event_id": "n7", ' + base + ', "rating": null, "coupon": null, "coupon": "A"}',
            '{"event_id": "n8", ' + base + ', "rating": null, "Rating": null}',
        ]) + "\n")
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, properties from events order by event_id") == [
            ("n1", None), ("n2", None), ("n5", '{"coupon":"[email]"}'), ("n8", None),
        ]
        assert query(warehouse, "select line_no, error from quarantine order by line_no") == [
            (3, 'field "event_id" appears more than once'),
            (4, 'field "rating" appears more than once'),
            (6, "rating must be text, not a JSON object or list"),
            (7, 'field "coupon" appears more than once'),
        ]

    def test_empty_extra_column_is_no_properties_in_every_format(self, landing: Landing, warehouse: Path) -> None:
        rows = [dict(ROWS[0]), {k: v for k, v in ROWS[1].items() if k != "coupon"}]
        landing.csv("web", DAY1, "events.csv", COLUMNS, rows)
        parquet_rows = [dict(row, event_id=f"p{row['event_id']}") for row in rows]
        landing.parquet("web", DAY1, "events.parquet", as_strings(parquet_rows))
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, properties from events order by event_id") == [
            ("e1", '{"coupon":"WELCOME"}'),
            ("e2", None),
            ("pe1", '{"coupon":"WELCOME"}'),
            ("pe2", None),
        ]

    def test_a_refused_parquet_row_is_quoted_with_the_values_it_gives(self, landing: Landing, warehouse: Path) -> None:
        # A Parquet row is made a JSON record of its non-null values, as a JSON line gives only the
        # fields it has: the quarantine quotes what the row says, not a null for every column, and
        # staging takes its quick path for rows whose keys are contract fields given once.
        rows = [dict(ROWS[0]), {k: v for k, v in ROWS[1].items() if k != "event_name"}]
        landing.parquet("web", DAY1, "events.parquet", as_strings(rows))
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id from events") == [("e1",)]
        assert query(warehouse, "select line_no, error, raw from quarantine") == [(
            2,
            "missing required field event_name",
            '{"event_id":"e2","event_ts":"2026-10-01T12:05:00+02:00","anonymous_id":"a1",'
            '"page_url":"https://shop.example/p/1","coupon":"WELCOME"}',
        )]


class TestManyFiles:
    """Several JSON-lines files of one day, read together, keep each line's own file and number."""

    def test_lines_numbered_per_file(self, landing: Landing, warehouse: Path) -> None:
        def row(event_id: str) -> dict[str, str]:
            return {"event_id": event_id, "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1"}

        landing.jsonl("web", DAY1, "a.jsonl", ["", row("a2"), "", row("a4")])
        landing.jsonl("web", DAY1, "b.jsonl", [row("b1"), "oops", row("b3")])
        landing.jsonl_gz("web", DAY1, "c.jsonl.gz", ["", "", row("c3")])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select source_file, line_no, event_id from raw.web_events order by all") == [
            ("web/dt=2026-10-01/a.jsonl", 2, "a2"),
            ("web/dt=2026-10-01/a.jsonl", 4, "a4"),
            ("web/dt=2026-10-01/b.jsonl", 1, "b1"),
            ("web/dt=2026-10-01/b.jsonl", 3, "b3"),
            ("web/dt=2026-10-01/c.jsonl.gz", 3, "c3"),
        ]
        assert query(warehouse, "select source_file, line_no, raw from quarantine") == [
            ("web/dt=2026-10-01/b.jsonl", 2, "oops")
        ]


class TestCsvLineNumbers:
    """A CSV row's line_no is its physical line: the header is line 1, blank lines count."""

    def test_quoted_field_spanning_lines(self, landing: Landing, warehouse: Path) -> None:
        landing.text(
            "web", DAY1, "multiline.csv",
            "event_id,event_ts,event_name,anonymous_id,page_title\n"  # 1
            "c1,2026-10-01T10:00:00Z,page_view,a1,Home\n"  # 2
            "\n"  # 3
            'c2,2026-10-01T10:01:00Z,page_view,a1,"Two\n'  # 4
            'lines"\n'  # 5
            "c3,2026-10-01T10:02:00Z,page_view,a1,End\n",  # 6
        )
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, line_no, page_title from raw.web_events order by event_id") == [
            ("c1", 2, "Home"), ("c2", 4, "Two\nlines"), ("c3", 6, "End"),
        ]

    def test_quoted_fields_with_doubled_quotes_and_a_bad_row_after_them(self, landing: Landing, warehouse: Path) -> None:
        landing.text(
            "web", DAY1, "quotes.csv",
            "event_id,event_ts,event_name,anonymous_id,page_title\n"  # 1
            'q1,2026-10-01T10:00:00Z,page_view,a1,"say ""hi""\n'  # 2
            '\n'  # 3 (inside the quoted field)
            'there"\n'  # 4
            'q2,not-a-time,page_view,a1,"bad ""row""\n'  # 5
            'over two lines"\n'  # 6
            "q3,2026-10-01T10:02:00Z,page_view,a1,End\n",  # 7
        )
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, line_no, page_title from raw.web_events order by event_id") == [
            ("q1", 2, 'say "hi"\n\nthere'), ("q3", 7, "End"),
        ]
        assert query(warehouse, "select line_no, raw, error from quarantine") == [(
            5, 'q2,not-a-time,page_view,a1,"bad ""row""\nover two lines"',
            'event_ts "not-a-time" is not a timestamp (ISO-8601 with offset, or epoch milliseconds)',
        )]


class TestCsvHeaderNamesDifferingInCase:
    """Two header names that differ in case only are two columns (DuckDB compares column names
    ignoring case): the file loads, the contract's spelling is the contract field and the other
    is kept in properties, as a repeated name is (``_1``). The whole file was refused
    ("Duplicate named argument"), for an extra column."""

    def test_extra_columns(self, landing: Landing, warehouse: Path) -> None:
        landing.text(
            "web", DAY1, "case.csv",
            "event_id,event_ts,event_name,anonymous_id,Coupon,coupon\n"
            "k1,2026-10-01T10:00:00Z,page_view,a1,A,b\n"
            "k2,2026-10-01T10:01:00Z,page_view,a1,,b\n",
        )
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select count(*) from quarantine") == [(0,)]
        assert query(warehouse, "select event_id, line_no, properties from raw.web_events order by event_id") == [
            ("k1", 2, '{"Coupon":"A","coupon_1":"b"}'), ("k2", 3, '{"coupon_1":"b"}'),
        ]

    def test_a_contract_field_spelt_again_before_it(self, landing: Landing, warehouse: Path) -> None:
        landing.text(
            "web", DAY1, "case.csv",
            "EVENT_NAME,event_id,event_ts,event_name,anonymous_id\n"
            "Purchase,k1,2026-10-01T10:00:00Z,page_view,a1\n",
        )
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, event_name, properties from events") == [
            ("k1", "page_view", '{"EVENT_NAME_1":"Purchase"}'),
        ]


class TestCountryAndDevice:
    """A two-letter country is upper-cased as ISO 3166 writes it; a country named otherwise is kept
    as given (upper-casing Germany made GERMANY, under a comment promising ISO codes)."""

    def test_spellings(self, landing: Landing, warehouse: Path) -> None:
        rows = [
            {"event_id": f"c{i}", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view",
             "anonymous_id": "a1", "country": country, "device_category": device}
            for i, (country, device) in enumerate([("de", "Mobile"), ("Germany", " Smart TV "), (" fr ", "TABLET")])
        ]
        landing.jsonl("web", DAY1, "web.jsonl", rows)
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select country, device_category from events order by event_id") == [
            ("DE", "mobile"), ("Germany", "smart tv"), ("FR", "tablet"),
        ]


class TestParquetTimestampPrecision:
    """Typed Parquet timestamps keep their microseconds, as JSON and CSV text does; nanoseconds
    are cut, not rounded, so the last instant of a day stays on it (it became the next day's
    midnight, and sub-millisecond steps one instant, which a funnel does not chain)."""

    def test_microseconds_kept(self, landing: Landing, warehouse: Path) -> None:
        last_ns = int(datetime(2026, 10, 1, 23, 59, 59, tzinfo=UTC).timestamp()) * 10**9 + 999_999_999
        noon_ns = int(datetime(2026, 10, 1, 12, 0, tzinfo=UTC).timestamp()) * 10**9 + 123_456_789
        table = pa.table({
            "event_id": ["p1", "p2", "p3"], "event_name": ["page_view"] * 3, "anonymous_id": ["a1"] * 3,
            "event_ts": pa.array([last_ns, noon_ns, noon_ns + 1_000], pa.timestamp("ns", tz="UTC")),
        })
        landing.parquet("web", date(2026, 10, 2), "events.parquet", table)
        run_day(landing, warehouse, date(2026, 10, 2))
        assert query(warehouse, "select event_id, event_ts, event_date from events order by event_id") == [
            ("p1", datetime(2026, 10, 1, 23, 59, 59, 999999), date(2026, 10, 1)),
            ("p2", datetime(2026, 10, 1, 12, 0, 0, 123456), date(2026, 10, 1)),
            ("p3", datetime(2026, 10, 1, 12, 0, 0, 123457), date(2026, 10, 1)),
        ]

    def test_a_date_beyond_2262_in_a_timestamp_column(self, landing: Landing, warehouse: Path) -> None:
        """A "valid until 9999-12-31" column (microseconds, beyond what nanoseconds can hold) does
        not make the file unreadable."""
        table = pa.table({
            "event_id": ["v1"], "event_name": ["page_view"], "anonymous_id": ["a1"],
            "event_ts": pa.array([datetime(2026, 10, 1, 12, tzinfo=UTC)], pa.timestamp("ms", tz="+02:00")),
            "valid_until": pa.array([datetime(9999, 12, 31)], pa.timestamp("us")),
        })
        landing.parquet("web", date(2026, 10, 2), "events.parquet", table)
        run_day(landing, warehouse, date(2026, 10, 2))
        assert query(warehouse, "select event_ts, properties->>'valid_until' from events") == [
            (datetime(2026, 10, 1, 12), "9999-12-31T00:00:00.000000Z"),
        ]


    def test_a_column_of_lists_of_timestamps(self, landing: Landing, warehouse: Path) -> None:
        """A column of lists of timestamps (an extra field) is kept; it was cast as a timestamp
        column, and the whole file was refused."""
        seen = datetime(2026, 10, 1, 10, tzinfo=UTC)
        table = pa.table({
            "event_id": ["l1", "l2", "l3"], "event_name": ["page_view"] * 3, "anonymous_id": ["a1"] * 3,
            "event_ts": pa.array([seen] * 3, pa.timestamp("us", tz="UTC")),
            "seen_us": pa.array([[seen], [], None], pa.list_(pa.timestamp("us"))),
            "seen_ns": pa.array([[seen], [seen], [seen]], pa.list_(pa.timestamp("ns"))),
            "seen_utc": pa.array([[seen], [seen], [seen]], pa.list_(pa.timestamp("ms", tz="UTC"))),
        })
        landing.parquet("web", DAY1, "lists.parquet", table)
        summary = run_day(landing, warehouse, DAY1)
        assert summary.file_errors == []
        rows = query(warehouse, "select event_id, json_keys(properties) from events order by 1")
        assert rows == [("l1", ["seen_us", "seen_ns", "seen_utc"]), ("l2", ["seen_us", "seen_ns", "seen_utc"]),
                        ("l3", ["seen_ns", "seen_utc"])]


class TestTextEncodings:
    """Files that spreadsheet tools outside the US write: a UTF-8 file with a byte order mark loads
    whole; a Windows-1252 one loses only its lines that are not UTF-8, each to quarantine with
    why; a UTF-16 one (Excel's "Unicode Text") is refused as a file, with why, not read as rows of
    nonsense."""

    HEADER = "event_id,event_ts,event_name,anonymous_id,page_title\r\n"

    def test_each_file_as_its_encoding_allows(self, landing: Landing, warehouse: Path) -> None:
        rows = ["{p}1,2026-10-01T10:00:00Z,page_view,a,Caf\u00e9 \u20ac\r\n", "{p}2,2026-10-01T10:01:00Z,page_view,a,plain\r\n"]
        landing.binary("web", DAY1, "bom.csv", (self.HEADER + "".join(r.replace("{p}", "b") for r in rows)).encode("utf-8-sig"))
        landing.binary("web", DAY1, "ansi.csv", (self.HEADER + "".join(r.replace("{p}", "w") for r in rows)).encode("cp1252"))
        landing.binary("web", DAY1, "unicode.csv", (self.HEADER + "".join(r.replace("{p}", "u") for r in rows)).replace(",", "\t").encode("utf-16"))
        lines = "".join(f'{{"event_id": "j{i}", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a"}}\n' for i in range(2))
        landing.binary("web", DAY1, "unicode.jsonl", lines.encode("utf-16"))
        landing.binary("web", DAY1, "unicode-be.jsonl", lines.encode("utf-16-be"))  # no byte order mark
        landing.text("web", DAY1, "good.jsonl", lines.replace('"j', '"g'))
        summary = run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, page_title from events order by 1") == [
            ("b1", "Caf\u00e9 \u20ac"), ("b2", "plain"), ("g0", None), ("g1", None), ("w2", "plain"),
        ]
        utf16 = ("the file is UTF-16 text, not UTF-8 (as Excel saves \"Unicode Text\"): "
                 "export it as UTF-8 (in Excel: \"CSV UTF-8\")")
        day = f"web/dt={DAY1.isoformat()}/"
        assert query(warehouse, "select source_file, line_no, error from quarantine order by 1, 2") == [
            (day + "ansi.csv", 2, "line is not valid UTF-8 text"),
            (day + "unicode-be.jsonl", None, utf16),
            (day + "unicode.csv", None, utf16),
            (day + "unicode.jsonl", None, utf16),
        ]
        # a refused file is no row: it is counted among the run's file errors
        assert (summary.rows_read, summary.rows_loaded, summary.rows_quarantined) == (6, 5, 1)
        assert len(summary.file_errors) == 3
