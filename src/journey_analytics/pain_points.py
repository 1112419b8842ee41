"""Pain points: findings worth a person's attention, each with its evidence.

SQL counts the cells set-wise (per campaign, platform, segment, period); Python only runs
the statistics over those few cells (exact two-proportion tests with the false discovery rate
controlled by Benjamini-Hochberg) and writes ``main.pain_points``.

Severity is the number of customers affected beyond what the threshold or baseline would
predict ("customers lost"), so findings of different kinds sort on one scale.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
from scipy import stats

from journey_analytics.config import read_toml
from journey_analytics.funnels.config import Funnel, Step, load_funnel_config
from journey_analytics.funnels.engine import CAMPAIGN_COLUMNS, condition_sql, quote
from journey_analytics.warehouse import has_tables, run_script
from journey_analytics.wording import plural

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "config" / "pain_points.toml"
_PACKAGED_CONFIG = Path(__file__).parent / "config" / "pain_points.toml"

TABLE_COMMENT = (
    "Findings worth a person's attention on a run date, each with its evidence: funnel steps "
    "dropping significantly (against their own baseline or the other segments), checkout and cart "
    "abandonment, e-mail health, social care, customers stuck in consideration or after one order. One row per finding."
)
COLUMNS: dict[str, tuple[str, str]] = {
    "as_of_date": ("date", "Run date the finding is about."),
    "kind": ("varchar", "funnel_step_drop, segment_drop, checkout_abandonment, cart_abandonment, email_bounce, email_spam_complaints, email_unsubscribes, social_slow_replies, social_unanswered, social_negative_sentiment, stuck_in_consideration or stuck_in_purchase."),
    "funnel": ("varchar", "Funnel the finding is about, if any."),
    "step": ("varchar", "Funnel step the finding is about, if any: its label, as in funnel_steps.step (the event name unless the funnel config labels it; a label the funnel gives twice is numbered, as 'view_item (step 3)')."),
    "segment_key": ("varchar", "What the segment is (device_category, utm_source, campaign_id, platform, ...) or 'all'."),
    "segment_value": ("varchar", "The segment's value, or 'all'."),
    "metric": ("varchar", "What was measured, in words (e.g. 'bounce rate')."),
    "observed": ("double", "The measured value: a share 0-1 (for stuck_in_purchase the share of a cohort of first-time buyers who did not order again in time), hours (social_slow_replies), or customers (stuck_in_consideration)."),
    "baseline": ("double", "What it was compared with: the threshold, the previous weeks, or the other segments; for stuck_in_purchase the share of the earlier cohorts of first-time buyers; for stuck_in_consideration the days of the limit."),
    "p_value": ("double", "Benjamini-Hochberg adjusted p-value for tested findings; for social_slow_replies and social_unanswered the exact one-sided test's p-value of the platform, for a sender-wide e-mail finding (segment_value 'all' or 'all others') that of the rate over the threshold, for stuck_in_consideration that of the share of stuck customers over the threshold; null for threshold findings (abandonment)."),
    "severity": ("double", "People affected beyond the threshold or baseline (customers; for e-mail and social, messages or posts, about one a person); sort on it."),
    "affected_customers": ("bigint", "Customers in the cell the finding is about (for stuck_in_purchase the cohort's first-time buyers who did not order again in time)."),
    "description": ("varchar", "A sentence a person can act on."),
    "evidence": ("json", "The counts behind the finding."),
}


class PainPointConfigError(ValueError):
    """A pain point config that cannot be used."""


@dataclass
class Finding:
    """One pain point before it is written."""

    kind: str
    metric: str
    observed: float
    baseline: float
    affected_customers: int
    description: str
    funnel: str | None = None
    step: str | None = None
    segment_key: str = "all"
    segment_value: str = "all"
    p_value: float | None = None
    severity: float = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)


def load_config(path: Path | None = None) -> dict[str, Any]:
    """The thresholds: the defaults shipped with the project, with a TOML file's settings over
    them (a file written for an earlier version, without a newer setting, keeps working)."""
    default = _PACKAGED_CONFIG if _PACKAGED_CONFIG.is_file() else DEFAULT_CONFIG
    config = _read_config(default)
    if path is not None and Path(path) != default:
        given = _read_config(Path(path))
        _check_config(given, config, Path(path))
        for section, settings in given.items():
            config[section] = {**config[section], **settings}
    return config


def _check_config(given: dict[str, Any], defaults: dict[str, Any], path: Path) -> None:
    """Refuse a setting the defaults do not have (a typo would be silently ignored), of another
    type than its default, or out of its range (a share from 0 to 1, a window or limit above 0,
    days, hours and counts whole)."""
    for section, settings in given.items():
        if section not in defaults:
            raise PainPointConfigError(f"{path}: unknown section [{section}]; known: {', '.join(defaults)}")
        if not isinstance(settings, dict):
            raise PainPointConfigError(f"{path}: [{section}] must be a table of settings")
        for key, value in settings.items():
            where = f"{path}: [{section}] {key}"
            if key not in defaults[section]:
                raise PainPointConfigError(
                    f"{where} is not a setting; known: {', '.join(defaults[section])}"
                )
            default = defaults[section][key]
            if isinstance(default, list):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise PainPointConfigError(f"{where} must be a list of texts, got {value!r}")
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise PainPointConfigError(f"{where} must be a number, got {value!r}")
            counted = key.endswith(("_days", "_hours")) or (key.startswith("min_") and key != "min_effect")
            if counted and value != int(value):
                raise PainPointConfigError(f"{where} must be a whole number, got {value!r}")
            if key.endswith("_threshold") or key in ("false_discovery_rate", "min_effect"):
                low, high = 0.0, 1.0  # a share
            elif key == "negative_below":
                low, high = -1.0, 1.0  # a sentiment score
            elif key.startswith("min_"):
                low, high = 0.0, math.inf
            else:
                low, high = math.nextafter(0.0, 1.0), math.inf  # a window or a limit
            if not low <= value <= high:
                shown = "above 0" if low > 0 else f"from {low:g} to {high:g}" if high < math.inf else "0 or more"
                raise PainPointConfigError(f"{where} must be {shown}, got {value!r}")


def _read_config(path: Path) -> dict[str, Any]:
    try:
        return read_toml(Path(path), PainPointConfigError)
    except OSError as exc:
        raise PainPointConfigError(f"{path}: {exc}") from None


# A value from the logs (a campaign id, a platform) is named in a finding's sentence up to this
# many characters, so that a very long one cannot hide the figures after it.
SHOWN_VALUE_CHARS = 80


def _shown(value: object) -> str:
    text = str(value)
    return text if len(text) <= SHOWN_VALUE_CHARS else text[: SHOWN_VALUE_CHARS - 1] + "\u2026"


def _over(rate: float, threshold: float, places: int) -> tuple[str, str]:
    """A rate over its threshold and the threshold as percentages, with as many more decimals as
    it takes for the rate to read over it (up to 4): 5 unsubscribes in 498 messages read "1.00%
    over the threshold 1.00%", an excess no one could see; now "1.004% over the threshold 1.000%"."""
    while places < 4 and f"{rate:.{places}%}" == f"{threshold:.{places}%}":
        places += 1
    return f"{rate:.{places}%}", f"{threshold:.{places}%}"


def two_proportion_p(x1: int, n1: int, x2: int, n2: int) -> float:
    """One-sided p-value that proportion 1 is lower than proportion 2: Fisher's exact test with
    Lancaster's mid-p (the chance of fewer successes in group 1 than seen, given both groups' sizes
    and all their successes, plus half the chance of as many). The pooled z-test it replaces runs
    loose on the small cells the findings test (30 customers on a side): on 30 against 60
    customers converting 94% alike it called the first worse 6.5% of the time at a nominal 5%,
    5.8% on 30 against 30 at 10%; the mid-p 3.0% and 3.2%, at most 5.2% over the rates and sizes
    measured (docs/pain-points.md), with the z-test's power. Fisher's test without the mid-p
    never passes 5% but misses 2 to 5 points more of real drops. Zero variance (every customer
    converted, or none) is no evidence: 1."""
    if min(n1, n2) == 0:
        return 1.0
    total, successes = n1 + n2, x1 + x2
    if successes in (0, total):
        return 1.0
    below = stats.hypergeom.cdf(x1, total, successes, n1)
    return float(min(1.0, max(0.0, below - 0.5 * stats.hypergeom.pmf(x1, total, successes, n1))))


def exact_worse_p(bad1: int, n1: int, bad2: int, n2: int) -> float:
    """One-sided Fisher exact p-value that the share of bad events in group 1 is higher than in
    group 2. For e-mail health: spam reports and unsubscribes are a few per thousand, where the
    normal approximation (a pooled z-test) is far too ready to call a campaign worse (with
    sixteen campaigns at one true spam rate, a night had a false finding one time in four)."""
    # more bad events than messages (complaints in the window about mail delivered before it)
    # is a share over 1: counted as every message, not passed on as NaN
    bad1, bad2 = min(bad1, n1), min(bad2, n2)
    if min(n1, n2) == 0 or bad1 + bad2 == 0:
        return 1.0
    return float(stats.hypergeom.sf(bad1 - 1, n1 + n2, bad1 + bad2, n1))


def exceeds_share_p(over: int, n: int, share: float) -> float:
    """One-sided exact binomial p-value that more than ``share`` of all such events are over (a
    limit, a threshold), having seen ``over`` of ``n``: P(X >= over) for X ~ Binomial(n, share).
    With a share of 0.5 it is the sign test of a median over a limit."""
    if n == 0 or over <= 0:
        return 1.0
    return float(stats.binom.sf(over - 1, n, share))


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """Adjusted p-values controlling the false discovery rate."""
    if not p_values:
        return []
    return [float(p) for p in stats.false_discovery_control(p_values, method="bh")]


def dropped_by(before: float, after: float, min_effect: float) -> bool:
    """Whether a share fell from ``before`` to ``after`` by at least ``min_effect``, a drop of
    exactly min_effect included: as floats 0.5 - 0.45 is 0.04999999999999999."""
    return before - after >= min_effect - 1e-9


def _tested(
    cells: list[dict[str, Any]], config: dict[str, Any], make: Any
) -> list[Finding]:
    """Test cells (each with converted/entered for 'cell' and 'reference'), keep significant drops."""
    t = config["tests"]
    eligible = [c for c in cells if c["n_cell"] >= t["min_sample"] and c["n_ref"] >= t["min_sample"]]
    raw = [two_proportion_p(c["x_cell"], c["n_cell"], c["x_ref"], c["n_ref"]) for c in eligible]
    adjusted = benjamini_hochberg(raw)
    findings = []
    for cell, p in zip(eligible, adjusted, strict=True):
        rate, ref = cell["x_cell"] / cell["n_cell"], cell["x_ref"] / cell["n_ref"]
        if p <= t["false_discovery_rate"] and dropped_by(ref, rate, t["min_effect"]):
            finding = make(cell, rate, ref)
            finding.p_value = p
            finding.severity = round(cell["n_cell"] * (ref - rate), 1)
            finding.evidence = {k: v for k, v in cell.items() if not isinstance(v, date)}
            findings.append(finding)
    return findings


# The checkout steps judged when the funnel rules name no funnel `checkout`.
DEFAULT_CHECKOUT_EVENTS = ("view_item", "add_to_cart", "begin_checkout", "add_payment_info", "purchase")


def checkout_funnel(funnels_path: Path | None = None) -> Funnel:
    """The steps the funnel findings judge: those of the funnel named ``checkout`` in the run's
    funnel rules (the bundled ``config/funnels.toml`` by default), with their conditions and the
    funnel's channels, so that a store whose checkout has steps of its own names them once, for
    its funnels and its findings alike. Without such a funnel, the contract's checkout steps on
    the web. Only the steps are taken: the findings judge each step against the one before it
    within ``[abandonment] conversion_hours``, not the funnel's window or order."""
    for funnel in load_funnel_config(funnels_path).funnels:
        if funnel.name == "checkout":
            return funnel
    return Funnel(
        name="checkout", steps=tuple(Step(event=e, label=e) for e in DEFAULT_CHECKOUT_EVENTS),
        window_seconds=7 * 86400, channels=("web",),
    )


def step_names(funnel: Funnel) -> list[str]:
    """Each step's name in the findings: its label, numbered when an earlier step has it too
    (a funnel may pass one page twice)."""
    names: list[str] = []
    for k, step in enumerate(funnel.steps, start=1):
        names.append(f"{step.label} (step {k})" if step.label in names else step.label)
    return names


def step_sql(funnel: Funnel, k: int, sessions: str | None = None, alias: str = "e") -> str:
    """The SQL predicate that an event of main.events (alias ``alias``) is step ``k`` (from 1) of
    ``funnel`` as the findings judge it: the step's event and conditions, on the funnel's channels
    (campaign fields read from the session aliased ``sessions`` when the event has none)."""
    condition = condition_sql(funnel.steps[k - 1], sessions, alias)
    if not funnel.channels:
        return condition
    return f"({condition} and {alias}.channel in ({', '.join(quote(c) for c in funnel.channels)}))"


def funnel_step_findings(
    con: duckdb.DuckDBPyConnection, as_of: date, config: dict[str, Any], funnels_path: Path | None = None
) -> list[Finding]:
    """Checkout steps converting worse in the recent days than their baseline, or in one segment than the rest."""
    t = config["tests"]
    funnel = checkout_funnel(funnels_path)
    steps = step_names(funnel)
    hours = config["abandonment"]["conversion_hours"]
    campaign = ", ".join(f"null::varchar as {c}" for c in sorted(CAMPAIGN_COLUMNS))
    sessions = "sessions" if has_tables(con, "sessions") else f"(select null::varchar as session_id, {campaign})"
    # the steps an event is (one event may be two steps of a funnel that passes a page twice)
    is_step = [step_sql(funnel, k, "se") for k in range(1, len(funnel.steps) + 1)]
    matches = [f"case when {sql} then {k} end" for k, sql in enumerate(is_step, start=1)]
    con.execute("create or replace temp table pain_funnel_steps (step_index integer, step varchar)").fetchall()
    con.executemany("insert into pain_funnel_steps values (?, ?)", list(enumerate(steps, start=1)))
    # A customer converts from step k-1 to step k when a step-k event follows their first
    # step-(k-1) event of the period within the conversion window; segments come from that event
    # (its campaign fields from its session). A start whose window is not over by the end of the
    # run date is not judged yet.
    # The baseline is counted as the recent days are, in blocks of recent_days (a customer once a
    # block), summed: counted once over its 21 days, a customer who comes back every week weighed
    # a third as much in the baseline as in the recent week, so a store where nothing changed but
    # whose frequent visitors convert less (or more) than the rest read as a drop (or hid one).
    recent_days, baseline_days = int(t["recent_days"]), int(t["baseline_days"])
    blocks = [("recent", 0, recent_days - 1, 0)] + [
        ("baseline", b, min(recent_days + baseline_days - 1, (b + 1) * recent_days - 1), b * recent_days)
        for b in range(1, math.ceil(baseline_days / recent_days) + 1)
    ]  # (period, block, first day, last day): days back from the run date
    con.execute(
        f"""
        create or replace temp table pain_step_starts as
        with periods as (
            select period, block, run_date - first_back as starts_on, run_date - last_back as ends_on
            from (values {', '.join(f"('{p}', {b}, {first}, {last})" for p, b, first, last in blocks)})
                as v(period, block, first_back, last_back)
            cross join (select cast(? as date) as run_date)
        ),
        step_events as (
            -- campaign fields are on a session's landing page view only: an event without
            -- them takes its session's (as in the funnels)
            select customer_id, event_ts, device_category, utm_source, utm_medium, country,
                unnest(step_indexes) as step_index
            from (
                select e.customer_id, e.event_ts, e.device_category,
                    coalesce(e.utm_source, se.utm_source) as utm_source,
                    coalesce(e.utm_medium, se.utm_medium) as utm_medium,
                    e.country,
                    list_filter([{', '.join(matches)}], lambda k: k is not null) as step_indexes
                from events e
                left join {sessions} se on se.session_id = e.session_id
                where {' or '.join(is_step)}
            )
        ),
        starts as (
            select p.period, p.block, se.customer_id, se.step_index + 1 as next_index,
                min(se.event_ts) as started_at,
                arg_min(se.device_category, se.event_ts) as device_category,
                arg_min(se.utm_source, se.event_ts) as utm_source,
                arg_min(se.utm_medium, se.event_ts) as utm_medium,
                arg_min(se.country, se.event_ts) as country
            from step_events se
            inner join periods p on cast(se.event_ts as date) between p.starts_on and p.ends_on
            where se.step_index < (select max(step_index) from pain_funnel_steps)
            group by all
        ),
        converted as (
            select s.*, exists (
                select 1 from step_events n
                where n.customer_id = s.customer_id and n.step_index = s.next_index
                  and n.event_ts > s.started_at and n.event_ts <= s.started_at + to_hours({int(hours)})
            ) as is_converted
            from starts s
            -- judged once the conversion window is over by the end of the run date
            where s.started_at + to_hours({int(hours)}) < cast(cast(? as date) + 1 as timestamp)
        )
        select c.*, f.step from converted c inner join pain_funnel_steps f on f.step_index = c.next_index
        """,
        [as_of, as_of],
    ).fetchall()
    segments = """cross join lateral (
            select * from (values
                ('device_category', c.device_category), ('utm_source', c.utm_source),
                ('utm_medium', c.utm_medium), ('country', c.country)
            ) v(segment_key, segment_value)
        )"""
    con.execute(
        f"""
        create or replace temp table pain_step_cells as
        select c.period, c.step, 'all' as segment_key, 'all' as segment_value,
            count(*) as entered, count(*) filter (where is_converted) as converted
        from pain_step_starts c
        group by all
        union all
        select c.period, c.step, k.segment_key, k.segment_value, count(*), count(*) filter (where is_converted)
        from pain_step_starts c
        {segments} k
        where k.segment_value is not null
        group by all
        """
    ).fetchall()
    rows = con.execute(
        "select period, step, segment_key, segment_value, entered, converted from pain_step_cells"
    ).fetchall()
    cells_by = {(p, s, k, v): (n, x) for p, s, k, v, n, x in rows}
    baseline_cells, segment_cells = [], []
    for (period, step, key, value), (n, x) in cells_by.items():
        if period != "recent":
            continue
        if key == "all":
            nb, xb = cells_by.get(("baseline", step, "all", "all"), (0, 0))
            baseline_cells.append({"step": step, "x_cell": x, "n_cell": n, "x_ref": xb, "n_ref": nb})
        else:
            n_all, x_all = cells_by[("recent", step, "all", "all")]
            segment_cells.append({"step": step, "segment_key": key, "segment_value": value,
                                  "x_cell": x, "n_cell": n, "x_ref": x_all - x, "n_ref": n_all - n})

    # the step each step converts from, named in the sentences (a step's name is its funnel's)
    previous_step = dict(zip(steps[1:], steps, strict=False))

    def step_drop(cell: dict[str, Any], rate: float, ref: float) -> Finding:
        return Finding(
            kind="funnel_step_drop", funnel="checkout", step=cell["step"], metric="conversion from previous step",
            observed=rate, baseline=ref, affected_customers=cell["n_cell"],
            description=(f"Checkout step {cell['step']}: only {rate:.0%} of customers got there from the previous step "
                         f"({_shown(previous_step[cell['step']])}) in the last {plural(t['recent_days'], 'day')}, against {ref:.0%} "
                         "in the weeks before. Check what changed on that step."),
        )

    def segment_drop(cell: dict[str, Any], rate: float, ref: float) -> Finding:
        return Finding(
            kind="segment_drop", funnel="checkout", step=cell["step"], segment_key=cell["segment_key"],
            segment_value=str(cell["segment_value"]), metric="conversion from previous step",
            observed=rate, baseline=ref, affected_customers=cell["n_cell"],
            description=(f"Checkout step {cell['step']} converts {rate:.0%} from {_shown(previous_step[cell['step']])} "
                         f"for {cell['segment_key']} = {_shown(cell['segment_value'])} "
                         f"against {ref:.0%} for everyone else in the last {plural(t['recent_days'], 'day')}. Test that step for this segment."),
        )

    segment_findings = _tested(segment_cells, config, segment_drop)
    pairs = _segment_pairs(con, segments, segment_findings)
    segment_findings = _one_per_cause(segment_findings, pairs, config)
    step_findings = [f for f in _tested(baseline_cells, config, step_drop)
                     if not _a_segments_step_drop(f, segment_findings, cells_by, config, previous_step[str(f.step)])]
    return step_findings + segment_findings


def _a_segments_step_drop(
    step_drop: Finding, segment_findings: list[Finding], cells_by: dict[tuple[Any, ...], tuple[int, int]],
    config: dict[str, Any], previous: str,
) -> bool:
    """Whether a whole step's drop is one segment's, and if so said in that segment's finding.

    A burst of visitors who only browse, on phones, brings the whole step's conversion down and
    makes mobile convert worse than the rest: two findings, "check what changed on that step" and
    "test that step for mobile", for one cause. The step's drop is a segment's when everyone else
    shows no drop against the weeks before (too few to test, not significant, or under
    ``min_effect``): the segment's finding then says it is the whole step's drop, and how many of
    the segment's customers came against a week before (a recent window: ``recent_days``) and how
    they converted, so a reader can
    tell a step that broke for them (as many came, fewer converted) from a change in who came
    (many more came); the step's finding is not written."""
    t = config["tests"]
    days = int(t["recent_days"])
    # the baseline is counted in blocks of recent_days (a customer once a block): per such block
    weeks = float(t["baseline_days"]) / days
    a_block = {1: "a day", 7: "a week"}.get(days, f"per {plural(days, 'day')}")
    n_all_r, x_all_r = cells_by.get(("recent", step_drop.step, "all", "all"), (0, 0))
    n_all_b, x_all_b = cells_by.get(("baseline", step_drop.step, "all", "all"), (0, 0))
    for finding in segment_findings:
        if finding.step != step_drop.step:
            continue
        members = [(finding.segment_key, finding.segment_value)] + [
            (s["segment_key"], s["segment_value"]) for s in finding.evidence.get("same_drop_as", [])]
        for key, value in members:
            n_r, x_r = cells_by.get(("recent", step_drop.step, key, value), (0, 0))
            n_b, x_b = cells_by.get(("baseline", step_drop.step, key, value), (0, 0))
            rest_n_r, rest_x_r, rest_n_b, rest_x_b = n_all_r - n_r, x_all_r - x_r, n_all_b - n_b, x_all_b - x_b
            if min(rest_n_r, rest_n_b) >= t["min_sample"] and (
                dropped_by(rest_x_b / rest_n_b, rest_x_r / rest_n_r, t["min_effect"])
                and two_proportion_p(rest_x_r, rest_n_r, rest_x_b, rest_n_b) <= t["false_discovery_rate"]
            ):
                continue  # everyone else dropped too: not this segment's alone
            per_week = n_b / weeks
            named = "" if (key, value) == (finding.segment_key, finding.segment_value) else f" ({key} = {_shown(value)})"
            finding.description += (
                f" It is the whole step's drop, to {step_drop.observed:.0%} from {step_drop.baseline:.0%} in the weeks "
                + (f"before (everyone else converts {rest_x_r / rest_n_r:.0%} against {rest_x_b / rest_n_b:.0%}): "
                   if rest_n_r and rest_n_b else "before: ")
                + f"{n_r:,} of this segment's customers{named} reached {_shown(previous)} in the last {plural(days, 'day')} "
                f"against about {per_week:,.0f} {a_block} before"
                + (f", converting {x_r / n_r:.0%} against {x_b / n_b:.0%}." if n_r and n_b else ".")
                + (" Many more came than usual: the drop may be in who came (a campaign, a burst of visitors who "
                   "only browse) rather than in the step." if n_r >= 1.5 * per_week else "")
            )
            finding.severity = max(finding.severity, step_drop.severity)
            finding.evidence["step_drop"] = {
                "observed": step_drop.observed, "baseline": step_drop.baseline, "p_value": step_drop.p_value,
                "customers": n_all_r, "segment_key": key, "segment_value": value,
                "segment_customers": n_r, "segment_customers_a_window_before": round(per_week, 1),
                "others_observed": rest_x_r / rest_n_r if rest_n_r else None,
                "others_baseline": rest_x_b / rest_n_b if rest_n_b else None,
            }
            return True
    return False


def _segment_pairs(
    con: duckdb.DuckDBPyConnection, segments: str, findings: list[Finding]
) -> dict[tuple[Any, ...], tuple[int, int]]:
    """The recent customers (entered, converted) of each step in two segments of different keys
    at once, (step, key, value, key, value) either way round, when a step has segment findings
    of two keys (else none is needed)."""
    keys_by_step: dict[str | None, set[str]] = {}
    for f in findings:
        keys_by_step.setdefault(f.step, set()).add(f.segment_key)
    if all(len(keys) < 2 for keys in keys_by_step.values()):
        return {}
    pairs: dict[tuple[Any, ...], tuple[int, int]] = {}
    for step, k1, v1, k2, v2, n, x in con.execute(
        f"""
        select c.step, a.segment_key, a.segment_value, b.segment_key, b.segment_value,
            count(*), count(*) filter (where is_converted)
        from pain_step_starts c
        {segments} a
        {segments} b
        where c.period = 'recent' and a.segment_key < b.segment_key
          and a.segment_value is not null and b.segment_value is not null
        group by all
        """
    ).fetchall():
        pairs[(step, k1, str(v1), k2, str(v2))] = pairs[(step, k2, str(v2), k1, str(v1))] = (int(n), int(x))
    return pairs


# The segments the funnel findings test (in the order a finding of the same customers is named by).
SEGMENT_KEYS = ("utm_source", "utm_medium", "device_category", "country")


def _one_per_cause(
    findings: list[Finding], pairs: dict[tuple[Any, ...], tuple[int, int]], config: dict[str, Any]
) -> list[Finding]:
    """Segment drops of one step that are one cause, as one finding. A campaign's customers are
    those of its utm_source and of its utm_medium alike, and a burst of visitors from one ad on
    phones is a device's, a source's and a medium's: each read as a drop of its own (three
    findings, "test that step for this segment" three times, for one cause). Segment B's drop is
    segment A's when B's customers outside A show no drop against everyone outside B (too few to
    test, not significant at the tests' level, or under min_effect), and at least min_sample of
    B's customers are A's. Findings so joined are one, named after the segment whose drop most of
    the others' are, then the smallest (the most precise), and of the same customers the source
    before the medium; its sentence names the others and its evidence holds them (same_drop_as).
    Two segments whose customers outside each other still drop (mobile and one country both
    broken) stay two."""
    t = config["tests"]

    def explained(b: Finding, a: Finding) -> bool:
        """Whether segment b's drop is segment a's (both of one step, of different keys)."""
        if a.segment_key == b.segment_key:
            return False  # one key's values share no customer
        shared_n, shared_x = pairs.get((b.step, a.segment_key, a.segment_value, b.segment_key, b.segment_value), (0, 0))
        if shared_n < t["min_sample"]:
            return False
        e = b.evidence
        n, x = e["n_cell"] - shared_n, e["x_cell"] - shared_x
        if n < t["min_sample"]:
            return True
        ref = e["x_ref"] / e["n_ref"]
        return not dropped_by(ref, x / n, t["min_effect"]) or two_proportion_p(x, n, e["x_ref"], e["n_ref"]) > t["false_discovery_rate"]

    groups: list[list[Finding]] = []
    for f in sorted(findings, key=lambda f: (f.p_value or 0.0, -f.severity)):
        group = next((g for g in groups if g[0].step == f.step
                      and any(explained(f, m) or explained(m, f) for m in g)), None)
        if group is None:
            groups.append([f])
        else:
            group.append(f)
    out = []
    for group in groups:
        # the segment whose drop the others' are (a country flagged only for holding an ad's
        # customers is not the cause), then the smallest, and of the same customers the source
        lead = min(group, key=lambda f: (-sum(explained(m, f) for m in group if m is not f), f.evidence["n_cell"],
                                         SEGMENT_KEYS.index(f.segment_key), f.p_value or 0.0))
        others = [f for f in group if f is not lead]
        if others:
            named = [f"{f.segment_key} = {_shown(f.segment_value)} ({f.observed:.0%} of {f.evidence['n_cell']:,})"
                     for f in others]
            lead.description += f" The same customers make the drop of {' and of '.join(named)}: one cause."
            lead.severity = max(f.severity for f in group)
            lead.evidence["same_drop_as"] = [
                {"segment_key": f.segment_key, "segment_value": f.segment_value, "observed": f.observed,
                 "customers": f.evidence["n_cell"], "p_value": f.p_value,
                 "shared_customers": pairs.get((f.step, lead.segment_key, lead.segment_value, f.segment_key,
                                                f.segment_value), (0, 0))[0]}
                for f in others
            ]
        out.append(lead)
    return out


def abandonment_findings(con: duckdb.DuckDBPyConnection, as_of: date, config: dict[str, Any]) -> list[Finding]:
    """Checkout and cart abandonment over their thresholds. A customer is judged on their first
    start in the window once conversion_hours have passed after it by the end of the run date; a
    later start is still open, so it is neither bought nor abandoned yet."""
    a = config["abandonment"]
    findings = []
    for kind, start_event, threshold, label in (
        ("checkout_abandonment", "begin_checkout", a["checkout_threshold"], "began checkout"),
        ("cart_abandonment", "add_to_cart", a["cart_threshold"], "added to cart"),
    ):
        n, abandoned = con.execute(
            f"""
            with starts as (
                select customer_id, min(event_ts) as started_at
                from events
                where event_name = ? and cast(event_ts as date) between cast(? as date) - {int(a['window_days']) - 1} and cast(? as date)
                group by 1
            )
            select count(*), count(*) filter (where not exists (
                select 1 from events p where p.customer_id = s.customer_id and p.event_name = 'purchase'
                  and p.event_ts >= s.started_at and p.event_ts <= s.started_at + to_hours({int(a['conversion_hours'])})
            ))
            from starts s
            where s.started_at + to_hours({int(a['conversion_hours'])}) < cast(cast(? as date) + 1 as timestamp)
            """,
            [start_event, as_of, as_of, as_of],
        ).fetchall()[0]
        if n >= a["min_sample"] and abandoned / n > threshold:
            rate = abandoned / n
            shown_rate, shown_threshold = _over(rate, threshold, 0)
            findings.append(Finding(
                kind=kind, funnel="checkout", step=start_event, metric="abandonment rate", observed=rate,
                baseline=threshold, affected_customers=abandoned, severity=round(n * (rate - threshold), 1),
                evidence={"customers": n, "abandoned": abandoned},
                description=(f"{shown_rate} of the {n:,} customers who {label} in the last {plural(a['window_days'], 'day')} did not buy "
                             f"within {plural(a['conversion_hours'], 'hour')} (threshold {shown_threshold}). Look at shipping costs, payment options and errors at that step."),
            ))
    return findings


# SQL: the message an e-mail event is about, when it names one: its message_id and recipient. An
# ESP's message id may name the send rather than one recipient's copy (Braze's dispatch_id,
# Klaviyo's $message), given to every recipient of it: each recipient of it is a message.
MESSAGE_KEY = "'m:' || message_id || '~' || customer_id"


# SQL: the message an e-mail event counts as (see email_campaign_counts). Events naming one
# message_id and recipient are one message (an ESP may report a message's bounce, complaint or
# unsubscribe twice; a message id given to a whole send is one message per recipient). Without a
# message_id, a delivery, open, click or bounce is its event, and a complaint or an unsubscribe
# counts once per recipient (a second click on the unsubscribe link is no second loss).
MESSAGE_COUNTED = (
    f"coalesce({MESSAGE_KEY}, case when event_name in ('spamreport', 'unsubscribe') then 'c:' || customer_id end, "
    "'e:' || event_id)"
)

# The e-mail events whose messages email_campaign_counts counts, each message once.
_MESSAGE_EVENTS = ("delivered", "open", "click", "bounce", "spamreport", "unsubscribe")


def email_campaign_counts(window_days: int) -> str:
    """SQL (a subquery, aliased ``campaign_counts``) of e-mail health per campaign over the e-mail
    events of :func:`email_window_events`: one row per campaign (``(none)`` for events without
    one) with the messages ``delivered``, ``opens``, ``clicks``, ``bounces``, ``complaints`` and
    ``unsubscribes`` (each message counted once, as MESSAGE_COUNTED says), the ``dropped``
    events (the sender refused to send them), and the customers with a bounce, complaint or
    unsubscribe (``bounced_customers``, ``complaining_customers``, ``unsubscribed_customers``).
    The pain points and the dashboard count e-mail health with it. Binds the run date nine times.

    Messages and customers are counted by grouping on them, not with ``count(distinct ...)``:
    each distinct count keeps a table of its own in memory, and the seven of the pain points
    over a month of a large sender's events needed more memory than any other query of the run
    (314MB at 870,000 e-mail events; grouped, 56MB)."""
    counted = ", ".join(f"'{name}'" for name in _MESSAGE_EVENTS)
    window = email_window_events(window_days)

    def messages(name: str) -> str:
        return f"count(*) filter (where counted = 'message' and event_name = '{name}')"

    def customers(name: str) -> str:
        return f"count(*) filter (where counted = 'customer' and event_name = '{name}')"

    return f"""(
        select campaign,
            {messages('delivered')} as delivered,
            {messages('open')} as opens,
            {messages('click')} as clicks,
            {messages('bounce')} as bounces,
            {messages('spamreport')} as complaints,
            {messages('unsubscribe')} as unsubscribes,
            count(*) filter (where event_name = 'dropped') as dropped,
            {customers('bounce')} as bounced_customers,
            {customers('spamreport')} as complaining_customers,
            {customers('unsubscribe')} as unsubscribed_customers
        from (
            -- each message once
            select coalesce(campaign_id, '(none)') as campaign, event_name, 'message' as counted
            from {window}
            where event_name in ({counted})
            group by 1, 2, {MESSAGE_COUNTED}
            union all
            -- each customer once
            select coalesce(campaign_id, '(none)'), event_name, 'customer'
            from {window}
            where event_name in ('bounce', 'spamreport', 'unsubscribe') and customer_id is not null
            group by 1, 2, customer_id
            union all
            -- every other event (dropped; and a campaign with no message counted is still a row)
            select coalesce(campaign_id, '(none)'), event_name, 'event'
            from {window}
            where event_name not in ({counted})
        )
        group by campaign
    ) campaign_counts"""


def email_window_events(window_days: int) -> str:
    """SQL (a subquery, aliased) for the e-mail events of the ``window_days`` ending on the run date
    that e-mail health judges. An event naming a message (its message_id and recipient) is of the
    window when the message is: when its first event (its delivery or bounce) is, so a complaint or
    an unsubscribe in the window about mail delivered before it is not set against the window's
    deliveries (a campaign sent the day before the window drew them in its first days, 18 reports
    over another 2,000 messages: a sender-wide finding about nobody's mail). An event without a
    message_id is of the window by its own day. Binds the run date three times."""
    return f"""(
        select * from (
            select *, case when message_id is null then event_ts
                else min(event_ts) over (partition by message_id, customer_id) end as message_ts
            from events
            where channel = 'email' and event_ts < cast(? as date) + 1
        )
        where cast(message_ts as date) between cast(? as date) - {int(window_days) - 1} and cast(? as date)
    ) email_events"""


def email_findings(con: duckdb.DuckDBPyConnection, as_of: date, config: dict[str, Any]) -> list[Finding]:
    """Per campaign: bounce, spam-complaint and unsubscribe rates over thresholds."""
    e = config["email"]
    rows = con.execute(
        f"""
        select campaign, delivered, bounces, complaints, unsubscribes,
            bounced_customers, complaining_customers, unsubscribed_customers
        from {email_campaign_counts(int(e['window_days']))}
        """,
        [as_of] * 9,
    ).fetchall()
    findings: list[Finding] = []
    totals = [sum(r[i] for r in rows) for i in range(1, 8)]
    # (kind, metric, column, threshold, advice for a campaign, advice for the sender)
    checks = (
        ("email_bounce", "bounce rate", 2, e["bounce_threshold"], "Clean the list and check the sending domain's authentication (SPF, DKIM).",
         "Clean the list and check the sending domain's authentication (SPF, DKIM)."),
        ("email_spam_complaints", "spam complaint rate", 3, e["spam_complaint_threshold"], "Check consent and frequency for this audience.",
         "Check consent and sending frequency."),
        ("email_unsubscribes", "unsubscribe rate", 4, e["unsubscribe_threshold"], "Review the content and targeting of this campaign.",
         "Review the content, frequency and targeting of the campaigns."),
    )
    for kind, metric, column, threshold, advice, sender_advice in checks:
        def denominator(delivered: int, bounces: int) -> int:
            return delivered + bounces if kind == "email_bounce" else delivered

        overall_n = denominator(totals[0], totals[1])
        # A campaign is flagged when over the threshold and significantly worse than the rest. It
        # is judged on the messages its rate is a share of (for bounces, delivered + bounced: a
        # campaign that nearly all bounces has few deliveries, but it has messages).
        cells = []
        for row in rows:
            n = denominator(row[1], row[2])
            if n < e["min_delivered"]:
                continue
            x_bad = row[column]
            rest_n = overall_n - n
            rest_bad = totals[column - 1] - x_bad
            cells.append({"campaign_id": row[0], "x_cell": n - x_bad, "n_cell": n, "x_ref": rest_n - rest_bad,
                          "n_ref": rest_n, "affected": row[column + 3], "delivered": row[1]})
        raw = [exact_worse_p(c["n_cell"] - c["x_cell"], c["n_cell"], c["n_ref"] - c["x_ref"], c["n_ref"]) for c in cells]
        flagged: list[Finding] = []
        for cell, p in zip(cells, benjamini_hochberg(raw), strict=True):
            # the messages with the event over the messages (not one less the share without it:
            # 1 - 95/100 is 0.050000000000000044, over a threshold of 0.05 it is at)
            rate = (cell["n_cell"] - cell["x_cell"]) / cell["n_cell"]
            rest = (cell["n_ref"] - cell["x_ref"]) / cell["n_ref"] if cell["n_ref"] else 0.0
            if rate > threshold and p <= config["tests"]["false_discovery_rate"]:
                shown, limit = _over(rate, threshold, 1)
                flagged.append(Finding(
                    kind=kind, metric=metric, observed=rate, baseline=threshold, p_value=p,
                    affected_customers=cell["affected"], segment_key="campaign_id", segment_value=str(cell["campaign_id"]),
                    severity=round(cell["n_cell"] * (rate - threshold), 1),
                    evidence={"messages": cell["n_cell"], "rate_other_campaigns": rest},
                    description=(f"Campaign {_shown(cell['campaign_id'])}: {metric} {shown}, over the threshold {limit} "
                                 f"and above the other campaigns' {rest:.1%} ({cell['n_cell']:,} messages). {advice}"),
                ))
        # Over the threshold across all campaigns (less those flagged: one bad campaign is its
        # own finding, not the sender's): one sender-wide finding.
        flagged_ids = {f.segment_value for f in flagged}
        others = [r for r in rows if str(r[0]) not in flagged_ids]
        others_n = sum(denominator(r[1], r[2]) for r in others)
        others_bad = sum(r[column] for r in others)
        others_rate = others_bad / others_n if others_n else 0.0
        # ...significantly so (an exact one-sided binomial test against the threshold, at
        # [tests] false_discovery_rate, as for unanswered messages): over a bare threshold, a
        # sender of 500 messages a month at a true spam rate of 0.2% (threshold 0.3%) was flagged
        # whenever two recipients complained, about a night in four.
        sender_p = exceeds_share_p(min(others_bad, others_n), others_n, threshold) if others_n else 1.0
        if (others_n >= e["min_delivered"] and others_rate > threshold
                and sender_p <= config["tests"]["false_discovery_rate"]):
            affected = _email_customers(con, as_of, e, _EMAIL_EVENTS[kind], sorted(flagged_ids))
            scope = "All campaigns" if not flagged else "All other campaigns"
            shown, limit = _over(others_rate, threshold, 2)
            findings.append(Finding(
                kind=kind, metric=metric, observed=others_rate, baseline=threshold, p_value=sender_p,
                affected_customers=affected, segment_key="campaign_id", segment_value="all" if not flagged else "all others",
                severity=round(others_n * (others_rate - threshold), 1),
                evidence={"denominator": others_n, "events": others_bad},
                description=(f"{scope}: {metric} {shown} ({others_bad:,} of {others_n:,} messages), significantly over "
                             f"the threshold {limit}. {sender_advice}"),
            ))
        findings.extend(flagged)
    return findings


# The e-mail event each e-mail health check counts.
_EMAIL_EVENTS = {"email_bounce": "bounce", "email_spam_complaints": "spamreport", "email_unsubscribes": "unsubscribe"}


def _email_customers(
    con: duckdb.DuckDBPyConnection, as_of: date, e: dict[str, Any], event_name: str, left_out: list[str]
) -> int:
    """Customers with an ``event_name`` e-mail event in the window, in campaigns other than ``left_out``."""
    (n,) = con.execute(
        f"""
        -- (grouped rather than count(distinct ...), which needs more memory: see email_campaign_counts)
        select count(*) from (
            select customer_id from {email_window_events(int(e['window_days']))}
            where event_name = ? and not list_contains(?, coalesce(campaign_id, '(none)')) and customer_id is not null
            group by customer_id
        )
        """,
        [as_of, as_of, as_of, event_name, left_out],
    ).fetchall()[0]
    return int(n)


def answered_messages(window_days: int, unanswered_after_hours: float, judged_days: bool = False) -> str:
    """SQL for the CTE ``answered``: each ask of the window of days ending on the run date, with
    its first brand reply. An ask is an inbound message and the messages that follow it in its
    thread before a brand reply answers them (a first message, or a follow-up after a reply, each
    asks anew; three lines sent in a row ask once). A follow-up after a reply that no later reply
    answers asks only when its sentiment is negative: else it is the customer closing the thread
    (a "thanks!"), left out (when 30% of threads ended so, every platform of a well-kept store
    had 21-39% of its asks unanswered). thread_id is what ties a reply to a message, so a message
    without one is an ask of its own that no reply can answer (``is_untied``).
    An ask is of the window when one of its messages is. Columns: platform, thread_id, asked_at
    (its first message), last_asked_at (its last), customer_id, replied_at (null
    without a reply by the end of the run date), is_untied, ``is_judged`` (asked at least
    ``unanswered_after_hours`` before the end of the run date, so a missing reply counts as none)
    and ``is_unanswered`` (judged and without a reply; a younger ask without one is still
    waiting). Binds the run date four times. The dashboard's social care table reads the same.

    With ``judged_days`` the window is the ``window_days`` that end ``unanswered_after_hours``
    before the end of the run date: a whole window of asks that each had their time to be answered
    (the findings), where the last ``window_days`` hold only a few days old enough to be judged."""
    after_seconds = float(unanswered_after_hours) * 3600
    if judged_days:
        in_window = (f"last_asked_at >= cast(cast(? as date) + 1 as timestamp) - to_seconds({after_seconds})"
                     f" - to_days({int(window_days)})")
    else:
        in_window = f"cast(last_asked_at as date) > cast(? as date) - {int(window_days)}"
    return f"""
        inbound as (
            select platform, coalesce(thread_id, '~' || event_id) as thread_key, thread_id is null as is_untied,
                event_id, event_ts, customer_id, sentiment
            from events
            -- earlier messages too: a message in the window may follow up an older ask
            where channel = 'social' and event_name = 'message' and event_ts < cast(? as date) + 1
        ),
        brand_replies as (
            select platform, thread_id, event_ts as replied_at
            from events
            where channel = 'social' and event_name = 'brand_reply' and thread_id is not null
              and event_ts < cast(? as date) + 1
        ),
        message_replies as (
            -- each message's first brand reply at or after it, in its thread
            select m.*, r.replied_at
            from inbound as m
            asof left join brand_replies as r
                on r.platform = m.platform and r.thread_id = m.thread_key and r.replied_at >= m.event_ts
        ),
        asking as (
            -- a message after a brand reply in its thread that no later reply answers asks only
            -- when negative: else it closes the thread (a "thanks!"), neither answered nor not
            select * from message_replies as m
            where replied_at is not null or is_untied or coalesce(sentiment, 0) < 0
                or not exists (
                    select 1 from brand_replies as r where r.platform = m.platform and r.thread_id = m.thread_key
                )
        ),
        asks as (
            -- the messages one reply answers (or none yet) are one ask
            select platform, thread_key, replied_at, bool_or(is_untied) as is_untied,
                min(event_ts) as asked_at, max(event_ts) as last_asked_at,
                arg_min(customer_id, struct_pack(event_ts, event_id)) as customer_id
            from asking
            group by platform, thread_key, replied_at
        ),
        answered as (
            select
                platform, case when is_untied then null else thread_key end as thread_id, asked_at, last_asked_at, customer_id,
                replied_at, is_untied,
                epoch(cast(cast(? as date) + 1 as timestamp)) - epoch(asked_at) >= {after_seconds}
                    as is_judged,
                is_judged and replied_at is null as is_unanswered
            from asks
            -- an ask with a message in the window: in a thread open for months, a customer who
            -- writes again while an old message still waits is waiting in the window too
            where {in_window}
        )
    """


def social_findings(con: duckdb.DuckDBPyConnection, as_of: date, config: dict[str, Any]) -> list[Finding]:
    """Per platform: late or missing brand replies, and a rise in negative sentiment."""
    s = config["social"]
    t = config["tests"]
    after_hours = float(s["unanswered_after_hours"])
    days = int(s["window_days"])
    # Two windows of asks, each judged only on asks that had unanswered_after_hours to be answered
    # (over every reply yet, the median leans to the quick ones: a younger ask's slow reply is
    # still to come, and a true 30 h read about 23 h):
    # - "recent": the asks of the last window_days, of which the first few days are old enough, so
    #   a platform that stops answering is seen as soon as its asks can be judged;
    # - "week": the window_days that end unanswered_after_hours before the run date's end, a whole
    #   window of judged asks, so a quiet platform reaches min_messages (at 3 messages a day, half
    #   of them unanswered, the recent window never did).
    # A platform is flagged when either window, with min_messages, is over the limit, and
    # significantly so (below).
    windows = {
        "recent": f"the last {plural(days, 'day')} (messages at least {plural(after_hours, 'hour')} old)",
        "week": f"the {plural(days, 'day')} before the last {plural(after_hours, 'hour')}",
    }
    per_platform: dict[str, dict[str, tuple[Any, ...]]] = {}
    # one read of the asks: each judged ask is in the week, and in the recent window when one of
    # its messages is of the last window_days
    for platform, window, *row in con.execute(
        f"""
        with {answered_messages(days, after_hours, judged_days=True)}
        select platform, w.name, count(replied_at),
            median(epoch(replied_at) - epoch(asked_at)) / 3600.0,
            count(*), count(*) filter (where is_unanswered),
            count(distinct customer_id) filter (where is_unanswered),
            count(distinct customer_id) filter (where replied_at is not null),
            count(*) filter (where is_unanswered and is_untied),
            count(*) filter (where epoch(replied_at) - epoch(asked_at) > {float(s['median_reply_hours_limit']) * 3600})
        from answered
        cross join (values ('week'), ('recent')) as w(name)
        where is_judged and (w.name = 'week' or cast(last_asked_at as date) > cast(? as date) - {days})
        group by 1, 2
        """,
        [as_of] * 5,
    ).fetchall():
        per_platform.setdefault(platform, {})[window] = tuple(row)
    # Each window of a platform with min_messages judged is tested: slow when more than half of
    # its answered asks took longer than the limit (a one-sided sign test), unanswered when more
    # than the threshold share of its asks had no reply (a one-sided binomial test against it),
    # each exact, at the significance level of the other tests ([tests] false_discovery_rate).
    # Over a bare threshold, a platform answering in a median 18 h was flagged at 24 h on its
    # 20-odd messages 10 times in 40. Not corrected over the platforms: corrected over six, a
    # slow platform of 4 messages a day was found 5 times in 20 instead of 8, and the well-kept
    # ones had no finding either way.
    alpha = t["false_discovery_rate"]
    findings = []
    for platform, by_window in sorted(per_platform.items()):
        judged_enough = {w: r for w, r in by_window.items() if r[2] >= s["min_messages"]}
        slow = [(r[1], w, p) for w, r in judged_enough.items()
                if r[1] is not None and r[1] > s["median_reply_hours_limit"]
                and (p := exceeds_share_p(r[7], r[0], 0.5)) <= alpha]
        if slow:
            median_hours, w, p = max(slow)
            answered, _, judged, _, _, answered_customers, _, over_limit = judged_enough[w]
            findings.append(Finding(
                kind="social_slow_replies", metric="median hours to brand reply", observed=float(median_hours),
                baseline=float(s["median_reply_hours_limit"]), affected_customers=answered_customers,
                segment_key="platform", segment_value=str(platform), p_value=p,
                severity=round(answered_customers * min(1.0, median_hours / s["median_reply_hours_limit"] - 1), 1),
                evidence={"messages": judged, "answered": answered, "answered_over_limit": over_limit, "window": w},
                description=(f"On {_shown(platform)}, the brand took a median {median_hours:.0f} hours to answer a message "
                             f"(limit {s['median_reply_hours_limit']} h; {over_limit:,} of {answered:,} answers took longer), "
                             f"over the messages of {windows[w]}. Staff the inbox or set up alerts."),
            ))
        late = [(r[3] / r[2], w, p) for w, r in judged_enough.items()
                if r[3] / r[2] > s["unanswered_threshold"]
                and (p := exceeds_share_p(r[3], r[2], s["unanswered_threshold"])) <= alpha]
        if late:
            unanswered, w, p = max(late)
            _, _, judged, n_unanswered, unanswered_customers, _, untied, _ = judged_enough[w]
            findings.append(Finding(
                kind="social_unanswered", metric="share of messages unanswered", observed=unanswered,
                baseline=s["unanswered_threshold"], affected_customers=unanswered_customers,
                segment_key="platform", segment_value=str(platform), p_value=p,
                severity=round(judged * (unanswered - s["unanswered_threshold"]), 1),
                evidence={"messages": judged, "unanswered": n_unanswered, "unanswered_after_hours": after_hours,
                          "without_thread_id": untied, "window": w},
                description=(f"On {_shown(platform)}, {n_unanswered:,} of {judged:,} inbound messages ({unanswered:.0%}) of "
                             f"{windows[w]} got no brand reply within {plural(after_hours, 'hour')}, nor since. Answer them."
                             + (f" ({untied:,} of them carry no thread_id, which is what ties a reply to a message:"
                                " if the brand answered them, export the thread ids.)" if untied else "")),
            ))
    sentiment = con.execute(
        f"""
        select platform,
            count(*) filter (where cast(event_ts as date) > cast(? as date) - {int(t['recent_days'])}),
            count(*) filter (where cast(event_ts as date) > cast(? as date) - {int(t['recent_days'])} and sentiment < ?),
            count(*) filter (where cast(event_ts as date) <= cast(? as date) - {int(t['recent_days'])}),
            count(*) filter (where cast(event_ts as date) <= cast(? as date) - {int(t['recent_days'])} and sentiment < ?),
            count(distinct customer_id) filter (where cast(event_ts as date) > cast(? as date) - {int(t['recent_days'])} and sentiment < ?)
        from events
        -- the customers' own posts and messages: a brand reply's sentiment is the brand's
        where channel = 'social' and sentiment is not null and event_name <> 'brand_reply'
          and cast(event_ts as date) between cast(? as date) - {int(t['recent_days']) + int(t['baseline_days']) - 1} and cast(? as date)
        group by 1
        """,
        [as_of, as_of, s["negative_below"], as_of, as_of, s["negative_below"], as_of, s["negative_below"], as_of, as_of],
    ).fetchall()
    # A rise in the negative share is a drop in the "not negative" share: reuse the one-sided test.
    cells = [
        {"platform": p, "x_cell": n_recent - neg_recent, "n_cell": n_recent, "x_ref": n_base - neg_base,
         "n_ref": n_base, "negative_customers": neg_customers}
        for p, n_recent, neg_recent, n_base, neg_base, neg_customers in sentiment
    ]

    def negative(cell: dict[str, Any], rate: float, ref: float) -> Finding:
        return Finding(
            kind="social_negative_sentiment", metric="share of negative sentiment", observed=1 - rate, baseline=1 - ref,
            affected_customers=cell["negative_customers"], segment_key="platform", segment_value=str(cell["platform"]),
            description=(f"On {_shown(cell['platform'])}, {1 - rate:.0%} of posts and messages were negative in the last "
                         f"{plural(t['recent_days'], 'day')} against {1 - ref:.0%} in the weeks before. Find out what people are unhappy about."),
        )

    return findings + _tested(cells, config, negative)


def stuck_findings(con: duckdb.DuckDBPyConnection, as_of: date, config: dict[str, Any]) -> list[Finding]:
    """Customers still considering after the set time: in consideration for longer than
    ``consideration_days`` and with intent in the last ``recent_intent_days`` (the stage holds a
    customer for the stage rules' 90 days after their last intent: most of those who considered
    weeks ago have left, they are not stuck). The stay is counted since the stage history last had
    them in another stage; a stay with no other stage before it in the history (a history that
    starts after it began, as in a fresh warehouse) since their intent began: the first intent
    event after the last gap of more than ``intent_gap_days`` without one.

    Flagged when they are more than ``consideration_threshold`` of the customers in consideration
    with recent intent, significantly (a one-sided binomial test at ``[tests] false_discovery_rate``):
    every store has some who come back for weeks before buying (a quarter to nearly half of its
    recent considerers on the evaluation's stores where nothing was wrong), a store where most do
    has a problem."""
    if not has_tables(con, "customer_stages"):
        return []
    stuck = config["stuck"]
    days = int(stuck["consideration_days"])
    recent_days = int(stuck["recent_intent_days"])
    gap_days = int(stuck["intent_gap_days"])
    intent_events = [tuple(e.split(":", 1)) for e in stuck["intent_events"]]
    history = has_tables(con, "stage_history")
    streak = """
        select h.customer_id, min(h.as_of_date) as since, any_value(o.last_other_on) is null as open_ended
        from stage_history h
        left join (
            select customer_id, max(as_of_date) as last_other_on
            from stage_history where as_of_date <= ? and stage <> 'consideration'
            group by 1
        ) o using (customer_id)
        where h.stage = 'consideration' and h.as_of_date <= ?
          and h.as_of_date > coalesce(o.last_other_on, date '1900-01-01')
        group by 1
    """ if history else "select null::varchar as customer_id, null::date as since, true as open_ended where false"
    con.execute("create or replace temp table stuck_intent_events (channel varchar, event_name varchar)").fetchall()
    con.executemany("insert into stuck_intent_events values (?, ?)", [list(e) for e in intent_events])
    counts = con.execute(
        f"""
        with considering as (
            select customer_id from customer_stages where as_of_date = ? and stage = 'consideration'
        ),
        intent as (
            select e.customer_id, e.event_ts,
                lag(e.event_ts) over (partition by e.customer_id order by e.event_ts) as previous_ts
            from events e
            inner join stuck_intent_events i on i.channel = e.channel and i.event_name = e.event_name
            where e.event_ts < cast(? as date) + 1
              and e.customer_id in (select customer_id from considering)
        ),
        intent_since as (
            select customer_id, cast(max(event_ts) filter (
                where previous_ts is null or epoch(event_ts) - epoch(previous_ts) > {gap_days} * 86400
            ) as date) as since, cast(max(event_ts) as date) as last_intent
            from intent group by 1
        ),
        streaks as ({streak})
        select count(*), count(*) filter (
            where case when s.open_ended or s.since is null then least(s.since, i.since) else s.since end
                  <= cast(? as date) - {days})
        from considering c
        left join streaks s using (customer_id)
        inner join intent_since i using (customer_id)
        where i.last_intent > cast(? as date) - {recent_days}
        """,
        [as_of, as_of, *([as_of, as_of] if history else []), as_of, as_of],
    ).fetchall()[0]
    recent, n = counts
    threshold = stuck["consideration_threshold"]
    if n < stuck["min_customers"] or n <= threshold * recent:
        return []
    p = exceeds_share_p(n, recent, threshold)
    if p > config["tests"]["false_discovery_rate"]:
        return []
    shown_share, shown_threshold = _over(n / recent, threshold, 0)
    return [Finding(
        kind="stuck_in_consideration", metric="customers still considering after too long", observed=float(n),
        baseline=float(days), affected_customers=n, severity=round(n - threshold * recent, 1), p_value=p,
        evidence={"days": days, "recent_intent_days": recent_days, "considering_recently": recent, "stuck": n,
                  "threshold": threshold},
        description=(f"{plural(n, 'customer has', 'customers have')} been considering for more than {plural(days, 'day')} and "
                     f"{'still shows' if n == 1 else 'still show'} intent (in the last {plural(recent_days, 'day')}): {shown_share} of the {recent:,} customers in consideration with intent "
                     f"in those days (threshold {shown_threshold}). Target them with a reminder or an offer, and find out "
                     "what holds them back."),
    )]


def stuck_in_purchase_findings(con: duckdb.DuckDBPyConnection, as_of: date, config: dict[str, Any]) -> list[Finding]:
    """First-time buyers who did not order again within ``purchase_days``, when the latest cohort
    whose days are over came back significantly less than the cohorts before it.

    The cohort: customers whose first order was ``purchase_days`` to ``purchase_days +
    purchase_cohort_days - 1`` days before the run date (each had the whole ``purchase_days`` by
    the end of it); the baseline: those whose first order was in the ``purchase_baseline_days``
    before the cohort's. Tested as the funnel steps are (the share who came back, a two-proportion
    test, see [tests]). Most first-time buyers never order again on any store (83-94% in
    e-commerce), so their number alone flagged every store with 60 days of history; a cohort that
    comes back less than the earlier ones points at something that changed for it. A first order
    counts when the history holds the ``purchase_days`` before it (no earlier order seen), so
    there is no finding before the history holds a whole baseline cohort with its days before:
    ``2 * (purchase_days + purchase_cohort_days)`` days, 176."""
    stuck = config["stuck"]
    days, cohort_days = int(stuck["purchase_days"]), int(stuck["purchase_cohort_days"])
    baseline_days = int(stuck["purchase_baseline_days"])
    if not has_tables(con, "events"):
        return []
    cohort_from = as_of - timedelta(days=days + cohort_days - 1)
    cohort_to = as_of - timedelta(days=days)
    baseline_from = cohort_from - timedelta(days=baseline_days)
    ((history_from,),) = con.execute(
        "select min(event_date) from events where event_ts < cast(? as date) + 1", [as_of]
    ).fetchall()
    # a first order in the history is a customer's first only as far as the history can tell: one
    # counts when the history holds the purchase_days before it (a customer who ordered every month
    # before the history began has their "first" order in its first weeks, and comes back)
    if history_from is None or history_from + timedelta(days=days) > cohort_from - timedelta(days=cohort_days):
        return []  # no whole baseline cohort
    baseline_from = max(baseline_from, history_from + timedelta(days=days))
    # the customers' orders as customers.n_orders counts them (order_values in
    # sql/macros/order_macros.sql): each order once (an order sent again, by the tag and the
    # store's export, has one key), at its first sending; a guest checkout's order is its buyer's
    # (events.customer_id); purchase rows that total below nothing are a cancellation landed as a
    # purchase (Online Retail's C536379), no order
    run_script(con, "macros", "order_macros")
    rows = con.execute(
        f"""
        with orders as (
            select customer_id, ordered_at
            from order_values(cast(cast(? as date) + 1 as timestamp))
            where customer_id is not null
        ),
        buyers as (
            select customer_id, min(ordered_at) as first_at,
                -- the second of their orders in time (two at one moment: back at once)
                (list_sort(list(ordered_at)))[2] as second_at
            from orders group by customer_id
        )
        select case when cast(first_at as date) >= ? then 'cohort' else 'baseline' end as period,
            count(*) as buyers,
            count(*) filter (where second_at <= first_at + interval {days} day) as came_back,
            count(*) filter (where (second_at is null or second_at > first_at + interval {days} day)
                             and starts_with(customer_id, 'anon:')) as guests_not_back
        from buyers
        where cast(first_at as date) between ? and ?
        group by 1
        """,
        [as_of, cohort_from, baseline_from, cohort_to],
    ).fetchall()
    by = {period: (n, back, guests) for period, n, back, guests in rows}
    n, back, guests = by.get("cohort", (0, 0, 0))
    nb, backb, _ = by.get("baseline", (0, 0, 0))
    if n - back < stuck["min_customers"]:
        return []
    cell = {"x_cell": back, "n_cell": n, "x_ref": backb, "n_ref": nb, "days": days,
            "cohort_from": str(cohort_from), "cohort_to": str(cohort_to), "baseline_from": str(baseline_from),
            "never_identified": guests}

    def make(cell: dict[str, Any], rate: float, ref: float) -> Finding:
        not_back = cell["n_cell"] - cell["x_cell"]
        guests_said = (
            f" {guests:,} of them were never identified (a device alone, as a guest checkout): "
            "no address or account to write to." if guests else ""
        )
        return Finding(
            kind="stuck_in_purchase", metric="first-time buyers without a second order in time",
            observed=1 - rate, baseline=1 - ref, affected_customers=not_back,
            description=(
                f"{1 - rate:.0%} of the {cell['n_cell']:,} customers whose first order was between {cohort_from} and "
                f"{cohort_to} did not order again within {plural(days, 'day')}, against {1 - ref:.0%} of those whose first order was "
                f"in the {(cohort_from - baseline_from).days} days before: {not_back:,} did not come back, "
                f"about {cell['n_cell'] * (ref - rate):,.0f} more than usual.{guests_said} Check what changed for them "
                "(products, delivery, the follow-up after a first order) and win them back with a reason to return."),
        )

    return _tested([cell], config, make)


def find_pain_points(
    con: duckdb.DuckDBPyConnection, as_of: date, config_path: Path | None = None,
    funnels_path: Path | None = None,
) -> list[Finding]:
    """Every finding for a run date, and (re)write them to main.pain_points. The checkout steps
    judged are those of the funnel rules at ``funnels_path`` (see :func:`checkout_funnel`)."""
    config = load_config(config_path)
    findings = (
        funnel_step_findings(con, as_of, config, funnels_path)
        + abandonment_findings(con, as_of, config)
        + email_findings(con, as_of, config)
        + social_findings(con, as_of, config)
        + stuck_findings(con, as_of, config)
        + stuck_in_purchase_findings(con, as_of, config)
    )
    _write(con, as_of, findings)
    return findings


def _write(con: duckdb.DuckDBPyConnection, as_of: date, findings: list[Finding]) -> None:
    """Replace the run date's findings in main.pain_points (created and documented if missing)."""
    columns = ", ".join(f"{name} {dtype}" for name, (dtype, _) in COLUMNS.items())
    con.execute(f"create table if not exists main.pain_points ({columns})").fetchall()
    con.execute("delete from main.pain_points where as_of_date = ?", [as_of]).fetchall()
    if findings:
        con.executemany(
            f"insert into main.pain_points values ({', '.join('?' for _ in COLUMNS)})",
            [
                (as_of, f.kind, f.funnel, f.step, f.segment_key, f.segment_value, f.metric, f.observed, f.baseline,
                 f.p_value, f.severity, f.affected_customers, f.description, json.dumps(f.evidence, default=str))
                for f in findings
            ],
        )
    quote = "'"
    con.execute(f"comment on table main.pain_points is '{TABLE_COMMENT.replace(quote, quote * 2)}'").fetchall()
    for name, (_, comment) in COLUMNS.items():
        con.execute(f"comment on column main.pain_points.{name} is '{comment.replace(quote, quote * 2)}'").fetchall()
