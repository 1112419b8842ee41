"""simulate(): write a landing folder of synthetic clickstream, e-mail and social events.

The folder follows the DESIGN's input contract and carries its own ground
truth under `_truth/`. Same arguments give byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import _catalog as cat
from ._common import DAY_MS, MOBILE, NEGATIVE_PLATFORM, PLATFORMS, SLOW_REPLY_PLATFORM, STAGES
from ._deliver import Deliverer, Rates
from ._email import BASE_BOUNCE, M_BOUNCE, M_PROCESSED, PLANTED_BOUNCE, simulate_email
from ._population import MOBILE_PAYMENT_LOSS, PAIN_DAYS, make_population
from ._render import Identities
from ._social import NO_SENTIMENT, SLOW_ANSWERED, SLOW_MEDIAN_H, X_MESSAGE, X_REPLY, simulate_social
from ._truth import collect_signals, customers_frame, identities_frame, labels_frame
from ._web import WebSimulator

FORMATS = ("mixed", "jsonl", "jsonl.gz", "csv", "parquet")
CHANNELS = ("web", "email", "social")


@dataclass(frozen=True)
class SimulationResult:
    """What simulate() wrote; the same numbers are in _truth/summary.json."""

    out: Path
    n_customers: int
    n_events_written: int  # every event row written, duplicates and bad rows included
    n_bad_rows: int
    n_duplicate_rows: int
    n_late_rows: int
    first_day: dt.date
    last_day: dt.date
    rows_by_channel: dict[str, int] = field(default_factory=dict)


def _validate(out: Path, customers: int, days: int, seed: int, start, formats: str, rates: dict[str, float]) -> None:
    if not isinstance(customers, (int, np.integer)) or isinstance(customers, bool) or customers < 1:
        raise ValueError(f"customers must be a positive integer, got {customers!r}")
    if not isinstance(days, (int, np.integer)) or isinstance(days, bool) or days < 1:
        raise ValueError(f"days must be a positive integer, got {days!r}")
    if not isinstance(start, dt.date) or isinstance(start, dt.datetime):
        raise ValueError(f"start must be a datetime.date, got {start!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if formats not in FORMATS:
        raise ValueError(f"formats must be one of {', '.join(FORMATS)}, got {formats!r}")
    for name, v in rates.items():
        if not isinstance(v, (int, float)) or not 0.0 <= float(v) <= 1.0:
            raise ValueError(f"{name} must be a number between 0 and 1, got {v!r}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"out must be a new or empty directory, {str(out)!r} exists and is not empty")


def simulate(
    out: Path,
    customers: int,
    days: int,
    seed: int,
    start: dt.date = dt.date(2026, 10, 1),
    formats: str = "mixed",
    bad_row_rate: float = 0.004,
    duplicate_rate: float = 0.01,
    late_rate: float = 0.03,
    label_share: float = 0.2,
    progress: Callable[[str], None] | None = None,
) -> SimulationResult:
    """Write a landing folder of `customers` simulated people over `days` days from `start`."""
    out = Path(out)
    rates = dict(bad_row_rate=bad_row_rate, duplicate_rate=duplicate_rate, late_rate=late_rate, label_share=label_share)
    _validate(out, customers, days, seed, start, formats, rates)
    say = progress or (lambda _msg: None)
    customers, days = int(customers), int(days)
    rng = np.random.default_rng(seed)
    salt = int(rng.integers(1, 2**40))
    day0_ms = (start - dt.date(1970, 1, 1)).days * DAY_MS
    last_day = start + dt.timedelta(days=days - 1)

    say(f"population: {customers} customers over {days} days")
    pop = make_population(rng, customers, days)
    camps = cat.make_campaigns(days, PAIN_DAYS)
    say("web events")
    web_sim = WebSimulator(rng, pop, day0_ms)
    for d in range(days):
        web_sim.day(d)
    web = web_sim.result() or _empty_web()
    say("email events")
    email = simulate_email(rng, pop, camps, day0_ms, web_sim.considering())
    say("social events")
    social = simulate_social(rng, pop, day0_ms)

    ids = Identities(pop, salt, camps)
    out.mkdir(parents=True, exist_ok=True)
    n_good = sum(t["ts"].size for t in (web, email, social))
    dlv = Deliverer(rng, out, days, start, day0_ms, formats,
                    Rates(bad_row_rate, duplicate_rate, late_rate), ids, n_good)
    stats = {}
    try:
        for ch, t in zip(CHANNELS, (web, email, social)):
            say(f"writing {ch} files")
            stats[ch] = dlv.deliver(ch, t)
    finally:
        dlv.close()

    say("ground truth")
    sig = collect_signals(customers, day0_ms, web, email, social, *web_sim.latent())
    stage = sig.stages_as_of(days - 1)
    (out / "_truth").mkdir()
    (out / "identities").mkdir()
    (out / "labels").mkdir()
    cust = customers_frame(pop, ids, sig, stage, web)
    cust.write_csv(out / "_truth" / "customers.csv")
    identities_frame(pop, ids).write_csv(out / "identities" / "crm_export.csv")
    labels = labels_frame(rng, pop, ids, sig, stage, label_share, start, days)
    labels.write_csv(out / "labels" / "labels.csv")

    n_written = sum(s.rows_written for s in stats.values())
    n_bad = sum(s.bad_rows for s in stats.values())
    n_dup = sum(s.duplicate_rows for s in stats.values())
    n_late = sum(s.late_rows for s in stats.values())
    bad_by_kind: dict[str, int] = {}
    for s in stats.values():
        for k, v in s.bad_rows_by_kind.items():
            bad_by_kind[k] = bad_by_kind.get(k, 0) + v
    stage_counts = {name: int((stage == i).sum()) for i, name in enumerate(STAGES)}
    stage_counts["none"] = int((stage < 0).sum())
    summary = {
        "generator": "journey_analytics.simulate",
        "parameters": {"customers": customers, "days": days, "seed": seed, "start": start.isoformat(),
                       "formats": formats, **rates},
        "first_day": start.isoformat(),
        "last_day": last_day.isoformat(),
        "n_customers": customers,
        "n_identified": int((pop.id_day < days).sum()),
        "n_events_written": n_written,
        "n_events": sum(s.events for s in stats.values()),
        "rows_by_channel": {ch: s.rows_written for ch, s in stats.items()},
        "n_bad_rows": n_bad,
        "bad_rows_by_kind": dict(sorted(bad_by_kind.items())),
        "n_duplicate_rows": n_dup,
        "n_late_rows": n_late,
        "n_orders": int(sig.n_orders().sum()),
        "n_labels": labels.height,
        "channels": {ch: {k: v for k, v in vars(s).items() if k != "files"} for ch, s in stats.items()},
        "stage_counts": stage_counts,
        "hard_cases": {"email_click_only": int((pop.hard == 1).sum()), "thin_evidence": int((pop.hard == 2).sum())},
        "planted_pain_points": _pain_points(pop, camps, email, social, days, start, day0_ms),
        "stage_rules": ("advocacy: >=1 order and refer_friend, review rated 4-5, or share/mention with "
                        "sentiment > 0 in the last 90 days; retention: >=2 orders; purchase: 1 order; "
                        "consideration: intent (view_item, search, add_to_cart, begin_checkout, "
                        "add_payment_info, generate_lead, sign_up, email click, or latent dwell on product "
                        "pages) in the last 90 days; awareness: any other touch; none: e-mail delivered only"),
        "files": [f for s in stats.values() for f in s.files],
    }
    (out / "_truth" / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    say(f"wrote {n_written} event rows to {out}")
    return SimulationResult(
        out=out, n_customers=customers, n_events_written=n_written, n_bad_rows=n_bad, n_duplicate_rows=n_dup,
        n_late_rows=n_late, first_day=start, last_day=last_day,
        rows_by_channel={ch: s.rows_written for ch, s in stats.items()},
    )


def _empty_web() -> dict[str, np.ndarray]:
    i8, i16, i32, i64 = np.int8, np.int16, np.int32, np.int64
    types = dict(cust=i32, dev=i8, ts=i64, name=i8, page=i16, ref=i16, utm=i16, item=i16, term=i8, order=i32,
                 rating=i8, uid=bool, email=bool, sess=i64, app=bool, style=i8, off=i16)
    return {k: np.zeros(0, v) for k, v in types.items()}


def _pain_points(pop, camps, email, social, days, start, day0_ms) -> list[dict]:
    p0 = max(days - PAIN_DAYS, 0)
    period = {"period_start": (start + dt.timedelta(days=p0)).isoformat(),
              "period_end": (start + dt.timedelta(days=days - 1)).isoformat()}
    in_p = (pop.o_day >= p0) & (pop.o_day < days)
    mobile = pop.dev_cat[pop.o_cust, pop.o_dev] == MOBILE
    att_m, att_o = int((in_p & mobile).sum()), int((in_p & ~mobile).sum())
    lost_m = int((in_p & mobile & pop.o_lost).sum())

    k = email["camp"]
    planted = camps.planted
    sent = int(((k == planted) & (email["name"] == M_PROCESSED)).sum())
    bounced = int(((k == planted) & (email["name"] == M_BOUNCE)).sum())
    others = (k != planted) & (k < camps.n_broadcast)
    base_sent = max(int((others & (email["name"] == M_PROCESSED)).sum()), 1)
    base_rate = float((others & (email["name"] == M_BOUNCE)).sum()) / base_sent

    sday = (social["ts"] - day0_ms) // DAY_MS
    msg = (social["name"] == X_MESSAGE) & (social["platform"] == SLOW_REPLY_PLATFORM) & (sday >= p0)
    m_thr = social["thread"][msg]
    rep = social["name"] == X_REPLY
    r_thr, r_ts = social["thread"][rep], social["ts"][rep]
    if r_thr.size:
        order = np.argsort(r_thr, kind="stable")
        srt = r_thr[order]
        f = np.minimum(np.searchsorted(srt, m_thr), srt.size - 1)
        has = srt[f] == m_thr
        delays = (r_ts[order][f][has] - social["ts"][msg][has]) / 3_600_000
    else:
        has, delays = np.zeros(m_thr.size, bool), np.zeros(0)

    sent_ev = social["sent"] != NO_SENTIMENT
    on_x = sent_ev & (social["platform"] == NEGATIVE_PLATFORM)
    neg = social["sent"] < -20
    share_late = float((on_x & neg & (sday >= p0)).sum() / max((on_x & (sday >= p0)).sum(), 1))
    share_before = float((on_x & neg & (sday < p0)).sum() / max((on_x & (sday < p0)).sum(), 1))
    return [
        {"kind": "funnel_step_segment_drop_off", "funnel": "checkout", "step": "purchase",
         "previous_step": "add_payment_info",
         "segment_key": "device_category", "segment_value": "mobile", **period,
         "description": (f"In the last {PAIN_DAYS} days about {MOBILE_PAYMENT_LOSS:.0%} of mobile order attempts fail "
                         "after add_payment_info (no purchase follows); other devices are unaffected."),
         "mobile_attempts": att_m, "mobile_lost": lost_m, "other_attempts": att_o},
        {"kind": "email_bounce_rate", "channel": "email", "campaign_id": camps.names[planted], **period,
         "description": (f"Campaign {camps.names[planted]} bounces for about {PLANTED_BOUNCE:.0%} of its "
                         f"recipients; other campaigns about {BASE_BOUNCE:.0%}."),
         "messages": sent, "bounces": bounced, "bounce_rate": round(bounced / max(sent, 1), 4),
         "baseline_bounce_rate": round(base_rate, 4)},
        {"kind": "social_slow_response", "channel": "social", "platform": PLATFORMS[SLOW_REPLY_PLATFORM], **period,
         "description": (f"On {PLATFORMS[SLOW_REPLY_PLATFORM]} inbound messages of the last {PAIN_DAYS} days are "
                         f"answered late (median about {SLOW_MEDIAN_H:.0f} h) and about {1 - SLOW_ANSWERED:.0%} never; "
                         "replies that would come after the last day are missing too."),
         "messages": int(m_thr.size), "answered": int(has.sum()),
         "unanswered_share": round(1 - float(has.sum()) / max(m_thr.size, 1), 4),
         "median_reply_hours": round(float(np.median(delays)), 2) if delays.size else None},
        {"kind": "negative_sentiment_rise", "channel": "social", "platform": PLATFORMS[NEGATIVE_PLATFORM], **period,
         "description": (f"Negative sentiment (< -0.2) on {PLATFORMS[NEGATIVE_PLATFORM]} rises in the last "
                         f"{PAIN_DAYS} days: about half of the comments, mentions, shares and messages."),
         "negative_share": round(share_late, 4), "negative_share_before": round(share_before, 4)},
    ]
