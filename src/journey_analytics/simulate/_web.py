"""Web clickstream: visits drawn from each customer's latent stage, expanded to events.

A visit is a row of slot counts (how many page_views, view_items, ... it holds,
in a fixed order). `np.repeat` turns visits into events; per-event times are
the visit start plus a cumulative sum of gaps. The only Python loop is over days.
"""

from __future__ import annotations

import numpy as np

from . import _catalog as cat
from ._common import (
    ADVOCACY,
    AWARENESS,
    CONSIDERATION,
    COUNTRY_OFFSET_MIN,
    DAY_MS,
    ID_LOGIN,
    ID_SIGNUP,
    MAX_DEVICES,
    PURCHASE,
    TS_EPOCH,
    TS_OFFSET,
    VISITOR,
    gap,
)
from ._population import Population

WEB_EVENTS = (
    "page_view", "login", "search", "view_item", "sign_up", "generate_lead", "add_to_cart",
    "view_cart", "remove_from_cart", "begin_checkout", "add_shipping_info", "add_payment_info",
    "purchase", "write_review", "share", "refer_friend", "refund",
)
E = {name: code for code, name in enumerate(WEB_EVENTS)}
INTENT_EVENTS = ("view_item", "search", "add_to_cart", "begin_checkout", "add_payment_info", "generate_lead", "sign_up")

# slots of a visit, in time order; slot -> event name code
(S_LAND, S_LOGIN, S_PV, S_SEARCH, S_VI, S_SIGNUP, S_LEAD, S_ATC, S_VCART, S_RFC, S_BC, S_ASI,
 S_API, S_PURCHASE, S_REVIEW, S_SHARE, S_REFER, S_REFUND) = range(18)
N_SLOTS = 18
SLOT_EVENT = np.array([E[n] for n in (
    "page_view", "login", "page_view", "search", "view_item", "sign_up", "generate_lead", "add_to_cart",
    "view_cart", "remove_from_cart", "begin_checkout", "add_shipping_info", "add_payment_info",
    "purchase", "write_review", "share", "refer_friend", "refund")], dtype=np.int8)
SLOT_GAP_S = np.array([0, 20, 50, 25, 60, 90, 40, 30, 20, 15, 30, 60, 70, 25, 120, 20, 40, 45], dtype=float)
SLOT_PAGE = np.full(N_SLOTS, -1, dtype=np.int16)
for _s, _p in ((S_LOGIN, cat.PAGE_LOGIN), (S_SIGNUP, cat.PAGE_SIGNUP), (S_LEAD, cat.PAGE_NEWSLETTER),
               (S_VCART, cat.PAGE_CART), (S_BC, cat.PAGE_CHECKOUT), (S_ASI, cat.PAGE_SHIPPING),
               (S_API, cat.PAGE_PAYMENT), (S_PURCHASE, cat.PAGE_CONFIRM), (S_REFER, cat.PAGE_REFER),
               (S_REFUND, cat.PAGE_ORDERS)):
    SLOT_PAGE[_s] = _p
PRODUCT_SLOTS = np.zeros(N_SLOTS, dtype=bool)
PRODUCT_SLOTS[[S_VI, S_ATC, S_RFC, S_REVIEW, S_SHARE]] = True

# visit types
V_REG, V_ID_LOGIN, V_ID_SIGNUP, V_CONSIDER, V_ORDER, V_LOST, V_ADV, V_DEVLOGIN, V_REFUND = range(9)
REG_RATE = np.array([0.13, 0.32, 0.16, 0.2, 0.22])  # regular visits per active day, by latent stage
REFUND_RATE = 0.06
N_PRODUCTS = len(cat.PRODUCTS)


class Milestones:
    """Forced visits of the whole window, sorted by day."""

    def __init__(self, rng: np.random.Generator, pop: Population) -> None:
        D = pop.days
        parts = []  # (cust, day, type, device, order)

        def add(cust, day, vtype, dev, order):
            cust = np.asarray(cust, dtype=np.int64)
            parts.append((cust, np.asarray(day, dtype=np.int64), np.full(cust.size, vtype, np.int8),
                          np.broadcast_to(np.asarray(dev, np.int8), cust.shape),
                          np.broadcast_to(np.asarray(order, np.int64), cust.shape)))

        c = np.flatnonzero(pop.id_kind == ID_LOGIN)
        add(c, pop.id_day[c], V_ID_LOGIN, 0, -1)
        c = np.flatnonzero(pop.id_kind == ID_SIGNUP)
        add(c, pop.id_day[c], V_ID_SIGNUP, 0, -1)
        c = np.flatnonzero(pop.t_c < D)
        add(c, pop.t_c[c], V_CONSIDER, -1, -1)
        o = np.arange(pop.o_cust.size)
        add(pop.o_cust, pop.o_day, V_ORDER, pop.o_dev, o)
        lost = pop.o_lost
        parts[-1] = tuple(np.where(lost, V_LOST, V_ORDER).astype(np.int8) if i == 2 else a
                          for i, a in enumerate(parts[-1]))
        c = np.flatnonzero(pop.t_adv < D)
        add(c, pop.t_adv[c], V_ADV, -1, -1)
        for k in range(1, MAX_DEVICES):
            c = np.flatnonzero(pop.avail[:, k] < D)
            add(c, pop.avail[c, k], V_DEVLOGIN, k, -1)
        r_day = pop.o_day + gap(rng, 3, o.size, minimum=1)
        r = np.flatnonzero(~lost & (rng.random(o.size) < REFUND_RATE) & (r_day < D))
        add(pop.o_cust[r], r_day[r], V_REFUND, -1, r)

        cols = [np.concatenate([p[i] for p in parts]) for i in range(5)]
        order = np.argsort(cols[1], kind="stable")
        self.cust, self.day, self.vtype, self.dev, self.order = (a[order] for a in cols)
        self.bounds = np.searchsorted(self.day, np.arange(D + 1))

    def on(self, d: int):
        s = slice(self.bounds[d], self.bounds[d + 1])
        return self.cust[s], self.vtype[s], self.dev[s], self.order[s]


def _choice_codes(rng, p, size):
    return np.searchsorted(np.cumsum(p), rng.random(size), side="right").astype(np.int8)


class WebSimulator:
    """Generates web events day by day; collects per-day column chunks."""

    def __init__(self, rng: np.random.Generator, pop: Population, day0_ms: int) -> None:
        self.rng, self.pop, self.day0_ms = rng, pop, day0_ms
        self.ms = Milestones(rng, pop)
        self.login_ts = np.full(pop.n * MAX_DEVICES, np.iinfo(np.int64).max, dtype=np.int64)
        self.visitor = pop.seg == VISITOR
        self.app_launch = pop.days // 3
        self.n_visits = 0
        self.chunks: list[dict[str, np.ndarray]] = []
        self.latent_intent: list[np.ndarray] = []  # customer ids, one array per day
        self.latent_days: list[np.ndarray] = []
        self.cons_c: list[np.ndarray] = []  # considering visits, for the browse-reminder e-mail
        self.cons_d: list[np.ndarray] = []

    def day(self, d: int) -> None:
        rng, pop = self.rng, self.pop
        act = np.flatnonzero(self.visitor & (pop.start <= d) & (pop.end >= d))
        k = rng.poisson(REG_RATE[pop.stage_on(act, d)])
        k = np.where(pop.start[act] == d, np.maximum(k, 1), k)
        mc, mt, mdev, mord = self.ms.on(d)
        c = np.concatenate([np.repeat(act, k), mc])
        nr = c.size - mc.size
        vt = np.concatenate([np.zeros(nr, np.int8), mt])
        dev = np.concatenate([np.full(nr, -1, np.int8), mdev])
        order = np.concatenate([np.full(nr, -1, np.int64), mord])
        nv = c.size
        if nv == 0:
            return
        m = (pop.avail[c] <= d).sum(axis=1)
        dev = np.where(dev < 0, np.minimum((rng.random(nv) * m).astype(np.int8), m - 1), dev).astype(np.int8)
        st = pop.stage_on(c, d)
        morning = (vt == V_ID_LOGIN) | (vt == V_ID_SIGNUP) | (vt == V_DEVLOGIN)
        vsec = np.where(morning, rng.integers(6 * 3600, 9 * 3600, nv), rng.integers(9 * 3600, 21 * 3600 + 1800, nv))
        browse = (vt == V_REG) | (vt == V_CONSIDER)
        hard_v = (pop.hard[c] != 0) & (st == CONSIDERATION) & browse
        cons_v = (st == CONSIDERATION) & ~hard_v & browse
        post_v = (st >= PURCHASE) & (vt == V_REG)
        order_like = (vt == V_ORDER) | (vt == V_LOST)
        adv_v = vt == V_ADV
        adv_phase = post_v & (st == ADVOCACY)
        ident = pop.id_day[c] < d
        self.cons_c.append(c[hard_v | cons_v])
        self.cons_d.append(np.full(int((hard_v | cons_v).sum()), d, np.int32))
        if hard_v.any():
            self.latent_intent.append(c[hard_v])
            self.latent_days.append(np.full(int(hard_v.sum()), d, np.int32))

        # traffic source, campaign and landing page
        src = _choice_codes(rng, cat.SRC_P, nv)
        src = np.where((src == cat.SRC_NEWSLETTER) & ~ident, cat.SRC_DIRECT, src)
        utm = np.full(nv, -1, np.int16)
        utm = np.where(src == cat.SRC_CPC, cat.UTM_CPC0 + rng.integers(0, len(cat.CPC_CAMPAIGNS), nv), utm)
        insta = cat.UTM_INSTAGRAM0 + rng.integers(0, len(cat.INSTAGRAM_CAMPAIGNS), nv)
        utm = np.where(src == cat.SRC_INSTAGRAM, insta, utm)
        utm = np.where(src == cat.SRC_FACEBOOK, cat.UTM_FACEBOOK0, utm)
        utm = np.where(src == cat.SRC_NEWSLETTER, cat.UTM_NEWSLETTER0 + d // 3, utm).astype(np.int16)
        campaign_src = utm >= 0
        focus = rng.integers(0, N_PRODUCTS, nv)
        r = rng.random(nv)
        blog = cat.PAGE_BLOG0 + rng.integers(0, len(cat.BLOG), nv)
        category = cat.PAGE_CATEGORY0 + rng.integers(0, len(cat.CATEGORIES), nv)
        generic = np.where(r < 0.55, cat.PAGE_HOME, np.where(r < 0.8, blog, category))
        landing = np.where(campaign_src, np.where(r < 0.6, category, cat.PAGE_PRODUCT0 + focus), generic)
        landing = np.where(hard_v, cat.PAGE_PRODUCT0 + focus, landing)
        land_ref = np.select([(src == cat.SRC_CPC) | (src == cat.SRC_ORGANIC), src == cat.SRC_INSTAGRAM,
                              src == cat.SRC_FACEBOOK], [cat.REF_GOOGLE, cat.REF_INSTAGRAM, cat.REF_FACEBOOK], -1)
        app = pop.has_app[c, dev] & (d >= self.app_launch)

        # slot counts
        u = rng.random((nv, 12))
        C = np.zeros((nv, N_SLOTS), dtype=np.int16)
        C[:, S_LAND] = 1
        C[:, S_LOGIN] = (vt == V_ID_LOGIN) | (vt == V_DEVLOGIN)
        pv = np.where((st == AWARENESS) & (vt == V_REG), rng.poisson(1.6, nv), rng.poisson(1.3, nv))
        pv = np.where(hard_v, 1 + rng.poisson(1.5, nv), pv)
        pv = np.where(~browse & (vt != V_ID_SIGNUP), rng.poisson(0.4, nv), pv)
        C[:, S_PV] = pv
        search = (cons_v & (u[:, 0] < 0.3)) | (post_v & (u[:, 0] < 0.12))
        C[:, S_SEARCH] = search
        n_vi = 1 + rng.poisson(1.0, nv)
        vi = np.where(cons_v & (~search | (u[:, 1] < 0.7)), n_vi, 0)
        vi = np.where(vt == V_CONSIDER, np.maximum(vi, cons_v), vi)
        vi = np.where(post_v & (u[:, 1] < 0.4), 1 + rng.poisson(0.6, nv), vi)
        vi = np.where((vt == V_ID_SIGNUP) & (u[:, 1] < 0.5), 1, vi)
        vi = np.where(order_like, 1 + rng.poisson(0.5, nv), vi)
        C[:, S_VI] = vi
        C[:, S_SIGNUP] = vt == V_ID_SIGNUP
        C[:, S_LEAD] = cons_v & ident & (u[:, 2] < 0.04)
        atc = ((vi > 0) & ((cons_v & (u[:, 3] < 0.28)) | (post_v & (u[:, 3] < 0.12)))) | order_like
        C[:, S_ATC] = atc
        C[:, S_VCART] = atc & (u[:, 4] < np.where(order_like, 0.6, 0.5))
        C[:, S_RFC] = atc & ~order_like & (u[:, 5] < 0.1)
        bc = (atc & cons_v & (u[:, 6] < 0.35)) | order_like
        asi = bc & (order_like | (u[:, 7] < 0.8))
        C[:, S_BC], C[:, S_ASI] = bc, asi
        C[:, S_API] = asi & (order_like | (u[:, 8] < 0.6))
        C[:, S_PURCHASE] = vt == V_ORDER
        review = ((adv_v & (u[:, 9] < 0.65)) | (adv_phase & (u[:, 9] < 0.08))
                  | (post_v & (st < ADVOCACY) & (u[:, 9] < 0.03)))
        refer = (adv_v & (~review | (u[:, 10] < 0.35))) | (adv_phase & (u[:, 10] < 0.05))
        C[:, S_REVIEW], C[:, S_REFER] = review, refer
        C[:, S_SHARE] = (review | refer) & (adv_v | adv_phase) & (u[:, 11] < 0.5)
        C[:, S_REFUND] = vt == V_REFUND
        rating = np.where(adv_v | adv_phase, rng.integers(4, 6, nv), rng.integers(1, 4, nv)).astype(np.int8)

        # expand visits to events
        per = C.sum(axis=1)
        ne = int(per.sum())
        vidx = np.repeat(np.arange(nv), per)
        slot = np.repeat(np.tile(np.arange(N_SLOTS, dtype=np.int8), nv), C.ravel())
        first = np.concatenate([[0], np.cumsum(per)[:-1]])
        g = ((3 + rng.exponential(1.0, ne) * SLOT_GAP_S[slot]) * 1000).astype(np.int64) + rng.integers(0, 1000, ne)
        dwell = hard_v[vidx] & (slot == S_PV)
        g = np.where(dwell, (150 + rng.exponential(200.0, ne)).astype(np.int64) * 1000, g)
        g[first] = 0
        cs = np.cumsum(g)
        ts = (self.day0_ms + d * DAY_MS + vsec[vidx] * 1000 + rng.integers(0, 1000, nv)[vidx]
              + cs - cs[first][vidx])
        ce = c[vidx]
        de = dev[vidx]

        # pages
        ste = st[vidx]
        prod_share = np.where(hard_v | cons_v, 0.75, np.where(post_v, 0.4, 0.15))[vidx]
        r = rng.random(ne)
        product = cat.PAGE_PRODUCT0 + (focus[vidx] + rng.integers(0, 4, ne)) % N_PRODUCTS
        category = cat.PAGE_CATEGORY0 + rng.integers(0, len(cat.CATEGORIES), ne)
        blog = cat.PAGE_BLOG0 + rng.integers(0, len(cat.BLOG), ne)
        other = np.where(r < 0.3, cat.PAGE_HOME, np.where(r < 0.7, category, blog))
        other = np.where(ste >= CONSIDERATION, np.where(r < 0.5, category, cat.PAGE_HOME), other)
        page = np.where(rng.random(ne) < prod_share, product, other)
        page = np.where(slot == S_LAND, landing[vidx], page)
        term = np.where(slot == S_SEARCH, rng.integers(0, len(cat.SEARCH_TERMS), ne), -1).astype(np.int8)
        page = np.where(slot == S_SEARCH, cat.PAGE_SEARCH0 + term, page)
        page = np.where(slot == S_VI, product, page)
        page = np.where(PRODUCT_SLOTS[slot] & (slot != S_VI), cat.PAGE_PRODUCT0 + focus[vidx], page)
        page = np.where(SLOT_PAGE[slot] >= 0, SLOT_PAGE[slot], page).astype(np.int16)
        item = np.where(PRODUCT_SLOTS[slot], page - cat.PAGE_PRODUCT0, -1).astype(np.int16)
        ref = np.concatenate([[-1], page[:-1]]).astype(np.int16)
        ref[first] = land_ref
        ev_utm = np.full(ne, -1, np.int16)
        ev_utm[first] = utm

        # identity: user_id once the device has logged in / signed up
        key = ce.astype(np.int64) * MAX_DEVICES + de
        idev = (slot == S_LOGIN) | (slot == S_SIGNUP)
        np.minimum.at(self.login_ts, key[idev], ts[idev])
        uid = ts >= self.login_ts[key]
        email = idev | (slot == S_LEAD)

        app_e = app[vidx]
        style = np.where(app_e, TS_EPOCH, _choice_codes(rng, (0.85, 0.12, 0.03), ne)).astype(np.int8)
        off = np.where(style == TS_OFFSET, np.asarray(COUNTRY_OFFSET_MIN)[pop.country[ce]], 0).astype(np.int16)
        sess = np.where(app_e, self.n_visits + vidx, -1).astype(np.int64)
        self.n_visits += nv
        ev_order = np.where((slot == S_PURCHASE) | (slot == S_REFUND), order[vidx], -1).astype(np.int32)
        self.chunks.append(dict(
            cust=ce.astype(np.int32), dev=de, ts=ts, name=SLOT_EVENT[slot], page=page, ref=ref, utm=ev_utm,
            item=item, term=term, order=ev_order, rating=np.where(slot == S_REVIEW, rating[vidx], 0).astype(np.int8),
            uid=uid, email=email, sess=sess, app=app_e, style=style, off=off,
        ))

    def result(self) -> dict[str, np.ndarray]:
        """Event columns of the whole window."""
        keys = self.chunks[0].keys() if self.chunks else ()
        return {k: np.concatenate([ch[k] for ch in self.chunks]) for k in keys}

    def latent(self) -> tuple[np.ndarray, np.ndarray]:
        """(customers, days) of visits whose intent shows only as dwell on product pages."""
        return _cat_or_empty(self.latent_intent, np.int64), _cat_or_empty(self.latent_days, np.int32)

    def considering(self) -> tuple[np.ndarray, np.ndarray]:
        """(customers, days) of every considering visit."""
        return _cat_or_empty(self.cons_c, np.int64), _cat_or_empty(self.cons_d, np.int32)


def _cat_or_empty(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)
