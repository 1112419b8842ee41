"""Customer features as of a run date: the ``customers`` table and the rules' signal events.

The features are SQL (``sql/marts/customers.sql``), set-wise over ``main.events``. What
the rule file defines (the passive events, the signal groups) reaches the SQL through
two temporary tables written here, ``stage_parameters`` and ``stage_signal_definitions``.
"""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import polars as pl

from journey_analytics.stages.rules import StageConfig
from journey_analytics.warehouse import run_model, run_script

# Columns of main.customers that are not classifier features: keys, timestamps, names, and the
# money of refunds (refunded_value, net_revenue). The classifier decides, and learns from, only
# customers without an order, for whom those are 0 (a refund is an order), so they would tell it
# nothing, while a new feature list retrains every saved model (model.retrain_reason) and may move
# the stages it gives; revenue and n_refunds stay features, as saved models were trained with them.
NOT_FEATURES = frozenset({
    "customer_id", "as_of_date", "first_seen", "last_seen", "last_touch_at",
    "last_touch_event", "first_order_at", "last_order_at",
    "refunded_value", "net_revenue",
})
MISSING = 0.0
_NUMERIC = ("BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL")


def query_frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    """A query's result as a Polars frame."""
    frame = pl.from_arrow(con.sql(sql, params=params).to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def write_stage_parameters(con: duckdb.DuckDBPyConnection, as_of: date, config: StageConfig) -> None:
    """Write the run date and the rule file's signal definitions as temporary tables."""
    con.execute(
        """
        create or replace temp table stage_parameters as
        select
            cast(? as date) as as_of_date,
            cast(cast(? as date) + 1 as timestamp) as as_of_end,
            cast(? as integer) as lookback_days
        """,
        [as_of, as_of, config.settings.lookback_days],
    ).fetchall()
    con.execute(
        """
        create or replace temp table stage_signal_definitions (
            signal varchar, channel varchar, event_name varchar,
            min_rating integer, sentiment_above double
        )
        """
    ).fetchall()
    rows = [(s.signal, s.channel, s.event_name, s.min_rating, s.sentiment_above) for s in config.signals]
    if rows:
        con.executemany("insert into stage_signal_definitions values (?, ?, ?, ?, ?)", rows)


def build_customers(con: duckdb.DuckDBPyConnection, as_of: date, config: StageConfig) -> int:
    """Build ``main.customers`` and the rules' ``stage_signal_events`` as of a run date."""
    write_stage_parameters(con, as_of, config)
    run_script(con, "macros", "order_macros")  # an order's value, as sessions and the dashboard count it
    run_model(con, "intermediate", "stage_signal_events")
    return run_model(con, "marts", "customers")


def feature_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The numeric columns of ``main.customers`` the classifier reads, in table order."""
    rows = con.execute(
        "select column_name, data_type from duckdb_columns() where schema_name = 'main' "
        "and table_name = 'customers' and database_name = current_database() order by column_index"
    ).fetchall()
    return [
        name for name, dtype in rows
        if name not in NOT_FEATURES and dtype.split("(")[0] in _NUMERIC
    ]


def feature_matrix(
    con: duckdb.DuckDBPyConnection, features: list[str], customer_ids: list[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """Customer ids and their features as a float matrix.

    A missing value (a rate without any e-mail, a sentiment without social, dwell without
    a session) becomes 0, as "none of it": customers of a kind the training data rarely
    holds (anonymous visitors have no e-mail) then fall with the least engaged.
    """
    cols = ", ".join(f"cast({f} as double) as {f}" for f in features)
    if customer_ids is None:
        frame = query_frame(con, f"select customer_id, {cols} from main.customers order by customer_id")
    else:
        con.register("_stage_id_list", pl.DataFrame({"customer_id": customer_ids}, schema={"customer_id": pl.String}).to_arrow())
        con.execute("create or replace temp table _stage_ids as select customer_id from _stage_id_list").fetchall()
        con.unregister("_stage_id_list")
        frame = query_frame(
            con,
            f"select c.customer_id, {cols} from main.customers as c "
            "inner join _stage_ids using (customer_id) order by c.customer_id",
        )
    ids = frame["customer_id"].to_list()
    matrix = frame.drop("customer_id").to_numpy().astype(float) if features else np.zeros((len(ids), 0))
    matrix[np.isnan(matrix)] = MISSING
    return ids, matrix
