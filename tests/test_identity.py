"""Identity stitching: devices, user ids, e-mails and handles linked directly or through chains are one customer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from journey_analytics import runs
from journey_analytics.config import IdentitySettings, Settings
from journey_analytics.privacy import keyed_hash
from tests.conftest import DAY1, TEST_HASH_KEY, Landing, query, run_day


def h(value: str) -> str:
    """The keyed hash the warehouse stores for an e-mail address or 'platform:handle'."""
    return keyed_hash(TEST_HASH_KEY.encode(), value)


def web(event_id: str, time: str, anonymous_id: str, event_name: str = "page_view", **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "event_ts": f"2026-10-01T{time}:00Z", "event_name": event_name,
            "anonymous_id": anonymous_id, **fields}


def people(landing: Landing) -> None:
    """One person per story, each with ids of their own."""
    landing.jsonl("web", DAY1, "web.jsonl", [
        # ann browses anonymously, then signs up with her user id and e-mail
        web("ann-1", "09:00", "a-ann"),
        web("ann-2", "09:05", "a-ann", "view_item"),
        web("ann-3", "09:10", "a-ann", "sign_up", user_id="u-ann", email="Ann@Example.com"),
        # bob leaves only his e-mail; the CRM knows it is u-bob's
        web("bob-1", "09:00", "a-bob"),
        web("bob-2", "09:05", "a-bob", "generate_lead", email="bob@example.com"),
        # cat logs in on her device; her e-mail and handle are known through the CRM
        web("cat-1", "09:00", "a-cat", "login", user_id="u-cat"),
        # dan uses a phone and a laptop
        web("dan-1", "09:00", "a-dan-phone"),
        web("dan-2", "09:05", "a-dan-phone", "login", user_id="u-dan"),
        web("dan-3", "10:00", "a-dan-laptop"),
        web("dan-4", "10:05", "a-dan-laptop", "login", user_id="u-dan"),
        # eve, then fay, use one shared computer
        web("shared-1", "09:00", "a-shared", "login", user_id="u-eve"),
        web("shared-2", "09:30", "a-shared"),
        web("shared-3", "10:00", "a-shared", "login", user_id="u-fay"),
        web("shared-4", "10:30", "a-shared"),
        # gus never says who he is
        web("gus-1", "09:00", "a-gus"),
    ])
    landing.jsonl("email", DAY1, "esp.jsonl", [
        {"event_id": "cat-mail", "event_ts": "2026-10-01T08:00:00Z", "event_name": "open", "email": "cat@example.com"},
        {"event_id": "hal-mail", "event_ts": "2026-10-01T08:00:00Z", "event_name": "delivered", "email": "hal@example.com"},
    ])
    landing.jsonl("social", DAY1, "social.jsonl", [
        {"event_id": "cat-like", "event_ts": "2026-10-01T08:30:00Z", "event_name": "like",
         "platform": "Instagram", "handle": "@Cat_Pics"},
    ])
    landing.text(
        "identities", None, "crm.csv",
        "user_id,email,platform,handle\n"
        "u-bob,BOB@example.com,,\n"
        "u-cat,Cat@Example.com,,\n"
        "u-cat,,instagram,cat_pics\n",
    )


@pytest.fixture(scope="module")
def stitched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The warehouse after one run over everyone's stories, default settings."""
    root = tmp_path_factory.mktemp("identity")
    landing = Landing(root / "landing")
    people(landing)
    run_day(landing, root / "journey.duckdb", DAY1)
    return root / "journey.duckdb"


def customers(warehouse: Path, prefix: str) -> list[tuple[str, str]]:
    return query(
        warehouse,
        "select event_id, customer_id from events where event_id like ? order by event_id",
        [prefix + "%"],
    )


class TestAnonymousThenIdentified:
    """Events a device made before its owner identified belong to that owner."""

    def test_sign_up_with_user_id_and_email(self, stitched: Path) -> None:
        assert customers(stitched, "ann-") == [("ann-1", "u-ann"), ("ann-2", "u-ann"), ("ann-3", "u-ann")]

    def test_email_only_lead_known_to_the_crm(self, stitched: Path) -> None:
        assert customers(stitched, "bob-") == [("bob-1", "u-bob"), ("bob-2", "u-bob")]


class TestChains:
    """A device, a user id, an e-mail and a social handle linked in a chain are one customer."""

    def test_every_channel_on_one_customer(self, stitched: Path) -> None:
        assert customers(stitched, "cat-") == [("cat-1", "u-cat"), ("cat-like", "u-cat"), ("cat-mail", "u-cat")]

    def test_long_chain_settles_on_the_smallest_user_id(self, landing: Landing, warehouse: Path) -> None:
        # u00 - e00 - u01 - e01 - u02 - ... : only the CRM ties each user to the next.
        links = []
        for i in range(20):
            links += [f"u{i:02d},e{i:02d}@example.com,,", f"u{i + 1:02d},e{i:02d}@example.com,,"]
        # newest link first, so no single pass in file order can settle it
        landing.text("identities", None, "chain.csv", "user_id,email,platform,handle\n" + "\n".join(reversed(links)) + "\n")
        landing.jsonl("web", DAY1, "web.jsonl", [web("last", "09:00", "a-last", "login", user_id="u20")])
        run_day(landing, warehouse, DAY1)
        assert customers(warehouse, "last") == [("last", "u00")]
        # 21 user ids, 20 e-mails, 1 device: all one customer
        assert query(warehouse, "select count(distinct customer_id), count(*) from identity_map") == [(1, 42)]

    def test_a_chain_of_a_thousand_shuffled_links_settles(self, landing: Landing, warehouse: Path) -> None:
        # u0000 - e0000 - u0001 - ... - u1000: the hashed e-mails give the chain's labels in no
        # order, which label propagation node by node needed hundreds of steps for (a failed run)
        links = []
        for i in range(1000):
            links += [f"u{i:04d},e{i:04d}@example.com,,", f"u{i + 1:04d},e{i:04d}@example.com,,"]
        landing.text("identities", None, "chain.csv", "user_id,email,platform,handle\n" + "\n".join(links) + "\n")
        landing.jsonl("web", DAY1, "web.jsonl", [web("last", "09:00", "a-last", "login", user_id="u1000")])
        run_day(landing, warehouse, DAY1)
        assert customers(warehouse, "last") == [("last", "u0000")]
        assert query(warehouse, "select count(distinct customer_id), count(*) from identity_map") == [(1, 2002)]


class TestDevices:
    """Two devices of one user are one customer; a shared device follows the person who used it last."""

    def test_two_devices_one_customer(self, stitched: Path) -> None:
        assert customers(stitched, "dan-") == [("dan-1", "u-dan"), ("dan-2", "u-dan"), ("dan-3", "u-dan"), ("dan-4", "u-dan")]

    def test_shared_device_links_to_latest_identity_only(self, stitched: Path) -> None:
        assert customers(stitched, "shared-") == [
            ("shared-1", "u-eve"), ("shared-2", "u-fay"), ("shared-3", "u-fay"), ("shared-4", "u-fay"),
        ]

    def test_shared_device_merges_everyone_when_the_setting_is_off(self, tmp_path: Path) -> None:
        landing = Landing(tmp_path / "landing")
        people(landing)
        settings = Settings(identity=IdentitySettings(link_device_to_latest_identity_only=False))
        run_day(landing, tmp_path / "journey.duckdb", DAY1, settings)
        assert customers(tmp_path / "journey.duckdb", "shared-") == [
            ("shared-1", "u-eve"), ("shared-2", "u-eve"), ("shared-3", "u-eve"), ("shared-4", "u-eve"),
        ]


def exported_order(event_id: str, order_id: str, user_id: str, time: str = "09:15") -> dict[str, Any]:
    """A purchase from the store's order export: the customer's user id, no device."""
    return {"event_id": event_id, "event_ts": f"2026-10-01T{time}:00Z", "event_name": "purchase",
            "user_id": user_id, "order_id": order_id, "value": 80, "currency": "EUR"}


def guest_order(event_id: str, anonymous_id: str, order_id: str, time: str = "09:10") -> dict[str, Any]:
    """A purchase seen by the web tag during a guest checkout: a device, no user id."""
    return web(event_id, time, anonymous_id, "purchase", order_id=order_id, value=80, currency="EUR")


class TestOrders:
    """One order_id in the web tag's guest checkout and in the store's export of the customer's
    orders is one person's order: the device joins the customer (an order id that names several
    people, as a tag sending one id for every order does, links no one)."""

    def test_guest_checkout_joins_the_exported_customer(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("gina-1", "09:00", "a-gina", "view_item"), guest_order("gina-2", "a-gina", "O-100"),
        ])
        landing.jsonl("web", DAY1, "orders.jsonl", [exported_order("gina-export", "O-100", "u-gina")])
        run_day(landing, warehouse, DAY1)
        assert customers(warehouse, "gina-") == [
            ("gina-1", "u-gina"), ("gina-2", "u-gina"), ("gina-export", "u-gina"),
        ]

    def test_a_refund_names_the_order_too(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [guest_order("hugo-1", "a-hugo", "O-7")])
        landing.jsonl("web", DAY1, "refunds.jsonl", [
            {**exported_order("hugo-refund", "O-7", "u-hugo", "15:00"), "event_name": "refund"},
        ])
        run_day(landing, warehouse, DAY1)
        assert customers(warehouse, "hugo-") == [("hugo-1", "u-hugo"), ("hugo-refund", "u-hugo")]

    def test_an_order_id_naming_several_people_links_no_one(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [guest_order(f"junk-g{i}", f"a-j{i}", "0") for i in range(2)])
        landing.jsonl("web", DAY1, "orders.jsonl", [
            exported_order("junk-x1", "0", "u-x1"), exported_order("junk-x2", "0", "u-x2"),
        ])
        run_day(landing, warehouse, DAY1)
        assert customers(warehouse, "junk-") == [
            ("junk-g0", "anon:a-j0"), ("junk-g1", "anon:a-j1"), ("junk-x1", "u-x1"), ("junk-x2", "u-x2"),
        ]

    def test_an_order_id_on_many_guest_devices_links_no_one(self, landing: Landing, warehouse: Path) -> None:
        """One order is checked out on one device, maybe refunded from a second; not on three."""
        landing.jsonl("web", DAY1, "web.jsonl", [guest_order(f"many-g{i}", f"a-m{i}", "1") for i in range(3)])
        landing.jsonl("web", DAY1, "orders.jsonl", [exported_order("many-x", "1", "u-m")])
        run_day(landing, warehouse, DAY1)
        assert customers(warehouse, "many-") == [
            ("many-g0", "anon:a-m0"), ("many-g1", "anon:a-m1"), ("many-g2", "anon:a-m2"), ("many-x", "u-m"),
        ]

    @pytest.mark.parametrize("other_shop", [
        pytest.param({"currency": "GBP"}, id="in another currency"),
        pytest.param({"event_ts": "2026-09-21T09:10:00Z"}, id="ten days apart"),
    ])
    def test_one_number_in_two_shops_links_no_one(
        self, landing: Landing, warehouse: Path, other_shop: dict[str, str]
    ) -> None:
        """Two shops number their orders alike: shop A's guest checkout 1001 and shop B's export of
        its customer's order 1001, in another currency or days apart, are two orders of two people
        (the tag's and the export's purchase of one order are minutes apart, in one currency)."""
        landing.jsonl("web", DAY1, "web.jsonl", [guest_order("shops-1", "a-shopper", "1001")])
        landing.jsonl("web", DAY1, "orders.jsonl", [{**exported_order("shops-x", "1001", "u-other"), **other_shop}])
        run_day(landing, warehouse, DAY1)
        assert customers(warehouse, "shops-") == [("shops-1", "anon:a-shopper"), ("shops-x", "u-other")]

    def test_a_guest_keeps_their_order_when_another_shop_uses_its_number_in_another_currency(
        self, landing: Landing, warehouse: Path
    ) -> None:
        """Shop A's guest checkout 1001 and its export naming the buyer a minute later are one
        order in euros; shop B's guest order 1001 in dollars a week later is another order, of
        someone else: the first guest is still the buyer (an order_id in two currencies named no
        one, and the buyer's link went with the other shop's)."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            guest_order("cur-1", "a-guest", "1001"),
            {**guest_order("cur-2", "a-other-shop", "1001"), "currency": "USD", "event_ts": "2026-09-24T09:10:00Z"},
        ])
        landing.jsonl("web", DAY1, "orders.jsonl", [exported_order("cur-x", "1001", "u-buyer", time="09:11")])
        run_day(landing, warehouse, DAY1)
        assert customers(warehouse, "cur-") == [("cur-1", "u-buyer"), ("cur-2", "anon:a-other-shop"), ("cur-x", "u-buyer")]

    def test_a_device_with_several_peoples_guest_orders_links_to_none(self, landing: Landing, warehouse: Path) -> None:
        """A shop's kiosk where three buyers checked out as guests is none of theirs: linking it to the
        latest would hand that buyer the other two's orders."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            guest_order(f"kiosk-{i}", "a-kiosk", f"K{i}", f"1{i}:00") for i in range(3)
        ])
        landing.jsonl("web", DAY1, "orders.jsonl", [exported_order(f"kiosk-x{i}", f"K{i}", f"u-p{i}") for i in range(3)])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select customer_id from identity_map where identifier = 'a-kiosk'") == [("anon:a-kiosk",)]
        # each guest purchase is its buyer's order (once), not also an order of the kiosk
        assert customers(warehouse, "kiosk-") == [
            ("kiosk-0", "u-p0"), ("kiosk-1", "u-p1"), ("kiosk-2", "u-p2"),
            ("kiosk-x0", "u-p0"), ("kiosk-x1", "u-p1"), ("kiosk-x2", "u-p2"),
        ]

    def test_a_shared_device_still_follows_its_latest_person(self, landing: Landing, warehouse: Path) -> None:
        """A guest order is one more identification on its device, at the order's time."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            guest_order("kim-1", "a-home", "O-9", "09:00"),
            web("kim-2", "10:00", "a-home", "login", user_id="u-lou"),
            web("kim-3", "10:05", "a-home"),
        ])
        landing.jsonl("web", DAY1, "orders.jsonl", [exported_order("kim-export", "O-9", "u-kim")])
        run_day(landing, warehouse, DAY1)
        # the guest purchase itself is the order of the person its order_id names (see below)
        assert customers(warehouse, "kim-") == [
            ("kim-1", "u-kim"), ("kim-2", "u-lou"), ("kim-3", "u-lou"), ("kim-export", "u-kim"),
        ]

    def test_a_guest_order_on_a_shared_device_is_only_the_named_persons(self, landing: Landing, warehouse: Path) -> None:
        """A guest order on a device that someone else logged in on later (a family computer, a
        shop's kiosk) is the order of the person its order_id names, once: the device follows its
        latest person, but that person did not buy it."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            guest_order("fam-1", "a-family", "O-51", "09:00"),
            web("fam-2", "10:00", "a-family", "login", user_id="u-sis"),
            web("fam-3", "10:05", "a-family", "view_item", user_id="u-sis"),
        ])
        landing.jsonl("web", DAY1, "orders.jsonl", [exported_order("fam-export", "O-51", "u-bro")])
        runs.run_day_in_process(DAY1, landing.root, warehouse, warehouse.parent / "reports", Settings())  # stages too
        assert query(
            warehouse,
            "select customer_id, n_orders, revenue from customers where customer_id in ('u-bro', 'u-sis') order by 1",
        ) == [("u-bro", 1, 80), ("u-sis", 0, 0)]
        assert query(warehouse, "select stage from customer_stages where customer_id = 'u-sis'") == [("consideration",)]


    @pytest.mark.parametrize("given", ["computed", "given", "server"],
                             ids=["computed sessions", "given session ids", "given ids, the order sent by the server"])
    def test_a_guest_checkouts_visit_is_the_buyers(self, landing: Landing, warehouse: Path, given: str) -> None:
        """The visit of a guest checkout on a shared device is the buyer's, not the device's latest
        person's: its browsing and its order in one session of the buyer (a given session id is not
        split between them), so the campaign keeps its conversion and sessions agree with customers.
        So too when the tag gives session ids and the shop's server sends the order without one."""
        ids = ({"session_id": "g1"}, {"session_id": "g2"}) if given != "computed" else ({}, {})
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("fam-0", "08:55", "a-family", page_url="/sale", utm_source="news", **ids[0]),
            {**guest_order("fam-1", "a-family", "O-51", "09:00"), **(ids[0] if given != "server" else {})},
            web("fam-2", "10:00", "a-family", "login", user_id="u-sis", **ids[1]),
            web("fam-3", "10:05", "a-family", **ids[1]),
        ])
        landing.jsonl("web", DAY1, "orders.jsonl", [exported_order("fam-export", "O-51", "u-bro")])
        runs.run_day_in_process(DAY1, landing.root, warehouse, warehouse.parent / "reports", Settings())
        assert customers(warehouse, "fam-") == [
            ("fam-0", "u-bro"), ("fam-1", "u-bro"), ("fam-2", "u-sis"), ("fam-3", "u-sis"), ("fam-export", "u-bro"),
        ]
        assert query(
            warehouse,
            "select customer_id, n_events, utm_source, converted from sessions where anonymous_id = 'a-family' order by started_at",
        ) == [("u-bro", 2, "news", True), ("u-sis", 2, None, False)]
        assert query(warehouse, "select customer_id, n_orders from customers where customer_id in ('u-bro', 'u-sis') order by 1") == [
            ("u-bro", 1), ("u-sis", 0)]


    @pytest.mark.parametrize("given", [False, True], ids=["computed sessions", "given session ids"])
    def test_two_guests_in_one_visit_keep_their_own_orders(self, landing: Landing, warehouse: Path, given: bool) -> None:
        """A kiosk visit holding two people's guest checkouts has no one buyer, but each guest order
        is still its own buyer's, not the kiosk's latest person's (who would get both orders, and
        each order would be counted twice)."""
        ids = {"session_id": "k1"} if given else {}
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("kio-0", "08:00", "a-kiosk", "login", user_id="u-staff"),
            web("kio-1", "10:00", "a-kiosk", "view_item", **ids),
            {**guest_order("kio-2", "a-kiosk", "O-61", "10:05"), **ids},
            {**guest_order("kio-3", "a-kiosk", "O-62", "10:15"), **ids},
        ])
        landing.jsonl("web", DAY1, "orders.jsonl", [
            exported_order("kio-x1", "O-61", "u-ann", "10:06"), exported_order("kio-x2", "O-62", "u-bob", "10:16"),
        ])
        runs.run_day_in_process(DAY1, landing.root, warehouse, warehouse.parent / "reports", Settings())
        assert customers(warehouse, "kio-") == [
            ("kio-0", "u-staff"), ("kio-1", "u-staff"), ("kio-2", "u-ann"), ("kio-3", "u-bob"),
            ("kio-x1", "u-ann"), ("kio-x2", "u-bob"),
        ]
        assert query(warehouse, "select customer_id, n_orders from customers order by 1") == [
            ("u-ann", 1), ("u-bob", 1), ("u-staff", 0)]

    @pytest.mark.parametrize("given", ["computed", "given", "server"],
                             ids=["computed sessions", "given session ids", "given ids, the order sent by the server"])
    def test_a_visit_in_which_someone_else_logs_in_stays_the_devices(
        self, landing: Landing, warehouse: Path, given: str
    ) -> None:
        """After a guest checkout, another person logs in within the same visit (the family computer
        passed on): the visit's unnamed events stay with the device's person, and only the guest
        order is its buyer's; her intent signals are not handed to him. So too when the tag gives
        session ids and the order and the last event come without one (sent by the server)."""
        ids = {"session_id": "f1"} if given != "computed" else {}
        untagged = ids if given != "server" else {}
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("fl-1", "09:00", "a-family", "view_item", **ids),
            {**guest_order("fl-2", "a-family", "O-81", "09:05"), **untagged},
            web("fl-3", "09:10", "a-family", "login", user_id="u-sis", **ids),
            web("fl-4", "09:15", "a-family", "add_to_cart", **untagged),
        ])
        landing.jsonl("web", DAY1, "orders.jsonl", [exported_order("fl-x", "O-81", "u-bro", "12:00")])
        runs.run_day_in_process(DAY1, landing.root, warehouse, warehouse.parent / "reports", Settings())
        assert customers(warehouse, "fl-") == [
            ("fl-1", "u-sis"), ("fl-2", "u-bro"), ("fl-3", "u-sis"), ("fl-4", "u-sis"), ("fl-x", "u-bro")]

    def test_a_guest_order_in_a_session_id_given_to_several_customers_is_the_buyers(
        self, landing: Landing, warehouse: Path
    ) -> None:
        """A session id the source gave to two customers (GA4's per-user ids) is split between them,
        and a guest order in it is still its buyer's, in a share of its own."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            {**guest_order("sid-1", "a-family", "O-71", "09:00"), "session_id": "1700000001"},
            web("sid-2", "10:00", "a-family", "login", user_id="u-sis", session_id="1700000002"),
            web("sid-3", "11:00", "a-other", "login", user_id="u-other", session_id="1700000001"),
        ])
        landing.jsonl("web", DAY1, "orders.jsonl", [exported_order("sid-x", "O-71", "u-bro", "12:00")])
        runs.run_day_in_process(DAY1, landing.root, warehouse, warehouse.parent / "reports", Settings())
        assert customers(warehouse, "sid-") == [
            ("sid-1", "u-bro"), ("sid-2", "u-sis"), ("sid-3", "u-other"), ("sid-x", "u-bro")]
        assert query(warehouse, "select customer_id, n_orders from customers order by 1") == [
            ("u-bro", 1), ("u-other", 0), ("u-sis", 0)]
        assert query(
            warehouse, "select customer_id, converted from sessions where session_id like '1700000001~%' order by 1"
        ) == [("u-bro", True), ("u-other", False)]


class TestNeverIdentified:
    """People never identified get a customer_id from their device, e-mail or handle, by prefix."""

    def test_anonymous_device(self, stitched: Path) -> None:
        assert customers(stitched, "gus-") == [("gus-1", "anon:a-gus")]

    def test_email_only_contact(self, stitched: Path) -> None:
        assert customers(stitched, "hal-") == [("hal-mail", "email:" + h("hal@example.com")[:24])]

    def test_social_only_contact(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("social", DAY1, "social.jsonl", [
            {"event_id": "ivy-like", "event_ts": "2026-10-01T08:30:00Z", "event_name": "like", "platform": "x", "handle": "Ivy"},
        ])
        run_day(landing, warehouse, DAY1)
        assert customers(warehouse, "ivy-") == [("ivy-like", "social:" + h("x:ivy")[:24])]

    def test_whitespace_around_an_email_or_handle_is_not_part_of_it(self, landing: Landing, warehouse: Path) -> None:
        """Tabs, line ends and Unicode spaces around an address or handle (as exports pad them)."""
        landing.jsonl("web", DAY1, "web.jsonl", [web("jo-1", "09:00", "a-jo", "login", user_id="u-jo", email=" Jo@X.com ")])
        landing.jsonl("email", DAY1, "esp.jsonl", [
            {"event_id": f"jo-m{i}", "event_ts": "2026-10-01T08:00:00Z", "event_name": "open", "email": email}
            for i, email in enumerate(["JO@x.com", "jo@x.com\u00a0", "jo@x.com\t", "\njo@x.com\r\n", "\u2003jo@x.com"])
        ])
        landing.jsonl("social", DAY1, "social.jsonl", [
            {"event_id": "jo-s", "event_ts": "2026-10-01T08:30:00Z", "event_name": "like", "platform": "x\t", "handle": "\t@Jo_x "},
        ])
        landing.text("identities", None, "crm.csv", "user_id,email,platform,handle\nu-jo,jo@x.com,x,jo_x\n")
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select distinct customer_id from events") == [("u-jo",)]

    def test_an_address_with_its_at_sign_url_encoded_is_the_same_address(self, landing: Landing, warehouse: Path) -> None:
        """A CRM or ESP export that wrote the @ URL-encoded (%40, or %2540 encoded twice), as an id
        holding an address is already read: one person, not one per spelling."""
        landing.jsonl("web", DAY1, "web.jsonl", [web("pat-1", "09:00", "a-pat", "login", email="pat@x.com")])
        landing.jsonl("email", DAY1, "esp.jsonl", [
            {"event_id": f"pat-m{i}", "event_ts": "2026-10-01T08:00:00Z", "event_name": "open", "email": email}
            for i, email in enumerate(["Pat%40X.com", "pat%2540x.com"])
        ])
        landing.text("identities", None, "crm.csv", "user_id,email,platform,handle\nu-pat,PAT%40x.com,,\n")
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select distinct customer_id from events") == [("u-pat",)]
        assert query(warehouse, "select count(distinct email_hash) from events") == [(1,)]



    def test_an_address_in_composed_and_decomposed_unicode_is_the_same_address(
        self, landing: Landing, warehouse: Path
    ) -> None:
        """'josé' typed on one device is e + U+0301 on another (macOS, some CRMs and ESPs write
        decomposed text): the same text in Unicode (NFC and NFD), so one person, also in the domain."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("jo-1", "09:00", "a-jo-1", "sign_up", email="jos\u00e9@b\u00fccher.de"),
            web("jo-2", "09:05", "a-jo-2", "login", email="jose\u0301@bu\u0308cher.de"),
        ])
        landing.jsonl("email", DAY1, "esp.jsonl", [
            {"event_id": "jo-m", "event_ts": "2026-10-01T08:00:00Z", "event_name": "open", "email": "JOSE\u0301@BU\u0308CHER.DE"},
        ])
        landing.text("identities", None, "crm.csv", "user_id,email,platform,handle\nu-jo,JOS\u00c9@b\u00fccher.de,,\n")
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select distinct customer_id from events") == [("u-jo",)]
        assert query(warehouse, "select count(distinct email_hash) from events") == [(1,)]

    def test_an_internationalised_domain_as_unicode_or_as_its_a_label_is_the_same_address(
        self, landing: Landing, warehouse: Path
    ) -> None:
        """An ESP or SMTP log exports 'josé@bücher.de' with its domain in ASCII (the IDNA A-label
        'xn--bcher-kva.de'), a form 'BÜCHER.DE' in capitals: one domain (RFC 5890), so one person
        across the web, the e-mail channel and the CRM, hashed as the Unicode form."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("jo-1", "09:00", "a-jo-1", "sign_up", email="jos\u00e9@b\u00fccher.de"),
            web("jo-2", "09:05", "a-jo-2", "generate_lead", email="JOS\u00c9@XN--BCHER-KVA.DE"),
        ])
        landing.jsonl("email", DAY1, "esp.jsonl", [
            {"event_id": f"jo-m{i}", "event_ts": "2026-10-01T08:00:00Z", "event_name": "open", "email": email}
            for i, email in enumerate(["jos\u00e9@xn--bcher-kva.de", "jos\u00e9@B\u00dcCHER.DE", "jos\u00e9@b\u00fccher\u3002de"])
        ])
        landing.text("identities", None, "crm.csv", "user_id,email,platform,handle\nu-jo,jos\u00e9@Xn--Bcher-Kva.de,,\n")
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select distinct customer_id from events") == [("u-jo",)]
        assert query(warehouse, "select distinct email_hash from events") == [(h("jos\u00e9@b\u00fccher.de"),)]

    def test_an_address_with_a_full_width_or_small_at_is_the_same_address(
        self, landing: Landing, warehouse: Path
    ) -> None:
        """An address typed with an East Asian keyboard's full-width ＠ (or a small ﹫) is the
        address with an @, as the masking reads it: one person, not two."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("fw-1", "09:00", "a-fw-1", "sign_up", email="li.wei@example.cn"),
        ])
        landing.jsonl("email", DAY1, "esp.jsonl", [
            {"event_id": f"fw-m{i}", "event_ts": "2026-10-01T08:00:00Z", "event_name": "open", "email": email}
            for i, email in enumerate(["li.wei\uff20example.cn", "Li.Wei\ufe6bExample.CN"])
        ])
        landing.text("identities", None, "crm.csv", "user_id,email,platform,handle\nu-fw,li.wei\uff20example.cn,,\n")
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select distinct customer_id from events") == [("u-fw",)]
        assert query(warehouse, "select distinct email_hash from events") == [(h("li.wei@example.cn"),)]

    def test_a_domain_label_longer_than_a_label_can_be_is_kept_as_given(self, landing: Landing, warehouse: Path) -> None:
        """An e-mail field holding a long text in a non-Latin script with an @ in it (a pasted
        message, not an address) is not a domain of labels (63 characters at most, RFC 1035): it is
        hashed as written, at once. Encoding it as an A-label took time growing with the square of
        its length (a quarter of a minute for 16,000 characters, per row), enough to stall a run."""
        label = "".join(chr(0x4E00 + (i * 7919) % 20_000) for i in range(16_000))  # CJK, in no order
        landing.jsonl("email", DAY1, "esp.jsonl", [
            {"event_id": "long-m1", "event_ts": "2026-10-01T08:00:00Z", "event_name": "open", "email": f"zed@{label}.de"},
            {"event_id": "long-m2", "event_ts": "2026-10-01T08:00:00Z", "event_name": "open", "email": "zed@b\u00fccher.de"},
        ])
        from journey_analytics.privacy import address_with_a_labels, canonical_address_domain

        # not a domain: kept as given by both functions (the A-label spelling is not even tried)
        given = f"zed@{label}.de"
        assert address_with_a_labels(given) == given and canonical_address_domain(given) == given
        summary = run_day(landing, warehouse, DAY1)
        assert summary.rows_loaded == 2
        assert query(warehouse, "select email_hash from events order by event_id") == [
            (h(f"zed@{label}.de"),), (h("zed@b\u00fccher.de"),)]

    def test_an_a_label_that_is_not_valid_idna_is_kept_as_given(self, landing: Landing, warehouse: Path) -> None:
        """A malformed A-label ('xn--zz!') does not stop the run: the row loads, its address
        hashed as written (in lower case), the person never identified."""
        landing.jsonl("email", DAY1, "esp.jsonl", [
            {"event_id": "zz-m1", "event_ts": "2026-10-01T08:00:00Z", "event_name": "open", "email": "Zed@XN--ZZ!.de"},
            {"event_id": "zz-m2", "event_ts": "2026-10-01T08:00:00Z", "event_name": "open", "email": "zed@xn--.de"},
            {"event_id": "zz-m3", "event_ts": "2026-10-01T08:00:00Z", "event_name": "open", "email": "zed@xn--abc-.de"},
        ])
        summary = run_day(landing, warehouse, DAY1)
        assert (summary.rows_loaded, summary.rows_quarantined) == (3, 0)
        assert query(warehouse, "select event_id, customer_id from events order by 1") == [
            ("zz-m1", "email:" + h("zed@xn--zz!.de")[:24]),
            ("zz-m2", "email:" + h("zed@xn--.de")[:24]),
            ("zz-m3", "email:" + h("zed@xn--abc-.de")[:24]),
        ]

    def test_invisible_marks_around_an_address_or_handle_and_decomposed_handles(
        self, landing: Landing, warehouse: Path
    ) -> None:
        """Text pasted from a right-to-left page or a word processor brings invisible marks (a
        zero-width space, a left-to-right or right-to-left mark, a byte order mark, a word joiner)
        around an address or handle: not part of it. A handle in decomposed Unicode (NFD) is the
        same text as composed (YouTube handles may hold accents)."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            web(f"al-{i}", f"09:0{i}", f"a-al-{i}", "login", email=email)
            for i, email in enumerate(["\u200bali@x.com", "ali@x.com\u200e", "\u200fali@x.com\u200f",
                                       "\ufeffali@x.com", "ali@x.com\u2060", "\u2066ali@x.com\u2069"])
        ])
        landing.jsonl("social", DAY1, "social.jsonl", [
            {"event_id": f"jc-{i}", "event_ts": "2026-10-01T08:30:00Z", "event_name": "like", "platform": "youtube",
             "handle": handle}
            for i, handle in enumerate(["@Jose\u0301Canal", "\u200b@jos\u00e9canal", "jos\u00e9canal\u200f"])
        ])
        landing.text("identities", None, "crm.csv",
                     "user_id,email,platform,handle\nu-al,ali@x.com,,\nu-jc,,youtube,JOS\u00c9CANAL\n")
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select distinct customer_id from events order by 1") == [("u-al",), ("u-jc",)]

    def test_null_markers_of_an_export_are_missing_values(self, landing: Landing, warehouse: Path) -> None:
        """A database export writes a missing user_id or e-mail as NULL (or \\N): two strangers
        whose rows say user_id NULL stay two customers; an event_id NULL is missing."""
        landing.text("web", DAY1, "export.csv", (
            "event_id,event_ts,event_name,anonymous_id,user_id,email\n"
            "n-1,2026-10-01T09:00:00Z,page_view,a-one, NULL,NULL\n"  # a space after the comma
            "n-2,2026-10-01T09:00:00Z,sign_up,a-two,\\N,null\n"
            "NULL,2026-10-01T09:00:00Z,page_view,a-three,,\n"
        ))
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, customer_id, user_id, email_hash from events order by 1") == [
            ("n-1", "anon:a-one", None, None), ("n-2", "anon:a-two", None, None),
        ]
        assert query(warehouse, "select line_no, error from quarantine") == [(4, "missing required field event_id")]


class TestBrandReplies:
    """A brand_reply is the customer's it answers. Landed with the brand's own handle (as inbox
    tools such as Sprout Social export a reply's From), it still is: the brand is no customer."""

    @staticmethod
    def social(event_id: str, time: str, event_name: str, handle: str, thread: str, **fields: Any) -> dict[str, Any]:
        return {"event_id": event_id, "event_ts": f"2026-10-01T{time}:00Z", "event_name": event_name,
                "platform": "instagram", "handle": handle, "thread_id": thread, **fields}

    def test_a_reply_with_the_brands_handle_is_the_askers(self, landing: Landing, warehouse: Path) -> None:
        s = self.social
        landing.jsonl("social", DAY1, "inbox.jsonl", [
            s("ann-ask", "09:00", "message", "ann_b", "t1"),
            s("ann-reply", "10:00", "brand_reply", "OurShop", "t1"),
            s("bob-ask", "09:00", "message", "bob_c", "t2", user_id="u-bob"),
            s("bob-ask-2", "09:30", "message", "bob_c", "t2"),
            s("bob-reply", "11:00", "brand_reply", "OurShop", "t2"),
            # the contract's own form: the reply names the person answered
            s("cat-ask", "09:00", "comment", "cat_d", "t3"),
            s("cat-reply", "09:05", "brand_reply", "cat_d", "t3"),
        ])
        run_day(landing, warehouse, DAY1)
        ann = "social:" + h("instagram:ann_b")[:24]
        cat = "social:" + h("instagram:cat_d")[:24]
        assert query(warehouse, "select event_id, customer_id from events order by event_id") == [
            ("ann-ask", ann), ("ann-reply", ann), ("bob-ask", "u-bob"), ("bob-ask-2", "u-bob"),
            ("bob-reply", "u-bob"), ("cat-ask", cat), ("cat-reply", cat),
        ]
        assert query(warehouse, "select count(*) from identity_map where identifier = ?", [h("instagram:ourshop")]) == [(0,)]
        assert query(warehouse, "select count(distinct customer_id) from identity_map") == [(3,)]

    def test_a_thread_several_people_wrote_in_answers_no_one_in_particular(self, landing: Landing, warehouse: Path) -> None:
        s = self.social
        landing.jsonl("social", DAY1, "inbox.jsonl", [
            s("ann-c", "09:00", "comment", "ann_b", "post-thread"),
            s("bob-c", "09:01", "comment", "bob_c", "post-thread"),
            s("reply", "10:00", "brand_reply", "OurShop", "post-thread"),
            s("lone-reply", "10:00", "brand_reply", "dan_e", "t-unknown"),  # no ask landed
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select event_id, customer_id from events where event_id like '%reply' order by 1") == [
            ("lone-reply", "social:" + h("instagram:dan_e")[:24]),
            ("reply", "social:" + h("instagram:ourshop")[:24]),
        ]


class TestCrmUserIdAlone:
    """A CRM row with a user id alone (the contract: "any may be empty but user_id") is loaded:
    the CRM knows the customer. It links to nothing, so it creates no link and no empty node."""

    CRM = (
        "user_id,email,platform,handle\n"
        "u-kim,,,\n"  # no events: a customer of its own, as u-lee with an e-mail
        "u-lee,lee@example.com,,\n"
        "u-kim,,,\n"  # the same row again: one row
        "u-max,,,\n"  # identified through the CRM alone (below)
        "u-ned,,instagram,\n"  # a platform without a handle names no one: a user id alone
        "u-ned,,,\n"
    )

    def test_loaded_and_in_identity_map_as_a_crm_user_with_an_email(self, landing: Landing, warehouse: Path) -> None:
        landing.text("identities", None, "crm.csv", self.CRM)
        landing.jsonl("web", DAY1, "web.jsonl", [web("gus-1", "09:00", "a-gus")])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select count(*) from quarantine") == [(0,)]
        assert query(warehouse, "select user_id, email_hash, platform, handle_hash, line_no from raw.identities order by line_no") == [
            ("u-kim", None, None, None, 2), ("u-lee", h("lee@example.com"), None, None, 3),
            ("u-max", None, None, None, 5), ("u-ned", None, None, None, 6),
        ]
        assert query(warehouse, "select identifier_type, identifier, customer_id, customer_identifiers from identity_map") == [
            ("anonymous_id", "a-gus", "anon:a-gus", 1),
            ("user_id", "u-kim", "u-kim", 1),
            ("email", h("lee@example.com"), "u-lee", 2),
            ("user_id", "u-lee", "u-lee", 2),
            ("user_id", "u-max", "u-max", 1),
            ("user_id", "u-ned", "u-ned", 1),
        ]
        # the day again, the export read again with a row more, loads nothing twice
        landing.text("identities", None, "crm.csv", self.CRM + "u-oz,,,\n")
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select user_id, line_no from raw.identities where email_hash is null order by 2") == [
            ("u-kim", 2), ("u-max", 5), ("u-ned", 6), ("u-oz", 8),
        ]
        assert query(
            warehouse, "select rows_read, rows_loaded, rows_quarantined, rows_duplicate from pipeline_runs order by started_at"
        ) == [(7, 5, 0, 2), (7, 1, 0, 6)]

    def test_counted_identified_as_the_crm_knows_it(self, landing: Landing, warehouse: Path) -> None:
        """A device whose login comes after the run date is identified for that date only as the
        CRM knows its user id (as it would be by a CRM row with an e-mail); its customer is the user id."""
        later_login = {**web("max-2", "09:00", "a-max", "login", user_id="u-max"), "event_ts": "2026-10-02T09:00:00Z"}
        landing.jsonl("web", DAY1, "web.jsonl", [web("max-1", "09:00", "a-max", "view_item"), later_login,
                                                 web("nat-1", "09:00", "a-nat", "view_item"),
                                                 {**later_login, "event_id": "nat-2", "anonymous_id": "a-nat", "user_id": "u-nat"}])
        landing.text("identities", None, "crm.csv", self.CRM)
        runs.run_day_in_process(DAY1, landing.root, warehouse, warehouse.parent / "reports", Settings())
        assert customers(warehouse, "max-") == [("max-1", "u-max"), ("max-2", "u-max")]
        assert query(warehouse, "select customer_id, is_identified from customer_stages order by 1") == [
            ("u-max", True), ("u-nat", False),
        ]
        assert query(warehouse, "select customer_id, is_identified from customers order by 1") == [
            ("u-max", True), ("u-nat", False),
        ]


class TestCrmUserIdAloneRefusedByAnOlderVersion:
    """A warehouse made by a version that refused a CRM row with a user id alone (quarantined,
    "row links user_id to nothing") loads it on its next run, its export unchanged since, as a
    warehouse made now would: the file is read again while quarantine holds such a row. (The
    export was skipped as read, the user id missing from identity_map until the CRM sent it again.)"""

    def test_the_next_run_loads_it(self, landing: Landing, warehouse: Path) -> None:
        import duckdb

        landing.text("identities", None, "crm.csv", "user_id,email,platform,handle\nu-lee,lee@example.com,,\nu-kim,,,\n")
        landing.jsonl("web", DAY1, "web.jsonl", [web("gus-1", "09:00", "a-gus")])
        run_day(landing, warehouse, DAY1)
        con = duckdb.connect(str(warehouse))  # as the older version left it
        try:
            con.execute("delete from raw.identities where user_id = 'u-kim'").fetchall()
            con.execute(
                "insert into main.quarantine select 'identities', 'identities/crm.csv', 3, 'u-kim,,,', "
                "'row links user_id to nothing (no email, no handle)', null, 'old-run', timestamp '2026-10-01 12:00', null"
            ).fetchall()
        finally:
            con.close()
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select user_id, line_no from raw.identities order by line_no") == [("u-lee", 2), ("u-kim", 3)]
        assert query(warehouse, "select count(*) from quarantine") == [(0,)]
        assert ("user_id", "u-kim", "u-kim", 1) in query(
            warehouse, "select identifier_type, identifier, customer_id, customer_identifiers from identity_map")
        run_day(landing, warehouse, DAY1)  # read once: the file is skipped again
        assert query(warehouse, "select rows_read from pipeline_runs order by started_at") == [(3,), (2,), (0,)]


class TestIdentityMap:
    """identity_map has one row per identifier with its customer, e-mails and handles only as hashes."""

    def test_expected_rows(self, stitched: Path) -> None:
        hal = "email:" + h("hal@example.com")[:24]
        assert query(stitched, "select identifier_type, identifier, customer_id, customer_identifiers from identity_map") == [
            ("anonymous_id", "a-gus", "anon:a-gus", 1),
            ("email", h("hal@example.com"), hal, 1),
            ("anonymous_id", "a-ann", "u-ann", 3),
            ("email", h("ann@example.com"), "u-ann", 3),
            ("user_id", "u-ann", "u-ann", 3),
            ("anonymous_id", "a-bob", "u-bob", 3),
            ("email", h("bob@example.com"), "u-bob", 3),
            ("user_id", "u-bob", "u-bob", 3),
            ("anonymous_id", "a-cat", "u-cat", 4),
            ("email", h("cat@example.com"), "u-cat", 4),
            ("social_handle", h("instagram:cat_pics"), "u-cat", 4),
            ("user_id", "u-cat", "u-cat", 4),
            ("anonymous_id", "a-dan-laptop", "u-dan", 3),
            ("anonymous_id", "a-dan-phone", "u-dan", 3),
            ("user_id", "u-dan", "u-dan", 3),
            ("user_id", "u-eve", "u-eve", 1),
            ("anonymous_id", "a-shared", "u-fay", 2),
            ("user_id", "u-fay", "u-fay", 2),
        ]

    def test_identifiers_are_unique(self, stitched: Path) -> None:
        assert query(
            stitched,
            "select count(*) from (select identifier_type, identifier from identity_map group by all having count(*) > 1)",
        ) == [(0,)]

    def test_every_event_has_a_customer_in_the_map(self, stitched: Path) -> None:
        assert query(
            stitched,
            "select count(*) from events where customer_id is null "
            "or customer_id not in (select customer_id from identity_map)",
        ) == [(0,)]


def test_an_address_with_a_display_name_is_the_address(tmp_path: Path) -> None:
    """Mail headers and SMTP logs write an address with a display name ('"Jane Doe"
    <Jane.Doe@Example.com>'): it was hashed whole, so the person who signed up as
    jane.doe@example.com and the one the ESP mailed were two customers. A refused row's text
    masks the name with the address."""
    landing = Landing(tmp_path / "landing")
    landing.jsonl("web", DAY1, "web.jsonl", [
        web("jane-1", "09:00", "a-jane", "sign_up", user_id="u-jane", email="jane.doe@example.com"),
        web("bob-1", "09:00", "a-bob", "sign_up", user_id="u-bob", email="bob@example.com"),
    ])
    landing.text("email", DAY1, "esp.csv", "event_id,event_ts,event_name,email\n"
                 'm1,2026-10-01T10:00:00Z,email_open,"""Jane Doe"" <Jane.Doe@Example.com>"\n'
                 "m2,2026-10-01T10:00:00Z,email_open,Bob Smith < BOB@EXAMPLE.COM >\n"
                 "m3,2026-10-01 10:00:00,email_open,Bob Smith <bob@example.com>\n")
    warehouse = tmp_path / "w.duckdb"
    run_day(landing, warehouse, DAY1)
    assert query(warehouse, "select event_id, customer_id from events where channel = 'email' order by 1") == [
        ("m1", "u-jane"), ("m2", "u-bob"),
    ]
    assert query(warehouse, "select raw from quarantine") == [("m3,2026-10-01 10:00:00,email_open,[email]",)]
