"""Identity stitching: identifiers linked directly or through chains become one customer.

The links are a graph (``sql/intermediate/identity_links.sql``); customers are its connected
components, found by repeating one portable SQL step until no label changes. Each step
is set-wise; the loop runs once per step, never per identifier.
"""

from __future__ import annotations

import duckdb

from journey_analytics.warehouse import run_model, run_script

MAX_STEPS = 64


def stitch_identities(con: duckdb.DuckDBPyConnection) -> int:
    """Build ``identities_stitched`` from ``events_unioned`` and return the steps it took."""
    run_model(con, "intermediate", "identifiers_naming_no_one")
    run_script(con, "macros", "naming_macros")  # (they read the table just built)
    run_model(con, "intermediate", "order_people")
    run_model(con, "intermediate", "order_devices")
    run_model(con, "intermediate", "identity_links")
    run_model(con, "intermediate", "identity_components_seed")
    con.execute(
        "create or replace temp table identity_components as select * from identity_components_seed"
    ).fetchall()
    for step in range(1, MAX_STEPS + 1):
        run_model(con, "intermediate", "identity_components_step")
        changed = con.execute(
            """
            select count(*) from identity_components_step as next
            inner join identity_components as current on current.node = next.node
            where next.component <> current.component
            """
        ).fetchall()[0][0]
        con.execute(
            "create or replace temp table identity_components as select * from identity_components_step"
        ).fetchall()
        if changed == 0:
            break
    else:
        raise RuntimeError(f"identity stitching did not settle in {MAX_STEPS} steps")
    run_model(con, "intermediate", "identities_stitched")
    return step
