"""Social events: people with a handle on one platform, plus the brand's replies.

Sentiment follows the latent stage so that the advocacy rule stays honest: a
buyer who is not (yet) an advocate never shares or mentions positively, and
reviews rated 4-5 come only from advocates.
"""

from __future__ import annotations

import numpy as np

from . import _catalog as cat
from ._common import (
    ADVOCACY,
    COUNTRY_OFFSET_MIN,
    DAY_MS,
    NEGATIVE_PLATFORM,
    PURCHASE,
    SLOW_REPLY_PLATFORM,
    SOCIAL_ONLY,
    TS_OFFSET,
)
from ._population import PAIN_DAYS, Population

SOCIAL_EVENTS = ("impression", "like", "comment", "share", "save", "follow", "unfollow", "mention", "message",
                 "brand_reply", "review")
(X_IMPRESSION, X_LIKE, X_COMMENT, X_SHARE, X_SAVE, X_FOLLOW, X_UNFOLLOW, X_MENTION, X_MESSAGE, X_REPLY,
 X_REVIEW) = range(11)
TYPE_P = np.array([0.42, 0.2, 0.08, 0.05, 0.04, 0.05, 0.01, 0.05, 0.08, 0.0, 0.04])
SOCIAL_RATE = 0.3  # events per person and day
NO_SENTIMENT = np.int16(-32768)
H = 3_600_000
SLOW_ANSWERED = 0.75
SLOW_MEDIAN_H = 36.0
NORMAL_ANSWERED = 0.96
NORMAL_MEDIAN_H = 2.5


def simulate_social(rng: np.random.Generator, pop: Population, day0_ms: int) -> dict[str, np.ndarray]:
    D = pop.days
    on = pop.platform >= 0
    chunks: list[dict[str, np.ndarray]] = []
    for d in range(D):
        act = np.flatnonzero(on & (pop.social_start <= d))
        k = rng.poisson(SOCIAL_RATE, act.size)
        first = (pop.social_start[act] == d) & ((pop.seg[act] == SOCIAL_ONLY) | ~pop.crm_social[act])
        k = np.where(first, np.maximum(k, 1), k)
        c = np.repeat(act, k)
        n = c.size
        if n == 0:
            continue
        st = pop.stage_on(c, d)
        plat = pop.platform[c]
        name = np.searchsorted(np.cumsum(TYPE_P), rng.random(n) * TYPE_P.sum(), side="right").astype(np.int8)
        advocate = st == ADVOCACY
        boost = advocate & (rng.random(n) < 0.2)
        name = np.where(boost, np.where(rng.random(n) < 0.5, X_SHARE, X_MENTION), name).astype(np.int8)
        name = np.where((name == X_REVIEW) & (st < PURCHASE), X_COMMENT, name).astype(np.int8)

        late = d >= D - PAIN_DAYS
        neg_p = np.where((plat == NEGATIVE_PLATFORM) & late, 0.6, 0.12)
        s = np.where(rng.random(n) < neg_p, rng.normal(-0.6, 0.2, n), rng.normal(0.35, 0.35, n))
        s = np.clip(s, -1, 1)
        sharing = (name == X_SHARE) | (name == X_MENTION)
        buyer_not_adv = (st >= PURCHASE) & ~advocate
        s = np.where(sharing & buyer_not_adv, -np.abs(s) * 0.3, s)
        s = np.where(sharing & advocate & (rng.random(n) < 0.85), np.abs(s) + 0.05, s)
        stars = np.where(advocate, rng.integers(4, 6, n), rng.integers(1, 4, n))
        rating = np.where(name == X_REVIEW, stars, 0).astype(np.int8)
        s = np.where(name == X_REVIEW, np.where(rating >= 4, np.abs(s) + 0.1, -np.abs(s) - 0.1), s)
        s = np.clip(s, -1, 1)
        has_s = np.isin(name, [X_COMMENT, X_SHARE, X_MENTION, X_MESSAGE, X_REVIEW])
        sent = np.where(has_s, np.round(s * 100), NO_SENTIMENT).astype(np.int16)
        texted = np.isin(name, [X_COMMENT, X_MENTION, X_MESSAGE, X_REVIEW])
        text = np.select(
            [s > 0.2, s < -0.2],
            [cat.TEXT_POS0 + rng.integers(0, len(cat.TEXT_POSITIVE), n),
             cat.TEXT_NEG0 + rng.integers(0, len(cat.TEXT_NEGATIVE), n)],
            cat.TEXT_NEU0 + rng.integers(0, len(cat.TEXT_NEUTRAL), n),
        )
        text = np.where(texted, text, -1).astype(np.int16)
        posted = np.isin(name, [X_IMPRESSION, X_LIKE, X_COMMENT, X_SHARE, X_SAVE])
        post = np.where(posted, np.maximum(d * 3 + rng.integers(-3, 3, n), 0), -1).astype(np.int32)
        ts = day0_ms + d * DAY_MS + rng.integers(7 * H, 23 * H, n)
        # rows carry user_id now and then; always when the CRM does not link the handle
        uid = (pop.id_day[c] < d) & ((rng.random(n) < 0.15) | ~pop.crm_social[c])
        chunks.append(dict(cust=c.astype(np.int32), ts=ts, name=name, platform=plat, post=post, sent=sent,
                           rating=rating, text=text, uid=uid))
    cols = {k: np.concatenate([ch[k] for ch in chunks]) for k in chunks[0]} if chunks else _empty()

    # threads: every message opens one; the brand may answer it later
    m = np.flatnonzero(cols["name"] == X_MESSAGE)
    thread = np.full(cols["name"].size, -1, np.int64)
    thread[m] = np.arange(m.size)
    slow = (cols["platform"][m] == SLOW_REPLY_PLATFORM) & (cols["ts"][m] >= day0_ms + (D - PAIN_DAYS) * DAY_MS)
    answered = rng.random(m.size) < np.where(slow, SLOW_ANSWERED, NORMAL_ANSWERED)
    delay_h = np.exp(rng.normal(np.log(np.where(slow, SLOW_MEDIAN_H, NORMAL_MEDIAN_H)), np.where(slow, 0.4, 0.8)))
    r_ts = cols["ts"][m] + (delay_h * H).astype(np.int64) + 60_000
    keep = answered & (r_ts < day0_ms + D * DAY_MS)
    rm = m[keep]
    reply = dict(
        cust=cols["cust"][rm], ts=r_ts[keep], name=np.full(rm.size, X_REPLY, np.int8), platform=cols["platform"][rm],
        post=np.full(rm.size, -1, np.int32), sent=np.full(rm.size, NO_SENTIMENT, np.int16),
        rating=np.zeros(rm.size, np.int8),
        text=(cat.TEXT_REPLY0 + rng.integers(0, len(cat.TEXT_REPLY), rm.size)).astype(np.int16),
        uid=cols["uid"][rm],
    )
    out = {k: np.concatenate([cols[k], reply[k]]) for k in cols}
    out["thread"] = np.concatenate([thread, thread[rm]])
    n = out["ts"].size
    out["style"] = np.where(rng.random(n) < 0.8, 0, TS_OFFSET).astype(np.int8)
    offset = np.asarray(COUNTRY_OFFSET_MIN)[pop.country[out["cust"]]]
    out["off"] = np.where(out["style"] == TS_OFFSET, offset, 0).astype(np.int16)
    return out


def _empty() -> dict[str, np.ndarray]:
    return dict(cust=np.zeros(0, np.int32), ts=np.zeros(0, np.int64), name=np.zeros(0, np.int8),
                platform=np.zeros(0, np.int8), post=np.zeros(0, np.int32), sent=np.zeros(0, np.int16),
                rating=np.zeros(0, np.int8), text=np.zeros(0, np.int16), uid=np.zeros(0, bool))
