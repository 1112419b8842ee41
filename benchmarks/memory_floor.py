"""The smallest ``[warehouse] memory_limit`` a whole nightly run completes in, on one landing folder.

    python benchmarks/memory_floor.py LANDING [--date 2026-10-31] [--low 64] [--high 1024]
        [--threads 2] [--step 16] [--work DIR]

Each attempt is a fresh run, in a child process, of every library step that ``journey run``
runs (``tests/_support/run_pipeline.py``), into a new warehouse, with the limit and the threads
in its config file. The attempts bisect between ``--low`` and ``--high`` MB down to ``--step`` MB;
each prints its limit, how long it took, and the step that ran out of memory (from the run's
one-line error, :class:`journey_analytics.runs.RunOutOfMemoryError`). The figures in
``docs/configuration.md`` were measured with it, 2 threads, on stores made by ``journey simulate``.
A landing folder of N million events takes about a minute per million events an attempt.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "tests" / "_support" / "run_pipeline.py"


def attempt(landing: Path, run_date: str, limit_mb: int, threads: int, work: Path) -> tuple[bool, str, float]:
    """One fresh run within ``limit_mb``: (completed, the step that ran out or why it failed, seconds)."""
    shutil.rmtree(work, ignore_errors=True)
    (work / "warehouse").mkdir(parents=True)
    config = work / "journey.toml"
    config.write_text(f'[warehouse]\nmemory_limit = "{limit_mb}MB"\nthreads = {threads}\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
               PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.setdefault("JOURNEY_HASH_KEY", "memory-floor-key")
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(RUNNER), "--landing", str(landing), "--warehouse", str(work / "warehouse" / "journey.duckdb"),
         "--reports", str(work / "reports"), "--date", run_date, "--config", str(config)],
        env=env, capture_output=True, text=True, check=False,
    )
    took = time.perf_counter() - start
    if done.returncode == 0:
        return True, "", took
    step = re.search(r"ran out of memory in its (\S+) step", done.stderr)
    if step:
        return False, f"out of memory in {step.group(1)}", took
    if "ran out of memory" in done.stderr or "OutOfMemoryException" in done.stderr:
        return False, "out of memory outside a step", took
    last = [line for line in done.stderr.splitlines() if line.strip()][-1:] or ["(no error output)"]
    return False, f"failed otherwise: {last[0][:200]}", took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("landing", type=Path)
    parser.add_argument("--date", default="2026-10-31", help="the run date (the landing's last day or later)")
    parser.add_argument("--low", type=int, default=64, help="MB a run is expected to fail in")
    parser.add_argument("--high", type=int, default=1024, help="MB a run is expected to complete in")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--step", type=int, default=16, help="stop when the bracket is this narrow (MB)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    if not args.landing.is_dir():
        parser.error(f"no landing folder at {args.landing}")
    work = args.work or Path(tempfile.mkdtemp(prefix="memory-floor-"))
    try:
        return _bisect(args, work / "run")
    finally:  # the attempts' warehouses (and a scratch folder of our own) are removed
        shutil.rmtree(work / "run", ignore_errors=True)
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


def _bisect(args: argparse.Namespace, run: Path) -> int:
    low, high = args.low, args.high
    completed, why, took = attempt(args.landing, args.date, high, args.threads, run)
    print(f"{high}MB: {'completed' if completed else why} ({took:.0f} s)", flush=True)
    if not completed:
        print(f"the run does not complete in {high}MB; give a larger --high")
        return 1
    failed_in = None
    while high - low > args.step:
        middle = (low + high) // 2
        completed, why, took = attempt(args.landing, args.date, middle, args.threads, run)
        print(f"{middle}MB: {'completed' if completed else why} ({took:.0f} s)", flush=True)
        if completed:
            high = middle
        elif why.startswith("failed otherwise"):
            print("stopped: the run failed for another reason than memory")
            return 1
        else:
            low = failed_in = middle
    if failed_in is None:
        print(f"completes in {high}MB ({args.threads} threads); no smaller limit tried failed")
    else:
        print(f"completes in {high}MB, not in {failed_in}MB ({args.threads} threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
