"""The customers table: features as of the end of the run date, exact on a tiny history."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from journey_analytics.stages import assign_stages
from journey_analytics.stages.features import feature_columns
from tests.stages.conftest import AS_OF, Warehouse, days_before


def features(wh: Warehouse, tmp_path: Path, customer: str, *columns: str) -> dict:
    """Selected columns of one customer's row in main.customers after a stage run."""
    wh.identify()
    assign_stages(wh.con, AS_OF, model_dir=tmp_path / "models")
    row = wh.rows(f"select {', '.join(columns)} from main.customers where customer_id = ?", [customer])
    assert len(row) == 1
    return dict(zip(columns, row[0], strict=True))


class TestCustomerFeatures:
    """Counts, sessions, dwell, e-mail rates and channel mix are computed as documented."""

    def test_one_customer_across_channels(self, wh: Warehouse, tmp_path: Path) -> None:
        """Three web events in one session, two e-mails (one opened), one social like."""
        t = days_before(AS_OF, 1, hour=10)
        wh.event("u1", "page_view", t)
        wh.event("u1", "page_view", t.replace(minute=3))
        wh.event("u1", "view_item", t.replace(minute=3, second=10))
        wh.event("u1", "delivered", t, channel="email", message_id="m1")
        wh.event("u1", "open", t.replace(hour=11), channel="email", message_id="m1")
        wh.event("u1", "delivered", t, channel="email", message_id="m2")
        wh.event("u1", "like", t, channel="social", sentiment=0.5)
        wh.event("u1", "view_item", datetime(2026, 12, 1, 0, 0))  # after the run date: ignored
        got = features(
            wh, tmp_path, "u1",
            "is_identified", "has_touch", "n_touches", "days_since_last_seen", "n_view_item_7d",
            "n_page_view_7d", "n_sessions", "avg_events_per_session", "max_dwell_seconds",
            "n_long_dwells_30d", "n_emails_delivered", "n_emails_opened", "email_open_rate",
            "email_click_rate", "share_web", "share_email", "share_social", "n_channels",
            "avg_social_sentiment", "share_desktop", "n_orders", "revenue",
        )
        assert got == {
            "is_identified": True, "has_touch": True, "n_touches": 5, "days_since_last_seen": 1,
            "n_view_item_7d": 1, "n_page_view_7d": 2, "n_sessions": 1, "avg_events_per_session": 3.0,
            "max_dwell_seconds": 180.0, "n_long_dwells_30d": 1, "n_emails_delivered": 2,
            "n_emails_opened": 1, "email_open_rate": 0.5, "email_click_rate": 0.0,
            "share_web": pytest.approx(3 / 5), "share_email": pytest.approx(1 / 5),
            "share_social": pytest.approx(1 / 5), "n_channels": 3, "avg_social_sentiment": 0.5,
            "share_desktop": 1.0, "n_orders": 0, "revenue": 0.0,
        }

    def test_averages_add_exactly(self, wh: Warehouse, tmp_path: Path) -> None:
        """Averages add exact decimals, so they do not depend on the order rows are added in
        (added as doubles, 0.1 and 0.2 averaged to 0.15000000000000002)."""
        t = days_before(AS_OF, 1, hour=10)
        wh.event("u1", "like", t, channel="social", sentiment=0.1)
        wh.event("u1", "like", t.replace(minute=5), channel="social", sentiment=0.2)
        assert features(wh, tmp_path, "u1", "avg_social_sentiment") == {"avg_social_sentiment": 0.15}

    def test_unsubscribes_and_spam_reports_apart(self, wh: Warehouse, tmp_path: Path) -> None:
        """An unsubscribe and a spam complaint are two counts, and the classifier reads both."""
        t = days_before(AS_OF, 1, hour=10)
        wh.event("u1", "delivered", t, channel="email", message_id="m1")
        wh.event("u1", "unsubscribe", t.replace(hour=11), channel="email", message_id="m1")
        wh.event("u1", "unsubscribe", t.replace(hour=12), channel="email", message_id="m1")
        wh.event("u1", "spamreport", t.replace(hour=13), channel="email", message_id="m1")
        got = features(wh, tmp_path, "u1", "n_email_unsubscribes", "n_email_spam_reports")
        assert got == {"n_email_unsubscribes": 2, "n_email_spam_reports": 1}
        assert {"n_email_unsubscribes", "n_email_spam_reports"} <= set(feature_columns(wh.con))

    def test_window_edges(self, wh: Warehouse, tmp_path: Path) -> None:
        """The 7-day window is the run date and the 6 days before it."""
        wh.event("u1", "search", days_before(AS_OF, 6, hour=0))
        wh.event("u1", "search", days_before(AS_OF, 7, hour=23))
        wh.event("u1", "search", days_before(AS_OF, 29, hour=0))
        wh.event("u1", "search", days_before(AS_OF, 30, hour=0))
        got = features(wh, tmp_path, "u1", "n_search_7d", "n_search_30d", "n_search_90d")
        assert got == {"n_search_7d": 1, "n_search_30d": 3, "n_search_90d": 4}

    def test_revenue_says_its_currency(self, wh: Warehouse, tmp_path: Path) -> None:
        """revenue adds values as given, so revenue_currency says what it is in: the one currency
        of the customer's orders, 'mixed' when there are several, null without an order."""
        wh.order("u1", "o1", days_before(AS_OF, 10), value=40.0)
        wh.order("u1", "o2", days_before(AS_OF, 3), value=60.0)
        wh.event("u2", "purchase", days_before(AS_OF, 9), order_id="o3", value=40.0, currency="EUR")
        wh.event("u2", "purchase", days_before(AS_OF, 8), order_id="o4", value=50.0, currency="USD")
        wh.event("u3", "page_view", days_before(AS_OF, 2))
        wh.event("u4", "refund", days_before(AS_OF, 2), order_id="o5", value=60.0, currency="GBP")
        wh.identify()
        assign_stages(wh.con, AS_OF, model_dir=tmp_path / "models")
        got = dict(wh.rows("select customer_id, revenue_currency from main.customers"))
        assert got == {"u1": "EUR", "u2": "mixed", "u3": None, "u4": None}

    def test_an_order_in_two_currencies_is_mixed(self, wh: Warehouse, tmp_path: Path) -> None:
        """An order whose lines, or whose two senders (the tag's total in the shop's display
        currency, the export's in its own), give two currencies adds amounts of both to revenue:
        its revenue_currency is 'mixed', not the smaller of the two (it said EUR of 50 made of
        40 EUR and 10 USD, and of an export's USD total)."""
        t = days_before(AS_OF, 3)
        wh.event("u1", "purchase", t, order_id="o1", value=40.0, currency="EUR")
        wh.event("u1", "purchase", t, order_id="o1", value=10.0, currency="USD")
        wh.event("u2", "purchase", t, order_id="o2", value=40.0, currency="EUR", anonymous_id="a-u2")
        wh.event("u2", "purchase", t.replace(hour=13), order_id="o2", value=45.0, currency="USD", anonymous_id=None)
        wh.identify()
        assign_stages(wh.con, AS_OF, model_dir=tmp_path / "models")
        got = wh.rows("select customer_id, revenue, revenue_currency from main.customers order by 1")
        assert [(c, float(r), cur) for c, r, cur in got] == [("u1", 50.0, "mixed"), ("u2", 45.0, "mixed")]

    def test_orders_and_revenue(self, wh: Warehouse, tmp_path: Path) -> None:
        """An order sent twice counts once, in orders and in revenue; refunds count orders."""
        wh.order("u1", "o1", days_before(AS_OF, 10), value=40.0)
        wh.order("u1", "o1", days_before(AS_OF, 10), value=40.0)
        wh.order("u1", "o2", days_before(AS_OF, 3), value=60.0)
        wh.event("u1", "refund", days_before(AS_OF, 2), order_id="o2", value=60.0)
        got = features(wh, tmp_path, "u1", "n_orders", "revenue", "days_since_last_order", "n_refunds")
        assert got == {"n_orders": 2, "revenue": 100.0, "days_since_last_order": 3, "n_refunds": 1}


    def test_the_lines_of_an_order_add_up(self, wh: Warehouse, tmp_path: Path) -> None:
        """Rows of one order with different values are its lines (a line-level export): revenue is
        their sum; rows of one value are the order sent again: it counts once."""
        for value in (10.0, 25.5, 40.0):
            wh.order("u1", "o1", days_before(AS_OF, 10), value=value)
        wh.order("u1", "o2", days_before(AS_OF, 3), value=30.0)
        wh.order("u1", "o2", days_before(AS_OF, 3), value=30.0)
        got = features(wh, tmp_path, "u1", "n_orders", "revenue")
        assert got == {"n_orders": 2, "revenue": 105.5}

    def test_lines_of_one_value_add_up(self, wh: Warehouse, tmp_path: Path) -> None:
        """Rows of one order sent together are its lines, told apart by their extra fields: two
        products of one price both count; the same line sent again, at once or later, does not."""
        at = days_before(AS_OF, 10)
        for code, value in (("A", 20.0), ("B", 20.0), ("C", 5.0), ("C", 5.0)):
            wh.event("u1", "purchase", at, order_id="o1", value=value, currency="EUR",
                     properties=f'{{"stock_code": "{code}"}}')
        wh.event("u1", "purchase", days_before(AS_OF, 9), order_id="o1", value=20.0, currency="EUR",
                 properties='{"stock_code": "A"}')  # one line sent again the next day
        got = features(wh, tmp_path, "u1", "n_orders", "revenue", "first_order_at")
        assert got == {"n_orders": 1, "revenue": 45.0, "first_order_at": at}

    def test_lines_of_one_value_sent_one_by_one_add_up(self, wh: Warehouse, tmp_path: Path) -> None:
        """An export that gives each line of an invoice its own instant (a second apart): two
        products of one price are two lines, as when sent together; a line sent again still counts
        once. (Lines without a product field are told apart by value alone.)"""
        at = days_before(AS_OF, 10)
        for i, (code, value) in enumerate((("43928", 58.65), ("63676B", 127.5), ("57385A", 58.65))):
            wh.event("u1", "purchase", at + timedelta(seconds=i), order_id="536746", value=value, currency="GBP",
                     properties=f'{{"stock_code": "{code}"}}')
        # one line sent again the next day
        wh.event("u1", "purchase", days_before(AS_OF, 9), order_id="536746", value=58.65, currency="GBP",
                 properties='{"stock_code": "57385A"}')
        got = features(wh, tmp_path, "u1", "n_orders", "revenue", "net_revenue")
        assert got == {"n_orders": 1, "revenue": Decimal("244.80"), "net_revenue": Decimal("244.80")}

    def test_an_order_sent_line_by_line_and_again_counts_once(self, wh: Warehouse, tmp_path: Path) -> None:
        """The invoice above sent line by line, then again whole at one instant an hour later, and
        the whole again line by line the next day: it counts once."""
        at = days_before(AS_OF, 10)
        lines = (("43928", 58.65), ("63676B", 127.5), ("57385A", 58.65))
        for start in (at, days_before(AS_OF, 9)):
            for i, (code, value) in enumerate(lines):
                wh.event("u1", "purchase", start + timedelta(seconds=i), order_id="536746", value=value,
                         currency="GBP", properties=f'{{"stock_code": "{code}"}}')
        for code, value in lines:
            wh.event("u1", "purchase", at + timedelta(hours=1), order_id="536746", value=value, currency="GBP",
                     properties=f'{{"stock_code": "{code}"}}')
        got = features(wh, tmp_path, "u1", "n_orders", "revenue")
        assert got == {"n_orders": 1, "revenue": Decimal("244.80")}

    def test_lines_of_one_product_and_value_told_apart_by_their_line_number(self, wh: Warehouse, tmp_path: Path) -> None:
        """An invoice that lists one product twice at one value (Online Retail does) has two lines
        when the export numbers them: every product field a row carries tells lines apart, not the
        first alone, so the stock code does not hide the line number. The same line sent again
        (its own number again) still counts once."""
        at = days_before(AS_OF, 10)
        for n, code, value in ((1, "22423", 12.75), (2, "22423", 12.75), (3, "85123A", 2.55), (3, "85123A", 2.55)):
            wh.event("u1", "purchase", at, order_id="536409", value=value, currency="GBP",
                     properties=f'{{"stock_code": "{code}", "line_number": {n}}}')
        got = features(wh, tmp_path, "u1", "n_orders", "revenue")
        assert got == {"n_orders": 1, "revenue": Decimal("28.05")}

    def test_the_tag_and_the_stores_export_send_two_totals_of_one_order(self, wh: Warehouse, tmp_path: Path) -> None:
        """The tag (from the device) sends 100 without shipping, the store's export (the user id, no
        device) the total of 112.5: the order is worth the larger, not their sum."""
        at = days_before(AS_OF, 10)
        wh.event("u1", "purchase", at, order_id="o1", value=100.0, currency="EUR")
        wh.event("u1", "purchase", at + timedelta(seconds=1), order_id="o1", value=112.5, currency="EUR",
                 anonymous_id=None)
        got = features(wh, tmp_path, "u1", "n_orders", "revenue")
        assert got == {"n_orders": 1, "revenue": 112.5}

    def test_an_order_known_only_from_its_refund(self, wh: Warehouse, tmp_path: Path) -> None:
        """A refund whose purchase is not in the data counts the order, with no revenue and no
        purchase time (the purchase is not known)."""
        wh.event("u1", "page_view", days_before(AS_OF, 9))
        wh.event("u1", "refund", days_before(AS_OF, 2), order_id="o-old", value=60.0, currency="EUR")
        got = features(wh, tmp_path, "u1", "n_orders", "revenue", "last_order_at", "days_since_last_order", "n_refunds")
        assert got == {"n_orders": 1, "revenue": 0.0, "last_order_at": None, "days_since_last_order": None,
                       "n_refunds": 1}

class TestRefunds:
    """refunded_value is what the refunds of a customer's orders took back, by the rule of an
    order's value (order_refunds in sql/macros/order_macros.sql); net_revenue is revenue less the
    refunds of the orders it holds, each order between 0 and its value."""

    COLUMNS = ("n_orders", "revenue", "n_refunds", "refunded_value", "net_revenue")

    def refund(self, wh: Warehouse, order_id: str, at: datetime, value: float, **fields: object) -> None:
        wh.event("u1", "refund", at, **{"order_id": order_id, "value": value, "currency": "EUR", **fields})

    def test_a_refund_lowers_net_revenue(self, wh: Warehouse, tmp_path: Path) -> None:
        wh.order("u1", "o1", days_before(AS_OF, 10), value=100.0)
        wh.order("u1", "o2", days_before(AS_OF, 9), value=60.0)
        self.refund(wh, "o2", days_before(AS_OF, 2), 25.0)
        got = features(wh, tmp_path, "u1", *self.COLUMNS)
        assert got == {"n_orders": 2, "revenue": 160.0, "n_refunds": 1, "refunded_value": 25.0, "net_revenue": 135.0}

    def test_no_refund(self, wh: Warehouse, tmp_path: Path) -> None:
        wh.order("u1", "o1", days_before(AS_OF, 10), value=100.0)
        wh.event("u2", "page_view", days_before(AS_OF, 2))
        wh.identify()
        assign_stages(wh.con, AS_OF, model_dir=tmp_path / "models")
        got = wh.rows("select customer_id, refunded_value, net_revenue from main.customers order by 1")
        assert got == [("u1", 0, 100), ("u2", 0, 0)]

    def test_the_lines_of_a_refund_add_up_and_a_line_sent_again_counts_once(self, wh: Warehouse, tmp_path: Path) -> None:
        """A credit note of two lines (two products of one price) is their sum; the same refund
        sent again at its own time (a file landed again under new event ids) counts once."""
        wh.order("u1", "o1", days_before(AS_OF, 10), value=100.0)
        at = days_before(AS_OF, 3)
        for _ in range(2):
            for code in ("A", "B"):
                self.refund(wh, "o1", at, 20.0, properties=f'{{"stock_code": "{code}"}}')
        got = features(wh, tmp_path, "u1", *self.COLUMNS)
        assert got == {"n_orders": 1, "revenue": 100.0, "n_refunds": 1, "refunded_value": 40.0, "net_revenue": 60.0}

    def test_two_partial_refunds_of_one_value_both_count(self, wh: Warehouse, tmp_path: Path) -> None:
        """An item returned one week and another of the same price the next: two refunds."""
        wh.order("u1", "o1", days_before(AS_OF, 20), value=100.0)
        self.refund(wh, "o1", days_before(AS_OF, 10), 30.0)
        self.refund(wh, "o1", days_before(AS_OF, 3), 30.0)
        got = features(wh, tmp_path, "u1", *self.COLUMNS)
        assert got == {"n_orders": 1, "revenue": 100.0, "n_refunds": 1, "refunded_value": 60.0, "net_revenue": 40.0}

    def test_a_refund_resent_at_another_time_counts_twice_but_takes_no_more_than_its_order(
        self, wh: Warehouse, tmp_path: Path
    ) -> None:
        """The rule's chosen limit: a refund sent again at another instant under a new event id
        cannot be told from a second partial refund of its value, and counts twice in
        refunded_value; the order it is of is still worth 0 at least, not less."""
        wh.order("u1", "o1", days_before(AS_OF, 20), value=50.0)
        wh.order("u1", "o2", days_before(AS_OF, 20), value=70.0)
        self.refund(wh, "o1", days_before(AS_OF, 3, hour=10), 50.0)
        self.refund(wh, "o1", days_before(AS_OF, 3, hour=11), 50.0)  # the refund page reloaded
        got = features(wh, tmp_path, "u1", *self.COLUMNS)
        assert got == {"n_orders": 2, "revenue": 120.0, "n_refunds": 1, "refunded_value": 100.0, "net_revenue": 70.0}

    def test_the_tag_and_the_stores_export_send_two_totals_of_one_refund(self, wh: Warehouse, tmp_path: Path) -> None:
        """The tag sends the refund without shipping (40), the export under the user id with it
        (47.5): the order's refunds are the larger total, not their sum."""
        wh.order("u1", "o1", days_before(AS_OF, 10), value=100.0)
        at = days_before(AS_OF, 3)
        self.refund(wh, "o1", at, 40.0)
        self.refund(wh, "o1", at + timedelta(seconds=2), 47.5, anonymous_id=None)
        got = features(wh, tmp_path, "u1", *self.COLUMNS)
        assert got == {"n_orders": 1, "revenue": 100.0, "n_refunds": 1, "refunded_value": 47.5, "net_revenue": 52.5}

    def test_a_refund_of_an_order_bought_before_the_data_lowers_no_revenue(self, wh: Warehouse, tmp_path: Path) -> None:
        """A refund whose purchase is not in the data is refunded value, but takes nothing off
        the revenue of the orders that are; a refund over its order's value (the tag's purchase
        without shipping, the export's refund with it) takes the whole order and no more."""
        wh.order("u1", "o1", days_before(AS_OF, 10), value=30.0)
        wh.order("u1", "o2", days_before(AS_OF, 10), value=100.0)
        self.refund(wh, "o-old", days_before(AS_OF, 5), 80.0)
        self.refund(wh, "o1", days_before(AS_OF, 3), 35.0, anonymous_id=None)
        got = features(wh, tmp_path, "u1", *self.COLUMNS)
        assert got == {"n_orders": 2, "revenue": 130.0, "n_refunds": 2, "refunded_value": 115.0, "net_revenue": 100.0}

    def test_a_refund_numbered_on_its_own_adds_no_order(self, wh: Warehouse, tmp_path: Path) -> None:
        """Online Retail numbers a cancellation on its own (C536380, not the invoice it cancels):
        a one-time buyer who returned something has one order, not two, and stays in purchase; a
        customer known only from such a refund has one order, known from it."""
        wh.event("u1", "purchase", days_before(AS_OF, 10), order_id="536371", value=30.0, currency="GBP")
        wh.event("u1", "refund", days_before(AS_OF, 8), order_id="C536380", value=-30.0, currency="GBP")
        wh.event("u2", "refund", days_before(AS_OF, 8), order_id="C536381", value=-5.0, currency="GBP")
        wh.event("u2", "refund", days_before(AS_OF, 7), order_id="C536382", value=-6.0, currency="GBP")
        got = features(wh, tmp_path, "u1", *self.COLUMNS)
        assert got == {"n_orders": 1, "revenue": 30.0, "n_refunds": 1, "refunded_value": 30.0, "net_revenue": 30.0}
        assert wh.rows("select stage, reason from main.customer_stages where customer_id in ('u1', 'u2') order by 1") == [
            ("purchase", "1 order, on 2026-11-20."), ("purchase", "1 order, known from its refund.")]
        assert wh.rows("select n_orders, n_refunds from main.customers where customer_id = 'u2'") == [(1, 2)]

    def test_a_cancellation_landed_as_a_purchase_is_a_refund(self, wh: Warehouse, tmp_path: Path) -> None:
        """Online Retail's invoices landed as purchases, its cancellations too: invoice C536379, its
        quantities negative, is no second order but a refund of 12.75 (of an order not named, so it
        lowers none); a discount line inside an order lowers that order; an order of no value is an
        order. A customer whose only rows are a cancellation bought before the data: one order,
        known from it, and no revenue in a currency."""
        for code, value in (("22423", 12.75), ("85123A", 2.55)):
            wh.event("u1", "purchase", days_before(AS_OF, 10), order_id="536370", value=value, currency="GBP",
                     properties=f'{{"stock_code": "{code}"}}')
        wh.event("u1", "purchase", days_before(AS_OF, 8), order_id="C536379", value=-12.75, currency="GBP",
                 properties='{"stock_code": "22423"}')
        for code, value in (("22423", 30.0), ("D", -5.0)):
            wh.event("u1", "purchase", days_before(AS_OF, 6), order_id="536390", value=value, currency="GBP",
                     properties=f'{{"stock_code": "{code}"}}')
        wh.event("u1", "purchase", days_before(AS_OF, 5), order_id="536395", value=0.0, currency="GBP")
        wh.event("u2", "purchase", days_before(AS_OF, 8), order_id="C536380", value=-9.0, currency="EUR")
        got = features(wh, tmp_path, "u1", *self.COLUMNS, "revenue_currency")
        assert got == {"n_orders": 3, "revenue": Decimal("40.30"), "n_refunds": 1, "refunded_value": Decimal("12.75"),
                       "net_revenue": Decimal("40.30"), "revenue_currency": "GBP"}
        assert wh.rows(f"select {', '.join(self.COLUMNS)}, revenue_currency from main.customers where customer_id = 'u2'") == [
            (1, 0, 1, 9, 0, None)]
        assert wh.rows("select stage, reason from main.customer_stages where customer_id = 'u2'") == [
            ("purchase", "1 order, known from its refund.")]

    def test_a_refund_of_a_number_another_customer_bought_is_of_an_order_of_its_own(
        self, wh: Warehouse, tmp_path: Path
    ) -> None:
        """Two stores number their orders alike: u1's and u2's order 1001 are two orders; u2's
        refund of 1001 lowers u2's order, not u1's; u3, who bought 1001 before the data (in a third
        store), has one order known from the refund and is no prospect."""
        wh.order("u1", "1001", days_before(AS_OF, 10), value=100.0)
        wh.order("u2", "1001", days_before(AS_OF, 9), value=50.0)
        wh.event("u2", "refund", days_before(AS_OF, 5), order_id="1001", value=50.0, currency="EUR")
        wh.event("u3", "refund", days_before(AS_OF, 5, hour=14), order_id="1001", value=20.0, currency="EUR")
        wh.identify()
        assign_stages(wh.con, AS_OF, model_dir=tmp_path / "models")
        got = wh.rows(f"select customer_id, {', '.join(self.COLUMNS)} from main.customers order by 1")
        assert got == [("u1", 1, 100, 0, 0, 100), ("u2", 1, 50, 1, 50, 0), ("u3", 1, 0, 1, 20, 0)]
        assert wh.rows("select customer_id, stage from main.customer_stages order by 1") == [
            ("u1", "purchase"), ("u2", "purchase"), ("u3", "purchase")]

    def test_a_refund_in_another_currency_lowers_no_order(self, wh: Warehouse, tmp_path: Path) -> None:
        """No exchange rates: a USD refund of order 4001, bought in EUR, is of another order of
        that number (another store's) and takes no dollars off the euros, nor adds an order."""
        wh.order("u1", "4001", days_before(AS_OF, 10), value=100.0)
        self.refund(wh, "4001", days_before(AS_OF, 5), 60.0, currency="USD")
        got = features(wh, tmp_path, "u1", *self.COLUMNS)
        assert got == {"n_orders": 1, "revenue": 100.0, "n_refunds": 1, "refunded_value": 60.0, "net_revenue": 100.0}

    def test_a_negative_refund_is_the_amount_refunded(self, wh: Warehouse, tmp_path: Path) -> None:
        """Online Retail's cancellations are negative quantities: a credit note of -12.75 and
        -2.55 (and a fee of 1 kept back, given positive) refunds 14.30; events keep the values as
        given."""
        wh.event("u1", "purchase", days_before(AS_OF, 10), order_id="536409", value=40.0, currency="GBP")
        at = days_before(AS_OF, 3)
        for code, value in (("22423", -12.75), ("85123A", -2.55), ("FEE", 1.0)):
            wh.event("u1", "refund", at, order_id="536409", value=value, currency="GBP",
                     properties=f'{{"stock_code": "{code}"}}')
        got = features(wh, tmp_path, "u1", "revenue", "refunded_value", "net_revenue")
        assert got == {"revenue": 40.0, "refunded_value": Decimal("14.30"), "net_revenue": Decimal("25.70")}

    def test_refunds_are_not_classifier_features(self, wh: Warehouse, tmp_path: Path) -> None:
        """The classifier decides customers without an order, for whom refunds are 0: a saved
        model keeps its feature list, so it is not retrained for them."""
        wh.event("u1", "page_view", days_before(AS_OF, 2))
        features(wh, tmp_path, "u1", "refunded_value", "net_revenue")
        assert not {"refunded_value", "net_revenue"} & set(feature_columns(wh.con))
        assert {"revenue", "n_refunds"} <= set(feature_columns(wh.con))


class TestIdentifiedAsOfTheRunDate:
    """A customer is identified for a run date by a user_id on their events up to then, or by the
    CRM; a login after the run date does not identify them for it (a backfill gives the stages
    that day had)."""

    def test_later_login_does_not_count(self, wh: Warehouse, tmp_path: Path) -> None:
        wh.event("u1", "view_item", days_before(AS_OF, 2), user_id=None)  # the device, before login
        wh.event("u1", "login", datetime(2026, 12, 1, 9, 0))  # after the run date
        wh.event("u2", "view_item", days_before(AS_OF, 2), user_id=None)
        wh.event("u2", "login", days_before(AS_OF, 1))
        wh.event("u3", "view_item", days_before(AS_OF, 2), user_id=None)  # never logged in...
        wh.event("u3", "login", datetime(2026, 12, 2, 9, 0))
        wh.con.execute("insert into raw.identities values ('u3', null, null, null, 'identities/crm.csv', 2, 'r')").fetchall()
        assert features(wh, tmp_path, "u1", "is_identified") == {"is_identified": False}
        assert features(wh, tmp_path, "u2", "is_identified") == {"is_identified": True}
        assert features(wh, tmp_path, "u3", "is_identified") == {"is_identified": True}  # ...but the CRM knows u3
