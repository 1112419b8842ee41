"""Names fixed by the input contract (docs: DESIGN.md, "Input contract"), shared by ingest's
SQL and the checks of the rule files."""

from __future__ import annotations

import re

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


def canonical_event_name(name: str, channel: str | None = None) -> str:
    """An event name as the contract spells it, when it is one of the channel's (of any channel's
    without one) in another case or with spaces, hyphens or no separators; else as given. The
    same as ingest's SQL macro ``canonical_event_name``, for names in config files."""
    channels = [channel] if channel in EVENT_NAMES else list(EVENT_NAMES)
    names = [n for c in channels for n in EVENT_NAMES[c]]
    if name in names:
        return name
    key = re.sub(r"[ \t\n\f\r_-]+", "", name).lower()
    return next((n for n in names if n.replace("_", "") == key), name)
