"""The warehouse: documented tables, atomic publishing, one run at a time."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from journey_analytics import runs
from journey_analytics.config import SessionSettings, Settings, load_settings
from journey_analytics.forget import forget_customer
from journey_analytics.ingest import KINDS
from journey_analytics.warehouse import WarehouseBusyError, start_build
from tests.conftest import DAY1, DAY2, Landing, query, run_day

DAY_OF_THE_SAMPLE = date(2026, 10, 31)  # data/sample/ ends on this day

PUBLISHED_TABLES = [
    ("main", "events"),
    ("main", "identity_map"),
    ("main", "pipeline_runs"),
    ("main", "quarantine"),
    ("main", "sessions"),
    ("raw", "email_events"),
    ("raw", "identities"),
    ("raw", "ingested_files"),
    ("raw", "labels"),
    ("raw", "social_events"),
    ("raw", "warehouse_settings"),
    ("raw", "web_events"),
]


def page_view(event_id: str, time: str = "10:00:00") -> dict[str, str]:
    return {"event_id": event_id, "event_ts": f"2026-10-01T{time}Z", "event_name": "page_view", "anonymous_id": "a1"}


def every_kind(landing: Landing) -> None:
    landing.jsonl("web", DAY1, "web.jsonl", [page_view("e1"), "bad"])
    landing.jsonl("email", DAY1, "esp.jsonl", [
        {"event_id": "m1", "event_ts": "2026-10-01T09:00:00Z", "event_name": "open", "email": "a@example.com"},
    ])
    landing.jsonl("social", DAY1, "social.jsonl", [
        {"event_id": "s1", "event_ts": "2026-10-01T09:00:00Z", "event_name": "like", "platform": "x", "handle": "a"},
    ])
    landing.text("identities", None, "crm.csv", "user_id,email,platform,handle\nu1,a@example.com,x,a\n")
    landing.text("labels", None, "labels.csv", "user_id,stage,as_of_date\nu1,awareness,2026-10-01\n")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse after one run with rows of every kind."""
    root = tmp_path_factory.mktemp("built")
    landing = Landing(root / "landing")
    every_kind(landing)
    run_day(landing, root / "journey.duckdb", DAY1)
    return root / "journey.duckdb"


def build_files(warehouse: Path) -> list[str]:
    """Files a run leaves beside the warehouse other than the warehouse, its lock and key."""
    return sorted(p.name for p in warehouse.parent.iterdir() if p.name.startswith(f".{warehouse.name}"))


class TestDocumentation:
    """Every published table and every one of its columns carries a non-empty COMMENT."""

    def test_tables_present(self, built: Path) -> None:
        tables = query(built, "select schema_name, table_name from duckdb_tables() where database_name = current_database()")
        assert sorted(set(PUBLISHED_TABLES) - set(tables)) == []

    def test_every_table_commented(self, built: Path) -> None:
        assert query(
            built,
            "select schema_name, table_name from duckdb_tables() where database_name = current_database() "
            "and coalesce(trim(comment), '') = '' order by all",
        ) == []

    def test_every_column_commented(self, built: Path) -> None:
        assert query(
            built,
            "select schema_name, table_name, column_name from duckdb_columns() "
            "where database_name = current_database() and coalesce(trim(comment), '') = '' order by all",
        ) == []

    def test_counts_are_bigint(self, built: Path) -> None:
        """A count is BIGINT in every table: an analyst's tool (pandas, BI drivers) that reads
        HUGEINT as a float or a string would read sessions.n_page_views apart from the others."""
        assert query(
            built,
            "select table_name, column_name from duckdb_columns() where database_name = current_database() "
            "and data_type = 'HUGEINT' order by all",
        ) == []

    def test_contract_columns_present(self, built: Path) -> None:
        def columns(table: str) -> set[str]:
            return {r[0] for r in query(built, f"select column_name from duckdb_columns() where database_name = current_database() and schema_name = 'main' and table_name = '{table}'")}

        assert {
            "event_id", "customer_id", "anonymous_id", "channel", "event_name", "event_ts", "session_id",
            "device_category", "utm_source", "utm_medium", "utm_campaign", "country", "value",
        } <= columns("events")
        assert {"identifier_type", "identifier", "customer_id"} <= columns("identity_map")
        assert {
            "session_id", "customer_id", "started_at", "ended_at", "n_events", "landing_page", "utm_source",
            "utm_medium", "device_category", "converted",
        } <= columns("sessions")
        assert {"channel", "source_file", "line_no", "raw", "error", "ingested_at"} <= columns("quarantine")
        assert {
            "run_id", "as_of_date", "started_at", "finished_at", "status", "rows_read", "rows_loaded", "rows_quarantined",
        } <= columns("pipeline_runs")


class TestFailedRun:
    """A run that fails leaves the published warehouse byte for byte as it was, and no build files."""

    def test_step_that_raises(self, landing: Landing, warehouse: Path) -> None:
        every_kind(landing)
        run_day(landing, warehouse, DAY1)
        published = warehouse.read_bytes()
        landing.jsonl("web", DAY2, "web.jsonl", [page_view("e2")])
        broken = Settings(sessions=SessionSettings(timeout_minutes="ten"))  # type: ignore[arg-type]

        with pytest.raises(Exception, match="ten"):
            run_day(landing, warehouse, DAY2, broken)

        assert warehouse.read_bytes() == published
        assert build_files(warehouse) == []

    def test_aborted_after_ingest(self, landing: Landing, warehouse: Path) -> None:
        every_kind(landing)
        run_day(landing, warehouse, DAY1)
        published = warehouse.read_bytes()
        landing.jsonl("web", DAY2, "web.jsonl", [page_view("e2")])

        ctx = runs.open_run(DAY2, landing.root, warehouse, warehouse.parent / "reports", load_settings())
        for kind in KINDS:
            runs.ingest_step(ctx, kind)
        runs.abort_run(ctx)

        assert warehouse.read_bytes() == published
        assert build_files(warehouse) == []

    def test_next_run_after_a_failure_succeeds(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [page_view("e1")])
        broken = Settings(sessions=SessionSettings(timeout_minutes="ten"))  # type: ignore[arg-type]
        with pytest.raises(Exception, match="ten"):
            run_day(landing, warehouse, DAY1, broken)
        assert not warehouse.exists()

        run_day(landing, warehouse, DAY1)

        assert query(warehouse, "select event_id from events") == [("e1",)]
        assert query(warehouse, "select count(*), min(status) from pipeline_runs") == [(1, "success")]
        assert build_files(warehouse) == []


class TestARunOutOfMemory:
    """A step that needs more memory than [warehouse] memory_limit gives fails with one line that
    names the step, the limit and what to change (it printed DuckDB's bare "failed to allocate
    data of size 32.0 KiB" with a hint to set JOURNEY_DEBUG), and leaves nothing behind."""

    def test_the_step_the_limit_and_the_remedy_are_named(self, landing: Landing, warehouse: Path) -> None:
        from journey_analytics.cli import _one_line

        landing.jsonl("web", DAY1, "web.jsonl", [page_view(f"e{i}", f"10:{i:02d}:00") for i in range(50)])
        ctx = runs.open_run(DAY1, landing.root, warehouse, warehouse.parent / "reports", load_settings())
        try:
            for kind in KINDS:
                runs.ingest_step(ctx, kind)
            runs.stitch_step(ctx)
            runs.sessionize_step(ctx)
            ctx.con.execute("set memory_limit = '4MB'").fetchall()  # (less than any mart's query needs)
            with pytest.raises(runs.RunOutOfMemoryError) as caught:
                runs.marts_step(ctx)
        finally:
            runs.abort_run(ctx)

        assert isinstance(caught.value.__cause__, duckdb.OutOfMemoryException)
        line = _one_line(caught.value)
        assert re.fullmatch(
            r"the run ran out of memory in its build_marts step: \[warehouse\] memory_limit \(3\.\d MiB with \d+ threads?\) "
            r"is too little for this warehouse's data; raise memory_limit in the config file(, or lower threads)? "
            r"\(.*see docs/configuration\.md\)\. DuckDB: Out of Memory Error: .*",
            line,
        ), line
        assert not warehouse.exists() and build_files(warehouse) == []
        # an orchestrator that stores a failed task's error gets it back whole
        again = pickle.loads(pickle.dumps(caught.value))
        assert (type(again), str(again), again.step) == (runs.RunOutOfMemoryError, str(caught.value), "build_marts")

    def test_out_of_memory_outside_a_step_is_one_line_too(self) -> None:
        """Opening or publishing the build (no step of its own) says what to change as well."""
        from journey_analytics.cli import _one_line

        con = duckdb.connect()
        con.execute("set memory_limit = '4MB'").fetchall()
        with pytest.raises(duckdb.OutOfMemoryException) as caught:
            con.execute("select list(range) from range(10000000)").fetchall()
        assert _one_line(caught.value).startswith(
            "the run ran out of memory: raise [warehouse] memory_limit in the config file (about 250MB plus 30MB per "
            "million events is enough; see docs/configuration.md). DuckDB: Out of Memory Error: "
        )


class TestStitchedEventsApartWhenMemoryIsShort:
    """With little memory for its events, a run builds the stitched events as a table of their own
    (the events mart then needs far less memory: 213MB at 3.9 million events, not 506MB); with
    memory to spare, as a view the mart computes (faster once such a table would spill)."""

    def test_the_rule(self) -> None:
        mb = 1024 * 1024
        assert not runs.stitch_apart(65_000, 110 * mb)  # the sample in the smallest memory the tests give
        assert runs.stitch_apart(1_300_000, 200 * mb) and not runs.stitch_apart(1_300_000, 300 * mb)
        assert runs.stitch_apart(3_900_000, 300 * mb)
        assert not runs.stitch_apart(10_000_000, 4096 * mb)  # the default: apart only past 20 million events
        assert runs.stitch_apart(25_000_000, 4096 * mb)

    def test_apart_or_not_the_warehouse_is_the_same(self, tmp_path: Path) -> None:
        sample = Path(__file__).resolve().parents[1] / "data" / "sample"
        tables = ("events", "sessions", "identity_map")
        built = {}
        for apart in (False, True):
            warehouse = tmp_path / f"apart-{apart}" / "journey.duckdb"
            warehouse.parent.mkdir()
            ctx = runs.open_run(DAY_OF_THE_SAMPLE, sample, warehouse, warehouse.parent / "reports", Settings())
            try:
                for kind in KINDS:
                    runs.ingest_step(ctx, kind)
                runs.stitch_step(ctx, apart=apart)
                kinds = ctx.con.execute(
                    "select 'table' from duckdb_tables() where temporary and table_name = 'events_stitched'"
                    " union all select 'view' from duckdb_views() where temporary and view_name = 'events_stitched'"
                ).fetchall()
                assert kinds == [("table" if apart else "view",)]
                runs.sessionize_step(ctx)
                runs.marts_step(ctx)
                runs.finish_run(ctx, runs.report_step(ctx))
            except BaseException:
                runs.abort_run(ctx)
                raise
            built[apart] = {t: query(warehouse, f"select * from main.{t} order by all") for t in tables}
        for table in tables:
            assert len(built[True][table]) > 1000, table
            assert built[True][table] == built[False][table], table


class TestAStoppedRunLeavesNoBuild:
    """A signal that stops a run leaves no build file. A stop often comes twice (systemd signals
    `journey serve`'s process group and serve then cancels its run with a signal of its own; Ctrl-C
    pressed again): a second signal while the first one's build was being thrown away stopped the
    removal half-way. A signal as the run copied the warehouse into its build left the copy."""

    def test_signals_while_a_stopped_run_throws_its_build_away(self, landing: Landing, warehouse: Path) -> None:
        import signal

        every_kind(landing)
        ctx = runs.open_run(DAY1, landing.root, warehouse, warehouse.parent / "reports", load_settings())
        runs.ingest_step(ctx, KINDS[0])
        spill = ctx.build.with_name(ctx.build.name + ".spill")
        for i in range(20_000):  # a run that spilled: its removal takes a while
            (spill / f"spilled-{i}.block").write_bytes(b"x")
        sent: list[int] = []
        ended = threading.Event()

        def signal_again_and_again() -> None:  # once the removal has begun, until it has ended
            while ctx.build.exists() and not ended.is_set():
                pass
            while spill.exists() and not ended.is_set():
                os.kill(os.getpid(), signal.SIGTERM)
                sent.append(signal.SIGTERM)
                threading.Event().wait(0.0005)

        sender = threading.Thread(target=signal_again_and_again, daemon=True)
        with raising_run_stopped(signal.SIGTERM):
            with contextlib.suppress(runs.RunStopped):
                sender.start()
                runs.abort_run(ctx)
            while sender.is_alive():
                with contextlib.suppress(runs.RunStopped):
                    ended.set()
                    sender.join()

        assert sent, "no signal came while the build was being removed"
        assert build_files(warehouse) == []
        _assert_lock_free(warehouse)

    def test_ctrl_c_while_a_failed_run_throws_its_build_away(self, landing: Landing, warehouse: Path) -> None:
        # (Python's own Ctrl-C handler, as in a notebook or a Prefect flow run's process: the
        # KeyboardInterrupt held comes once the run's files are gone, its page's staging folder too)
        import signal

        from journey_analytics.dashboard import staging_folder

        every_kind(landing)
        ctx = runs.open_run(DAY1, landing.root, warehouse, warehouse.parent / "reports", load_settings())
        runs.ingest_step(ctx, KINDS[0])
        staging_folder(ctx.reports, ctx.run_id).mkdir(parents=True)
        spill = ctx.build.with_name(ctx.build.name + ".spill")
        for i in range(20_000):
            (spill / f"spilled-{i}.block").write_bytes(b"x")
        ended = threading.Event()

        def press_ctrl_c_during_the_removal() -> None:
            while ctx.build.exists() and not ended.is_set():
                pass
            while spill.exists() and not ended.is_set():
                os.kill(os.getpid(), signal.SIGINT)
                threading.Event().wait(0.0005)

        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        sender = threading.Thread(target=press_ctrl_c_during_the_removal, daemon=True)
        try:
            with contextlib.suppress(KeyboardInterrupt):
                sender.start()
                runs.abort_run(ctx, RuntimeError("a step failed"))
            while sender.is_alive():
                with contextlib.suppress(KeyboardInterrupt):
                    ended.set()
                    sender.join()
        finally:
            signal.signal(signal.SIGINT, previous)
            runs.STOP_SIGNALS.clear()
        assert build_files(warehouse) == []
        assert not staging_folder(ctx.reports, ctx.run_id).exists()

    def test_a_signal_while_the_warehouse_is_copied_into_its_build(self, tmp_path: Path) -> None:
        # (a run stopped as it starts: `journey serve` stopped through its process group as a run
        # began left a partial copy of the warehouse)
        import signal
        import time

        from journey_analytics.warehouse import build_path_for

        warehouse = tmp_path / "journey.duckdb"
        with open(warehouse, "wb") as handle:
            handle.truncate(256 * 2**20)  # a warehouse that takes a while to copy
        build = build_path_for(warehouse, "r1")

        def signal_as_the_copy_begins() -> None:
            while not build.exists():
                time.sleep(0.001)
            os.kill(os.getpid(), signal.SIGTERM)

        sender = threading.Thread(target=signal_as_the_copy_begins, daemon=True)
        with raising_run_stopped(signal.SIGTERM), pytest.raises(runs.RunStopped):
            sender.start()
            start_build(warehouse, "r1")
            time.sleep(30)  # (not reached: the copy takes longer than the signal)
        sender.join()
        assert build_files(warehouse) == []

    def test_a_signal_held_is_recorded_not_raised(self) -> None:
        import signal

        from journey_analytics.warehouse import signals_held

        with raising_run_stopped(signal.SIGINT) as stop:
            with signals_held():
                os.kill(os.getpid(), signal.SIGINT)
                for _ in range(1000):  # (the handler runs between two bytecodes)
                    pass
                held = list(runs.STOP_SIGNALS)
            assert signal.getsignal(signal.SIGINT) is stop
            with pytest.raises(runs.RunStopped):
                runs.stop_if_signalled()  # a backfill stops at its next day
        assert held == [signal.SIGINT]

    def test_ctrl_c_held_in_a_block_within_a_block_comes_after_the_outer_one(self) -> None:
        import signal

        from journey_analytics.warehouse import signals_held

        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        came: list[str] = []
        try:
            try:
                with signals_held():
                    with signals_held():
                        os.kill(os.getpid(), signal.SIGINT)
                        for _ in range(1000):
                            pass
                    came.append("inner block ended")
            except KeyboardInterrupt:
                came.append("KeyboardInterrupt")
        finally:
            signal.signal(signal.SIGINT, previous)
            runs.STOP_SIGNALS.clear()
        assert came == ["inner block ended", "KeyboardInterrupt"]

    def test_a_process_without_a_handler_ends_by_the_signal_after_the_block(self, tmp_path: Path) -> None:
        import signal

        marker = tmp_path / "removed"
        code = (
            "import os, signal\n"
            "from journey_analytics.warehouse import signals_held\n"
            "signal.signal(signal.SIGTERM, signal.SIG_DFL)\n"
            "with signals_held():\n"
            "    os.kill(os.getpid(), signal.SIGTERM)\n"
            f"    open({str(marker)!r}, 'w').close()\n"
            "print('went on')\n"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert done.returncode == -signal.SIGTERM, done.stderr
        assert marker.exists() and "went on" not in done.stdout


@contextlib.contextmanager
def raising_run_stopped(signum: int) -> Iterator[Callable[[int, object], None]]:
    """For the block, the signal raises RunStopped, as `journey run`'s handler and Prefect's
    SIGTERM bridge raise; yields the handler."""
    import signal

    def stop(number: int, frame: object) -> None:
        raise runs.RunStopped(number)

    previous = signal.signal(signum, stop)
    try:
        yield stop
    finally:
        signal.signal(signum, previous)
        runs.STOP_SIGNALS.clear()


def _assert_lock_free(warehouse: Path) -> None:
    import fcntl

    with open(warehouse.with_name(warehouse.name + ".lock"), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if a process still holds it


class TestOneRunAtATime:
    """A second run on a warehouse that is being built is refused at once; the first is unharmed."""

    def test_second_open_run_refused(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [page_view("e1")])
        first = runs.open_run(DAY1, landing.root, warehouse, warehouse.parent / "reports", load_settings())
        try:
            with pytest.raises(WarehouseBusyError, match="another run is building"):
                runs.open_run(DAY1, landing.root, warehouse, warehouse.parent / "reports", load_settings())
            for kind in KINDS:
                runs.ingest_step(first, kind)
            runs.stitch_step(first)
            runs.sessionize_step(first)
            runs.marts_step(first)
            runs.finish_run(first, runs.report_step(first))
        except BaseException:
            runs.abort_run(first)
            raise
        assert query(warehouse, "select event_id from events") == [("e1",)]
        assert build_files(warehouse) == []


class TestReadersDuringARun:
    """An analyst's open read-only connection neither blocks a run nor sees a half-built day."""

    def test_reader_keeps_the_old_day(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [page_view("e1")])
        run_day(landing, warehouse, DAY1)
        reader = subprocess.Popen(
            [
                sys.executable, "-c",
                "import duckdb, sys\n"
                f"con = duckdb.connect({str(warehouse)!r}, read_only=True)\n"
                "q = 'select count(*) from events'\n"
                "print(con.execute(q).fetchall()[0][0], flush=True)\n"
                "sys.stdin.readline()\n"
                "print(con.execute(q).fetchall()[0][0], flush=True)\n",
            ],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        try:
            assert reader.stdout is not None and reader.stdin is not None
            assert reader.stdout.readline() == "1\n"
            landing.jsonl("web", DAY2, "web.jsonl", [page_view("e2")])
            run_day(landing, warehouse, DAY2)
            out, _ = reader.communicate("go\n", timeout=30)
        finally:
            reader.kill()
        assert out == "1\n"
        assert query(warehouse, "select count(*) from events") == [(2,)]


def sha256_of(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


class TestThePublishedFileAsFound:
    """What another process left in or beside the published file: a run neither loses it nor
    leaves the warehouse unreadable, and refuses a file it must not build on."""

    def test_a_log_left_by_a_writer_that_died_is_kept_and_readers_can_open_the_new_day(
        self, landing: Landing, warehouse: Path
    ) -> None:
        """A notebook wrote to the warehouse and died without closing it: its changes were in
        <warehouse>.wal, which the run neither copied nor removed. Published over, the log stayed
        beside the new file, and every reader failed ("WAL ... checkpoint iteration does not match")."""
        landing.jsonl("web", DAY1, "web.jsonl", [page_view("e1")])
        run_day(landing, warehouse, DAY1)
        subprocess.run([sys.executable, "-c", (
            "import duckdb, os\n"
            f"con = duckdb.connect({str(warehouse)!r})\n"
            "con.execute('create table my_notes as select 42 as x').fetchall()\n"
            "os._exit(0)\n"
        )], check=True)
        assert warehouse.with_name(warehouse.name + ".wal").exists()
        landing.jsonl("web", DAY2, "web.jsonl", [page_view("e2")])
        run_day(landing, warehouse, DAY2)
        assert query(warehouse, "select count(*) from events") == [(2,)]
        assert query(warehouse, "select x from my_notes") == [(42,)]
        assert not warehouse.with_name(warehouse.name + ".wal").exists()

    def test_a_process_writing_to_the_warehouse_refuses_the_run(self, landing: Landing, warehouse: Path) -> None:
        """Published over a read-write connection, its later writes went to the replaced file and
        its log beside the new one."""
        from journey_analytics.warehouse import WarehouseRefusedError

        landing.jsonl("web", DAY1, "web.jsonl", [page_view("e1")])
        run_day(landing, warehouse, DAY1)
        before = sha256_of(warehouse)
        writer = subprocess.Popen([sys.executable, "-c", (
            "import duckdb, sys\n"
            f"con = duckdb.connect({str(warehouse)!r})\n"
            "print('open', flush=True)\n"
            "sys.stdin.readline()\n"
            "con.close()\n"
        )], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert writer.stdout is not None and writer.stdout.readline() == "open\n"
            landing.jsonl("web", DAY2, "web.jsonl", [page_view("e2")])
            in_use = r"open for writing \(a read-write connection, in this or another process\)"
            with pytest.raises(WarehouseRefusedError, match=in_use):
                run_day(landing, warehouse, DAY2)
            assert sha256_of(warehouse) == before
            writer.communicate("done\n", timeout=30)
        finally:
            writer.kill()
        run_day(landing, warehouse, DAY2)  # once it is closed
        assert query(warehouse, "select count(*) from events") == [(2,)]
        assert build_files(warehouse) == []

    def test_a_connection_writing_in_this_process_refuses_the_run(self, landing: Landing, warehouse: Path) -> None:
        """A read-write connection of the process that runs (a notebook calling the library) is a
        writer too; the probe opens no descriptor of the file, which would drop that connection's lock."""
        from journey_analytics.warehouse import WarehouseRefusedError

        landing.jsonl("web", DAY1, "web.jsonl", [page_view("e1")])
        run_day(landing, warehouse, DAY1)
        with duckdb.connect(str(warehouse)) as writer:
            landing.jsonl("web", DAY2, "web.jsonl", [page_view("e2")])
            with pytest.raises(WarehouseRefusedError, match="open for writing"):
                run_day(landing, warehouse, DAY2)
            refused = subprocess.run([sys.executable, "-c", f"import duckdb; duckdb.connect({str(warehouse)!r})"],
                                     capture_output=True, text=True)
            assert refused.returncode != 0 and "lock" in refused.stderr.lower()  # its lock still held
            assert writer.execute("select count(*) from events").fetchall() == [(1,)]
        run_day(landing, warehouse, DAY2)
        assert query(warehouse, "select count(*) from events") == [(2,)]

    def test_another_applications_database_is_refused(self, landing: Landing, warehouse: Path) -> None:
        """A DuckDB file of something else given as the warehouse: the run replaced its events."""
        from journey_analytics.warehouse import WarehouseRefusedError

        warehouse.parent.mkdir(parents=True)
        with duckdb.connect(str(warehouse)) as con:
            con.execute("create table events (id integer, payload varchar)").fetchall()
            con.execute("insert into events values (1, 'precious')").fetchall()
        landing.jsonl("web", DAY1, "web.jsonl", [page_view("e1")])
        with pytest.raises(WarehouseRefusedError, match=r"a DuckDB database of something else \(tables events; no pipeline_runs\)"):
            run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select * from events") == [(1, "precious")]
        assert build_files(warehouse) == []

    def test_a_warehouse_path_that_is_a_link_publishes_the_file_it_points_to(
        self, landing: Landing, warehouse: Path, tmp_path: Path
    ) -> None:
        """The build was made beside the link and swapped in over it: the link became a file of
        the new day, and the file it pointed to stayed at the old one."""
        target = tmp_path / "disk" / "journey.duckdb"
        target.parent.mkdir()
        landing.jsonl("web", DAY1, "web.jsonl", [page_view("e1")])
        run_day(landing, target, DAY1)
        warehouse.parent.mkdir(parents=True)
        warehouse.symlink_to(target)
        landing.jsonl("web", DAY2, "web.jsonl", [page_view("e2")])
        run_day(landing, warehouse, DAY2)
        assert warehouse.is_symlink()
        assert query(target, "select count(*) from events") == [(2,)]


class TestHandBuiltEventsMatchTheMart:
    """The events columns that tests build by hand are exactly those of the real events table."""

    def test_columns(self, landing, warehouse) -> None:
        from datetime import date

        from tests.conftest import EVENT_COLUMNS, query, run_day

        landing.jsonl("web", date(2026, 10, 1), "w.jsonl", [
            {"event_id": "e1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a"}
        ])
        run_day(landing, warehouse, date(2026, 10, 1))
        columns = query(
            warehouse,
            "select column_name, lower(data_type) from duckdb_columns() where table_name = 'events' "
            "and schema_name = 'main' order by column_index",
        )
        assert columns == list(EVENT_COLUMNS.items())


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One visit from an e-mail campaign whose order is sent twice (a reloaded page)."""
    root = tmp_path_factory.mktemp("analyst")
    landing = Landing(root / "landing")
    base = {"anonymous_id": "a1", "device_category": "mobile"}
    landing.jsonl("web", DAY1, "web.jsonl", [
        {**base, "event_id": "w1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view",
         "page_url": "/sale", "utm_source": "news", "utm_medium": "email", "utm_campaign": "autumn"},
        {**base, "event_id": "w2", "event_ts": "2026-10-01T10:05:00Z", "event_name": "purchase",
         "order_id": "o1", "value": "40", "currency": "EUR"},
        # the confirmation page reloaded: the order sent again
        {**base, "event_id": "w3", "event_ts": "2026-10-01T10:06:00Z", "event_name": "purchase",
         "order_id": "o1", "value": "40", "currency": "EUR"},
    ])
    run_day(landing, root / "journey.duckdb", DAY1)
    return root / "journey.duckdb"


class TestCommentsLeadAnalystsToTheRightFigure:
    """An analyst answers "revenue by campaign" from the comments alone. Campaign fields are on
    a visit's landing page view only and an order re-sent by a reloaded page has its rows twice,
    so the events columns must send them to sessions (and say sessions has no currency)."""

    def comment(self, warehouse: Path, table: str, column: str) -> str:
        return query(warehouse, "select comment from duckdb_columns() where schema_name = 'main' "
                     "and table_name = ? and column_name = ?", [table, column])[0][0]

    def test_campaign_of_a_purchase_is_its_sessions(self, store: Path) -> None:
        assert query(store, "select utm_campaign from events where event_name = 'purchase'") == [(None,), (None,)]
        assert query(store, "select utm_campaign, revenue from sessions") == [("autumn", 40)]
        for column in ("utm_source", "utm_medium", "utm_campaign"):
            assert f"sessions.{column}" in self.comment(store, "events", column)

    def test_summed_event_values_count_a_resent_order_twice(self, store: Path) -> None:
        assert query(store, "select sum(value) from events where event_name = 'purchase'") == [(80,)]
        assert "sessions.revenue" in self.comment(store, "events", "value")
        assert "no currency column" in self.comment(store, "sessions", "revenue")


class TestPublishingKeepsTheFilesAccess:
    """A warehouse whose owner narrowed its permissions (it holds customers' ids) keeps them: the
    build that replaces it is not opened wider than it, whatever the umask."""

    def test_a_run_keeps_the_mode(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [page_view("e1")])
        run_day(landing, warehouse, DAY1)
        warehouse.chmod(0o600)
        landing.jsonl("web", DAY2, "web.jsonl", [page_view("e2")])

        ctx = runs.open_run(DAY2, landing.root, warehouse, warehouse.parent / "reports", load_settings())
        try:
            assert stat.S_IMODE(ctx.build.stat().st_mode) == 0o600  # the copy is as closed while it builds
            for kind in KINDS:
                runs.ingest_step(ctx, kind)
            runs.stitch_step(ctx)
            runs.sessionize_step(ctx)
            runs.marts_step(ctx)
            runs.finish_run(ctx, runs.report_step(ctx))
        except BaseException:
            runs.abort_run(ctx)
            raise

        assert query(warehouse, "select count(*) from events") == [(2,)]
        assert stat.S_IMODE(warehouse.stat().st_mode) == 0o600

    def test_a_failure_recorded_keeps_the_mode(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [page_view("e1")])
        run_day(landing, warehouse, DAY1)
        warehouse.chmod(0o640)

        ctx = runs.open_run(DAY2, landing.root, warehouse, warehouse.parent / "reports", load_settings())
        runs.abort_run(ctx, RuntimeError("the disk is full"))

        assert query(warehouse, "select status from pipeline_runs order by started_at") == [("success",), ("failed",)]
        assert stat.S_IMODE(warehouse.stat().st_mode) == 0o640

    def test_forget_keeps_the_mode(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [dict(page_view("e1"), user_id="u1")])
        run_day(landing, warehouse, DAY1)
        warehouse.chmod(0o600)

        forget_customer("u1", warehouse, load_settings())

        assert query(warehouse, "select count(*) from events") == [(0,)]
        assert stat.S_IMODE(warehouse.stat().st_mode) == 0o600

    @pytest.mark.skipif(
        not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("setpriv") is None,
        reason="gives the file a group as root, then runs as a user who may not give it",
    )
    def test_a_group_the_run_may_not_give_is_not_given_to_its_own(self, landing: Landing, warehouse: Path) -> None:
        """An administrator gave the warehouse to a group its owner is not in (0640, auditors): the
        run cannot give its build that group, and the build's own group (the owner's: often all
        users) must not get the read access that was the auditors'."""
        landing.jsonl("web", DAY1, "web.jsonl", [page_view("e1")])
        run_day(landing, warehouse, DAY1)
        auditors = os.getgid() + 4242
        os.chown(warehouse, -1, auditors)
        warehouse.chmod(0o640)
        landing.jsonl("web", DAY2, "web.jsonl", [page_view("e2")])
        child = (
            "import sys; from pathlib import Path; from tests.conftest import DAY2, Landing, run_day; "
            "run_day(Landing(Path(sys.argv[1])), Path(sys.argv[2]), DAY2)"
        )
        subprocess.run(  # as a user without the right to give files away (CAP_CHOWN)
            ["setpriv", "--bounding-set=-chown", sys.executable, "-c", child, str(landing.root), str(warehouse)],
            check=True, timeout=300,
        )
        assert query(warehouse, "select count(*) from events") == [(2,)]
        published = warehouse.stat()
        assert published.st_gid == auditors or stat.S_IMODE(published.st_mode) == 0o600, (
            oct(published.st_mode), published.st_gid
        )


class BuildFilesWatcher(threading.Thread):
    """Looks at the files a run creates beside a warehouse (its build, WAL, spill folder, fresh
    copy) as another user's process polling the folder would, and records every mode it sees."""

    def __init__(self, warehouse: Path) -> None:
        super().__init__(daemon=True)
        self.folder, self.prefix = warehouse.parent, f".{warehouse.name}.build-"
        self.seen: dict[str, set[int]] = {}
        self.done = threading.Event()

    def look(self, folder: Path, depth: int) -> None:
        with os.scandir(folder) as entries:
            for entry in entries:
                if depth == 0 and not entry.name.startswith(self.prefix):
                    continue
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                self.seen.setdefault(entry.name, set()).add(stat.S_IMODE(info.st_mode))
                if stat.S_ISDIR(info.st_mode) and depth < 2:
                    with contextlib.suppress(FileNotFoundError):
                        self.look(Path(entry.path), depth + 1)

    def run(self) -> None:
        while not self.done.is_set():
            self.look(self.folder, 0)

    def __enter__(self) -> BuildFilesWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.join()

    def wider_than(self, allowed: int) -> dict[str, list[str]]:
        """The entries seen with a permission beyond ``allowed``, and those modes."""
        wider = {name: sorted(oct(m) for m in modes if m & ~allowed) for name, modes in self.seen.items()}
        return {name: modes for name, modes in wider.items() if modes}


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask (files 0644, folders 0755), whatever the test process had."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


@pytest.mark.usefixtures("umask_022")
class TestFilesOfARunAreNoMoreOpenThanTheWarehouse:
    """The build, its WAL, its spill folder and the fresh copy hold the warehouse's customers' ids:
    from their creation, they are no more open than the warehouse (0600 stays 0600 while the run
    builds, not 0644 by the umask); the pages of the reports folder keep the umask's access."""

    def test_the_build_is_created_no_more_open(self, warehouse: Path) -> None:
        """Not opened to all while it is copied (a large warehouse takes a while to copy; the
        copy is all start_build reads of it)."""
        warehouse.parent.mkdir(parents=True)
        with open(warehouse, "wb") as handle:
            handle.write(os.urandom(1 << 20) * 64)
        warehouse.chmod(0o600)
        with BuildFilesWatcher(warehouse) as watcher:
            build = start_build(warehouse, "t1")
        assert stat.S_IMODE(build.stat().st_mode) == 0o600
        assert watcher.seen and watcher.wider_than(0o600) == {}
        assert os.umask(0o022) == 0o022  # given back

    def test_a_run_its_wal_and_spill_folder(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [page_view("e1")])
        run_day(landing, warehouse, DAY1)
        assert stat.S_IMODE(warehouse.stat().st_mode) == 0o644  # the first run: the umask decides
        warehouse.chmod(0o600)
        landing.jsonl("web", DAY2, "web.jsonl", [page_view(f"e{i}") for i in range(2, 50)])
        reports = warehouse.parent / "reports"

        with BuildFilesWatcher(warehouse) as watcher:
            ctx = runs.open_run(DAY2, landing.root, warehouse, reports, load_settings())
            try:
                for kind in KINDS:
                    runs.ingest_step(ctx, kind)
                # a step that spills (as a large day's sort does), under a small memory limit
                ctx.con.execute("set memory_limit = '32MB'").fetchall()
                ctx.con.execute("select count(distinct x) from (select random()::varchar || range as x from range(2000000))").fetchall()
                ctx.con.execute("set memory_limit = '4GB'").fetchall()
                wal = ctx.build.with_name(ctx.build.name + ".wal")
                assert wal.is_file() and stat.S_IMODE(wal.stat().st_mode) == 0o600
                # made at the start, so that a step that spills under the process's umask (the
                # report's) spills out of others' reach
                spill = ctx.build.with_name(ctx.build.name + ".spill")
                assert stat.S_IMODE(spill.stat().st_mode) == 0o700
                runs.stitch_step(ctx)
                runs.sessionize_step(ctx)
                runs.marts_step(ctx)
                summary = runs.finish_run(ctx, runs.report_step(ctx))
            except BaseException:
                runs.abort_run(ctx)
                raise

        names = set(watcher.seen)
        assert ctx.build.name in names and ctx.build.name + ".wal" in names
        assert any(n.startswith("duckdb_temp") for n in names), sorted(names)  # it spilled
        assert watcher.wider_than(0o700) == {}
        assert [p.name for p in warehouse.parent.iterdir() if p.name.startswith(".journey")] == []  # nothing left
        assert stat.S_IMODE(warehouse.stat().st_mode) == 0o600
        # the dashboard's pages keep the access the umask gives them
        assert stat.S_IMODE(summary.report.stat().st_mode) == 0o644
        assert stat.S_IMODE(summary.report.parent.stat().st_mode) == 0o755
        assert os.umask(0o022) == 0o022  # given back

    def test_the_fresh_copy_of_forget(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [dict(page_view(f"e{i}"), user_id=f"u{i % 3}") for i in range(200)])
        run_day(landing, warehouse, DAY1)
        warehouse.chmod(0o640)

        with BuildFilesWatcher(warehouse) as watcher:
            forget_customer("u1", warehouse, load_settings())

        assert any(n.endswith("-fresh") for n in watcher.seen), sorted(watcher.seen)
        assert watcher.wider_than(0o750) == {}
        assert stat.S_IMODE(warehouse.stat().st_mode) == 0o640
        assert os.umask(0o022) == 0o022  # given back

    def test_a_run_that_cannot_copy_the_warehouse_gives_back_the_umask_and_the_lock(
        self, landing: Landing, warehouse: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A disk too full to copy the warehouse fails the run's start: the process's umask and
        the warehouse's lock are given back at once, not when the error is let go (Prefect keeps a
        failed task's error in its state, and a process that runs on would write its files under
        the narrowed umask and be refused the warehouse)."""
        landing.jsonl("web", DAY1, "web.jsonl", [page_view("e1")])
        run_day(landing, warehouse, DAY1)
        warehouse.chmod(0o600)

        def disk_full(*args: object, **kwargs: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(shutil, "copyfile", disk_full)
        with pytest.raises(OSError, match="No space left") as failed:
            runs.open_run(DAY2, landing.root, warehouse, warehouse.parent / "reports", load_settings())
        monkeypatch.undo()
        assert failed.value is not None  # the error is still held
        assert os.umask(0o022) == 0o022  # given back
        ctx = runs.open_run(DAY2, landing.root, warehouse, warehouse.parent / "reports", load_settings())
        runs.abort_run(ctx)


class TestQuarantineReasonOnAnOlderWarehouse:
    """A warehouse made before quarantine had its reason column (the column dropped from a real
    one, with a row in a wording this version does not make) gets the column on the next run or
    `journey forget`, its rows coded from their errors, and re-runs and erasures work on it."""

    def older(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [
            dict(page_view("e1"), user_id="u1"),
            "{not json",
            dict(page_view("e2"), event_ts="yesterday", user_id="u1"),
        ])
        run_day(landing, warehouse, DAY1)
        con = duckdb.connect(str(warehouse))
        try:
            con.execute("alter table main.quarantine drop column reason").fetchall()
            con.execute(
                "insert into main.quarantine values ('web', 'web/dt=2026-10-01/old.jsonl', 1, '{}', "
                "'a refusal worded by an older version', date '2026-10-01', 'old-run', timestamp '2026-10-01 12:00')"
            ).fetchall()
        finally:
            con.close()

    def reasons(self, warehouse: Path) -> list[tuple]:
        return query(warehouse, "select source_file, line_no, reason from quarantine order by 1, 2")

    def test_next_run_adds_and_codes_the_column(self, landing: Landing, warehouse: Path) -> None:
        self.older(landing, warehouse)
        # the file grows by a bad line (read again): its earlier refusals are not written twice
        with (landing.root / "web" / "dt=2026-10-01" / "web.jsonl").open("a") as f:
            f.write(json.dumps(dict(page_view("e3"), event_name="purchase")) + "\n")
        summary = run_day(landing, warehouse, DAY1)
        assert summary.rows_quarantined == 1 and summary.rows_duplicate == 3
        assert self.reasons(warehouse) == [
            ("web/dt=2026-10-01/old.jsonl", 1, "unknown"),
            ("web/dt=2026-10-01/web.jsonl", 2, "unparseable_json"),
            ("web/dt=2026-10-01/web.jsonl", 3, "bad_timestamp"),
            ("web/dt=2026-10-01/web.jsonl", 4, "missing_order_field"),
        ]
        (comment,) = query(
            warehouse, "select comment from duckdb_columns() where table_name = 'quarantine' and column_name = 'reason'"
        )[0]
        assert "unparseable_json" in comment

    def test_forget_adds_and_codes_the_column(self, landing: Landing, warehouse: Path) -> None:
        self.older(landing, warehouse)
        forget_customer("u1", warehouse, load_settings())
        assert self.reasons(warehouse) == [
            ("web/dt=2026-10-01/old.jsonl", 1, "unknown"),
            ("web/dt=2026-10-01/web.jsonl", 2, "unparseable_json"),
        ]
