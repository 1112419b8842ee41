"""The analyst notebooks run top to bottom against a warehouse built from the sample."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from journey_analytics import runs
from journey_analytics.config import Settings

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample run through every step, as `make demo` does (without the orchestrator)."""
    work = tmp_path_factory.mktemp("notebooks")
    os.environ.setdefault("JOURNEY_HASH_KEY", "test-key")
    runs.run_day_in_process(date(2026, 10, 31), ROOT / "data" / "sample", work / "journey.duckdb", work / "reports", Settings())
    return work / "journey.duckdb"


class TestNotebooks:
    """Every notebook executes without an error on the sample warehouse."""

    def test_there_are_notebooks(self) -> None:
        names = [p.name for p in NOTEBOOKS]
        assert "01_warehouse_tour.ipynb" in names and "02_pain_point_investigation.ipynb" in names

    @pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
    def test_runs_top_to_bottom(self, path: Path, sample_warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("JOURNEY_WAREHOUSE", str(sample_warehouse))
        notebook = nbformat.read(path, as_version=4)
        NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
        errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert errors == []
        assert all(c.get("execution_count") for c in notebook.cells if c.cell_type == "code")


class TestCustomFunnel:
    """The tour's funnel of its own, written in SQL, counts as ClickHouse's windowFunnel in
    strict_increase mode does (run in chdb): every search may start the chain. (It used to start
    from each customer's first search only and missed 13% of the buyers on the sample.)"""

    def test_equals_windowfunnel(self, sample_warehouse: Path, tmp_path: Path) -> None:
        import csv
        import io
        import re

        import duckdb

        chdb = pytest.importorskip("chdb")
        tour = nbformat.read(ROOT / "notebooks" / "01_warehouse_tour.ipynb", as_version=4)
        (source,) = [c.source for c in tour.cells if c.cell_type == "code" and "with searched as" in c.source]
        sql = re.search(r'con\.sql\("""(.*)"""\)', source, flags=re.S).group(1)
        con = duckdb.connect(str(sample_warehouse), read_only=True)
        try:
            notebook = dict(con.execute(sql).fetchall())
            events = tmp_path / "events.parquet"
            con.execute(
                f"copy (select customer_id, event_name, epoch_us(event_ts) as ts_us from events "
                f"where customer_id is not null) to '{events}' (format parquet)"
            ).fetchall()
        finally:
            con.close()
        text = chdb.query(
            f"""
            select customer_id, windowFunnel({7 * 86400 * 1_000_000}, 'strict_increase')(toUInt64(ts_us),
                event_name = 'search', event_name = 'view_item', event_name = 'purchase')
            from file('{events}', Parquet) group by customer_id
            """,
            "CSV",
        ).bytes().decode()
        levels = [int(level) for _, level in csv.reader(io.StringIO(text))]
        expected = {step: sum(1 for level in levels if level >= k)
                    for k, step in enumerate(("search", "view_item", "purchase"), start=1)}
        assert notebook == expected
        assert expected["purchase"] > 0


def _slow_payment_store(landing: Path, run_date: date, days: int = 14, per_day: int = 40) -> None:
    """A store whose payments are confirmed 12 hours after the payment step (a bank transfer):
    every customer buys, on the next day's folder. The truth: the payment step converts 100% on
    every day, and no one stopped; on the run date the purchases have not happened yet. Five of the
    first day's customers order again ten days later."""
    import json
    from datetime import datetime, time, timedelta

    files: dict[date, list[dict]] = {}
    for d in range(days):
        day = run_date - timedelta(days=days - 1 - d)
        for c in range(per_day):
            user = f"c{d:02d}{c:02d}"
            start = datetime.combine(day, time(19, 0))
            steps = ["page_view", "view_item", "add_to_cart", "begin_checkout", "add_payment_info"]
            for i, name in enumerate(steps):
                ts = start + timedelta(minutes=5 * i, seconds=c)
                files.setdefault(day, []).append({"event_id": f"{user}-{i}", "event_name": name, "user_id": user,
                                                  "anonymous_id": f"d-{user}", "device_category": "desktop",
                                                  "event_ts": ts.isoformat() + "Z"})
            paid = start + timedelta(hours=12, minutes=20, seconds=c)
            files.setdefault(paid.date(), []).append({"event_id": f"{user}-p", "event_name": "purchase", "user_id": user,
                                                      "order_id": f"o-{user}", "value": 20, "currency": "EUR",
                                                      "event_ts": paid.isoformat() + "Z"})
    first = run_date - timedelta(days=days - 1)
    for c in range(5):  # five of the first day's customers order again ten days later
        user = f"c00{c:02d}"
        again = datetime.combine(first + timedelta(days=10), time(10, 0))
        files.setdefault(again.date(), []).append({"event_id": f"{user}-again", "event_name": "purchase", "user_id": user,
                                                   "order_id": f"o2-{user}", "value": 20, "currency": "EUR",
                                                   "event_ts": again.isoformat() + "Z"})
    for day, rows in files.items():
        if day > run_date:
            continue  # not arrived yet
        folder = landing / "web" / f"dt={day}"
        folder.mkdir(parents=True)
        (folder / "part-0.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _execute(path: Path, warehouse: Path, monkeypatch: pytest.MonkeyPatch, probe: str) -> tuple[nbformat.NotebookNode, str]:
    """Run a notebook on a warehouse with one probe cell appended; returns it and the probe's printed text."""
    monkeypatch.setenv("JOURNEY_WAREHOUSE", str(warehouse))
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(probe))
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return notebook, "".join(o.get("text", "") for o in notebook.cells[-1].get("outputs", []))


def _printed(notebook: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []))


@pytest.fixture(scope="module")
def slow_payment_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, date]:
    work = tmp_path_factory.mktemp("slow_payment")
    run_date = date(2025, 3, 14)
    _slow_payment_store(work / "landing", run_date)
    os.environ.setdefault("JOURNEY_HASH_KEY", "test-key")
    runs.run_day_in_process(run_date, work / "landing", work / "journey.duckdb", work / "reports", Settings())
    return work / "journey.duckdb", run_date


class TestInvestigationOnAnotherStore:
    """The investigation notebook on a store that is not the sample: payments confirmed 12 hours
    later, every customer buys, so there is no finding and the step converts 100% on every day."""

    def test_says_when_there_is_no_funnel_finding(self, slow_payment_warehouse, monkeypatch) -> None:
        warehouse, _ = slow_payment_warehouse
        notebook, _ = _execute(ROOT / "notebooks" / "02_pain_point_investigation.ipynb", warehouse, monkeypatch, "")
        text = _printed(notebook)
        # it used to print "funnel_step_drop: add_payment_info -> purchase for all = all", a finding that does not exist
        assert "funnel_step_drop:" not in text
        assert "No funnel finding" in text

    def test_day_by_day_judges_a_day_once_its_hours_are_over(self, slow_payment_warehouse, monkeypatch) -> None:
        import json

        warehouse, run_date = slow_payment_warehouse
        _, probe = _execute(ROOT / "notebooks" / "02_pain_point_investigation.ipynb", warehouse, monkeypatch,
                            "print(daily.write_json())")
        rows = json.loads(probe)
        assert rows, "the series is empty"
        # every day converted 100%; the run date's payments were not confirmed yet, and used to read as 0%
        assert {r["conversion"] for r in rows} == {1.0}, rows
        assert max(r["day"] for r in rows) < run_date.isoformat()

    def test_no_one_stopped(self, slow_payment_warehouse, monkeypatch) -> None:
        warehouse, _ = slow_payment_warehouse
        notebook, _ = _execute(ROOT / "notebooks" / "02_pain_point_investigation.ipynb", warehouse, monkeypatch, "")
        (cell,) = [c for c in notebook.cells if c.cell_type == "code" and "stopped as" in c.source]
        shown = "".join(o.get("text", "") for o in cell.get("outputs", []))
        # the 40 customers who paid on the run date had their purchase still coming: not "stopped"
        assert "(nothing within a week)" not in shown, shown


class TestAfterAFailedNight:
    """A night whose run failed is recorded in pipeline_runs (status 'failed') in the published
    warehouse; the notebooks read the last day that was run successfully, not the failed one."""

    def test_as_of_is_the_last_successful_run(self, slow_payment_warehouse, monkeypatch, tmp_path) -> None:
        import shutil
        from datetime import timedelta

        source, run_date = slow_payment_warehouse
        warehouse = tmp_path / "journey.duckdb"
        shutil.copy(source, warehouse)
        landing = tmp_path / "landing"
        landing.mkdir()
        ctx = runs.open_run(run_date + timedelta(days=1), landing, warehouse, tmp_path / "reports", Settings())
        runs.abort_run(ctx, RuntimeError("disk full"))  # as the nightly flow does when a step fails
        for name in ("01_warehouse_tour.ipynb", "02_pain_point_investigation.ipynb"):
            notebook, probe = _execute(ROOT / "notebooks" / name, warehouse, monkeypatch, "print(as_of)")
            assert probe.strip() == run_date.isoformat(), name
            if name.startswith("01"):
                # the stage table is the run's, not empty for a day that has no stages
                (cell,) = [c for c in notebook.cells if c.cell_type == "code" and "from customer_stages" in c.source]
                shown = "".join(o.get("text", "") for o in cell.get("outputs", []))
                assert "│ purchase " in shown, shown


class TestTourOnAnotherStore:
    def test_says_when_no_customer_has_several_devices(self, slow_payment_warehouse, monkeypatch) -> None:
        """The tour shows 'one customer seen on several devices'; on a store where everyone used one
        device it showed a one-device customer under that sentence, without a word."""
        warehouse, _ = slow_payment_warehouse
        notebook, _ = _execute(ROOT / "notebooks" / "01_warehouse_tour.ipynb", warehouse, monkeypatch, "")
        assert "No customer was seen on more than one device" in _printed(notebook)


    def test_cohort_retention_shows_every_week_in_order(self, slow_payment_warehouse, monkeypatch) -> None:
        """Week 1 of the first cohort had no repeat order: it is 0, not a missing column (it was
        left out, so the table went from week 0 to week 2), and weeks come in their order."""
        import json

        warehouse, _ = slow_payment_warehouse
        _, probe = _execute(ROOT / "notebooks" / "01_warehouse_tour.ipynb", warehouse, monkeypatch,
                            "print(retention.write_json())")
        shares = {(r["cohort_week"][:10], r["weeks_later"]): r["share"] for r in json.loads(probe)}
        # first orders on 2025-03-02 (a Sunday: the week of 2025-02-24), 40 customers, 5 again on 2025-03-11
        assert shares[("2025-02-24", 0)] == 1.0
        assert shares[("2025-02-24", 1)] == 0.0
        assert shares[("2025-02-24", 2)] == 0.125
        assert shares[("2025-03-03", 1)] == 0.0
        assert ("2025-03-10", 1) not in shares  # not over yet: that week is the run date's


class TestInvestigationPicksTheSegment:
    def test_a_segment_drop_at_the_worst_step_is_taken_over_the_drop_for_everyone(
        self, slow_payment_warehouse, monkeypatch, tmp_path
    ) -> None:
        """The most severe funnel finding is a drop for everyone at the payment step, and a segment
        converts worse at that step: the notebook digs into the segment (for whom), not into
        everyone (it took the overall finding, and its 'segment against everyone else' compared
        everyone with no one)."""
        import shutil

        import duckdb

        source, run_date = slow_payment_warehouse
        warehouse = tmp_path / "journey.duckdb"
        shutil.copy(source, warehouse)
        con = duckdb.connect(str(warehouse))
        try:
            con.executemany(
                "insert into pain_points (as_of_date, kind, step, segment_key, segment_value, severity) values (?, ?, ?, ?, ?, ?)",
                [(run_date, "funnel_step_drop", "add_payment_info", "all", "all", 50.0),
                 (run_date, "segment_drop", "add_to_cart", "device_category", "tablet", 45.0),
                 (run_date, "segment_drop", "add_payment_info", "device_category", "mobile", 12.0),
                 (run_date, "segment_drop", "add_payment_info", "country", "DE", 30.0)],
            )
        finally:
            con.close()
        _, probe = _execute(ROOT / "notebooks" / "02_pain_point_investigation.ipynb", warehouse, monkeypatch,
                            "print(kind, step, segment_key, segment_value)")
        assert probe.strip() == "segment_drop add_payment_info country DE"


class TestInvestigationReadsTheRunsRules:
    def test_hours_from_the_settings_file(self, slow_payment_warehouse, monkeypatch, tmp_path) -> None:
        """A deployment whose pain-point rules give a step other hours to be taken ([abandonment]
        conversion_hours = 48): the notebook's day by day judges as its findings did, with the
        rules JOURNEY_CONFIG names, not with a copy of the default 24."""
        import shutil

        source, run_date = slow_payment_warehouse
        warehouse = tmp_path / "journey.duckdb"
        shutil.copy(source, warehouse)
        (tmp_path / "pain.toml").write_text("[abandonment]\nconversion_hours = 48\n")
        (tmp_path / "journey.toml").write_text('[rules]\npain_points = "pain.toml"\n')
        monkeypatch.setenv("JOURNEY_CONFIG", str(tmp_path / "journey.toml"))
        _, probe = _execute(ROOT / "notebooks" / "02_pain_point_investigation.ipynb", warehouse, monkeypatch,
                            "print(previous_step, step, HOURS)")
        assert probe.strip() == "add_payment_info purchase 48"

    def test_checkout_steps_from_the_settings_files_funnels(self, slow_payment_warehouse, monkeypatch, tmp_path) -> None:
        """A store whose checkout funnel ([rules] funnels) has no add_payment_info step: the
        findings judge purchase from begin_checkout, and so does the notebook."""
        import shutil

        source, run_date = slow_payment_warehouse
        warehouse = tmp_path / "journey.duckdb"
        shutil.copy(source, warehouse)
        (tmp_path / "funnels.toml").write_text(
            '[[funnels]]\nname = "checkout"\nwindow = "7d"\nchannels = ["web"]\n'
            'steps = ["view_item", "add_to_cart", "begin_checkout", "purchase"]\n')
        (tmp_path / "journey.toml").write_text('[rules]\nfunnels = "funnels.toml"\n')
        monkeypatch.setenv("JOURNEY_CONFIG", str(tmp_path / "journey.toml"))
        _, probe = _execute(ROOT / "notebooks" / "02_pain_point_investigation.ipynb", warehouse, monkeypatch,
                            "print(previous_step, step, len(daily) > 0)")
        assert probe.strip() == "begin_checkout purchase True"


def _write_days(landing: Path, channel: str, rows: list[dict]) -> None:
    """Rows (each with its arrival day under "dt") into <landing>/<channel>/dt=<day>/part-0.jsonl."""
    import json

    days: dict[str, list[dict]] = {}
    for row in rows:
        days.setdefault(row.pop("dt"), []).append(row)
    for day, day_rows in days.items():
        folder = landing / channel / f"dt={day}"
        folder.mkdir(parents=True)
        (folder / "part-0.jsonl").write_text("".join(json.dumps(r) + "\n" for r in day_rows))


@pytest.fixture(scope="module")
def orders_only_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store whose web landing holds its shop system's orders only: purchases and refunds, no
    page views, no cart or checkout steps, no e-mail or social. 60 customers, 40 order twice."""
    from datetime import datetime, timedelta

    work = tmp_path_factory.mktemp("orders_only")
    run_date = date(2026, 3, 20)
    rows = []
    for c in range(60):
        for k in range(2 if c < 40 else 1):
            ts = datetime(2026, 3, 1, 12) + timedelta(days=(c % 7) + 9 * k, minutes=c)
            rows.append({"event_id": f"p{c}-{k}", "event_name": "purchase", "user_id": f"u{c}", "order_id": f"o{c}-{k}",
                         "value": 25, "currency": "EUR", "event_ts": ts.isoformat() + "Z", "dt": ts.date().isoformat()})
        if c % 10 == 0:
            ts = datetime(2026, 3, 15, 9, c)
            rows.append({"event_id": f"r{c}", "event_name": "refund", "user_id": f"u{c}", "order_id": f"o{c}-0",
                         "value": 25, "currency": "EUR", "event_ts": ts.isoformat() + "Z", "dt": ts.date().isoformat()})
    _write_days(work / "landing", "web", rows)
    os.environ.setdefault("JOURNEY_HASH_KEY", "test-key")
    runs.run_day_in_process(run_date, work / "landing", work / "journey.duckdb", work / "reports", Settings())
    return work / "journey.duckdb"


@pytest.fixture(scope="module")
def email_social_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A brand with no web tracking: e-mail events (sent, delivered, opened, clicked) and social
    ones (impressions, likes, follows) only, so no orders and no sessions."""
    from datetime import datetime, timedelta

    work = tmp_path_factory.mktemp("email_social")
    run_date = date(2026, 3, 20)
    email, social = [], []
    for c in range(40):
        start = datetime(2026, 3, 1, 9) + timedelta(days=c % 19, minutes=c)
        for i, name in enumerate(["processed", "delivered", "open", "click"][: 2 + c % 3]):
            ts = start + timedelta(minutes=10 * i)
            email.append({"event_id": f"e{c}-{i}", "event_name": name, "email": f"p{c}@example.com", "campaign_id": "spring",
                          "event_ts": ts.isoformat() + "Z", "dt": ts.date().isoformat()})
        for i, name in enumerate(["impression", "like", "follow"][: 1 + c % 3]):
            ts = start + timedelta(hours=5, minutes=i)
            social.append({"event_id": f"s{c}-{i}", "event_name": name, "platform": "instagram", "handle": f"fan{c}",
                           "event_ts": ts.isoformat() + "Z", "dt": ts.date().isoformat()})
    _write_days(work / "landing", "email", email)
    _write_days(work / "landing", "social", social)
    os.environ.setdefault("JOURNEY_HASH_KEY", "test-key")
    runs.run_day_in_process(run_date, work / "landing", work / "journey.duckdb", work / "reports", Settings())
    return work / "journey.duckdb"


class TestNotebooksOnAStoreWithoutCheckoutSteps:
    """Analysts point the notebooks at their own warehouse, which may lack whole channels."""

    @pytest.mark.parametrize("store", ["orders_only_warehouse", "email_social_warehouse"])
    def test_investigation_says_there_is_no_step_to_look_at(self, store, request, monkeypatch) -> None:
        """No one reached add_payment_info: the day-by-day and who-stopped tables are empty. The
        notebook said it looked at the purchase step and showed them empty without a word."""
        notebook, _ = _execute(ROOT / "notebooks" / "02_pain_point_investigation.ipynb", request.getfixturevalue(store),
                               monkeypatch, "")
        assert "No one reached add_payment_info in the four weeks to 2026-03-20" in _printed(notebook)

    def test_tour_says_when_there_is_no_order(self, email_social_warehouse, monkeypatch) -> None:
        """No orders: the cohort retention table was an empty frame with one column, without a word."""
        notebook, _ = _execute(ROOT / "notebooks" / "01_warehouse_tour.ipynb", email_social_warehouse, monkeypatch, "")
        (cell,) = [c for c in notebook.cells if c.cell_type == "code" and "retention = " in c.source]
        shown = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.get("outputs", []))
        assert shown.strip() == "No orders up to 2026-03-20: there is no cohort to show.", shown


    def test_tour_says_why_its_search_funnel_reads_zero(self, email_social_warehouse, monkeypatch) -> None:
        """No search events (many stores log none): the custom funnel was a table of zeros, without a word."""
        notebook, _ = _execute(ROOT / "notebooks" / "01_warehouse_tour.ipynb", email_social_warehouse, monkeypatch, "")
        assert "No search events in this warehouse" in _printed(notebook)

    def test_tour_says_why_its_customer_has_no_sessions(self, email_social_warehouse, monkeypatch) -> None:
        """No web sessions: "how they join" showed one contact and an empty sessions table, without a word."""
        notebook, _ = _execute(ROOT / "notebooks" / "01_warehouse_tour.ipynb", email_social_warehouse, monkeypatch, "")
        assert "This warehouse has no web sessions" in _printed(notebook)


class TestDayByDayColumns:
    def test_named_for_whom_they_are(self, slow_payment_warehouse, monkeypatch) -> None:
        """No finding, so the notebook looks at everyone: the day-by-day table's one column is
        'everyone' (it was headed 'true', the value of in_segment, under a text promising the
        segment and everyone else)."""
        notebook, _ = _execute(ROOT / "notebooks" / "02_pain_point_investigation.ipynb", slow_payment_warehouse[0],
                               monkeypatch, "")
        (cell,) = [c for c in notebook.cells if c.cell_type == "code" and "daily = " in c.source]
        shown = "".join(o.get("data", {}).get("text/plain", "") for o in cell.get("outputs", []))
        header = shown.splitlines()[2]
        assert "everyone" in header and "true" not in header, shown
