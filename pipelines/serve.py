"""The schedule: the nightly flow every night for "yesterday", catching up on missed nights.

`journey serve` serves this flow as a Prefect deployment on a cron schedule (default 02:00
in a configurable time zone). Teams with their own Prefect server or work pool deploy it with
`prefect.yaml` at the project root instead.
"""


import contextlib
import os
import shutil
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
from prefect.schedules import Cron
from prefect.settings import PREFECT_API_URL, temporary_settings

from journey_analytics import runs
from pipelines.nightly import nightly

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
    """Run every day since the last successful run through yesterday (in ``timezone``)."""
    days = runs.days_to_run(Path(warehouse), runs.yesterday(timezone), max_catch_up_days)
    if len(days) > 1:
        get_run_logger().warning("catching up %d missed nights: %s to %s", len(days), days[0], days[-1])
    return [nightly(day, landing, warehouse, reports, config) for day in days]


@contextlib.contextmanager
def prefect_server() -> Iterator[str]:
    """The Prefect API to schedule on: PREFECT_API_URL if set, else a local server started here.

    Prefect's temporary in-process server cannot run schedules, so without a server of the
    team's own, `journey serve` starts one (`prefect server start`) for as long as it serves.
    """
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    prefect = shutil.which("prefect", path=os.path.dirname(sys.executable)) or "prefect"
    server = subprocess.Popen(
        [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"},
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
                time.sleep(0.5)
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


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
    with prefect_server() as api:
        print(f"Prefect API: {api}")
        _serve(landing, warehouse, reports, config, cron, timezone)


def _serve(landing: Path, warehouse: Path, reports: Path, config: Path | None, cron: str, timezone: str) -> None:
    scheduled_nightly.serve(
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
    )
