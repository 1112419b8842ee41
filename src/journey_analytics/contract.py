"""Names fixed by the input contract (docs: DESIGN.md, "Input contract"), shared by ingest's
SQL and the checks of the rule files."""

from __future__ import annotations

import duckdb

# The event names of each channel, as the contract spells them.
EVENT_NAMES: dict[str, tuple[str, ...]] = {
    "web": (
        "page_view", "view_item", "search", "add_to_cart", "remove_from_cart", "view_cart",
        "begin_checkout", "add_shipping_info", "add_payment_info", "purchase", "refund",
        "sign_up", "login", "generate_lead", "share", "write_review", "refer_friend",
    ),
    "email": (
        "processed", "delivered", "open", "click", "bounce", "dropped", "deferred",
        "spamreport", "unsubscribe",
    ),
    "social": (
        "impression", "like", "comment", "share", "save", "follow", "unfollow", "mention",
        "message", "brand_reply", "review",
    ),
}


def install_contract_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Define the temporary SQL macro ``contract_event_names(channel)``: the list above."""
    cases = " ".join(
        f"when '{channel}' then [{', '.join(repr(n) for n in names)}]" for channel, names in EVENT_NAMES.items()
    )
    con.execute(f"create or replace temp macro contract_event_names(channel) as case channel {cases} end").fetchall()
