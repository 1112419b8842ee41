"""The ``journey`` command: one-line errors a user can fix, and real runs through Prefect.

Runs through Prefect need an API server. Rather than let each ``journey run`` start its own
(seconds of CPU each), the module starts one local server, points every run at it, starts
the runs together and lets each test read one run's outcome.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import DAY1, Landing, query, run_day

GOOD = {"event_id": "e1", "event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view", "anonymous_id": "a1"}


def journey_command() -> str:
    """The installed ``journey`` script (the venv's, when PATH does not have it)."""
    return shutil.which("journey") or str(Path(sys.executable).parent / "journey")


def quiet_env(**prefect: str) -> dict[str, str]:
    """The test's environment, Prefect kept local and quiet, plus the given PREFECT_ settings."""
    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.pop("JOURNEY_DEBUG", None)
    env.pop("PREFECT_API_URL", None)
    env.update({f"PREFECT_{k.upper()}": v for k, v in prefect.items()})
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A local Prefect server for this module's runs; yields the PREFECT_ settings to reach it."""
    home = tmp_path_factory.mktemp("prefect_home")
    port = free_port()
    settings = {"home": str(home), "api_url": f"http://127.0.0.1:{port}/api"}
    prefect = shutil.which("prefect") or str(Path(sys.executable).parent / "prefect")
    log = (home / "server.log").open("w")
    server = subprocess.Popen(
        [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-services", "--no-ui"],
        env=quiet_env(home=str(home)), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{settings['api_url']}/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"prefect server did not start; see {home / 'server.log'}") from None
                time.sleep(0.5)
        yield settings
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


@dataclass
class Outcome:
    """How one ``journey`` command ended, and where it worked."""

    returncode: int
    stdout: str
    stderr: str
    root: Path
    started_on: date | None = None  # the UTC date when the command started

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse" / "journey.duckdb"

    @property
    def reports(self) -> Path:
        return self.root / "reports"


def journey(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [journey_command(), *map(str, args)], cwd=cwd, env=quiet_env(), capture_output=True, text=True, timeout=120,
    )


def machine_zone_off_utc_date() -> str:
    """A time zone whose date is not the UTC date at this moment (UTC+14 from 10:00 UTC, UTC-12 before)."""
    return "Etc/GMT-14" if datetime.now(UTC).hour >= 10 else "Etc/GMT+12"


@pytest.fixture(scope="module")
def prefect_runs(prefect_api: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """``journey run`` through Prefect on four tiny landings, started together: good (with a file
    still being uploaded), with an unreadable file, with a config that names an unknown setting,
    and without --date on a machine whose local date is not the UTC date; and one with too
    little memory for its steps."""
    started = {}
    for name in ("good", "unreadable", "bad_config", "no_date", "short_of_memory"):
        root = tmp_path_factory.mktemp(f"cli_{name}")
        landing = Landing(root / "landing")
        landing.jsonl("web", DAY1, "a.jsonl", [GOOD])
        extra: list[str] = []
        if name == "good":  # an upload not finished yet: said, neither read nor refused
            landing.jsonl("web", DAY1, "b.jsonl.filepart", [dict(GOOD, event_id="e2")])
        if name == "unreadable":
            landing.binary("web", DAY1, "b.jsonl.gz", b"this is not gzip\n")
        if name == "bad_config":
            (root / "journey.toml").write_text("[sessions]\ntimeout_minuts = 20\n")
            extra = ["--config", str(root / "journey.toml")]
        if name == "short_of_memory":
            # enough to read lines of 1 KiB (20 MiB), too little for the marts' joins on 4 threads
            # (the run needed more than 40MB so, with one event; one thread ran in 24MB)
            (root / "journey.toml").write_text(
                '[warehouse]\nmemory_limit = "21MB"\nthreads = 4\n[ingest]\nmax_line_bytes = 1024\n'
            )
            extra = ["--config", str(root / "journey.toml")]
        env = this_checkout(quiet_env(**prefect_api))
        if name == "no_date":  # a machine whose local date is not the UTC date right now
            env["TZ"] = machine_zone_off_utc_date()
        else:
            extra = ["--date", "2026-10-01", *extra]
        command = [
            journey_command(), "run", "--landing", str(landing.root),
            "--warehouse", str(root / "warehouse" / "journey.duckdb"), "--reports", str(root / "reports"), *extra,
        ]
        process = subprocess.Popen(
            command, cwd=root, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        started[name] = (process, root, datetime.now(UTC).date())
    outcomes = {}
    for name, (process, root, started_on) in started.items():
        try:
            stdout, stderr = process.communicate(timeout=180)
        finally:
            process.kill()
        outcomes[name] = Outcome(process.returncode, stdout, stderr, root, started_on)
    return outcomes


class TestUsageErrors:
    """A mistake in the command line is one line on stderr, never a traceback."""

    def test_bad_date(self, tmp_path: Path) -> None:
        (tmp_path / "landing").mkdir()
        result = journey("run", "--date", "2026-13-01", "--landing", "landing", cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr == (
            "journey run: error: argument --date: not a date (YYYY-MM-DD): '2026-13-01' (see journey run --help)\n"
        )
        assert result.stdout == ""

    @pytest.mark.parametrize("command", [["run", "--date", "2099-12-31"], ["backfill", "--start", "2026-10-01", "--end", "2099-12-31"]])
    def test_a_day_that_has_not_come_is_refused(self, tmp_path: Path, command: list[str]) -> None:
        """A typo'd year would stand as the newest day run and hold the customer tables there."""
        (tmp_path / "landing" / "web" / "dt=2026-10-01").mkdir(parents=True)
        result = journey(*command, "--landing", "landing", "--warehouse", "w/j.duckdb", cwd=tmp_path)
        flag = command[-2]
        assert (result.returncode, result.stderr) == (1, (
            f"journey: error: {flag} 2099-12-31 has not come yet and the landing folder has nothing for it (its "
            "last day is dt=2026-10-01); a run for it would stand as the newest day and hold the customers and "
            "their stages there\n"
        ))
        assert not (tmp_path / "w").exists()

    def test_missing_landing(self, tmp_path: Path) -> None:
        result = journey("run", "--date", "2026-10-01", "--landing", tmp_path / "nowhere", cwd=tmp_path)
        assert result.returncode == 1
        assert result.stderr == f"journey: error: landing folder not found: {tmp_path / 'nowhere'}\n"
        assert "Traceback" not in result.stdout

    def test_missing_config(self, tmp_path: Path) -> None:
        (tmp_path / "landing").mkdir()
        result = journey(
            "run", "--date", "2026-10-01", "--landing", "landing", "--config", "missing.toml", cwd=tmp_path
        )
        assert result.returncode == 1
        assert result.stderr == "journey: error: config file not found: missing.toml\n"

    def test_backfill_range_backwards(self, tmp_path: Path) -> None:
        (tmp_path / "landing").mkdir()
        result = journey(
            "backfill", "--start", "2026-10-02", "--end", "2026-10-01", "--landing", "landing",
            "--warehouse", "w/journey.duckdb", cwd=tmp_path
        )
        assert not (tmp_path / "w").exists()  # refused before the warehouse's lock is taken
        assert result.returncode == 1
        assert result.stderr == "journey: error: --end 2026-10-01 is before --start 2026-10-02\n"

    @pytest.mark.parametrize("rule", ["config", "stages", "funnels", "pain_points"])
    def test_a_file_not_in_utf8_is_named(self, tmp_path: Path, rule: str) -> None:
        """A settings or rule file saved in Latin-1 (a comment in French) is named, in one line."""
        (tmp_path / "landing" / "web").mkdir(parents=True)
        latin1 = "# r\u00e8gles du caf\u00e9\n".encode("latin-1")
        if rule == "config":
            (tmp_path / "journey.toml").write_bytes(latin1)
            named = "journey.toml"
        else:
            (tmp_path / f"{rule}.toml").write_bytes(latin1)
            (tmp_path / "journey.toml").write_text(f'[rules]\n{rule} = "{rule}.toml"\n')
            named = f"{rule}.toml"
        result = journey("run", "--date", "2026-10-01", "--landing", "landing", "--config", "journey.toml",
                         "--warehouse", "w/journey.duckdb", cwd=tmp_path)
        assert (result.returncode, result.stderr) == (
            1, f"journey: error: {named}: not UTF-8 text (byte 3); save it as UTF-8\n")

    def test_config_path_that_is_a_folder(self, tmp_path: Path) -> None:
        (tmp_path / "landing" / "web").mkdir(parents=True)
        (tmp_path / "conf").mkdir()
        result = journey("run", "--date", "2026-10-01", "--landing", "landing", "--config", "conf", cwd=tmp_path)
        assert (result.returncode, result.stderr) == (1, "journey: error: config path is a folder, not a file: conf\n")

    @pytest.mark.parametrize(("config", "message"), [
        ("[sesions]\ntimeout_minutes = 20\n", "unknown section [sesions]; known sections: [sessions], [warehouse], "
         "[identity], [ingest], [privacy], [rules]"),
        ("timeout_minutes = 20\n", "unknown setting timeout_minutes outside a section; known sections: [sessions], "
         "[warehouse], [identity], [ingest], [privacy], [rules]"),
        ('[warehouse]\nmemory_limit = "lots"\n', "[warehouse] memory_limit 'lots' is not a size DuckDB understands "
         '(such as "4GB")'),
        ('[warehouse]\nmemory_limit = "64MB"\n', "[warehouse] memory_limit '64MB' is too small: reading lines of "
         "up to [ingest] max_line_bytes (16777216) needs at least 68 MiB"),
        ('[warehouse]\nmemory_limit = "1KB"\n', "[warehouse] memory_limit '1KB' is too small: reading lines of "
         "up to [ingest] max_line_bytes (16777216) needs at least 68 MiB"),
        ("[sessions]\ntimeout_minutes = 0\n", "[sessions] timeout_minutes must be between 1 and 10080 minutes, got 0"),
        ("[warehouse]\nthreads = 100000000\n",
         "[warehouse] threads must be between 0 and 1024 (0: every core), got 100000000"),
        ("[warehouse]\nthreads = -1\n", "[warehouse] threads must be between 0 and 1024 (0: every core), got -1"),
        ("[ingest]\nmax_line_bytes = 10\n",
         "[ingest] max_line_bytes must be between 1024 and 1073741824 bytes, got 10"),
        ("[ingest]\nmax_future_days = -1\n", "[ingest] max_future_days must be between 0 and 3650 days, got -1"),
        ("[ingest]\nmax_future_days = 1000000000000\n",
         "[ingest] max_future_days must be between 0 and 3650 days, got 1000000000000"),
        ("[ingest]\nearliest_event_year = 3000\n", "[ingest] earliest_event_year must be between 1970 and 2100, got 3000"),
        ('[rules]\nfunnels = "my_funnels.toml"\n', "[rules] funnels file not found: my_funnels.toml"),
        ('[privacy]\nhash_key = " "\n', "[privacy] hash_key is empty: give the key, or remove the setting to use "
         "JOURNEY_HASH_KEY or the key file beside the warehouse"),
    ])
    def test_config_refused_before_anything_is_written(self, tmp_path: Path, config: str, message: str) -> None:
        (tmp_path / "landing").mkdir()
        (tmp_path / "journey.toml").write_text(config)
        result = journey("run", "--date", "2026-10-01", "--landing", "landing", "--config", "journey.toml",
                         "--warehouse", "w/journey.duckdb", cwd=tmp_path)
        assert (result.returncode, result.stderr) == (1, f"journey: error: journey.toml: {message}\n")
        assert not (tmp_path / "w").exists()

    @pytest.mark.parametrize(("rules", "message"), [
        ("[social]\nmedian_reply_hours_limit = 0\n", "[social] median_reply_hours_limit must be above 0, got 0"),
        ('[social]\nmedian_reply_hours_limit = "24"\n', "[social] median_reply_hours_limit must be a number, got '24'"),
        ("[social]\nmedian_reply_hours_limt = 1\n", "[social] median_reply_hours_limt is not a setting; known: "
         "window_days, median_reply_hours_limit, unanswered_threshold, unanswered_after_hours, min_messages, negative_below"),
        ("[emial]\nmin_delivered = 1\n", "unknown section [emial]; known: tests, abandonment, email, social, stuck"),
        ("[email]\nbounce_threshold = 5\n", "[email] bounce_threshold must be from 0 to 1, got 5"),
        ("[email]\nwindow_days = 2.5\n", "[email] window_days must be a whole number, got 2.5"),
        ("[stuck]\nintent_events = \"web:view_item\"\n", "[stuck] intent_events must be a list of texts, got 'web:view_item'"),
    ])
    def test_pain_point_rules_refused_before_the_run(self, tmp_path: Path, rules: str, message: str) -> None:
        """A wrong pain point file is refused in one line before anything runs (it used to fail
        after the whole run, or a misspelt setting was ignored)."""
        (tmp_path / "landing").mkdir()
        (tmp_path / "pp.toml").write_text(rules)
        (tmp_path / "journey.toml").write_text('[rules]\npain_points = "pp.toml"\n')
        result = journey("run", "--date", "2026-10-01", "--landing", "landing", "--config", "journey.toml",
                         "--warehouse", "w/journey.duckdb", cwd=tmp_path)
        assert (result.returncode, result.stderr) == (1, f"journey: error: pp.toml: {message}\n")
        assert not (tmp_path / "w").exists()

    @pytest.mark.parametrize(("make", "args", "message"), [
        (["afile"], ["--landing", "afile"], "landing path is a file, not a folder: afile"),
        (["landing/", "wdir/"], ["--warehouse", "wdir"], "warehouse path is a folder, not a DuckDB file: wdir"),
        (["landing/", "afile"], ["--warehouse", "afile/x.duckdb"], "the warehouse's folder is a file: afile"),
        (["landing/", "afile"], ["--reports", "afile"], "reports path is a file, not a folder: afile"),
        # a CSV given as the warehouse: it used to fail inside the flow with a 70-line traceback
        (["landing/", "events.csv"], ["--warehouse", "events.csv"], "not a DuckDB database: events.csv"),
        # the folder above the landing folder, or one of its dt= folders: an empty warehouse was published
        (["landing/web/dt=2026-10-01/", "w/"], ["--landing", "landing/web", "--warehouse", "w/j.duckdb"],
         "landing folder has none of web/, email/, social/, identities/, labels/: landing/web (is it the right folder?)"),
    ])
    def test_bad_paths(self, tmp_path: Path, make: list[str], args: list[str], message: str) -> None:
        for name in make:
            if name.endswith("/"):
                (tmp_path / name).mkdir(parents=True)
            else:
                (tmp_path / name).write_text("x")
        result = journey("run", "--date", "2026-10-01", "--landing", "landing", *args, cwd=tmp_path)
        assert (result.returncode, result.stderr) == (1, f"journey: error: {message}\n")

    def test_forget_in_a_file_that_is_no_warehouse(self, tmp_path: Path) -> None:
        (tmp_path / "events.csv").write_text("event_id,event_ts\n")
        result = journey("forget", "--customer", "u1", "--warehouse", "events.csv", cwd=tmp_path)
        assert (result.returncode, result.stderr) == (1, "journey: error: not a DuckDB database: events.csv\n")

    def test_path_the_system_refuses_is_one_line(self, tmp_path: Path) -> None:
        """An operating-system error on a path names the path and the reason, not a traceback."""
        (tmp_path / "landing").mkdir()
        result = journey("run", "--date", "2026-10-01", "--landing", "landing",
                         "--warehouse", "/proc/journey/x.duckdb", cwd=tmp_path)
        assert (result.returncode, result.stderr) == (
            1, "journey: error: cannot use /proc/journey: no such file or directory\n"
        )

    def test_empty_key_in_the_environment_is_refused(self, tmp_path: Path) -> None:
        """JOURNEY_HASH_KEY set to nothing (a secret that did not reach the job) is a mistake: the
        run would quietly generate a key of its own, and another machine's run another one."""
        (tmp_path / "landing").mkdir()
        result = subprocess.run(
            [journey_command(), "run", "--date", "2026-10-01", "--landing", "landing", "--warehouse", "w/j.duckdb"],
            cwd=tmp_path, env={**quiet_env(), "JOURNEY_HASH_KEY": ""}, capture_output=True, text=True, timeout=120,
        )
        assert (result.returncode, result.stderr) == (1, (
            "journey: error: JOURNEY_HASH_KEY is set but empty: give the key, or unset it to use [privacy] "
            "hash_key or the key file beside the warehouse\n"
        ))
        assert not list((tmp_path / "w").glob("j.duckdb*"))

    def test_changed_key_refused_before_the_run(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "a.jsonl", [GOOD])
        run_day(landing, warehouse, DAY1)
        published = warehouse.read_bytes()
        result = subprocess.run(
            [journey_command(), "run", "--date", "2026-10-02", "--landing", str(landing.root),
             "--warehouse", str(warehouse)],
            cwd=warehouse.parent, env={**quiet_env(), "JOURNEY_HASH_KEY": "another key"},
            capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 1
        assert result.stderr == (
            "journey: error: the hashing key (environment or config) is not the one this warehouse was built "
            "with; using it would split every customer in two. Restore the original key (JOURNEY_HASH_KEY, "
            "[privacy] hash_key or the .key file beside the warehouse).\n"
        )
        assert warehouse.read_bytes() == published

    def test_unknown_setting_in_config(self, prefect_runs: dict[str, Outcome]) -> None:
        outcome = prefect_runs["bad_config"]
        assert outcome.returncode == 1
        assert not outcome.warehouse.exists()

    def test_unknown_setting_in_config_is_one_line(self, prefect_runs: dict[str, Outcome]) -> None:
        outcome = prefect_runs["bad_config"]
        config = outcome.root / "journey.toml"
        assert outcome.stderr == (
            f"journey: error: {config}: unknown setting [sessions] timeout_minuts; "
            "known: split_on_new_campaign, timeout_minutes\n"
        )




    def test_a_run_short_of_memory_is_one_line(self, prefect_runs: dict[str, Outcome]) -> None:
        """The step, the limit and the remedy, in one line: DuckDB's bindings printed some forty
        lines of "nanobind: leaked 28 instances!" under it as the process ended."""
        outcome = prefect_runs["short_of_memory"]
        assert outcome.returncode == 1
        assert re.fullmatch(
            r"journey: error: the run ran out of memory in its \w+ step: \[warehouse\] memory_limit "
            r"\(20\.\d MiB with 4 threads\) is too little for this warehouse's data; raise memory_limit in the "
            r"config file, or lower threads \(.*\)\. DuckDB: Out of Memory Error: [^\n]*\n",
            outcome.stderr,
        ), outcome.stderr
        assert not outcome.warehouse.exists()


class TestRun:
    """``journey run`` processes a landing through the Prefect flow and says where it wrote."""

    def test_exit_zero_and_paths_printed(self, prefect_runs: dict[str, Outcome]) -> None:
        outcome = prefect_runs["good"]
        assert outcome.returncode == 0, outcome.stderr
        lines = outcome.stdout.splitlines()
        assert f"  warehouse file: {outcome.warehouse}" in lines
        assert f"  dashboard:      {outcome.reports / '2026-10-01' / 'index.html'}" in lines
        assert "  read 1 row: 1 loaded, 0 quarantined, 0 duplicates, 0 late" in lines
        assert "Traceback" not in outcome.stderr

    def test_a_file_still_being_uploaded_is_a_note_not_a_failure(self, prefect_runs: dict[str, Outcome]) -> None:
        outcome = prefect_runs["good"]
        assert outcome.returncode == 0, outcome.stdout
        assert (
            "  note: web/dt=2026-10-01/b.jsonl.filepart: still being written (a temporary upload name); "
            "read once it is renamed"
        ) in outcome.stdout.splitlines()
        assert "UNREADABLE FILE" not in outcome.stdout
        assert query(outcome.warehouse, "select count(*) from quarantine") == [(0,)]

    def test_warehouse_and_dashboard_written(self, prefect_runs: dict[str, Outcome]) -> None:
        outcome = prefect_runs["good"]
        assert query(outcome.warehouse, "select event_id from events") == [("e1",)]
        assert query(outcome.warehouse, "select status, rows_read, rows_loaded from pipeline_runs") == [("success", 1, 1)]
        assert (outcome.reports / "2026-10-01" / "index.html").is_file()

    def test_default_date_is_yesterday_in_utc(self, prefect_runs: dict[str, Outcome]) -> None:
        outcome = prefect_runs["no_date"]
        assert outcome.returncode == 0, outcome.stderr
        # (a run started just before midnight UTC may finish after it)
        assert outcome.started_on is not None
        yesterdays = {outcome.started_on - timedelta(days=1), datetime.now(UTC).date() - timedelta(days=1)}
        (as_of,) = query(outcome.warehouse, "select as_of_date from pipeline_runs")[0]
        assert as_of in yesterdays
        assert query(outcome.warehouse, "select event_id from events") == [("e1",)]

    def test_unreadable_file_is_reported_and_the_rest_loads(self, prefect_runs: dict[str, Outcome]) -> None:
        outcome = prefect_runs["unreadable"]
        assert outcome.returncode == 1
        mentions = [line for line in outcome.stdout.splitlines() if "UNREADABLE FILE" in line]
        assert len(mentions) == 1
        assert mentions[0].startswith(
            "  UNREADABLE FILE web/dt=2026-10-01/b.jsonl.gz: file could not be read: Input is not a GZIP stream"
        )
        assert query(outcome.warehouse, "select event_id from events") == [("e1",)]
        assert query(
            outcome.warehouse, "select source_file, line_no from quarantine"
        ) == [("web/dt=2026-10-01/b.jsonl.gz", None)]


class TestReport:
    """``journey report`` writes a day's page again from the published warehouse, read-only."""

    def test_page_written_again_is_the_runs_page(self, prefect_runs: dict[str, Outcome], tmp_path: Path) -> None:
        outcome = prefect_runs["good"]
        before = outcome.warehouse.read_bytes()
        result = journey("report", "--warehouse", outcome.warehouse, "--reports", tmp_path / "again", cwd=tmp_path)
        page = tmp_path / "again" / "2026-10-01" / "index.html"
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"journey report 2026-10-01: dashboard written to {page}\n"
        # the same page as the run wrote, down to the run's own figures, beside its own index
        assert page.read_text() == (outcome.reports / "2026-10-01" / "index.html").read_text()
        assert "This run</span>" in page.read_text()
        assert '<a href="2026-10-01/index.html">' in (tmp_path / "again" / "index.html").read_text()
        assert (tmp_path / "again" / "plotly.min.js").is_file()
        assert outcome.warehouse.read_bytes() == before  # opened read-only

    def test_a_day_not_run_is_one_line(self, prefect_runs: dict[str, Outcome], tmp_path: Path) -> None:
        outcome = prefect_runs["good"]
        result = journey(
            "report", "--date", "2026-10-02", "--warehouse", outcome.warehouse, "--reports", tmp_path, cwd=tmp_path
        )
        assert result.returncode == 1
        assert result.stderr == (
            f"journey: error: no successful run for 2026-10-02 in {outcome.warehouse}; days run: 2026-10-01 to "
            "2026-10-01 (run `journey run --date 2026-10-02` to make that day's page)\n"
        )
        assert list(tmp_path.iterdir()) == []

    @pytest.mark.parametrize(
        ("make", "message"),
        [
            (None, "warehouse not found: {w}"),
            ("other", "{w} is not a journey-analytics warehouse (it has no pipeline_runs)"),
            ("empty", "no successful run in {w} yet: run `journey run` first"),
            ("text", "cannot open the warehouse {w}: "),
        ],
    )
    def test_unusable_warehouse_is_one_line(self, tmp_path: Path, make: str | None, message: str) -> None:
        import duckdb

        warehouse = tmp_path / "w.duckdb"
        if make == "text":
            warehouse.write_text("not a database\n")
        elif make is not None:
            con = duckdb.connect(str(warehouse))
            con.execute("create table pipeline_runs (as_of_date date, run_id varchar, finished_at timestamp, status varchar)"
                        if make == "empty" else "create table t (x int)").fetchall()
            con.close()
        result = journey("report", "--warehouse", warehouse, "--reports", tmp_path / "r", cwd=tmp_path)
        assert result.returncode == 1
        assert result.stderr.startswith("journey: error: " + message.format(w=warehouse)), result.stderr
        assert len(result.stderr.splitlines()) == 1
        assert not (tmp_path / "r").exists()


def test_report_shows_the_evaluation_of_the_model_in_use_that_day(tmp_path: Path) -> None:
    from datetime import date

    from journey_analytics.dashboard.page import _evaluation_as_of

    models = tmp_path / "journey-models"
    models.mkdir()
    for name in ("evaluation-2026-10-01.json", "evaluation-2026-10-08.json", "evaluation.json", "evaluation-x.json"):
        (models / name).write_text("{}")
    warehouse = tmp_path / "journey.duckdb"
    assert _evaluation_as_of(warehouse, date(2026, 9, 30)) is None
    assert _evaluation_as_of(warehouse, date(2026, 10, 7)) == models / "evaluation-2026-10-01.json"
    assert _evaluation_as_of(warehouse, date(2026, 10, 8)) == models / "evaluation-2026-10-08.json"
    assert _evaluation_as_of(warehouse, date(2026, 12, 1)) == models / "evaluation-2026-10-08.json"


class TestTwoCommandsStartedTogether:
    """Two `journey run` commands started at once on one warehouse: the one that loses is refused
    in one line even while the winner's orchestrator is still starting (the command holds the
    lock from its checks on, and hands it to its own run), never with a flow's traceback."""

    def test_the_second_is_refused_in_one_line(self, landing: Landing, tmp_path: Path) -> None:
        landing.jsonl("web", DAY1, "a.jsonl", [GOOD])
        command = [journey_command(), "run", "--date", DAY1.isoformat(), "--landing", str(landing.root),
                   "--warehouse", str(tmp_path / "w" / "j.duckdb"), "--reports", str(tmp_path / "reports")]
        both = [subprocess.Popen(command, cwd=tmp_path, env=quiet_env(), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outcomes = sorted((p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in both)
        for p in both:
            p.stdout and p.stdout.close()
            p.stderr and p.stderr.close()
        (won, _), (lost, refusal) = outcomes
        assert (won, lost) == (0, 1), outcomes
        assert refusal.startswith("journey: error: another run is building "), refusal[-3000:]
        assert refusal.count("\n") == 1, refusal[-3000:]


class TestAFailedRunIsOneLine:
    """A run that fails inside the flow on something the user can fix (here a full disk: a file
    size limit below the warehouse's size) says so in one line, as the checks before it do, not
    after the orchestrator's tracebacks of the step and the flow; the failure is recorded in
    pipeline_runs and the published warehouse is left as it was."""

    def test_full_disk(self, prefect_api: dict[str, str], landing: Landing, tmp_path: Path) -> None:
        import resource

        landing.jsonl("web", DAY1, "a.jsonl", [GOOD])
        warehouse = tmp_path / "w" / "j.duckdb"
        run_day(landing, warehouse, DAY1)
        published = warehouse.read_bytes()
        limit = len(published) // 2

        def small_disk() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        result = subprocess.run(
            [journey_command(), "run", "--date", DAY1.isoformat(), "--landing", str(landing.root),
             "--warehouse", str(warehouse), "--reports", str(tmp_path / "reports")],
            cwd=tmp_path, env=quiet_env(**prefect_api), capture_output=True, text=True, timeout=300,
            preexec_fn=small_disk,
        )
        assert result.returncode == 1
        assert result.stderr == f"journey: error: cannot use {warehouse}: file too large\n", result.stderr[-3000:]
        assert warehouse.read_bytes() == published


def this_checkout(env: dict[str, str]) -> dict[str, str]:
    """The environment with this checkout's code first on the path (a PYTHONPATH of relative
    folders would name other folders in the command's own working folder)."""
    root = Path(__file__).resolve().parents[1]
    return {**env, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root), env.get("PYTHONPATH", "")])}


def _has_published(warehouse: Path) -> bool:
    try:
        return bool(warehouse.exists() and query(warehouse, "select 1 from main.pipeline_runs"))
    except Exception:  # (not a warehouse yet)
        return False


class TestABackfillStoppedBySigterm:
    """`journey backfill` sent SIGTERM (systemd, Kubernetes, `timeout`, Airflow; here to its whole
    process group, as those do) once its first day is published ends at once: exit 143, one line
    naming the signal, the build of the day it was on thrown away, no lock held, no Prefect server
    left running; a run again completes the range with the counts of a run never stopped. (It
    took minutes, Prefect retrying its stopped temporary server, and ended on a ConnectError.)"""

    def test_it_ends_in_one_line_and_a_run_again_completes(self, landing: Landing, tmp_path: Path) -> None:
        import psutil

        days = [DAY1 + timedelta(days=i) for i in range(4)]
        for i, day in enumerate(days):
            landing.jsonl("web", day, "a.jsonl", [
                {**GOOD, "event_id": f"e{i}-{n}", "event_ts": f"{day}T10:{n:02d}:00Z", "anonymous_id": f"a{n % 7}"}
                for n in range(40)
            ])
        def backfill(root: Path) -> subprocess.Popen[str]:
            return subprocess.Popen(
                [journey_command(), "backfill", "--start", str(days[0]), "--end", str(days[-1]),
                 "--landing", str(landing.root), "--warehouse", str(root / "j.duckdb"), "--reports", str(root / "reports")],
                cwd=tmp_path, env=this_checkout(quiet_env(home=str(tmp_path / "prefect"))), stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, text=True, start_new_session=True,
            )

        stopped = tmp_path / "stopped"
        process = backfill(stopped)
        try:
            while not _has_published(stopped / "j.duckdb"):
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                time.sleep(0.2)
            children = psutil.Process(process.pid).children(recursive=True)
            os.killpg(process.pid, signal.SIGTERM)
            _, stderr = process.communicate(timeout=60)  # a guard against a hang, not a bound
        finally:
            process.kill()
        assert process.returncode == 128 + signal.SIGTERM, stderr[-3000:]
        assert stderr.count("\n") == 1 and stderr.startswith("journey: terminated by SIGTERM"), stderr[-3000:]
        assert "the warehouse is unchanged (the day's build was discarded)" in stderr or "no day was being built" in stderr
        assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
        assert sorted(p.name for p in stopped.iterdir() if p.name.startswith(".")) == []  # no build, WAL or model folder
        published = query(stopped / "j.duckdb", "select as_of_date, status from main.pipeline_runs order by as_of_date")
        assert published and all(status == "success" for _, status in published), published
        assert [d for d, _ in published] == days[: len(published)] and len(published) < len(days)

        again = backfill(stopped)
        assert again.wait(timeout=300) == 0, again.stderr.read() if again.stderr else ""
        clean = backfill(tmp_path / "clean")
        assert clean.wait(timeout=300) == 0, clean.stderr.read() if clean.stderr else ""
        for p in (again, clean):
            p.stderr and p.stderr.close()
        counts = "select (select count(*) from main.events), (select count(*) from main.sessions), (select count(*) from main.identity_map), (select list(distinct as_of_date order by as_of_date) from main.pipeline_runs where status = 'success')"
        assert query(stopped / "j.duckdb", counts) == query(tmp_path / "clean" / "j.duckdb", counts)


class TestASignalCaughtOnItsWay:
    """A signal's stop raised where code catches it (a query it interrupts comes back as DuckDB's
    "Query interrupted", which code that goes on after a failed query passes over; the
    orchestrator's own waits) still stops the run, at its next step at the latest, before
    anything is published. (Ctrl-C to a backfill, now and then, was passed over so: the backfill
    ran to its last day and exited 0.)"""

    def test_the_run_stops_at_its_next_step(self, landing: Landing, warehouse: Path) -> None:
        from journey_analytics import runs
        from journey_analytics.cli import _stopped_by_signals
        from journey_analytics.config import load_settings

        landing.jsonl("web", DAY1, "a.jsonl", [dict(GOOD, event_id="e1")])
        landing.jsonl("web", DAY1 + timedelta(days=1), "a.jsonl", [dict(GOOD, event_id="e2", event_ts=f"{DAY1 + timedelta(days=1)}T10:00:00Z")])
        run_day(landing, warehouse, DAY1)
        published = warehouse.read_bytes()
        with _stopped_by_signals():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)  # (the handler raises as soon as the signal lands)
            except runs.RunStopped:
                pass  # caught on its way, as by code that goes on after a failed query
            with pytest.raises(runs.RunStopped) as stopped:
                runs.run_day_in_process(DAY1 + timedelta(days=1), landing.root, warehouse,
                                        warehouse.parent / "reports", load_settings())
        assert stopped.value.signum == signal.SIGTERM
        assert warehouse.read_bytes() == published
        assert [p.name for p in warehouse.parent.iterdir() if p.name.startswith(".")] == []
        assert query(warehouse, "select count(*) from main.events") == [(1,)]
        # the signal was the command's: once its handlers are gone, runs go on as ever
        runs.run_day_in_process(DAY1 + timedelta(days=1), landing.root, warehouse,
                                warehouse.parent / "reports", load_settings())
        assert query(warehouse, "select count(*) from main.events") == [(2,)]


class TestAStopThatLandsAsTheDayPublishes:
    """A stop that lands once the build has been swapped in over the warehouse (between the
    swap and the page's and the model's moves) finds the day published: its page and retrained
    model are left for the next run to put in place, as after a run killed there, not thrown
    away with a build that is already the warehouse. (The page of the published day was
    deleted, and never appeared.)"""

    def test_the_published_day_keeps_its_page(self, landing: Landing, warehouse: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
        from journey_analytics import runs
        from journey_analytics.cli import _stopped_by_signals
        from journey_analytics.config import load_settings

        day2, day3 = DAY1 + timedelta(days=1), DAY1 + timedelta(days=2)
        for i, day in enumerate((DAY1, day2, day3)):
            landing.jsonl("web", day, "a.jsonl", [dict(GOOD, event_id=f"e{i}", event_ts=f"{day}T10:00:00Z")])
        run_day(landing, warehouse, DAY1)
        replace = os.replace

        def replace_then_stop(src: object, dst: object) -> None:
            replace(src, dst)
            if Path(str(dst)) == warehouse:  # the swap done, the signal lands
                os.kill(os.getpid(), signal.SIGTERM)

        monkeypatch.setattr(os, "replace", replace_then_stop)
        with _stopped_by_signals(), pytest.raises(runs.RunStopped):
            run_day(landing, warehouse, day2)
            time.sleep(5)  # (the handler raises as soon as the signal lands)
        monkeypatch.setattr(os, "replace", replace)
        assert query(warehouse, "select as_of_date from main.pipeline_runs where status = 'success' order by 1") == [
            (DAY1,), (day2,)
        ]
        run_day(landing, warehouse, day3)
        reports = warehouse.parent / "reports"
        assert (reports / day2.isoformat() / "index.html").is_file()
        assert [p.name for p in reports.iterdir() if p.name.startswith(".")] == []
        assert [p.name for p in warehouse.parent.iterdir() if p.name.startswith(".")] == []


class TestARunFromAnotherThread:
    """`journey run` called in-process from a thread that is not the main one (an orchestrator's
    worker thread, a notebook's executor) runs: signal handlers can be set only in the main
    thread, so there it stops on signals as ever, and elsewhere runs without them. (It failed at
    once: "signal only works in main thread of the main interpreter", exit 1.)"""

    def test_it_runs(self, landing: Landing, warehouse: Path) -> None:
        import threading

        from journey_analytics.cli import main

        landing.jsonl("web", DAY1, "a.jsonl", [GOOD])
        codes: list[int] = []
        args = ["run", "--date", str(DAY1), "--landing", str(landing.root), "--warehouse", str(warehouse),
                "--reports", str(warehouse.parent / "reports")]
        worker = threading.Thread(target=lambda: codes.append(main(args)))
        worker.start()
        worker.join(timeout=300)
        assert codes == [0]
        assert query(warehouse, "select count(*) from main.events") == [(1,)]


class TestARunStoppedWithItsPrefectServer:
    """systemd stops a service by sending SIGTERM to every process of it (KillMode=control-group),
    the Prefect server the command started in a session of its own too. The run is stopped as
    ever: exit 143 and, last, the line naming the signal, though the orchestrator's record of the
    stop then fails on the stopped server (it ended on "journey: error: ConnectError", exit 1,
    after a minute of retries; the retries are cut short here, PREFECT_CLIENT_MAX_RETRIES=0)."""

    def test_it_ends_as_stopped(self, landing: Landing, tmp_path: Path) -> None:
        import psutil

        landing.jsonl("web", DAY1, "a.jsonl", [
            {**GOOD, "event_id": f"e{n}", "event_ts": f"{DAY1}T10:{n % 60:02d}:00Z", "anonymous_id": f"a{n % 97}"}
            for n in range(20000)
        ])
        root = tmp_path / "w"
        process = subprocess.Popen(
            [journey_command(), "run", "--date", str(DAY1), "--landing", str(landing.root),
             "--warehouse", str(root / "j.duckdb"), "--reports", str(root / "reports")],
            cwd=tmp_path, env=this_checkout(quiet_env(home=str(tmp_path / "prefect"), client_max_retries="0")),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        try:
            while not list(root.glob(".j.duckdb.build-*")) if root.exists() else True:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                time.sleep(0.1)
            for each in [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    each.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=240)
        finally:
            process.kill()
        assert process.returncode == 128 + signal.SIGTERM, stderr[-3000:]
        # (Prefect's failed log shipping may end its text without a newline, before the line)
        assert "journey: terminated by SIGTERM during " in stderr.strip().splitlines()[-1], stderr[-3000:]
        assert not (root / "j.duckdb").exists()


class TestAStoppedRunCalledInProcess:
    """`main` called with its arguments (a notebook, a team's own script) returns a stopped run's
    status and leaves the process alone; only the `journey` command (no arguments given: the
    command line's) ends the process as the signal asked. (It ended its caller's process too: a
    notebook kernel died on Ctrl-C.)"""

    def test_it_returns_the_status(self, landing: Landing, warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
        from journey_analytics import runs
        from journey_analytics.cli import main

        landing.jsonl("web", DAY1, "a.jsonl", [GOOD])
        runs.STOP_SIGNALS.append(signal.SIGTERM)  # as the command's handler records a SIGTERM that lands
        try:
            code = main(["run", "--date", str(DAY1), "--landing", str(landing.root), "--warehouse", str(warehouse),
                         "--reports", str(warehouse.parent / "reports")])
        finally:
            runs.STOP_SIGNALS.clear()
        assert code == 128 + signal.SIGTERM
        assert capsys.readouterr().err.splitlines()[-1].startswith(f"journey: terminated by SIGTERM during {DAY1}/")
        assert not warehouse.exists()
