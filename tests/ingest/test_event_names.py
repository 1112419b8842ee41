"""Event names of the contract arrive in other spellings from other sources ('Add To Cart',
'add-to-cart', 'AddToCart', 'PURCHASE'); ingest writes them as the contract spells them, so
stage rules, funnels and pain points see them. Any other name is kept as given."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DAY1, Landing, query, run_day

TS = "2026-10-01T10:00:00Z"


def web(event_id: str, name: str, **fields: str) -> dict[str, str]:
    return {"event_id": event_id, "event_ts": TS, "event_name": name, "anonymous_id": "a1", **fields}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("event_names")
    landing = Landing(root / "landing")
    landing.jsonl("web", DAY1, "a.jsonl", [
        web("w1", "Add To Cart"),
        web("w2", "add-to-cart"),
        web("w3", "AddToCart"),
        web("w4", "ADD_TO_CART"),
        web("w5", "pageView"),
        web("w6", " Sign-Up "),
        web("w7", "log_in"),
        web("w8", "Purchase", order_id="o1", value="10", currency="EUR"),
        web("w9", "PURCHASE"),  # a purchase without an order_id is refused as one
        web("w10", "Scroll"),  # not a contract name: kept as given
        web("w11", "session_start"),
        web("w12", "page_view"),
    ])
    landing.jsonl("email", DAY1, "m.jsonl", [
        {"event_id": "m1", "event_ts": TS, "event_name": "Open", "email": "a@example.com"},
        {"event_id": "m2", "event_ts": TS, "event_name": "SpamReport", "email": "a@example.com"},
        {"event_id": "m3", "event_ts": TS, "event_name": "hard_bounce", "email": "a@example.com"},
    ])
    landing.jsonl("social", DAY1, "s.jsonl", [
        {"event_id": "s1", "event_ts": TS, "event_name": "Brand Reply", "platform": "x", "handle": "h"},
        {"event_id": "s2", "event_ts": TS, "event_name": "LIKE", "platform": "x", "handle": "h"},
    ])
    warehouse = root / "warehouse.duckdb"
    run_day(landing, warehouse, DAY1)
    return warehouse


def test_contract_names_in_other_spellings_are_written_as_the_contract_spells_them(warehouse: Path) -> None:
    assert query(warehouse, "select event_id, event_name from events order by event_id") == [
        ("m1", "open"), ("m2", "spamreport"), ("m3", "hard_bounce"),
        ("s1", "brand_reply"), ("s2", "like"),
        ("w1", "add_to_cart"), ("w10", "Scroll"), ("w11", "session_start"), ("w12", "page_view"),
        ("w2", "add_to_cart"), ("w3", "add_to_cart"), ("w4", "add_to_cart"), ("w5", "page_view"),
        ("w6", "sign_up"), ("w7", "login"), ("w8", "purchase"),
    ]


def test_contract_checks_apply_to_the_name_in_any_spelling(warehouse: Path) -> None:
    assert query(warehouse, "select line_no, error from quarantine") == [(9, "purchase needs an order_id")]


def test_email_and_social_names_of_ones_own_are_said_in_the_notices(tmp_path: Path) -> None:
    """An e-mail or social event a tool names its own way (Klaviyo's "Received Email") loads, but
    e-mail health and social care count none of them: the run says which names, how many, once."""
    landing = Landing(tmp_path / "landing")
    landing.jsonl("web", DAY1, "web.jsonl", [web("w1", "trial_started")])  # web names of one's own: fine
    landing.jsonl("email", DAY1, "esp.jsonl", [
        {"event_id": f"m{i}", "event_ts": TS, "event_name": name, "email": "ann@example.com"}
        for i, name in enumerate(["Received Email"] * 3 + ["Opened Email", "Delivered", "open"])
    ])
    landing.jsonl("social", DAY1, "social.jsonl", [
        {"event_id": "s1", "event_ts": TS, "event_name": "like", "platform": "x", "handle": "ann"},
    ])
    summary = run_day(landing, tmp_path / "journey.duckdb", DAY1)
    assert summary.notices == [
        "email events named 'Received Email' (3), 'Opened Email' (1) are none of the contract's names:"
        " they are loaded, but e-mail health counts none of them (docs/landing-from-tools.md maps tools' names)"
    ]
