"""E-mail (ESP webhook) events: campaigns, then one event chain per message.

A message is one campaign sent to one recipient. Its chain is
processed -> (dropped | bounce | [deferred ->] delivered) -> open -> click,
with unsubscribe or spamreport possible after an open. Clicks are intent, so
only recipients whose latent stage is consideration or later click.
"""

from __future__ import annotations

import numpy as np

from . import _catalog as cat
from ._common import (
    CONSIDERATION,
    COUNTRY_OFFSET_MIN,
    DAY_MS,
    HARD_EMAIL_CLICK_ONLY,
    PASSIVE_CONTACT,
    READER_CONTACT,
    TS_OFFSET,
    VISITOR,
)
from ._population import Population

EMAIL_EVENTS = ("processed", "delivered", "open", "click", "bounce", "dropped", "deferred", "spamreport", "unsubscribe")
(M_PROCESSED, M_DELIVERED, M_OPEN, M_CLICK, M_BOUNCE, M_DROPPED, M_DEFERRED, M_SPAM, M_UNSUB) = range(9)
BASE_BOUNCE = 0.012
BROADCAST_SHARE = 0.25  # share of the list that a broadcast campaign goes to
PLANTED_BOUNCE = 0.12
OPEN_BY_STAGE = np.array([0.18, 0.32, 0.38, 0.38, 0.45])
H = 3_600_000


def _messages(rng, pop: Population, camps: cat.Campaigns, web_cons_days: tuple[np.ndarray, np.ndarray]):
    """Recipients of every send: (customer, campaign, send time in ms from day 0)."""
    D = pop.days
    contact = (pop.seg == PASSIVE_CONTACT) | (pop.seg == READER_CONTACT)
    listed = pop.has_email & ((pop.seg == VISITOR) | contact)
    parts_c, parts_k, parts_t = [], [], []
    for k, d in enumerate(camps.broadcast_days):
        member = listed & (contact | (pop.id_day < d))
        c = np.flatnonzero(member & (rng.random(pop.n) < BROADCAST_SHARE))
        parts_c.append(c)
        parts_k.append(np.full(c.size, k))
        parts_t.append(d * DAY_MS + 9 * H + rng.integers(0, 2 * H, c.size))
    # welcome: the day after sign-up
    c = np.flatnonzero((pop.id_kind == 2) & (pop.id_day + 1 < D))
    parts_c.append(c)
    parts_k.append(np.full(c.size, camps.welcome))
    parts_t.append((pop.id_day[c] + 1).astype(np.int64) * DAY_MS + 8 * H + rng.integers(0, 2 * H, c.size))
    # browse reminder: identified customers the day after a considering visit
    wc, wd = web_cons_days
    ok = (wd + 1 < D) & (pop.id_day[wc] < wd) & (rng.random(wc.size) < 0.7)
    key = np.unique(wc[ok].astype(np.int64) * (D + 1) + wd[ok])
    c, d = key // (D + 1), key % (D + 1) + 1
    parts_c.append(c)
    parts_k.append(np.full(c.size, camps.browse))
    parts_t.append(d * DAY_MS + 10 * H + rng.integers(0, 2 * H, c.size))
    # order follow-up: two days after an order
    o = np.flatnonzero(~pop.o_lost & (pop.o_day + 2 < D))
    parts_c.append(pop.o_cust[o])
    parts_k.append(np.full(o.size, camps.followup))
    parts_t.append((pop.o_day[o] + 2).astype(np.int64) * DAY_MS + 11 * H + rng.integers(0, 2 * H, o.size))
    return (np.concatenate(parts_c).astype(np.int64), np.concatenate(parts_k).astype(np.int16),
            np.concatenate(parts_t).astype(np.int64))


def simulate_email(rng: np.random.Generator, pop: Population, camps: cat.Campaigns, day0_ms: int,
                   web_cons_days: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
    c, k, t = _messages(rng, pop, camps, web_cons_days)
    nm = c.size
    msg = np.arange(nm, dtype=np.int64)
    end_ms = pop.days * DAY_MS
    r = rng.random(nm)
    bounce_p = np.where(k == camps.planted, PLANTED_BOUNCE, BASE_BOUNCE)
    dropped = r < 0.004
    bounce = ~dropped & (r < 0.004 + bounce_p)
    deferred = ~dropped & ~bounce & (r < 0.024 + bounce_p)
    delivered = ~dropped & ~bounce
    t_proc = t
    t_fail = t + rng.integers(1_000, 60_000, nm)
    t_deliv = np.where(deferred, t + rng.integers(1 * H, 4 * H, nm), t_fail)

    seg = pop.seg[c]
    open_p = np.where(seg == READER_CONTACT, 0.35, 0.0)
    vis = seg == VISITOR
    open_p = np.where(vis, OPEN_BY_STAGE[pop.stage_on(c, t_deliv // DAY_MS)], open_p)
    h1 = vis & (pop.hard[c] == HARD_EMAIL_CLICK_ONLY)
    open_p = np.where(h1 & (k == camps.browse), 0.9, open_p)
    opened = delivered & (rng.random(nm) < open_p)
    t_open = t_deliv + (rng.exponential(5.0, nm) * H).astype(np.int64) + 30_000
    click_p = np.where(k == camps.browse, np.where(h1, 0.85, 0.45), np.where(k == camps.followup, 0.3, 0.25))
    can_click = vis & (pop.stage_on(c, np.minimum(t_open // DAY_MS, pop.days - 1)) >= CONSIDERATION)
    clicked = opened & can_click & (rng.random(nm) < click_p)
    t_click = t_open + rng.integers(5_000, 300_000, nm)
    u = rng.random(nm)
    unsub = opened & (u < 0.012)
    spam = opened & ~unsub & (u < 0.016)
    t_after = np.maximum(t_open, np.where(clicked, t_click, 0)) + rng.integers(10_000, 600_000, nm)

    names, times, rows = [], [], []
    for mask, name, tt in (
        (np.ones(nm, bool), M_PROCESSED, t_proc), (dropped, M_DROPPED, t_fail), (bounce, M_BOUNCE, t_fail),
        (deferred, M_DEFERRED, t + 30_000), (delivered, M_DELIVERED, t_deliv), (opened, M_OPEN, t_open),
        (clicked, M_CLICK, t_click), (unsub, M_UNSUB, t_after), (spam, M_SPAM, t_after),
    ):
        idx = np.flatnonzero(mask & (tt < end_ms))
        rows.append(idx)
        names.append(np.full(idx.size, name, np.int8))
        times.append(tt[idx])
    row = np.concatenate(rows)
    name = np.concatenate(names)
    ts = np.concatenate(times) + day0_ms
    ce = c[row]
    style = np.searchsorted([0.85, 0.9], rng.random(row.size), side="right").astype(np.int8)
    off = np.where(style == TS_OFFSET, np.asarray(COUNTRY_OFFSET_MIN)[pop.country[ce]], 0).astype(np.int16)
    with_uid = vis & ~h1 & (pop.id_day[c] <= t // DAY_MS) & (rng.random(nm) < 0.88)
    reason = np.where(name == M_BOUNCE, rng.integers(0, len(cat.BOUNCE_REASONS), row.size), -1).astype(np.int8)
    reason = np.where(name == M_DROPPED, cat.DROP_REASON, reason).astype(np.int8)
    url_cat = rng.integers(0, len(cat.CATEGORIES), nm)
    return dict(
        cust=ce.astype(np.int32), ts=ts, name=name, camp=k[row], msg=msg[row], uid=with_uid[row],
        reason=reason, url=np.where(name == M_CLICK, url_cat[row], -1).astype(np.int16), style=style, off=off,
    )
