"""Pain points: each kind fires exactly when its threshold, sample size and test say so; the table is rewritten per run date.

Every test builds a tiny warehouse by hand: ``main.events`` with the columns ``find_pain_points``
reads, filled set-wise with ``range`` so the counts are exact, and (for stuck customers)
``main.customer_stages`` / ``main.stage_history``. The run date is 2026-10-31, so with the shipped
config the recent window is 2026-10-25..31 and the baseline 2026-10-04..24.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from journey_analytics.dashboard.sections import email_health
from journey_analytics.pain_points import (
    COLUMNS,
    DEFAULT_CONFIG,
    SHOWN_VALUE_CHARS,
    Finding,
    answered_messages,
    benjamini_hochberg,
    exact_worse_p,
    find_pain_points,
    two_proportion_p,
)

AS_OF = date(2026, 10, 31)
RECENT = datetime(2026, 10, 28, 10, 0)  # inside the 7 recent days
BASELINE = datetime(2026, 10, 10, 10, 0)  # inside the 21 baseline days
CONFIG = DEFAULT_CONFIG  # config/pain_points.toml, passed explicitly

EVENT_COLUMNS = {
    "event_id": "varchar", "customer_id": "varchar", "anonymous_id": "varchar", "user_id": "varchar",
    "channel": "varchar", "event_name": "varchar", "event_ts": "timestamp", "event_date": "date",
    "session_id": "varchar", "device_category": "varchar", "utm_source": "varchar", "utm_medium": "varchar",
    "utm_campaign": "varchar", "country": "varchar", "order_id": "varchar", "value": "double",
    "campaign_id": "varchar", "message_id": "varchar", "platform": "varchar", "thread_id": "varchar",
    "sentiment": "double", "currency": "varchar", "properties": "varchar",
}


# --- independent reference statistics (plain math, no scipy) -------------------------------


def ref_p(x1: int, n1: int, x2: int, n2: int) -> float:
    """One-sided pooled two-proportion z-test: P(Z <= z) for proportion 1 lower than 2."""
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (x1 / n1 - x2 / n2) / se
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def ref_midp(x1: int, n1: int, x2: int, n2: int) -> float:
    """One-sided Fisher exact test with Lancaster's mid-p, written out: with the x1 + x2 successes
    of n1 + n2 drawn without replacement, P(fewer than x1 in group 1) + P(exactly x1) / 2."""
    total, k = n1 + n2, x1 + x2
    if n1 == 0 or n2 == 0 or k in (0, total):
        return 1.0

    def pmf(i: int) -> float:
        return math.comb(k, i) * math.comb(total - k, n1 - i) / math.comb(total, n1)

    return sum(pmf(i) for i in range(max(0, n1 - (total - k)), x1)) + pmf(x1) / 2


def ref_exact_p(bad1: int, n1: int, bad2: int, n2: int) -> float:
    """One-sided Fisher exact test, written out: P(at least bad1 of the bad1 + bad2 events fall
    in group 1 of n1, drawing without replacement from n1 + n2)."""
    total, bad = n1 + n2, bad1 + bad2
    return sum(math.comb(bad, k) * math.comb(total - bad, n1 - k) for k in range(bad1, min(bad, n1) + 1)) / math.comb(total, n1)


def ref_binomial_tail(k: int, n: int, share: float) -> float:
    """P(X >= k) for X ~ Binomial(n, share), summed out."""
    return sum(math.comb(n, i) * share**i * (1 - share) ** (n - i) for i in range(k, n + 1))


def ref_bh(ps: list[float]) -> list[float]:
    """Benjamini-Hochberg step-up adjustment, written out."""
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    out = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, ps[i] * m / rank)
        out[i] = running
    return out


# --- building the warehouse ----------------------------------------------------------------


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB file with an empty main.events."""
    c = duckdb.connect(str(tmp_path / "journey.duckdb"))
    cols = ", ".join(f"{k} {v}" for k, v in EVENT_COLUMNS.items())
    c.execute(f"create table main.events ({cols})").fetchall()
    yield c
    c.close()


def add(con: duckdb.DuckDBPyConnection, n: int, customer: str, event_name: str, ts: datetime, *,
        start: int = 0, channel: str = "web", **cols: Any) -> None:
    """n events, one per i in [start, start+n): '{i}' in a string value is replaced by i."""
    if n <= 0:
        return
    per_i = "replace(?, '{i}', cast(i as varchar))"
    names = ["event_id", "customer_id", "channel", "event_name", "event_ts", "event_date", *cols]
    exprs = ["cast(gen_random_uuid() as varchar)", per_i, "?", "?", "cast(? as timestamp)", "cast(? as date)"]
    params: list[Any] = [customer, channel, event_name, ts, ts]
    for value in cols.values():
        exprs.append(per_i if isinstance(value, str) else "?")
        params.append(value)
    con.execute(
        f"insert into main.events ({', '.join(names)}) select {', '.join(exprs)} from range(?, ?) t(i)",
        [*params, start, start + n],
    ).fetchall()


def step(con: duckdb.DuckDBPyConnection, prefix: str, n: int, converted: int, at: datetime,
         frm: str = "view_item", to: str = "add_to_cart", **cols: Any) -> None:
    """n customers do `frm`; the first `converted` of them do `to` one hour later."""
    add(con, n, prefix + "{i}", frm, at, **cols)
    add(con, converted, prefix + "{i}", to, at + timedelta(hours=1), **cols)


def emails(con: duckdb.DuckDBPyConnection, campaign: str, delivered: int, bounces: int = 0,
           spam: int = 0, unsubscribes: int = 0, at: datetime = RECENT) -> None:
    """A campaign's delivered, bounce, spamreport and unsubscribe events (one customer each)."""
    p = f"{campaign}-"
    add(con, delivered, p + "d{i}", "delivered", at, channel="email", campaign_id=campaign)
    add(con, bounces, p + "b{i}", "bounce", at, channel="email", campaign_id=campaign)
    add(con, spam, p + "d{i}", "spamreport", at + timedelta(hours=1), channel="email", campaign_id=campaign)
    add(con, unsubscribes, p + "d{i}", "unsubscribe", at + timedelta(hours=1), channel="email", campaign_id=campaign)


def threads(con: duckdb.DuckDBPyConnection, platform: str, n: int, answered: int, reply_hours: float,
            at: datetime = datetime(2026, 10, 27, 10, 0), prefix: str = "t") -> None:
    """n inbound message threads; the first `answered` get a brand_reply after reply_hours."""
    tp = f"{platform}-{prefix}{{i}}"
    add(con, n, f"s-{platform}-{prefix}{{i}}", "message", at, channel="social", platform=platform, thread_id=tp)
    add(con, answered, "brand", "brand_reply", at + timedelta(hours=reply_hours), channel="social",
        platform=platform, thread_id=tp)


def posts(con: duckdb.DuckDBPyConnection, platform: str, n: int, negative: int, at: datetime, prefix: str) -> None:
    """n social posts with a sentiment; the first `negative` below the threshold (-0.8), the rest 0.5."""
    add(con, negative, f"{prefix}{{i}}", "post", at, channel="social", platform=platform, sentiment=-0.8)
    add(con, n - negative, f"{prefix}{{i}}", "post", at, start=negative, channel="social", platform=platform,
        sentiment=0.5)


def run(con: duckdb.DuckDBPyConnection, as_of: date = AS_OF, config: Path = CONFIG) -> list[Finding]:
    return find_pain_points(con, as_of, config)


def of(findings: list[Finding], kind: str) -> list[Finding]:
    return [f for f in findings if f.kind == kind]


def config_with(tmp_path: Path, **changes: dict[str, Any]) -> Path:
    """A copy of config/pain_points.toml with some values changed, e.g. stuck={'min_customers': 3}."""
    config = tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    for section, values in changes.items():
        config.setdefault(section, {}).update(values)

    def literal(v: Any) -> str:
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(literal(x) for x in v) + "]"
        return repr(v)

    text = "".join(
        f"[{section}]\n" + "".join(f"{k} = {literal(v)}\n" for k, v in values.items()) + "\n"
        for section, values in config.items()
    )
    path = tmp_path / "pain_points.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- statistics ------------------------------------------------------------------------------


class TestExactWorseP:
    """The e-mail test: one-sided Fisher exact, the chance of at least this many bad events."""

    def test_matches_scipy_fisher(self) -> None:
        from scipy import stats

        table = [[3, 397], [6, 2994]]
        assert exact_worse_p(3, 400, 6, 3000) == pytest.approx(stats.fisher_exact(table, alternative="greater")[1])

    def test_more_bad_events_than_messages_is_a_number(self) -> None:
        """Complaints in the window about mail delivered before it can outnumber the deliveries:
        the p-value was NaN, passed unguarded into the correction."""
        assert 0.0 <= exact_worse_p(5, 10, 120, 100) <= 1.0


class TestTwoProportionP:
    """The one-sided exact mid-p test matches a plain-math recomputation, and holds its level."""

    @pytest.mark.parametrize(
        ("x1", "n1", "x2", "n2"),
        [(10, 100, 20, 100), (50, 100, 50, 100), (30, 100, 10, 100), (7, 40, 300, 1000), (1, 3, 2, 5)],
    )
    def test_matches_reference(self, x1: int, n1: int, x2: int, n2: int) -> None:
        assert two_proportion_p(x1, n1, x2, n2) == pytest.approx(ref_midp(x1, n1, x2, n2), abs=1e-12)

    @pytest.mark.parametrize(("n1", "n2", "rate"), [(30, 60, 0.94), (30, 30, 0.1), (50, 50, 0.94), (30, 100, 0.86)])
    def test_holds_its_level_on_small_cells(self, n1: int, n2: int, rate: float) -> None:
        """Two groups converting alike: the chance (summed over every outcome) that the first is
        called worse at 5%. The pooled z-test did so 6.5%, 5.8%, 6.0% and 5.9% of the time."""
        def binom(k: int, n: int) -> float:
            return math.comb(n, k) * rate**k * (1 - rate) ** (n - k)

        size = sum(binom(a, n1) * binom(b, n2) for a in range(n1 + 1) for b in range(n2 + 1)
                   if two_proportion_p(a, n1, b, n2) <= 0.05)
        assert size <= 0.05

    def test_equal_proportions_give_one_half(self) -> None:
        assert two_proportion_p(50, 100, 50, 100) == pytest.approx(0.5)

    def test_lower_proportion_is_significant_higher_is_not(self) -> None:
        assert two_proportion_p(10, 100, 30, 100) < 0.01
        assert two_proportion_p(30, 100, 10, 100) > 0.99

    @pytest.mark.parametrize(("x1", "n1", "x2", "n2"), [(0, 0, 5, 10), (5, 10, 0, 0), (0, 0, 0, 0)])
    def test_empty_side_gives_one(self, x1: int, n1: int, x2: int, n2: int) -> None:
        assert two_proportion_p(x1, n1, x2, n2) == 1.0

    def test_zero_variance_gives_one(self) -> None:
        assert two_proportion_p(0, 10, 0, 20) == 1.0
        assert two_proportion_p(10, 10, 20, 20) == 1.0


class TestBenjaminiHochberg:
    """The adjustment matches the step-up procedure computed by hand."""

    def test_hand_computed(self) -> None:
        # sorted 0.01, 0.03, 0.04, 0.20 (m=4): p*m/rank = 0.04, 0.06, 0.0533, 0.20; running min from the top.
        assert benjamini_hochberg([0.01, 0.04, 0.03, 0.20]) == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.20])

    def test_capped_and_monotone(self) -> None:
        assert benjamini_hochberg([0.5, 0.9]) == pytest.approx([0.9, 0.9])

    def test_single_value_unchanged(self) -> None:
        assert benjamini_hochberg([0.02]) == pytest.approx([0.02])

    def test_matches_reference(self) -> None:
        ps = [0.001, 0.2, 0.015, 0.04, 0.9, 0.03]
        assert benjamini_hochberg(ps) == pytest.approx(ref_bh(ps))

    def test_empty(self) -> None:
        assert benjamini_hochberg([]) == []


# --- funnel ------------------------------------------------------------------------------------


class TestFunnelStepDrop:
    """A checkout step converting worse in the recent days than in the baseline weeks is flagged."""

    def test_drop_flagged_with_exact_numbers(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "b", 100, 50, BASELINE)
        step(con, "r", 100, 20, RECENT)
        found = of(run(con), "funnel_step_drop")
        assert len(found) == 1
        f = found[0]
        assert (f.funnel, f.step, f.segment_key, f.segment_value) == ("checkout", "add_to_cart", "all", "all")
        assert (f.observed, f.baseline, f.affected_customers) == (pytest.approx(0.2), pytest.approx(0.5), 100)
        assert f.p_value == pytest.approx(ref_midp(20, 100, 50, 100))  # the only eligible baseline cell
        assert f.p_value <= 0.05
        assert f.severity == pytest.approx(30.0)
        # the sentence names the step it converts from, not only "the previous step"
        assert "from the previous step (view_item)" in f.description, f.description

    def test_starts_whose_window_is_not_over_are_not_judged(self, con: duckdb.DuckDBPyConnection) -> None:
        """Viewing an item late on the run date, a customer may still add to cart within 24 hours:
        such starts are left out of the recent conversion until their hours are over."""
        step(con, "b", 100, 50, BASELINE)
        step(con, "r", 100, 50, RECENT)
        add(con, 100, "late{i}", "view_item", datetime(2026, 10, 31, 20))  # would add to cart tomorrow
        assert of(run(con), "funnel_step_drop") == []
        cells = con.execute(
            "select entered, converted from pain_step_cells where period = 'recent' and segment_key = 'all' "
            "and step = 'add_to_cart'"
        ).fetchall()
        assert cells == [(100, 50)]

    def test_a_store_that_does_not_change_has_no_drop(self, con: duckdb.DuckDBPyConnection) -> None:
        """Every day alike: 200 browsers view items daily and never add to cart, and 40 new
        customers a day add to cart 3 times in 10. Counted once in the 21 baseline days, the
        browsers were 19% of the baseline's customers but 45% of the recent week's, so a store
        where nothing changed read 16% against 24% ("check what changed on that step"). The
        baseline is counted week by week, as the recent week is."""
        for day in range(4, 31):  # 2026-10-04 .. 2026-10-30: the baseline and the judged recent days
            at = datetime(2026, 10, day, 10, 0)
            add(con, 200, "browser{i}", "view_item", at)
            step(con, f"d{day}-", 40, 12, at)
        assert of(run(con), "funnel_step_drop") == []
        cells = dict(con.execute(
            "select period, (entered, converted) from pain_step_cells where segment_key = 'all' and step = 'add_to_cart'"
        ).fetchall())
        assert cells == {"recent": (6 * 40 + 200, 6 * 12), "baseline": (3 * (7 * 40 + 200), 21 * 12)}

    def test_no_drop_not_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "b", 100, 50, BASELINE)
        step(con, "r", 100, 48, RECENT)
        assert of(run(con), "funnel_step_drop") == []

    def test_just_over_min_effect_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "b", 2000, 1000, BASELINE)
        step(con, "r", 2000, 880, RECENT)  # 44% against 50%: 6 points
        assert [f.step for f in of(run(con), "funnel_step_drop")] == ["add_to_cart"]

    def test_a_drop_of_min_effect_exactly_is_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        """A drop of at least min_effect is reported: 45% against 50% is 5 points, which read
        0.04999999999999999 as 0.5 - 0.45 (and 60% against 55%, a segment, 0.04999999999999993)."""
        step(con, "b", 2000, 1000, BASELINE)
        step(con, "r", 2000, 900, RECENT)
        assert [f.step for f in of(run(con), "funnel_step_drop")] == ["add_to_cart"]
        con.execute("delete from main.events").fetchall()
        step(con, "d", 1000, 600, RECENT, device_category="desktop")
        step(con, "m", 1000, 550, RECENT, device_category="mobile")
        assert [f.segment_value for f in of(run(con), "segment_drop")] == ["mobile"]

    def test_significant_but_under_min_effect_not_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "b", 2000, 1000, BASELINE)
        step(con, "r", 2000, 920, RECENT)  # 46% against 50%: 4 points, p < 0.01
        assert ref_p(920, 2000, 1000, 2000) < 0.01
        assert of(run(con), "funnel_step_drop") == []

    def test_campaign_of_the_session(self, con: duckdb.DuckDBPyConnection) -> None:
        """utm fields sit on a session's landing page view: a step event takes its session's."""
        con.execute(
            "create table main.sessions as "
            "select 'sa' || i as session_id, 'news' as utm_source, 'email' as utm_medium from range(200) t(i) "
            "union all select 'sb' || i, 'ads', 'cpc' from range(100) t(i)"
        ).fetchall()
        step(con, "a", 200, 100, RECENT, session_id="sa{i}")
        step(con, "b", 100, 10, RECENT, session_id="sb{i}")
        found = of(run(con), "segment_drop")
        # one campaign, one finding naming its source and its medium
        assert [(f.segment_key, f.segment_value) for f in found] == [("utm_source", "ads")]
        assert [s["segment_value"] for s in found[0].evidence["same_drop_as"]] == ["cpc"]

    def test_tiny_difference_on_big_sample_not_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "b", 10000, 5000, BASELINE)
        step(con, "r", 10000, 4700, RECENT)  # 3 points, p ~ 1e-5
        assert ref_p(4700, 10000, 5000, 10000) < 1e-4
        assert of(run(con), "funnel_step_drop") == []

    def test_min_sample_respected(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "b", 100, 50, BASELINE)
        step(con, "r", 29, 0, RECENT)  # 0% of 29: a huge drop, but too small a cell to test
        assert of(run(con), "funnel_step_drop") == []

    def test_min_sample_reached(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "b", 100, 50, BASELINE)
        step(con, "r", 30, 0, RECENT)
        found = of(run(con), "funnel_step_drop")
        assert [(f.step, f.affected_customers, f.observed) for f in found] == [("add_to_cart", 30, 0.0)]

    def test_conversion_after_the_window_does_not_count(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "b", 100, 50, BASELINE)
        add(con, 100, "r{i}", "view_item", RECENT)
        add(con, 50, "r{i}", "add_to_cart", RECENT + timedelta(hours=25))  # outside the 24 h window
        found = of(run(con), "funnel_step_drop")
        assert [(f.step, f.observed) for f in found] == [("add_to_cart", 0.0)]


class TestSegmentDrop:
    """A segment converting much worse than the rest of the recent customers is flagged."""

    def test_worse_segment_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "d", 200, 100, RECENT, device_category="desktop")
        step(con, "m", 100, 10, RECENT, device_category="mobile")
        found = of(run(con), "segment_drop")
        assert len(found) == 1
        f = found[0]
        assert (f.step, f.segment_key, f.segment_value) == ("add_to_cart", "device_category", "mobile")
        assert (f.observed, f.baseline, f.affected_customers) == (pytest.approx(0.1), pytest.approx(0.5), 100)
        # two cells tested (desktop against mobile, mobile against desktop), BH-corrected
        expected = ref_bh([ref_midp(100, 200, 10, 100), ref_midp(10, 100, 100, 200)])[1]
        assert f.p_value == pytest.approx(expected)
        assert f.p_value <= 0.05
        assert f.severity == pytest.approx(40.0)
        assert "device_category = mobile" in f.description
        assert "converts 10% from view_item for" in f.description, f.description

    def test_other_segment_keys(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "a", 200, 100, RECENT, utm_source="news", country="DE")
        step(con, "b", 100, 10, RECENT, utm_source="ads", country="DE")
        found = of(run(con), "segment_drop")
        # country is DE for everyone (no rest to compare with): only utm_source is tested
        assert [(f.segment_key, f.segment_value) for f in found] == [("utm_source", "ads")]

    def test_a_campaign_is_one_finding_not_its_source_and_its_medium(self, con: duckdb.DuckDBPyConnection) -> None:
        """A campaign's customers are those of its utm_source and of its utm_medium alike: its drop
        was two findings, "test that step for utm_source = spring_sale" and "... utm_medium = email",
        for one cause. One finding names both."""
        step(con, "a", 200, 100, RECENT, utm_source="google", utm_medium="cpc")
        step(con, "c", 100, 10, RECENT, utm_source="spring_sale", utm_medium="email")
        found = of(run(con), "segment_drop")
        assert [(f.segment_key, f.segment_value) for f in found] == [("utm_source", "spring_sale")]
        f = found[0]
        assert (f.observed, f.baseline, f.affected_customers) == (pytest.approx(0.1), pytest.approx(0.5), 100)
        assert "for utm_source = spring_sale against 50%" in f.description, f.description
        assert "The same customers make the drop of utm_medium = email (10% of 100): one cause." in f.description
        assert [(s["segment_key"], s["segment_value"], s["customers"], s["shared_customers"])
                for s in f.evidence["same_drop_as"]] == [("utm_medium", "email", 100, 100)]

    def test_a_campaign_inside_its_medium_is_one_finding(self, con: duckdb.DuckDBPyConnection) -> None:
        """A campaign that drops pulls its medium down with it (the medium's other campaigns
        convert as ever): the medium's drop is the campaign's, one finding named after it."""
        step(con, "a", 300, 150, RECENT, utm_source="google", utm_medium="cpc")
        step(con, "w", 100, 50, RECENT, utm_source="weekly", utm_medium="email")
        step(con, "c", 100, 10, RECENT, utm_source="spring_sale", utm_medium="email")
        found = of(run(con), "segment_drop")
        assert [(f.segment_key, f.segment_value) for f in found] == [("utm_source", "spring_sale")]
        assert [(s["segment_value"], s["customers"], s["shared_customers"])
                for s in found[0].evidence["same_drop_as"]] == [("email", 200, 100)]
        assert "utm_medium = email (30% of 200)" in found[0].description

    def test_the_finding_is_named_after_the_cause_not_the_smallest_segment(self, con: duckdb.DuckDBPyConnection) -> None:
        """An ad's visitors who do not buy, half of them in France: France drops only for them (its
        other customers convert as ever) and has fewer customers than the ad. The finding is the
        ad's, naming France, not France's naming the ad."""
        step(con, "a", 400, 200, RECENT, utm_source="google", country="US")
        step(con, "f", 40, 20, RECENT, utm_source="google", country="FR")
        step(con, "x", 60, 3, RECENT, utm_source="facebook", country="FR")
        step(con, "y", 60, 3, RECENT, utm_source="facebook", country="US")
        found = of(run(con), "segment_drop")
        assert [(f.segment_key, f.segment_value) for f in found] == [("utm_source", "facebook")]
        assert [s["segment_value"] for s in found[0].evidence["same_drop_as"]] == ["FR"]

    def test_a_burst_of_visitors_who_only_browse_is_one_finding(self, con: duckdb.DuckDBPyConnection) -> None:
        """A burst of phone visitors who hardly add to cart: the whole step reads 30% against 45%
        ("check what changed on that step") and mobile 10% against 50% ("test that step for this
        segment"), two findings for one cause. Desktop converts as before, so the step's drop is
        mobile's: one finding, saying so and that many more came than usual."""
        step(con, "bd", 300, 150, BASELINE, device_category="desktop")
        step(con, "bm", 120, 36, BASELINE, device_category="mobile")
        step(con, "rd", 300, 150, RECENT, device_category="desktop")
        step(con, "rm", 300, 30, RECENT, device_category="mobile")
        found = of(run(con), "funnel_step_drop") + of(run(con), "segment_drop")
        assert [(f.kind, f.segment_key, f.segment_value) for f in found] == [
            ("segment_drop", "device_category", "mobile")]
        f = found[0]
        assert f.evidence["step_drop"]["observed"] == pytest.approx(180 / 600)
        assert f.evidence["step_drop"]["baseline"] == pytest.approx(186 / 420)
        assert f.severity == pytest.approx(max(300 * 0.4, 600 * (186 / 420 - 0.3)), abs=0.1)
        assert ("It is the whole step's drop, to 30% from 44% in the weeks before (everyone else converts 50% "
                "against 50%): 300 of this segment's customers reached view_item in the last 7 days against about "
                "40 a week before, converting 10% against 30%. Many more came than usual") in f.description, f.description

    def test_a_burst_is_counted_per_recent_window_of_the_config(self, con: duckdb.DuckDBPyConnection,
                                                                tmp_path: Path) -> None:
        """With a recent window of 14 days the baseline is counted in blocks of 14 days: 120 phone
        customers in the 42 days before are about 40 per 14 days, not "40 a week" (the sentence and
        its evidence)."""
        step(con, "bd", 300, 150, datetime(2026, 10, 1, 10), device_category="desktop")
        step(con, "bm", 120, 36, datetime(2026, 10, 1, 10), device_category="mobile")
        step(con, "rd", 300, 150, RECENT, device_category="desktop")
        step(con, "rm", 300, 30, RECENT, device_category="mobile")
        found = of(run(con, config=config_with(tmp_path, tests={"recent_days": 14, "baseline_days": 42})), "segment_drop")
        assert [f.segment_value for f in found] == ["mobile"]
        assert ("300 of this segment's customers reached view_item in the last 14 days against about 40 per 14 days "
                "before") in found[0].description, found[0].description
        assert found[0].evidence["step_drop"]["segment_customers_a_window_before"] == pytest.approx(40)

    def test_a_step_that_drops_for_everyone_is_its_own_finding(self, con: duckdb.DuckDBPyConnection) -> None:
        """Desktop drops too: the step's drop is not mobile's alone, both findings stay."""
        step(con, "bd", 300, 150, BASELINE, device_category="desktop")
        step(con, "bm", 120, 36, BASELINE, device_category="mobile")
        step(con, "rd", 300, 105, RECENT, device_category="desktop")
        step(con, "rm", 300, 30, RECENT, device_category="mobile")
        found = of(run(con), "funnel_step_drop") + of(run(con), "segment_drop")
        assert sorted((f.kind, f.segment_value) for f in found) == [
            ("funnel_step_drop", "all"), ("segment_drop", "mobile")]
        assert all("step_drop" not in f.evidence for f in found)

    def test_two_causes_stay_two_findings(self, con: duckdb.DuckDBPyConnection) -> None:
        """Mobile converts badly everywhere and so does France on every device: two problems,
        each still there without the other's customers."""
        for device, country, n, converted in (
            ("desktop", "US", 400, 200), ("mobile", "US", 200, 20), ("desktop", "FR", 200, 20), ("mobile", "FR", 100, 10),
        ):
            step(con, f"{device}-{country}-", n, converted, RECENT, device_category=device, country=country)
        found = of(run(con), "segment_drop")
        assert sorted((f.segment_key, f.segment_value) for f in found) == [("country", "FR"), ("device_category", "mobile")]
        assert all("same_drop_as" not in f.evidence for f in found)

    def test_tiny_difference_on_big_sample_not_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "d", 5000, 2500, RECENT, device_category="desktop")
        step(con, "m", 5000, 2350, RECENT, device_category="mobile")  # 47% against 50%, p ~ 0.001
        assert ref_p(2350, 5000, 2500, 5000) < 0.01
        assert of(run(con), "segment_drop") == []

    def test_a_small_segment_within_chance_is_not_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        """28 of 30 phone customers went on to buy against all 60 on desktop: 93% against 100%,
        within chance (exact one-sided mid-p 0.054). The pooled z-test read p 0.022 (0.043 once
        corrected for the two cells) and flagged mobile: on cells this small it called a segment
        worse 6.5% of the time at a nominal 5% when every device bought alike at 94%."""
        step(con, "d", 60, 60, RECENT, device_category="desktop")
        step(con, "m", 30, 28, RECENT, device_category="mobile")
        assert ref_bh([ref_p(28, 30, 60, 60), ref_p(60, 60, 28, 30)])[0] < 0.05
        assert ref_midp(28, 30, 60, 60) > 0.05
        assert of(run(con), "segment_drop") == []
        step(con, "m", 30, 25, RECENT, start=30, device_category="mobile")  # 53 of 60: 88%, mid-p 0.0032
        assert [f.segment_value for f in of(run(con), "segment_drop")] == ["mobile"]

    def test_small_segment_never_tested(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "d", 200, 100, RECENT, device_category="desktop")
        step(con, "t", 29, 0, RECENT, device_category="tablet")
        assert of(run(con), "segment_drop") == []

    def test_null_segment_values_not_reported(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "d", 200, 100, RECENT, device_category="desktop")
        step(con, "n", 100, 10, RECENT)  # no device_category
        found = run(con)
        assert all(f.segment_value not in (None, "None") for f in found)
        # desktop is better than the rest (the nulls): nothing to report
        assert of(found, "segment_drop") == []


class TestCheckoutStepsFromTheFunnelRules:
    """The steps judged are the checkout funnel's of the run's funnel rules: a store whose checkout
    has steps of its own names them once, for its funnels and its findings alike."""

    @staticmethod
    def funnels(tmp_path: Path, steps: str, name: str = "checkout", channels: str = '["web"]') -> Path:
        path = tmp_path / "funnels.toml"
        path.write_text(f'[[funnels]]\nname = "{name}"\nwindow = "7d"\nchannels = {channels}\nsteps = [{steps}]\n',
                        encoding="utf-8")
        return path

    def test_a_step_of_the_stores_own(self, con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
        """A checkout without add_payment_info, its payment step a custom event: the drop from it
        to purchase is judged (with the bundled steps, no one reaches purchase from add_payment_info)."""
        step(con, "b", 100, 50, BASELINE, frm="checkout_started", to="purchase")
        step(con, "r", 100, 20, RECENT, frm="checkout_started", to="purchase")
        assert of(run(con), "funnel_step_drop") == []  # the bundled checkout has no checkout_started
        rules = self.funnels(tmp_path, '{ event = "view_item" }, { event = "add_to_cart" }, '
                                       '{ event = "checkout_started" }, { event = "purchase" }')
        found = of(find_pain_points(con, AS_OF, CONFIG, rules), "funnel_step_drop")
        assert [(f.funnel, f.step, f.observed, f.baseline, f.affected_customers) for f in found] == [
            ("checkout", "purchase", pytest.approx(0.2), pytest.approx(0.5), 100)]

    def test_a_step_with_a_condition_and_its_label(self, con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
        """A step narrowed to a page is that page's views only, named by its label."""
        con.execute("alter table main.events add column page_url varchar").fetchall()
        add(con, 100, "b{i}", "add_to_cart", BASELINE)
        add(con, 50, "b{i}", "page_view", BASELINE + timedelta(hours=1), page_url="/checkout/address")
        add(con, 100, "r{i}", "add_to_cart", RECENT)
        add(con, 20, "r{i}", "page_view", RECENT + timedelta(hours=1), page_url="/checkout/address")
        add(con, 80, "r{i}", "page_view", RECENT + timedelta(hours=1), start=20, page_url="/help")  # not the step
        rules = self.funnels(tmp_path, '{ event = "add_to_cart" }, '
                                       '{ event = "page_view", page_url_like = "/checkout/%", label = "checkout_page" }')
        found = of(find_pain_points(con, AS_OF, CONFIG, rules), "funnel_step_drop")
        assert [(f.step, f.observed, f.baseline) for f in found] == [
            ("checkout_page", pytest.approx(0.2), pytest.approx(0.5))]

    def test_the_funnels_channels(self, con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
        """Steps on the e-mail channel are judged when the checkout funnel takes every channel."""
        step(con, "b", 100, 50, BASELINE, frm="click", to="purchase", channel="email")
        step(con, "r", 100, 20, RECENT, frm="click", to="purchase", channel="email")
        web_only = self.funnels(tmp_path, '{ event = "click" }, { event = "purchase" }')
        assert of(find_pain_points(con, AS_OF, CONFIG, web_only), "funnel_step_drop") == []
        every = self.funnels(tmp_path, '{ event = "click" }, { event = "purchase" }', channels="[]")
        assert [f.step for f in of(find_pain_points(con, AS_OF, CONFIG, every), "funnel_step_drop")] == ["purchase"]

    def test_the_contracts_steps_without_a_checkout_funnel(self, con: duckdb.DuckDBPyConnection,
                                                            tmp_path: Path) -> None:
        step(con, "b", 100, 50, BASELINE)
        step(con, "r", 100, 20, RECENT)
        rules = self.funnels(tmp_path, '{ event = "page_view" }, { event = "purchase" }', name="browse")
        found = of(find_pain_points(con, AS_OF, CONFIG, rules), "funnel_step_drop")
        assert [f.step for f in found] == ["add_to_cart"]

    def test_a_page_passed_twice_is_two_steps(self, con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
        """A funnel passing one event twice numbers the second: each is judged on its own."""
        step(con, "b", 100, 50, BASELINE, frm="page_view", to="view_item")
        step(con, "r", 100, 20, RECENT, frm="page_view", to="view_item")
        # (view_item, view_item in a row is refused: no ordered chain reaches the second)
        rules = self.funnels(tmp_path, '{ event = "view_item" }, { event = "page_view" }, { event = "view_item" }')
        steps = [f.step for f in of(find_pain_points(con, AS_OF, CONFIG, rules), "funnel_step_drop")]
        assert steps == ["view_item (step 3)"]


    def test_a_run_judges_the_checkout_funnel_of_its_settings(self, tmp_path: Path) -> None:
        """The nightly step reads the funnel rules named by the run's settings ([rules] funnels)."""
        from journey_analytics import runs
        from journey_analytics.config import load_settings
        from tests.conftest import Landing

        def people(prefix: str, at: str, converted: int) -> list[dict[str, Any]]:
            rows = []
            for i in range(100):
                rows.append({"event_id": f"{prefix}s{i}", "event_ts": f"{at}T10:00:00Z",
                             "event_name": "checkout_started", "anonymous_id": f"{prefix}{i}"})
                if i < converted:
                    rows.append({"event_id": f"{prefix}o{i}", "event_ts": f"{at}T11:00:00Z",
                                 "event_name": "order_placed", "anonymous_id": f"{prefix}{i}"})
            return rows

        landing = Landing(tmp_path / "landing")
        landing.jsonl("web", AS_OF, "web.jsonl", people("b", "2026-10-10", 50) + people("r", "2026-10-28", 10))
        self.funnels(tmp_path, '"checkout_started", "order_placed"')
        (tmp_path / "journey.toml").write_text('[rules]\nfunnels = "funnels.toml"\n', encoding="utf-8")
        warehouse = tmp_path / "journey.duckdb"
        runs.run_day_in_process(AS_OF, landing.root, warehouse, tmp_path / "reports",
                                load_settings(tmp_path / "journey.toml"))
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            kept = con.execute("select step, observed from main.pain_points where kind = 'funnel_step_drop'").fetchall()
        finally:
            con.close()
        assert kept == [("order_placed", pytest.approx(0.1))]

# --- abandonment -------------------------------------------------------------------------------


class TestAbandonment:
    """Checkout and cart abandonment fire just over their thresholds and need min_sample customers."""

    def test_checkout_just_over(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "c", 30, 11, RECENT, frm="begin_checkout", to="purchase")  # 19/30 = 63% > 60%
        found = run(con)
        assert [f.kind for f in found] == ["checkout_abandonment"]
        f = found[0]
        assert (f.step, f.observed, f.baseline, f.affected_customers) == ("begin_checkout", pytest.approx(19 / 30), 0.6, 19)
        assert f.p_value is None
        assert f.severity == pytest.approx(1.0)
        assert f.evidence == {"customers": 30, "abandoned": 19}

    def test_a_rate_just_over_its_threshold_reads_over_it(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "c", 121, 48, RECENT, frm="begin_checkout", to="purchase")  # 73/121 = 60.3% > 60%
        (f,) = of(run(con), "checkout_abandonment")
        assert "60.3% of the 121 customers" in f.description and "(threshold 60.0%)" in f.description, f.description

    def test_checkout_at_threshold_not_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "c", 30, 12, RECENT, frm="begin_checkout", to="purchase")  # 18/30 = 60%, not over
        assert of(run(con), "checkout_abandonment") == []

    def test_checkout_min_sample(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "c", 29, 0, RECENT, frm="begin_checkout", to="purchase")
        assert of(run(con), "checkout_abandonment") == []

    def test_late_purchase_is_abandonment(self, con: duckdb.DuckDBPyConnection) -> None:
        add(con, 30, "c{i}", "begin_checkout", RECENT)
        add(con, 30, "c{i}", "purchase", RECENT + timedelta(hours=25))
        assert [f.affected_customers for f in of(run(con), "checkout_abandonment")] == [30]

    def test_outside_window_ignored(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "c", 50, 0, datetime(2026, 10, 3, 10), frm="begin_checkout", to="purchase")  # 29 days back
        assert of(run(con), "checkout_abandonment") == []

    def test_checkout_whose_hours_are_not_over_is_not_judged(self, con: duckdb.DuckDBPyConnection) -> None:
        """Late on the run date, a customer who began checkout may still buy within the 24 hours:
        they are not counted as abandoned (nor as bought) until the hours are over."""
        add(con, 30, "c{i}", "begin_checkout", datetime(2026, 10, 31, 22))  # buys at 06:00 on the next day
        assert of(run(con), "checkout_abandonment") == []
        add(con, 30, "c{i}", "begin_checkout", datetime(2026, 10, 30, 23, 59, 59), start=30)  # 24 h and 1 s: judged
        found = of(run(con), "checkout_abandonment")
        assert [(f.affected_customers, f.evidence) for f in found] == [(30, {"customers": 30, "abandoned": 30})]

    def test_cart_just_over(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "k", 50, 9, RECENT, frm="add_to_cart", to="purchase")  # 41/50 = 82% > 80%
        found = of(run(con), "cart_abandonment")
        assert [(f.step, f.affected_customers) for f in found] == [("add_to_cart", 41)]
        assert found[0].observed == pytest.approx(0.82)

    def test_cart_at_threshold_not_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "k", 50, 10, RECENT, frm="add_to_cart", to="purchase")  # 40/50 = 80%
        assert of(run(con), "cart_abandonment") == []

    def test_threshold_from_config(self, con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
        step(con, "c", 30, 15, RECENT, frm="begin_checkout", to="purchase")  # 50%
        assert of(run(con), "checkout_abandonment") == []
        config = config_with(tmp_path, abandonment={"checkout_threshold": 0.4})
        found = of(run(con, config=config), "checkout_abandonment")
        assert [(f.baseline, f.affected_customers) for f in found] == [(0.4, 15)]


# --- e-mail ------------------------------------------------------------------------------------


class TestEmail:
    """E-mail health: one sender-wide finding, or campaigns over the threshold and worse than the rest."""

    def test_sender_wide_bounce_is_one_all_finding(self, con: duckdb.DuckDBPyConnection) -> None:
        emails(con, "A", 200, bounces=20)
        emails(con, "B", 200, bounces=20)
        found = run(con)
        assert [(f.kind, f.segment_key, f.segment_value) for f in found] == [("email_bounce", "campaign_id", "all")]
        f = found[0]
        assert f.observed == pytest.approx(40 / 440)  # bounces of delivered + bounced
        assert (f.baseline, f.affected_customers) == (0.05, 40)
        assert f.p_value == pytest.approx(ref_binomial_tail(40, 440, 0.05))  # over the threshold, exactly
        assert f.p_value <= 0.05
        assert f.description.startswith("All campaigns:")

    def test_a_sender_over_the_threshold_by_chance_is_not_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        """A healthy sender of 500 messages a month at a true spam rate of 0.2% has two complaints
        (0.4%, over the threshold 0.3%) about a night in four: over a bare threshold it was flagged
        then. Two in 500 is well within chance at 0.3% (exact one-sided p 0.44)."""
        for campaign in "ABCDE":
            emails(con, campaign, 100, spam=2 if campaign == "A" else 0)
        assert ref_binomial_tail(2, 500, 0.003) > 0.4
        assert of(run(con), "email_spam_complaints") == []
        # a sender that draws complaints: 8 of 500 (1.6%, p 0.0002)
        for campaign in "BCD":
            add(con, 2, f"{campaign}-d{{i}}", "spamreport", RECENT, channel="email", campaign_id=campaign)
        (f,) = of(run(con), "email_spam_complaints")
        assert (f.segment_value, f.observed) == ("all", pytest.approx(8 / 500))
        assert f.p_value == pytest.approx(ref_binomial_tail(8, 500, 0.003))
        assert "8 of 500 messages), significantly over the threshold 0.30%" in f.description, f.description

    def test_a_sender_wide_finding_speaks_of_the_campaigns_and_counts(self, con: duckdb.DuckDBPyConnection) -> None:
        """Sender-wide, a small store's 5 unsubscribes in 498 messages read "All campaigns:
        unsubscribe rate 1.00% over the threshold 1.00% (498 messages). Review the content and
        targeting of this campaign.": a campaign no one could name, and no excess to be seen."""
        emails(con, "A", 249, unsubscribes=8)
        emails(con, "B", 249, unsubscribes=7)
        found = of(run(con), "email_unsubscribes")
        assert [f.segment_value for f in found] == ["all"]
        assert "this campaign" not in found[0].description
        assert "(15 of 498 messages)" in found[0].description

    def test_a_rate_just_over_its_threshold_reads_over_it(self, con: duckdb.DuckDBPyConnection) -> None:
        """5 unsubscribes in 498 messages (1.004%) read "unsubscribe rate 1.00% (...) over the
        threshold 1.00%": the rate has the decimals it takes to read over the threshold. (A
        campaign's: sender-wide, a rate that close to its threshold is never significantly over it.)"""
        emails(con, "A", 498, unsubscribes=5)
        emails(con, "B", 3000)
        (found,) = of(run(con), "email_unsubscribes")
        assert "unsubscribe rate 1.004%, over the threshold 1.000%" in found.description, found.description

    def test_bounce_just_over_and_under(self, con: duckdb.DuckDBPyConnection) -> None:
        emails(con, "A", 200, bounces=10)  # 10/210 = 4.8%
        assert of(run(con), "email_bounce") == []
        emails(con, "A", 0, bounces=1, at=RECENT + timedelta(minutes=1))  # 11/211 = 5.2%: within chance
        assert of(run(con), "email_bounce") == []
        emails(con, "A", 0, bounces=9, at=RECENT + timedelta(minutes=2))  # 20/220 = 9.1%
        assert [f.segment_value for f in of(run(con), "email_bounce")] == ["all"]

    @pytest.mark.parametrize(("kind", "column"), [("email_bounce", "bounces"), ("email_spam_complaints", "spam"),
                                                  ("email_unsubscribes", "unsubscribes")])
    def test_a_campaign_at_its_threshold_is_not_over_it(self, con: duckdb.DuckDBPyConnection, kind: str,
                                                         column: str) -> None:
        """A campaign's rate exactly at its threshold (5 bounces of 100 messages at 5%, 3 complaints
        of 1,000 at 0.3%, 1 unsubscribe of 100 at 1%) is not over it, however much worse than the
        other campaigns: its rate was one less the share without the event, 5 of 100 reading
        5.0000000000000044%, flagged "5.0000%, over the threshold 5.0000%"."""
        delivered, bad = {"bounces": (95, 5), "spam": (1000, 3), "unsubscribes": (100, 1)}[column]
        emails(con, "A", delivered, **{column: bad})
        emails(con, "B", 20_000)
        assert of(run(con), kind) == []
        add(con, 1, "A-d{i}", {"bounces": "bounce", "spam": "spamreport", "unsubscribes": "unsubscribe"}[column],
            RECENT + timedelta(hours=2), start=delivered - 1, channel="email", campaign_id="A")  # one more: over
        assert [f.segment_value for f in of(run(con), kind)] == ["A"]

    def test_campaign_worse_than_the_rest_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        emails(con, "A", 1000, bounces=30)
        emails(con, "B", 1000, bounces=30)
        emails(con, "C", 200, bounces=20)  # 9.1%; overall 80/2280 = 3.5% is under the threshold
        found = run(con)
        assert [(f.kind, f.segment_value) for f in found] == [("email_bounce", "C")]
        f = found[0]
        assert f.observed == pytest.approx(20 / 220)
        assert f.affected_customers == 20
        raw = [ref_exact_p(30, 1030, 50, 1250), ref_exact_p(30, 1030, 50, 1250), ref_exact_p(20, 220, 60, 2060)]
        assert f.p_value == pytest.approx(ref_bh(raw)[2])
        assert f.p_value <= 0.05
        assert f.evidence["rate_other_campaigns"] == pytest.approx(60 / 2060)
        assert "Campaign C" in f.description

    def test_campaign_over_threshold_but_not_significant_not_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        emails(con, "A", 2000, bounces=90)  # 4.3%
        emails(con, "C", 100, bounces=7)  # 6.5% over the threshold, but not significantly above A
        assert ref_p(100, 107, 2000, 2090) > 0.05
        assert of(run(con), "email_bounce") == []

    def test_few_events_judged_exactly(self, con: duckdb.DuckDBPyConnection) -> None:
        """Spam reports are a few per thousand: three in a campaign of 400 (0.75%) against six in
        3,000 (0.2%) is within chance (exact one-sided p 0.079). The normal approximation gave
        0.022 and flagged the campaign: with sixteen campaigns of 400 at one true rate, a night
        had a false campaign finding 24% of the time (2% with the exact test)."""
        emails(con, "A", 3000, spam=6)
        emails(con, "C", 400, spam=3)
        assert ref_p(397, 400, 2994, 3000) * 2 < 0.05 and ref_exact_p(3, 400, 6, 3000) > 0.05
        assert of(run(con), "email_spam_complaints") == []
        # three more reports on C's 400 messages: 1.5%
        add(con, 3, "C-d{i}", "spamreport", RECENT, start=3, channel="email", campaign_id="C")
        found = of(run(con), "email_spam_complaints")
        assert [(f.segment_value, f.observed) for f in found] == [("C", pytest.approx(6 / 400))]
        assert found[0].p_value == pytest.approx(ref_bh([ref_exact_p(6, 3000, 6, 400), ref_exact_p(6, 400, 6, 3000)])[1])

    def test_min_delivered_respected(self, con: duckdb.DuckDBPyConnection) -> None:
        emails(con, "A", 3000, bounces=60)
        emails(con, "C", 49, bounces=50)  # 99 messages (delivered + bounced): never tested
        assert of(run(con), "email_bounce") == []

    def test_min_delivered_reached(self, con: duckdb.DuckDBPyConnection) -> None:
        emails(con, "A", 3000, bounces=60)
        emails(con, "C", 50, bounces=50)
        assert [f.segment_value for f in of(run(con), "email_bounce")] == ["C"]

    def test_campaign_that_nearly_all_bounces_is_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        """Few deliveries are no reason to skip a campaign's bounce rate: its messages are many."""
        emails(con, "A", 3000, bounces=60)  # 2%
        emails(con, "dead", 96, bounces=3904)  # 97.6% of 4,000 messages, 96 delivered
        found = of(run(con), "email_bounce")
        assert [(f.segment_value, f.affected_customers) for f in found] == [("dead", 3904)]
        assert found[0].observed == pytest.approx(3904 / 4000)
        assert found[0].evidence["rate_other_campaigns"] == pytest.approx(60 / 3060)

    def test_over_the_threshold_across_campaigns_not_each(self, con: duckdb.DuckDBPyConnection) -> None:
        """8.0% and 7.0%: neither campaign is worse than the other, but the sender's 7.5% is over."""
        emails(con, "A", 920, bounces=80)
        emails(con, "B", 930, bounces=70)
        found = of(run(con), "email_bounce")
        assert [(f.segment_value, f.observed, f.affected_customers) for f in found] == [
            ("all", pytest.approx(150 / 2000), 150)]

    def test_one_bad_campaign_and_the_rest_over_too(self, con: duckdb.DuckDBPyConnection) -> None:
        emails(con, "A", 940, bounces=60)  # 6%
        emails(con, "B", 940, bounces=60)  # 6%
        emails(con, "C", 400, bounces=200)  # 33%
        found = of(run(con), "email_bounce")
        assert [(f.segment_value, f.observed, f.affected_customers) for f in found] == [
            ("all others", pytest.approx(120 / 2000), 120), ("C", pytest.approx(200 / 600), 200)]
        assert found[0].description.startswith("All other campaigns:")

    def test_one_bad_campaign_is_not_sender_wide(self, con: duckdb.DuckDBPyConnection) -> None:
        emails(con, "A", 1000, bounces=10)  # 1%
        emails(con, "B", 1000, bounces=10)  # 1%
        emails(con, "C", 400, bounces=200)  # 33%: overall 220/2620 = 8.4%
        assert [f.segment_value for f in of(run(con), "email_bounce")] == ["C"]

    def test_a_long_campaign_id_is_named_briefly(self, con: duckdb.DuckDBPyConnection) -> None:
        """A 3,000-character campaign id does not hide the figures of its finding's sentence."""
        emails(con, "c" * 3000, 400, bounces=200)
        emails(con, "ok", 2000, bounces=20)
        (finding,) = of(run(con), "email_bounce")
        assert finding.segment_value == "c" * 3000
        assert finding.description.startswith("Campaign " + "c" * (SHOWN_VALUE_CHARS - 1) + "\u2026: bounce rate 33.3%")

    def test_spam_complaints_just_over_and_under(self, con: duckdb.DuckDBPyConnection) -> None:
        emails(con, "A", 1000, spam=3)  # 0.3%, not over
        assert of(run(con), "email_spam_complaints") == []
        add(con, 1, "A-d{i}", "spamreport", RECENT, start=3, channel="email", campaign_id="A")  # 0.4%: within chance
        assert of(run(con), "email_spam_complaints") == []
        add(con, 4, "A-d{i}", "spamreport", RECENT, start=4, channel="email", campaign_id="A")  # 0.8%
        found = run(con)
        assert [(f.kind, f.segment_value, f.affected_customers) for f in found] == [("email_spam_complaints", "all", 8)]
        assert found[0].observed == pytest.approx(0.008)

    def test_unsubscribes_just_over_and_under(self, con: duckdb.DuckDBPyConnection) -> None:
        emails(con, "A", 1000, unsubscribes=10)  # 1%, not over
        assert of(run(con), "email_unsubscribes") == []
        add(con, 1, "A-d{i}", "unsubscribe", RECENT, start=10, channel="email", campaign_id="A")  # 1.1%: within chance
        assert of(run(con), "email_unsubscribes") == []
        add(con, 9, "A-d{i}", "unsubscribe", RECENT, start=11, channel="email", campaign_id="A")  # 2%
        found = run(con)
        assert [(f.kind, f.segment_value) for f in found] == [("email_unsubscribes", "all")]
        assert found[0].observed == pytest.approx(0.02)

    def test_a_message_reported_twice_counts_once(self, con: duckdb.DuckDBPyConnection) -> None:
        """An ESP that reports a message's unsubscribe, complaint or bounce again (with a new
        event_id, the same message_id) reports one message: 10 of 1,000 is 1%, not over."""
        add(con, 1000, "A-d{i}", "delivered", RECENT, channel="email", campaign_id="A", message_id="A-m{i}")
        for repeat in (0, 1):
            at = RECENT + timedelta(hours=1 + repeat)
            add(con, 10, "A-d{i}", "unsubscribe", at, channel="email", campaign_id="A", message_id="A-m{i}")
            add(con, 3, "A-d{i}", "spamreport", at, channel="email", campaign_id="A", message_id="A-m{i}")
            add(con, 40, "A-b{i}", "bounce", at, channel="email", campaign_id="A", message_id="A-bm{i}")
        found = run(con)
        assert found == []
        # a second message to another 15 recipients, unsubscribed from: 25 of 1,015 is over 1%
        add(con, 15, "A-x{i}", "delivered", RECENT, channel="email", campaign_id="A", message_id="A-x{i}")
        add(con, 15, "A-x{i}", "unsubscribe", RECENT, channel="email", campaign_id="A", message_id="A-x{i}")
        (f,) = of(run(con), "email_unsubscribes")
        assert (f.observed, f.affected_customers) == (pytest.approx(25 / 1015), 25)

    def test_a_message_id_shared_by_a_whole_send_counts_each_recipient(self, con: duckdb.DuckDBPyConnection) -> None:
        """An ESP whose message id names the send, not one recipient's copy (Braze's dispatch_id,
        Klaviyo's $message) gives it to every recipient: each recipient is a message. Counted as
        one message, a campaign of 1,000 was never judged and its 3% unsubscribes went unseen."""
        add(con, 1000, "A-d{i}", "delivered", RECENT, channel="email", campaign_id="A", message_id="A-m{i}")
        add(con, 1000, "B-d{i}", "delivered", RECENT, channel="email", campaign_id="B", message_id="dispatch-B")
        add(con, 30, "B-d{i}", "unsubscribe", RECENT + timedelta(hours=1), channel="email", campaign_id="B",
            message_id="dispatch-B")
        add(con, 30, "B-d{i}", "unsubscribe", RECENT + timedelta(hours=2), channel="email", campaign_id="B",
            message_id="dispatch-B")  # reported twice: still one message each
        (f,) = of(run(con), "email_unsubscribes")
        assert (f.segment_value, f.observed, f.evidence["messages"]) == ("B", pytest.approx(0.03), 1000)

    def test_an_unsubscribe_without_message_id_counts_once_per_recipient(self, con: duckdb.DuckDBPyConnection) -> None:
        emails(con, "A", 1000, unsubscribes=10)
        add(con, 10, "A-d{i}", "unsubscribe", RECENT + timedelta(hours=2), channel="email", campaign_id="A")
        assert of(run(con), "email_unsubscribes") == []  # 10 recipients of 1,000: 1%
        for again in (0, 1):  # another 15 recipients, each unsubscribing twice: 25 of 1,000
            add(con, 15, "A-d{i}", "unsubscribe", RECENT + timedelta(hours=2 + again), start=10, channel="email",
                campaign_id="A")
        (f,) = of(run(con), "email_unsubscribes")
        assert f.observed == pytest.approx(25 / 1000)

    def test_outside_window_ignored(self, con: duckdb.DuckDBPyConnection) -> None:
        emails(con, "A", 200, bounces=100, at=datetime(2026, 10, 3, 10))  # 29 days back
        assert run(con) == []

    def test_complaints_about_mail_delivered_before_the_window_are_not_the_windows(
        self, con: duckdb.DuckDBPyConnection
    ) -> None:
        """A campaign delivered the day before the 28-day window still draws spam reports and
        unsubscribes in the window's first days: they are about messages the window does not
        count. Counted against the window's deliveries, 18 reports about a campaign gone made the
        sender's clean 2,000 messages 1.0% spam, an "All campaigns" finding about nobody's mail."""
        before, first_day = datetime(2026, 10, 3, 15), datetime(2026, 10, 4, 12)  # the window: 10-04..10-31
        add(con, 3000, "P-d{i}", "delivered", before, channel="email", campaign_id="P", message_id="P-m{i}")
        add(con, 18, "P-d{i}", "spamreport", first_day, channel="email", campaign_id="P", message_id="P-m{i}")
        add(con, 40, "P-d{i}", "unsubscribe", first_day, channel="email", campaign_id="P", message_id="P-m{i}")
        add(con, 2000, "A-d{i}", "delivered", RECENT, channel="email", campaign_id="A", message_id="A-m{i}")
        add(con, 2, "A-d{i}", "spamreport", RECENT + timedelta(hours=1), channel="email", campaign_id="A",
            message_id="A-m{i}")
        assert run(con) == []
        # the window's own messages still count with their reports: 16 of A's 2,000 is 0.8%
        add(con, 14, "A-d{i}", "spamreport", RECENT + timedelta(hours=2), start=2, channel="email",
            campaign_id="A", message_id="A-m{i}")
        (f,) = of(run(con), "email_spam_complaints")
        assert (f.segment_value, f.observed, f.affected_customers) == ("all", pytest.approx(16 / 2000), 16)

    def test_a_large_sender_is_judged_in_little_memory(self, con: duckdb.DuckDBPyConnection) -> None:
        """A month of a large sender's mail (700,000 e-mail events) is judged, and its dashboard
        table counted, within 120MB, as with memory to spare. The messages and customers were
        counted with seven count(distinct ...) at once, each keeping a table of its own in memory,
        which ran out of it here."""
        con.execute(
            """
            insert into main.events (event_id, customer_id, channel, event_name, event_ts, event_date, campaign_id, message_id)
            select 'e' || i || name, 'c' || i, 'email', name, ts, cast(ts as date), 'campaign-' || (i % 12), 'm' || i
            from range(400000) t(i),
                -- the k-th message of each of 12 campaigns alike
                lateral (select i // 12 as k, timestamp '2026-10-10 08:00' + to_minutes(i % 30000) as ts),
                lateral (select unnest(case
                    when k % 50 = 0 then ['bounce']
                    when k % 500 = 1 then ['delivered', 'spamreport']
                    when k % 50 = 3 then ['delivered', 'unsubscribe', 'open']
                    when k % 2 = 0 then ['delivered', 'open', 'click']
                    else ['delivered'] end) as name)
            """
        ).fetchall()
        ((n,),) = con.execute("select count(*) from main.events").fetchall()
        assert n > 700_000
        con.execute("set memory_limit = '120MB'").fetchall()
        con.execute("set threads = 2").fetchall()
        found, section = run(con), email_health(con, AS_OF)
        con.execute("reset memory_limit").fetchall()
        # the same as with memory to spare
        assert sorted(found, key=repr) == sorted(run(con), key=repr) and section == email_health(con, AS_OF)
        # 8,004 unsubscribes of 391,996 messages delivered (2%, over 1%) in every campaign alike;
        # bounces (2%) and complaints (0.2%) under their thresholds
        assert [(f.kind, f.segment_value, f.affected_customers) for f in found] == [("email_unsubscribes", "all", 8004)]
        assert "(8,004 of 391,996 messages)" in found[0].description, found[0].description
        assert all(f"campaign-{n}<" in section.table_html for n in range(12))
        assert "campaign-0" in section.table_html


# --- social ------------------------------------------------------------------------------------


class TestSocialReplies:
    """Slow and missing brand replies per platform, with at least min_messages threads."""

    def test_slow_replies_just_over(self, con: duckdb.DuckDBPyConnection) -> None:
        threads(con, "x", 20, 20, reply_hours=25)
        found = run(con)
        assert [(f.kind, f.segment_key, f.segment_value) for f in found] == [("social_slow_replies", "platform", "x")]
        f = found[0]
        assert (f.observed, f.baseline, f.affected_customers) == (pytest.approx(25.0), 24.0, 20)
        assert f.severity == pytest.approx(round(20 * (25 / 24 - 1), 1))
        assert "On x" in f.description
        # all 20 answers over the limit: the sign test's p, the same for both windows
        assert (f.p_value, f.evidence["answered_over_limit"]) == (pytest.approx(0.5**20), 20)

    def test_a_median_over_the_limit_on_few_messages_must_be_significant(
        self, con: duckdb.DuckDBPyConnection
    ) -> None:
        """22 answers, 12 of them over the limit: a median of 30 h, but a platform answering in
        a median 18 h shows as much now and then (its 20-odd messages were flagged at 24 h).
        More than half of the answers over the limit is what a slow platform is, so it is
        flagged when a one-sided sign test says so: 12 of 22 is not (p 0.42), 17 of 22 is."""
        threads(con, "x", 10, 10, reply_hours=2, prefix="fast")
        threads(con, "x", 12, 12, reply_hours=30, prefix="slow")
        assert run(con) == []
        con.execute("delete from main.events").fetchall()
        threads(con, "x", 5, 5, reply_hours=2, prefix="fast")
        threads(con, "x", 17, 17, reply_hours=30, prefix="slow")
        (f,) = run(con)
        assert (f.kind, f.observed, f.evidence["answered"], f.evidence["answered_over_limit"]) == (
            "social_slow_replies", pytest.approx(30.0), 22, 17)
        assert f.p_value == pytest.approx(ref_binomial_tail(17, 22, 0.5))
        assert f.p_value < 0.05
        (p_value,) = con.execute("select p_value from main.pain_points").fetchall()[0]
        assert p_value == pytest.approx(f.p_value)

    def test_slow_replies_count_customers_not_messages(self, con: duckdb.DuckDBPyConnection) -> None:
        """Twenty threads of five customers (four each) answered late: five customers affected."""
        add(con, 20, "s-x-c{i}", "message", datetime(2026, 10, 27, 10), channel="social", platform="x",
            thread_id="x-t{i}")
        con.execute("update main.events set customer_id = 'cust-' || (cast(regexp_extract(customer_id, '[0-9]+$') as int) % 5)").fetchall()
        add(con, 20, "brand", "brand_reply", datetime(2026, 10, 28, 11), channel="social", platform="x", thread_id="x-t{i}")
        found = of(run(con), "social_slow_replies")
        assert [(f.observed, f.affected_customers, f.evidence["answered"]) for f in found] == [(pytest.approx(25.0), 5, 20)]

    def test_slow_replies_not_hidden_by_replies_still_to_come(self, con: duckdb.DuckDBPyConnection) -> None:
        """Every day of the week thirty messages: twelve answered in 2 hours, eighteen in 70 hours
        (a true median of 70 h). The 70-hour replies to the last three days' messages have not come
        by the end of the run date, while their 2-hour ones have: over every reply so far the median
        was 2 h (84 fast against 72 slow) and the platform was never flagged. Over the messages that
        had their 72 hours, it is 70 h (48 fast, 72 slow)."""
        for day in range(25, 32):
            at = datetime(2026, 10, day, 10, 0)
            threads(con, "x", 12, 12, reply_hours=2, at=at, prefix=f"fast{day}-")
            threads(con, "x", 18, 18, reply_hours=70, at=at, prefix=f"slow{day}-")
        found = of(run(con), "social_slow_replies")
        assert [(f.segment_value, f.observed) for f in found] == [("x", pytest.approx(70.0))]
        assert of(run(con), "social_unanswered") == []

    def test_a_week_of_judged_messages_not_its_first_days(self, con: duckdb.DuckDBPyConnection) -> None:
        """Three messages a day, half never answered. Of the last 7 days only the first four had
        their 72 hours, so 12 messages were judged and min_messages (20) was never reached: the
        platform was never flagged. The findings judge the 7 days that end 72 hours before the
        run date's end: 21 messages, 11 unanswered."""
        for day in range(22, 32):
            at = datetime(2026, 10, day, 10, 0)
            threads(con, "x", 3, 1 + day % 2, reply_hours=1, at=at, prefix=f"d{day}-")
        found = of(run(con), "social_unanswered")
        assert [(f.segment_value, f.evidence["messages"], f.evidence["unanswered"]) for f in found] == [("x", 21, 11)]
        assert "of the 7 days before the last 72 hours got no brand reply" in found[0].description

    def test_a_platform_that_stopped_answering_is_seen_without_waiting_a_week(
        self, con: duckdb.DuckDBPyConnection
    ) -> None:
        """Ten messages a day, answered in an hour until three days before the judged ones end,
        then in 40 hours. Over the whole judged week the quick days hide it (median 1 h); over the
        last 7 days' judged messages it is 40 h: either window flags the platform."""
        for day in range(22, 29):
            threads(con, "x", 10, 10, reply_hours=1 if day < 26 else 40, at=datetime(2026, 10, day, 10, 0),
                    prefix=f"d{day}-")
        found = of(run(con), "social_slow_replies")
        assert [(f.observed, f.evidence["messages"], f.evidence["window"]) for f in found] == [
            (pytest.approx(40.0), 40, "recent")]
        assert "over the messages of the last 7 days (messages at least 72 hours old)" in found[0].description

    def test_replies_under_limit_not_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        threads(con, "x", 20, 20, reply_hours=23)
        assert run(con) == []

    def test_min_messages_respected(self, con: duckdb.DuckDBPyConnection) -> None:
        threads(con, "x", 19, 0, reply_hours=1)  # nobody answered, but only 19 threads
        threads(con, "y", 19, 19, reply_hours=48, at=datetime(2026, 10, 27, 10))
        assert run(con) == []

    def test_unanswered_just_over_on_few_messages_is_not_enough(self, con: duckdb.DuckDBPyConnection) -> None:
        """4 of 20 unanswered is 20%, over the 15% threshold, but a platform leaving 15% unanswered
        shows as much one time in three (binomial p 0.35): not flagged."""
        threads(con, "x", 20, 16, reply_hours=1)
        assert run(con) == []

    def test_unanswered_significantly_over(self, con: duckdb.DuckDBPyConnection) -> None:
        threads(con, "x", 20, 12, reply_hours=1)  # 8/20 = 40%, p 0.006 against 15%
        found = run(con)
        assert [(f.kind, f.segment_value) for f in found] == [("social_unanswered", "x")]
        assert (found[0].observed, found[0].affected_customers) == (pytest.approx(0.4), 8)
        assert found[0].p_value == pytest.approx(ref_binomial_tail(8, 20, 0.15))

    def test_unanswered_at_threshold_not_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        threads(con, "x", 20, 17, reply_hours=1)  # 3/20 = 15%, not over
        assert run(con) == []

    def test_reply_after_run_date_does_not_count(self, con: duckdb.DuckDBPyConnection) -> None:
        threads(con, "x", 20, 20, reply_hours=120, at=datetime(2026, 10, 27, 10))  # answered on 11-01
        assert [(f.kind, f.observed) for f in run(con)] == [("social_unanswered", pytest.approx(1.0))]

    def test_message_too_young_to_be_answered_is_waiting_not_unanswered(self, con: duckdb.DuckDBPyConnection) -> None:
        """A platform that answers in two days has, at any run, two days of messages without an
        answer yet: they are not unanswered (and its slow replies are a finding of their own)."""
        threads(con, "x", 20, 20, reply_hours=48, at=datetime(2026, 10, 25, 10))  # answered on the 27th
        threads(con, "x", 20, 0, reply_hours=48, at=datetime(2026, 10, 29, 0, 1), prefix="young")  # 71:59 h old
        assert [(f.kind, f.observed) for f in run(con)] == [("social_slow_replies", pytest.approx(48.0))]
        threads(con, "x", 20, 0, reply_hours=48, at=datetime(2026, 10, 29, 0, 0), prefix="due")  # 72 h old: judged
        found = of(run(con), "social_unanswered")
        assert [(f.observed, f.affected_customers, f.evidence["messages"]) for f in found] == [
            (pytest.approx(0.5), 20, 40)]

    def test_platforms_apart(self, con: duckdb.DuckDBPyConnection) -> None:
        threads(con, "x", 20, 20, reply_hours=1)
        threads(con, "y", 20, 10, reply_hours=1)
        assert [(f.kind, f.segment_value) for f in run(con)] == [("social_unanswered", "y")]

    def test_thread_answered_before_and_again_is_answered(self, con: duckdb.DuckDBPyConnection) -> None:
        threads(con, "x", 20, 20, reply_hours=1, at=datetime(2026, 10, 15, 10))  # older exchange, outside the window
        threads(con, "x", 20, 20, reply_hours=1)  # same threads, asked and answered again on the 29th
        assert run(con) == []


    def test_a_follow_up_after_a_reply_asks_anew(self, con: duckdb.DuckDBPyConnection) -> None:
        """Each first message answered within the hour, each (unhappy) follow-up two days later
        never: half the asks are unanswered (judging only a thread's first message found none)."""
        threads(con, "facebook", 25, 25, reply_hours=0.5, at=datetime(2026, 10, 25, 10))
        add(con, 25, "s-facebook-t{i}", "message", datetime(2026, 10, 27, 10), channel="social",
            platform="facebook", thread_id="facebook-t{i}", sentiment=-0.5)
        found = of(run(con), "social_unanswered")
        assert [(f.observed, f.affected_customers, f.evidence["messages"]) for f in found] == [
            (pytest.approx(0.5), 25, 50)]

    def test_a_thank_you_after_the_reply_is_no_ask(self, con: duckdb.DuckDBPyConnection) -> None:
        """Thirty threads answered within the hour, each closed by the customer an hour later
        ("thanks!": positive, neutral or no sentiment) that the brand does not answer: the
        closing remarks are neither answered nor unanswered. Counted as asks, they made half the
        asks unanswered (every platform of six well-kept stores was flagged, 21-39%)."""
        threads(con, "x", 30, 30, reply_hours=1, at=datetime(2026, 10, 25, 10))
        thanks = datetime(2026, 10, 25, 12)
        add(con, 10, "s-x-t{i}", "message", thanks, channel="social", platform="x", thread_id="x-t{i}", sentiment=0.8)
        add(con, 10, "s-x-t{i}", "message", thanks, start=10, channel="social", platform="x", thread_id="x-t{i}",
            sentiment=0.0)
        add(con, 10, "s-x-t{i}", "message", thanks, start=20, channel="social", platform="x", thread_id="x-t{i}")
        assert run(con) == []
        rows = con.execute(
            f"with {answered_messages(7, 72)} select count(*), count(replied_at), "
            "median(epoch(replied_at) - epoch(asked_at)) from answered",
            [AS_OF] * 4,
        ).fetchall()
        assert rows == [(30, 30, 3600.0)]
        # a thread's first message is an ask whatever its sentiment: unanswered, it counts
        add(con, 30, "s-x-new{i}", "message", datetime(2026, 10, 26, 10), channel="social", platform="x",
            thread_id="x-new{i}", sentiment=0.8)
        found = of(run(con), "social_unanswered")
        assert [(f.observed, f.evidence["messages"]) for f in found] == [(pytest.approx(0.5), 60)]

    def test_a_follow_up_the_brand_answers_is_an_ask(self, con: duckdb.DuckDBPyConnection) -> None:
        """A happy follow-up ("thanks, and one more thing") that the brand answers is an ask,
        timed from the follow-up to its reply."""
        threads(con, "x", 20, 20, reply_hours=1, at=datetime(2026, 10, 25, 10))
        add(con, 20, "s-x-t{i}", "message", datetime(2026, 10, 25, 12), channel="social", platform="x",
            thread_id="x-t{i}", sentiment=0.6)
        add(con, 20, "brand", "brand_reply", datetime(2026, 10, 25, 15), channel="social", platform="x",
            thread_id="x-t{i}")
        rows = con.execute(
            f"with {answered_messages(7, 72)} select count(*), count(replied_at), "
            "list_sort(list(distinct epoch(replied_at) - epoch(asked_at))) from answered",
            [AS_OF] * 4,
        ).fetchall()
        assert rows == [(40, 40, [3600.0, 10800.0])]

    def test_a_thread_open_for_months(self, con: duckdb.DuckDBPyConnection) -> None:
        """One conversation per customer, never answered since a message in August: the customer
        who writes again this week is waiting this week."""
        add(con, 20, "s-x-t{i}", "message", datetime(2026, 8, 10, 10), channel="social", platform="x", thread_id="x-t{i}")
        add(con, 20, "s-x-t{i}", "message", datetime(2026, 10, 27, 10), channel="social", platform="x", thread_id="x-t{i}")
        found = of(run(con), "social_unanswered")
        assert [(f.observed, f.evidence["messages"]) for f in found] == [(1.0, 20)]

    def test_lines_sent_in_a_row_ask_once(self, con: duckdb.DuckDBPyConnection) -> None:
        """Three messages in a row and one reply an hour after the first: one ask, answered in an hour."""
        for minute in (0, 1, 2):
            add(con, 20, "s-x-t{i}", "message", datetime(2026, 10, 27, 10, minute), channel="social",
                platform="x", thread_id="x-t{i}")
        add(con, 20, "brand", "brand_reply", datetime(2026, 10, 27, 11), channel="social", platform="x",
            thread_id="x-t{i}")
        assert run(con) == []
        rows = con.execute(
            f"with {answered_messages(7, 72)} select count(*), median(epoch(replied_at) - epoch(asked_at)) from answered",
            [AS_OF] * 4,
        ).fetchall()
        assert rows == [(20, 3600.0)]

    def test_messages_without_a_thread_are_asks_no_reply_answers(self, con: duckdb.DuckDBPyConnection) -> None:
        """thread_id ties a reply to a message: messages without one (and no reply on the platform
        at all) are unanswered, not left out."""
        add(con, 30, "s-youtube-{i}", "message", datetime(2026, 10, 27, 10), channel="social", platform="youtube")
        found = of(run(con), "social_unanswered")
        assert [(f.segment_value, f.observed, f.evidence["messages"], f.evidence["without_thread_id"])
                for f in found] == [("youtube", 1.0, 30, 30)]
        assert "no thread_id" in found[0].description


class TestSocialSentiment:
    """A rise of the negative share in the recent days against the baseline is flagged; stable sentiment is not."""

    def test_rise_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        posts(con, "x", 100, 10, BASELINE, "b")
        posts(con, "x", 100, 40, RECENT, "r")
        found = run(con)
        assert [(f.kind, f.segment_key, f.segment_value) for f in found] == [("social_negative_sentiment", "platform", "x")]
        f = found[0]
        assert (f.observed, f.baseline, f.affected_customers) == (pytest.approx(0.4), pytest.approx(0.1), 40)
        assert f.p_value == pytest.approx(ref_midp(60, 100, 90, 100))
        assert f.p_value <= 0.05

    def test_stable_not_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        posts(con, "x", 100, 10, BASELINE, "b")
        posts(con, "x", 100, 12, RECENT, "r")
        assert run(con) == []

    def test_at_threshold_is_not_negative(self, con: duckdb.DuckDBPyConnection) -> None:
        posts(con, "x", 100, 10, BASELINE, "b")
        add(con, 100, "r{i}", "post", RECENT, channel="social", platform="x", sentiment=-0.3)  # not below -0.3
        assert run(con) == []

    def test_min_sample_respected(self, con: duckdb.DuckDBPyConnection) -> None:
        posts(con, "x", 100, 0, BASELINE, "b")
        posts(con, "x", 29, 29, RECENT, "r")
        assert run(con) == []

    def test_the_brands_own_replies_are_not_customer_sentiment(self, con: duckdb.DuckDBPyConnection) -> None:
        """A social tool that scores every row scores the brand's apologies too ("sorry to hear
        that"): 60 negative brand replies made a rise in the customers' negative share."""
        posts(con, "x", 100, 10, BASELINE, "b")
        posts(con, "x", 100, 10, RECENT, "r")
        add(con, 60, "brand", "brand_reply", RECENT, channel="social", platform="x", sentiment=-0.8, thread_id="t{i}")
        assert of(run(con), "social_negative_sentiment") == []

    def test_only_the_worse_platform(self, con: duckdb.DuckDBPyConnection) -> None:
        for platform in ("x", "y"):
            posts(con, platform, 100, 10, BASELINE, f"{platform}b")
        posts(con, "x", 100, 10, RECENT, "xr")
        posts(con, "y", 100, 50, RECENT, "yr")
        assert [f.segment_value for f in run(con)] == ["y"]


# --- stuck in consideration --------------------------------------------------------------------


def stages(con: duckdb.DuckDBPyConnection, prefix: str, n: int, stage: str = "consideration", as_of: date = AS_OF,
           start: int = 0) -> None:
    """customer_stages rows for prefix || i, i in [start, start+n), built by hand."""
    con.execute("create table if not exists main.customer_stages (customer_id varchar, as_of_date date, stage varchar)").fetchall()
    con.execute("insert into main.customer_stages select ? || i, ?, ? from range(?, ?) t(i)",
                [prefix, as_of, stage, start, start + n]).fetchall()


class TestStuckInPurchase:
    """First-time buyers who did not order again within purchase_days (60): flagged when the latest
    cohort whose days are over (first order 60-87 days before the run date) came back
    significantly less than the first-time buyers of the 84 days before it (a two-proportion test),
    with at least min_customers not back and a whole baseline cohort in the history."""

    # the run date is 2026-10-31: the cohort first ordered 2026-08-05 .. 09-01, the baseline
    # 2026-05-13 .. 08-04 (from 60 days after the history begins); a first order counts when the
    # history holds the 60 days before it, so the history must begin by 2026-05-09 (a whole
    # baseline cohort from 2026-07-08)
    COHORT = datetime(2026, 8, 15, 10)
    BASELINE = datetime(2026, 6, 15, 10)

    @pytest.fixture(autouse=True)
    def history(self, con: duckdb.DuckDBPyConnection) -> None:
        """The history begins on 2026-03-01 (a visit), unless a test says otherwise."""
        add(con, 1, "first-visit", "page_view", datetime(2026, 3, 1, 9))

    @staticmethod
    def buyers(con: duckdb.DuckDBPyConnection, prefix: str, n: int, first_at: datetime, back: int = 0,
               after_days: float = 20) -> None:
        """n first-time buyers prefix || i; the first `back` of them order again after_days later.
        The customers and customer_stages rows are those the pipeline writes (one-time buyers in
        purchase, the others in retention), as the rule before read them."""
        add(con, n, prefix + "{i}", "purchase", first_at, order_id=prefix + "-1-{i}", value=10.0, currency="EUR")
        add(con, back, prefix + "{i}", "purchase", first_at + timedelta(days=after_days), order_id=prefix + "-2-{i}",
            value=10.0, currency="EUR")
        con.execute("create table if not exists main.customers (customer_id varchar, last_order_at timestamp)").fetchall()
        con.execute("insert into main.customers select ? || i, ? + case when i < ? then to_days(?) else interval 0 day end "
                    "from range(?) t(i)", [prefix, first_at, back, int(after_days), n]).fetchall()
        stages(con, prefix, back, stage="retention")
        stages(con, prefix, n - back, stage="purchase", start=back)

    def test_a_healthy_store_with_a_steady_repeat_rate_is_not_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        """83-94% of first-time buyers never order again: counted, they flagged every store with
        60 days of history, at the top of its list (189-202 one-time buyers on a healthy
        2,000-customer store)."""
        self.buyers(con, "early", 300, self.BASELINE, back=45)  # 15% came back
        self.buyers(con, "cohort", 200, self.COHORT, back=30)  # 15% too
        self.buyers(con, "recent", 100, datetime(2026, 10, 1, 10))  # their 60 days are not over
        assert run(con) == []

    def test_a_falling_repeat_rate_is_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        self.buyers(con, "early", 300, self.BASELINE, back=45)  # 15% came back
        self.buyers(con, "cohort", 200, self.COHORT, back=10)  # 5%
        self.buyers(con, "recent", 100, datetime(2026, 10, 1, 10))
        (found,) = run(con)
        assert (found.kind, found.observed, found.baseline, found.affected_customers, found.severity) == (
            "stuck_in_purchase", pytest.approx(0.95), pytest.approx(0.85), 190, 20.0)
        assert found.p_value == pytest.approx(ref_midp(10, 200, 45, 300))
        assert found.description.startswith(
            "95% of the 200 customers whose first order was between 2026-08-05 and 2026-09-01 did not order again "
            "within 60 days, against 85% of those whose first order was in the 84 days before: 190 did not come back, "
            "about 20 more than usual.")
        assert (found.evidence["n_cell"], found.evidence["x_cell"], found.evidence["n_ref"], found.evidence["x_ref"]) == (
            200, 10, 300, 45)

    def test_a_small_fall_is_not_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        """Significant, but under [tests] min_effect (5 points)."""
        self.buyers(con, "early", 3000, self.BASELINE, back=450)  # 15%
        self.buyers(con, "cohort", 2000, self.COHORT, back=220)  # 11%
        assert run(con) == []

    def test_the_cohort_is_those_whose_days_are_over(self, con: duckdb.DuckDBPyConnection) -> None:
        self.buyers(con, "early", 300, self.BASELINE, back=45)
        self.buyers(con, "last", 40, datetime(2026, 9, 1, 23, 59))  # 60 days before the end of 10-31 and a minute
        self.buyers(con, "new", 100, datetime(2026, 9, 2, 0, 0))  # exactly 60 days: not yet
        self.buyers(con, "old", 100, datetime(2026, 5, 12, 10))  # before the baseline
        (found,) = run(con)
        assert (found.evidence["n_cell"], found.evidence["x_cell"], found.evidence["n_ref"]) == (40, 0, 300)

    def test_a_second_order_counts_within_the_days(self, con: duckdb.DuckDBPyConnection) -> None:
        self.buyers(con, "early", 300, self.BASELINE, back=150)  # half came back
        self.buyers(con, "in", 6, self.COHORT, back=6, after_days=60)  # exactly 60 days later: back
        self.buyers(con, "late", 34, self.COHORT, back=34, after_days=60.01)  # a quarter of an hour late
        (found,) = run(con)
        assert (found.evidence["n_cell"], found.evidence["x_cell"], found.affected_customers) == (40, 6, 34)

    def test_an_order_sent_twice_is_one_order(self, con: duckdb.DuckDBPyConnection) -> None:
        """The tag and the store's export send one order twice: not a second order."""
        self.buyers(con, "early", 300, self.BASELINE, back=45)
        self.buyers(con, "cohort", 200, self.COHORT, back=10)
        add(con, 100, "cohort{i}", "purchase", self.COHORT + timedelta(minutes=5), start=100, order_id="cohort-1-{i}",
            value=10.0, currency="EUR")
        assert [f.evidence["x_cell"] for f in run(con)] == [10]

    def test_a_cancellation_landed_as_a_purchase_is_no_order(self, con: duckdb.DuckDBPyConnection) -> None:
        """Online Retail's cancellations are invoices of their own (C536379) of negative value:
        landed as purchases, they are no second order, so the buyers who cancelled did not come
        back; an order with a discount line (a negative row among its lines) is one."""
        self.buyers(con, "early", 300, self.BASELINE, back=45)
        self.buyers(con, "cohort", 200, self.COHORT, back=10)
        add(con, 100, "cohort{i}", "purchase", self.COHORT + timedelta(days=3), start=100, order_id="C-{i}", value=-12.75,
            currency="EUR")
        add(con, 4, "cohort{i}", "purchase", self.COHORT + timedelta(days=5), start=196, order_id="D-{i}", value=20.0,
            currency="EUR")
        add(con, 4, "cohort{i}", "purchase", self.COHORT + timedelta(days=5), start=196, order_id="D-{i}", value=-2.0,
            currency="EUR")
        assert [f.evidence["x_cell"] for f in run(con)] == [14]

    def test_no_finding_without_a_whole_baseline_cohort(self, con: duckdb.DuckDBPyConnection) -> None:
        """A history that begins after 2026-05-09 has no whole 28-day cohort, with the 60 days
        before each first order, before the latest one."""
        con.execute("delete from main.events").fetchall()
        self.buyers(con, "early", 300, datetime(2026, 7, 20, 10), back=45)
        self.buyers(con, "cohort", 200, self.COHORT, back=10)
        add(con, 1, "first-visit", "page_view", datetime(2026, 5, 10, 12))
        assert run(con) == []
        add(con, 1, "first-visit", "page_view", datetime(2026, 5, 9, 12))
        assert [f.kind for f in run(con)] == ["stuck_in_purchase"]

    def test_a_first_order_counts_when_the_history_holds_the_days_before_it(
        self, con: duckdb.DuckDBPyConnection
    ) -> None:
        """Customers who ordered every month before the history began have their first order of
        the history in its first weeks, and come back: taken for first-time buyers, they made
        the earlier cohorts of a healthy store come back more (a generated 2,000-customer store
        of 180 days with such regulars was flagged every night, 87% of its latest cohort not back
        against 60%). Counted only with the history's 60 days before them, they are not."""
        con.execute("delete from main.events").fetchall()
        add(con, 1, "first-visit", "page_view", datetime(2026, 5, 1, 9))  # the history begins
        self.buyers(con, "regular", 200, datetime(2026, 5, 20, 10), back=200, after_days=30)
        self.buyers(con, "early", 300, datetime(2026, 7, 10, 10), back=45)  # 15% came back
        self.buyers(con, "cohort", 200, self.COHORT, back=30)  # 15% too
        assert run(con) == []

    def test_too_few_on_either_side_not_tested(self, con: duckdb.DuckDBPyConnection) -> None:
        self.buyers(con, "early", 29, self.BASELINE, back=15)  # [tests] min_sample is 30
        self.buyers(con, "cohort", 200, self.COHORT)
        assert run(con) == []
        self.buyers(con, "more-", 1, self.BASELINE, back=1)
        assert [f.kind for f in run(con)] == ["stuck_in_purchase"]

    def test_buyers_never_identified_are_said_apart(self, con: duckdb.DuckDBPyConnection) -> None:
        """Guest checkouts known by a device alone count (a guest who comes back on another device
        is not known to have), but the finding says how many cannot be written to, so the
        win-back count is not read as a mailing list."""
        self.buyers(con, "early", 300, self.BASELINE, back=45)
        self.buyers(con, "u", 160, self.COHORT, back=10)
        self.buyers(con, "anon:guest-", 40, self.COHORT)
        (found,) = run(con)
        assert (found.affected_customers, found.evidence["never_identified"]) == (190, 40)
        assert "40 of them were never identified" in found.description
        con.execute("delete from main.events where starts_with(customer_id, 'anon:')").fetchall()
        self.buyers(con, "v", 40, self.COHORT)
        (found,) = run(con)
        assert "never identified" not in found.description

    def test_days_from_config(self, con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
        self.buyers(con, "early", 300, datetime(2026, 9, 10, 10), back=90, after_days=5)  # 30% back within 7 days
        self.buyers(con, "cohort", 100, datetime(2026, 10, 15, 10), back=5, after_days=5)  # 5%
        assert run(con) == []  # with 60 days, the cohort's days are not over
        changed = config_with(tmp_path, stuck={"purchase_days": 7, "purchase_cohort_days": 14, "purchase_baseline_days": 42})
        (found,) = run(con, config=changed)
        assert (found.observed, found.baseline) == (pytest.approx(0.95), pytest.approx(0.7))
        assert "between 2026-10-11 and 2026-10-24 did not order again within 7 days" in found.description


class TestStuckInConsideration:
    """Customers in consideration for longer than consideration_days who still show intent (in the
    last recent_intent_days), at least min_customers of them and more than consideration_threshold
    of the customers in consideration with recent intent, significantly (a binomial test)."""

    def test_flagged_at_min_customers(self, con: duckdb.DuckDBPyConnection) -> None:
        add(con, 10, "old{i}", "view_item", datetime(2026, 10, 1, 9))
        add(con, 10, "old{i}", "view_item", RECENT)
        stages(con, "old", 10)
        found = run(con)
        assert [(f.kind, f.affected_customers, f.observed, f.baseline, f.severity) for f in found] == [
            ("stuck_in_consideration", 10, 10.0, 21.0, 5.0)]
        assert found[0].description.startswith(
            "10 customers have been considering for more than 21 days and still show intent (in the last 7 days): "
            "100% of the 10 customers in consideration with intent in those days (threshold 50%).")

    def test_under_min_customers_not_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        add(con, 9, "old{i}", "view_item", datetime(2026, 10, 1, 9))
        add(con, 9, "old{i}", "view_item", RECENT)
        stages(con, "old", 9)
        assert run(con) == []

    def test_only_long_enough_and_today_counted(self, con: duckdb.DuckDBPyConnection) -> None:
        add(con, 9, "old{i}", "view_item", datetime(2026, 10, 10, 23))  # exactly 21 days: counted
        add(con, 2, "new{i}", "view_item", datetime(2026, 10, 11, 0))  # 20 days: not yet
        add(con, 20, "buy{i}", "view_item", datetime(2026, 9, 1, 0))
        for prefix, n in (("old", 9), ("new", 2), ("buy", 20)):
            add(con, n, prefix + "{i}", "view_item", RECENT)
        stages(con, "old", 9)
        stages(con, "new", 2)
        stages(con, "buy", 20, stage="purchase")
        stages(con, "new", 20, as_of=date(2026, 10, 1))  # another day's rows are ignored
        assert run(con) == []
        add(con, 1, "old{i}", "view_item", datetime(2026, 10, 10, 0), start=9)
        add(con, 1, "old{i}", "view_item", RECENT, start=9)
        stages(con, "old", 1, start=9)
        assert [(f.affected_customers, f.evidence["considering_recently"]) for f in run(con)] == [(10, 12)]

    def test_a_healthy_store_whose_past_considerers_left_is_not_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        """The stage holds a customer for 90 days after their last intent, so those who looked once
        weeks ago and left are still in consideration: counted as stuck, every store was flagged
        every night (732 of a healthy 2,000-customer store's customers, 329 of them seen on one day)."""
        add(con, 300, "left{i}", "view_item", datetime(2026, 10, 1, 9))  # considered once, a month ago
        add(con, 100, "new{i}", "view_item", RECENT)  # considering for a few days
        add(con, 30, "slow{i}", "view_item", datetime(2026, 10, 5, 9))  # come back for weeks, as some do
        add(con, 30, "slow{i}", "view_item", RECENT)
        for prefix, n in (("left", 300), ("new", 100), ("slow", 30)):
            stages(con, prefix, n)
        assert run(con) == []

    def test_a_store_whose_visitors_keep_browsing_for_weeks_is_flagged(self, con: duckdb.DuckDBPyConnection) -> None:
        add(con, 300, "left{i}", "view_item", datetime(2026, 10, 1, 9))
        add(con, 40, "new{i}", "view_item", RECENT)
        for day in range(20, 60, 4):  # every four days since September 20th, never buying
            add(con, 60, "stuck{i}", "view_item", datetime(2026, 9, 1, 10) + timedelta(days=day))
        for prefix, n in (("left", 300), ("new", 40), ("stuck", 60)):
            stages(con, prefix, n)
        (found,) = run(con)
        assert (found.kind, found.affected_customers, found.severity) == ("stuck_in_consideration", 60, 10.0)
        assert (found.evidence["considering_recently"], found.evidence["recent_intent_days"]) == (100, 7)
        assert "60% of the 100 customers in consideration with intent in those days" in found.description

    def test_flagged_only_significantly_over_the_threshold(self, con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
        """A store of 2,000 customers where nothing was wrong had 43-46% of its recent considerers
        stuck, some 140 of them: over a bare 50%, some nights would flag it."""
        add(con, 12, "old{i}", "view_item", datetime(2026, 10, 1, 9))
        add(con, 12, "old{i}", "view_item", RECENT)
        add(con, 8, "new{i}", "view_item", RECENT)
        stages(con, "old", 12)
        stages(con, "new", 8)
        assert run(con) == []  # 60% of 20: over 50%, but P(X >= 12) = 0.25
        (found,) = run(con, config=config_with(tmp_path, stuck={"consideration_threshold": 0.25}))
        assert (found.affected_customers, found.severity) == (12, 7.0)
        assert found.p_value == pytest.approx(ref_binomial_tail(12, 20, 0.25))

    def test_recent_intent_days_from_config(self, con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
        add(con, 10, "old{i}", "view_item", datetime(2026, 10, 1, 9))
        add(con, 10, "old{i}", "view_item", datetime(2026, 10, 20, 9))  # 12 days ago
        stages(con, "old", 10)
        assert run(con) == []
        found = run(con, config=config_with(tmp_path, stuck={"recent_intent_days": 12}))
        assert [f.affected_customers for f in found] == [10]

    def test_min_customers_from_config(self, con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
        add(con, 5, "old{i}", "view_item", datetime(2026, 9, 1, 9))
        add(con, 5, "old{i}", "view_item", RECENT)
        stages(con, "old", 5)
        assert run(con) == []
        found = run(con, config=config_with(tmp_path, stuck={"min_customers": 5}))
        assert [f.affected_customers for f in found] == [5]

    def test_no_customer_stages_no_finding(self, con: duckdb.DuckDBPyConnection) -> None:
        add(con, 50, "old{i}", "view_item", datetime(2026, 9, 1, 9))
        assert run(con) == []

    def test_stage_history_decides_when_consideration_began(self, con: duckdb.DuckDBPyConnection) -> None:
        add(con, 10, "c{i}", "view_item", datetime(2026, 9, 1, 9))  # first seen two months ago
        add(con, 10, "c{i}", "view_item", datetime(2026, 10, 30, 9))
        stages(con, "c", 10)
        con.execute("create table main.stage_history (customer_id varchar, as_of_date date, stage varchar)").fetchall()
        con.execute(
            """insert into main.stage_history
               select 'c' || i, d::date, case when d < date '2026-10-29' then 'awareness' else 'consideration' end
               from range(10) t(i), range(date '2026-10-01', date '2026-11-01', interval 1 day) s(d)"""
        ).fetchall()
        assert run(con) == []  # in consideration for 3 days only

    def test_history_of_one_day_does_not_hide_a_long_stay(self, con: duckdb.DuckDBPyConnection) -> None:
        """A fresh warehouse has one day of history: the stay is then counted from when intent
        began, so the finding does not depend on which days were run before."""
        add(con, 10, "c{i}", "view_item", datetime(2026, 9, 1, 9))  # intent since two months ago
        add(con, 2, "n{i}", "view_item", datetime(2026, 9, 1, 9))
        add(con, 10, "c{i}", "view_item", RECENT)
        add(con, 2, "n{i}", "view_item", RECENT)
        stages(con, "c", 10)
        stages(con, "n", 2)
        con.execute("create table main.stage_history (customer_id varchar, as_of_date date, stage varchar)").fetchall()
        con.execute(
            """insert into main.stage_history
               select 'c' || i, date '2026-10-31', 'consideration' from range(10) t(i)
               union all select 'n' || i, date '2026-10-20', 'awareness' from range(2) t(i)
               union all select 'n' || i, date '2026-10-31', 'consideration' from range(2) t(i)"""
        ).fetchall()
        assert [f.affected_customers for f in run(con)] == [10]  # c: since intent began; n: 11 days

    def test_stay_counts_from_intent_not_from_first_seen(self, con: duckdb.DuckDBPyConnection) -> None:
        """A contact who got newsletters (and opened them) for months and clicked five days ago has
        considered for five days, not for months."""
        add(con, 10, "c{i}", "delivered", datetime(2026, 8, 1, 9), channel="email")
        add(con, 10, "c{i}", "open", datetime(2026, 8, 2, 9), channel="email")
        add(con, 10, "c{i}", "page_view", datetime(2026, 8, 3, 9))
        add(con, 10, "c{i}", "click", datetime(2026, 10, 26, 9), channel="email")
        stages(con, "c", 10)
        assert run(con) == []
        add(con, 10, "c{i}", "add_to_cart", datetime(2026, 10, 10, 9))  # intent since the 10th: 21 days
        assert [f.affected_customers for f in run(con)] == [10]

    def test_stay_restarts_after_a_gap_in_intent(self, con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
        add(con, 10, "c{i}", "view_item", datetime(2026, 5, 1, 9))
        add(con, 10, "c{i}", "view_item", datetime(2026, 7, 30, 9))  # 90 days later: one stay
        add(con, 10, "c{i}", "view_item", datetime(2026, 10, 28, 9, 0, 1))  # 90 days and a second: a new one
        stages(con, "c", 10)
        assert run(con) == []
        assert [f.affected_customers for f in run(con, config=config_with(tmp_path, stuck={"intent_gap_days": 91}))] == [10]

    def test_events_after_the_run_date_do_not_count(self, con: duckdb.DuckDBPyConnection) -> None:
        add(con, 10, "c{i}", "view_item", datetime(2026, 8, 1, 9))
        add(con, 10, "c{i}", "view_item", RECENT)
        add(con, 10, "c{i}", "view_item", datetime(2027, 2, 1, 9))  # after the run date (and after a gap)
        add(con, 10, "gone{i}", "view_item", datetime(2026, 8, 1, 9))
        add(con, 10, "gone{i}", "view_item", datetime(2026, 11, 5, 9))  # not recent intent as of the run date
        stages(con, "c", 10)
        stages(con, "gone", 10)
        assert [(f.affected_customers, f.evidence["considering_recently"]) for f in run(con)] == [(10, 10)]


# --- the table ---------------------------------------------------------------------------------


def table(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    return con.execute(
        "select as_of_date, kind, segment_value, affected_customers from main.pain_points order by all"
    ).fetchall()


class TestConfigFile:
    """A config file's settings go over the bundled defaults: a file written for an earlier
    version, without the settings added since, keeps working."""

    def test_file_without_newer_settings(self, con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
        from journey_analytics.pain_points import load_config

        old = tmp_path / "old.toml"
        old.write_text("[social]\nmin_messages = 5\n[stuck]\nconsideration_days = 7\nmin_customers = 1\n")
        config = load_config(old)
        assert (config["social"]["min_messages"], config["social"]["unanswered_after_hours"]) == (5, 72)
        assert (config["stuck"]["consideration_days"], config["stuck"]["intent_gap_days"]) == (7, 90)
        assert config["email"] == load_config()["email"]
        threads(con, "x", 5, 0, reply_hours=1)
        add(con, 5, "c{i}", "view_item", datetime(2026, 10, 20, 9))
        add(con, 5, "c{i}", "view_item", RECENT)
        stages(con, "c", 5)
        assert sorted(f.kind for f in run(con, config=old)) == ["social_unanswered", "stuck_in_consideration"]


class TestPainPointsTable:
    """main.pain_points holds one row per finding, rewritten per run date, documented column by column."""

    def test_rows_match_findings(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "c", 30, 11, RECENT, frm="begin_checkout", to="purchase")
        emails(con, "A", 200, bounces=20)
        found = run(con)
        assert table(con) == sorted((AS_OF, f.kind, f.segment_value, f.affected_customers) for f in found)
        assert len(found) == 2
        evidence = con.execute(
            "select evidence from main.pain_points where kind = 'checkout_abandonment'").fetchall()[0][0]
        assert json.loads(evidence) == {"customers": 30, "abandoned": 19}

    def test_rerun_replaces_the_day_and_keeps_others(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "c", 30, 11, RECENT, frm="begin_checkout", to="purchase")
        day_before = AS_OF - timedelta(days=1)
        run(con, day_before)
        run(con)
        run(con)
        assert table(con) == [(day_before, "checkout_abandonment", "all", 19), (AS_OF, "checkout_abandonment", "all", 19)]
        # the data changes and the day is run again: only that day's rows change
        add(con, 11, "c{i}", "purchase", RECENT + timedelta(hours=2), start=11)
        assert run(con) == []
        assert table(con) == [(day_before, "checkout_abandonment", "all", 19)]

    def test_zero_findings_writes_no_rows(self, con: duckdb.DuckDBPyConnection) -> None:
        assert run(con) == []
        assert con.execute("select count(*) from main.pain_points").fetchall() == [(0,)]

    def test_every_column_has_a_comment(self, con: duckdb.DuckDBPyConnection) -> None:
        run(con)
        columns = con.execute(
            "select column_name, comment from duckdb_columns() where schema_name = 'main' and table_name = 'pain_points' "
            "order by column_index"
        ).fetchall()
        assert [c for c, _ in columns] == list(COLUMNS)
        assert all(comment and comment.strip() for _, comment in columns)
        table_comment = con.execute(
            "select comment from duckdb_tables() where schema_name = 'main' and table_name = 'pain_points'").fetchall()
        assert table_comment[0][0] and "finding" in table_comment[0][0]

    def test_descriptions_are_sentences_naming_the_segment(self, con: duckdb.DuckDBPyConnection) -> None:
        step(con, "d", 200, 100, RECENT, device_category="desktop")
        step(con, "m", 100, 10, RECENT, device_category="mobile")
        emails(con, "A", 1000, bounces=30)
        emails(con, "C", 200, bounces=20)
        threads(con, "insta", 20, 10, reply_hours=1)
        found = run(con)
        kinds = {f.kind for f in found}
        assert {"segment_drop", "email_bounce", "social_unanswered"} <= kinds
        rows = con.execute("select segment_key, segment_value, description from main.pain_points").fetchall()
        assert len(rows) == len(found)
        for key, value, description in rows:
            assert (description[0].isupper() or description[0].isdigit()) and description.rstrip().endswith("."), description
            assert len(description.split()) >= 5, description
            if value != "all":
                assert value in description, (key, value, description)
