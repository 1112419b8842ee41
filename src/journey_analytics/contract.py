"""Names fixed by the contract (docs: DESIGN.md, "Input contract" and "Stages"), shared by the
SQL models and the checks of the rule files."""

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

# The fields of each landing kind, as the contract names them.
FIELDS: dict[str, tuple[str, ...]] = {
    "web": (
        "event_id", "event_ts", "event_name", "anonymous_id", "user_id", "session_id", "email",
        "page_url", "page_title", "referrer", "utm_source", "utm_medium", "utm_campaign",
        "device_category", "country", "order_id", "value", "currency", "rating",
    ),
    "email": ("event_id", "event_ts", "email", "user_id", "event_name", "campaign_id", "message_id", "url", "reason"),
    "social": (
        "event_id", "event_ts", "platform", "handle", "user_id", "event_name", "post_id", "thread_id",
        "sentiment", "rating", "text",
    ),
    "identities": ("user_id", "email", "platform", "handle"),
    "labels": ("user_id", "stage", "as_of_date"),
}

# The journey stages, in the order a customer moves through them.
STAGES: tuple[str, ...] = ("awareness", "consideration", "purchase", "retention", "advocacy")


def _sql_list(names: tuple[str, ...]) -> str:
    return "[" + ", ".join(repr(n) for n in names) + "]"


def install_contract_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Define the temporary SQL macros ``contract_event_names(channel)`` (the lists above),
    ``journey_stages()`` (the stages in order) and ``stage_rank(stage)`` (1 for awareness to 5
    for advocacy; null for anything else)."""
    cases = " ".join(f"when '{channel}' then {_sql_list(names)}" for channel, names in EVENT_NAMES.items())
    con.execute(f"create or replace temp macro contract_event_names(channel) as case channel {cases} end").fetchall()
    con.execute(f"create or replace temp macro journey_stages() as {_sql_list(STAGES)}").fetchall()
    con.execute(f"create or replace temp macro stage_rank(stage) as list_position({_sql_list(STAGES)}, stage)").fetchall()


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
