"""The nightly flow: landing files to a published DuckDB warehouse, one task per step.

Tasks only call library steps (``journey_analytics.runs``); retries sit on the steps that
read files. A failed run throws its build away, so the published warehouse is untouched.
"""


import signal
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import TerminationSignal

from journey_analytics import runs
from journey_analytics.config import load_settings
from journey_analytics.ingest import KINDS, KindReport, LandingKind


@task(name="open-run", cache_policy=NO_CACHE)
def open_run(as_of: date, landing: Path, warehouse: Path, reports: Path, config: Path | None) -> runs.RunContext:
    """Lock the warehouse and open a private build copy of it."""
    ctx = runs.open_run(as_of, landing, warehouse, reports, load_settings(config))
    logger = get_run_logger()
    logger.info("run %s as of %s: building %s from %s", ctx.run_id, as_of, ctx.build.name, landing)
    for notice in ctx.notices:
        logger.warning(notice)
    return ctx


@task(name="ingest", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def ingest(ctx: runs.RunContext, kind: LandingKind) -> KindReport:
    """Read one landing kind's new files into its raw table; quarantine bad rows."""
    report = runs.ingest_step(ctx, kind)
    get_run_logger().info(
        "ingest %s: %d files read (%d unchanged, skipped); %d rows read, %d loaded, "
        "%d quarantined, %d duplicate, %d late",
        kind.name, report.files_read, report.files_skipped, report.rows_read, report.rows_loaded,
        report.rows_quarantined, report.rows_duplicate, report.rows_late,
    )
    for notice in report.notices:  # a file still being uploaded: read by a later run
        get_run_logger().warning(notice)
    for error in report.file_errors:
        get_run_logger().error("unreadable file %s", error)
    return report


@task(name="stitch-identities", cache_policy=NO_CACHE)
def stitch_identities(ctx: runs.RunContext) -> int:
    """Unify the channels and link identifiers into customers."""
    identifiers = runs.stitch_step(ctx)
    get_run_logger().info("stitched %d identifiers into customers", identifiers)
    return identifiers


@task(name="sessionize", cache_policy=NO_CACHE)
def sessionize(ctx: runs.RunContext) -> int:
    """Group web events into sessions."""
    n = runs.sessionize_step(ctx)
    get_run_logger().info("%s web events given their visit's session; sessions are built with the marts", f"{n:,}")
    return n


@task(name="build-marts", cache_policy=NO_CACHE)
def build_marts(ctx: runs.RunContext) -> dict[str, int]:
    """Build the tables analysts query."""
    counts = runs.marts_step(ctx)
    get_run_logger().info("built %s", ", ".join(f"{k} ({v:,} rows)" for k, v in counts.items()))
    return counts


@task(name="assign-stages", cache_policy=NO_CACHE)
def assign_stages(ctx: runs.RunContext) -> dict[str, Any]:
    """Put every customer in a journey stage, with the rule or model that decided and why."""
    result = runs.stages_step(ctx)
    get_run_logger().info(
        "staged %d of %d customers: %s (by %s); model %s",
        result["staged"], result["customers"], result["by_stage"], result["by_source"],
        "retrained (" + str(result["retrain_reason"]) + ")" if result["model_trained"] else "reused",
    )
    return result


@task(name="build-funnels", cache_policy=NO_CACHE)
def build_funnels(ctx: runs.RunContext) -> dict[str, int]:
    """Build the configured funnels with their drop-off and next events."""
    counts = runs.funnels_step(ctx)
    get_run_logger().info("built funnels: %s", ", ".join(f"{k} ({v:,} rows)" for k, v in counts.items()))
    return counts


@task(name="find-pain-points", cache_policy=NO_CACHE)
def find_pain_points(ctx: runs.RunContext) -> int:
    """Flag funnel drops, abandonment, e-mail and social problems, stuck customers."""
    n = runs.pain_points_step(ctx)
    get_run_logger().info("flagged %d pain points", n)
    return n


@task(name="write-report", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def write_report(ctx: runs.RunContext) -> Path:
    """Write the run's report page."""
    page = runs.report_step(ctx)
    get_run_logger().info("wrote report %s", page)
    return page


@task(name="publish", cache_policy=NO_CACHE)
def publish(ctx: runs.RunContext, report: Path) -> runs.RunSummary:
    """Record the run and swap the build in atomically."""
    summary = runs.finish_run(ctx, report)
    get_run_logger().info("published %s", ctx.warehouse)
    return summary


@flow(name="nightly", log_prints=True)
def nightly(
    as_of: date | None = None,
    landing: Path = Path("data/landing"),
    warehouse: Path = Path("data/warehouse/journey.duckdb"),
    reports: Path = Path("reports"),
    config: Path | None = None,
) -> dict[str, Any]:
    """Process everything that arrived up to ``as_of`` (default yesterday, UTC) and publish it."""
    as_of = as_of or runs.yesterday()
    ctx = None
    try:
        runs.stop_if_signalled()  # (a backfill stopped between two days)
        ctx = open_run(as_of, landing, warehouse, reports, config)
        for kind in KINDS:
            ingest(ctx, kind)
        stitch_identities(ctx)
        sessionize(ctx)
        build_marts(ctx)
        assign_stages(ctx)
        build_funnels(ctx)
        find_pain_points(ctx)
        page = write_report(ctx)
        summary = publish(ctx, page)
    except BaseException as exc:
        stopped = _stopped_by(exc)
        if ctx is not None:  # (a failed open_run gave everything back itself)
            # a run stopped by a signal is not recorded: that would copy the warehouse again,
            # in the seconds before a SIGKILL; the build goes, the warehouse stays as it was
            runs.abort_run(ctx, None if stopped else exc)
        if stopped:
            raise runs.RunStopped(stopped.signum, as_of, ctx.step if ctx else "open") from None
        raise
    return summary.as_dict()


def _stopped_by(exc: BaseException) -> runs.RunStopped | None:
    """The stop a signal caused, if ``exc`` is one: Prefect's SIGTERM bridge raises
    TerminationSignal, Ctrl-C KeyboardInterrupt, the command's handlers and an interrupted
    query RunStopped; a query interrupted outside a timed step (the publish's checkpoint) comes
    as DuckDB's "Query interrupted"."""
    if isinstance(exc, runs.RunStopped):
        return exc
    if stop := runs.stop_of_interrupted_query(exc):
        return stop
    if isinstance(exc, TerminationSignal):
        return runs.RunStopped(exc.signal)
    if isinstance(exc, KeyboardInterrupt):
        return runs.RunStopped(signal.SIGINT)
    return None


@flow(name="backfill")
def backfill(
    start: date,
    end: date,
    landing: Path = Path("data/landing"),
    warehouse: Path = Path("data/warehouse/journey.duckdb"),
    reports: Path = Path("reports"),
    config: Path | None = None,
) -> list[dict[str, Any]]:
    """Run the nightly flow for every day from start to end, in order."""
    results = []
    day = start
    while day <= end:
        results.append(nightly(day, landing, warehouse, reports, config))
        day += timedelta(days=1)
    return results
