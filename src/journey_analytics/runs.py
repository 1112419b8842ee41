"""The steps of one nightly run, as library functions that the Prefect flow calls in order.

A run: open a private build copy of the warehouse (holding the run lock), ingest each
landing kind, stitch identities, sessionize, build the marts, write the report, record
the run in ``pipeline_runs`` and publish the build atomically. :func:`abort_run` throws a
failed build away, leaving the published warehouse as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from journey_analytics import __version__
from journey_analytics.config import Settings
from journey_analytics.contract import install_contract_macros
from journey_analytics.identity import stitch_identities
from journey_analytics.ingest import KINDS, IngestReport, KindReport, LandingError, LandingKind, ingest_kind
from journey_analytics.ingest._landing import entries_no_kind_reads
from journey_analytics.privacy import check_key_fingerprint, install_hash_macro, pseudonymize_address_ids, resolve_key
from journey_analytics.warehouse import (
    build_path_for,
    check_published,
    connect,
    discard_build,
    files_no_wider_than,
    has_tables,
    make_spill_folder,
    memory_limit_bytes,
    publish_build,
    publish_fresh_copy,
    run_model,
    run_script,
    signals_held,
    staged_model_dir,
    start_build,
    umask_of_the_process,
    warehouse_lock,
)

RAW_TABLES = (
    "web_events", "email_events", "social_events", "identities", "labels", "ingested_files", "forgotten_identifiers",
)
LEDGERS = ("quarantine", "pipeline_runs", "erasures")
MARTS = ("events", "identity_map", "sessions")

# Open runs' connections and locks, kept out of RunContext so that the orchestrator, which
# may keep task inputs and results alive, never holds a database handle past its run.
_OPEN: dict[str, tuple[duckdb.DuckDBPyConnection, contextlib.ExitStack]] = {}


@dataclass
class RunContext:
    """Everything one run carries from step to step."""

    run_id: str
    as_of: date
    landing: Path
    warehouse: Path
    reports: Path
    settings: Settings
    build: Path
    started_at: datetime
    step_seconds: dict[str, float] = field(default_factory=dict)
    ingest: IngestReport = field(default_factory=IngestReport)
    table_rows: dict[str, int] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    evaluation_path: Path | None = None
    # an earlier day run again: the later day's customers and customer_stages, put back at the end
    keeps_later_stages: bool = False
    # ids of an older warehouse were rewritten in place: publish a fresh copy of the build, so the
    # old values do not stay in the blocks they were written in
    publish_fresh_copy: bool = False
    step: str = "open"  # the step running (or last run): named when the run is stopped by a signal
    # the build is being swapped in (finish_run): stopped or failed from here, the run may have
    # published, so abort_run leaves its page and model to the next run (as a killed run's)
    publishing: bool = False

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The run's connection to its build file."""
        return _OPEN[self.run_id][0]

    @contextlib.contextmanager
    def timed(self, step: str) -> Iterator[None]:
        """Add the block's wall time to a step's timing. A query interrupted by a signal (its
        handler's exception is lost in DuckDB's "Query interrupted") stops the run, not retried."""
        self.step = step
        stop_if_signalled()
        start = time.perf_counter()
        try:
            yield
            stop_if_signalled()  # (the query the signal interrupted may have been caught and passed over)
        except duckdb.OutOfMemoryException as exc:
            raise RunOutOfMemoryError.in_step(step, self.con, exc) from exc
        except (duckdb.InterruptException, RuntimeError) as exc:
            if stop := stop_of_interrupted_query(exc):
                raise stop from exc
            raise
        finally:
            self.step_seconds[step] = round(
                self.step_seconds.get(step, 0.0) + time.perf_counter() - start, 3
            )


@dataclass(frozen=True)
class RunSummary:
    """What a finished run did, for the command line and the flow's return value."""

    run_id: str
    as_of: date
    warehouse: Path
    report: Path
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    rows_duplicate: int
    rows_late: int
    table_rows: dict[str, int]
    step_seconds: dict[str, float]
    file_errors: list[str]
    notices: list[str]
    rows_forgotten: int = 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat(),
            "warehouse": str(self.warehouse),
            "report": str(self.report),
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "rows_duplicate": self.rows_duplicate,
            "rows_late": self.rows_late,
            "rows_forgotten": self.rows_forgotten,
            "table_rows": self.table_rows,
            "step_seconds": self.step_seconds,
            "file_errors": self.file_errors,
            "notices": self.notices,
        }


def last_successful_day(warehouse: Path) -> date | None:
    """The latest run date the published warehouse holds a successful run for, if any."""
    warehouse = Path(warehouse)
    if not warehouse.exists():
        return None
    con = connect(warehouse, read_only=True)
    try:
        if not has_tables(con, "pipeline_runs"):
            return None
        return con.execute("select max(as_of_date) from main.pipeline_runs where status = 'success'").fetchall()[0][0]
    finally:
        con.close()


def days_to_run(warehouse: Path, through: date, max_catch_up_days: int) -> list[date]:
    """The days a scheduled run must process: every day after the last successful one, through ``through``.

    A fresh warehouse runs ``through`` alone. More missed days than ``max_catch_up_days``
    is refused, so that a long outage is backfilled on purpose, not by surprise.
    """
    last = last_successful_day(warehouse)
    if last is None or last >= through:
        return [through]
    missed = (through - last).days
    if missed > max_catch_up_days:
        raise CatchUpError(
            f"the last successful run was for {last}, {missed} days ago (more than the {max_catch_up_days} "
            f"days a scheduled run catches up); run `journey backfill --start {last + timedelta(days=1)} --end {through}`"
        )
    return [last + timedelta(days=i) for i in range(1, missed + 1)]


class RunStopped(BaseException):
    """A run stopped by a signal (``signum``; None when DuckDB's interrupted query lost which).

    Not an Exception: the orchestrator does not retry it. The flow throws the run's build away
    without recording it, so the published warehouse stays exactly as it was, and raises it
    again with the day and the step it stopped in."""

    def __init__(self, signum: int | None, as_of: date | None = None, step: str | None = None) -> None:
        super().__init__(signum, as_of, step)
        self.signum, self.as_of, self.step = signum, as_of, step


# The build's automatic checkpoint threshold (DuckDB's default is 16 MiB): see open_run.
BUILD_CHECKPOINT_THRESHOLD = "1TB"

# The signals the command has received (its handlers append them; see cli._stopped_by_signals).
# A signal that lands while DuckDB runs a query becomes the query's "Query interrupted", which code
# that goes on after a failed query can catch; so every step checks, as it starts and ends, that
# none has come, and the run stops at the next step at the latest.
STOP_SIGNALS: list[int] = []


def stop_of_interrupted_query(exc: BaseException) -> RunStopped | None:
    """The stop ``exc`` stands for when it is a query a signal interrupted (DuckDB gives the
    handler's exception back as its "Query interrupted"), else None: a step, timed or not
    (opening the run, publishing it), is stopped by it as by the signal itself."""
    if isinstance(exc, duckdb.InterruptException) or (isinstance(exc, RuntimeError) and str(exc) == "Query interrupted"):
        return RunStopped(STOP_SIGNALS[0] if STOP_SIGNALS else None)
    return None


def stop_if_signalled() -> None:
    """Raise RunStopped if the command has received a signal to stop."""
    if STOP_SIGNALS:
        raise RunStopped(STOP_SIGNALS[0])


class RunOutOfMemoryError(RuntimeError):
    """A step needed more memory than ``[warehouse] memory_limit`` gives: DuckDB spills what it
    can to disk, but each query holds some of its work in memory (its hash tables, a row group
    being written per thread), and that part grows with the data. The message names the step,
    the limit and the threads, and what to change."""

    def __init__(self, message: str, step: str) -> None:
        super().__init__(message)
        self.step = step

    def __reduce__(self) -> tuple[Any, ...]:  # (rebuilt from its message and step, as an orchestrator may store it)
        return (type(self), (str(self), self.step))

    @classmethod
    def in_step(cls, step: str, con: duckdb.DuckDBPyConnection, error: BaseException) -> RunOutOfMemoryError:
        """The error of ``step``, whose query on ``con`` raised DuckDB's ``error``."""
        try:
            ((limit, threads),) = con.execute(
                "select current_setting('memory_limit'), current_setting('threads')"
            ).fetchall()
            given = f"{limit} with {threads} thread{'s' if int(threads) != 1 else ''}"
            remedy = "raise memory_limit in the config file" + (", or lower threads" if int(threads) > 1 else "")
        except Exception:  # (a connection the error left unusable: the limit as DuckDB said it)
            given, remedy = "the limit DuckDB reports below", "raise memory_limit in the config file"
        said = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return cls(
            f"the run ran out of memory in its {step} step: [warehouse] memory_limit ({given}) is too "
            f"little for this warehouse's data; {remedy} ({MEMORY_NEEDED}). DuckDB: {said}",
            step,
        )


# What a run needs, as the errors of a run out of memory say it (measured: docs/configuration.md).
MEMORY_NEEDED = "about 250MB plus 30MB per million events is enough; see docs/configuration.md"


class PublishedUnfinishedError(RuntimeError):
    """A run published its warehouse but could not move its page or model into place after."""


class CatchUpError(RuntimeError):
    """Too many missed nights for a scheduled run to catch up on its own."""


def yesterday(timezone: str = "UTC", now: datetime | None = None) -> date:
    """The day before today in a time zone (by default UTC, the time zone of the dt= folders,
    not the machine's), but never a UTC day that has not ended: the dt= folders are UTC days, and
    east of UTC "yesterday" begins before the UTC day does (at 02:00 in Tokyo, 17:00 UTC, the
    UTC day of the same date still has 7 hours to go; the day before is run instead)."""
    now = now if now is not None else datetime.now(UTC)
    return min(now.astimezone(ZoneInfo(timezone)).date(), now.astimezone(UTC).date()) - timedelta(days=1)


def prepare_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw tables and ledgers if they are missing, and add the columns a warehouse made
    by an earlier version lacks (a no-op on an up-to-date warehouse)."""
    con.execute("create schema if not exists raw").fetchall()
    for name in RAW_TABLES:
        run_script(con, "raw", name)
    # the quarantine ledger codes an older warehouse's rows with it; staging codes new refusals
    run_script(con, "macros", "refusal_macros")
    for name in LEDGERS:
        run_script(con, "ledgers", name)


def open_run(
    as_of: date,
    landing: Path,
    warehouse: Path,
    reports: Path,
    settings: Settings,
    run_id: str | None = None,
) -> RunContext:
    """Take the warehouse lock, copy the warehouse to a private build file and prepare it."""
    landing, warehouse, reports = Path(landing), Path(warehouse), Path(reports)
    if warehouse.is_symlink():
        # the file it points to is the warehouse: published beside the link, the build replaced
        # the link with a file, and the file it pointed to stayed at its day
        warehouse = warehouse.resolve()
    if not landing.is_dir():
        raise LandingError(f"landing folder not found: {landing}")
    run_id = run_id or f"{as_of.isoformat()}-{uuid.uuid4().hex[:8]}"
    lock = contextlib.ExitStack()
    lock.enter_context(warehouse_lock(warehouse))
    # the build, its WAL and spill folder no more open than the warehouse until the lock goes
    lock.enter_context(files_no_wider_than(warehouse))
    con = None
    try:
        check_published(warehouse)
        _roll_forward_models(warehouse)
        build = start_build(warehouse, run_id)  # (a disk too full to copy it gives back lock and umask)
    except BaseException:
        lock.close()
        raise
    try:
        key, notice = resolve_key(settings.hash_key_from_environment(), warehouse)
        con = connect(build, memory_limit=settings.warehouse.memory_limit, threads=settings.warehouse.threads)
        # No automatic checkpoints: the build is checkpointed once, as it is published. DuckDB
        # checkpoints the temporary catalog by the same threshold, so every 16 MB of landed rows
        # it compressed tables that ingest drops minutes later (0.3 to 2 s each time, half a
        # CSV day's reading); a crash throws the build away, so its WAL need not be short.
        con.execute(f"set checkpoint_threshold = '{BUILD_CHECKPOINT_THRESHOLD}'").fetchall()
        make_spill_folder(con)  # now, no more open than the warehouse (files_no_wider_than)
        prepare_schema(con)
        _finish_pages(con, warehouse, reports)
        check_key_fingerprint(con, key)
        install_hash_macro(con, key)
        install_contract_macros(con)
        run_script(con, "macros", "landing_macros")
        run_script(con, "macros", "identity_macros")
        rewritten = pseudonymize_address_ids(con)  # ids loaded before they were pseudonymized
        con.execute(f"set variable earliest_event_year = {int(settings.ingest.earliest_event_year)}").fetchall()
        con.execute(f"set variable max_future_days = {int(settings.ingest.max_future_days)}").fetchall()
    except BaseException as exc:
        discard_build(con, build)
        lock.close()
        if stop := stop_of_interrupted_query(exc):  # (as in a step: see RunContext.timed)
            raise stop from exc
        raise
    ctx = RunContext(
        run_id=run_id,
        as_of=as_of,
        landing=landing,
        warehouse=warehouse,
        reports=reports,
        settings=settings,
        build=build,
        started_at=datetime.now(UTC).replace(tzinfo=None),
        publish_fresh_copy=rewritten > 0,
    )
    _OPEN[run_id] = (con, lock)
    if notice:
        ctx.notices.append(notice)
    ctx.notices.extend(entries_no_kind_reads(landing, KINDS))  # emails/ for email/: read by no kind
    return ctx


def ingest_step(ctx: RunContext, kind: LandingKind) -> KindReport:
    """Ingest one landing kind; its writes are one transaction, so a retried step starts clean."""
    from journey_analytics import progress

    def show(name: str, done: int, total: int) -> None:
        progress.report(f"ingest {kind.name}", done, total, name)

    with ctx.timed(f"ingest_{kind.name}"):
        report = ingest_kind(ctx.con, ctx.landing, kind, ctx.as_of, ctx.run_id, ctx.settings, show)
        if kind.name in UNCOUNTED_NAME_KINDS:
            said = f"{kind.name} events named "  # said once, should the step be retried
            ctx.notices = [n for n in ctx.notices if not n.startswith(said)] + _uncounted_event_names(ctx, kind)
    ctx.ingest.kinds = [k for k in ctx.ingest.kinds if k.kind != kind.name] + [report]
    ctx.notices.extend(report.notices)  # files still being uploaded: said on every run they are there
    return report


# The channels whose measures count the contract's event names alone (e-mail health, social care):
# an event a tool names its own way (Klaviyo's "Received Email") loads, as the contract keeps
# names as given, but counts in none of them. Web events of one's own are common (and funnels
# may use them), so they are not said.
UNCOUNTED_NAME_KINDS = ("email", "social")


def _uncounted_event_names(ctx: RunContext, kind: LandingKind) -> list[str]:
    """A notice naming the event names of ``kind`` this run loaded that are none of the
    contract's (the five most frequent), or nothing."""
    from journey_analytics.contract import EVENT_NAMES

    rows = ctx.con.execute(
        f"""
        select event_name, count(*) from {kind.raw_table}
        where run_id = ? and not list_contains(?, event_name)
        group by 1 order by 2 desc, 1
        """,
        [ctx.run_id, list(EVENT_NAMES[kind.name])],
    ).fetchall()
    if not rows:
        return []
    named = ", ".join(f"{name[:40]!r} ({n:,})" for name, n in rows[:5])
    more = f" and {len(rows) - 5:,} other names" if len(rows) > 5 else ""
    measure = "e-mail health" if kind.name == "email" else "social care and sentiment"
    return [
        f"{kind.name} events named {named}{more} are none of the contract's names: they are loaded,"
        f" but {measure} counts none of them (docs/landing-from-tools.md maps tools' names)"
    ]


def _write_run_parameters(ctx: RunContext) -> None:
    """The settings the models read, as a one-row temporary table."""
    s = ctx.settings
    ctx.con.execute(
        """
        create or replace temp table run_parameters as
        select
            cast(? as date) as as_of_date,
            cast(? as integer) as session_timeout_minutes,
            cast(? as boolean) as split_session_on_new_campaign,
            cast(? as boolean) as link_device_to_latest_identity_only,
            cast(? as bigint) as max_devices_per_person,
            cast(? as bigint) as max_people_per_identifier
        """,
        [
            ctx.as_of,
            s.sessions.timeout_minutes,
            s.sessions.split_on_new_campaign,
            s.identity.link_device_to_latest_identity_only,
            s.identity.max_devices_per_person,
            s.identity.max_people_per_identifier,
        ],
    ).fetchall()


# Bytes of [warehouse] memory_limit per event below which the stitched events are built as a
# table of their own (stitch_apart). Within the events mart's one query, the stitching's joins
# keep their hash tables beside the sessions' join, and the mart needed about 100MB more per
# million events (3.9 million events: 506MB; built apart, 213MB); twice that leaves a margin.
STITCH_APART_BELOW_BYTES_PER_EVENT = 200


def stitch_apart(n_events: int, memory_limit: int) -> bool:
    """Whether a run of ``n_events`` events (the raw tables' rows) with ``memory_limit`` bytes
    builds events_stitched as a table of its own in the stitch step, rather than as a view the
    events mart computes. Apart, the mart needs far less memory, and the run takes about as long
    while the table fits in memory; once it spills to disk the run is slower (at 10 million
    events with 4GB: about 15%), so it is built apart only when memory is short for the view."""
    return n_events * STITCH_APART_BELOW_BYTES_PER_EVENT > memory_limit


def stitch_step(ctx: RunContext, apart: bool | None = None) -> int:
    """Unify the channels and stitch identities; returns the number of identifiers. The stitched
    events are a view, or a table of their own when ``apart`` (by default, as :func:`stitch_apart`
    decides from the events and ``[warehouse] memory_limit``); the warehouse is the same."""
    with ctx.timed("stitch_identities"):
        _write_run_parameters(ctx)
        run_model(ctx.con, "intermediate", "social_thread_askers")
        run_model(ctx.con, "intermediate", "events_unioned")
        stitch_identities(ctx.con)
        if apart is None:
            ((n_events,),) = ctx.con.execute(
                "select (select count(*) from raw.web_events) + (select count(*) from raw.email_events)"
                " + (select count(*) from raw.social_events)"
            ).fetchall()
            apart = stitch_apart(int(n_events), memory_limit_bytes(ctx.con))
        run_model(ctx.con, "intermediate", "events_stitched", as_table=apart)
        return int(ctx.con.execute("select count(*) from identities_stitched").fetchall()[0][0])


def sessionize_step(ctx: RunContext) -> int:
    """Find the session ids the source gave to several customers (a small table), each web
    event's session (a narrow table), and define the sessionizing step (a view, computed once
    into the events mart); returns the number of web events sessionized.

    The web events' sessions are a table of their own, not part of the view: the mart's query
    would otherwise hold the hash tables of some forty joins at once, and a run with a small
    memory limit ran out of it there instead of spilling."""
    with ctx.timed("sessionize"):
        run_model(ctx.con, "intermediate", "session_ids_shared")
        n_web_events = run_model(ctx.con, "intermediate", "web_event_sessions")
        run_model(ctx.con, "intermediate", "events_sessionized")
        return n_web_events


def marts_step(ctx: RunContext) -> dict[str, int]:
    """Build the published tables analysts query; returns their row counts."""
    with ctx.timed("build_marts"):
        # The marts carry their own ORDER BY where order matters; without one, the engine may
        # write rows in any order, which is faster. Ingest keeps insertion order (line numbers).
        ctx.con.execute("set preserve_insertion_order = false").fetchall()
        try:
            for name in MARTS:
                ctx.table_rows[name] = run_model(ctx.con, "marts", name)
                if name == "events":  # the order macros read main.events, so they are defined once it is built
                    run_script(ctx.con, "macros", "order_macros")
        finally:
            ctx.con.execute("reset preserve_insertion_order").fetchall()
    return {name: ctx.table_rows[name] for name in MARTS}


def model_dir_for(warehouse: Path) -> Path:
    """Where the stage classifier and its evaluation reports are kept: beside the warehouse."""
    return warehouse.parent / f"{warehouse.stem}-models"


def _promote_model(staged: Path, warehouse: Path) -> None:
    """Move a run's retrained classifier and its reports into the model folder (after the
    publish). The reports go first and the model file last, each with one atomic rename."""
    if not staged.is_dir():
        return
    # imported here, past the check: it loads scikit-learn (about a second)
    from journey_analytics.stages.model import MODEL_FILE

    target = model_dir_for(warehouse)
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(staged.iterdir(), key=lambda p: (p.name == MODEL_FILE, p.name)):
        os.replace(path, target / path.name)
    staged.rmdir()


# A run's staged dashboard folder holds this file naming its warehouse, so that a later run
# of the same warehouse knows the folder is its own to finish or remove.
_PAGE_OWNER = ".warehouse"


def _finish_pages(con: duckdb.DuckDBPyConnection, warehouse: Path, reports: Path) -> None:
    """Finish the page move of a run killed just after it published (its page still in its
    staging folder), and remove the staging folders of this warehouse's runs killed before they
    published. Called with the warehouse's lock held, so none of them is running."""
    from journey_analytics.dashboard import promote_dashboard, staging_folder

    folders = [f for f in reports.glob(".build-*") if f.is_dir()] if reports.is_dir() else []
    if not folders:
        return
    ids = [f.name.removeprefix(".build-") for f in folders]
    published = dict(con.execute(
        "select run_id, as_of_date from main.pipeline_runs where status = 'success' and list_contains(?, run_id)",
        [ids],
    ).fetchall())
    own = str(warehouse.resolve())
    for folder, run_id in zip(folders, ids, strict=True):
        owner = folder / _PAGE_OWNER
        if run_id in published:
            if (staging_folder(reports, run_id) / published[run_id].isoformat() / "index.html").is_file():
                with umask_of_the_process():  # the reports folder's access, not the warehouse's
                    promote_dashboard(reports, run_id, published[run_id])
            else:
                shutil.rmtree(folder, ignore_errors=True)
        elif owner.is_file() and owner.read_text(encoding="utf-8") == own:
            shutil.rmtree(folder, ignore_errors=True)


def _roll_forward_models(warehouse: Path) -> None:
    """Finish the model move of a run killed just after it published (its warehouse is in
    place, its retrained model still in the run's folder). Folders of runs that did not
    publish are thrown away with the other build leftovers (see start_build)."""
    staged = [p for p in warehouse.parent.glob(staged_model_dir(build_path_for(warehouse, "*")).name) if p.is_dir()]
    if not staged or not warehouse.exists():
        return
    con = connect(warehouse, read_only=True)
    try:
        published = {
            staged_model_dir(build_path_for(warehouse, run_id))
            for (run_id,) in con.execute("select run_id from main.pipeline_runs where status = 'success'").fetchall()
        }
    finally:
        con.close()
    for folder in staged:
        if folder in published:
            _promote_model(folder, warehouse)


def _assign_stages(ctx: RunContext, day: date) -> Any:
    """The stage step's work for one day on the run's connection (a retrained model waits in the
    run's own folder until the publish)."""
    from journey_analytics.stages import assign_stages

    return assign_stages(
        ctx.con, day, rules_path=ctx.settings.rule_file("stages"),
        model_dir=model_dir_for(ctx.warehouse), save_dir=staged_model_dir(ctx.build),
    )


def stages_step(ctx: RunContext) -> dict[str, Any]:
    """Give every customer a stage as of the run date (rules, then the classifier)."""
    with ctx.timed("stages"):
        ctx.keeps_later_stages = _keep_later_stages(ctx)
        result = _assign_stages(ctx, ctx.as_of)
    ctx.evaluation_path = result.evaluation_path
    ctx.table_rows["customers"] = result.customers
    ctx.table_rows["customer_stages"] = result.staged
    ctx.notices.extend(result.notices)
    return result.as_dict()


_LATEST_DAY_TABLES = ("customer_stages", "customers")


def _keep_later_stages(ctx: RunContext) -> bool:
    """When an earlier day is run again, keep the later day's customers and customer_stages
    aside: the stage step rewrites them for this day (its funnels, pain points and page read
    them), and :func:`finish_run` puts the later day's back, so they hold the latest day."""
    if not has_tables(ctx.con, *_LATEST_DAY_TABLES):
        return False
    (later,) = ctx.con.execute(
        "select coalesce(max(as_of_date) > ?, false) from main.customer_stages", [ctx.as_of]
    ).fetchall()[0]
    if later:
        for table in _LATEST_DAY_TABLES:
            ctx.con.execute(f"create or replace temp table kept_{table} as select * from main.{table}").fetchall()
    return bool(later)


def _put_back_later_stages(ctx: RunContext) -> None:
    """Put back the later day's customers and customer_stages (see :func:`_keep_later_stages`)."""
    for table in _LATEST_DAY_TABLES:
        ctx.con.execute("begin transaction").fetchall()
        try:
            ctx.con.execute(f"delete from main.{table}").fetchall()
            ctx.con.execute(f"insert into main.{table} by name select * from kept_{table}").fetchall()
            ctx.con.execute("commit").fetchall()
        except duckdb.Error:  # the table changed shape since (a new version): this day's stays
            ctx.con.execute("rollback").fetchall()
            ctx.notices.append(f"{table} holds {ctx.as_of}, the day run again, not the later day it held")


def _restate_later_day(ctx: RunContext) -> None:
    """An earlier day run again loaded rows, or put an earlier delivery of events in place of the
    later one loaded before (its files came late): customers and customer_stages, which hold the
    latest day, are built again as of that day with them, so they agree with events and
    identity_map (put back as they were, they named customers the late identities had merged
    and counted none of the late orders). That day's stage history
    row, transitions and stage funnel are restated with them; its funnels, pain points and page
    stay as that day's run wrote them."""
    ((later,),) = ctx.con.execute("select max(as_of_date) from kept_customer_stages").fetchall()
    with ctx.timed("restate_latest_stages"):
        result = _assign_stages(ctx, later)
    ctx.notices.append(f"{later}, the latest day run, was restated with the rows this run loaded late")
    ctx.notices.extend(result.notices)


def funnels_step(ctx: RunContext) -> dict[str, int]:
    """Build the configured funnels (this period and the previous one) and what drop-outs did next."""
    from journey_analytics.funnels import build_funnels
    from journey_analytics.funnels.build import steps_no_event_carries

    with ctx.timed("funnels"):
        counts = build_funnels(ctx.con, ctx.as_of, config_path=ctx.settings.rule_file("funnels"))
        said = [n for n in ctx.notices if not n.startswith("funnel ")]  # said once, should the step be retried
        ctx.notices = said + steps_no_event_carries(ctx.con, config_path=ctx.settings.rule_file("funnels"))
    ctx.table_rows.update(counts)
    return counts


def pain_points_step(ctx: RunContext) -> int:
    """Flag the findings worth a person's attention; returns how many."""
    from journey_analytics.pain_points import find_pain_points

    with ctx.timed("pain_points"):
        findings = find_pain_points(
            ctx.con, ctx.as_of, ctx.settings.rule_file("pain_points"), ctx.settings.rule_file("funnels")
        )
    ctx.table_rows["pain_points"] = len(findings)
    return len(findings)


def report_step(ctx: RunContext) -> Path:
    """Write the run's dashboard page into a staging folder; finish_run moves it into place."""
    from journey_analytics.dashboard import staging_folder, write_dashboard

    # the reports folder's access, not the warehouse's (the run narrowed the umask for its build)
    with ctx.timed("report"), umask_of_the_process():
        page = write_dashboard(
            ctx.con, ctx.reports, ctx.as_of, ctx.run_id, ctx.evaluation_path, staged=True,
            pain_config=ctx.settings.rule_file("pain_points"), funnel_config=ctx.settings.rule_file("funnels"),
        )
        (staging_folder(ctx.reports, ctx.run_id) / _PAGE_OWNER).write_text(str(ctx.warehouse.resolve()), encoding="utf-8")
        return page


def finish_run(ctx: RunContext, report: Path) -> RunSummary:
    """Record the run in pipeline_runs, publish the build atomically and release the lock."""
    ctx.step = "publish"
    stop_if_signalled()
    totals = {a: ctx.ingest.total(a) for a in (
        "rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate", "rows_late",
        "files_read", "files_skipped", "rows_forgotten",
    )}
    if ctx.keeps_later_stages:
        # files came late: the later day must know their rows, loaded or put in place of a later
        # delivery of the same events (the earliest delivery is kept)
        if totals["rows_loaded"] or ctx.ingest.total("rows_replaced"):
            _restate_later_day(ctx)
        else:
            _put_back_later_stages(ctx)
    finished_at = datetime.now(UTC).replace(tzinfo=None)
    ctx.con.execute(
        """
        insert into main.pipeline_runs (
            run_id, as_of_date, started_at, finished_at, status, rows_read, rows_loaded,
            rows_quarantined, rows_duplicate, rows_late, files_read, files_skipped,
            step_seconds, pipeline_version, rows_forgotten
        ) values (?, ?, ?, ?, 'success', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            ctx.run_id, ctx.as_of, ctx.started_at, finished_at,
            totals["rows_read"], totals["rows_loaded"], totals["rows_quarantined"],
            totals["rows_duplicate"], totals["rows_late"], totals["files_read"],
            totals["files_skipped"], json.dumps(ctx.step_seconds), __version__,
            totals["rows_forgotten"],
        ],
    ).fetchall()
    ctx.publishing = True
    con, lock = _OPEN.pop(ctx.run_id)
    try:
        if ctx.publish_fresh_copy:
            # ids were rewritten where they lay: publish a copy, not the blocks that held them
            publish_fresh_copy(con, ctx.build, ctx.warehouse)
        else:
            publish_build(con, ctx.build, ctx.warehouse)
        try:
            _promote_model(staged_model_dir(ctx.build), ctx.warehouse)
            report = _promote_report(ctx, report)
        except Exception as exc:  # the day is published: say so, not that the run failed
            raise PublishedUnfinishedError(
                f"run {ctx.run_id} published the warehouse as of {ctx.as_of}, but could not put its "
                f"dashboard page or retrained stage model in place ({type(exc).__name__}: {exc}); "
                "the next run puts them in place"
            ) from exc
    finally:
        lock.close()
    return RunSummary(
        run_id=ctx.run_id,
        as_of=ctx.as_of,
        warehouse=ctx.warehouse,
        report=report,
        rows_read=totals["rows_read"],
        rows_loaded=totals["rows_loaded"],
        rows_quarantined=totals["rows_quarantined"],
        rows_duplicate=totals["rows_duplicate"],
        rows_late=totals["rows_late"],
        rows_forgotten=totals["rows_forgotten"],
        table_rows=dict(ctx.table_rows),
        step_seconds=dict(ctx.step_seconds),
        file_errors=ctx.ingest.file_errors,
        notices=list(ctx.notices),
    )


def _promote_report(ctx: RunContext, staged: Path) -> Path:
    """Move a staged dashboard page into place (once the warehouse is published)."""
    from journey_analytics.dashboard import promote_dashboard, staging_folder

    if staged.is_file() and staging_folder(ctx.reports, ctx.run_id) in staged.parents:
        with umask_of_the_process():  # the reports folder's access, not the warehouse's
            return promote_dashboard(ctx.reports, ctx.run_id, ctx.as_of)
    return staged


def abort_run(ctx: RunContext, error: BaseException | None = None) -> None:
    """Throw the build away and release the lock; the published warehouse keeps its data.

    With ``error``, the failure is recorded in ``pipeline_runs`` (status 'failed') through a
    small publish of its own, so the run's health is visible to analysts and the dashboard.
    """
    from journey_analytics.dashboard import staging_folder

    con, lock = _OPEN.pop(ctx.run_id, (None, None))
    try:
        with signals_held():  # (a signal meanwhile comes once the run's files are gone)
            if ctx.publishing:
                # stopped (a signal raises anywhere) or failed as it published: the build may already
                # be the warehouse, its page and retrained model still staged. Whether it published is
                # pipeline_runs' to say, so they are left to the next run, which puts them in place or
                # removes them (_finish_pages, _roll_forward_models, start_build), as a killed run's.
                discard_build(con, ctx.build, keep_staged_model=True)
            else:
                discard_build(con, ctx.build)
                shutil.rmtree(staging_folder(ctx.reports, ctx.run_id), ignore_errors=True)
        if error is not None and ctx.warehouse.exists():
            _record_failure(ctx, error)
    finally:
        if lock is not None:
            lock.close()


def _record_failure(ctx: RunContext, error: BaseException) -> None:
    """Append a 'failed' row to pipeline_runs of the published warehouse (best effort)."""
    with files_no_wider_than(ctx.warehouse):  # its build and WAL no more open than the warehouse
        build = start_build(ctx.warehouse, ctx.run_id + "-failed")
        con = None
        try:
            con = connect(build)
            prepare_schema(con)
            if con.execute(  # it published before it failed: its success row stands alone
                "select count(*) from main.pipeline_runs where run_id = ? and status = 'success'", [ctx.run_id]
            ).fetchall()[0][0]:
                discard_build(con, build)
                return
            message = (str(error).strip().splitlines() or [type(error).__name__])[0][:500]
            con.execute(
                "insert into main.pipeline_runs (run_id, as_of_date, started_at, finished_at, status, rows_read, "
                "rows_loaded, rows_quarantined, rows_duplicate, rows_late, files_read, files_skipped, step_seconds, "
                "pipeline_version, error) values (?, ?, ?, ?, 'failed', 0, 0, 0, 0, 0, 0, 0, ?, ?, ?)",
                [ctx.run_id, ctx.as_of, ctx.started_at, datetime.now(UTC).replace(tzinfo=None),
                 json.dumps(ctx.step_seconds), __version__, f"{type(error).__name__}: {message}"],
            ).fetchall()
            publish_build(con, build, ctx.warehouse)
        except BaseException as exc:  # (a failure is recorded at best effort; a stop goes on)
            discard_build(con, build)
            if not isinstance(exc, Exception):
                raise


def build_through_sessions(ctx: RunContext) -> None:
    """The nightly flow's steps from the landing files to the published tables (``events``,
    ``identity_map``, ``sessions``), in their order: ingest every kind, stitch, sessionize,
    build the marts. What the benchmark times; the caller opens the run and finishes or aborts it."""
    for kind in KINDS:
        ingest_step(ctx, kind)
    stitch_step(ctx)
    sessionize_step(ctx)
    marts_step(ctx)


def run_day_in_process(
    as_of: date, landing: Path, warehouse: Path, reports: Path, settings: Settings
) -> RunSummary:
    """Every step of the nightly flow, in its order, without the orchestrator.

    For tests, benchmarks and evaluations; the Prefect flow calls the same steps as tasks
    (and records a failure in pipeline_runs; here a failure only leaves the warehouse as it was).
    """
    ctx = open_run(as_of, landing, warehouse, reports, settings)
    try:
        build_through_sessions(ctx)
        stages_step(ctx)
        funnels_step(ctx)
        pain_points_step(ctx)
        return finish_run(ctx, report_step(ctx))
    except BaseException:
        abort_run(ctx)
        raise
