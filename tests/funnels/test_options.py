"""Funnel options: session unit, exclusions, strict order, any order, open funnels, step windows."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path
from typing import Any

from tests.funnels.conftest import AS_OF, Events, steps

ABC = steps("a", "b", "c")


def reached(events: Events, funnel: dict[str, Any], as_of: date = AS_OF) -> list[tuple[str, int]]:
    """(unit, step) for every step each unit reached."""
    events.levels(funnel, as_of)
    return [(u, s) for u, s in events.rows("select unit_id, step_index from _fn_reached order by 1, 2")]


class TestSessionUnit:
    """With unit = session, a chain must stay inside one session (a GA4 closed funnel)."""

    def test_steps_in_two_sessions_do_not_chain(self, events: Events) -> None:
        """A customer's steps split over sessions count per session, while the customer unit chains them."""
        events.add("c1", "a", 0, session_id="s1")
        events.add("c1", "b", 10, session_id="s1")
        events.add("c1", "c", 20, session_id="s2")
        events.add("c1", "open", 15, channel="email")  # no session: not in a session funnel
        assert events.levels({"window": "1h", "unit": "session", "steps": ABC}) == {"s1": 2}
        assert events.levels({"window": "1h", "unit": "customer", "steps": ABC}) == {"c1": 3}

    def test_entered_counts_sessions(self, events: Events) -> None:
        """funnel_steps counts sessions and says so in unit."""
        for session in ("s1", "s2"):
            events.add("c1", "a", 0, session_id=session)
        events.add("c1", "b", 5, session_id="s2")
        events.build("""
            [[funnels]]
            name = "sessions"
            unit = "session"
            window = "30m"
            steps = ["a", "b"]
        """)
        assert events.rows("select unit, step_index, entered from funnel_steps order by 2") == [
            ("session", 1, 2), ("session", 2, 1),
        ]


class TestExclusions:
    """An exclusion event between two steps breaks the chain between them."""

    def test_remove_from_cart_between_cart_and_purchase(self, events: Events) -> None:
        """Removing the cart item before buying stops at the cart step, unless it is added again."""
        for customer, evs in {
            "c1": [("a", 0), ("b", 10), ("x", 20), ("c", 30)],
            "c2": [("a", 0), ("b", 10), ("x", 20), ("b", 25), ("c", 30)],
            "c3": [("a", 0), ("x", 5), ("b", 10), ("c", 30)],
        }.items():
            for name, at in evs:
                events.add(customer, name, at)
        funnel = {"window": "1h", "steps": ABC, "exclusions": [{"event": "x", "after_step": 2}]}
        assert events.levels(funnel) == {"c1": 2, "c2": 3, "c3": 3}

    def test_exclusion_at_the_same_instant_does_not_break(self, events: Events) -> None:
        """Only an exclusion strictly between the two steps counts."""
        for name, at in [("a", 0), ("b", 10), ("x", 10), ("c", 30)]:
            events.add("c1", name, at)
        funnel = {"window": "1h", "steps": ABC, "exclusions": [{"event": "x", "after_step": 2}]}
        assert events.levels(funnel) == {"c1": 3}


class TestStrictOrder:
    """In strict order, any other in-scope event between two steps breaks the chain."""

    def test_other_event_between_steps(self, events: Events) -> None:
        """A page view between steps breaks; a fresh start after it, or an out-of-scope event, does not."""
        for customer, evs in {
            "c1": [("a", 0), ("page_view", 5), ("b", 10), ("c", 20)],
            "c2": [("a", 0), ("b", 10), ("c", 20)],
            "c3": [("a", 0), ("page_view", 5), ("a", 6), ("b", 10), ("c", 20)],
            "c4": [("a", 0), ("b", 10), ("page_view", 10), ("c", 20)],
        }.items():
            for name, at in evs:
                events.add(customer, name, at)
        events.add("c5", "a", 0)
        events.add("c5", "open", 5, channel="email")
        events.add("c5", "b", 10)
        funnel = {"window": "1h", "order": "strict", "channels": ["web"], "steps": ABC}
        assert events.levels(funnel) == {"c1": 1, "c2": 3, "c3": 3, "c4": 3, "c5": 2}

    def test_a_step_repeating_the_previous_one(self, events: Events) -> None:
        """Opened twice (delivered, open, open), which an ordered funnel refuses, counts in strict order."""
        events.add("c1", "delivered", 0, channel="email")
        events.add("c1", "open", 300, channel="email")
        events.add("c1", "open", 360, channel="email")
        events.add("c2", "delivered", 0, channel="email")
        events.add("c2", "open", 300, channel="email")
        events.add("c3", "delivered", 0, channel="email")
        events.add("c3", "open", 300, channel="email")
        events.add("c3", "open", 300, channel="email")  # the same instant is not later
        funnel = {"window": "1d", "order": "strict", "channels": ["email"], "steps": steps("delivered", "open", "open")}
        assert events.levels(funnel) == {"c1": 3, "c2": 2, "c3": 2}

    def test_ordered_ignores_other_events(self, events: Events) -> None:
        """The same events in the default order reach the last step."""
        for name, at in [("a", 0), ("page_view", 5), ("b", 10), ("c", 20)]:
            events.add("c1", name, at)
        assert events.levels({"window": "1h", "steps": ABC}) == {"c1": 3}


class TestAnyOrder:
    """In any order, a unit reaches step k when steps 1..k all occur within one window."""

    def test_steps_in_any_order(self, events: Events) -> None:
        """Order does not matter, the window does, and step 1 is always needed."""
        for customer, evs in {
            "c1": [("c", 0), ("b", 10), ("a", 20)],
            "c2": [("b", 0), ("a", 10)],
            "c3": [("c", 0), ("b", 10)],
            "c4": [("a", 0), ("c", 50), ("b", 150)],
        }.items():
            for name, at in evs:
                events.add(customer, name, at)
        assert events.levels({"window": 100, "order": "any", "steps": ABC}) == {"c1": 3, "c2": 2, "c4": 1}

    def test_a_repeated_step_needs_an_event_of_its_own(self, events: Events) -> None:
        """A funnel that repeats an event needs it twice: one event does not count for two steps."""
        for customer, evs in {
            "c1": [("a", 0)],
            "c2": [("a", 0), ("b", 1)],
            "c3": [("b", 0), ("a", 5), ("a", 9)],
            "c4": [("a", 0), ("b", 1), ("a", 150)],  # the second a is out of the window
        }.items():
            for name, at in evs:
                events.add(customer, name, at)
        assert events.levels({"window": 100, "order": "any", "steps": steps("a", "b", "a")}) == {
            "c1": 1, "c2": 2, "c3": 3, "c4": 2,
        }
        assert events.levels({"window": 100, "order": "any", "steps": steps("a", "a")}) == {
            "c1": 1, "c2": 1, "c3": 2, "c4": 1,
        }


class TestOpenFunnel:
    """In an open funnel, a unit may enter at any step and continue from there."""

    def test_entry_at_later_steps(self, events: Events) -> None:
        """Each unit counts at the steps its chains reach, whatever step they entered at."""
        for customer, evs in {
            "c1": [("b", 0), ("c", 10)],
            "c2": [("a", 0), ("c", 10)],
            "c3": [("a", 0), ("b", 10), ("c", 20)],
        }.items():
            for name, at in evs:
                events.add(customer, name, at)
        assert reached(events, {"window": 100, "open": True, "steps": ABC}) == [
            ("c1", 2), ("c1", 3), ("c2", 1), ("c2", 3), ("c3", 1), ("c3", 2), ("c3", 3),
        ]

    def test_open_funnel_metrics(self, events: Events) -> None:
        """entered counts every entry; the median gap uses only chains that came through the previous step."""
        for customer, evs in {
            "c1": [("b", 0), ("c", 10)],
            "c2": [("a", 0), ("c", 10)],
            "c3": [("a", 0), ("b", 10), ("c", 30)],
        }.items():
            for name, at in evs:
                events.add(customer, name, at)
        events.build("""
            [[funnels]]
            name = "open"
            open = true
            window = 100
            steps = ["a", "b", "c"]
        """)
        assert events.rows(
            "select is_open, step_index, entered, drop_off, median_time_from_previous "
            "from funnel_steps order by step_index"
        ) == [(True, 1, 2, None, None), (True, 2, 2, 0, 10.0), (True, 3, 3, -1, 15.0)]


class TestStepWindow:
    """A step's own window bounds the time from the previous step, on top of the funnel's window."""

    def test_step_window(self, events: Events) -> None:
        """b must follow a within 30 seconds; a later a can still start a chain that fits."""
        for customer, evs in {
            "c1": [("a", 0), ("b", 20), ("c", 90)],
            "c2": [("a", 0), ("b", 40), ("c", 50)],
            "c3": [("a", 0), ("a", 15), ("b", 40), ("c", 50)],
        }.items():
            for name, at in evs:
                events.add(customer, name, at)
        funnel = {"window": 100, "steps": [{"event": "a"}, {"event": "b", "window": 30}, {"event": "c"}]}
        assert events.levels(funnel) == {"c1": 3, "c2": 1, "c3": 3}

    def test_step_window_column(self, events: Events) -> None:
        """step_window holds the step's window in seconds, null where none is set."""
        events.add("c1", "a", 0)
        events.build("""
            [[funnels]]
            name = "w"
            window = "1d"
            steps = ["a", { event = "b", window = "30m" }]
        """)
        assert events.rows("select step_index, step_window from funnel_steps order by 1") == [(1, None), (2, 1800)]


class TestStepConditions:
    """A step can require a channel, a page URL pattern or column values."""

    def test_url_pattern_and_equals(self, events: Events) -> None:
        """Only events matching every condition count for the step."""
        events.add("c1", "page_view", 0, page_url="https://shop.example/product/1")
        events.add("c1", "page_view", 10, page_url="https://shop.example/cart")
        events.add("c2", "page_view", 0, page_url="https://shop.example/about")
        events.add("c2", "page_view", 10, page_url="https://shop.example/cart")
        events.add("c3", "page_view", 0, page_url="https://shop.example/product/2", country="FR")
        events.add("c3", "page_view", 10, page_url="https://shop.example/cart", country="FR")
        funnel = {"window": 100, "steps": [
            {"event": "page_view", "page_url_like": "%/product/%"},
            {"event": "page_view", "page_url_like": "%/cart", "equals": {"country": "FR"}},
        ]}
        assert events.levels(funnel) == {"c1": 1, "c3": 2}

    def test_channel_condition(self, events: Events) -> None:
        """A click on the site is not an e-mail click."""
        events.add("c1", "delivered", 0, channel="email")
        events.add("c1", "click", 10, channel="web")
        events.add("c2", "delivered", 0, channel="email")
        events.add("c2", "click", 10, channel="email")
        funnel = {"window": 100, "steps": [
            {"event": "delivered", "channel": "email"}, {"event": "click", "channel": "email"},
        ]}
        assert events.levels(funnel) == {"c1": 1, "c2": 2}

    def test_the_same_id_in_two_channels(self, events: Events) -> None:
        """An event_id is unique within its channel only: the chain's start event is found by its
        id and channel, so a web event with the same id as the e-mail that starts the chain
        neither doubles the customer nor lends its breakdown values."""
        events.add("c1", "delivered", 0, channel="email", event_id="1")
        events.add("c1", "click", 10, channel="email", event_id="2")
        events.add("c1", "page_view", 20, event_id="1", device_category="mobile")
        events.build("""
            [[funnels]]
            name = "email"
            window = 100
            breakdowns = ["channel", "device_category"]
            steps = [{ event = "delivered", channel = "email" }, { event = "click", channel = "email" }]
        """)
        assert events.rows(
            "select segment_key, segment_value, step_index, entered from funnel_steps order by all"
        ) == [
            ("all", "all", 1, 1), ("all", "all", 2, 1),
            ("channel", "email", 1, 1), ("channel", "email", 2, 1),
            ("device_category", "(none)", 1, 1), ("device_category", "(none)", 2, 1),
        ]


class TestStepNoEventCarries:
    """A custom step name that no event carries (a typo) is said, not left to read as a zero."""

    TOML = """
        [[funnels]]
        name = "trial"
        window = "7d"
        steps = ["page_view", "add_to_crat", "start_trial", "add_payment_info"]
    """

    def test_said_for_a_custom_name_no_event_carries(self, events: Events) -> None:
        from journey_analytics.funnels.build import steps_no_event_carries

        events.add("c1", "page_view", 0)
        events.add("c1", "start_trial", 60)  # a custom name the warehouse holds: fine
        events.build(self.TOML)
        notices = steps_no_event_carries(events.con, config_path=events.path.with_name("funnels.toml"))
        # add_payment_info is the contract's (not logged yet: the dashboard says so), so only the typo
        assert notices == [
            "funnel trial step 2: no event is named 'add_to_crat', nor does the contract name one so"
            " (a typo? the funnel is zero from that step on)"
        ]

    def test_the_bundled_funnels_say_nothing(self, events: Events) -> None:
        from journey_analytics.funnels.build import steps_no_event_carries

        assert steps_no_event_carries(events.con) == []

    def test_a_run_says_it_in_its_notices(self, tmp_path: Path) -> None:
        from tests.conftest import DAY1, Landing, run_day

        landing = Landing(tmp_path / "landing")
        landing.jsonl("web", DAY1, "web.jsonl", [
            {"event_id": "w1", "event_ts": "2026-10-01T09:00:00Z", "event_name": "page_view", "anonymous_id": "a1"},
        ])
        (tmp_path / "funnels.toml").write_text(textwrap.dedent(self.TOML), encoding="utf-8")
        (tmp_path / "journey.toml").write_text('[rules]\nfunnels = "funnels.toml"\n', encoding="utf-8")
        summary = run_day(landing, tmp_path / "journey.duckdb", DAY1, tmp_path / "journey.toml", funnels=True)
        assert [n for n in summary.notices if "funnel trial" in n] == [
            "funnel trial step 2: no event is named 'add_to_crat', nor does the contract name one so"
            " (a typo? the funnel is zero from that step on)",
            "funnel trial step 3: no event is named 'start_trial', nor does the contract name one so"
            " (a typo? the funnel is zero from that step on)",
        ]
