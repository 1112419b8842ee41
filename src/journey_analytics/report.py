"""The per-run report page: ``reports/<date>/index.html`` and ``reports/index.html``.

Until the dashboard lands this is a small self-contained page with the run's headline
figures. Every string is escaped; nothing on the page loads from the network.
"""

from __future__ import annotations

import html
import os
from datetime import date
from pathlib import Path

import duckdb

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}}
th{{text-align:left}}</style></head>
<body>
<h1>{title}</h1>
<p>{intro}</p>
{body}
</body></html>
"""


def _atomic_write(path: Path, text: str) -> None:
    """Write a file so a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _table(rows: list[tuple[str, object]]) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(f'{v:,}' if isinstance(v, int) else str(v))}</td></tr>"
        for k, v in rows
    )
    return f"<table>{cells}</table>"


def write_report(con: duckdb.DuckDBPyConnection, reports: Path, as_of: date, run_id: str) -> Path:
    """Write the run's page and refresh the index of runs; returns the page's path."""
    reports = Path(reports)
    figures = con.execute(
        """
        select
            (select count(distinct customer_id) from main.events),
            (select count(*) from main.events),
            (select count(distinct order_id) from main.events where event_name = 'purchase'),
            (select coalesce(sum(value), 0) from main.events where event_name = 'purchase'),
            (select count(*) from main.sessions),
            (select count(*) from main.quarantine)
        """
    ).fetchall()[0]
    rows = [
        ("Customers", int(figures[0])),
        ("Events", int(figures[1])),
        ("Orders", int(figures[2])),
        ("Revenue", f"{figures[3]:,.2f}"),
        ("Sessions", int(figures[4])),
        ("Rows in quarantine", int(figures[5])),
    ]
    page = reports / as_of.isoformat() / "index.html"
    _atomic_write(
        page,
        _PAGE.format(
            title=html.escape(f"journey-analytics: {as_of.isoformat()}"),
            intro=html.escape(
                f"Run {run_id}. The full dashboard (stages, funnels, pain points) is built by a later release."
            ),
            body=_table(rows),
        ),
    )
    days = sorted((p.parent.name for p in reports.glob("*/index.html")), reverse=True)
    links = "".join(
        f'<li><a href="{html.escape(d)}/index.html">{html.escape(d)}</a></li>' for d in days
    )
    _atomic_write(
        reports / "index.html",
        _PAGE.format(title="journey-analytics runs", intro="One page per run date.", body=f"<ul>{links}</ul>"),
    )
    return page
