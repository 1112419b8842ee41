"""Privacy: e-mail addresses and handles never reach the warehouse in plain text; the key is checked."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import duckdb
import pytest

from journey_analytics.config import HASH_KEY_ENV, load_settings
from journey_analytics.privacy import HashKey, KeyMismatchError, check_key_before_run, install_hash_macro, keyed_hash
from journey_analytics.warehouse import run_script
from tests.conftest import DAY1, DAY2, TEST_HASH_KEY, Landing, query, run_day

EMAILS = ["ann.lee@example.com", "bob+promo@mail.example.org", "cat@example.net"]
HANDLES = ["annie_rocks", "bobby_tables"]
PERSONAL = EMAILS + HANDLES


def personal_landing(landing: Landing) -> None:
    """Personal data everywhere the contract allows it, in good rows and in bad ones."""
    landing.jsonl("web", DAY1, "web.jsonl", [
        {"event_id": "w1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "sign_up", "anonymous_id": "a1",
         "user_id": "u1", "email": "Ann.Lee@Example.com",
         "page_url": "https://shop.example/welcome?email=ann.lee@example.com",
         "page_title": "Welcome ann.lee@example.com", "referrer": "https://mail.example/?to=ann.lee@example.com"},
        {"event_id": "w2", "event_ts": "2026-10-01T10:05:00Z", "event_name": "generate_lead", "anonymous_id": "a2",
         "email": "cat@example.net"},
        '{"event_id": "w3", "email": "bob+promo@mail.example.org", broken',
    ])
    landing.jsonl("email", DAY1, "esp.jsonl", [
        {"event_id": "m1", "event_ts": "2026-10-01T08:00:00Z", "event_name": "click", "email": "bob+promo@mail.example.org",
         "url": "https://shop.example/?u=bob+promo@mail.example.org"},
        {"event_id": "m2", "event_ts": "2026-10-01T08:00:00Z", "event_name": "bounce", "email": "cat@example.net",
         "reason": "550 mailbox cat@example.net unavailable"},
        {"event_id": "m3", "event_ts": "2026-10-01T08:00:00Z", "email": "ann.lee@example.com"},
    ])
    landing.jsonl("social", DAY1, "social.jsonl", [
        {"event_id": "s1", "event_ts": "2026-10-01T09:00:00Z", "event_name": "message", "platform": "instagram",
         "handle": "@Annie_Rocks", "text": "hi @bobby_tables, write to ann.lee@example.com"},
        {"event_id": "s2", "event_ts": "2026-10-01T09:00:00Z", "event_name": "comment", "platform": "x",
         "handle": "bobby_tables", "sentiment": 7},
    ])
    landing.text(
        "identities", None, "crm.csv",
        "user_id,email,platform,handle\n"
        "u1,ann.lee@example.com,instagram,annie_rocks\n"
        ",cat@example.net,x,bobby_tables\n",
    )


@pytest.fixture(scope="module")
def personal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("personal")
    landing = Landing(root / "landing")
    personal_landing(landing)
    run_day(landing, root / "journey.duckdb", DAY1)
    return root / "journey.duckdb"


def text_columns(warehouse: Path) -> list[tuple[str, str, str]]:
    return query(
        warehouse,
        "select schema_name, table_name, column_name from duckdb_columns() "
        "where database_name = current_database() and data_type in ('VARCHAR', 'JSON') order by all",
    )


def find_personal(warehouse: Path, values: list[str]) -> list[tuple[str, str, str, str]]:
    """Every (table, column, value, cell) where a value appears in a text column, case-insensitively."""
    columns: dict[str, list[str]] = {}
    for schema, table, column in text_columns(warehouse):
        columns.setdefault(f"{schema}.{table}", []).append(column)
    hits = []
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for table, names in columns.items():
            selected = ", ".join(f'cast("{name}" as varchar)' for name in names)
            for row in con.execute(f"select {selected} from {table}").fetchall():
                for name, cell in zip(names, row, strict=True):
                    hits += [(table, name, v, cell) for v in values if cell and v.lower() in cell.lower()]
    finally:
        con.close()
    return hits


class TestNothingPersonalInTheWarehouse:
    """No plain e-mail address or handle from the input appears in any text column of any table."""

    def test_scan_finds_nothing(self, personal: Path) -> None:
        assert find_personal(personal, PERSONAL) == []

    def test_the_scan_looks_at_every_table(self, personal: Path) -> None:
        assert {f"{s}.{t}" for s, t, _ in text_columns(personal)} >= {
            "main.events", "main.identity_map", "main.sessions", "main.quarantine", "main.pipeline_runs",
            "raw.web_events", "raw.email_events", "raw.social_events", "raw.identities", "raw.ingested_files",
        }

    def test_personal_data_was_there_to_find(self, personal: Path) -> None:
        # the rows carrying it were loaded or quarantined, not skipped
        assert query(personal, "select count(*) from events") == [(5,)]
        assert query(personal, "select source_file, line_no from quarantine order by all") == [
            ("email/dt=2026-10-01/esp.jsonl", 3),
            ("identities/crm.csv", 3),
            ("social/dt=2026-10-01/social.jsonl", 2),
            ("web/dt=2026-10-01/web.jsonl", 3),
        ]

    def test_masked_text_keeps_its_shape(self, personal: Path) -> None:
        assert query(personal, "select page_url, page_title, referrer from events where event_id = 'w1'") == [
            ("https://shop.example/welcome?email=[email]", "Welcome [email]", "https://mail.example/?to=[email]")
        ]
        assert query(personal, "select text from events where event_id = 's1'") == [("hi @[handle], write to [email]",)]
        assert query(personal, "select url, reason from events where event_id in ('m1', 'm2') order by event_id") == [
            ("https://shop.example/?u=[email]", None),
            (None, "550 mailbox [email] unavailable"),
        ]

    def test_report_page_has_nothing_personal(self, personal: Path) -> None:
        page = (personal.parent / "reports" / "2026-10-01" / "index.html").read_text()
        assert [value for value in PERSONAL if value.lower() in page.lower()] == []


def forgotten_as_before(warehouse: Path, identifier_type: str, hash_sql: str) -> None:
    """Record an erasure as `journey forget` of an earlier version recorded it (hash_sql: the
    identifier hash it wrote, as SQL over keyed_hash)."""
    con = duckdb.connect(str(warehouse))
    try:
        install_hash_macro(con, HashKey(TEST_HASH_KEY.encode(), "test"))
        con.execute(
            f"insert into raw.forgotten_identifiers values (?, {hash_sql}, 'e1', now())", [identifier_type]
        ).fetchall()
    finally:
        con.close()


class TestLeaks:
    """Personal data in places the masking does not reach yet."""

    def test_an_address_in_the_identities_files_platform(self, landing: Landing, warehouse: Path) -> None:
        """A CRM export whose columns slipped (an address under platform) keeps no plain address in
        raw.identities, as the social channel's platform is masked."""
        landing.text("identities", None, "crm.csv", (
            "user_id,email,platform,handle\n"
            "u1,,dana.ray@example.com,dana_x\n"
            "u2,,eli.ray＠example.com,eli_x\n"
        ))
        run_day(landing, warehouse, DAY1)
        assert find_personal(warehouse, ["dana.ray@example.com", "eli.ray@example.com", "eli.ray＠example.com"]) == []

    def test_email_in_an_extra_field(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1",
             "contact": "ann.lee@example.com"},
        ])
        run_day(landing, warehouse, DAY1)
        assert find_personal(warehouse, ["ann.lee@example.com"]) == []

    def test_email_in_any_free_text_field_and_url_encoded(self, landing: Landing, warehouse: Path) -> None:
        """Campaign fields, event names and the like are free text too; in a URL an '@' is '%40'."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1",
             "utm_source": "ann.lee@example.com", "utm_medium": "x ann.lee@example.com", "utm_campaign": "cat@example.net",
             "page_url": "https://shop.example/?email=bob%2Bpromo%40mail.example.org&x=1",
             "referrer": "https://mail.example/?to=cat%40EXAMPLE.net", "utm_content": "ann.lee%40example.com"},
            {"event_id": "w2", "event_ts": "2026-10-01T10:00:00Z", "event_name": "signup ann.lee@example.com",
             "anonymous_id": "a1", "device_category": "cat@example.net", "country": "ann.lee@example.com",
             "currency": "ann.lee@example.com"},
        ])
        landing.jsonl("email", DAY1, "esp.jsonl", [
            {"event_id": "m1", "event_ts": "2026-10-01T08:00:00Z", "event_name": "open cat@example.net",
             "email": "cat@example.net", "url": "https://shop.example/?e=cat%40example.net"},
        ])
        landing.jsonl("social", DAY1, "social.jsonl", [
            {"event_id": "s1", "event_ts": "2026-10-01T09:00:00Z", "event_name": "like", "platform": "ann.lee@example.com",
             "handle": "annie_rocks"},
        ])
        landing.text("labels", None, "labels.csv", "user_id,stage,as_of_date,email\nu2,lead,2026-10-01,cat@example.net\n")
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select count(*) from events") == [(4,)]
        assert query(warehouse, "select count(*) from quarantine") == [(1,)]  # the label row
        encoded = ["bob%2Bpromo%40mail.example.org", "cat%40example.net", "ann.lee%40example.com"]
        assert find_personal(warehouse, ["ann.lee@example.com", "cat@example.net", *encoded]) == []
        assert query(warehouse, "select page_url, referrer, utm_source, utm_campaign from events where event_id = 'w1'") == [
            ("https://shop.example/?email=[email]&x=1", "https://mail.example/?to=[email]", "[email]", "[email]")
        ]

    def test_address_in_an_id_that_is_not_a_key(self, landing: Landing, warehouse: Path) -> None:
        """A campaign id, post id or thread id holding an address is pseudonymized (consistently: a
        reply still meets its message)."""
        landing.jsonl("email", DAY1, "esp.jsonl", [
            {"event_id": "m1", "event_ts": "2026-10-01T08:00:00Z", "event_name": "delivered",
             "email": "cat@example.net", "campaign_id": "winter-cat@example.net"},
        ])
        landing.jsonl("social", DAY1, "social.jsonl", [
            {"event_id": "s1", "event_ts": "2026-10-01T09:00:00Z", "event_name": "message", "platform": "x",
             "handle": "annie_rocks", "thread_id": "dm-ann.lee@example.com", "post_id": "p-ann.lee@example.com"},
            {"event_id": "s2", "event_ts": "2026-10-01T10:00:00Z", "event_name": "brand_reply", "platform": "x",
             "handle": "ourbrand", "thread_id": "dm-ann.lee@example.com"},
        ])
        run_day(landing, warehouse, DAY1)
        assert find_personal(warehouse, ["ann.lee@example.com", "cat@example.net"]) == []
        rows = query(warehouse, "select event_id, campaign_id, post_id, thread_id from events order by event_id")
        assert [r[0] for r in rows] == ["m1", "s1", "s2"]
        assert rows[0][1].startswith("campaign:") and rows[1][2].startswith("post:")
        assert rows[1][3].startswith("thread:") and rows[2][3] == rows[1][3]

    def test_address_as_a_device_session_order_event_or_message_id(self, landing: Landing, warehouse: Path) -> None:
        """A tag that sends the visitor's address as the device or session id, an order or event
        id made of one, an ESP's message id holding the recipient: each is pseudonymized as its
        kind, consistently, so a device still stitches, a visit still holds together, an order
        still de-duplicates and a repeated event still counts once."""
        web = {"event_ts": "2026-10-01T10:00:00Z", "anonymous_id": "Ann.Lee@example.com", "session_id": "s-ann.lee@example.com"}
        landing.jsonl("web", DAY1, "web.jsonl", [
            {**web, "event_id": "w1", "event_name": "page_view"},
            {**web, "event_id": "w2-ann.lee@example.com", "event_name": "purchase", "order_id": "o-ann.lee@example.com",
             "value": "20", "currency": "EUR", "event_ts": "2026-10-01T10:05:00Z"},
            {**web, "event_id": "w3", "event_name": "login", "user_id": "u-ann", "anonymous_id": "ann.lee@EXAMPLE.com",
             "event_ts": "2026-10-01T10:06:00Z"},
        ])
        landing.jsonl("web", DAY1, "orders.jsonl", [  # the store's export of the same order, and a repeated event
            {"event_id": "x1", "event_ts": "2026-10-01T10:05:00Z", "event_name": "purchase", "user_id": "u-ann",
             "order_id": "o-ann.lee@example.com", "value": "20", "currency": "EUR"},
            {**web, "event_id": "w2-ann.lee@example.com", "event_name": "purchase", "order_id": "o-ann.lee@example.com",
             "value": "20", "currency": "EUR", "event_ts": "2026-10-01T10:05:00Z"},
        ])
        landing.jsonl("email", DAY1, "esp.jsonl", [
            {"event_id": "m1", "event_ts": "2026-10-01T08:00:00Z", "event_name": "delivered",
             "email": "ann.lee@example.com", "message_id": "<ann.lee@example.com.20261001>"},
            {"event_id": "m2", "event_ts": "2026-10-01T08:30:00Z", "event_name": "open",
             "email": "ann.lee@example.com", "message_id": "<ann.lee@example.com.20261001>"},
        ])
        summary = run_day(landing, warehouse, DAY1)
        assert summary.rows_duplicate == 1
        assert find_personal(warehouse, ["ann.lee@example.com"]) == []
        assert query(warehouse, "select count(distinct customer_id), count(distinct session_id) from events where channel = 'web'") == [(1, 1)]
        assert query(warehouse, "select distinct customer_id from events where channel = 'web'") == [("u-ann",)]
        assert query(warehouse, "select count(distinct order_id) from events where event_name = 'purchase'") == [(1,)]
        ((device, session, order, event),) = query(
            warehouse, "select anonymous_id, session_id, order_id, event_id from events where event_name = 'purchase' and anonymous_id is not null")
        assert (device[:7], session[:8], order[:6], event[:6]) == ("device:", "session:", "order:", "event:")
        assert query(warehouse, "select count(distinct message_id) from events where channel = 'email'") == [(1,)]

    def test_user_id_that_is_an_address(self, landing: Landing, warehouse: Path) -> None:
        """A store that keys its customers by their address: the user_id is pseudonymized, one
        customer whatever the case, in every kind of file, and `journey forget` finds them by it."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "login", "anonymous_id": "a1",
             "user_id": "Zed.Doe@Example.com"},
            {"event_id": "w2", "event_ts": "2026-10-01T10:01:00Z", "event_name": "page_view", "anonymous_id": "a2",
             "user_id": "zed.doe@example.com"},
            {"event_id": "w3", "event_ts": "2026-10-01T10:02:00Z", "event_name": "page_view", "anonymous_id": "a3",
             "user_id": "u-42"},
        ])
        landing.text("identities", None, "crm.csv", "user_id,email\nzed.doe@example.com,zed.doe@example.com\n")
        landing.text("labels", None, "labels.csv", "user_id,stage,as_of_date\nZED.DOE@example.com,purchase,2026-10-01\n")
        run_day(landing, warehouse, DAY1)
        assert find_personal(warehouse, ["zed.doe@example.com", "Zed.Doe@Example.com", "ZED.DOE@example.com"]) == []
        users = query(warehouse, "select distinct user_id from events order by 1")
        assert len(users) == 2 and users[0] == ("u-42",) and users[1][0].startswith("user:")
        assert query(warehouse, "select count(distinct customer_id) from events where user_id like 'user:%'") == [(1,)]
        assert query(warehouse, "select user_id from raw.labels union all select user_id from raw.identities") == [
            users[1], users[1]]
        from journey_analytics.config import Settings
        from journey_analytics.forget import forget_customer

        result = forget_customer("zed.doe@example.com", warehouse, Settings())
        assert result.total_rows_removed > 0
        assert query(warehouse, "select count(*) from events where user_id like 'user:%'") == [(0,)]

    def test_address_ids_of_an_older_warehouse(self, landing: Landing, warehouse: Path) -> None:
        """A warehouse built before ids were pseudonymized holds addresses in its raw tables and in
        the stage history: the next run brings them in line, so one person stays one customer."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1",
             "user_id": "zed.doe@example.com"},
        ])
        run_day(landing, warehouse, DAY1)
        con = duckdb.connect(str(warehouse))
        con.execute("update raw.web_events set user_id = 'zed.doe@example.com'").fetchall()  # as an older version kept it
        con.execute("delete from raw.warehouse_settings where setting = 'address_ids_in_line'").fetchall()  # and never marked
        con.execute("create table main.stage_history as select 'zed.doe@example.com' as customer_id, "
                    "date '2026-10-01' as as_of_date, 'awareness' as stage").fetchall()
        con.close()
        landing.jsonl("web", DAY2, "web.jsonl", [
            {"event_id": "w2", "event_ts": "2026-10-02T10:00:00Z", "event_name": "page_view", "anonymous_id": "a2",
             "user_id": "Zed.Doe%40example.com"},  # the @ encoded, as a URL parameter carries it
        ])
        run_day(landing, warehouse, DAY2)
        assert find_personal(warehouse, ["zed.doe@example.com", "zed.doe%40example.com"]) == []
        assert query(warehouse, "select count(distinct customer_id), count(distinct user_id) from events") == [(1, 1)]
        assert query(warehouse, "select customer_id = (select max(customer_id) from events) from stage_history") == [(True,)]

    def test_full_width_at_ids_of_an_older_warehouse(self, landing: Landing, warehouse: Path) -> None:
        """A warehouse built before a full-width at-sign in an id was read as an @ kept such a user id as
        given (its address in the raw tables and the stage history, marked in line with the list
        of columns of then): the next run brings it in line, so one person stays one customer and
        the address leaves the warehouse."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1",
             "user_id": "zed.doe\uff20example.com"},
        ])
        run_day(landing, warehouse, DAY1)
        con = duckdb.connect(str(warehouse))
        con.execute("update raw.web_events set user_id = 'zed.doe\uff20example.com'").fetchall()  # as kept then
        con.execute(  # marked in line by the version of then
            "update raw.warehouse_settings set value = 'older list' where setting = 'address_ids_in_line'").fetchall()
        con.execute("create or replace table main.stage_history as select 'zed.doe\uff20example.com' as customer_id, "
                    "date '2026-10-01' as as_of_date, 'awareness' as stage").fetchall()
        con.close()
        landing.jsonl("web", DAY2, "web.jsonl", [
            {"event_id": "w2", "event_ts": "2026-10-02T10:00:00Z", "event_name": "page_view", "anonymous_id": "a2",
             "user_id": "zed.doe\uff20example.com"},
        ])
        run_day(landing, warehouse, DAY2)
        assert find_personal(warehouse, ["zed.doe\uff20example.com", "zed.doe@example.com"]) == []
        assert query(warehouse, "select count(distinct customer_id), count(distinct user_id) from events") == [(1, 1)]
        assert query(warehouse, "select customer_id = (select max(customer_id) from events) from stage_history") == [(True,)]

    def test_device_ids_of_an_older_warehouse(self, landing: Landing, warehouse: Path) -> None:
        """A warehouse built before device, session and event ids holding an address were
        pseudonymized: the next run brings its raw tables and the stage history of a device never
        identified (customer 'anon:<address>') in line, and the repeated event still counts once."""
        row = {"event_id": "w1-ann.lee@example.com", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view",
               "anonymous_id": "ann.lee@example.com", "session_id": "s-ann.lee@example.com"}
        landing.jsonl("web", DAY1, "web.jsonl", [row])
        run_day(landing, warehouse, DAY1)
        con = duckdb.connect(str(warehouse))
        con.execute(  # as an older version kept them
            "update raw.web_events set anonymous_id = 'ann.lee@example.com', session_id = 's-ann.lee@example.com', "
            "event_id = 'w1-ann.lee@example.com'").fetchall()
        con.execute("delete from raw.warehouse_settings where setting = 'address_ids_in_line'").fetchall()  # never marked
        con.execute("create table main.stage_history as select 'anon:ann.lee@example.com' as customer_id, "
                    "date '2026-10-01' as as_of_date, 'awareness' as stage").fetchall()
        con.close()
        landing.jsonl("web", DAY2, "web.jsonl", [row, {**row, "event_id": "w2", "event_ts": "2026-10-02T10:00:00Z"}])
        summary = run_day(landing, warehouse, DAY2)
        assert (summary.rows_loaded, summary.rows_duplicate) == (1, 1)
        assert find_personal(warehouse, ["ann.lee@example.com"]) == []
        assert query(warehouse, "select count(*), count(distinct customer_id) from events") == [(2, 1)]
        assert query(warehouse, "select customer_id = (select max(customer_id) from events) from stage_history") == [(True,)]

    def test_an_older_warehouse_brought_in_line_keeps_no_address_in_its_file(self, landing: Landing, warehouse: Path) -> None:
        """Bringing an older warehouse's ids in line rewrites them where they are: the file the
        run publishes must not keep the old values in the blocks they were written in (as
        `journey forget` writes a fresh file for the same reason)."""
        row = {"event_id": "w1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view",
               "anonymous_id": "zelda.quinterro@example.com", "session_id": "s-zelda.quinterro@example.com"}
        landing.jsonl("web", DAY1, "web.jsonl", [row])
        run_day(landing, warehouse, DAY1)
        con = duckdb.connect(str(warehouse))
        con.execute(  # as an older version kept them
            "update raw.web_events set anonymous_id = 'zelda.quinterro@example.com', "
            "session_id = 's-zelda.quinterro@example.com'").fetchall()
        con.execute("delete from raw.warehouse_settings where setting = 'address_ids_in_line'").fetchall()  # never marked
        con.close()
        assert b"zelda.quinterro" in warehouse.read_bytes()
        landing.jsonl("web", DAY2, "web.jsonl", [{**row, "event_id": "w2", "event_ts": "2026-10-02T10:00:00Z"}])
        run_day(landing, warehouse, DAY2)
        assert find_personal(warehouse, ["zelda.quinterro@example.com"]) == []
        assert b"zelda.quinterro" not in warehouse.read_bytes()
        assert query(warehouse, "select count(*), count(distinct anonymous_id) from events") == [(2, 1)]

    def test_a_device_erased_before_its_id_was_pseudonymized_stays_erased(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [
            {"event_id": "w0", "event_ts": "2026-10-01T09:00:00Z", "event_name": "page_view", "anonymous_id": "a0"},
        ])
        run_day(landing, warehouse, DAY1)
        forgotten_as_before(warehouse, "anonymous_id", "keyed_hash('anonymous_id:ann.lee@example.com')")
        landing.jsonl("web", DAY2, "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-02T10:00:00Z", "event_name": "page_view",
             "anonymous_id": "ann.lee@example.com"},
            # on a shared device, a row naming someone else is theirs, as before
            {"event_id": "w2", "event_ts": "2026-10-02T10:00:00Z", "event_name": "login",
             "anonymous_id": "ann.lee@example.com", "user_id": "u-bob"},
        ])
        summary = run_day(landing, warehouse, DAY2)
        assert (summary.rows_loaded, summary.rows_forgotten) == (1, 1)
        assert query(warehouse, "select event_id from events order by 1") == [("w0",), ("w2",)]

    def test_a_warehouse_in_line_is_not_scanned_again(self, landing: Landing, warehouse: Path) -> None:
        """The first run records that the warehouse's ids are in line; later runs skip the scans,
        until the columns to bring in line change (the record holds a digest of their list)."""
        from journey_analytics.privacy import pseudonymize_address_ids

        landing.jsonl("web", DAY1, "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1"},
        ])
        run_day(landing, warehouse, DAY1)
        con = duckdb.connect(str(warehouse))
        try:
            install_hash_macro(con, HashKey(TEST_HASH_KEY.encode(), "test"))
            run_script(con, "macros", "landing_macros")
            con.execute("update raw.web_events set anonymous_id = 'ann.lee@example.com'").fetchall()
            assert pseudonymize_address_ids(con) == 0  # marked in line: not scanned
            con.execute("update raw.warehouse_settings set value = 'older list' where setting = 'address_ids_in_line'").fetchall()
            assert pseudonymize_address_ids(con) == 1
            assert con.execute("select anonymous_id like 'device:%' from raw.web_events").fetchall() == [(True,)]
        finally:
            con.close()

    def test_a_user_erased_before_ids_were_pseudonymized_stays_erased(self, landing: Landing, warehouse: Path) -> None:
        """`journey forget` used to record a user id that is an address as the hash of the address;
        rows that name them later are still withheld, and forget still finds a customer by address."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            {"event_id": "w0", "event_ts": "2026-10-01T09:00:00Z", "event_name": "page_view", "anonymous_id": "a0",
             "user_id": "u-other"},
        ])
        run_day(landing, warehouse, DAY1)
        forgotten_as_before(warehouse, "user_id", "keyed_hash('user_id:zed.doe@example.com')")
        landing.jsonl("web", DAY2, "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-02T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1",
             "user_id": "zed.doe@example.com"},
        ])
        summary = run_day(landing, warehouse, DAY2)
        assert (summary.rows_loaded, summary.rows_forgotten) == (0, 1)

    def test_an_address_erased_before_its_encoded_at_was_decoded_stays_erased(
        self, landing: Landing, warehouse: Path
    ) -> None:
        """An e-mail field written 'zed%40example.com' was hashed as written, and `journey forget`
        recorded that hash; now that the @ is decoded, rows that name the address are still withheld."""
        landing.jsonl("email", DAY1, "esp.jsonl", [
            {"event_id": "m0", "event_ts": "2026-10-01T09:00:00Z", "event_name": "open", "email": "other@example.com"},
        ])
        run_day(landing, warehouse, DAY1)
        forgotten_as_before(warehouse, "email", "keyed_hash('email:' || keyed_hash('zed%40example.com'))")
        landing.jsonl("email", DAY2, "esp.jsonl", [
            {"event_id": "m1", "event_ts": "2026-10-02T10:00:00Z", "event_name": "open", "email": "Zed%40example.com"},
            {"event_id": "m2", "event_ts": "2026-10-02T10:00:00Z", "event_name": "open", "email": "ann%40example.com"},
        ])
        landing.jsonl("web", DAY2, "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-02T10:00:00Z", "event_name": "login", "anonymous_id": "a1",
             "email": "zed%40example.com"},
        ])
        summary = run_day(landing, warehouse, DAY2)
        assert (summary.rows_loaded, summary.rows_forgotten) == (1, 2)
        assert query(warehouse, "select event_id from events order by 1") == [("m0",), ("m2",)]

    def test_an_address_erased_in_its_display_form_stays_erased(self, landing: Landing, warehouse: Path) -> None:
        """An e-mail field written with a display name ('"Zed Doe" <zed@example.com>') was hashed
        whole, and `journey forget` recorded that hash; now that the address is taken out of it,
        rows that give the field so are still withheld."""
        landing.jsonl("email", DAY1, "esp.jsonl", [
            {"event_id": "m0", "event_ts": "2026-10-01T09:00:00Z", "event_name": "open", "email": "other@example.com"},
        ])
        run_day(landing, warehouse, DAY1)
        forgotten_as_before(warehouse, "email", "keyed_hash('email:' || keyed_hash('\"zed doe\" <zed@example.com>'))")
        landing.jsonl("email", DAY2, "esp.jsonl", [
            {"event_id": "m1", "event_ts": "2026-10-02T10:00:00Z", "event_name": "open", "email": '"Zed Doe" <Zed@example.com>'},
            {"event_id": "m2", "event_ts": "2026-10-02T10:00:00Z", "event_name": "open", "email": '"Ann" <ann@example.com>'},
        ])
        summary = run_day(landing, warehouse, DAY2)
        assert (summary.rows_loaded, summary.rows_forgotten) == (1, 1)
        assert query(warehouse, "select event_id from events order by 1") == [("m0",), ("m2",)]

    def test_an_address_erased_before_it_was_composed_stays_erased(self, landing: Landing, warehouse: Path) -> None:
        """An address written decomposed ('jose' and a combining accent) was hashed as written, and
        `journey forget` recorded that hash; now that addresses are composed (NFC) before hashing,
        rows that name the address, in either form, are still withheld."""
        landing.jsonl("email", DAY1, "esp.jsonl", [
            {"event_id": "m0", "event_ts": "2026-10-01T09:00:00Z", "event_name": "open", "email": "other@example.com"},
        ])
        run_day(landing, warehouse, DAY1)
        forgotten_as_before(warehouse, "email", "keyed_hash('email:' || keyed_hash('jose\u0301@example.com'))")
        landing.jsonl("email", DAY2, "esp.jsonl", [
            {"event_id": "m1", "event_ts": "2026-10-02T10:00:00Z", "event_name": "open", "email": "JOSE\u0301@example.com"},
            {"event_id": "m2", "event_ts": "2026-10-02T10:00:00Z", "event_name": "open", "email": "ann@example.com"},
        ])
        summary = run_day(landing, warehouse, DAY2)
        assert (summary.rows_loaded, summary.rows_forgotten) == (1, 1)
        assert query(warehouse, "select event_id from events order by 1") == [("m0",), ("m2",)]

    def test_an_address_erased_in_its_a_label_spelling_stays_erased(self, landing: Landing, warehouse: Path) -> None:
        """An address whose domain an ESP exported as its A-label ('xn--bcher-kva.de') was hashed
        so, and `journey forget` recorded that hash; now that such a domain is hashed in its
        Unicode form, rows that name the address, in either spelling, are still withheld."""
        landing.jsonl("email", DAY1, "esp.jsonl", [
            {"event_id": "m0", "event_ts": "2026-10-01T09:00:00Z", "event_name": "open", "email": "other@example.com"},
        ])
        run_day(landing, warehouse, DAY1)
        forgotten_as_before(warehouse, "email", "keyed_hash('email:' || keyed_hash('jose@xn--bcher-kva.de'))")
        forgotten_as_before(warehouse, "email", "keyed_hash('email:' || keyed_hash('zo\u00eb@xn--mller-kva.de'))")
        landing.jsonl("email", DAY2, "esp.jsonl", [
            {"event_id": "m1", "event_ts": "2026-10-02T10:00:00Z", "event_name": "open", "email": "Jose@XN--BCHER-KVA.DE"},
            {"event_id": "m2", "event_ts": "2026-10-02T10:00:00Z", "event_name": "open", "email": "ann@example.com"},
            {"event_id": "m3", "event_ts": "2026-10-02T10:00:00Z", "event_name": "open", "email": "zo\u00eb@xn--mller-kva.de"},
        ])
        landing.jsonl("web", DAY2, "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-02T10:00:00Z", "event_name": "login", "anonymous_id": "a1",
             "email": "jose@B\u00dcCHER.de"},
            {"event_id": "w2", "event_ts": "2026-10-02T10:00:00Z", "event_name": "login", "anonymous_id": "a2",
             "email": "zoe\u0308@m\u00fcller.de"},
        ])
        landing.text("identities", None, "crm.csv", "user_id,email,platform,handle\nu-jose,jose@b\u00fccher.de,,\n")
        summary = run_day(landing, warehouse, DAY2)
        assert (summary.rows_loaded, summary.rows_forgotten) == (1, 5)
        assert query(warehouse, "select event_id from events order by 1") == [("m0",), ("m2",)]

    def test_an_address_or_handle_erased_with_invisible_marks_or_decomposed_stays_erased(
        self, landing: Landing, warehouse: Path
    ) -> None:
        """An address or handle landed with an invisible mark around it, or a handle in decomposed
        Unicode, was hashed so, and `journey forget` recorded that hash; now that such marks are
        not part of it and handles are composed, rows that name it as before are still withheld."""
        landing.jsonl("email", DAY1, "esp.jsonl", [
            {"event_id": "m0", "event_ts": "2026-10-01T09:00:00Z", "event_name": "open", "email": "other@example.com"},
        ])
        run_day(landing, warehouse, DAY1)
        forgotten_as_before(warehouse, "email", "keyed_hash('email:' || keyed_hash('\u200bzed@example.com'))")
        forgotten_as_before(warehouse, "social_handle", "keyed_hash('social_handle:' || keyed_hash('youtube:jose\u0301canal'))")
        landing.jsonl("email", DAY2, "esp.jsonl", [
            {"event_id": "m1", "event_ts": "2026-10-02T10:00:00Z", "event_name": "open", "email": "\u200bZed@example.com"},
            {"event_id": "m2", "event_ts": "2026-10-02T10:00:00Z", "event_name": "open", "email": "ann@example.com"},
        ])
        landing.jsonl("social", DAY2, "social.jsonl", [
            {"event_id": "s1", "event_ts": "2026-10-02T10:00:00Z", "event_name": "like", "platform": "youtube",
             "handle": "@Jose\u0301Canal"},
        ])
        summary = run_day(landing, warehouse, DAY2)
        assert (summary.rows_loaded, summary.rows_forgotten) == (1, 2)
        assert query(warehouse, "select event_id from events order by 1") == [("m0",), ("m2",)]

    def test_a_user_or_device_id_erased_with_invisible_marks_stays_erased(self, landing: Landing, warehouse: Path) -> None:
        """A user id or device id landed with an invisible mark around it (a zero-width space
        pasted from a CRM) was kept so, and `journey forget` recorded that id; now that ids lose
        such marks, rows that name it as before are still withheld, in every kind of file."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            {"event_id": "w0", "event_ts": "2026-10-01T09:00:00Z", "event_name": "page_view", "anonymous_id": "a0"},
        ])
        run_day(landing, warehouse, DAY1)
        forgotten_as_before(warehouse, "user_id", "keyed_hash('user_id:\u200bu-77')")
        forgotten_as_before(warehouse, "anonymous_id", "keyed_hash('anonymous_id:a-77\u200e')")
        landing.jsonl("web", DAY2, "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-02T10:00:00Z", "event_name": "login", "user_id": "\u200bu-77",
             "anonymous_id": "a-1"},
            {"event_id": "w2", "event_ts": "2026-10-02T10:00:00Z", "event_name": "page_view", "anonymous_id": "a-77\u200e"},
            {"event_id": "w3", "event_ts": "2026-10-02T10:00:00Z", "event_name": "page_view", "anonymous_id": "a-2"},
        ])
        landing.jsonl("email", DAY2, "esp.jsonl", [
            {"event_id": "m1", "event_ts": "2026-10-02T10:00:00Z", "event_name": "open", "email": "x@example.com",
             "user_id": "\u200bu-77"},
        ])
        landing.jsonl("social", DAY2, "social.jsonl", [
            {"event_id": "s1", "event_ts": "2026-10-02T10:00:00Z", "event_name": "like", "platform": "x",
             "handle": "someone", "user_id": "\u200bu-77"},
        ])
        landing.text("identities", None, "crm.csv", "user_id,email,platform,handle\n\u200bu-77,y@example.com,,\n")
        summary = run_day(landing, warehouse, DAY2)
        assert (summary.rows_loaded, summary.rows_forgotten) == (1, 5)
        assert query(warehouse, "select event_id from events order by 1") == [("w0",), ("w3",)]

    def test_a_null_marker_with_an_invisible_mark_erased_as_an_id_stays_erased(self, landing: Landing, warehouse: Path) -> None:
        """'\u200bnull' was a user id before invisible marks were trimmed (and `journey forget`
        recorded it so); now it is a null marker, no id: the rows that name it are still withheld."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            {"event_id": "w0", "event_ts": "2026-10-01T09:00:00Z", "event_name": "page_view", "anonymous_id": "a0"},
        ])
        run_day(landing, warehouse, DAY1)
        forgotten_as_before(warehouse, "user_id", "keyed_hash('user_id:\u200bnull')")
        forgotten_as_before(warehouse, "anonymous_id", "keyed_hash('anonymous_id:NULL\u200e')")
        landing.jsonl("web", DAY2, "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-02T10:00:00Z", "event_name": "login", "user_id": "\u200bnull",
             "anonymous_id": "a-1"},
            {"event_id": "w2", "event_ts": "2026-10-02T10:00:00Z", "event_name": "page_view", "anonymous_id": "NULL\u200e"},
            {"event_id": "w3", "event_ts": "2026-10-02T10:00:00Z", "event_name": "page_view", "anonymous_id": "a-2",
             "user_id": "null"},
        ])
        summary = run_day(landing, warehouse, DAY2)
        assert (summary.rows_loaded, summary.rows_forgotten) == (1, 2)
        assert query(warehouse, "select event_id from events order by 1") == [("w0",), ("w3",)]

    def test_handle_in_an_unparseable_line(self, landing: Landing, warehouse: Path) -> None:
        landing.text("social", DAY1, "social.jsonl", '{"event_id": "s1", "platform": "x", "handle": "annie_rocks", broken\n')
        landing.text(
            "social", DAY1, "social.csv",
            "event_id,event_ts,event_name,platform,handle\ns2,2026-10-01T09:00:00Z,like,x,annie_rocks,extra\n",
        )
        landing.text("identities", None, "crm.csv", "user_id,email,platform,handle\nu1,,x,annie_rocks,extra\n")
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select count(*) from quarantine") == [(3,)]
        assert find_personal(warehouse, ["annie_rocks"]) == []

    def test_own_handle_elsewhere_in_an_unparseable_line(self, landing: Landing, warehouse: Path) -> None:
        """A line that is not JSON but still names its handle: the handle is masked wherever the line
        repeats it (its text, an extra field), in any case and without its '@', as in a parsed row."""
        landing.text(
            "social", DAY1, "social.jsonl",
            '{"event_id": "s1", "handle": "@Annie_Rocks", "text": "I am annie_rocks", "by": "ANNIE_ROCKS", broken\n',
        )
        landing.text(
            "identities", None, "crm.jsonl",
            '{"user_id": "u1", "handle": "annie_rocks", "note": "Annie_Rocks on x", broken\n',
        )
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select count(*) from quarantine") == [(2,)]
        assert find_personal(warehouse, ["annie_rocks"]) == []
        assert query(warehouse, "select raw from quarantine where source_file like 'social/%'") == [
            ('{"event_id": "s1", "handle": "@[handle]", "text": "I am @[handle]", "by": "@[handle]", broken',)
        ]

    def test_handle_in_a_refused_web_or_email_row(self, landing: Landing, warehouse: Path) -> None:
        """A refused web or e-mail row's text has its @handles masked, as a refused social, identities
        or label row's has (a line that is not JSON, a bad timestamp next to a title naming one)."""
        landing.text("web", DAY1, "web.jsonl", "\n".join([
            '{"event_id": "w1", "page_title": "hi @annie_rocks", oops',
            '{"event_id": "w2", "event_ts": "soon", "event_name": "page_view", "anonymous_id": "a2", '
            '"page_title": "follow @annie_rocks"}',
        ]) + "\n")
        landing.text("email", DAY1, "esp.jsonl", '{"event_id": "m1", "email": "x@y.example", "reason": "see @annie_rocks", oops\n')
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select count(*) from quarantine") == [(3,)]
        assert find_personal(warehouse, ["annie_rocks"]) == []
        assert query(warehouse, "select raw from quarantine where line_no = 1 and source_file like 'web/%'") == [
            ('{"event_id": "w1", "page_title": "hi @[handle]", oops',)
        ]

    def test_address_cut_short_in_a_truncated_line(self, landing: Landing, warehouse: Path) -> None:
        """A line cut off inside an address (no top-level domain left, or not even the @) is refused,
        and its text in quarantine holds no part of the address."""
        head = '{"event_id": "w1", "event_ts": "2026-10-01T09:00:00Z", "event_name": "sign_up", "anonymous_id": "a1", '
        landing.text("web", DAY1, "web.jsonl", "\n".join([
            head + '"email": "zoe.moreau1624@example.',
            head.replace("w1", "w2") + '"email": "zoe.mor',
            head.replace("w1", "w3") + '"page_title": "hi zoe\\u0040example.',
        ]) + "\n")
        landing.text(
            "email", DAY1, "email.csv",
            "event_id,event_ts,event_name,email\nm1,2026-10-01T09:00:00Z,open,zoe.moreau1624@exam,extra\n",
        )
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select count(*) from quarantine") == [(4,)]
        assert find_personal(warehouse, ["zoe", "moreau", "@exam", "0040exam"]) == []
        assert query(warehouse, "select raw from quarantine where line_no = 1 and source_file like 'web/%'") == [
            (head + '"email": "[email]',)
        ]

    def test_own_handle_in_social_text(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("social", DAY1, "social.jsonl", [
            {"event_id": "s1", "event_ts": "2026-10-01T09:00:00Z", "event_name": "message", "platform": "x",
             "handle": "annie_rocks", "text": "annie_rocks here, where is my order?"},
        ])
        run_day(landing, warehouse, DAY1)
        assert find_personal(warehouse, ["annie_rocks"]) == []


    def test_own_handle_in_other_case_and_in_text_that_is_not_ascii(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("social", DAY1, "social.jsonl", [
            {"event_id": "s1", "event_ts": "2026-10-01T09:00:00Z", "event_name": "message", "platform": "x",
             "handle": "annie_rocks", "text": "hi from ANNIE_ROCKS"},
            {"event_id": "s2", "event_ts": "2026-10-01T09:00:00Z", "event_name": "message", "platform": "x",
             "handle": "annie_rocks", "text": "grüße von Annie_Rocks"},
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select text from events order by event_id") == [
            ("hi from @[handle]",), ("grüße von @[handle]",),
        ]
        assert find_personal(warehouse, ["annie_rocks", "ANNIE_ROCKS", "Annie_Rocks"]) == []

    def test_address_encoded_twice_or_in_other_scripts(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1",
             "page_url": "https://shop.example/?next=%3Fe%3Dann.lee%2540example.com",
             "page_title": "Hallo zoë@exämple.de", "referrer": "https://social.example/@zoë"},
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select page_url, page_title, referrer from events") == [
            ("https://shop.example/?next=[email]", "Hallo [email]", "https://social.example/@zoë")
        ]

    def test_address_with_encoded_dots_or_a_full_width_at_beside_an_at(self, landing: Landing, warehouse: Path) -> None:
        """A URL may encode an address's dots (%2E) as well as its @; Japanese and Chinese text
        write an address with the full-width ＠ (U+FF20), masked in text that has an @ too (and in
        text without one: test_address_with_only_a_full_width_or_small_at)."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1",
             "page_url": "https://shop.example/?e=ann.lee%40example%2Ecom&x=1",
             "page_title": "連絡先 hana.sato＠example.co.jp まで @shop"},
        ])
        landing.jsonl("social", DAY1, "social.jsonl", [
            {"event_id": "s1", "event_ts": "2026-10-01T09:00:00Z", "event_name": "message", "platform": "x",
             "handle": "hana", "text": "@shop メールは hana.sato＠example.co.jp です"},
        ])
        run_day(landing, warehouse, DAY1)
        assert find_personal(warehouse, ["hana.sato＠example.co.jp", "ann.lee%40example%2Ecom"]) == []
        assert query(warehouse, "select page_url, page_title from events where channel = 'web'") == [
            ("https://shop.example/?e=[email]&x=1", "連絡先 [email] まで @shop")
        ]

    def test_address_with_only_a_full_width_or_small_at(self, landing: Landing, warehouse: Path) -> None:
        """An address written with the full-width ＠ (U+FF20) or the small ﹫ (U+FE6B) alone, with
        no plain @ in the text, is masked as one with an @ is: in free text and URLs, a search
        query, a social message, a field beyond the contract, an id, and a refused row's reason
        and text."""
        addresses = ["hana.sato＠example.co.jp", "li.wei﹫example.cn", "hana.sato@example.co.jp", "li.wei@example.cn",
                     # as JSON escapes them (a refused row's raw text is kept as it landed)
                     "hana.sato\\uff20example.co.jp", "li.wei\\ufe6bexample.cn"]
        landing.jsonl("web", DAY1, "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "search", "anonymous_id": "a1",
             "page_url": "https://shop.example/search?q=hana.sato＠example.co.jp",
             "page_title": "連絡先 li.wei﹫example.cn まで", "utm_campaign": "hana.sato＠example.co.jp",
             "search_term": "li.wei﹫example.cn"},
            {"event_id": "w2", "event_ts": "2026-10-01T10:01:00Z", "event_name": "login", "anonymous_id": "a2",
             "user_id": "Li.Wei﹫example.cn"},
            {"event_id": "w3", "event_ts": "2026-10-01T10:02:00Z", "event_name": "page_view", "anonymous_id": "a3",
             "user_id": "li.wei@example.cn"},
            {"event_id": "w4", "event_ts": "hana.sato＠example.co.jp", "event_name": "page_view", "anonymous_id": "a4",
             "page_title": "li.wei﹫example.cn"},
        ])
        landing.jsonl("email", DAY1, "esp.jsonl", [
            {"event_id": "m1", "event_ts": "2026-10-01T08:00:00Z", "event_name": "bounce", "email": "cat@example.net",
             "reason": "550 mailbox hana.sato＠example.co.jp unavailable", "url": "https://shop.example/?e=li.wei﹫example.cn"},
        ])
        landing.jsonl("social", DAY1, "social.jsonl", [
            {"event_id": "s1", "event_ts": "2026-10-01T09:00:00Z", "event_name": "message", "platform": "x",
             "handle": "kumo", "text": "メールは hana.sato＠example.co.jp です", "reply_to": "li.wei﹫example.cn"},
            {"event_id": "s2", "event_ts": "2026-10-01T09:00:00Z", "event_name": "message", "platform": "x",
             "handle": "kumo", "sentiment": "li.wei﹫example.cn"},
            '{"event_id": "s3", "event_ts": "2026-10-01T09:00:00Z", "event_name": "message", "platform": "x", '
            '"handle": "kumo", "rating": "li.wei﹫example.cn", "text": "hana.sato＠example.co.jp"}',
            {"event_id": "s4", "event_ts": "2026-10-01T09:00:00Z", "event_name": "like", "platform": "li.wei﹫example.cn",
             "handle": "kumo"},
        ])
        landing.text("labels", None, "labels.csv", "user_id,stage,as_of_date\nu1,purchase,hana.sato＠example.co.jp\n")
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select count(*) from events") == [(6,)]
        assert query(warehouse, "select count(*) from quarantine") == [(4,)]
        assert find_personal(warehouse, addresses) == []
        assert query(warehouse, "select page_url, page_title, utm_campaign, properties from events where event_id = 'w1'") == [
            ("https://shop.example/search?q=[email]", "連絡先 [email] まで", "[email]", '{"search_term":"[email]"}')
        ]
        assert query(warehouse, "select text, properties from events where event_id = 's1'") == [
            ("メールは [email] です", '{"reply_to":"[email]"}')
        ]
        # one customer however the @ of the address that keys them was written
        users = query(warehouse, "select distinct user_id, customer_id from events where event_id in ('w2', 'w3')")
        assert len(users) == 1 and users[0][0].startswith("user:")

    def test_a_user_erased_with_a_full_width_at_in_their_id_stays_erased(self, landing: Landing, warehouse: Path) -> None:
        """`journey forget` recorded a user id written with a full-width ＠ as given (it was kept
        as it was then): rows that name them later are still withheld, and forget finds a
        customer by such an id."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            {"event_id": "w0", "event_ts": "2026-10-01T09:00:00Z", "event_name": "page_view", "anonymous_id": "a0",
             "user_id": "ann＠example.com"},
        ])
        run_day(landing, warehouse, DAY1)
        from journey_analytics.config import Settings
        from journey_analytics.forget import forget_customer

        result = forget_customer("ann＠example.com", warehouse, Settings())
        assert result.total_rows_removed > 0
        forgotten_as_before(warehouse, "user_id", "keyed_hash('user_id:zed.doe＠example.com')")
        landing.jsonl("web", DAY2, "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-02T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1",
             "user_id": "zed.doe＠example.com"},
        ])
        summary = run_day(landing, warehouse, DAY2)
        assert (summary.rows_loaded, summary.rows_forgotten) == (0, 1)

    def test_values_quoted_in_a_reason(self, landing: Landing, warehouse: Path) -> None:
        """A refused row's reason quotes its bad value, which may be an address or the row's own
        handle (a CSV row whose columns slipped): the reason is masked as its text is."""
        landing.text(
            "social", DAY1, "social.csv",
            "event_id,event_ts,event_name,platform,handle,sentiment\n"
            "s1,2026-10-01T09:00:00Z,comment,x,@Annie_Rocks,Annie_Rocks\n"
            "s2,ann.lee@example.com,comment,x,bobby_tables,0.5\n",
        )
        landing.text(
            "web", DAY1, "web.csv",
            "event_id,event_ts,event_name,anonymous_id,order_id,value,currency\n"
            "w1,2026-10-01T09:00:00Z,purchase,a1,o1,cat@example.net,EUR\n",
        )
        landing.text("labels", None, "labels.csv", "user_id,stage,as_of_date\nu1,purchase,ann.lee@example.com\n")
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select error from quarantine order by source_file, line_no") == [
            ('as_of_date "[email]" is not a date (YYYY-MM-DD)',),
            ('sentiment "@[handle]" is not a number',),
            ('event_ts "[email]" is not a timestamp (ISO-8601 with offset, or epoch milliseconds)',),
            ('value "[email]" is not a number',),
        ]
        assert find_personal(warehouse, ["annie_rocks", "ann.lee@example.com", "cat@example.net"]) == []

    def test_own_handle_in_any_case_in_refused_text_and_extra_fields(self, landing: Landing, warehouse: Path) -> None:
        """The row's own handle, in another case or without its '@', is masked in a refused row's
        text and in the fields beyond the contract (a profile link, an author name)."""
        landing.jsonl("social", DAY1, "social.jsonl", [
            {"event_id": "s1", "event_ts": "2026-10-01T09:00:00Z", "event_name": "message", "platform": "x",
             "handle": "@Annie_Rocks", "text": "DM annie_rocks for details", "sentiment": "lots"},
            {"event_id": "s2", "event_ts": "2026-10-01T09:00:00Z", "event_name": "message", "platform": "x",
             "handle": "annie_rocks", "author_username": "Annie_Rocks",
             "profile_url": "https://x.example/annie_rocks"},
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select properties from events") == [
            ('{"author_username":"@[handle]","profile_url":"https://x.example/@[handle]"}',)
        ]
        assert find_personal(warehouse, ["annie_rocks"]) == []


class TestKeyedHash:
    """The SQL keyed_hash macro is HMAC-SHA256, the same as privacy.keyed_hash in Python."""

    @pytest.mark.parametrize(
        "secret",
        [b"k", b"x" * 64, b"a key longer than one SHA-256 block of sixty-four bytes, so it is hashed first", "clé".encode()],
        ids=["short", "one block", "longer than a block", "non-ascii"],
    )
    def test_same_as_python_hmac(self, secret: bytes) -> None:
        values = ["ann.lee@example.com", "instagram:annie_rocks", "", "zoë@example.com", "x" * 500]
        con = duckdb.connect()
        try:
            install_hash_macro(con, HashKey(secret, "test"))
            in_sql = [con.execute("select keyed_hash(?)", [v]).fetchall()[0][0] for v in values]
            null = con.execute("select keyed_hash(cast(null as varchar))").fetchall()[0][0]
        finally:
            con.close()
        assert in_sql == [keyed_hash(secret, v) for v in values]
        assert null is None

    def test_warehouse_hashes_are_python_hashes(self, personal: Path) -> None:
        key = TEST_HASH_KEY.encode()
        assert query(personal, "select email_hash from events where event_id = 'w1'") == [
            (keyed_hash(key, "ann.lee@example.com"),)
        ]
        assert query(personal, "select social_handle_hash from events where event_id = 's1'") == [
            (keyed_hash(key, "instagram:annie_rocks"),)
        ]


class TestKey:
    """The key comes from the environment or config, is generated owner-only when missing, and never changes."""

    def test_key_never_written_to_the_warehouse(self, personal: Path) -> None:
        assert TEST_HASH_KEY.encode() not in personal.read_bytes()
        assert query(personal, "select setting, length(value) from raw.warehouse_settings order by 1") == [
            ("address_ids_in_line", 16), ("hash_key_fingerprint", 16)]

    def test_changed_key_refused(self, landing: Landing, warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1"},
        ])
        run_day(landing, warehouse, DAY1)
        published = warehouse.read_bytes()
        monkeypatch.setenv(HASH_KEY_ENV, "another key")

        with pytest.raises(KeyMismatchError, match="not the one this warehouse was built with"):
            run_day(landing, warehouse, DAY2)

        assert warehouse.read_bytes() == published
        assert sorted(p.name for p in warehouse.parent.iterdir() if ".build-" in p.name) == []

    def test_no_key_for_a_warehouse_built_with_one_is_refused_and_none_generated(
        self, landing: Landing, warehouse: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A secret that did not reach the job: a key was generated beside the warehouse, then
        refused, and stood there as if it were the warehouse's, named as the file to restore."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1"},
        ])
        run_day(landing, warehouse, DAY1)
        published = warehouse.read_bytes()
        monkeypatch.delenv(HASH_KEY_ENV)

        with pytest.raises(KeyMismatchError, match=r"no hashing key given .* and no journey\.duckdb\.key beside the warehouse"):
            check_key_before_run(None, warehouse)
        with pytest.raises(KeyMismatchError, match="no hashing key given"):
            run_day(landing, warehouse, DAY2)

        assert not warehouse.with_name(warehouse.name + ".key").exists()
        assert warehouse.read_bytes() == published

    def test_key_from_config_when_no_environment(self, landing: Landing, warehouse: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.delenv(HASH_KEY_ENV)
        config = tmp_path / "journey.toml"
        config.write_text('[privacy]\nhash_key = "from config"\n')
        landing.jsonl("email", DAY1, "esp.jsonl", [
            {"event_id": "m1", "event_ts": "2026-10-01T08:00:00Z", "event_name": "open", "email": "cat@example.net"},
        ])
        summary = run_day(landing, warehouse, DAY1, load_settings(config))
        assert summary.notices == []
        assert not warehouse.with_name(warehouse.name + ".key").exists()
        assert query(warehouse, "select email_hash from events") == [(keyed_hash(b"from config", "cat@example.net"),)]

    def test_generated_key_file_is_owner_only(self, landing: Landing, warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv(HASH_KEY_ENV)
        landing.jsonl("email", DAY1, "esp.jsonl", [
            {"event_id": "m1", "event_ts": "2026-10-01T08:00:00Z", "event_name": "open", "email": "cat@example.net"},
        ])

        first = run_day(landing, warehouse, DAY1)

        key_file = warehouse.with_name("journey.duckdb.key")
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        secret = key_file.read_text()
        assert re.fullmatch(r"[0-9a-f]{64}\n", secret)
        assert len(first.notices) == 1 and str(key_file) in first.notices[0]
        assert query(warehouse, "select email_hash from events") == [(keyed_hash(secret.strip().encode(), "cat@example.net"),)]

        second = run_day(landing, warehouse, DAY2)
        assert second.notices == []
        assert key_file.read_text() == secret
