"""journey forget: one customer erased from every table, kept out of later runs, and audited without identifiers."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from journey_analytics import runs
from journey_analytics.cli import main
from journey_analytics.config import HASH_KEY_ENV, load_settings
from journey_analytics.forget import ForgetError, forget_customer
from journey_analytics.privacy import KeyMismatchError, keyed_hash
from journey_analytics.warehouse import WarehouseBusyError, warehouse_lock
from tests.conftest import DAY1, DAY2, DAY3, TEST_HASH_KEY, Landing, query, run_day

ANN_USER, ANN_DEVICE, ANN_NEW_DEVICE = "ann-42", "dev-ann", "dev-ann-phone"
ANN_EMAIL, ANN_HANDLE = "ann@example.com", "ann_insta"
ANN_EMAIL_HASH = keyed_hash(TEST_HASH_KEY.encode(), ANN_EMAIL)
ANN_HANDLE_HASH = keyed_hash(TEST_HASH_KEY.encode(), f"instagram:{ANN_HANDLE}")
# Everything that identifies Ann; none of it may be left anywhere after the erasure.
ANN_VALUES = [ANN_USER, ANN_DEVICE, ANN_NEW_DEVICE, ANN_EMAIL_HASH, ANN_HANDLE_HASH, ANN_EMAIL, ANN_HANDLE]


def web(event_id: str, ts: str, name: str, **fields: object) -> dict[str, object]:
    return {"event_id": event_id, "event_ts": ts, "event_name": name, **fields}


ANN_DAY1_WEB = [
    web("w-a1", "2026-10-01T09:00:00Z", "page_view", anonymous_id=ANN_DEVICE, page_url="https://shop.example/"),
    web("w-a2", "2026-10-01T09:01:00Z", "login", anonymous_id=ANN_DEVICE, user_id=ANN_USER, email=ANN_EMAIL),
    web("w-a3", "2026-10-01T09:05:00Z", "purchase", anonymous_id=ANN_DEVICE, user_id=ANN_USER, order_id="o-a", value="40", currency="EUR"),
    # breaks the contract (no event_name): quarantined, and mentions Ann's user id
    {"event_id": "w-a4", "event_ts": "2026-10-01T09:06:00Z", "user_id": ANN_USER},
]
BOB_DAY1_WEB = [
    web("w-b1", "2026-10-01T11:00:00Z", "page_view", anonymous_id="dev-bob", page_url="https://shop.example/"),
    web("w-b2", "2026-10-01T11:02:00Z", "login", anonymous_id="dev-bob", user_id="bob-7", email="bob@example.com"),
    {"event_id": "w-b3", "event_ts": "2026-10-01T11:03:00Z", "user_id": "bob-7"},  # quarantined, Bob's
    web("w-c1", "2026-10-01T12:00:00Z", "page_view", anonymous_id="dev-cat"),
]


def write_day1(landing: Landing) -> None:
    landing.jsonl("web", DAY1, "web.jsonl", ANN_DAY1_WEB + BOB_DAY1_WEB)
    landing.jsonl("email", DAY1, "esp.jsonl", [
        {"event_id": "m-a1", "event_ts": "2026-10-01T08:00:00Z", "event_name": "open", "email": ANN_EMAIL},
        {"event_id": "m-b1", "event_ts": "2026-10-01T08:00:00Z", "event_name": "open", "email": "bob@example.com"},
    ])
    landing.jsonl("social", DAY1, "social.jsonl", [
        {"event_id": "s-a1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "comment", "platform": "instagram",
         "handle": ANN_HANDLE, "sentiment": "0.5"},
        {"event_id": "s-b1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "like", "platform": "instagram",
         "handle": "bob_gram"},
    ])
    landing.text("identities", None, "crm.csv", (
        "user_id,email,platform,handle\n"
        f"{ANN_USER},{ANN_EMAIL},instagram,{ANN_HANDLE}\n"
        "bob-7,bob@example.com,instagram,bob_gram\n"
    ))
    landing.text("labels", None, "labels.csv", (
        "user_id,stage,as_of_date\n"
        f"{ANN_USER},purchase,2026-10-01\n"
        "bob-7,consideration,2026-10-01\n"
    ))


def run_full_day(landing: Landing, warehouse: Path, day: date) -> runs.RunSummary:
    """Every step of the nightly flow (stages, funnels and pain points included), without Prefect."""
    return runs.run_day_in_process(day, landing.root, warehouse, warehouse.parent / "reports", load_settings())


def cells_mentioning(warehouse: Path, values: list[str]) -> list[tuple[str, str, str]]:
    """Every (table, column, cell) of every table whose text contains one of the values."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        columns = con.execute(
            "select schema_name || '.' || table_name, column_name from duckdb_columns() "
            "where database_name = current_database() order by all"
        ).fetchall()
        hits = []
        for table, column in columns:
            for (cell,) in con.execute(f'select distinct cast("{column}" as varchar) from {table}').fetchall():
                if cell is not None and any(v.lower() in cell.lower() for v in values):
                    hits.append((table, column, cell))
        return hits
    finally:
        con.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def builds_beside(warehouse: Path) -> list[Path]:
    return list(warehouse.parent.glob(f".{warehouse.name}.build-*"))


@pytest.fixture(scope="module")
def erased(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Day 1 run, a copy of the warehouse before the erasure, then Ann forgotten."""
    root = tmp_path_factory.mktemp("forget")
    landing = Landing(root / "landing")
    write_day1(landing)
    warehouse = root / "warehouse" / "journey.duckdb"
    run_full_day(landing, warehouse, DAY1)
    before = root / "before.duckdb"
    shutil.copyfile(warehouse, before)
    result = forget_customer(ANN_USER, warehouse, load_settings())
    return {"root": root, "landing": landing, "warehouse": warehouse, "before": before, "result": result}


class TestBeforeErasure:
    """The fixture's day really holds Ann everywhere the erasure must reach."""

    def test_ann_is_in_raw_derived_and_quarantine(self, erased: dict[str, object]) -> None:
        hits = {table for table, _, _ in cells_mentioning(erased["before"], [ANN_USER, ANN_DEVICE, ANN_EMAIL_HASH, ANN_HANDLE_HASH])}
        assert {
            "raw.web_events", "raw.email_events", "raw.social_events", "raw.identities", "raw.labels",
            "main.quarantine", "main.events", "main.identity_map", "main.sessions", "main.customers",
            "main.customer_stages", "main.stage_history",
        } <= hits


class TestErasure:
    """After forget, no table holds the customer and everyone else is as before."""

    def test_no_cell_of_any_table_mentions_ann(self, erased: dict[str, object]) -> None:
        assert cells_mentioning(erased["warehouse"], ANN_VALUES) == []

    def test_other_customers_untouched(self, erased: dict[str, object]) -> None:
        before, after = erased["before"], erased["warehouse"]
        others = "customer_id <> 'ann-42'"
        for table in ("events", "identity_map", "sessions", "customers", "customer_stages", "stage_history"):
            sql = f"select * from main.{table} where {others} order by all"
            assert query(after, sql) == query(before, sql), table
        assert query(after, "select customer_id from main.identity_map where identifier = 'bob-7'") == [("bob-7",)]
        assert query(after, "select count(*) from main.quarantine where raw like '%bob-7%'") == [(1,)]
        assert query(after, "select count(*) from raw.labels") == [(1,)]
        assert query(after, "select event_id from raw.web_events order by 1") == [("w-b1",), ("w-b2",), ("w-c1",)]

    def test_aggregates_stay(self, erased: dict[str, object]) -> None:
        for table in ("stage_funnel", "stage_transitions", "funnel_steps", "pipeline_runs", "ingested_files"):
            schema = "raw" if table == "ingested_files" else "main"
            sql = f"select count(*) from {schema}.{table}"
            assert query(erased["warehouse"], sql) == query(erased["before"], sql), table

    def test_audit_row_without_identifiers(self, erased: dict[str, object]) -> None:
        result = erased["result"]
        rows = query(erased["warehouse"], "select erasure_id, rows_removed, identifiers_suppressed from main.erasures")
        assert len(rows) == 1
        erasure_id, removed, suppressed = rows[0]
        assert erasure_id == result.erasure_id
        assert suppressed == 4  # user id, device, e-mail hash, handle hash
        removed = json.loads(removed)
        assert removed == result.rows_removed
        assert removed["raw.web_events"] == 3 and removed["raw.email_events"] == 1
        assert removed["raw.social_events"] == 1 and removed["raw.identities"] == 1 and removed["raw.labels"] == 1
        assert removed["main.quarantine"] == 1 and removed["main.events"] == 5
        assert not any(v in json.dumps(rows[0], default=str) for v in ANN_VALUES)

    def test_suppression_list_holds_keyed_hashes_only(self, erased: dict[str, object]) -> None:
        rows = query(erased["warehouse"], "select identifier_type, identifier_hash, erasure_id from raw.forgotten_identifiers order by 1")
        key = TEST_HASH_KEY.encode()
        assert rows == sorted([
            ("anonymous_id", keyed_hash(key, f"anonymous_id:{ANN_DEVICE}"), erased["result"].erasure_id),
            ("email", keyed_hash(key, f"email:{ANN_EMAIL_HASH}"), erased["result"].erasure_id),
            ("social_handle", keyed_hash(key, f"social_handle:{ANN_HANDLE_HASH}"), erased["result"].erasure_id),
            ("user_id", keyed_hash(key, f"user_id:{ANN_USER}"), erased["result"].erasure_id),
        ])

    def test_tables_keep_their_documentation(self, erased: dict[str, object]) -> None:
        comments = query(
            erased["warehouse"],
            "select table_name, comment from duckdb_tables() where table_name in ('events', 'erasures', 'forgotten_identifiers')",
        )
        assert len(comments) == 3 and all(comment for _, comment in comments)

    def test_no_build_file_left(self, erased: dict[str, object]) -> None:
        assert builds_beside(erased["warehouse"]) == []

    def test_file_holds_no_stale_bytes_of_ann(self, erased: dict[str, object]) -> None:
        """Deleted rows do not linger in free blocks: the published file is a fresh copy."""
        data = erased["warehouse"].read_bytes()
        assert ANN_DEVICE.encode() not in data and ANN_USER.encode() not in data


@pytest.fixture(scope="module")
def later(erased: dict[str, object]) -> dict[str, object]:
    """Day 1 again, then day 2 (a rewritten day-1 file and new files with Ann's new rows) and day 3."""
    root = erased["root"] / "later"
    shutil.copytree(erased["landing"].root, root / "landing")
    landing, warehouse = Landing(root / "landing"), root / "warehouse" / "journey.duckdb"
    warehouse.parent.mkdir(parents=True)
    shutil.copyfile(erased["warehouse"], warehouse)
    rerun = run_full_day(landing, warehouse, DAY1)
    # the day-1 web file is rewritten with one more row each for Ann (old device) and Bob
    landing.jsonl("web", DAY1, "web.jsonl", ANN_DAY1_WEB + BOB_DAY1_WEB + [
        web("w-a5", "2026-10-01T23:00:00Z", "page_view", anonymous_id=ANN_DEVICE),
        web("w-b4", "2026-10-01T23:00:00Z", "page_view", anonymous_id="dev-bob"),
    ])
    landing.jsonl("web", DAY2, "web.jsonl", [
        web("w-a6", "2026-10-02T09:00:00Z", "login", anonymous_id=ANN_NEW_DEVICE, user_id=ANN_USER),
        web("w-a7", "2026-10-02T09:01:00Z", "page_view", user_id=ANN_USER),
        {"event_id": "w-a8", "event_ts": "2026-10-02T09:02:00Z", "anonymous_id": ANN_DEVICE},  # bad and Ann's
        # not even JSON, and Ann's: withheld by the ids in its text, as forget erased quarantine
        f'{{"event_id": "w-a9", "user_id": "{ANN_USER}", "anonymous_id": "{ANN_NEW_DEVICE}", broken',
        web("w-b5", "2026-10-02T11:00:00Z", "page_view", anonymous_id="dev-bob"),
    ])
    landing.jsonl("email", DAY2, "esp.jsonl", [
        {"event_id": "m-a2", "event_ts": "2026-10-02T08:00:00Z", "event_name": "click", "email": ANN_EMAIL.upper()},
    ])
    landing.jsonl("social", DAY2, "social.jsonl", [
        {"event_id": "s-a2", "event_ts": "2026-10-02T10:00:00Z", "event_name": "like", "platform": "Instagram",
         "handle": "@" + ANN_HANDLE},
    ])
    landing.text("identities", None, "crm-2.csv", f"user_id,email\n{ANN_USER},ann.new@example.com\n")
    day2 = run_full_day(landing, warehouse, DAY2)
    day3 = run_full_day(landing, warehouse, DAY3)
    return {"warehouse": warehouse, "rerun": rerun, "day2": day2, "day3": day3}



class TestLaterRuns:
    """Runs after the erasure never re-create the customer, from old files or new ones."""

    def test_ann_not_recreated(self, later: dict[str, object]) -> None:
        new_email_hash = keyed_hash(TEST_HASH_KEY.encode(), "ann.new@example.com")
        assert cells_mentioning(later["warehouse"], [*ANN_VALUES, new_email_hash]) == []

    def test_others_still_load(self, later: dict[str, object]) -> None:
        ids = [r[0] for r in query(later["warehouse"], "select event_id from main.events where customer_id = 'bob-7' order by 1")]
        assert {"w-b4", "w-b5"} <= set(ids)

    def test_withheld_rows_are_counted(self, later: dict[str, object]) -> None:
        rerun, day2, day3 = later["rerun"], later["day2"], later["day3"]
        assert rerun.rows_read == 0 and rerun.rows_forgotten == 0  # unchanged files are not read again
        # re-read day-1 file: 4 Ann rows (w-a1..w-a3, bad w-a4) + new w-a5; day 2: w-a6..w-a9, m-a2, s-a2, crm-2 row
        assert day2.rows_forgotten == 5 + 7
        assert day2.rows_loaded == 2  # w-b4, w-b5
        assert day3.rows_read == 0
        for summary in (rerun, day2, day3):
            assert summary.rows_read == (
                summary.rows_loaded + summary.rows_quarantined + summary.rows_duplicate + summary.rows_forgotten
            )

    def test_invariant_in_ledgers(self, later: dict[str, object]) -> None:
        warehouse = later["warehouse"]
        bad = query(warehouse, """
            select run_id from main.pipeline_runs
            where rows_read <> rows_loaded + rows_quarantined + rows_duplicate + rows_forgotten
        """)
        assert bad == []
        bad_files = query(warehouse, """
            select source_file from raw.ingested_files
            where rows_read <> rows_loaded + rows_quarantined + rows_duplicate + rows_forgotten
        """)
        assert bad_files == []
        reread = query(warehouse, """
            select rows_read, rows_loaded, rows_quarantined, rows_duplicate, rows_forgotten
            from raw.ingested_files where source_file = 'web/dt=2026-10-01/web.jsonl' order by read_at desc limit 1
        """)
        # 10 lines: Ann's 5 withheld, Bob's two old good rows and Cat's duplicates, Bob's bad row already quarantined
        assert reread == [(10, 1, 0, 4, 5)]

    def test_forgetting_again_is_unknown(self, later: dict[str, object]) -> None:
        with pytest.raises(ForgetError, match="no customer 'ann-42'"):
            forget_customer(ANN_USER, later["warehouse"], load_settings())


class TestRefusals:
    """An erasure that cannot be done changes nothing and says why in one line."""

    @pytest.fixture
    def small(self, tmp_path: Path) -> Path:
        landing = Landing(tmp_path / "landing")
        write_day1(landing)
        warehouse = tmp_path / "warehouse" / "journey.duckdb"
        run_day(landing, warehouse, DAY1)
        return warehouse

    def test_unknown_customer(self, small: Path) -> None:
        before = digest(small)
        with pytest.raises(ForgetError, match="no customer 'nobody'"):
            forget_customer("nobody", small, load_settings())
        assert digest(small) == before and builds_beside(small) == []

    def test_other_key_refused(self, small: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        before = digest(small)
        monkeypatch.setenv(HASH_KEY_ENV, "another-key")
        with pytest.raises(KeyMismatchError):
            forget_customer(ANN_USER, small, load_settings())
        assert digest(small) == before and builds_beside(small) == []

    def test_busy_warehouse_refused(self, small: Path) -> None:
        with warehouse_lock(small), pytest.raises(WarehouseBusyError):
            forget_customer(ANN_USER, small, load_settings())

    def test_customer_by_their_e_mail_address(self, small: Path) -> None:
        """Erasure requests arrive by e-mail: the address names its customer, in any case, as
        ingest hashes it (it answered "no customer", and finding the customer needed the key)."""
        forget_customer(" Ann@Example.COM ", small, load_settings())
        assert cells_mentioning(small, [ANN_USER, ANN_DEVICE, ANN_EMAIL_HASH]) == []
        assert query(small, "select count(*) from main.identity_map where customer_id = 'bob-7'")[0][0] > 0

    def test_anonymous_customer_by_customer_id(self, small: Path) -> None:
        forget_customer("anon:dev-cat", small, load_settings())
        assert cells_mentioning(small, ["dev-cat"]) == []
        assert query(small, "select count(*) from main.identity_map where customer_id in ('ann-42', 'bob-7')")[0][0] > 0


class TestCommandLine:
    """journey forget prints a short summary, or one error line and exit code 1."""

    @pytest.fixture
    def small(self, tmp_path: Path) -> Path:
        landing = Landing(tmp_path / "landing")
        write_day1(landing)
        warehouse = tmp_path / "warehouse" / "journey.duckdb"
        run_day(landing, warehouse, DAY1)
        return warehouse

    def test_success(self, small: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["forget", "--customer", "bob-7", "--warehouse", str(small)]) == 0
        out = capsys.readouterr().out
        assert out.startswith("journey forget: erasure ") and "bob-7" not in out
        assert cells_mentioning(small, ["bob-7", "dev-bob"]) == []

    @pytest.mark.parametrize("customer", ["nobody", ""])
    def test_unknown_customer(self, small: Path, customer: str, capsys: pytest.CaptureFixture[str]) -> None:
        before = digest(small)
        assert main(["forget", "--customer", customer, "--warehouse", str(small)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("journey: error: ") and err.count("\n") == 1 and "Traceback" not in err
        assert digest(small) == before

    def test_missing_warehouse(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["forget", "--customer", "x", "--warehouse", str(tmp_path / "none.duckdb")]) == 1
        assert capsys.readouterr().err == f"journey: error: warehouse not found: {tmp_path / 'none.duckdb'}\n"
        assert not (tmp_path / "none.duckdb").exists()

    def test_missing_customer_option(self, small: Path, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exit_info:
            main(["forget", "--warehouse", str(small)])
        assert exit_info.value.code == 2
        assert capsys.readouterr().err.count("\n") == 1


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A shop's kiosk: Bob logs in and buys on it, then Ann (the device's latest person), then a
    walk-in browses; Ann is forgotten, and the next day Dee logs in and buys on it."""
    root = tmp_path_factory.mktemp("kiosk")
    landing = Landing(root / "landing")
    landing.jsonl("web", DAY1, "web.jsonl", [
        web("k-b1", "2026-10-01T09:00:00Z", "login", anonymous_id="kiosk", user_id="bob-7"),
        web("k-b2", "2026-10-01T09:05:00Z", "purchase", anonymous_id="kiosk", user_id="bob-7",
            order_id="o-b", value="25", currency="EUR"),
        web("k-a1", "2026-10-01T12:00:00Z", "login", anonymous_id="kiosk", user_id=ANN_USER, email=ANN_EMAIL),
        web("k-a2", "2026-10-01T12:05:00Z", "purchase", anonymous_id="kiosk", user_id=ANN_USER,
            order_id="o-a", value="40", currency="EUR"),
        web("k-w1", "2026-10-01T15:00:00Z", "page_view", anonymous_id="kiosk"),  # no one identified
    ])
    warehouse = root / "warehouse" / "journey.duckdb"
    run_full_day(landing, warehouse, DAY1)
    forget_customer(ANN_USER, warehouse, load_settings())
    erased = {
        "raw": query(warehouse, "select event_id from raw.web_events order by 1"),
        "events": query(warehouse, "select event_id, customer_id from main.events order by 1"),
        "sessions": query(warehouse, "select customer_id from main.sessions order by 1"),
    }
    landing.jsonl("web", DAY2, "web.jsonl", [
        web("k-w2", "2026-10-02T08:00:00Z", "page_view", anonymous_id="kiosk"),  # whose is unknown: withheld
        web("k-d1", "2026-10-02T09:00:00Z", "login", anonymous_id="kiosk", user_id="dee-3"),
        web("k-d2", "2026-10-02T09:05:00Z", "purchase", anonymous_id="kiosk", user_id="dee-3",
            order_id="o-d", value="15", currency="EUR"),
    ])
    day2 = run_full_day(landing, warehouse, DAY2)
    return {"warehouse": warehouse, "erased": erased, "day2": day2}


class TestSharedDevice:
    """Forgetting the latest person of a shared device erases their rows and the device's
    anonymous ones, not the rows of the others who used it, then or later."""

    def test_the_others_rows_stay(self, kiosk: dict[str, object]) -> None:
        erased = kiosk["erased"]
        assert erased["raw"] == [("k-b1",), ("k-b2",)]
        assert erased["events"] == [("k-b1", "bob-7"), ("k-b2", "bob-7")]
        assert erased["sessions"] == [("bob-7",)]

    def test_later_rows_of_others_load_and_the_devices_anonymous_ones_do_not(self, kiosk: dict[str, object]) -> None:
        warehouse, day2 = kiosk["warehouse"], kiosk["day2"]
        assert (day2.rows_loaded, day2.rows_forgotten) == (2, 1)
        assert query(warehouse, "select customer_id, n_orders from main.customers order by 1") == [
            ("bob-7", 1), ("dee-3", 1)]
        assert cells_mentioning(warehouse, [ANN_USER, ANN_EMAIL_HASH, "k-a", "k-w"]) == []


@pytest.fixture(scope="module")
def kiosk_guest_order(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A walk-in's guest checkout on a kiosk whose latest person, Ann, is forgotten; the store's
    export names Bob as the order's buyer, so the guest purchase is stitched to Bob."""
    root = tmp_path_factory.mktemp("kiosk-guest")
    landing = Landing(root / "landing")
    landing.jsonl("web", DAY1, "web.jsonl", [
        web("k-g1", "2026-10-01T09:00:00Z", "purchase", anonymous_id="kiosk", order_id="o-g", value="30", currency="EUR"),
        web("x-g1", "2026-10-01T09:01:00Z", "purchase", user_id="bob-7", order_id="o-g", value="30", currency="EUR"),
        web("k-a1", "2026-10-01T12:00:00Z", "login", anonymous_id="kiosk", user_id=ANN_USER),
    ])
    warehouse = root / "warehouse" / "journey.duckdb"
    run_full_day(landing, warehouse, DAY1)
    forget_customer(ANN_USER, warehouse, load_settings())
    return warehouse


class TestSharedDeviceGuestOrder:
    """A row on a forgotten device that names no one by user id or e-mail goes from the events
    mart as from raw (and as ingest withholds it later), whoever it is stitched to."""

    def test_events_mart_and_raw_agree(self, kiosk_guest_order: Path) -> None:
        raw = query(kiosk_guest_order, "select event_id from raw.web_events order by 1")
        assert raw == [("x-g1",)]
        assert query(kiosk_guest_order, "select event_id, customer_id from main.events order by 1") == [("x-g1", "bob-7")]


class TestGuestVisitOnSomeoneElsesDevice:
    """A guest checkout's visit on a family computer is its buyer's; forgetting the buyer erases it
    from the raw tables too, so the next run does not give it to the computer's other person."""

    def test_the_visit_goes_with_its_buyer(self, tmp_path: Path) -> None:
        landing = Landing(tmp_path / "landing")
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("g-1", "2026-10-01T09:00:00Z", "view_item", anonymous_id="family"),
            web("g-2", "2026-10-01T09:05:00Z", "purchase", anonymous_id="family", order_id="o-9", value="80",
                currency="EUR"),
            web("s-1", "2026-10-01T12:00:00Z", "login", anonymous_id="family", user_id="sis-1"),
        ])
        landing.jsonl("web", DAY1, "orders.jsonl", [
            web("x-1", "2026-10-01T13:00:00Z", "purchase", user_id="bro-2", order_id="o-9", value="80", currency="EUR"),
        ])
        warehouse = tmp_path / "warehouse" / "journey.duckdb"
        run_full_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, customer_id from main.events order by 1") == [
            ("g-1", "bro-2"), ("g-2", "bro-2"), ("s-1", "sis-1"), ("x-1", "bro-2")]
        forget_customer("bro-2", warehouse, load_settings())
        assert query(warehouse, "select event_id from raw.web_events order by 1") == [("s-1",)]
        run_full_day(landing, warehouse, DAY2)
        assert query(warehouse, "select event_id, customer_id from main.events order by 1") == [("s-1", "sis-1")]


class TestCrmUserIdAlone:
    """A CRM row with a user id alone (no e-mail, no handle) is the customer's: forgetting the user
    id erases it, and the export read again does not load it back."""

    def test_the_row_is_erased_and_withheld(self, tmp_path: Path) -> None:
        landing = Landing(tmp_path / "landing")
        landing.text("identities", None, "crm.csv", "user_id,email,platform,handle\ndee-5,,,\nbob-7,bob@example.com,,\n")
        landing.jsonl("web", DAY1, "web.jsonl", [web("w-b1", "2026-10-01T11:00:00Z", "page_view", anonymous_id="dev-bob")])
        warehouse = tmp_path / "warehouse" / "journey.duckdb"
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select user_id from raw.identities order by 1") == [("bob-7",), ("dee-5",)]
        result = forget_customer("dee-5", warehouse, load_settings())
        assert result.rows_removed["raw.identities"] == 1
        assert cells_mentioning(warehouse, ["dee-5"]) == []
        landing.text("identities", None, "crm.csv", "user_id,email,platform,handle\ndee-5,,,\nbob-7,bob@example.com,,\nnew-1,,,\n")
        day2 = run_day(landing, warehouse, DAY2)
        assert (day2.rows_forgotten, day2.rows_loaded, day2.rows_duplicate) == (1, 1, 1)
        assert query(warehouse, "select user_id from raw.identities order by 1") == [("bob-7",), ("new-1",)]
        assert cells_mentioning(warehouse, ["dee-5"]) == []


class TestBrandReplyWithTheBrandsHandle:
    """A brand reply landed with the brand's own handle is its asker's; forgetting the asker
    erases it from the raw tables too, so the next run does not give it to the brand."""

    def test_the_reply_goes_with_its_asker(self, tmp_path: Path) -> None:
        def social(event_id: str, name: str, handle: str, thread: str, text: str) -> dict[str, object]:
            return {"event_id": event_id, "event_ts": "2026-10-01T10:00:00Z", "event_name": name,
                    "platform": "instagram", "handle": handle, "thread_id": thread, "text": text}

        landing = Landing(tmp_path / "landing")
        landing.jsonl("social", DAY1, "inbox.jsonl", [
            social("ask-1", "message", ANN_HANDLE, "t1", "Where is my parcel?"),
            social("reply-1", "brand_reply", "OurShop", "t1", "Hi Ann Berg, it ships today"),
            social("ask-2", "message", "bob_gram", "t2", "Do you ship to Oslo?"),
            social("reply-2", "brand_reply", "OurShop", "t2", "Yes we do"),
        ])
        warehouse = tmp_path / "warehouse" / "journey.duckdb"
        run_full_day(landing, warehouse, DAY1)
        ann = "social:" + ANN_HANDLE_HASH[:24]
        assert query(warehouse, "select customer_id from main.events where event_id = 'reply-1'") == [(ann,)]
        forget_customer(ann, warehouse, load_settings())
        assert query(warehouse, "select event_id from raw.social_events order by 1") == [("ask-2",), ("reply-2",)]
        run_full_day(landing, warehouse, DAY2)
        assert query(warehouse, "select event_id from main.events order by 1") == [("ask-2",), ("reply-2",)]


class TestInternationalisedDomain:
    """An address whose domain is internationalised is one person whether the log wrote the
    domain in Unicode or as its A-label ('xn--'): `journey forget` by either spelling erases them,
    from the warehouse and from later runs."""

    @pytest.fixture
    def jose(self, tmp_path: Path) -> tuple[Landing, Path]:
        landing = Landing(tmp_path / "landing")
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("w-j1", "2026-10-01T09:00:00Z", "sign_up", anonymous_id="dev-jose", email="Jos\u00e9@B\u00fccher.de"),
            web("w-b1", "2026-10-01T11:02:00Z", "login", anonymous_id="dev-bob", user_id="bob-7", email="bob@example.com"),
        ])
        landing.jsonl("email", DAY1, "esp.jsonl", [
            {"event_id": "m-j1", "event_ts": "2026-10-01T08:00:00Z", "event_name": "open", "email": "jos\u00e9@xn--bcher-kva.de"},
            {"event_id": "m-b1", "event_ts": "2026-10-01T08:00:00Z", "event_name": "open", "email": "bob@example.com"},
        ])
        warehouse = tmp_path / "warehouse" / "journey.duckdb"
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select count(distinct customer_id) from main.events where event_id like '%-j1'") == [(1,)]
        return landing, warehouse

    @pytest.mark.parametrize("spelling", ["jos\u00e9@xn--bcher-kva.de", "JOS\u00c9@B\u00dcCHER.DE", "jos\u00e9@b\u00fccher.de"])
    def test_forget_by_either_spelling(self, jose: tuple[Landing, Path], spelling: str) -> None:
        landing, warehouse = jose
        assert main(["forget", "--customer", spelling, "--warehouse", str(warehouse)]) == 0
        assert query(warehouse, "select event_id from main.events order by 1") == [("m-b1",), ("w-b1",)]
        assert cells_mentioning(warehouse, ["dev-jose", keyed_hash(TEST_HASH_KEY.encode(), "jos\u00e9@b\u00fccher.de")]) == []
        # delivered again, in the other spelling: withheld
        landing.jsonl("email", DAY2, "esp.jsonl", [
            {"event_id": "m-j2", "event_ts": "2026-10-02T08:00:00Z", "event_name": "click", "email": "JOS\u00c9@XN--BCHER-KVA.DE"},
            {"event_id": "m-j3", "event_ts": "2026-10-02T08:00:00Z", "event_name": "click", "email": "jos\u00e9@b\u00fccher.de"},
        ])
        summary = run_day(landing, warehouse, DAY2)
        assert (summary.rows_loaded, summary.rows_forgotten) == (0, 2)

    @pytest.mark.parametrize("spelling", ["jos\u00e9@xn--bcher-kva.de", "jos\u00e9@b\u00fccher.de"])
    def test_forget_erases_the_rows_loaded_in_the_a_label_spelling_before(
        self, jose: tuple[Landing, Path], spelling: str
    ) -> None:
        """Rows loaded before domains were given one form keep the hash of their A-label spelling
        (the raw tables hold no address to hash again), so they are another customer; the address
        in either spelling erases both."""
        landing, warehouse = jose
        con = duckdb.connect(str(warehouse))
        try:  # m-j1 as a version before loaded it: hashed as 'josé@xn--bcher-kva.de'
            con.execute(
                "update raw.email_events set email_hash = ? where event_id = 'm-j1'",
                [keyed_hash(TEST_HASH_KEY.encode(), "jos\u00e9@xn--bcher-kva.de")],
            ).fetchall()
        finally:
            con.close()
        landing.jsonl("web", DAY2, "web.jsonl", [
            web("w-c1", "2026-10-02T09:00:00Z", "page_view", anonymous_id="dev-cat"),
        ])
        run_day(landing, warehouse, DAY2)
        assert query(warehouse, "select count(distinct customer_id) from main.events where event_id like '%-j1'") == [(2,)]
        assert main(["forget", "--customer", spelling, "--warehouse", str(warehouse)]) == 0
        assert query(warehouse, "select event_id from main.events order by 1") == [("m-b1",), ("w-b1",), ("w-c1",)]
        assert query(warehouse, "select event_id from raw.email_events order by 1") == [("m-b1",)]
        assert query(warehouse, "select identifiers_suppressed from main.erasures") == [(3,)]  # two hashes, a device

    def test_forget_finds_a_customer_known_only_in_the_a_label_spelling(self, jose: tuple[Landing, Path]) -> None:
        """A customer whose rows were all loaded before, in the A-label spelling, is found by the
        address as the customer typed it."""
        landing, warehouse = jose
        old_hash = keyed_hash(TEST_HASH_KEY.encode(), "jos\u00e9@xn--bcher-kva.de")
        con = duckdb.connect(str(warehouse))
        try:
            for table in ("raw.email_events", "raw.web_events"):
                con.execute(f"update {table} set email_hash = ? where event_id like '%-j1'", [old_hash]).fetchall()
        finally:
            con.close()
        landing.jsonl("web", DAY2, "web.jsonl", [
            web("w-c1", "2026-10-02T09:00:00Z", "page_view", anonymous_id="dev-cat"),
        ])
        run_day(landing, warehouse, DAY2)
        assert main(["forget", "--customer", "Jos\u00e9@B\u00fccher.de", "--warehouse", str(warehouse)]) == 0
        assert query(warehouse, "select event_id from main.events order by 1") == [("m-b1",), ("w-b1",), ("w-c1",)]
