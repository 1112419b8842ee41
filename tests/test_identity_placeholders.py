"""Identifiers that name no one: a placeholder a tag or an export writes for everyone it does not
know ('guest', '0', 'N/A'), a user id or e-mail on more devices than a person has (a bot's
account, noreply@ given on every lead), an e-mail the accounts of a whole company share, and a
shop's kiosk. Each would merge hundreds of people into one customer; none links anyone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from journey_analytics import runs
from journey_analytics.config import IdentitySettings, Settings
from journey_analytics.privacy import keyed_hash
from journey_analytics.warehouse import run_model
from tests.conftest import DAY1, TEST_HASH_KEY, Landing, query, run_day
from tests.test_identity import customers

# (the last two with whitespace inside, as the run collapses it: longer than any placeholder
# word, or with a tab)
PLACEHOLDERS = ["guest", "Guest ", "0", "-1", "anonymous", "UNKNOWN", "N/A", "NONE", "nil", "(not set)", "(NOT   SET)", "not\tset"]


def h(value: str) -> str:
    return keyed_hash(TEST_HASH_KEY.encode(), value)


def web(event_id: str, time: str, anonymous_id: str | None, event_name: str = "page_view", **fields: Any) -> dict[str, Any]:
    row = {"event_id": event_id, "event_ts": f"2026-10-01T{time}:00Z", "event_name": event_name, **fields}
    if anonymous_id is not None:
        row["anonymous_id"] = anonymous_id
    return row


def stories(landing: Landing) -> None:
    rows: list[dict[str, Any]] = []
    # a tag that sends a fixed user id for everyone not logged in: two visitors per spelling
    for k, placeholder in enumerate(PLACEHOLDERS):
        for v in range(2):
            rows.append(web(f"ph{k:02d}-{v}", "09:00", f"a-ph{k}-{v}", "view_item", user_id=placeholder))
    # a tag that writes device id '0' when it has no cookie: the page views of no one are no one's
    rows += [web("zero-1", "09:00", "0", "login", user_id="u-z1"), web("zero-2", "10:00", "0", "login", user_id="u-z2"),
             web("zero-3", "11:00", "0")]
    # ada logs in, then the tag sends 'guest' once she has logged out: her device stays hers
    rows += [web("ada-1", "09:00", "a-ada", "login", user_id="u-ada"), web("ada-2", "10:00", "a-ada", user_id="guest")]
    # a QA account a bot logs in with on 25 devices; bea, a person, on three
    rows += [web(f"bot-{i:02d}", "09:00", f"a-bot{i}", "login", user_id="qa-bot") for i in range(25)]
    rows += [web(f"bea-{i}", "09:00", f"a-bea{i}", "login", user_id="u-bea") for i in range(3)]
    # a shop's noreply address given on 25 leads
    rows += [web(f"lead-{i:02d}", "09:00", f"a-lead{i}", "generate_lead", email="noreply@store.com") for i in range(25)]
    # a shop's kiosk on which twelve people logged in, and a visitor who never did
    rows += [web(f"kiosk-{i:02d}", f"{9 + i // 6:02d}:{i % 6 * 10:02d}", "a-kiosk", "login", user_id=f"u-k{i:02d}") for i in range(12)]
    rows.append(web("kiosk-visit", "12:00", "a-kiosk"))
    # a family's computer: two people, the latest keeps the device as before
    rows += [web("fam-1", "09:00", "a-home", "login", user_id="u-mum"), web("fam-2", "10:00", "a-home", "login", user_id="u-dad"),
             web("fam-3", "10:05", "a-home")]
    # CRM users: 12 accounts of one company sharing info@, each logged in on a device of their own
    rows += [web(f"acme-{i:02d}", "09:00", f"a-acme{i}", "login", user_id=f"acme{i:02d}") for i in range(12)]
    # two duplicate accounts of one person under one e-mail, and one account with two e-mails over time
    rows += [web("dup-1", "09:00", "a-dup1", "login", user_id="dup-a"), web("dup-2", "09:00", "a-dup2", "login", user_id="dup-b")]
    landing.jsonl("web", DAY1, "web.jsonl", rows)
    landing.jsonl("email", DAY1, "esp.jsonl", [
        {"event_id": "acme-mail", "event_ts": "2026-10-01T08:00:00Z", "event_name": "open", "email": "info@acme.com"},
        {"event_id": "moved-mail", "event_ts": "2026-10-01T08:00:00Z", "event_name": "open", "email": "new@example.com"},
    ])
    crm = ["user_id,email,platform,handle"]
    crm += [f"acme{i:02d},info@acme.com,," for i in range(12)]
    crm += ["dup-a,dup@example.com,,", "dup-b,dup@example.com,,"]
    crm += ["moved,old@example.com,,", "moved,new@example.com,,"]
    # a CRM export that writes user id 0 for every contact without an account
    crm += [f"0,contact{i}@example.com,," for i in range(12)]
    landing.text("identities", None, "crm.csv", "\n".join(crm) + "\n")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("placeholders")
    landing = Landing(root / "landing")
    stories(landing)
    run_day(landing, root / "journey.duckdb", DAY1)
    return root / "journey.duckdb"


def customer_of(warehouse: Path, identifier_type: str, identifier: str) -> str:
    rows = query(warehouse, "select customer_id from identity_map where identifier_type = ? and identifier = ?",
                 [identifier_type, identifier])
    assert len(rows) == 1, rows
    return str(rows[0][0])


def test_a_placeholder_user_id_names_no_one(warehouse: Path) -> None:
    """Every visitor the tag calls 'guest' (or '0', 'N/A', ...) is a customer of their own device."""
    assert customers(warehouse, "ph") == [
        (f"ph{k:02d}-{v}", f"anon:a-ph{k}-{v}") for k in range(len(PLACEHOLDERS)) for v in range(2)
    ]


def test_a_placeholder_device_id_names_no_one(warehouse: Path) -> None:
    """Each login is its person's; the device '0' links to neither, so the last does not get
    every cookieless visitor's page views."""
    assert customers(warehouse, "zero-") == [("zero-1", "u-z1"), ("zero-2", "u-z2"), ("zero-3", "anon:0")]


def test_a_placeholder_after_a_login_leaves_the_device_its_person(warehouse: Path) -> None:
    assert customers(warehouse, "ada-") == [("ada-1", "u-ada"), ("ada-2", "u-ada")]


def test_a_user_id_on_more_devices_than_a_person_has_names_no_one(warehouse: Path) -> None:
    assert customers(warehouse, "bot-") == [(f"bot-{i:02d}", f"anon:a-bot{i}") for i in range(25)]
    assert customers(warehouse, "bea-") == [(f"bea-{i}", "u-bea") for i in range(3)]


def test_an_email_on_more_devices_than_a_person_has_names_no_one(warehouse: Path) -> None:
    assert customers(warehouse, "lead-") == [(f"lead-{i:02d}", f"anon:a-lead{i}") for i in range(25)]


def test_a_kiosk_of_many_people_is_none_of_theirs(warehouse: Path) -> None:
    """Each login is its person's; the kiosk's anonymous visit is the kiosk's, not the last person's."""
    assert customers(warehouse, "kiosk-") == [
        *[(f"kiosk-{i:02d}", f"u-k{i:02d}") for i in range(12)], ("kiosk-visit", "anon:a-kiosk"),
    ]
    # a family computer of two still joins the person who last identified on it
    assert customers(warehouse, "fam-") == [("fam-1", "u-mum"), ("fam-2", "u-dad"), ("fam-3", "u-dad")]


def test_an_email_a_whole_company_shares_names_no_one(warehouse: Path) -> None:
    assert customers(warehouse, "acme-") == [
        *[(f"acme-{i:02d}", f"acme{i:02d}") for i in range(12)], ("acme-mail", "email:" + h("info@acme.com")[:24]),
    ]


def test_a_few_accounts_sharing_an_email_are_one_person(warehouse: Path) -> None:
    """Duplicate accounts (or a family's) under one e-mail join, as before; one account's e-mails
    over time are all its own."""
    assert customers(warehouse, "dup-") == [("dup-1", "dup-a"), ("dup-2", "dup-a")]
    assert customers(warehouse, "moved-") == [("moved-mail", "moved")]


def test_a_crm_user_id_given_to_every_contact_names_no_one(warehouse: Path) -> None:
    assert {customer_of(warehouse, "email", h(f"contact{i}@example.com")) for i in range(12)} == {
        "email:" + h(f"contact{i}@example.com")[:24] for i in range(12)
    }


def test_the_thresholds_are_settings(tmp_path: Path) -> None:
    """A store whose people use many devices raises the limit; the bot then joins its devices."""
    landing = Landing(tmp_path / "landing")
    landing.jsonl("web", DAY1, "web.jsonl", [web(f"bot-{i:02d}", "09:00", f"a-bot{i}", "login", user_id="qa-bot") for i in range(25)])
    settings = Settings(identity=IdentitySettings(max_devices_per_person=30))
    run_day(landing, tmp_path / "journey.duckdb", DAY1, settings)
    assert {c for _, c in customers(tmp_path / "journey.duckdb", "bot-")} == {"qa-bot"}


def test_customers_count_people(warehouse: Path) -> None:
    """Rows named 'guest', qa-bot or noreply@ make as many customers as there are devices."""
    assert query(warehouse, "select count(distinct customer_id) from events where event_id similar to '(ph|bot|lead)-?.*'") == [
        (2 * len(PLACEHOLDERS) + 25 + 25,)
    ]


def test_an_exported_guest_order_joins_no_guests_visit(tmp_path: Path) -> None:
    """An export that writes 'guest' for every guest order, with no device: the order is no
    visitor's, so it joins none of the visits the tag called 'guest' (which would convert them)."""
    landing = Landing(tmp_path / "landing")
    landing.jsonl("web", DAY1, "web.jsonl", [
        web("visit-1", "09:00", "a-visitor", "view_item", user_id="guest"),
        web("visit-2", "09:05", "a-visitor", user_id="guest"),
        web("order-1", "09:10", None, "purchase", user_id="guest", order_id="O-1", value=20, currency="EUR"),
    ])
    run_day(landing, tmp_path / "journey.duckdb", DAY1)
    rows = query(tmp_path / "journey.duckdb", "select event_id, customer_id, session_id from events order by event_id")
    assert [(e, c) for e, c, _ in rows] == [("order-1", "guest"), ("visit-1", "anon:a-visitor"), ("visit-2", "anon:a-visitor")]
    assert rows[0][2] != rows[1][2] == rows[2][2]
    assert query(tmp_path / "journey.duckdb", "select converted from sessions where session_id = ?", [rows[1][2]]) == [(False,)]


def test_an_exported_guest_order_is_the_checkout_devices(tmp_path: Path) -> None:
    """The tag's guest checkout and the export's row of the same order, both under 'guest': one
    order of the visitor who checked out, in their visit, counted once (not once for the visitor
    and once more for a customer 'guest'). A number two shops gave (in two currencies), as in
    order_people, names no one: neither export row is the visitor's."""
    landing = Landing(tmp_path / "landing")
    landing.jsonl("web", DAY1, "web.jsonl", [
        web(f"tag-{i}", f"09:0{i}", f"a-buyer{i}", "purchase", user_id="guest", order_id=f"O-{i}", value=20, currency="EUR")
        for i in range(3)
    ])
    landing.jsonl("web", DAY1, "orders.jsonl", [
        *[web(f"x-{i}", f"09:1{i}", None, "purchase", user_id="guest", order_id=f"O-{i}", value=20, currency="EUR") for i in range(3)],
        web("x-shop2", "09:20", None, "purchase", user_id="guest", order_id="O-2", value=5, currency="GBP"),
    ])
    run_day(landing, tmp_path / "journey.duckdb", DAY1)
    rows = query(tmp_path / "journey.duckdb", "select event_id, customer_id, session_id from events order by event_id")
    by_event = {e: (c, s) for e, c, s in rows}
    for i in range(2):
        assert by_event[f"x-{i}"] == by_event[f"tag-{i}"]
        assert by_event[f"tag-{i}"][0] == f"anon:a-buyer{i}"
    assert (by_event["tag-2"][0], by_event["x-2"][0], by_event["x-shop2"][0]) == ("anon:a-buyer2", "guest", "guest")


def test_a_customer_whose_browser_keeps_cookies_a_week_stays_one(tmp_path: Path) -> None:
    """A loyal customer on a browser that keeps its cookies a week (Safari's tracking prevention)
    comes back with a new device id every week: 30 devices over 30 weeks are one person's, not
    an id on more devices than a person has (a placeholder shows on dozens a day)."""
    from datetime import timedelta

    landing = Landing(tmp_path / "landing")
    rows = []
    for week in range(30):
        day = (DAY1 - timedelta(weeks=week)).isoformat()
        rows += [
            {"event_id": f"loyal-{week:02d}a", "event_ts": f"{day}T09:00:00Z", "event_name": "view_item",
             "anonymous_id": f"a-safari{week}"},
            {"event_id": f"loyal-{week:02d}b", "event_ts": f"{day}T09:05:00Z", "event_name": "login",
             "anonymous_id": f"a-safari{week}", "user_id": "u-loyal"},
        ]
    landing.jsonl("web", DAY1, "web.jsonl", rows)
    run_day(landing, tmp_path / "journey.duckdb", DAY1)
    assert {c for _, c in customers(tmp_path / "journey.duckdb", "loyal-")} == {"u-loyal"}


def test_a_guest_checkouts_visit_where_the_tag_says_guest_is_the_buyers(tmp_path: Path) -> None:
    """A guest checkout whose tag writes user_id 'guest' on the guest's events is a guest
    checkout all the same: its visit on the family computer is the buyer's the export names, not
    the device's latest person's (the 'guest' counted as someone identified in the visit)."""
    from journey_analytics import runs

    landing = Landing(tmp_path / "landing")
    warehouse = tmp_path / "journey.duckdb"
    landing.jsonl("web", DAY1, "web.jsonl", [
        web("fam-0", "08:55", "a-family", page_url="/sale", utm_source="news", user_id="guest"),
        web("fam-1", "09:00", "a-family", "purchase", user_id="guest", order_id="O-51", value=80, currency="EUR"),
        web("fam-2", "10:00", "a-family", "login", user_id="u-sis"),
        web("fam-3", "10:05", "a-family", user_id="u-sis"),
    ])
    landing.jsonl("web", DAY1, "orders.jsonl", [
        {"event_id": "fam-export", "event_ts": "2026-10-01T09:15:00Z", "event_name": "purchase", "user_id": "u-bro",
         "order_id": "O-51", "value": 80, "currency": "EUR"},
    ])
    runs.run_day_in_process(DAY1, landing.root, warehouse, tmp_path / "reports", Settings())
    assert customers(warehouse, "fam-") == [
        ("fam-0", "u-bro"), ("fam-1", "u-bro"), ("fam-2", "u-sis"), ("fam-3", "u-sis"), ("fam-export", "u-bro"),
    ]
    assert query(
        warehouse,
        "select customer_id, n_events, utm_source, converted from sessions where anonymous_id = 'a-family' order by started_at",
    ) == [("u-bro", 2, "news", True), ("u-sis", 2, None, False)]


def test_a_user_id_that_names_no_one_identifies_no_one(tmp_path: Path) -> None:
    """A visitor the tag calls 'guest' (or a bot's account on 25 devices) is no one identified: not
    is_identified, and no rule for identified customers gives their stage ('identified' in its
    reason); a person who logged in is identified."""
    from journey_analytics import runs

    landing = Landing(tmp_path / "landing")
    rows = [web(f"ph-{v}", "09:00", f"a-ph{v}", "view_item", user_id=p) for v, p in enumerate(PLACEHOLDERS)]
    rows += [web(f"bot-{i:02d}", "09:00", f"a-bot{i}", "page_view", user_id="qa-bot") for i in range(25)]
    rows += [web("ada-1", "09:00", "a-ada", "login", user_id="u-ada"), web("ada-2", "09:05", "a-ada", "view_item")]
    landing.jsonl("web", DAY1, "web.jsonl", rows)
    warehouse = tmp_path / "journey.duckdb"
    runs.run_day_in_process(DAY1, landing.root, warehouse, tmp_path / "reports", Settings())
    visitors = [f"anon:a-ph{v}" for v in range(len(PLACEHOLDERS))] + [f"anon:a-bot{i}" for i in range(25)]
    identified = dict(query(warehouse, "select customer_id, is_identified from customers"))
    assert {c: identified[c] for c in [*visitors, "u-ada"]} == {**dict.fromkeys(visitors, False), "u-ada": True}
    assert query(warehouse, "select distinct rule_id, is_identified from customer_stages where customer_id like 'anon:a-ph%'") == [
        ("consideration.single_intent", False)
    ]
    assert query(warehouse, "select rule_id, is_identified from customer_stages where customer_id = 'u-ada'") == [
        ("consideration.identified_intent", True)
    ]


def test_a_user_id_on_more_devices_than_a_person_has_names_no_one_across_any_30_days(tmp_path: Path) -> None:
    """'Within 30 days' is any 30 days, not blocks of 30 counted from 1970: a bot's account on 30
    devices in two days, 15 of them on 2026-10-03 and 15 on 2026-10-04 (a block's first day), names
    no one; before, each block saw 15 and the bot merged 30 devices into one customer."""
    from datetime import date

    landing = Landing(tmp_path / "landing")
    for day in (date(2026, 10, 3), date(2026, 10, 4)):
        landing.jsonl("web", day, "web.jsonl", [
            {"event_id": f"bot-{day.day}-{i:02d}", "event_ts": f"{day.isoformat()}T10:{i:02d}:00Z", "event_name": "login",
             "anonymous_id": f"a-bot{day.day}-{i}", "user_id": "qa-bot"}
            for i in range(15)
        ])
    run_day(landing, tmp_path / "journey.duckdb", date(2026, 10, 4))
    assert len({c for _, c in customers(tmp_path / "journey.duckdb", "bot-")}) == 30


def test_a_customer_named_by_a_user_id_that_names_no_one_is_not_identified(tmp_path: Path) -> None:
    """An export's orders under 'guest' that no device claims are a customer 'guest' of their own:
    not identified (it was, its user id being its own customer's), and a label given to 'guest'
    labels no one (it trained the classifier on the stage of everyone's unclaimed orders)."""
    import duckdb

    from journey_analytics.stages import read_labels
    from journey_analytics.stages.rules import load_stage_config

    landing = Landing(tmp_path / "landing")
    landing.jsonl("web", DAY1, "web.jsonl", [
        web("ann-1", "09:00", "a-ann", "login", user_id="u-ann"),
        *[web(f"order-{i}", f"09:1{i}", None, "purchase", user_id="guest", order_id=f"O-{i}", value=20, currency="EUR")
          for i in range(3)],
    ])
    landing.text("labels", None, "labels.csv", "user_id,stage,as_of_date\nguest,retention,2026-10-01\nu-ann,consideration,2026-10-01\n")
    warehouse = tmp_path / "journey.duckdb"
    runs.run_day_in_process(DAY1, landing.root, warehouse, tmp_path / "reports", Settings())
    assert query(warehouse, "select customer_id, n_orders, is_identified from customers order by 1") == [
        ("guest", 3, False), ("u-ann", 0, True)]
    assert query(warehouse, "select identifier, names_someone from identity_map where identifier_type = 'user_id' order by 1") == [
        ("guest", False), ("u-ann", True)]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        labels, _ = read_labels(con, DAY1, load_stage_config())
    finally:
        con.close()
    assert labels == {"u-ann": "consideration"}


@pytest.mark.parametrize("value", ["\u00a0undefined", "anonymous\u3000", "\u2003(not set)\u2009", "GUEST" + "\u00a0" * 10])
def test_a_placeholder_padded_with_unicode_spaces_names_no_one(tmp_path: Path, value: str) -> None:
    """The model's placeholder test means regexp_replace(lower(trim(id)), '\\s+', ' ') is one of the
    spellings, for any id: trim takes off every Unicode space (U+00A0, U+2003, U+3000), so an id
    longer than any spelling and without ASCII whitespace can still be one. (Staging trims ids so
    already; the model is run alone here on such an id.)"""
    con = duckdb.connect(str(tmp_path / "model.duckdb"))
    con.execute("create schema raw").fetchall()
    con.execute("create table raw.identities (user_id varchar, email_hash varchar, handle_hash varchar)").fetchall()
    con.execute(
        "create temp table events_unioned as select 'web' as channel, timestamptz '2026-10-01 09:00:00+00' as event_ts,"
        " 'a-1' as anonymous_id, ?::varchar as user_id, null::varchar as email_hash, null::varchar as handle_hash",
        [value],
    ).fetchall()
    con.execute(
        "create temp table run_parameters as select 20::bigint as max_devices_per_person, 10::bigint as max_people_per_identifier"
    ).fetchall()
    run_model(con, "intermediate", "identifiers_naming_no_one")
    assert con.execute("select node from identifiers_naming_no_one where reason = 'placeholder'").fetchall() == [
        ("user_id:" + value,)
    ]


def test_what_r_and_excel_write_for_missing_joins_no_one(tmp_path: Path) -> None:
    """R writes NA for a missing value, Excel #N/A for a lookup that failed, a CRM N/A: in an
    e-mail field (no @: no address), in a CSV's handle or platform, or as a user id (#N/A), each
    joined every customer whose rows said so (an R export of web rows, all with email NA, was
    one customer). An e-mail field of other text (an address written '(at)', an ESP's digest) is
    hashed as given, as before, and masked in a refused row; one of no letter or digit ('-') is
    no address, and is not masked: every hyphen of the row was '[email]'."""
    landing = Landing(tmp_path / "landing")
    landing.text("identities", None, "crm.csv", "user_id,email,platform,handle\n"
                 "u1,NA,NA,NA\nu2,NA,NA,NA\nu3,#N/A,,\nu4,#N/A,,\n")
    landing.text("social", DAY1, "s.csv", "event_id,event_ts,platform,handle,user_id,event_name\n"
                 "s1,2026-10-01T09:00:00Z,instagram,NA,u5,like\ns2,2026-10-01T09:01:00Z,instagram,NA,u6,like\n")
    landing.text("web", DAY1, "w.csv", "event_id,event_ts,event_name,anonymous_id,user_id,email\n"
                 "w1,2026-10-01T10:00:00Z,page_view,dev1,#N/A,\nw2,2026-10-01T11:00:00Z,page_view,dev2,#N/A,\n"
                 "w3,2026-10-01T12:00:00Z,login,dev3,u7,N/A\nw4,2026-10-01T13:00:00Z,login,dev4,u8,N/A\n"
                 "w5,2026-10-01T14:00:00Z,page_view,dev5,,NA\nw6,2026-10-01T15:00:00Z,page_view,dev6,,NA\n"
                 "w7,2026-10-01 10:00:00,page_view,dev7,,-\n"
                 # an address written otherwise is hashed as given, and masked in a refused row
                 "w8,2026-10-01 10:00:00,page_view,dev8,,mary.major(at)example.com\n")
    # an ESP that exports a digest of each address: each is one person, as before
    landing.text("email", DAY1, "esp.csv", "event_id,event_ts,event_name,email\n"
                 "m1,2026-10-01T09:00:00Z,email_open,b1946ac92492d2347c6235b4d2611184\n")
    warehouse = tmp_path / "w.duckdb"
    run_day(landing, warehouse, DAY1)
    by_event = dict(customers(warehouse, "%"))
    assert {e: c for e, c in by_event.items() if e != "m1"} == {
        "w1": "anon:dev1", "w2": "anon:dev2", "w3": "u7", "w4": "u8",
        "w5": "anon:dev5", "w6": "anon:dev6",
    }
    assert query(warehouse, "select count(distinct customer_id) from identity_map where identifier_type = 'user_id'"
                 " and identifier in ('u1', 'u2', 'u3', 'u4')") == [(4,)]
    assert query(warehouse, "select count(*) from identity_map where identifier_type in ('email', 'social_handle')") == [(1,)]
    assert by_event["m1"].startswith("email:")
    assert query(warehouse, "select raw, error from quarantine order by 1") == [
        # a handle NA is no handle, which a social event needs
        ("s1,2026-10-01T09:00:00Z,instagram,@[handle],u5,like", "missing required field handle"),
        ("s2,2026-10-01T09:01:00Z,instagram,@[handle],u6,like", "missing required field handle"),
        ("w7,2026-10-01 10:00:00,page_view,dev7,,-", 'event_ts "2026-10-01 10:00:00" has no time zone; give an offset such as Z or +02:00'),
        ("w8,2026-10-01 10:00:00,page_view,dev8,,[email]", 'event_ts "2026-10-01 10:00:00" has no time zone; give an offset such as Z or +02:00'),
    ]
