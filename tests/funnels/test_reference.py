"""The options' semantics, checked against a brute-force reading of their definitions.

Seeded random customers (a few events each, names a, b, c and x) go through the engine in one
batch; a plain-Python reference enumerates every chain as docs/funnels.md defines it, and the
furthest step must agree for every customer. Ordered chains with exclusions or step windows
are drawn without ties in time (there the engine follows ClickHouse's tie rule rather than
the best chain; test_windowfunnel_oracle covers ties).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from journey_analytics.funnels.config import parse_funnel_config
from journey_analytics.funnels.engine import compute_reached
from journey_analytics.warehouse import connect
from tests.funnels.conftest import EVENT_COLUMNS, T0

Event = tuple[str, int]  # event name, seconds after T0
Link = Callable[[Event, Event, list[Event]], bool]
STEPS = ["a", "b", "c"]


def random_customers(seed: int, ties: bool, customers: int = 400, span: int = 30) -> dict[str, list[Event]]:
    """Each customer's 3 to 9 events; without ties, no two of a customer's events share a second."""
    rng = random.Random(seed)
    out = {}
    for i in range(customers):
        n = rng.randint(3, 9)
        times = [rng.randint(0, span) for _ in range(n)] if ties else rng.sample(range(span + 1), n)
        out[f"c{i:03d}"] = [(rng.choice("abcx"), t) for t in times]
    return out


def engine_levels(customers: dict[str, list[Event]], funnel: dict[str, Any]) -> dict[str, int]:
    """The engine's furthest step per customer."""
    con = connect(":memory:")
    columns = ", ".join(f"{name} {kind}" for name, kind in EVENT_COLUMNS.items())
    con.execute(f"create table main.events ({columns})").fetchall()
    rows = [
        (f"{customer}-{i}", customer, name, T0 + timedelta(seconds=second))
        for customer, events in customers.items()
        for i, (name, second) in enumerate(events)
    ]
    ids, who, names, times = (list(column) for column in zip(*rows, strict=True))
    con.execute(
        "insert into main.events (event_id, customer_id, channel, event_name, event_ts) "
        "select unnest(?), unnest(?), 'web', unnest(?), unnest(?::timestamp[])",
        [ids, who, names, times],
    ).fetchall()
    parsed = parse_funnel_config({"funnels": [{"name": "f", **funnel}]}).funnels[0]
    compute_reached(con, parsed, datetime(2026, 11, 1), datetime(2026, 12, 1))
    levels = dict(con.execute("select unit_id, max(step_index) from _fn_reached group by 1").fetchall())
    con.close()
    return levels


def has_chain(events: list[Event], k: int, link: Link) -> bool:
    """Whether some chain of events matches steps 1..k, each link allowed by ``link(prev, next, chain)``."""
    def extend(chain: list[Event]) -> bool:
        if len(chain) == k:
            return True
        step = STEPS[len(chain)]
        return any(
            extend([*chain, event]) for event in events
            if event[0] == step and (not chain or link(chain[-1], event, chain))
        )
    return extend([])


def reference_levels(customers: dict[str, list[Event]], make_link: Callable[[list[Event]], Link]) -> dict[str, int]:
    """The furthest k with a chain, per customer (customers at 0 left out)."""
    out = {}
    for customer, events in customers.items():
        link = make_link(events)
        level = max((k for k in range(1, len(STEPS) + 1) if has_chain(events, k, link)), default=0)
        if level:
            out[customer] = level
    return out


def assert_agree(mine: dict[str, int], expected: dict[str, int]) -> None:
    """Equal levels, on a sample where every level occurs."""
    assert mine == expected
    assert set(expected.values()) == {1, 2, 3}


class TestExclusions:
    """Ordered chains with an exclusion x between steps 2 and 3 match the definition."""

    @pytest.mark.parametrize("window", [8, 15, 30])
    def test_against_reference(self, window: int) -> None:
        """The furthest step per customer equals the brute-force one."""
        customers = random_customers(window, ties=False)

        def make_link(events: list[Event]) -> Link:
            def link(prev: Event, nxt: Event, chain: list[Event]) -> bool:
                ok = prev[1] < nxt[1] and nxt[1] - chain[0][1] <= window
                if nxt[0] == "c":
                    ok = ok and not any(name == "x" and prev[1] < t < nxt[1] for name, t in events)
                return ok
            return link

        funnel = {"window": window, "steps": STEPS, "exclusions": [{"event": "x", "after_step": 2}]}
        assert_agree(engine_levels(customers, funnel), reference_levels(customers, make_link))


class TestStepWindows:
    """Ordered chains with a window on step 2 match the definition."""

    @pytest.mark.parametrize("step_window", [2, 5, 10])
    def test_against_reference(self, step_window: int) -> None:
        """The furthest step per customer equals the brute-force one."""
        customers = random_customers(100 + step_window, ties=False)
        window = 20

        def make_link(events: list[Event]) -> Link:
            def link(prev: Event, nxt: Event, chain: list[Event]) -> bool:
                ok = prev[1] < nxt[1] and nxt[1] - chain[0][1] <= window
                return ok and (nxt[0] != "b" or nxt[1] - prev[1] <= step_window)
            return link

        funnel = {"window": window, "steps": [{"event": "a"}, {"event": "b", "window": step_window}, {"event": "c"}]}
        assert_agree(engine_levels(customers, funnel), reference_levels(customers, make_link))


class TestStrict:
    """Strict chains (no other event strictly between two steps) match the definition, ties included."""

    @pytest.mark.parametrize("window", [4, 10, 30])
    def test_against_reference(self, window: int) -> None:
        """The furthest step per customer equals the brute-force one."""
        customers = random_customers(200 + window, ties=True, span=15)

        def make_link(events: list[Event]) -> Link:
            def link(prev: Event, nxt: Event, chain: list[Event]) -> bool:
                return (
                    prev[1] < nxt[1]
                    and nxt[1] - chain[0][1] <= window
                    and not any(prev[1] < t < nxt[1] for _, t in events)
                )
            return link

        funnel = {"window": window, "order": "strict", "steps": STEPS}
        assert_agree(engine_levels(customers, funnel), reference_levels(customers, make_link))


class TestAnyOrder:
    """Any-order levels match the definition: steps 1..k all inside one window that starts at a step event."""

    @pytest.mark.parametrize("window", [2, 5, 10])
    def test_against_reference(self, window: int) -> None:
        """The furthest step per customer equals the brute-force one."""
        customers = random_customers(300 + window, ties=True, span=15)
        expected = {}
        for customer, events in customers.items():
            best = 0
            for _, start in (e for e in events if e[0] in STEPS):
                inside = {name for name, second in events if start <= second <= start + window}
                level = 0
                while level < len(STEPS) and STEPS[level] in inside:
                    level += 1
                best = max(best, level)
            if best:
                expected[customer] = best
        funnel = {"window": window, "order": "any", "steps": STEPS}
        assert_agree(engine_levels(customers, funnel), expected)
