"""How long a run takes on web lines of very many keys: the cost of a hostile or broken exporter.

    python benchmarks/long_lines.py [--keys 20000 80000 160000] [--work DIR]

For each key count it writes a landing folder of one day holding 1,000 ordinary web events and
two lines of that many keys: one whose keys are all different (loaded, its extra fields kept in
``properties``) and one that gives a key twice near its end (quarantined, the reason naming the
key). It then times one run of every ingest, stitching, sessionizing and mart step into a fresh
warehouse, in this process, and prints the seconds and the quarantine's reason. A line of the
contract's 16 MiB limit holds about 900,000 such keys.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

DAY = date(2026, 10, 1)


def write_landing(landing: Path, keys: int) -> None:
    """One day of web events: ordinary ones and two lines of ``keys`` keys (the second repeats one)."""
    folder = landing / "web" / f"dt={DAY.isoformat()}"
    folder.mkdir(parents=True)
    base = '"event_ts": "2026-10-01T10:00:00Z", "event_name": "page_view"'
    extras = [f'"x{i}": {i}' for i in range(keys)]
    lines = [json.dumps({"event_id": f"e{i}", "event_ts": "2026-10-01T09:00:00Z", "event_name": "page_view",
                         "anonymous_id": f"a{i % 300}"}) for i in range(1000)]
    lines.append('{"event_id": "wide", "anonymous_id": "a1", ' + base + ", " + ", ".join(extras) + "}")
    extras.insert(keys - 10, '"x5": 5')
    lines.append('{"event_id": "repeat", "anonymous_id": "a2", ' + base + ", " + ", ".join(extras) + "}")
    (folder / "long.jsonl").write_text("\n".join(lines) + "\n")


def run_once(landing: Path, work: Path) -> tuple[float, int, list[tuple]]:
    """Seconds for one run into a fresh warehouse, its events, and its quarantine's (line, reason) rows."""
    import duckdb

    from journey_analytics import runs
    from journey_analytics.config import Settings

    warehouse = work / "journey.duckdb"
    start = time.perf_counter()
    ctx = runs.open_run(DAY, landing, warehouse, work / "reports", Settings())
    try:
        runs.build_through_sessions(ctx)
        runs.finish_run(ctx, work / "reports" / "none.html")
    except BaseException:
        runs.abort_run(ctx)
        raise
    took = time.perf_counter() - start
    with duckdb.connect(str(warehouse), read_only=True) as con:
        events = con.execute("select count(*) from events").fetchall()[0][0]
        reasons = con.execute("select line_no, error from quarantine order by line_no").fetchall()
    return took, events, reasons


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, nargs="+", default=[20_000, 80_000, 160_000])
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    if min(args.keys) < 10:
        # the key given twice is x5, given again 10 keys before the end: a line needs x0 to x9
        parser.error("--keys: give at least 10 keys a line")
    os.environ.setdefault("JOURNEY_HASH_KEY", "benchmark-key")
    root = args.work or Path(tempfile.mkdtemp(prefix="long-lines-"))
    for keys in args.keys:
        work = root / f"keys-{keys}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        write_landing(work / "landing", keys)
        took, events, reasons = run_once(work / "landing", work)
        print(f"{keys:>9,} keys a line: run {took:6.1f} s; {events:,} events; quarantine {reasons}", flush=True)


if __name__ == "__main__":
    main()
