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
