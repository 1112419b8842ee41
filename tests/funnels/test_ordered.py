"""The ordered customer funnel (windowFunnel strict_increase) on tiny hand-built events."""

from __future__ import annotations

from datetime import timedelta

from tests.funnels.conftest import AS_OF, CHECKOUT, T0, Events, steps

ABC = steps("a", "b", "c")


class TestWindow:
    """A chain counts while its last step is no more than the window after its first."""

    def test_boundary_is_inclusive(self, events: Events) -> None:
        """A step exactly `window` seconds after step 1 counts; one second later does not."""
        events.add("c1", "a", 0)
        events.add("c1", "b", 60)
        events.add("c2", "a", 0)
        events.add("c2", "b", 61)
        assert events.levels({"window": 60, "steps": ABC}) == {"c1": 2, "c2": 1}

    def test_later_start_is_used_when_it_fits_the_window(self, events: Events) -> None:
        """A repeated first step restarts the chain when the earlier start would not fit."""
        for at, name in [(0, "a"), (200, "a"), (250, "b"), (260, "c")]:
            events.add("c1", name, at)
        for at, name in [(0, "a"), (100, "b"), (200, "a"), (250, "c")]:
            events.add("c2", name, at)
        assert events.levels({"window": 100, "steps": ABC}) == {"c1": 3, "c2": 2}

    def test_events_outside_the_period_are_ignored(self, events: Events) -> None:
        """Only events inside the report period form chains."""
        events.add("c1", "a", T0 - timedelta(days=40))
        events.add("c1", "b", 0)
        events.add("c2", "a", 0)
        events.add("c2", "b", T0 + timedelta(days=30))
        assert events.levels({"window": "100d", "steps": ABC}) == {"c2": 1}


class TestTies:
    """Events at the same instant behave as in ClickHouse, where ties sort by step number."""

    def test_same_instant_does_not_chain(self, events: Events) -> None:
        """Two steps at the same timestamp are not strictly increasing."""
        events.add("c1", "a", 0)
        events.add("c1", "b", 0)
        assert events.levels({"window": 10, "steps": ABC}) == {"c1": 1}

    def test_restart_at_the_same_instant_blocks_the_next_step(self, events: Events) -> None:
        """A step-1 event tied with a step-2 event replaces the chain state first (ClickHouse gives 1)."""
        for at, name in [(0, "a"), (5, "a"), (5, "b"), (7, "c")]:
            events.add("c1", name, at)
        for at, name in [(0, "a"), (5, "b"), (7, "c")]:
            events.add("c2", name, at)
        assert events.levels({"window": 10, "steps": ABC}) == {"c1": 1, "c2": 3}

    def test_latest_chain_state_wins_on_a_tie(self, events: Events) -> None:
        """A tie with the latest step-2 event blocks step 3 even though an older chain fits (ClickHouse gives 2)."""
        for at, name in [(0, "a"), (1, "b"), (2, "a"), (3, "b"), (3, "c")]:
            events.add("c1", name, at)
        assert events.levels({"window": 10, "steps": ABC}) == {"c1": 2}


class TestArrivalOrder:
    """Chains follow event time, not the order rows were loaded."""

    def test_rows_loaded_backwards(self, events: Events) -> None:
        """Events inserted newest first give the same funnel."""
        for at, name in [(7, "c"), (5, "b"), (0, "a")]:
            events.add("c1", name, at)
        assert events.levels({"window": 10, "steps": ABC}) == {"c1": 3}


def _checkout(events: Events) -> None:
    """Four customers through the checkout funnel."""
    gaps = {"c1": [0, 10, 30, 60, 100], "c2": [0, 20, 50], "c3": [0], "c4": [0, 40]}
    device = {"c1": "desktop", "c2": "mobile", "c3": "mobile", "c4": "desktop"}
    for customer, times in gaps.items():
        for name, at in zip(CHECKOUT, times, strict=False):
            fields = {"device_category": device[customer] if name == "view_item" else "tablet"}
            if customer == "c2" and name == "view_item":
                fields["utm_source"] = "newsletter"
            events.add(customer, name, at, **fields)
    events.session("s-c1", "c1", utm_source="google")


CHECKOUT_TOML = """
    [settings]
    compare_previous_period = true
    [[funnels]]
    name = "checkout"
    window = "7d"
    breakdowns = ["device_category", "utm_source"]
    steps = ["view_item", "add_to_cart", "begin_checkout", "add_payment_info", "purchase"]
"""


class TestStepMetrics:
    """funnel_steps holds entered, conversions, drop-off and median time per step and segment."""

    def test_whole_funnel(self, events: Events) -> None:
        """The 'all' segment's figures are exact."""
        _checkout(events)
        events.build(CHECKOUT_TOML)
        rows = events.rows(
            "select step_index, step, entered, conversion_from_previous, conversion_from_start, drop_off, "
            "median_time_from_previous from funnel_steps where segment_key = 'all' order by step_index"
        )
        assert rows == [
            (1, "view_item", 4, None, 1.0, None, None),
            (2, "add_to_cart", 3, 0.75, 0.75, 1, 20.0),
            (3, "begin_checkout", 2, 2 / 3, 0.5, 1, 25.0),
            (4, "add_payment_info", 1, 0.5, 0.25, 1, 30.0),
            (5, "purchase", 1, 1.0, 0.25, 0, 40.0),
        ]

    def test_period_and_window_columns(self, events: Events) -> None:
        """The period is the 28 days ending on the run date; the window is in seconds."""
        _checkout(events)
        events.build(CHECKOUT_TOML)
        rows = events.rows(
            "select distinct as_of_date, funnel, unit, step_order, is_open, period_start, period_end, "
            "conversion_window, previous_period_start, previous_period_end from funnel_steps"
        )
        assert rows == [(
            AS_OF, "checkout", "customer", "ordered", False, AS_OF - timedelta(days=27), AS_OF,
            7 * 86400, AS_OF - timedelta(days=55), AS_OF - timedelta(days=28),
        )]

    def test_breakdown_by_device_reads_the_start_event(self, events: Events) -> None:
        """Every step of a customer counts under the device of the step-1 event, with zeros kept."""
        _checkout(events)
        events.build(CHECKOUT_TOML)
        rows = events.rows(
            "select segment_value, list(entered order by step_index) from funnel_steps "
            "where segment_key = 'device_category' group by 1 order by 1"
        )
        assert rows == [("desktop", [2, 2, 1, 1, 1]), ("mobile", [2, 1, 1, 0, 0])]

    def test_campaign_breakdown_falls_back_to_the_session(self, events: Events) -> None:
        """utm_source comes from the start event, else from its session, else is (none)."""
        _checkout(events)
        events.build(CHECKOUT_TOML)
        rows = events.rows(
            "select segment_value, entered from funnel_steps "
            "where segment_key = 'utm_source' and step_index = 1 order by 1"
        )
        assert rows == [("(none)", 2), ("google", 1), ("newsletter", 1)]

    def test_campaign_conditions_read_the_session_as_breakdowns_do(self, events: Events) -> None:
        """A step that asks for purchases from the newsletter counts purchases in newsletter visits.

        Tags send utm_* on the landing page view only, so testing the purchase's own field
        matched no purchase at all, while the breakdown by utm_source counted the same visit."""
        events.add("c1", "page_view", 0, session_id="v1", utm_source="newsletter")
        events.add("c1", "add_to_cart", 30, session_id="v1")
        events.add("c1", "purchase", 60, session_id="v1")
        events.add("c2", "page_view", 0, session_id="v2", utm_source="google")
        events.add("c2", "add_to_cart", 30, session_id="v2")
        events.add("c2", "purchase", 60, session_id="v2")
        events.add("c3", "page_view", 0, session_id="v3")
        events.add("c3", "purchase", 60, session_id="v3", utm_source="newsletter")  # its own field counts
        events.session("v1", "c1", utm_source="newsletter")
        events.session("v2", "c2", utm_source="google")
        events.session("v3", "c3")
        funnel = {"window": "1h", "steps": ["page_view", {"event": "purchase", "equals": {"utm_source": "newsletter"}}]}
        assert events.levels(funnel) == {"c1": 2, "c2": 1, "c3": 2}
        excluded = {"window": "1h", "steps": ["page_view", "purchase"],
                    "exclusions": [{"event": "add_to_cart", "after_step": 1, "equals": {"utm_source": "google"}}]}
        assert events.levels(excluded) == {"c1": 2, "c2": 1, "c3": 2}

    def test_breakdown_follows_the_chain_that_counted(self, events: Events) -> None:
        """When a later view_item starts the chain, its device is the segment."""
        events.add("c1", "view_item", 0, device_category="desktop")
        events.add("c1", "view_item", 100, device_category="mobile")
        events.add("c1", "add_to_cart", 150)
        events.build("""
            [[funnels]]
            name = "short"
            window = 120
            breakdowns = ["device_category"]
            steps = ["view_item", "add_to_cart"]
        """)
        rows = events.rows(
            "select segment_value, step_index, entered from funnel_steps "
            "where segment_key = 'device_category' order by 1, 2"
        )
        assert rows == [("mobile", 1, 1), ("mobile", 2, 1)]

    def test_first_chain_to_convert_gives_the_segment(self, events: Events) -> None:
        """Of two chains reaching the last step, the first to reach it is the customer's."""
        for at, device in [(0, "desktop"), (100, "mobile")]:
            events.add("c1", "view_item", at, device_category=device)
            events.add("c1", "add_to_cart", at + 10)
        events.build("""
            [[funnels]]
            name = "short"
            window = 120
            breakdowns = ["device_category"]
            steps = ["view_item", "add_to_cart"]
        """)
        rows = events.rows(
            "select segment_value, step_index, entered, median_time_from_previous from funnel_steps "
            "where segment_key = 'device_category' order by 1, 2"
        )
        assert rows == [("desktop", 1, 1, None), ("desktop", 2, 1, 10.0)]

    def test_empty_warehouse(self, events: Events) -> None:
        """With no events, every step is still listed, with nobody in it."""
        counts = events.build(CHECKOUT_TOML)
        assert counts == {"funnel_steps": 5, "funnel_next_events": 0}
        assert events.rows(
            "select segment_key, list(entered order by step_index), list(previous_entered order by step_index) "
            "from funnel_steps group by 1"
        ) == [("all", [0] * 5, [0] * 5)]

    def test_previous_period_beside_this_one(self, events: Events) -> None:
        """previous_* columns hold the same funnel over the 28 days before the period."""
        _checkout(events)
        events.add("old", "view_item", T0 - timedelta(days=28))
        events.add("old", "add_to_cart", T0 - timedelta(days=28) + timedelta(seconds=5))
        events.add("old2", "view_item", T0 - timedelta(days=28))
        events.build(CHECKOUT_TOML)
        rows = events.rows(
            "select step_index, entered, previous_entered, previous_conversion_from_previous, "
            "previous_conversion_from_start from funnel_steps where segment_key = 'all' order by 1"
        )
        assert rows == [
            (1, 4, 2, None, 1.0),
            (2, 3, 1, 0.5, 0.5),
            (3, 2, 0, 0.0, 0.0),
            (4, 1, 0, None, 0.0),
            (5, 1, 0, None, 0.0),
        ]


class TestPublishing:
    """build_funnels replaces its own run date, keeps others, and documents every column."""

    def test_rerun_replaces_only_its_date(self, events: Events) -> None:
        """Building twice for one date and once for another keeps one copy of each."""
        _checkout(events)
        first = events.build(CHECKOUT_TOML)
        events.build(CHECKOUT_TOML, as_of=AS_OF - timedelta(days=1))
        again = events.build(CHECKOUT_TOML)
        assert first == again
        assert events.rows(
            "select as_of_date, count(*) from funnel_steps group by 1 order by 1"
        ) == [(AS_OF - timedelta(days=1), first["funnel_steps"]), (AS_OF, first["funnel_steps"])]

    def test_every_column_has_a_comment(self, events: Events) -> None:
        """Both tables and all their columns carry a COMMENT."""
        _checkout(events)
        events.build(CHECKOUT_TOML)
        for table in ("funnel_steps", "funnel_next_events"):
            assert events.rows(f"select comment is not null from duckdb_tables() where table_name = '{table}'") == [(True,)]
            undocumented = events.rows(
                f"select column_name from duckdb_columns() where table_name = '{table}' "
                "and (comment is null or comment = '')"
            )
            assert undocumented == []

    def test_no_working_tables_are_left(self, events: Events) -> None:
        """The temporary tables of the build are dropped."""
        _checkout(events)
        events.build(CHECKOUT_TOML)
        assert events.rows("select table_name from duckdb_tables() where temporary") == []


class TestNextEvents:
    """funnel_next_events counts what dropped-out customers did next, within the window."""

    def test_next_event_per_step(self, events: Events) -> None:
        """Each dropped customer's first later event (any channel) in the window, or (none)."""
        _checkout(events)
        events.add("c2", "open", 60, channel="email")
        events.add("c2", "page_view", 70)
        events.add("c4", "page_view", 45)
        events.add("c3", "page_view", T0 + timedelta(days=8))  # past the 7-day window
        events.build(CHECKOUT_TOML)
        rows = events.rows(
            "select step_index, step, next_channel, next_event, dropped, share_of_dropped "
            "from funnel_next_events order by step_index, next_event"
        )
        assert rows == [
            (1, "view_item", "(none)", "(none)", 1, 1.0),
            (2, "add_to_cart", "web", "page_view", 1, 1.0),
            (3, "begin_checkout", "email", "open", 1, 1.0),
        ]


class TestPreviousPeriodSwitch:
    """compare_previous_period = false leaves the previous_* columns empty."""

    def test_no_previous_period(self, events: Events) -> None:
        """Every previous_* column is null."""
        _checkout(events)
        events.build(CHECKOUT_TOML.replace("compare_previous_period = true", "compare_previous_period = false"))
        assert events.rows(
            "select distinct previous_period_start, previous_period_end, previous_entered, "
            "previous_conversion_from_previous, previous_conversion_from_start from funnel_steps"
        ) == [(None, None, None, None, None)]
