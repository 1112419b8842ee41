"""Rows that break the landing contract go to quarantine with their file, line and reason.

One landing folder holds a row for every kind of breach next to good rows; it is run once
for the module and each test reads the published warehouse.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from journey_analytics.config import IngestSettings, Settings
from tests.conftest import DAY1, Landing, query, run_day

TS = "2026-10-01T10:00:00Z"


def page_view(event_id: str | None, **fields: Any) -> dict[str, Any]:
    """A valid web page_view; a field given as None is left out."""
    row = {"event_id": event_id, "event_ts": TS, "event_name": "page_view", "anonymous_id": "a1"}
    row.update(fields)
    return {k: v for k, v in row.items() if v is not None}


WEB_LINES: list[dict[str, Any] | str] = [
    page_view("w-good-1"),  # 1
    "",  # 2: blank, skipped but counted
    "{not json",  # 3
    "[1, 2]",  # 4
    page_view(None),  # 5
    page_view("w5", event_ts=None),  # 6
    page_view("w6", event_name=None),  # 7
    page_view("w7", event_ts="yesterday"),  # 8
    page_view("w8", event_ts="2026-10-01T10:00:00"),  # 9
    page_view("w9", event_ts="1999-12-31T23:59:59Z"),  # 10
    page_view("w10", event_ts="2026-10-03T00:00:00Z"),  # 11: arrival day + 2
    page_view("w11", anonymous_id=None, email="Jane.Doe@Example.com"),  # 12
    page_view("w12", event_name="purchase", order_id="o1", value="12,50"),  # 13
    page_view("w13", event_name="purchase", value=10),  # 14
    page_view("w14", event_name="refund", value=10),  # 15
    page_view("w15", event_name="write_review", rating=9),  # 16
    page_view("w16", event_name="write_review", rating=2.5),  # 17
    page_view("w17", event_ts=1790848800),  # 18: epoch seconds, read as milliseconds
    page_view("w-good-2", event_ts="2026-10-02T23:59:59Z"),  # 19: last allowed instant
    "42",  # 20
    '"a string"',  # 21
    "true",  # 22
    page_view("w18", event_ts="2026-10-01T10:00:00 Europe/Berlin"),  # 23: a zone name, not an offset
    page_view("w19", event_name="purchase", order_id="o2", currency="EUR"),  # 24
    page_view("w20", event_name="refund", order_id="o3", value=5),  # 25
    page_view("w21", event_name="purchase", order_id="o4", value=5, currency=" "),  # 26
    page_view("w22", event_name="purchase", order_id="o5", value=1e15, currency="EUR"),  # 27
    page_view("w23", event_ts="1790848800123456"),  # 28: epoch microseconds (GA4's event_timestamp)
    page_view("w24", event_ts=1790848800123456789),  # 29: epoch nanoseconds
]

EMAIL_LINES: list[dict[str, Any] | str] = [
    {"event_id": "m-good", "event_ts": TS, "event_name": "open", "email": "jane.doe@example.com"},
    {"event_id": "m2", "event_ts": TS, "event_name": "open"},
    {"event_id": "m3", "event_ts": TS, "email": "jane.doe@example.com"},
]

SOCIAL_LINES: list[dict[str, Any] | str] = [
    {"event_id": "s-good", "event_ts": TS, "event_name": "like", "platform": "x", "handle": "jdoe"},
    {"event_id": "s2", "event_ts": TS, "event_name": "like", "handle": "jdoe"},
    {"event_id": "s3", "event_ts": TS, "event_name": "like", "platform": "x"},
    {"event_id": "s4", "event_ts": TS, "event_name": "comment", "platform": "x", "handle": "jdoe", "sentiment": 3.5},
    {"event_id": "s5", "event_ts": TS, "event_name": "comment", "platform": "x", "handle": "jdoe", "sentiment": "nice"},
    {"event_id": "s6", "event_ts": TS, "event_name": "review", "platform": "x", "handle": "jdoe", "rating": 9},
]

WEB_CSV = (
    "event_id,event_ts,event_name,anonymous_id\n"  # 1: header
    "c1,2026-10-01T10:00:00Z,page_view,a1\n"  # 2
    "c2,2026-10-01T10:00:00Z,page_view,a1,surplus\n"  # 3: too many columns
    "\n"  # 4: blank
    "c3,2026-10-01T10:00:00Z,page_view,a1\n"  # 5
)

IDENTITIES_CSV = (
    "user_id,email,platform,handle\n"
    "u1,jane.doe@example.com,x,jdoe\n"
    ",john@example.com,,\n"
    "u3,,,johnny\n"
    "u4,,,\n"
)

LABELS_CSV = (
    "user_id,stage,as_of_date\n"
    "u1,purchase,2026-09-30\n"
    "u2,loyal,2026-09-30\n"
    "u3,advocacy,2026-09-31\n"
    "u4,,2026-09-30\n"
)


@pytest.fixture(scope="module")
def breached(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The warehouse after one run over a landing folder full of contract breaches."""
    root = tmp_path_factory.mktemp("contract")
    landing = Landing(root / "landing")
    landing.jsonl("web", DAY1, "web.jsonl", WEB_LINES)
    landing.text("web", DAY1, "web.csv", WEB_CSV)
    landing.jsonl("email", DAY1, "email.jsonl", EMAIL_LINES)
    landing.jsonl("social", DAY1, "social.jsonl", SOCIAL_LINES)
    landing.text("identities", None, "crm.csv", IDENTITIES_CSV)
    landing.text("labels", None, "labels.csv", LABELS_CSV)
    warehouse = root / "journey.duckdb"
    run_day(landing, warehouse, DAY1)
    return warehouse


def quarantined(breached: Path, source_file: str, line_no: int) -> list[tuple[Any, ...]]:
    """The quarantine rows of one line: (channel, raw, error, arrived_on)."""
    return query(
        breached,
        "select channel, raw, error, arrived_on from quarantine where source_file = ? and line_no = ?",
        [source_file, line_no],
    )


def dumped(row: dict[str, Any] | str) -> str:
    return row if isinstance(row, str) else json.dumps(row)


class TestWebRowsQuarantined:
    """Each web row that breaks the contract is quarantined once, at its exact line, with its reason."""

    @pytest.mark.parametrize(
        ("line_no", "error"),
        [
            pytest.param(3, "line is not valid JSON", id="invalid JSON"),
            # a webhook's batch landed as posted: the reason says what to land instead
            pytest.param(4, "line is a JSON list, not an object: land one event object per line (JSON Lines)",
                         id="JSON array"),
            pytest.param(20, "line is JSON but not an object", id="JSON number"),
            pytest.param(21, "line is JSON but not an object", id="JSON string"),
            pytest.param(22, "line is JSON but not an object", id="JSON boolean"),
            pytest.param(5, "missing required field event_id", id="no event_id"),
            pytest.param(6, "missing required field event_ts", id="no event_ts"),
            pytest.param(7, "missing required field event_name", id="no event_name"),
            pytest.param(
                8,
                'event_ts "yesterday" is not a timestamp (ISO-8601 with offset, or epoch milliseconds)',
                id="unreadable event_ts",
            ),
            pytest.param(
                23,
                'event_ts "2026-10-01T10:00:00 Europe/Berlin" names its time zone; give an offset such as Z '
                "or +02:00 (or UTC)",
                id="zone name",
            ),
            pytest.param(
                9,
                'event_ts "2026-10-01T10:00:00" has no time zone; give an offset such as Z or +02:00',
                id="no time zone",
            ),
            pytest.param(10, "event_ts 1999-12-31 is before 2000-01-01", id="before 2000"),
            pytest.param(
                11, "event_ts 2026-10-03 00:00 is after the arrival day 2026-10-01 and the 1 day(s) after it that [ingest] max_future_days allows", id="far future"
            ),
            pytest.param(13, 'value "12,50" is not a number', id="value not a number"),
            pytest.param(27, 'value "1000000000000000.0" is out of range (at most 14 digits before the point)', id="value too large"),
            pytest.param(14, "purchase needs an order_id", id="purchase without order_id"),
            pytest.param(15, "refund needs an order_id", id="refund without order_id"),
            pytest.param(24, "purchase needs a value", id="purchase without value"),
            pytest.param(25, "refund needs a currency", id="refund without currency"),
            pytest.param(26, "purchase needs a currency", id="purchase with a blank currency"),
            pytest.param(16, "rating 9 is outside 1 to 5", id="rating 9"),
            pytest.param(17, "rating 2.5 is not a whole number from 1 to 5", id="rating 2.5"),
            pytest.param(
                18,
                "event_ts 1970-01-21 is before 2000-01-01 (1790848800 looks like epoch seconds; give epoch milliseconds)",
                id="epoch seconds",
            ),
            pytest.param(
                28,
                'event_ts "1790848800123456" looks like epoch microseconds (as GA4\'s event_timestamp); '
                "give epoch milliseconds",
                id="epoch microseconds",
            ),
            pytest.param(
                29,
                'event_ts "1790848800123456789" looks like epoch nanoseconds; give epoch milliseconds',
                id="epoch nanoseconds",
            ),
        ],
    )
    def test_breach_is_quarantined_with_reason(self, breached: Path, line_no: int, error: str) -> None:
        assert quarantined(breached, "web/dt=2026-10-01/web.jsonl", line_no) == [
            ("web", dumped(WEB_LINES[line_no - 1]), error, DAY1)
        ]

    def test_event_without_any_id_is_quarantined_with_its_email_masked(self, breached: Path) -> None:
        assert quarantined(breached, "web/dt=2026-10-01/web.jsonl", 12) == [
            (
                "web",
                '{"event_id": "w11", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "email": "[email]"}',
                "web event needs an anonymous_id or a user_id",
                DAY1,
            )
        ]

    def test_csv_row_with_too_many_columns_is_quarantined_at_its_line(self, breached: Path) -> None:
        assert quarantined(breached, "web/dt=2026-10-01/web.csv", 3) == [
            (
                "web",
                "c2,2026-10-01T10:00:00Z,page_view,a1,surplus",
                "CSV row does not fit the header: too many columns (Expected Number of Columns: 4 Found: 5)",
                DAY1,
            )
        ]

    def test_rest_of_each_file_still_loads_at_its_own_line(self, breached: Path) -> None:
        assert query(
            breached,
            "select source_file, line_no, event_id from raw.web_events order by source_file, line_no",
        ) == [
            ("web/dt=2026-10-01/web.csv", 2, "c1"),
            ("web/dt=2026-10-01/web.csv", 5, "c3"),
            ("web/dt=2026-10-01/web.jsonl", 1, "w-good-1"),
            ("web/dt=2026-10-01/web.jsonl", 19, "w-good-2"),
        ]


class TestEmailAndSocialRowsQuarantined:
    """E-mail and social rows missing their required fields or out of range are quarantined with the reason."""

    def test_email_rows(self, breached: Path) -> None:
        assert query(
            breached,
            "select line_no, raw, error from quarantine where channel = 'email' order by line_no",
        ) == [
            (2, dumped(EMAIL_LINES[1]), "missing required field email"),
            (
                3,
                '{"event_id": "m3", "event_ts": "2026-10-01T10:00:00Z", "email": "[email]"}',
                "missing required field event_name",
            ),
        ]

    def test_social_rows(self, breached: Path) -> None:
        assert query(
            breached,
            "select line_no, raw, error from quarantine where channel = 'social' order by line_no",
        ) == [
            (2, dumped(SOCIAL_LINES[1]).replace("jdoe", "@[handle]"), "missing required field platform"),
            (3, dumped(SOCIAL_LINES[2]), "missing required field handle"),
            (4, dumped(SOCIAL_LINES[3]).replace("jdoe", "@[handle]"), "sentiment 3.5 is outside -1 to 1"),
            (5, dumped(SOCIAL_LINES[4]).replace("jdoe", "@[handle]"), 'sentiment "nice" is not a number'),
            (6, dumped(SOCIAL_LINES[5]).replace("jdoe", "@[handle]"), "rating 9 is outside 1 to 5"),
        ]

    def test_good_rows_load(self, breached: Path) -> None:
        assert query(breached, "select event_id from raw.email_events") == [("m-good",)]
        assert query(breached, "select event_id from raw.social_events") == [("s-good",)]


class TestIdentityAndLabelRowsQuarantined:
    """CRM identity and label rows that cannot be used are quarantined (CSV header = line 1), without arrival day."""

    def test_identity_rows(self, breached: Path) -> None:
        assert query(
            breached,
            "select channel, source_file, line_no, raw, error, arrived_on from quarantine "
            "where channel = 'identities' order by line_no",
        ) == [
            ("identities", "identities/crm.csv", 3, ",[email],,", "missing required field user_id", None),
            ("identities", "identities/crm.csv", 4, "u3,,,@[handle]", "a handle needs its platform", None),
        ]

    def test_label_rows(self, breached: Path) -> None:
        assert query(
            breached,
            "select channel, source_file, line_no, raw, error, arrived_on from quarantine "
            "where channel = 'labels' order by line_no",
        ) == [
            (
                "labels", "labels/labels.csv", 3, "u2,loyal,2026-09-30",
                'stage "loyal" is not one of awareness, consideration, purchase, retention, advocacy', None,
            ),
            ("labels", "labels/labels.csv", 4, "u3,advocacy,2026-09-31", 'as_of_date "2026-09-31" is not a date (YYYY-MM-DD)', None),
            ("labels", "labels/labels.csv", 5, "u4,,2026-09-30", "missing required field stage", None),
        ]

    def test_good_rows_load(self, breached: Path) -> None:
        # u4 has a user id alone: the CRM knows the customer, linked to nothing (the contract: "any
        # may be empty but user_id")
        assert query(
            breached,
            "select user_id, platform, email_hash is null, handle_hash is null, line_no from raw.identities order by line_no",
        ) == [("u1", "x", False, False, 2), ("u4", None, True, True, 5)]
        assert query(breached, "select user_id, stage, as_of_date, line_no from raw.labels") == [
            ("u1", "purchase", date(2026, 9, 30), 2)
        ]


class TestRowCountsBalance:
    """Every row read is loaded, quarantined or a duplicate, per run and per file."""

    def test_per_run(self, breached: Path) -> None:
        assert query(
            breached,
            "select rows_read, rows_loaded, rows_quarantined, rows_duplicate, files_read from pipeline_runs",
        ) == [(48, 9, 39, 0, 6)]

    def test_per_file(self, breached: Path) -> None:
        assert query(
            breached,
            "select source_file, kind, file_format, rows_read, rows_loaded, rows_quarantined, rows_duplicate, file_error "
            "from raw.ingested_files order by source_file",
        ) == [
            ("email/dt=2026-10-01/email.jsonl", "email", "jsonl", 3, 1, 2, 0, None),
            ("identities/crm.csv", "identities", "csv", 4, 2, 2, 0, None),
            ("labels/labels.csv", "labels", "csv", 4, 1, 3, 0, None),
            ("social/dt=2026-10-01/social.jsonl", "social", "jsonl", 6, 1, 5, 0, None),
            ("web/dt=2026-10-01/web.csv", "web", "csv", 3, 2, 1, 0, None),
            ("web/dt=2026-10-01/web.jsonl", "web", "jsonl", 28, 2, 26, 0, None),
        ]

    def test_quarantine_holds_every_quarantined_row(self, breached: Path) -> None:
        assert query(breached, "select count(*) from quarantine") == [(39,)]


class TestJsonEdgeCases:
    """A line that is valid JSON but not an event object is refused for that reason."""

    def test_json_null_line(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "null.jsonl", ["null"])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select line_no, error from quarantine") == [(1, "line is JSON but not an object")]

    def test_object_as_event_id(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "typed.jsonl", [page_view(None) | {"event_id": {"a": 1}}])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select count(*) from raw.web_events") == [(0,)]
        assert query(warehouse, "select line_no from quarantine") == [(1,)]


class TestTimestampEdgeCases:
    """Timestamp texts at the edge of the contract are refused with the reason a person can act on."""

    def run_one(self, landing: Landing, warehouse: Path, event_ts: str) -> list[tuple[Any, ...]]:
        landing.jsonl("web", DAY1, "one.jsonl", [page_view("e1", event_ts=event_ts)])
        run_day(landing, warehouse, DAY1)
        return query(warehouse, "select error from quarantine")

    def test_date_without_time_or_zone_is_refused(self, landing: Landing, warehouse: Path) -> None:
        assert self.run_one(landing, warehouse, "2026-10-01") == [
            ('event_ts "2026-10-01" has no time zone; give an offset such as Z or +02:00',)
        ]

    @pytest.mark.parametrize(("event_ts", "reason"), [
        # a date in another order, or a mail header's date: not an offset or a zone out of place
        ("01/10/2026 10:00:00 +00:00", "is not a timestamp (ISO-8601 with offset, or epoch milliseconds)"),
        ("Thu, 01 Oct 2026 10:00:00 GMT", "is not a timestamp (ISO-8601 with offset, or epoch milliseconds)"),
        ("01/10/2026 10:00 CET", "is not a timestamp (ISO-8601 with offset, or epoch milliseconds)"),
        # a day or hour that does not exist, with an offset in range
        ("2026-02-29T10:00:00+02:00", "is not a date and time of the calendar"),
        ("2026-10-01T25:00:00Z", "is not a date and time of the calendar"),
        # offsets out of range, in every spelling
        ("2026-10-01T10:00:00+99:00", "has an offset outside -18:00 to +18:00"),
        ("2026-10-01T10:00:00-1900", "has an offset outside -18:00 to +18:00"),
        ("2026-10-01T10:00:00+05:75", "has an offset outside -18:00 to +18:00"),
        ("2026-10-01T10:00:00 CET", "names its time zone; give an offset such as Z or +02:00 (or UTC)"),
        # words DuckDB's cast takes for a time: said to have no time zone
        ("infinity", "is not a timestamp (ISO-8601 with offset, or epoch milliseconds)"),
        ("-Infinity", "is not a timestamp (ISO-8601 with offset, or epoch milliseconds)"),
        ("epoch", "is not a timestamp (ISO-8601 with offset, or epoch milliseconds)"),
    ])
    def test_the_reason_names_what_is_wrong(self, landing: Landing, warehouse: Path, event_ts: str, reason: str) -> None:
        """The reasons about an offset or a zone were given for any text ending like one: a date
        in another order was said to have an offset out of range, and a date with GMT to name a
        time zone (GMT is allowed), though what is wrong is the date's form."""
        assert self.run_one(landing, warehouse, event_ts) == [(f'event_ts "{event_ts}" {reason}',)]

    def test_lower_case_z_is_utc(self, landing: Landing, warehouse: Path) -> None:
        assert self.run_one(landing, warehouse, "2026-10-01t10:00:00z") == []
        assert query(warehouse, "select event_ts from events") == [(datetime(2026, 10, 1, 10, 0),)]

    @pytest.mark.parametrize("event_ts", ["1.7908488e+12", "1.7908488e12", "1.7908488E+12"])
    def test_epoch_milliseconds_in_scientific_notation(self, landing: Landing, warehouse: Path, event_ts: str) -> None:
        """R's write.csv and readr write a round number of milliseconds so (a JSON number so
        written loaded; the text was refused as not a timestamp)."""
        assert self.run_one(landing, warehouse, event_ts) == []
        assert query(warehouse, "select event_ts from events") == [(datetime(2026, 10, 1, 10, 0),)]


class TestNumbersAnExportWritesAsMissing:
    """A number or currency an export wrote as a null marker (MySQL's \\N, NULL, None) or a float's
    NaN (Polars, Python's json) is missing, as a key so written is: every page_view of such an
    export was refused as "value is not a number", and a purchase loaded with currency "\\N".
    Non-finite numbers among the extra fields are kept as text, so properties stays JSON that
    strict readers take."""

    def test_they_load_and_properties_stay_strict_json(self, landing: Landing, warehouse: Path) -> None:
        import pyarrow as pa

        landing.text("web", DAY1, "mysql.csv", "event_id,event_ts,event_name,anonymous_id,value,rating,order_id,currency\n"
                     f"c1,{TS},page_view,a1,\\N,\\N,\\N,\\N\nc2,{TS},page_view,a1,NULL,NULL,NULL,NULL\n"
                     f"c3,{TS},page_view,a1,None,nan,,\nc4,{TS},purchase,a1,\\N,\\N,o4,EUR\n"
                     f"c5,{TS},purchase,a1,10.5,\\N,o5,\\N\n")
        landing.text("web", DAY1, "python.jsonl", "\n".join([
            '{"event_id": "j1", "event_ts": "%s", "event_name": "page_view", "anonymous_id": "a1", '
            '"value": NaN, "rating": NaN, "x": NaN, "y": Infinity, "z": -Infinity, "w": 2.5}' % TS,
        ]) + "\n")
        landing.parquet("web", DAY1, "polars.parquet", pa.table({
            "event_id": ["p1", "p2"], "event_ts": [TS, TS], "event_name": ["page_view", "purchase"],
            "anonymous_id": ["a1", "a1"], "order_id": [None, "o1"], "currency": [None, "EUR"],
            "value": [float("nan"), 12.5], "discount": [float("nan"), 0.1],
        }))
        landing.jsonl("social", DAY1, "social.jsonl", [
            {"event_id": "s1", "event_ts": TS, "event_name": "mention", "platform": "x", "handle": "@h",
             "sentiment": "NULL", "rating": "\\N"},
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, value from events where channel = 'web' order by 1") == [
            ("c1", None), ("c2", None), ("c3", None), ("j1", None), ("p1", None), ("p2", Decimal("12.5")),
        ]
        assert query(warehouse, "select event_id from events where channel = 'social'") == [("s1",)]
        assert query(warehouse, "select source_file, line_no, error from quarantine") == [
            ("web/dt=2026-10-01/mysql.csv", 5, "purchase needs a value"),
            ("web/dt=2026-10-01/mysql.csv", 6, "purchase needs a currency"),
        ]

        def strict(constant: str) -> None:
            raise ValueError(f"not strict JSON: {constant}")

        properties = dict(query(warehouse, "select event_id, properties from events where properties is not null"))
        assert {k: json.loads(v, parse_constant=strict) for k, v in properties.items()} == {
            "j1": {"x": "NaN", "y": "Infinity", "z": "-Infinity", "w": 2.5},
            "p1": {"discount": "NaN"},
            "p2": {"discount": 0.1},
        }


class TestMissingValuesAsOtherToolsWriteThem:
    """R's write.csv and readr write NA for a missing value, Excel #N/A, people N/A, C's printf
    NAN or -nan, MySQL \\N. A number so written is missing in any format (every page_view of an R
    export was refused as "value is not a number"). In a CSV, which has no null, any other field
    so written is missing too: an id that names no person (session_id: every event of a device
    whose rows say NA was one session, whatever the days between), a text field (a campaign
    '\\N' after one from google started a new session and showed as a campaign), a handle or
    platform. A user_id, anonymous_id or order_id written NA is kept as given (it names no one
    when stitching), and a country NA stays: Namibia's code. In JSON, which has a null, "NA" is
    meant (a campaign for North America); the null markers (NULL, \\N, None, ...) are missing
    in any format. An e-mail field that holds no @ is no address: R's NA was hashed as one and
    joined every customer whose rows said so."""

    def test_an_r_export_loads(self, landing: Landing, warehouse: Path) -> None:
        landing.text("web", DAY1, "r.csv",
                     '"","event_id","event_ts","event_name","anonymous_id","user_id","session_id","value",'
                     '"currency","rating","utm_source","utm_medium","utm_campaign","country","page_url","order_id"\n'
                     f'"1","r1","{TS}","page_view","a1",NA,NA,NA,NA,NA,"google","cpc","x","NA","/a",NA\n'
                     '"2","r2","2026-10-01T10:01:00Z","page_view","a1",NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA\n'
                     '"3","r3","2026-10-01T16:00:00Z","page_view","a1",N/A,NA,#N/A,NA,N/A,N/A,n/a,#N/A,NA,NA,NA\n'
                     '"4",NA,"2026-10-01T16:01:00Z","page_view","a1",NA,NA,NA,NA,NA,NA,NA,NA,NA,NA,NA\n'
                     '"5","r5","2026-10-01T16:02:00Z","purchase","a1",NA,NA,12.5,"EUR",NA,NA,NA,NA,NA,NA,NA\n')
        landing.text("web", DAY1, "mysql.csv", "event_id,event_ts,event_name,anonymous_id,user_id,utm_source,"
                     "utm_medium,utm_campaign,device_category,country,page_title,referrer\n"
                     f"m1,{TS},page_view,a2,\\N,google,cpc,x,mobile,DE,Home,\\N\n"
                     "m2,2026-10-01T10:01:00Z,page_view,a2,\\N,\\N,\\N,\\N,\\N,\\N,NULL,None\n"
                     "m3,2026-10-01T10:02:00Z,NULL,a2,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N\n")
        landing.text("social", DAY1, "c.csv", "event_id,event_ts,event_name,platform,handle,sentiment,thread_id\n"
                     f"s1,{TS},mention,x,@someone,NAN,NA\ns2,{TS},mention,x,@someone,-nan,#N/A\n")
        landing.text("email", DAY1, "esp.csv", "event_id,event_ts,event_name,email,campaign_id,message_id,url,reason\n"
                     f"e1,{TS},email_open,jane@example.com,\\N,NA,\\N,NULL\n")
        landing.jsonl("web", DAY1, "tag.jsonl", [
            {"event_id": "j1", "event_ts": TS, "event_name": "page_view", "anonymous_id": "a3", "utm_source": "newsletter",
             "utm_medium": "email", "utm_campaign": "NA", "page_title": "N/A", "referrer": "undefined", "page_url": "NULL"},
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select utm_campaign, page_title, referrer, page_url from events where event_id = 'j1'") == [
            ("NA", "N/A", None, None),
        ]
        assert query(warehouse, "select event_id, user_id, value, utm_source, utm_medium, utm_campaign, country, page_url,"
                     " page_title, referrer, device_category from events where channel = 'web' and event_id <> 'j1'"
                     " order by 1") == [
            ("m1", None, None, "google", "cpc", "x", "DE", None, "Home", None, "mobile"),
            ("m2", None, None, None, None, None, None, None, None, None, None),
            ("r1", "NA", None, "google", "cpc", "x", "NA", "/a", None, None, None),
            ("r2", "NA", None, None, None, None, "NA", None, None, None, None),
            ("r3", "N/A", None, None, None, None, "NA", None, None, None, None),
            ("r5", "NA", Decimal("12.5"), None, None, None, "NA", None, None, None, None),
        ]
        # the campaign's session goes on through the page views that give none; the device's
        # later visit, hours on, is another session, though its rows say session_id NA too
        session = dict(query(warehouse, "select event_id, session_id from events where channel = 'web'"))
        assert session["r1"] == session["r2"] != session["r3"] == session["r5"]
        assert session["m1"] == session["m2"]
        assert query(warehouse, "select event_id, sentiment, thread_id from events where channel = 'social' order by 1") == [
            ("s1", None, None), ("s2", None, None),
        ]
        assert query(warehouse, "select campaign_id, message_id, url, reason from events where channel = 'email'") == [
            (None, None, None, None),
        ]
        assert query(warehouse, "select source_file, line_no, error from quarantine order by 1, 2") == [
            ("web/dt=2026-10-01/mysql.csv", 4, "missing required field event_name"),
            ("web/dt=2026-10-01/r.csv", 5, "missing required field event_id"),
        ]


class TestIdsExcelRounded:
    """Excel saves a long number (12 digits or more) that a cell held as a number in scientific
    notation: 6543210987654 and 6543211234567 both become 6.54321E+12. Such an id was loaded, and
    distinct ids read alike: three orders became one, two customers one, events "repeats" of the
    first. It is refused, naming its field; ids that merely hold an e or a + are kept."""

    def test_rounded_ids_are_refused(self, landing: Landing, warehouse: Path) -> None:
        landing.text("web", DAY1, "excel.csv",
                     "event_id,event_ts,event_name,anonymous_id,user_id,order_id,value,currency,session_id\n"
                     f"w1,{TS},purchase,a1,6.54321E+12,o1,10,EUR,\n"
                     f"w2,{TS},purchase,a1,u1,6.54321E+12,10,EUR,\n"
                     f"w3,{TS},purchase,a1,u1,1.23457E+11,10,EUR,\n"
                     f"1.23457E+12,{TS},page_view,a1,u1,,,,\n"
                     f"w5,{TS},page_view,1E+15,,,,,\n"
                     f"w6,{TS},page_view,a1,u1,,,,6.5e+12\n"
                     # a hex id, an id with a plus, an id in scientific notation without its sign
                     f"w7,{TS},purchase,1e10,ab+cd,5e12,10,EUR,\n")
        landing.text("email", DAY1, "esp.csv", "event_id,event_ts,event_name,email,user_id,message_id,campaign_id\n"
                     f"m1,{TS},email_open,jane@example.com,9.87654E+13,x,c\n"
                     f"m2,{TS},email_open,jane@example.com,u1,1.1E+12,c\n"
                     f"m3,{TS},email_open,jane@example.com,u1,x,3.3E+11\n")
        # a European Excel: a semicolon between fields, a comma in the number
        landing.text("web", DAY1, "excel-de.csv", "event_id;event_ts;event_name;anonymous_id;user_id\n"
                     f"d1;{TS};page_view;a1;6,54321E+12\n")
        landing.text("labels", None, "labels.csv", "user_id,stage,as_of_date\n6.54321E+12,purchase,2026-09-30\n")
        landing.text("social", DAY1, "social.csv", "event_id,event_ts,event_name,platform,handle,thread_id\n"
                     f"s1,{TS},mention,x,@someone,4.4E+18\n")
        landing.text("identities", None, "crm.csv", "user_id,email\n7.5E+11,jane@example.com\n")
        run_day(landing, warehouse, DAY1)
        excel = "is a number in scientific notation, as Excel saves a long number: its digits are lost (save the column as text)"
        assert query(warehouse, "select source_file, line_no, error, reason from quarantine order by 1, 2") == [
            ("email/dt=2026-10-01/esp.csv", 2, f'user_id "9.87654E+13" {excel}', "bad_type"),
            ("email/dt=2026-10-01/esp.csv", 3, f'message_id "1.1E+12" {excel}', "bad_type"),
            ("email/dt=2026-10-01/esp.csv", 4, f'campaign_id "3.3E+11" {excel}', "bad_type"),
            ("identities/crm.csv", 2, f'user_id "7.5E+11" {excel}', "bad_type"),
            ("labels/labels.csv", 2, f'user_id "6.54321E+12" {excel}', "bad_type"),
            ("social/dt=2026-10-01/social.csv", 2, f'thread_id "4.4E+18" {excel}', "bad_type"),
            ("web/dt=2026-10-01/excel-de.csv", 2, f'user_id "6,54321E+12" {excel}', "bad_type"),
            ("web/dt=2026-10-01/excel.csv", 2, f'user_id "6.54321E+12" {excel}', "bad_type"),
            ("web/dt=2026-10-01/excel.csv", 3, f'order_id "6.54321E+12" {excel}', "bad_type"),
            ("web/dt=2026-10-01/excel.csv", 4, f'order_id "1.23457E+11" {excel}', "bad_type"),
            ("web/dt=2026-10-01/excel.csv", 5, f'event_id "1.23457E+12" {excel}', "bad_type"),
            ("web/dt=2026-10-01/excel.csv", 6, f'anonymous_id "1E+15" {excel}', "bad_type"),
            ("web/dt=2026-10-01/excel.csv", 7, f'session_id "6.5e+12" {excel}', "bad_type"),
        ]
        assert query(warehouse, "select event_id, anonymous_id, user_id, order_id from raw.web_events") == [
            ("w7", "1e10", "ab+cd", "5e12"),
        ]


class TestLabelDates:
    """A label's as_of_date is a date written YYYY-MM-DD, as the contract says: DuckDB's cast took
    'infinity' (9999-12-31 to Python), 'epoch' (1970-01-01), a date and time, ' 1-1-1 '."""

    def test_only_year_month_day_loads(self, landing: Landing, warehouse: Path) -> None:
        given = ["2026-09-30", "infinity", "-infinity", "epoch", "2026-10-01 10:00:00", "2026-10-01T00:00:00Z", "1-1-1"]
        landing.text("labels", None, "labels.csv", "user_id,stage,as_of_date\n" + "".join(
            f"u{i},purchase,{day}\n" for i, day in enumerate(given)
        ))
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select user_id, as_of_date from raw.labels") == [("u0", date(2026, 9, 30))]
        assert query(warehouse, "select line_no, error, reason from quarantine order by 1") == [
            (i + 2, f'as_of_date "{day}" is not a date (YYYY-MM-DD)', "bad_date") for i, day in enumerate(given) if i
        ]


class TestShortHandlesInReasons:
    """A refused row's handle is masked wherever the row repeats it, but not a handle shorter than
    3 characters (as mask_handle leaves it): each of its letters in the reason was replaced, so
    a handle "e" made "missing r@[handle]quir@[handle]d fi@[handle]ld"."""

    def test_the_reasons_read_as_written_and_the_handle_is_masked(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("social", DAY1, "social.jsonl", [
            {"event_ts": TS, "event_name": "mention", "platform": "x", "handle": "e", "text": "hey e, see e"},
        ])
        # in CSV, where no field name marks the handle, a short one is still masked where it stands alone
        landing.text("social", DAY1, "social.csv", "event_id,event_ts,event_name,platform,handle,text\n"
                     f",{TS},mention,instagram,jo,jo\n")
        landing.jsonl("identities", None, "crm.jsonl", [{"user_id": "u1", "handle": "h"}])
        landing.text("identities", None, "crm.csv", "user_id,email,platform,handle\nu2,,,jo\n")
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select source_file, error, raw from quarantine order by 1") == [
            ("identities/crm.csv", "a handle needs its platform", "u2,,,@[handle]"),
            ("identities/crm.jsonl", "a handle needs its platform", '{"user_id": "u1", "handle": "@[handle]"}'),
            ("social/dt=2026-10-01/social.csv", "missing required field event_id",
             f",{TS},mention,instagram,@[handle],@[handle]"),
            ("social/dt=2026-10-01/social.jsonl", "missing required field event_id",
             f'{{"event_ts": "{TS}", "event_name": "mention", "platform": "x", "handle": "@[handle]", '
             '"text": "hey @[handle], see @[handle]"}'),
        ]


class TestRaggedCsvRows:
    """A CSV row with too few columns is one quarantined row, at its own line."""

    def test_short_row_is_quarantined_once(self, landing: Landing, warehouse: Path) -> None:
        landing.text(
            "web", DAY1, "short.csv",
            "event_id,event_ts,event_name,anonymous_id\n"
            "c1,2026-10-01T10:00:00Z,page_view,a1\n"
            "c2,2026-10-01T10:00:00Z\n",
        )
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select line_no, raw, error from quarantine") == [
            (
                3,
                "c2,2026-10-01T10:00:00Z",
                "CSV row does not fit the header: missing columns (Expected Number of Columns: 4 Found: 2)",
            )
        ]
        assert query(warehouse, "select rows_read, rows_loaded, rows_quarantined from raw.ingested_files") == [
            (2, 1, 1)
        ]

    def test_row_after_a_blank_line_keeps_its_own_text(self, landing: Landing, warehouse: Path) -> None:
        landing.text(
            "web", DAY1, "gap.csv",
            "event_id,event_ts,event_name,anonymous_id\n"
            "c1,2026-10-01T10:00:00Z,page_view,a1\n"
            "\n"
            "c2,2026-10-01T10:00:00Z,page_view,a1,surplus\n",
        )
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select line_no, raw from quarantine") == [
            (4, "c2,2026-10-01T10:00:00Z,page_view,a1,surplus")
        ]


class TestOffsetWithSeconds:
    """An offset written with seconds (+05:30:00) is named as such, not as "no time zone"."""

    def test_reason(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [page_view("s1", event_ts="2026-10-01T17:30:00+05:30:00")])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select error from quarantine") == [
            ('event_ts "2026-10-01T17:30:00+05:30:00" has an offset with seconds; give it as +HH:MM',)
        ]


def documented_reasons(warehouse: Path) -> set[str]:
    """The reason codes quarantine.reason's comment lists (after 'to group by:', each code
    before its explanation in brackets)."""
    ((comment,),) = query(
        warehouse,
        "select comment from duckdb_columns() where table_name = 'quarantine' and column_name = 'reason'",
    )
    listed = re.sub(r"\s*\([^)]*\)", "", comment.split("to group by:", 1)[1]).strip().rstrip(".")
    codes = {item.strip().removeprefix("or ").strip() for item in listed.split(",")}
    assert all(re.fullmatch(r"[a-z0-9_]+", code) for code in codes), codes
    return codes


# The reason code of each row the breached fixture quarantines, by (file, line).
BREACH_REASONS = {
    ("email/dt=2026-10-01/email.jsonl", 2): "missing_required_field",
    ("email/dt=2026-10-01/email.jsonl", 3): "missing_required_field",
    ("identities/crm.csv", 3): "missing_required_field",
    ("identities/crm.csv", 4): "missing_required_field",
    ("labels/labels.csv", 3): "unknown_stage",
    ("labels/labels.csv", 4): "bad_date",
    ("labels/labels.csv", 5): "missing_required_field",
    ("social/dt=2026-10-01/social.jsonl", 2): "missing_required_field",
    ("social/dt=2026-10-01/social.jsonl", 3): "missing_required_field",
    ("social/dt=2026-10-01/social.jsonl", 4): "out_of_range",
    ("social/dt=2026-10-01/social.jsonl", 5): "bad_type",
    ("social/dt=2026-10-01/social.jsonl", 6): "out_of_range",
    ("web/dt=2026-10-01/web.csv", 3): "bad_csv_row",
    ("web/dt=2026-10-01/web.jsonl", 3): "unparseable_json",
    ("web/dt=2026-10-01/web.jsonl", 4): "not_json_object",
    ("web/dt=2026-10-01/web.jsonl", 5): "missing_required_field",
    ("web/dt=2026-10-01/web.jsonl", 6): "missing_required_field",
    ("web/dt=2026-10-01/web.jsonl", 7): "missing_required_field",
    ("web/dt=2026-10-01/web.jsonl", 8): "bad_timestamp",
    ("web/dt=2026-10-01/web.jsonl", 9): "bad_timestamp",
    ("web/dt=2026-10-01/web.jsonl", 10): "timestamp_too_early",
    ("web/dt=2026-10-01/web.jsonl", 11): "timestamp_in_future",
    ("web/dt=2026-10-01/web.jsonl", 12): "missing_required_field",
    ("web/dt=2026-10-01/web.jsonl", 13): "bad_type",
    ("web/dt=2026-10-01/web.jsonl", 14): "missing_order_field",
    ("web/dt=2026-10-01/web.jsonl", 15): "missing_order_field",
    ("web/dt=2026-10-01/web.jsonl", 16): "out_of_range",
    ("web/dt=2026-10-01/web.jsonl", 17): "bad_type",
    ("web/dt=2026-10-01/web.jsonl", 18): "timestamp_too_early",
    ("web/dt=2026-10-01/web.jsonl", 20): "not_json_object",
    ("web/dt=2026-10-01/web.jsonl", 21): "not_json_object",
    ("web/dt=2026-10-01/web.jsonl", 22): "not_json_object",
    ("web/dt=2026-10-01/web.jsonl", 23): "bad_timestamp",
    ("web/dt=2026-10-01/web.jsonl", 24): "missing_order_field",
    ("web/dt=2026-10-01/web.jsonl", 25): "missing_order_field",
    ("web/dt=2026-10-01/web.jsonl", 26): "missing_order_field",
    ("web/dt=2026-10-01/web.jsonl", 27): "out_of_range",
    ("web/dt=2026-10-01/web.jsonl", 28): "bad_timestamp",
    ("web/dt=2026-10-01/web.jsonl", 29): "bad_timestamp",
}

# Breaches the breached fixture does not make, and the reason code of each.
MORE_BREACHES_LIMIT = 1024 * 1024
MORE_BREACHES = {
    # (kind, file, line): (text of the line, reason)
    ("web", "more.jsonl", 1): ('{"event_id": "d1", "event_id": "d2", "event_ts": "%s"}' % TS, "duplicate_field"),
    ("web", "more.jsonl", 2): (json.dumps(page_view("t1", page_url={"a": 1})), "bad_type"),
    ("web", "more.jsonl", 3): (json.dumps(page_view("t2", event_ts="2026-10-01T10:00:00+19:00")), "bad_timestamp"),
    ("web", "more.jsonl", 4): (json.dumps(page_view("t3", event_name="write_review", rating="great")), "bad_type"),
    ("web", "more.jsonl", 5): (json.dumps(page_view("t4", page_title="y" * (2 * MORE_BREACHES_LIMIT))), "line_too_long"),
    ("web", "more.jsonl", 6): (json.dumps(page_view("t5", page_title="caf\u00e9"), ensure_ascii=False), "not_utf8"),
    ("web", "more.csv", 3): ('q2,%s,page_view,"a1\n' % TS, "bad_csv_row"),
    # a rating beyond the integers' range, or infinite, stopped the run (cast to an integer when refused)
    ("web", "more.jsonl", 7): (json.dumps(page_view("t6", event_name="write_review", rating=3_000_000_000)), "out_of_range"),
    ("web", "more.jsonl", 8): (json.dumps(page_view("t7", event_name="write_review", rating="inf")), "out_of_range"),
    # a time in a five-digit year was refused with the reason 'unknown'
    ("web", "more.jsonl", 9): (json.dumps(page_view("t8", event_ts="999999999999999")), "timestamp_in_future"),
    # an id as Excel saves a long number: its digits are lost (distinct orders merged)
    ("web", "more.jsonl", 10): (json.dumps(page_view("t9", user_id="6.54321E+12")), "bad_type"),
}


@pytest.fixture(scope="module")
def more_breached(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse after one run over breaches beyond the breached fixture's: a field given twice,
    a JSON object for a text field, an offset out of range, a rating that is a word, a line over
    the limit, a line not UTF-8, a CSV quote never closed, a rating out of an integer's range or
    infinite, epoch milliseconds in the year 33658, and a file that cannot be read."""
    root = tmp_path_factory.mktemp("more")
    landing = Landing(root / "landing")
    lines = [text.encode("utf-8") for (kind, name, _), (text, _) in MORE_BREACHES.items() if name == "more.jsonl"]
    lines[5] = lines[5].decode("utf-8").encode("latin-1")  # its é in Latin-1, not UTF-8
    landing.binary("web", DAY1, "more.jsonl", b"\n".join(lines) + b"\n" + json.dumps(page_view("ok")).encode() + b"\n")
    landing.text("web", DAY1, "more.csv", "event_id,event_ts,event_name,anonymous_id\n"
                 f"q1,{TS},page_view,a1\n" + MORE_BREACHES[("web", "more.csv", 3)][0] + "\n")
    landing.binary("web", DAY1, "broken.parquet", b"not a parquet file")
    warehouse = root / "journey.duckdb"
    run_day(landing, warehouse, DAY1, Settings(ingest=IngestSettings(max_line_bytes=MORE_BREACHES_LIMIT)))
    return warehouse


class TestReasonCodes:
    """quarantine.reason names each kind of refusal with a code from the documented set, quoting
    no value, so refusals are counted by kind without a regular expression over the error."""

    def test_every_breach_has_its_code(self, breached: Path) -> None:
        rows = query(breached, "select source_file, line_no, reason from quarantine order by 1, 2")
        assert {(f, n): r for f, n, r in rows} == BREACH_REASONS
        assert len(rows) == len(BREACH_REASONS)

    def test_more_breaches_have_their_codes(self, more_breached: Path) -> None:
        rows = query(more_breached, "select source_file, line_no, reason, error from quarantine order by 1, 2")
        expected = {(f"{kind}/dt=2026-10-01/{name}", line): reason for (kind, name, line), (_, reason) in MORE_BREACHES.items()}
        expected[("web/dt=2026-10-01/broken.parquet", None)] = "unreadable_file"
        assert {(f, n): r for f, n, r, _ in rows} == expected, rows
        assert len(rows) == len(expected)

    @pytest.mark.parametrize("fixture", ["breached", "more_breached"])
    def test_every_code_is_documented_and_known(self, fixture: str, request: pytest.FixtureRequest) -> None:
        warehouse = request.getfixturevalue(fixture)
        documented = documented_reasons(warehouse)
        assert "unknown" in documented  # for rows of an earlier version's wording
        used = {r for (r,) in query(warehouse, "select distinct reason from quarantine")}
        assert None not in used and "unknown" not in used
        assert used <= documented, used - documented

    def test_codes_quote_no_value(self, breached: Path) -> None:
        # a code is one of a fixed set: as many codes as kinds, however many values were refused
        assert query(breached, "select count(distinct reason) from quarantine") == [(len(set(BREACH_REASONS.values())),)]
