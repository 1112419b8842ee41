"""The ``journey`` command line: simulate, run, backfill, report, serve, forget, find.

Errors a user can fix (a missing folder, a bad date, a wrong config) print one line and
exit non-zero; set JOURNEY_DEBUG=1 to see the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from journey_analytics.wording import plural

if TYPE_CHECKING:
    from journey_analytics.config import Settings

EXIT_USAGE = 2
EXIT_FAILED = 1


class CommandError(Exception):
    """A problem the user can fix, reported as one line."""


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--landing", type=Path, required=True, help="landing folder (web/, email/, social/, identities/, labels/)")
    parser.add_argument("--warehouse", type=_warehouse_path, default="data/warehouse/journey.duckdb", help="DuckDB warehouse file (default: %(default)s)")
    parser.add_argument("--reports", type=Path, default=Path("reports"), help="folder for report pages (default: %(default)s)")
    parser.add_argument("--config", type=Path, default=None, help="TOML settings file (see docs/configuration.md)")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, not a usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(prog="journey", description="Customer journey analytics over web, e-mail and social event logs.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    simulate = sub.add_parser("simulate", help="write a simulated landing folder with its ground truth")
    simulate.add_argument("--customers", type=_positive_int, required=True)
    simulate.add_argument("--days", type=_positive_int, required=True)
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument("--out", type=Path, required=True, help="landing folder to create (must not exist or be empty)")
    simulate.add_argument("--start", type=_parse_date, default=date(2026, 10, 1), help="first simulated day (default: %(default)s)")
    simulate.add_argument("--format", dest="formats", default="mixed", choices=["mixed", "jsonl", "jsonl.gz", "csv", "parquet"])

    run = sub.add_parser("run", help="process everything that arrived up to a day and publish the warehouse")
    run.add_argument("--date", type=_parse_date, default=None, help="run date, YYYY-MM-DD (default: yesterday, UTC)")
    _add_run_options(run)

    backfill = sub.add_parser("backfill", help="run every day of a range, in order")
    backfill.add_argument("--start", type=_parse_date, required=True)
    backfill.add_argument("--end", type=_parse_date, required=True)
    _add_run_options(backfill)

    report = sub.add_parser("report", help="write a day's dashboard page again from the warehouse, without running")
    report.add_argument("--date", type=_parse_date, default=None, help="day to report, YYYY-MM-DD (default: the latest day run)")
    report.add_argument("--warehouse", type=_warehouse_path, default="data/warehouse/journey.duckdb", help="DuckDB warehouse file (default: %(default)s)")
    report.add_argument("--reports", type=Path, default=Path("reports"), help="folder for report pages (default: %(default)s)")
    report.add_argument("--config", type=Path, default=None, help="TOML settings file (for [rules] pain_points and funnels)")

    serve = sub.add_parser("serve", help="run the nightly flow on a schedule (a Prefect deployment) until stopped")
    serve.add_argument("--cron", default="0 2 * * *", help="cron schedule (default: %(default)s)")
    serve.add_argument("--timezone", default="UTC", help="time zone of the schedule and of 'yesterday' (default: %(default)s)")
    _add_run_options(serve)

    forget = sub.add_parser("forget", help="erase one customer from every table and from later runs, and record the erasure")
    forget.add_argument("--customer", required=True, help="customer_id (see identity_map), one of the customer's user ids, or their e-mail address")
    forget.add_argument("--warehouse", type=_warehouse_path, required=True, help="DuckDB warehouse file to erase the customer from")
    forget.add_argument("--config", type=Path, default=None, help="TOML settings file (for [privacy] hash_key)")

    find = sub.add_parser("find", help="name the customer of a customer_id, user id or e-mail address, and how to query their journey")
    find.add_argument("--customer", required=True, help="customer_id (see identity_map), one of the customer's user ids, or their e-mail address")
    find.add_argument("--warehouse", type=_warehouse_path, default="data/warehouse/journey.duckdb", help="DuckDB warehouse file (default: %(default)s)")
    find.add_argument("--config", type=Path, default=None, help="TOML settings file (for [privacy] hash_key)")
    return parser


def _quiet_prefect() -> None:
    """Defaults that keep a local Prefect run quiet and offline."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    if not os.environ.get("JOURNEY_DEBUG"):
        # A failed step is told in one line (see main), not after the orchestrator's tracebacks of
        # the step and the flow on the terminal; they still reach the Prefect API's logs, and the
        # run's notices and unreadable files are in the command's summary.
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")


def _check_run_inputs(args: argparse.Namespace, hold: contextlib.ExitStack | None = None) -> None:
    """Refuse, in one line and before anything is written, what would fail inside the run.

    With ``hold``, the warehouse's lock stays held in it for the runs the command starts, so a
    second command started meanwhile is refused here too, not inside its flow."""
    if args.landing.exists() and not args.landing.is_dir():
        raise CommandError(f"landing path is a file, not a folder: {args.landing}")
    if not args.landing.is_dir():
        raise CommandError(f"landing folder not found: {args.landing}")
    flag, last = ("--end", args.end) if args.command == "backfill" else ("--date", getattr(args, "date", None))
    if last is not None:
        _refuse_day_not_come(flag, last, args.landing)
    from journey_analytics.config import load_settings

    settings = load_settings(args.config)  # a wrong config is refused here, in one line
    _check_rule_files(settings)
    reports = getattr(args, "reports", None)
    if reports is not None and reports.exists() and not reports.is_dir():
        raise CommandError(f"reports path is a file, not a folder: {reports}")
    warehouse = getattr(args, "warehouse", None)
    if warehouse is None:
        return
    if warehouse.is_dir():
        raise CommandError(f"warehouse path is a folder, not a DuckDB file: {warehouse}")
    folder = next((p for p in warehouse.parents if p.exists()), None)
    if folder is not None and not folder.is_dir():
        raise CommandError(f"the warehouse's folder is a file: {folder}")
    _refuse_other_files(warehouse)
    if args.command in ("run", "backfill"):
        from journey_analytics.privacy import check_key_before_run
        from journey_analytics.warehouse import warehouse_lock

        key = settings.hash_key_from_environment()  # an empty JOURNEY_HASH_KEY is refused before anything is written
        with contextlib.ExitStack() as lock:
            lock.enter_context(warehouse_lock(warehouse, for_runs=hold is not None))  # refuse now, in one line
            check_key_before_run(key, warehouse)
            _refuse_landing_without_kinds(args.landing)
            if hold is not None:
                hold.push(lock.pop_all())


def _refuse_landing_without_kinds(landing: Path) -> None:
    """Refuse a landing folder with no folder of any landing kind: a wrong path (the folder above,
    a dt= folder) would otherwise publish an empty warehouse and dashboard. (``serve`` may start
    before the first files land, so it is not asked.)"""
    from journey_analytics.ingest import KINDS

    if not any((landing / kind.name).is_dir() for kind in KINDS):
        raise CommandError(
            f"landing folder has none of {', '.join(k.name + '/' for k in KINDS)}: {landing} (is it the right folder?)"
        )


# A DuckDB database file holds these bytes at this offset (its magic number).
_DUCKDB_MAGIC, _DUCKDB_MAGIC_AT = b"DUCK", 8


def _warehouse_path(text: str) -> Path:
    """A --warehouse path; a symbolic link stands for the file it points to (the run publishes
    that file; its lock, key and model are beside it, not beside the link)."""
    path = Path(text)
    return path.resolve() if path.is_symlink() else path


def _refuse_other_files(warehouse: Path) -> None:
    """Refuse a warehouse path that holds a file other than a DuckDB database (a CSV given by
    mistake), before anything opens it: DuckDB would fail inside the run."""
    if not warehouse.is_file() or warehouse.stat().st_size == 0:
        return
    with warehouse.open("rb") as f:
        head = f.read(_DUCKDB_MAGIC_AT + len(_DUCKDB_MAGIC))
    if head[_DUCKDB_MAGIC_AT:] != _DUCKDB_MAGIC:
        raise CommandError(f"not a DuckDB database: {warehouse}")


def _check_rule_files(settings: Settings) -> None:
    """Read the stage, funnel and pain point rule files, so that a wrong one is refused in one
    line before the run, not after its ingest."""
    from journey_analytics.funnels.config import FunnelConfigError, load_funnel_config
    from journey_analytics.pain_points import PainPointConfigError
    from journey_analytics.pain_points import load_config as load_pain_point_config
    from journey_analytics.stages import StageConfigError, load_stage_config

    try:
        load_stage_config(settings.rule_file("stages"))
        load_funnel_config(settings.rule_file("funnels"))
        load_pain_point_config(settings.rule_file("pain_points"))
    except (StageConfigError, FunnelConfigError, PainPointConfigError) as exc:
        raise CommandError(str(exc).strip().splitlines()[0]) from None


def _refuse_day_not_come(flag: str, day: date, landing: Path) -> None:
    """Refuse a run date after tomorrow (UTC) that the landing folder has no day for (a typo such
    as 2099): the run would stand as the newest day and hold the customer tables there, since
    runs of earlier days do not rewrite them. Simulated data of days to come still runs."""
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    if day <= tomorrow:
        return
    from journey_analytics.ingest import KINDS
    from journey_analytics.ingest._landing import last_landing_day

    newest = last_landing_day(landing, KINDS)
    if newest is None or day > newest:
        has = f"its last day is dt={newest}" if newest else "it has no dt= folder"
        raise CommandError(
            f"{flag} {day} has not come yet and the landing folder has nothing for it ({has}); a run for it "
            "would stand as the newest day and hold the customers and their stages there"
        )


def _print_summary(summary: dict[str, Any], seconds: float) -> None:
    rows = summary["table_rows"]
    print(f"journey run {summary['as_of']} finished in {seconds:.1f} s (run {summary['run_id']})")
    print(
        f"  read {plural(summary['rows_read'], 'row')}: {summary['rows_loaded']:,} loaded, "
        f"{summary['rows_quarantined']:,} quarantined, {plural(summary['rows_duplicate'], 'duplicate')}, "
        f"{summary['rows_late']:,} late"
        + (f", {summary['rows_forgotten']:,} withheld (forgotten customers)" if summary.get("rows_forgotten") else "")
    )
    print(
        f"  warehouse: {plural(rows.get('events', 0), 'event')}, "
        f"{plural(rows.get('identity_map', 0), 'identifier')}, {plural(rows.get('sessions', 0), 'session')}"
    )
    print(f"  warehouse file: {summary['warehouse']}")
    print(f"  dashboard:      {summary['report']}")
    for notice in summary["notices"]:
        print(f"  note: {notice}")
    for error in summary["file_errors"]:
        print(f"  UNREADABLE FILE {error}")


def _command_simulate(args: argparse.Namespace) -> int:
    from journey_analytics.simulate import simulate

    start = time.perf_counter()
    try:
        result = simulate(
            out=args.out, customers=args.customers, days=args.days, seed=args.seed,
            start=args.start, formats=args.formats,
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    seconds = time.perf_counter() - start
    print(
        f"simulated {result.n_customers:,} customers, {result.n_events_written:,} event rows "
        f"({result.n_bad_rows:,} contract-breaking, {result.n_duplicate_rows:,} repeated) "
        f"from {result.first_day} to {result.last_day} in {seconds:.1f} s"
    )
    print(f"  landing folder: {result.out}")
    print(f"  ground truth:   {Path(result.out) / '_truth'}")
    return 0


def _command_run(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as hold:
        _check_run_inputs(args, hold)
        _quiet_prefect()
        from journey_analytics import progress
        from pipelines.nightly import nightly
        from pipelines.serve import prefect_server

        from journey_analytics.runs import yesterday

        as_of = args.date or yesterday()
        start = time.perf_counter()
        with _stopped_by_signals(), prefect_server(services=False), progress.display():
            summary = nightly(as_of, args.landing, args.warehouse, args.reports, args.config)
    _print_summary(summary, time.perf_counter() - start)
    return EXIT_FAILED if summary["file_errors"] else 0


def _command_backfill(args: argparse.Namespace) -> int:
    if args.end < args.start:
        raise CommandError(f"--end {args.end} is before --start {args.start}")
    with contextlib.ExitStack() as hold:
        _check_run_inputs(args, hold)
        _quiet_prefect()
        from journey_analytics import progress
        from pipelines.nightly import backfill
        from pipelines.serve import prefect_server

        start = time.perf_counter()
        with _stopped_by_signals(), prefect_server(services=False), progress.display():
            summaries = backfill(args.start, args.end, args.landing, args.warehouse, args.reports, args.config)
    for summary in summaries:
        _print_summary(summary, sum(summary["step_seconds"].values()))  # that day's own steps
    print(f"journey backfill {args.start} to {args.end}: {plural(len(summaries), 'day')} in {time.perf_counter() - start:.1f} s")
    return EXIT_FAILED if any(s["file_errors"] for s in summaries) else 0


# The signals that stop a run (SIGTERM: systemd, Kubernetes, `timeout`, Airflow; SIGINT: Ctrl-C)
# are kept in the order received in runs.STOP_SIGNALS. Exit status 128 + the signal's number, as
# shells give.


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """SIGTERM and SIGINT raise RunStopped: the run in progress throws its build away and the
    command ends at once (see main). Prefect swaps its own SIGTERM handler in while a flow runs
    and hands the signal back to this one once the flow has ended."""
    import signal
    import threading

    from journey_analytics.runs import STOP_SIGNALS, RunStopped

    if threading.current_thread() is not threading.main_thread():
        # (called in-process from another thread: only the main thread can set handlers, and
        # the signals go to it; the run goes on without them)
        yield
        return

    def stop(signum: int, frame: object) -> None:
        STOP_SIGNALS.append(signum)
        raise RunStopped(signum)

    # (a signal ignored when the command started, as SIGINT in a background job, stays ignored)
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for s, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(s, stop)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        STOP_SIGNALS.clear()


def _stopped_line(stop: BaseException) -> tuple[str, int]:
    """The one line telling how a run was stopped, and the exit status."""
    import signal

    signum = getattr(stop, "signum", None) or (signal.SIGINT if isinstance(stop, KeyboardInterrupt) else None)
    if signum is None:  # (a query interrupted by a signal the command's handler did not see)
        signum = signal.SIGTERM
    name = signal.Signals(signum).name
    as_of, step = getattr(stop, "as_of", None), getattr(stop, "step", None)
    if as_of is None:
        where = "; no day was being built: the warehouse holds the days published before it"
    elif step == "publish":
        where = f" during {as_of}/publish; the day was published whole or not at all (see pipeline_runs)"
    else:
        where = f" during {as_of}/{step}; the warehouse is unchanged (the day's build was discarded)"
    return f"journey: {'interrupted' if signum == signal.SIGINT else 'terminated'} by {name}{where}", 128 + signum


def _command_report(args: argparse.Namespace) -> int:
    from journey_analytics.config import load_settings
    from journey_analytics.dashboard import write_report

    settings = load_settings(args.config)
    page, day = write_report(
        args.warehouse, args.reports, args.date, settings.rule_file("pain_points"), settings.rule_file("funnels")
    )
    print(f"journey report {day}: dashboard written to {page}")
    return 0


def _command_serve(args: argparse.Namespace) -> int:
    _check_run_inputs(args)
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise CommandError(f"unknown time zone: {args.timezone}") from None
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.schedules import Cron

    try:
        Cron(args.cron, timezone=args.timezone)
    except ValueError as exc:
        raise CommandError(f"not a cron schedule: {args.cron!r} ({exc})") from None
    from pipelines.serve import serve_nightly

    print(f"serving the nightly run on '{args.cron}' ({args.timezone}); Ctrl-C or SIGTERM stops it", flush=True)
    with _stopped_by_signals():
        serve_nightly(args.landing, args.warehouse, args.reports, args.config, args.cron, args.timezone)
    return 0


def _command_forget(args: argparse.Namespace) -> int:
    from journey_analytics.config import load_settings
    from journey_analytics.forget import forget_customer

    settings = load_settings(args.config)
    _refuse_other_files(args.warehouse)
    result = forget_customer(args.customer, args.warehouse, settings)
    tables = sum(1 for n in result.rows_removed.values() if n)
    print(
        f"journey forget: erasure {result.erasure_id}: removed {plural(result.total_rows_removed, 'row')} from "
        f"{plural(tables, 'table')} and suppressed {plural(result.identifiers_suppressed, 'identifier')} for later runs"
    )
    print(f"  recorded in main.erasures of {args.warehouse}")
    return 0


def _command_find(args: argparse.Namespace) -> int:
    from journey_analytics.config import load_settings
    from journey_analytics.lookup import find_customer

    settings = load_settings(args.config)
    _refuse_other_files(args.warehouse)
    found = find_customer(args.customer, args.warehouse, settings)
    print("\n".join(found.lines()))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``journey`` command (arguments from the command line when ``argv`` is
    None). A run stopped by a signal ends the process as the signal asked only then: called with
    its arguments (a notebook, a script of the team's own), it returns the status instead."""
    parser = build_parser()
    args = parser.parse_args(argv)
    commands = {
        "simulate": _command_simulate,
        "run": _command_run,
        "backfill": _command_backfill,
        "report": _command_report,
        "serve": _command_serve,
        "forget": _command_forget,
        "find": _command_find,
    }
    try:
        return commands[args.command](args)
    except Exception as exc:
        if os.environ.get("JOURNEY_DEBUG"):
            raise
        # a run stopped by a signal whose stop the orchestrator then lost in an error of its own:
        # recording the stop on a Prefect server that the signal stopped too (systemd signals every
        # process of the service) ends, after its retries, in a ConnectError
        stop = _stop_behind(exc) if args.command in ("run", "backfill") else None
        if stop is not None:
            return _end_stopped(stop, exit_now=argv is None)
        print(f"journey: error: {_one_line(exc)}", file=sys.stderr)
        _let_go_of_frames(exc)
        return EXIT_FAILED
    except BaseException as exc:  # Ctrl-C, or a run stopped by a signal
        from journey_analytics.runs import RunStopped

        if not isinstance(exc, (KeyboardInterrupt, RunStopped)) or os.environ.get("JOURNEY_DEBUG"):
            raise
        if args.command == "serve":
            _end_serve_by_signal(exc)
        if args.command in ("run", "backfill"):
            return _end_stopped(exc, exit_now=argv is None)
        print("journey: interrupted; the published warehouse is unchanged", file=sys.stderr)
        return 130


def _let_go_of_frames(exc: BaseException) -> None:
    """Free the local variables of the frames an error passed through (its causes' too). The
    orchestrator keeps a failed run's error to the end of the process, and with it every frame's
    DuckDB connection and relation: DuckDB's bindings then printed some forty lines of "nanobind:
    leaked 28 instances!" under the one line of error as the process ended."""
    import traceback

    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        error = pending.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        with contextlib.suppress(RuntimeError):  # (a frame still running: none here, the run is over)
            traceback.clear_frames(error.__traceback__)
        pending += [error.__cause__, error.__context__]


def _stop_behind(exc: BaseException) -> BaseException | None:
    """The stop (RunStopped, Ctrl-C) that ``exc`` was raised while handling, if any."""
    from journey_analytics.runs import RunStopped

    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, (KeyboardInterrupt, RunStopped)):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _end_stopped(stop: BaseException, exit_now: bool) -> int:
    """Print the one line of a stopped run; end the process with its status (``exit_now``: the
    command, not a caller of main in its own process), else return the status."""
    line, status = _stopped_line(stop)
    print(line, file=sys.stderr)
    if exit_now:
        # Told to stop, the process ends here, as the signal asked: the blocks the run left
        # gave back what it held (its build, the lock, the Prefect server). Ending without the
        # interpreter's teardown also keeps the one line the only one: the teardown printed
        # dozens of DuckDB binding notes about objects the orchestrator still held.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


def _end_serve_by_signal(stop: BaseException) -> None:
    """End a stopped ``journey serve`` with one line, by the signal that stopped it.

    By then the runs in progress were cancelled (each threw its day's build away) or had published,
    and the Prefect server was stopped. Dying by the signal, not exiting 143 or 130, is what a
    service manager expects of a service it stops: systemd counts it a clean stop (an exit status of
    143 would leave the unit failed), while a shell and Kubernetes report it as 143 (SIGTERM) or 130
    (SIGINT)."""
    import signal

    signum = getattr(stop, "signum", None) or (signal.SIGINT if isinstance(stop, KeyboardInterrupt) else signal.SIGTERM)
    print(
        f"journey: serve {'interrupted' if signum == signal.SIGINT else 'terminated'} by {signal.Signals(signum).name}; "
        f"{getattr(stop, 'outcome', 'no day was being built')}; the warehouse holds the days published before the stop",
        file=sys.stderr,
    )
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    os._exit(128 + signum)  # (were the signal blocked)


def _one_line(exc: BaseException) -> str:
    from journey_analytics.config import ConfigError
    from journey_analytics.dashboard import ReportError
    from journey_analytics.forget import ForgetError
    from journey_analytics.ingest import LandingError
    from journey_analytics.privacy import KeyMismatchError
    from journey_analytics.warehouse import WarehouseBusyError, WarehouseRefusedError

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    from journey_analytics.runs import CatchUpError, PublishedUnfinishedError, RunOutOfMemoryError

    known = (
        CommandError, ConfigError, LandingError, KeyMismatchError, WarehouseBusyError, WarehouseRefusedError,
        CatchUpError, ForgetError, ReportError, RunOutOfMemoryError, PublishedUnfinishedError,
    )
    if isinstance(exc, known):
        return text
    import duckdb

    if isinstance(exc, duckdb.OutOfMemoryException):  # (outside the steps: opening or publishing the build)
        from journey_analytics.runs import MEMORY_NEEDED

        return f"the run ran out of memory: raise [warehouse] memory_limit in the config file ({MEMORY_NEEDED}). DuckDB: {text}"
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"cannot use {exc.filename}: {exc.strerror.lower()}"  # a path the user can fix
    return f"{type(exc).__name__}: {text} (set JOURNEY_DEBUG=1 for the traceback)"


if __name__ == "__main__":
    sys.exit(main())
