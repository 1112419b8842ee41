"""An analyst querying the published warehouse in a tight loop, as another process would.

Usage: ``python tests/_support/reader.py WAREHOUSE OUT STOP``. Until the file STOP exists,
each iteration opens a fresh read-only ``duckdb`` connection, reads the last run's date and
the row counts of events and sessions in one query, closes the connection and appends one
JSON line to OUT: ``{"ok": true, "as_of": "...", "events": n, "sessions": n, "t": ...}`` or
``{"ok": false, "error": "...", "t": ...}``. Every line is flushed as it is written.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb

QUERY = """
select
    (select cast(max(as_of_date) as varchar) from main.pipeline_runs),
    (select count(*) from main.events),
    (select count(*) from main.sessions)
"""


def main() -> int:
    warehouse, out, stop = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    with out.open("w", encoding="utf-8") as handle:
        while not stop.exists():
            t = time.time()
            try:
                con = duckdb.connect(warehouse, read_only=True)
                try:
                    as_of, events, sessions = con.execute(QUERY).fetchall()[0]
                finally:
                    con.close()
                record = {"ok": True, "as_of": as_of, "events": events, "sessions": sessions, "t": t}
            except Exception as exc:
                record = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "t": t}
            handle.write(json.dumps(record) + "\n")
            handle.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
