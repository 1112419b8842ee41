"""Assembling the dashboard page and the index of runs, written atomically."""

from __future__ import annotations

import html
import os
import re
import shutil
from datetime import date
from pathlib import Path

import duckdb
import plotly.io as pio
from plotly.offline import get_plotlyjs

from journey_analytics.dashboard import sections as s
from journey_analytics.warehouse import has_tables
from journey_analytics.wording import plural

PLOTLY_JS = "plotly.min.js"
# Shown when the page is opened without the reports folder's script (a page sent on its own).
NO_CHARTS_NOTE = (
    f"The charts need {PLOTLY_JS} from the reports folder (the folder above this page's); opened "
    "without it, this page shows its tables and figures only."
)
WIDE = frozenset({"stage-funnel", "pain-points", "checkout-funnel", "touchpoints", "email-health", "classifier", "stage-movements"})

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#0b2545;color:#fff;padding:1.2rem 2rem}
header h1{margin:0;font-size:1.4rem}
header p{margin:.3rem 0 0;opacity:.8}
.figures{display:flex;flex-wrap:wrap;gap:.8rem;padding:1rem 2rem}
.figure{background:#fff;border-radius:8px;padding:.7rem 1rem;box-shadow:0 1px 2px #0002;min-width:9rem}
.figure b{display:block;font-size:1.3rem}
.figure span{font-size:.8rem;color:#566}
.figure span+span{display:block;font-size:.75rem}
main{padding:0 2rem 2rem;display:grid;grid-template-columns:repeat(auto-fit,minmax(min(34rem,100%),1fr));gap:1rem}
section{background:#fff;border-radius:8px;padding:1rem;box-shadow:0 1px 2px #0002;overflow:auto;min-width:0}
section.wide{grid-column:1/-1}
section h2{margin:.1rem 0 .2rem;font-size:1.05rem}
section p.note{margin:0 0 .5rem;color:#566;font-size:.85rem}
body>p.note{margin:0 2rem 1rem;color:#566;font-size:.85rem}
table{border-collapse:collapse;font-size:.82rem;width:100%}
th,td{border-bottom:1px solid #e3e6ea;padding:.3rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{overflow-wrap:normal}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
section h3{margin:.8rem 0 .3rem;font-size:.95rem}
"""


def _atomic_write(path: Path, text: str) -> None:
    """Write a file so that a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _section_html(section: s.Section) -> str:
    body = section.table_html or ""
    if section.figure is not None:
        body = pio.to_html(
            section.figure, include_plotlyjs=False, full_html=False, div_id=f"chart-{section.key}",
            config={"displaylogo": False, "responsive": True},
        )
    return (
        f'<section id="{html.escape(section.key)}" class="{"wide" if section.key in WIDE else ""}" data-kind="{"chart" if section.figure is not None else "table"}">'
        f"<h2>{html.escape(section.title)}</h2><p class=\"note\">{html.escape(section.note)}</p>{body}</section>"
    )


def build_sections(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    evaluation_path: Path | None,
    pain_config: Path | None = None,
    funnel_config: Path | None = None,
) -> list[s.Section]:
    """Every section the warehouse has the tables for, in reading order."""
    candidates = [
        s.stage_funnel(con, as_of),
        s.stage_movements(con, as_of),
        s.stage_mix(con, as_of),
        s.checkout_funnel(con, as_of, funnel_config),
        s.conversion_trend(con, as_of),
        s.pain_points(con, as_of, pain_config),
        s.touchpoints(con, as_of),
        s.acquisition(con, as_of),
        s.email_health(con, as_of, pain_config),
        s.social_health(con, as_of, pain_config),
        s.classifier_evaluation(con, evaluation_path),
    ]
    return [c for c in candidates if c is not None]


def staging_folder(reports: Path, run_id: str) -> Path:
    """Where a run writes its page before the warehouse is published."""
    return Path(reports) / f".build-{run_id}"


def promote_dashboard(reports: Path, run_id: str, as_of: date) -> Path:
    """Move a run's staged page into place and refresh the index; returns the page's path.

    Called after the warehouse is published, so a page never shows a day that was not.
    """
    reports = Path(reports)
    staged = staging_folder(reports, run_id) / as_of.isoformat() / "index.html"
    page = reports / as_of.isoformat() / "index.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, page)
    shutil.rmtree(staging_folder(reports, run_id), ignore_errors=True)
    _write_index(reports)
    return page


def write_dashboard(
    con: duckdb.DuckDBPyConnection,
    reports: Path,
    as_of: date,
    run_id: str,
    evaluation_path: Path | None = None,
    staged: bool = False,
    pain_config: Path | None = None,
    funnel_config: Path | None = None,
    written_again: bool = False,
) -> Path:
    """Write ``reports/<as_of>/index.html`` and refresh ``reports/index.html``; returns the page.

    ``written_again``: the page of a day already run, written later (`journey report`): it says
    how many of its events arrived after it, as its funnels and pain points are its run's.

    With ``staged``, the page goes to the run's staging folder instead, for
    :func:`promote_dashboard` to move into place once the warehouse is published.
    ``pain_config`` and ``funnel_config`` are the run's pain point and funnel files (None: the bundled ones).
    """
    reports = Path(reports)
    reports.mkdir(parents=True, exist_ok=True)
    plotly_js, script = reports / PLOTLY_JS, get_plotlyjs()
    # the installed Plotly's own script: a folder kept from before an upgrade gets the new one
    if not plotly_js.is_file() or plotly_js.read_text(encoding="utf-8", errors="replace") != script:
        _atomic_write(plotly_js, script)
    figures = s.header_figures(con, as_of, run_id)
    # the customers' card says how many of them are identified (the rest are devices and contacts)
    details = {"Customers": s.identified_detail(*s.customers_with_a_stage(con, as_of))}
    figure_html = "".join(
        f'<div class="figure"><b>{html.escape(v)}</b><span>{html.escape(k)}</span>'
        + (f'<span>{html.escape(details[k])}</span>' if k in details else "") + "</div>"
        for k, v in figures
    )
    body = "".join(_section_html(x) for x in build_sections(con, as_of, evaluation_path, pain_config, funnel_config))
    late_note = _late_events_note(con, as_of) + _erasures_note(con, as_of, run_id) if written_again else ""
    late_note = _files_not_read_note(con) + late_note
    root = staging_folder(reports, run_id) if staged else reports
    page = root / as_of.isoformat() / "index.html"
    _atomic_write(
        page,
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>journey-analytics {as_of.isoformat()}</title>
<style>{_CSS}</style>
<script src="../{PLOTLY_JS}"></script>
</head><body>
<header><h1>Customer journeys as of {as_of.isoformat()}</h1>
<p>Run {html.escape(run_id)} &middot; <a style="color:#fff" href="../index.html">all runs</a></p></header>
<p class="note" id="no-charts" hidden>{NO_CHARTS_NOTE}</p>
<script>if (typeof Plotly === "undefined") document.getElementById("no-charts").hidden = false;</script>
<div class="figures">{figure_html}</div>
<p class="note">{html.escape(s.header_note(con, as_of))}</p>
{late_note}<main>{body}</main>
</body></html>
""",
    )
    if not staged:
        _write_index(reports)
    return page


def _late_events_note(con: duckdb.DuckDBPyConnection, as_of: date) -> str:
    """A note, on a page written again after files for its day came late, that the figures read
    from events and sessions count those events while the day's stage funnel, checkout funnel and
    pain points are those its run recorded; else nothing."""
    ((late,),) = con.execute(
        "select count(*) from events where event_ts < cast(? as date) + 1 and arrived_on > cast(? as date)",
        [as_of, as_of],
    ).fetchall()
    if not late:
        return ""
    return (
        f'<p class="note">{plural(late, "event")} of {as_of.isoformat()} or before arrived after it (late files) and '
        f"{'is' if late == 1 else 'are'} counted in the figures above and in the conversion trend, acquisition, touchpoint, e-mail and "
        "social sections; the stage funnel, stage movements, checkout funnel and pain points are those the "
        f"run of {as_of.isoformat()} recorded.</p>\n"
    )


# The landing files that could not be read are named on the page up to this many.
MAX_FILES_NOT_READ_SHOWN = 5


def _files_not_read_note(con: duckdb.DuckDBPyConnection) -> str:
    """A note naming the landing files that could not be read as a whole (a corrupt archive, a
    file cut short, a type or place the contract does not allow, such as a checksum file beside
    the data: their refusals, still in quarantine), whose rows, if any, are in none of the page's
    figures; else nothing. The run said so on the command
    line, while the page said "success: 1 row read, 0 quarantined" as if nothing were missing.
    Such a file is read again by every run, and leaves quarantine once it reads."""
    rows = con.execute(
        "select source_file, error from main.quarantine where line_no is null order by source_file"
    ).fetchall()
    if not rows:
        return ""
    shown = [
        f"{html.escape(str(name))} ({html.escape(str(error or '').removeprefix('file could not be read: '))})"
        for name, error in rows[:MAX_FILES_NOT_READ_SHOWN]
    ]
    if len(rows) > MAX_FILES_NOT_READ_SHOWN:
        shown.append(f"and {plural(len(rows) - MAX_FILES_NOT_READ_SHOWN, 'other file')}")
    return (
        f'<p class="note">{plural(len(rows), "landing file")} could not be read, and any rows in '
        f"{'it are' if len(rows) == 1 else 'them are'} in none of the figures on this page: "
        f"{'; '.join(shown)}. Every run reads such a file again; main.quarantine holds why "
        "(rows with no line_no).</p>\n"
    )


def _erasures_note(con: duckdb.DuckDBPyConnection, as_of: date, run_id: str) -> str:
    """A note, on a page written again after `journey forget` erased customers, that the figures
    read from events, sessions and stages leave them out while the day's stage funnel, stage
    movements, checkout funnel and pain points (aggregates, kept until a run rebuilds them) are
    those its run recorded and may still count them; else nothing."""
    if not has_tables(con, "erasures"):
        return ""
    ((erased,),) = con.execute(
        """
        select count(*) from erasures
        where erased_at > (select max(finished_at) from pipeline_runs where run_id = ?)
        """,
        [run_id],
    ).fetchall()
    if not erased:
        return ""
    return (
        f'<p class="note">{plural(erased, "customer was", "customers were")} erased (journey forget) after the run of {as_of.isoformat()}: '
        "the figures above and the stage mix, conversion trend, acquisition, touchpoint, e-mail and social "
        "sections leave them out; the stage funnel, stage movements, checkout funnel and pain points are "
        f"those the run of {as_of.isoformat()} recorded and may still count them.</p>\n"
    )


class ReportError(Exception):
    """A report that cannot be written, with a message a person can act on."""


def write_report(
    warehouse: Path,
    reports: Path,
    as_of: date | None = None,
    pain_config: Path | None = None,
    funnel_config: Path | None = None,
) -> tuple[Path, date]:
    """Write (again) the dashboard page of a day already run, from the published warehouse.

    The warehouse is opened read-only, so this is safe while a run is building. ``as_of``
    defaults to the latest day with a successful run; the page names that day's latest
    successful run and shows the classifier evaluation of the model trained last on or
    before the day. Returns the page's path and its day."""
    warehouse, reports = Path(warehouse), Path(reports)
    if not warehouse.is_file():
        raise ReportError(f"warehouse not found: {warehouse}")
    if reports.exists() and not reports.is_dir():
        raise ReportError(f"reports path is a file, not a folder: {reports}")
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise ReportError(f"cannot open the warehouse {warehouse}: {str(exc).splitlines()[0]}") from None
    try:
        if not has_tables(con, "pipeline_runs"):
            raise ReportError(f"{warehouse} is not a journey-analytics warehouse (it has no pipeline_runs)")
        days = con.execute(
            """
            select as_of_date, arg_max(run_id, finished_at) from pipeline_runs
            where status = 'success' group by as_of_date order by as_of_date
            """
        ).fetchall()
        if not days:
            raise ReportError(f"no successful run in {warehouse} yet: run `journey run` first")
        runs = dict(days)
        if as_of is None:
            as_of = days[-1][0]
        if as_of not in runs:
            raise ReportError(
                f"no successful run for {as_of} in {warehouse}; days run: {days[0][0]} to {days[-1][0]} "
                f"(run `journey run --date {as_of}` to make that day's page)"
            )
        page = write_dashboard(
            con, reports, as_of, runs[as_of], _evaluation_as_of(warehouse, as_of),
            pain_config=pain_config, funnel_config=funnel_config, written_again=True,
        )
        return page, as_of
    finally:
        con.close()


def _evaluation_as_of(warehouse: Path, as_of: date) -> Path | None:
    """The evaluation report of the stage model trained last on or before a day, if any."""
    from journey_analytics.runs import model_dir_for

    dated = sorted(
        (name.stem.removeprefix("evaluation-"), name)
        for name in model_dir_for(warehouse).glob("evaluation-*.json")
        if re.fullmatch(r"evaluation-\d{4}-\d{2}-\d{2}\.json", name.name)
    )
    earlier = [path for day, path in dated if day <= as_of.isoformat()]
    return earlier[-1] if earlier else None


def _write_index(reports: Path) -> None:
    """The list of every run's page, newest first."""
    days = sorted((p.parent.name for p in reports.glob("*/index.html")), reverse=True)
    items = "".join(f'<li><a href="{html.escape(d)}/index.html">{html.escape(d)}</a></li>' for d in days)
    _atomic_write(
        reports / "index.html",
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>journey-analytics runs</title>
<style>{_CSS}</style></head><body>
<header><h1>journey-analytics: every run</h1></header>
<main><section><ul>{items}</ul></section></main>
</body></html>
""",
    )
