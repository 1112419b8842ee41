"""The schedule: the nightly flow every night for "yesterday", catching up on missed nights.

`journey serve` serves this flow as a Prefect deployment on a cron schedule (default 02:00
in a configurable time zone). Teams with their own Prefect server or work pool deploy it with
`prefect.yaml` at the project root instead.
"""


import asyncio
import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker
from prefect.schedules import Cron
from prefect.settings import PREFECT_API_URL, temporary_settings

from journey_analytics import runs
from pipelines.nightly import _stopped_by, nightly

DEPLOYMENT_NAME = "journey-nightly"


@flow(name="scheduled-nightly")
def scheduled_nightly(
    landing: Path = Path("data/landing"),
    warehouse: Path = Path("data/warehouse/journey.duckdb"),
    reports: Path = Path("reports"),
    config: Path | None = None,
    timezone: str = "UTC",
    max_catch_up_days: int = 31,
) -> list[dict[str, Any]]:
    """Run every day since the last successful run through yesterday (in ``timezone``). The flow
    run fails, once every day is published, when a landing file could not be read."""
    _die_with_serve()
    days = runs.days_to_run(Path(warehouse), runs.yesterday(timezone), max_catch_up_days)
    if len(days) > 1:
        get_run_logger().warning("catching up %d missed nights: %s to %s", len(days), days[0], days[-1])
    try:
        summaries = [nightly(day, landing, warehouse, reports, config) for day in days]
    except BaseException as exc:
        if _stopped_by(exc):  # (the signal may land in the orchestrator, between two steps)
            _end_quietly()
        raise
    # (a file still unreadable is read again, and named again, by each later day's run)
    unreadable = list(dict.fromkeys(error for s in summaries for error in s["file_errors"]))
    if unreadable:
        # every day is published (the rest of their files loaded; each unreadable one is in
        # quarantine as unreadable_file), but the flow run fails, as `journey run` exits 1, so
        # that whoever watches the schedule hears of it
        raise UnreadableFilesError(
            f"{len(unreadable)} unreadable landing file{'s' if len(unreadable) != 1 else ''} "
            f"(the rest published): {'; '.join(unreadable)}"
        )
    return summaries


class UnreadableFilesError(RuntimeError):
    """A scheduled run published its days, but some of their landing files could not be read."""


# `journey serve` runs each flow run in a process of its own, started by its main thread; the
# command's process id, in the environment, tells that process it was started so.
SERVE_PID = "JOURNEY_SERVE_PID"


def _die_with_serve() -> None:
    """In a flow run `journey serve` started: die with the command, even when it is killed
    (SIGKILL), as its Prefect server does. Left running, the run would retry the server gone with
    it for minutes. Killed, it leaves its build for the next run to remove (the warehouse as it was,
    the lock given back by the system)."""
    pid = os.environ.get(SERVE_PID)
    if not pid or sys.platform != "linux":
        return
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != int(pid):  # (the command was gone before)
        os.kill(os.getpid(), signal.SIGKILL)


def _end_quietly() -> None:
    """In a flow run of `journey serve` stopped by a signal: end the process, once Prefect has
    recorded the run's end, without the interpreter's teardown, which printed dozens of DuckDB
    binding notes about objects the orchestrator still held (as cli.main does for `journey run`)."""
    if not os.environ.get(SERVE_PID):
        return

    def end() -> None:
        for worker in (APILogWorker, EventsWorker):  # (their own exit handlers are skipped)
            with contextlib.suppress(Exception):
                worker.drain_all(timeout=5)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)

    atexit.register(end)  # (the last registered runs first)


# Run by the server's launcher (below) before it becomes `prefect server start`: on Linux the
# server is told to stop when the process that started it dies, even by SIGKILL (prctl
# PR_SET_PDEATHSIG survives the exec), and it stops at once if that process is already gone.
_LAUNCH = (
    "import ctypes, os, signal, sys\n"
    "if sys.platform == 'linux':\n"
    "    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG\n"
    "    if os.getppid() != int(sys.argv[1]): sys.exit(0)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


@contextlib.contextmanager
def prefect_server(services: bool = True) -> Iterator[str]:
    """The Prefect API to run on: PREFECT_API_URL if set, else a local server started here.

    Prefect's own temporary server cannot run schedules, and it is a child of this process in its
    process group: a SIGTERM or Ctrl-C sent to the group (systemd, `timeout`, a terminal) stopped
    it with the command, which then spent minutes retrying it to record the run's end. The server
    started here (`prefect server start`; without ``services`` its scheduler and UI stay off, as a
    single run needs neither) has a session of its own, so it outlives the signal until the
    command has cleaned up and stops it; it also stops when the command is killed (Linux).
    """
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    prefect = shutil.which("prefect", path=os.path.dirname(sys.executable)) or shutil.which("prefect") or "prefect"
    start = [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(
        [sys.executable, "-c", _LAUNCH, str(os.getpid()), *start, *([] if services else ["--no-services", "--no-ui"])],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=_server_environment(), start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("could not start a local Prefect server (`prefect server start`)") from None
                time.sleep(0.2)
        with temporary_settings(updates={PREFECT_API_URL: url}):
            try:
                yield url
            finally:
                # the logs and events of the runs still queued go now, while the server is up
                for worker in (APILogWorker, EventsWorker):
                    with contextlib.suppress(Exception):
                        worker.drain_all(timeout=5)
    finally:
        _stop(server)


# Prefect's database (PREFECT_HOME, by default ~/.prefect/prefect.db) keeps every flow run, task
# run and log line: several hundred KB a night, for as long as the service runs. Prefect's own
# vacuum service deletes those of runs ended more than PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD
# ago (90 days) once `flow_runs` is among the vacuums it runs; by default it prunes only events.
VACUUM_SETTING = "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED"


def _server_environment() -> dict[str, str]:
    """The environment of the server started here: analytics off, and old flow runs pruned (unless
    the vacuum is configured otherwise, in the environment or the Prefect profile)."""
    from prefect.settings import get_current_settings

    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    if VACUUM_SETTING not in os.environ and get_current_settings().server.services.db_vacuum.enabled == {"events"}:
        env[VACUUM_SETTING] = "events,flow_runs"
    return env


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Stop the server's process group (SIGTERM, then SIGKILL after 20 s)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def serve_nightly(
    landing: Path,
    warehouse: Path,
    reports: Path,
    config: Path | None,
    cron: str = "0 2 * * *",
    timezone: str = "UTC",
) -> None:
    """Serve the scheduled flow from this process until it is stopped (Ctrl-C)."""
    ZoneInfo(timezone)  # refuse an unknown time zone before starting
    os.environ[SERVE_PID] = str(os.getpid())  # (see _die_with_serve)
    with prefect_server() as api:
        print(f"Prefect API: {api}")
        _serve(landing, warehouse, reports, config, cron, timezone)


def _serve(landing: Path, warehouse: Path, reports: Path, config: Path | None, cron: str, timezone: str) -> None:
    """Serve the deployment until SIGTERM or SIGINT, then raise RunStopped.

    ``Flow.serve`` stops badly (Prefect 3.8): its SIGTERM handler exits at once while the run in
    progress, a process of its own, goes on; the command then stopped the server under it, and the
    run spent minutes retrying it (or, sent the signal alone, published its day after the command
    had been told to stop). Here a stop cancels the runs in progress as Prefect cancels a run (the
    run's process gets SIGTERM: its day's build is thrown away), waits for them to end while the
    server is still up, and only then ends the command (see cli.main).
    """
    from prefect.deployments.runner import EntrypointType
    from prefect.runner import Runner

    runner = Runner(name=DEPLOYMENT_NAME, pause_on_shutdown=True)
    runner.add_flow(
        scheduled_nightly,
        name=DEPLOYMENT_NAME,
        schedules=[Cron(cron, timezone=timezone)],
        paused=False,  # an earlier serve pauses the deployment when it stops
        parameters={
            "landing": str(Path(landing).resolve()),
            "warehouse": str(Path(warehouse).resolve()),
            "reports": str(Path(reports).resolve()),
            "config": str(Path(config).resolve()) if config else None,
            "timezone": timezone,
        },
        description="journey-analytics nightly run for yesterday, catching up on missed nights",
        entrypoint_type=EntrypointType.FILE_PATH,
    )
    stop: list[int] = []
    building: list[bool] = []  # whether a run was building a day when the signal came
    running: list[bool] = []  # whether a flow run's process was running then
    published: list[int] = []  # the runs the warehouse had published then

    async def serve_until_stopped() -> None:
        loop = asyncio.get_running_loop()

        async def stop_runner() -> None:
            while not runner.started:  # (a signal while the runner starts)
                await asyncio.sleep(0.1)
            await runner.astop()

        def on_signal(signum: int, frame: object) -> None:
            if not stop:
                runs.STOP_SIGNALS.append(signum)
                stop.append(signum)
                # what the run in progress was doing, seen at once: sent to the process group, the
                # signal reaches the run too, which may throw its build away within milliseconds
                building.append(any(Path(warehouse).parent.glob(f".{Path(warehouse).name}.build-*")))
                running.append(bool(_flow_run_processes()))
                published.append(_runs_published(Path(warehouse)))
                loop.call_soon_threadsafe(lambda: loop.create_task(stop_runner()))

        runner.handle_sigterm = on_signal  # type: ignore[method-assign]  # (Runner.start installs it for SIGTERM)
        previous = signal.signal(signal.SIGINT, on_signal)
        print(f"the deployment '{scheduled_nightly.name}/{DEPLOYMENT_NAME}' is being served; run it now with "
              f"`prefect deployment run '{scheduled_nightly.name}/{DEPLOYMENT_NAME}'`", flush=True)
        try:
            await runner.start()
        finally:
            signal.signal(signal.SIGINT, previous)

    asyncio.run(serve_until_stopped())
    if stop:
        if published and _runs_published(Path(warehouse)) > published[0]:
            outcome = "the run in progress published its day before it ended"
        elif building and building[0]:
            outcome = "the run in progress was stopped and its day's build discarded"
        elif running and running[0]:
            outcome = "the run in progress was stopped before it had a day half built"
        else:
            outcome = "no day was being built"
        raise ServeStopped(stop[0], outcome)


class ServeStopped(runs.RunStopped):
    """`journey serve` stopped by a signal; ``outcome`` tells what became of the run in progress."""

    def __init__(self, signum: int, outcome: str) -> None:
        super().__init__(signum)
        self.outcome = outcome


def _flow_run_processes() -> list[int]:
    """The processes of flow runs this process started (Prefect's runner gives each its run's id
    in PREFECT__FLOW_RUN_ID); on systems without /proc, none are found."""
    found = []
    me = os.getpid()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            parent = int(entry.joinpath("stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent == me and b"PREFECT__FLOW_RUN_ID=" in entry.joinpath("environ").read_bytes():
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):  # (gone meanwhile, or not ours to read)
            continue
    return found


def _runs_published(warehouse: Path) -> int:
    """How many successful runs the published warehouse records."""
    from journey_analytics.warehouse import connect, has_tables

    if not warehouse.exists():
        return 0
    con = connect(warehouse, read_only=True)
    try:
        if not has_tables(con, "pipeline_runs"):
            return 0
        return con.execute("select count(*) from main.pipeline_runs where status = 'success'").fetchall()[0][0]
    finally:
        con.close()
