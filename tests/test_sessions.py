"""Sessions: a device's web events split by inactivity and by a new campaign; a given session_id is
kept (scoped to each customer when the source gave it to several)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from journey_analytics.config import load_settings
from tests.conftest import DAY1, Landing, query, run_day


def web(event_id: str, time: str, anonymous_id: str, event_name: str = "page_view", **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "event_ts": f"2026-10-01T{time}Z", "event_name": event_name,
            "anonymous_id": anonymous_id, **fields}


AUTUMN = {"utm_source": "news", "utm_medium": "email", "utm_campaign": "autumn"}
WINTER = {"utm_source": "ads", "utm_medium": "cpc", "utm_campaign": "winter"}

EVENTS = [
    # a-gap: 30 minutes exactly, then 30 minutes and one second
    web("gap-1", "10:00:00", "a-gap", page_url="/gap"),
    web("gap-2", "10:30:00", "a-gap"),
    web("gap-3", "11:00:01", "a-gap", page_url="/gap-again"),
    # a-ten: 10 minutes exactly, then 10 minutes and one second (one session at the default 30)
    web("ten-1", "12:00:00", "a-ten", page_url="/ten"),
    web("ten-2", "12:10:00", "a-ten"),
    web("ten-3", "12:20:01", "a-ten"),
    # a-utm: the same campaign again is the same visit; a new one starts a new visit
    web("utm-1", "10:00:00", "a-utm", page_url="/autumn", device_category="Mobile", **AUTUMN),
    web("utm-2", "10:05:00", "a-utm", "view_item", page_url="/p/1"),
    web("utm-3", "10:10:00", "a-utm", page_url="/autumn", **AUTUMN),
    web("utm-4", "10:15:00", "a-utm", page_url="/winter", **WINTER),
    web("utm-5", "10:20:00", "a-utm", "purchase", order_id="o1", value=30, currency="EUR"),
    web("utm-6", "10:25:00", "a-utm", "purchase", order_id="o2", value=12.5, currency="EUR"),
    # a-given: the source's session_id holds events 12 hours apart; a visit of events without one
    # that starts while that session is open on the device (30 minutes after its last event with
    # one) is part of it, the whole visit; one that starts later is sessionized
    web("given-1", "08:00:00", "a-given", session_id="S1", page_url="/s1"),
    web("given-2", "20:00:00", "a-given", session_id="S1"),
    web("given-3", "20:30:01", "a-given", page_url="/computed"),
    web("given-4", "08:30:00", "a-given", "scroll"),
    web("given-5", "08:55:00", "a-given", page_url="/later"),
]

COLUMNS = (
    "anonymous_id, customer_id, started_at, ended_at, duration_seconds, n_events, n_page_views, landing_page, "
    "utm_source, utm_medium, utm_campaign, device_category, converted, revenue"
)


def t(time: str) -> datetime:
    return datetime.fromisoformat(f"2026-10-01T{time}")


def run(root: Path, config_text: str | None = None) -> Path:
    landing = Landing(root / "landing")
    landing.jsonl("web", DAY1, "web.jsonl", EVENTS)
    landing.jsonl("email", DAY1, "esp.jsonl", [
        {"event_id": "mail-1", "event_ts": "2026-10-01T09:00:00Z", "event_name": "open", "email": "a@example.com"},
    ])
    config = None
    if config_text is not None:
        config = root / "journey.toml"
        config.write_text(config_text, encoding="utf-8")
    run_day(landing, root / "journey.duckdb", DAY1, load_settings(config))
    return root / "journey.duckdb"


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The warehouse with the default session settings (30 minutes, split on a new campaign)."""
    return run(tmp_path_factory.mktemp("sessions"))


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The warehouse with a 10 minute timeout and no split on a new campaign, from a TOML file."""
    return run(
        tmp_path_factory.mktemp("sessions_configured"),
        "[sessions]\ntimeout_minutes = 10\nsplit_on_new_campaign = false\n",
    )


def sessions(warehouse: Path, anonymous_id: str) -> list[tuple[Any, ...]]:
    return query(
        warehouse,
        f"select {COLUMNS} from sessions where anonymous_id = ? order by started_at",
        [anonymous_id],
    )


def grouping(warehouse: Path, anonymous_id: str) -> list[list[str]]:
    """The device's events, grouped by session, in time order."""
    rows = query(
        warehouse,
        "select list(event_id order by event_ts) from events where anonymous_id = ? "
        "group by session_id order by min(event_ts)",
        [anonymous_id],
    )
    return [row[0] for row in rows]


class TestInactivityTimeout:
    """A gap of exactly the timeout keeps the session; one second more starts a new one."""

    def test_thirty_minutes_by_default(self, default: Path) -> None:
        assert sessions(default, "a-gap") == [
            ("a-gap", "anon:a-gap", t("10:00:00"), t("10:30:00"), 1800.0, 2, 2, "/gap", None, None, None, None, False, 0.0),
            ("a-gap", "anon:a-gap", t("11:00:01"), t("11:00:01"), 0.0, 1, 1, "/gap-again", None, None, None, None, False, 0.0),
        ]

    def test_ten_minutes_is_one_session_by_default(self, default: Path) -> None:
        assert grouping(default, "a-ten") == [["ten-1", "ten-2", "ten-3"]]

    def test_timeout_from_config(self, configured: Path) -> None:
        assert grouping(configured, "a-ten") == [["ten-1", "ten-2"], ["ten-3"]]
        assert grouping(configured, "a-gap") == [["gap-1"], ["gap-2"], ["gap-3"]]


class TestNewCampaign:
    """A new campaign mid-visit starts a new session; the same campaign again does not."""

    def test_split_by_default(self, default: Path) -> None:
        assert sessions(default, "a-utm") == [
            ("a-utm", "anon:a-utm", t("10:00:00"), t("10:10:00"), 600.0, 3, 2, "/autumn", "news", "email", "autumn", "mobile", False, 0.0),
            ("a-utm", "anon:a-utm", t("10:15:00"), t("10:25:00"), 600.0, 3, 1, "/winter", "ads", "cpc", "winter", None, True, 42.5),
        ]

    def test_no_split_when_switched_off(self, configured: Path) -> None:
        assert sessions(configured, "a-utm") == [
            ("a-utm", "anon:a-utm", t("10:00:00"), t("10:25:00"), 1500.0, 6, 3, "/autumn", "news", "email", "autumn", "mobile", True, 42.5),
        ]


class TestGivenSessionId:
    """A session_id given by the source is kept as it is, whatever the gap between its events."""

    def test_given_id_kept(self, default: Path) -> None:
        assert query(
            default, "select session_id, n_events, started_at, ended_at, landing_page from sessions where session_id = 'S1'"
        ) == [("S1", 4, t("08:00:00"), t("20:00:00"), "/s1")]

    def test_a_visit_without_an_id_joins_the_given_session_open_when_it_starts(self, default: Path) -> None:
        # given-4 starts a visit 30 minutes after given-1: the visit, given-5 with it, is part of
        # S1; given-3 starts one 30 minutes and a second after given-2, sessionized apart
        assert grouping(default, "a-given") == [["given-1", "given-4", "given-5", "given-2"], ["given-3"]]
        assert query(default, "select session_id like 'ses-%' from events where event_id = 'given-3'") == [(True,)]


class TestGivenIdSharedByCustomers:
    """A source whose session ids are unique only per user (GA4's ga_session_id is the second the
    session started) gives two customers' visits the same id: each customer keeps a session of
    their own; so does each device of one customer (a per-device visit counter repeats ids)."""

    def test_each_customer_has_their_own_session(self, landing: Landing, warehouse: Path) -> None:
        ga = "1791194400"
        landing.jsonl("web", DAY1, "ga.jsonl", [
            web("ga-1", "10:00:00", "cookie-a", user_id="u-a", session_id=ga, page_url="/a"),
            web("ga-2", "10:00:00", "cookie-b", user_id="u-b", session_id=ga, page_url="/b"),
            web("ga-3", "10:05:00", "cookie-b", "purchase", user_id="u-b", session_id=ga, order_id="o1", value=50, currency="EUR"),
            web("ga-4", "10:06:00", "cookie-c", user_id="u-b", session_id=ga),  # u-b's other device
            web("solo-1", "11:00:00", "cookie-a", user_id="u-a", session_id="S-solo"),
        ])
        run_day(landing, warehouse, DAY1)
        rows = query(warehouse, "select session_id, customer_id, n_events, converted, revenue from sessions order by 2, 1")
        assert [row[1:] for row in rows] == [
            ("u-a", 1, False, 0.0), ("u-a", 1, False, 0.0), ("u-b", 1, False, 0.0), ("u-b", 2, True, 50.0)
        ]
        digests = [f"{c}|cookie-{d}" for c, d in (("u-a", "a"), ("u-b", "b"), ("u-b", "c"))]
        assert sorted(row[0] for row in rows) == sorted(
            ["S-solo", *(f"{ga}~" + query(warehouse, f"select substr(md5('{x}'), 1, 8)")[0][0] for x in digests)]
        )

    def test_a_per_device_visit_counter(self, landing: Landing, warehouse: Path) -> None:
        """Visit 1 of one customer's phone and visit 1 of their laptop, weeks apart, are two
        sessions; an id shared by customers only keeps the customer's digest."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("p-1", "10:00:00", "phone", user_id="u1", session_id="1"),
            web("l-1", "18:00:00", "laptop", user_id="u1", session_id="1"),
            web("x-1", "10:00:00", "cookie-x", user_id="u2", session_id="7"),
            web("y-1", "10:00:00", "cookie-y", user_id="u3", session_id="7"),
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select anonymous_id, duration_seconds from sessions where customer_id = 'u1' order by 1") == [
            ("laptop", 0), ("phone", 0)
        ]
        (digest,) = query(warehouse, "select substr(md5('u2'), 1, 8)")[0]
        assert query(warehouse, "select session_id from events where event_id = 'x-1'") == [(f"7~{digest}",)]


class TestEventsAtOneInstant:
    """Events at one instant are taken campaign first, so how a visit is split does not depend on
    how the source's ids sort (GA4 exports use random ids)."""

    @pytest.mark.parametrize("ids", [("y-1", "y-2"), ("y-2", "y-1")])
    def test_a_campaign_at_the_visits_first_instant_does_not_split_it(
        self, landing: Landing, warehouse: Path, ids: tuple[str, str]
    ) -> None:
        plain, tagged = ids
        landing.jsonl("web", DAY1, "web.jsonl", [
            web(plain, "10:00:00", "a-y", page_url="/"),
            web(tagged, "10:00:00", "a-y", page_url="/sale", **WINTER),
            web("y-3", "10:01:00", "a-y", page_url="/sale/1"),
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select n_events, landing_page, utm_campaign from sessions") == [(3, "/sale", "winter")]

    @pytest.mark.parametrize("ids", [("a1", "a2"), ("a2", "a1")])
    def test_a_session_start_beside_its_campaign_landing_view(
        self, landing: Landing, warehouse: Path, ids: tuple[str, str]
    ) -> None:
        start, view = ids
        landing.jsonl("web", DAY1, "web.jsonl", [
            web(start, "10:00:00", "a-s", "session_start"),
            web(view, "10:00:00", "a-s", page_url="/news", **AUTUMN),
            web("a3", "10:02:00", "a-s", "view_item", page_url="/p/1"),
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select n_events, landing_page, utm_medium from sessions") == [(3, "/news", "email")]

    def test_two_campaigns_at_one_instant_are_two_sessions(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("z-1", "10:00:00", "a-z", page_url="/autumn", **AUTUMN),
            web("z-2", "10:00:00", "a-z", page_url="/winter", **WINTER),
            web("z-0", "10:00:00", "a-z", page_url="/"),
            web("z-3", "10:01:00", "a-z", page_url="/p/1"),
        ])
        run_day(landing, warehouse, DAY1)
        # campaigns in order of source/medium/campaign: ads/cpc/winter, then news/email/autumn,
        # which the events after it (at that instant too) join
        assert query(warehouse, "select n_events, utm_campaign from sessions order by n_events") == [
            (1, "winter"), (3, "autumn")]


class TestLandingEvent:
    """A session's landing page and campaign come from its landing event, the first with a
    page_url: GA4 sends session_start (and first_visit), with no page or campaign, at the same
    instant as the landing page_view; device and country from the first event that has them."""

    def test_session_start_does_not_hide_the_landing_page(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "ga.jsonl", [
            web("a-0", "10:00:00", "c1", "session_start", session_id="g1"),
            web("a-1", "10:00:00", "c1", "first_visit", session_id="g1", country="de"),
            web("b-1", "10:00:00", "c1", session_id="g1", page_url="/shoes", device_category="mobile", **WINTER),
            web("b-2", "10:01:00", "c1", session_id="g1", page_url="/shoes/1", **AUTUMN),
            # a computed session whose first event has no page either
            web("c-0", "12:00:00", "c2", "session_start"),
            web("c-1", "12:00:01", "c2", page_url="/home"),
        ])
        run_day(landing, warehouse, DAY1)
        assert query(
            warehouse,
            """select anonymous_id, landing_page, utm_source, utm_medium, utm_campaign, device_category, country, n_events
               from sessions order by started_at""",
        ) == [
            ("c1", "/shoes", "ads", "cpc", "winter", "mobile", "DE", 4),
            ("c2", "/home", None, None, None, None, None, 2),
        ]


class TestCampaignOfTheVisit:
    """Only a campaign seen in the current visit is the session's: a visit that began without one
    and then gets a campaign splits there, whatever campaign an earlier visit had."""

    def test_earlier_visit_campaign_does_not_count(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("old-1", "08:00:00", "a-c", **WINTER),
            web("old-2", "08:05:00", "a-c"),
            web("new-1", "10:00:00", "a-c"),  # after a gap: a new visit, no campaign yet
            web("new-2", "10:05:00", "a-c", **WINTER),  # the same campaign as the old visit
            web("new-3", "10:06:00", "a-c"),
            # the same events on a device with no earlier visit
            web("fresh-1", "10:00:00", "a-f"),
            web("fresh-2", "10:05:00", "a-f", **WINTER),
            web("fresh-3", "10:06:00", "a-f"),
        ])
        run_day(landing, warehouse, DAY1)
        assert grouping(warehouse, "a-c") == [["old-1", "old-2"], ["new-1"], ["new-2", "new-3"]]
        assert grouping(warehouse, "a-f") == [["fresh-1"], ["fresh-2", "fresh-3"]]


class TestResentPurchase:
    """A purchase sent twice for one order_id is one order: in a session's revenue and in the
    dashboard's headline revenue, as in customers; the lines of an order (rows of different
    values) add up."""

    @staticmethod
    def headline(warehouse: Path) -> dict[str, str]:
        """The dashboard's headline figures for DAY1, read as the report step reads them."""
        import duckdb

        from journey_analytics.dashboard.sections import header_figures

        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            return dict(header_figures(con, DAY1))
        finally:
            con.close()

    def test_one_order_counted_once(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("r-1", "10:00:00", "a-r"),
            web("r-2", "10:05:00", "a-r", "purchase", order_id="o1", value=10, currency="EUR"),
            web("r-3", "10:05:30", "a-r", "purchase", order_id="o1", value=10, currency="EUR"),  # the tracker's retry
            web("r-4", "10:10:00", "a-r", "purchase", order_id="o2", value=5, currency="EUR"),
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select n_events, converted, revenue from sessions") == [(4, True, 15.0)]
        figures = self.headline(warehouse)
        assert (figures["Orders"], figures["Revenue EUR"]) == ("2", "15")

    def test_the_lines_of_one_order_add_up(self, landing: Landing, warehouse: Path) -> None:
        """A line-level export (one purchase row per line, each with its own value) is one order
        worth the sum of its lines, not its largest line."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            web(f"l-{i}", f"10:05:0{i}", "a-l", "purchase", order_id="o1", value=value, currency="EUR")
            for i, value in enumerate([10, 25.5, 40])
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select revenue from sessions") == [(75.5,)]
        figures = self.headline(warehouse)
        assert (figures["Orders"], figures["Revenue EUR"]) == ("1", "76")

    def test_lines_of_one_value_add_up(self, landing: Landing, warehouse: Path) -> None:
        """An invoice's lines, exported at one instant, add up even when two products cost the
        same (told apart by their extra fields); only a line sent again counts once. (The first
        invoice of the public Online Retail data set: 139.12, not the 83.14 of its distinct values.)"""
        lines = [("85123A", 15.30), ("71053", 20.34), ("84406B", 22.00), ("84029G", 20.34),
                 ("84029E", 20.34), ("22752", 15.30), ("21730", 25.50)]
        landing.jsonl("web", DAY1, "web.jsonl", [
            web(f"i-{i}", "08:26:00", "a-i", "purchase", order_id="536365", value=value, currency="GBP",
                stock_code=code)
            for i, (code, value) in enumerate(lines)
        ] + [
            # the tracker's retry of one line, at the same instant with a new event_id and a field
            # of its own
            web("i-retry", "08:26:00", "a-i", "purchase", order_id="536365", value=25.50, currency="GBP",
                stock_code="21730", retry_count="1"),
            # the whole invoice sent again a minute later (a reloaded page): counted once
            *(web(f"i-again-{i}", "08:27:00", "a-i", "purchase", order_id="536365", value=value,
                  currency="GBP", stock_code=code) for i, (code, value) in enumerate(lines)),
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select revenue from sessions") == [(Decimal("139.12"),)]
        figures = self.headline(warehouse)
        assert (figures["Orders"], figures["Revenue GBP"]) == ("1", "139")

    def test_a_resent_purchase_with_a_field_of_its_own(self, landing: Landing, warehouse: Path) -> None:
        """A tag's purchase fired twice at one instant, one copy with an app_version: one order."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("t-1", "10:05:00.123", "a-t", "purchase", order_id="o1", value=10, currency="EUR"),
            web("t-2", "10:05:00.123", "a-t", "purchase", order_id="o1", value=10, currency="EUR", app_version="4.2"),
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select revenue from sessions") == [(Decimal("10"),)]
        assert self.headline(warehouse)["Revenue EUR"] == "10"

    def test_money_adds_up_exactly(self, landing: Landing, warehouse: Path) -> None:
        """Values are kept as decimals, so sums carry no binary rounding (0.1 + 0.2 is 0.3)."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("m-1", "10:05:00", "a-m", "purchase", order_id="o1", value=0.1, currency="EUR"),
            web("m-2", "10:06:00", "a-m", "purchase", order_id="o2", value="0.2", currency="EUR"),
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select revenue from sessions") == [(Decimal("0.3"),)]
        assert query(warehouse, "select sum(value) from events") == [(Decimal("0.3"),)]

    def test_an_order_sent_again_in_a_later_visit(self, landing: Landing, warehouse: Path) -> None:
        """The order confirmation page opened again hours later sends the purchase again, in a
        new visit: the order counts once, in the visit where it was placed, so the sessions'
        revenue adds up to the headline revenue."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("v-1", "10:00:00", "a-v"),
            web("v-2", "10:05:00", "a-v", "purchase", order_id="o1", value=30, currency="EUR", sku="S1"),
            web("v-3", "10:05:00", "a-v", "purchase", order_id="o1", value=12, currency="EUR", sku="S2"),
            web("v-4", "14:00:00", "a-v"),
            web("v-5", "14:01:00", "a-v", "purchase", order_id="o1", value=30, currency="EUR", sku="S1"),
            web("v-6", "14:01:00", "a-v", "purchase", order_id="o1", value=12, currency="EUR", sku="S2"),
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select n_events, converted, revenue from sessions order by started_at") == [
            (3, True, Decimal("42")), (3, True, Decimal("0")),
        ]
        figures = self.headline(warehouse)
        assert (figures["Orders"], figures["Revenue EUR"]) == ("1", "42")

    def test_a_cancellation_landed_as_a_purchase_converts_no_visit(self, landing: Landing, warehouse: Path) -> None:
        """An invoice export lands its cancellations as purchases of negative value (Online Retail's
        C536379): such a visit bought nothing. It was converted, with no revenue, while the headline
        counted no order; a visit with an order and a discount line in it still converts."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("c-1", "10:00:00", "a-c", "purchase", order_id="536370", value=12.75, currency="GBP", stock_code="22423"),
            web("c-2", "14:00:00", "a-c", "purchase", order_id="C536379", value=-12.75, currency="GBP",
                stock_code="22423"),
            web("c-3", "18:00:00", "a-c", "purchase", order_id="536390", value=30, currency="GBP", stock_code="22423"),
            web("c-4", "18:00:00", "a-c", "purchase", order_id="536390", value=-5, currency="GBP", stock_code="D"),
            # a cancellation in a visit that also bought: the visit still converted
            web("c-5", "18:05:00", "a-c", "purchase", order_id="C536391", value=-9, currency="GBP", stock_code="22423"),
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select n_events, converted, revenue from sessions order by started_at") == [
            (1, True, Decimal("12.75")), (1, False, Decimal("0")), (3, True, Decimal("25")),
        ]
        figures = self.headline(warehouse)
        assert figures["Orders"] == "2"
        assert figures["Session conversion"] == "66.7%"

    def test_the_tag_and_the_stores_export_of_one_order_with_two_totals(
        self, landing: Landing, warehouse: Path
    ) -> None:
        """The web tag sends the order's revenue without shipping and tax (Segment's
        properties.revenue), the store's export its total: two totals of one order, not two of its
        lines. They added up to 212.40; the order is worth the larger, 112.40."""
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("s-1", "10:00:00", "a-s", "login", user_id="u-s"),
            web("s-2", "10:05:00", "a-s", "purchase", user_id="u-s", order_id="o1", value=100, currency="EUR"),
            {"event_id": "x-1", "event_ts": "2026-10-01T10:05:01Z", "event_name": "purchase",
             "user_id": "u-s", "order_id": "o1", "value": "112.40", "currency": "EUR"},
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select n_events, converted, revenue from sessions") == [(3, True, Decimal("112.40"))]
        figures = self.headline(warehouse)
        assert (figures["Orders"], figures["Revenue EUR"]) == ("1", "112")


class TestEventsWithoutDevice:
    """A web event with a user_id and no anonymous_id (a store's order export sends its
    purchases so) joins the customer's visit open at its time, not a session of its own; so does
    one with a device and no session_id, on a device whose tag gives one (a server's purchase)."""

    @staticmethod
    def export_purchase(event_id: str, time: str, user_id: str, order_id: str) -> dict[str, Any]:
        return {"event_id": event_id, "event_ts": f"2026-10-01T{time}Z", "event_name": "purchase",
                "user_id": user_id, "order_id": order_id, "value": "15.30", "currency": "GBP"}

    def test_an_exported_purchase_converts_the_visit(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("v-1", "08:10:00", "ck-1", page_url="/"),
            web("v-2", "08:11:00", "ck-1", "login", user_id="17850"),
            web("v-3", "08:14:00", "ck-1", "add_to_cart"),
            # another customer's visit, open at the same time, is not theirs
            web("o-1", "08:20:00", "ck-2", user_id="12583"),
            # the purchase sent by the store's export, 12 minutes later
            self.export_purchase("x-1", "08:26:00", "17850", "536365"),
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select customer_id, n_events, converted, revenue from sessions order by 1") == [
            ("12583", 1, False, Decimal("0")), ("17850", 4, True, Decimal("15.30"))]
        ((one_session,),) = query(warehouse, "select count(distinct session_id) from events where customer_id = '17850'")
        assert one_session == 1

    def test_an_exported_purchase_converts_a_visit_whose_session_id_is_given(
        self, landing: Landing, warehouse: Path
    ) -> None:
        # GA4 gives the visit's session id (ga_session_id); the store's export sends the order
        # with the customer's id and no device, a fraction of a second before the tag's purchase
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("g-1", "08:10:00", "ga-1", session_id="1790849400", page_url="/", utm_source="google"),
            web("g-2", "08:11:00", "ga-1", "login", session_id="1790849400", user_id="17850"),
            web("g-3", "08:26:00.250", "ga-1", "purchase", session_id="1790849400", user_id="17850",
                order_id="536365", value="15.30", currency="GBP"),
            # another customer with the same ga_session_id (the second their visit started)
            web("h-1", "08:10:00", "ga-2", session_id="1790849400", user_id="12583"),
            self.export_purchase("x-1", "08:26:00", "17850", "536365"),
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select customer_id, n_events, converted, revenue, utm_source from sessions order by 1") == [
            ("12583", 1, False, Decimal("0"), None), ("17850", 4, True, Decimal("15.30"), "google")]

    def test_a_purchase_sent_from_the_server_converts_the_tags_visit(self, landing: Landing, warehouse: Path) -> None:
        # GA4's tag gives its events the visit's ga_session_id; the purchase the shop's server sends
        # through the Measurement Protocol names the device (client_id) and not the session: it is
        # of the visit open on the device (it made a page-less session of its own, and the visit
        # from google did not convert); one sent two hours later is a session of its own
        ga = "1790849400"
        server_purchase = {"event_name": "purchase", "user_id": "17850", "value": "15.30", "currency": "GBP"}
        assert self.sessions_of(landing, warehouse, [
            web("g-1", "08:10:00", "ga-1", session_id=ga, page_url="/", utm_source="google"),
            web("g-2", "08:11:00", "ga-1", "login", session_id=ga, user_id="17850"),
            web("g-3", "08:20:00", "ga-1", "begin_checkout", session_id=ga, user_id="17850"),
            web("mp-1", "08:49:00", "ga-1", **server_purchase, order_id="536365"),
            web("mp-2", "10:49:00", "ga-1", **server_purchase, order_id="536366"),
        ]) == [("17850", "ga-1", "google", True, ["g-1", "g-2", "g-3", "mp-1"]),
               ("17850", "ga-1", None, True, ["mp-2"])]
        assert query(warehouse, "select session_id from events where event_id = 'mp-1'") == [(ga,)]

    def test_server_events_join_the_tags_session_open_at_their_own_time(self, landing: Landing, warehouse: Path) -> None:
        # a refund sent before the tag's first session, and a purchase after each of two sessions,
        # 25 minutes apart: each is of the session open at its time (the two purchases, one visit
        # of events without a session id, put the second order in the first session, and the
        # visit from google did not convert; the refund's visit took in the first session's order)
        sent = {"user_id": "17850", "value": "15", "currency": "GBP"}
        assert self.sessions_of(landing, warehouse, [
            web("mp-0", "07:45:00", "ga-1", "refund", order_id="o0", **sent),
            web("g-1", "08:10:00", "ga-1", page_url="/", session_id="S1"),
            web("g-2", "08:20:00", "ga-1", "begin_checkout", session_id="S1"),
            web("mp-1", "08:49:00", "ga-1", "purchase", order_id="o1", **sent),
            web("g-3", "09:10:00", "ga-1", page_url="/again", utm_source="google", session_id="S2"),
            web("g-4", "09:12:00", "ga-1", "begin_checkout", session_id="S2"),
            web("mp-2", "09:14:00", "ga-1", "purchase", order_id="o2", **sent),
        ]) == [("17850", "ga-1", None, False, ["mp-0"]),
               ("17850", "ga-1", None, True, ["g-1", "g-2", "mp-1"]),
               ("17850", "ga-1", "google", True, ["g-3", "g-4", "mp-2"])]

    def test_an_exported_order_joins_the_tags_session_that_closed_the_visit_before(
        self, landing: Landing, warehouse: Path
    ) -> None:
        # an event without a session id, then the tag's session on the same device, then the
        # store's export of the order: the order is of the session open at its time, the tag's
        # (it joined the visit the tag's session had closed, and S1 did not convert)
        assert self.sessions_of(landing, warehouse, [
            web("v-0", "08:00:00", "ck-1", "login", user_id="17850"),
            web("g-1", "08:10:00", "ck-1", page_url="/", session_id="S1"),
            web("g-2", "08:12:00", "ck-1", "begin_checkout", session_id="S1"),
            self.export_purchase("x-1", "08:15:00", "17850", "536365"),
        ]) == [("17850", "ck-1", None, False, ["v-0"]), ("17850", "ck-1", None, True, ["g-1", "g-2", "x-1"])]

    def test_a_visit_from_a_campaign_after_an_apps_session_is_its_own(self, landing: Landing, warehouse: Path) -> None:
        # an app gives its events a session id, the website on the same device id none: the web
        # visit 20 minutes after the app's session starts with a campaign, a new session (it
        # was taken into the app's session, which got its landing page, campaign and order);
        # one without a campaign is part of the app's session open at its time
        assert self.sessions_of(landing, warehouse, [
            web("ap-1", "09:00:00", "dev-1", "screen_view", session_id="A1", user_id="u1"),
            web("ap-2", "09:20:00", "dev-1", "screen_view", session_id="A1"),
            web("wb-1", "09:40:00", "dev-1", page_url="/landing", utm_source="newsletter", utm_campaign="spring"),
            web("wb-2", "09:45:00", "dev-1", "purchase", order_id="o9", value=10, currency="EUR"),
            web("ap-3", "12:00:00", "dev-1", "screen_view", session_id="A2"),
            web("wb-3", "12:10:00", "dev-1", "purchase", order_id="o10", value=10, currency="EUR"),
        ]) == [("u1", "dev-1", None, False, ["ap-1", "ap-2"]),
               ("u1", "dev-1", "newsletter", True, ["wb-1", "wb-2"]),
               ("u1", "dev-1", None, True, ["ap-3", "wb-3"])]

    def test_no_visit_open_gives_a_session_of_its_own(self, landing: Landing, warehouse: Path) -> None:
        landing.jsonl("web", DAY1, "web.jsonl", [
            web("v-1", "08:10:00", "ck-1", "login", user_id="17850"),
            self.export_purchase("x-1", "08:40:01", "17850", "536365"),  # 30 minutes and a second later
            self.export_purchase("x-2", "08:45:00", "17850", "536366"),
        ])
        run_day(landing, warehouse, DAY1)
        assert query(warehouse, "select anonymous_id, n_events, converted from sessions order by started_at") == [
            ("ck-1", 1, False), (None, 2, True)]


    def sessions_of(self, landing: Landing, warehouse: Path, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        landing.jsonl("web", DAY1, "web.jsonl", rows)
        run_day(landing, warehouse, DAY1)
        return query(warehouse, """
            select s.customer_id, s.anonymous_id, s.utm_source, s.converted, list(e.event_id order by e.event_id)
            from sessions as s inner join events as e on e.session_id = s.session_id
            group by all order by min(e.event_ts)""")

    def test_an_exported_order_does_not_keep_the_visit_open(self, landing: Landing, warehouse: Path) -> None:
        # the device's visits are 50 minutes apart; the order, 25 minutes after the first, joins
        # it and does not bridge the two (it kept one session open to 08:50)
        assert self.sessions_of(landing, warehouse, [
            web("v-1", "08:00:00", "ck-1", "login", user_id="17850", page_url="/"),
            self.export_purchase("x-1", "08:25:00", "17850", "536365"),
            web("v-2", "08:50:00", "ck-1", page_url="/back"),
        ]) == [("17850", "ck-1", None, True, ["v-1", "x-1"]), ("17850", "ck-1", None, False, ["v-2"])]

    def test_an_exported_order_does_not_join_the_next_persons_visit_on_a_family_computer(
        self, landing: Landing, warehouse: Path
    ) -> None:
        # eve's visit, her exported order, and 50 minutes after her visit, fay's: two sessions
        # (the order made one session of both, eve's, holding fay's login)
        assert self.sessions_of(landing, warehouse, [
            web("e-1", "10:00:00", "family", "login", user_id="u-eve", page_url="/"),
            self.export_purchase("x-1", "10:25:00", "u-eve", "1"),
            web("f-1", "10:50:00", "family", "login", user_id="u-fay", page_url="/fay"),
        ]) == [("u-eve", "family", None, True, ["e-1", "x-1"]), ("u-fay", "family", None, False, ["f-1"])]

    def test_an_exported_orders_campaign_does_not_split_the_visit(self, landing: Landing, warehouse: Path) -> None:
        # the export gives the order's campaign: the visit stays one (it started a deviceless
        # session at the order that took the device's next page view)
        assert self.sessions_of(landing, warehouse, [
            web("v-1", "12:00:00", "ck-1", "login", user_id="17850", page_url="/", **AUTUMN),
            {**self.export_purchase("x-1", "12:10:00", "17850", "1"), **WINTER},
            web("v-2", "12:15:00", "ck-1", page_url="/p/2"),
        ]) == [("17850", "ck-1", "news", True, ["v-1", "v-2", "x-1"])]

    def test_an_exported_order_joins_one_devices_visit_only(self, landing: Landing, warehouse: Path) -> None:
        # the customer's laptop visit, the order, and 20 minutes later a phone visit: the order
        # joins the laptop's, the phone's stays its own
        assert self.sessions_of(landing, warehouse, [
            web("l-1", "14:00:00", "laptop", "login", user_id="17850", page_url="/"),
            self.export_purchase("x-1", "14:20:00", "17850", "1"),
            web("p-1", "14:40:00", "phone", "login", user_id="17850", page_url="/other"),
        ]) == [("17850", "laptop", None, True, ["l-1", "x-1"]), ("17850", "phone", None, False, ["p-1"])]

    def test_an_exported_order_does_not_name_the_visit(self, landing: Landing, warehouse: Path) -> None:
        # the visit's id is its first event's, with the order or without it (the order is taken
        # after the device's event it joined, whatever their ids)
        rows = [web("v-1", "08:00:00", "ck-1", "login", user_id="17850", page_url="/")]
        before = self.sessions_of(landing, warehouse, rows)
        ((session_id,),) = query(warehouse, "select session_id from sessions")
        after = self.sessions_of(landing, warehouse, rows + [self.export_purchase("a-1", "08:10:00", "17850", "1")])
        assert query(warehouse, "select session_id from sessions") == [(session_id,)]
        assert (before, after) == ([("17850", "ck-1", None, False, ["v-1"])], [("17850", "ck-1", None, True, ["a-1", "v-1"])])

    def test_two_visits_open_at_one_instant_do_not_hang_on_the_order_of_the_rows(self, tmp_path: Path) -> None:
        # the customer's last events before the export are at one instant, on two devices, and
        # in two sessions whose ids the source gave: the export joins the last of them in the
        # order sessions take events in (campaign first, then by campaign and event_id), however
        # the rows were landed
        rows = [
            web("c-1", "08:10:00", "ck-1", user_id="17850", utm_source="news"),
            web("c-2", "08:10:00", "ck-2", user_id="17850"),
            web("c-3", "08:10:00", "ck-1", user_id="17850"),
            web("g-1", "09:10:00", "ga-1", session_id="S1", user_id="17851", utm_source="news"),
            web("g-2", "09:10:00", "ga-1", session_id="S2", user_id="17851"),
            web("g-3", "09:10:00", "ga-1", session_id="S3", user_id="17851"),
        ]
        exports = [self.export_purchase("x-1", "08:12:00", "17850", "1"),
                   self.export_purchase("x-2", "09:12:00", "17851", "2")]
        joined = []
        for k, order in enumerate([rows, rows[::-1], rows[1:] + rows[:1], rows[2:] + rows[:2]]):
            landing = Landing(tmp_path / str(k) / "landing")
            landing.jsonl("web", DAY1, "web.jsonl", order + exports)
            run_day(landing, tmp_path / str(k) / "journey.duckdb", DAY1)
            joined.append(query(tmp_path / str(k) / "journey.duckdb", """
                select x.event_id, e.event_id from events as x
                inner join events as e on e.session_id = x.session_id and e.event_id not like 'x-%'
                where x.event_id like 'x-%' order by 1, 2"""))
        assert joined == [[("x-1", "c-1"), ("x-1", "c-3"), ("x-2", "g-3")]] * 4


class TestSessionsTable:
    """Only web events have sessions, and every web event is in exactly one."""

    def test_email_events_have_no_session(self, default: Path) -> None:
        assert query(default, "select session_id from events where channel = 'email'") == [(None,)]

    def test_session_event_counts_add_up(self, default: Path) -> None:
        assert query(default, "select count(*), sum(n_events) from sessions") == [(7, 17)]
        assert query(default, "select count(*) from events where channel = 'web' and session_id is null") == [(0,)]
