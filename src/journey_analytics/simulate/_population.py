"""The simulated people and their latent journeys.

Every array has one entry per customer (or customer x device, or order). A
customer's latent stage on a day follows from a handful of milestone days:
first touch (`start`), consideration (`t_c`), orders (`order_day`) and the
first advocacy act (`t_adv`). A milestone that would fall after the last
simulated day never happens (NEVER).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import (
    ADVOCACY,
    AWARENESS,
    CONSIDERATION,
    COUNTRY_P,
    HARD_EMAIL_CLICK_ONLY,
    HARD_NONE,
    HARD_THIN_EVIDENCE,
    ID_LOGIN,
    ID_NONE,
    ID_SIGNUP,
    MAX_DEVICES,
    MOBILE,
    NEVER,
    PASSIVE_CONTACT,
    PLATFORM_P,
    PURCHASE,
    READER_CONTACT,
    RETENTION,
    SOCIAL_ONLY,
    VISITOR,
    FIRST_NAMES,
    LAST_NAMES,
    gap,
)

MAX_ORDERS = 4
PAIN_DAYS = 7  # planted problems live in the last 7 days of the window
MOBILE_PAYMENT_LOSS = 0.5  # share of mobile order attempts lost at payment, last 7 days


@dataclass
class Population:
    """Per-customer latent facts; see the module docstring."""

    n: int
    days: int
    seg: np.ndarray  # int8 segment (VISITOR, ...)
    start: np.ndarray  # int32 first web day (visitors)
    end: np.ndarray  # int32 last web day (visitors)
    t_c: np.ndarray  # int32 consideration day
    t_adv: np.ndarray  # int32 first advocacy visit day
    id_day: np.ndarray  # int32 day of sign_up / first login
    id_kind: np.ndarray  # int8 ID_NONE / ID_LOGIN / ID_SIGNUP
    hard: np.ndarray  # int8 hard case for stage rules
    avail: np.ndarray  # (n, 3) int32 first day each device is used
    dev_cat: np.ndarray  # (n, 3) int8 device category
    has_app: np.ndarray  # (n, 3) bool: device runs the app
    country: np.ndarray  # int8
    first_name: np.ndarray  # int16
    last_name: np.ndarray  # int16
    has_email: np.ndarray  # bool: the business knows an address
    platform: np.ndarray  # int8 social platform, -1 when not on social
    social_start: np.ndarray  # int32
    crm_email: np.ndarray  # bool: the CRM export links user_id and email
    crm_social: np.ndarray  # bool: the CRM export links user_id and handle
    # orders (realised and lost attempts), one row per order
    o_cust: np.ndarray
    o_day: np.ndarray
    o_dev: np.ndarray
    o_cents: np.ndarray
    o_lost: np.ndarray
    t_o1: np.ndarray  # int32 first realised order day per customer
    t_o2: np.ndarray  # int32 second realised order day per customer

    def stage_on(self, cust: np.ndarray, day: np.ndarray | int) -> np.ndarray:
        """Latent stage (0..4) of customers on a day, for behaviour."""
        st = np.where(day >= self.t_c[cust], CONSIDERATION, AWARENESS)
        st = np.where(day >= self.t_o1[cust], PURCHASE, st)
        st = np.where(day >= self.t_o2[cust], RETENTION, st)
        st = np.where(day >= self.t_adv[cust], ADVOCACY, st)
        return st.astype(np.int8)

    def identified_by(self, cust: np.ndarray, day: np.ndarray | int) -> np.ndarray:
        """True where the customer's identification day is before `day`."""
        return self.id_day[cust] < day


def _never_after(days_arr: np.ndarray, days: int) -> np.ndarray:
    return np.where(days_arr >= days, NEVER, days_arr).astype(np.int32)


def make_population(rng: np.random.Generator, n: int, days: int) -> Population:
    D = days

    def scale(f: float, lo: float, hi: float) -> float:
        return float(np.clip(f * D, lo, hi))

    seg = rng.choice(4, n, p=[0.78, 0.06, 0.08, 0.08]).astype(np.int8)
    vis = seg == VISITOR
    start = np.where(rng.random(n) < 0.45, 0, rng.integers(0, D, n)).astype(np.int32)

    reach = vis & (rng.random(n) < 0.6)
    t_c = np.where(reach, start + gap(rng, scale(0.15, 0.5, 14), n), NEVER)
    t_c = _never_after(t_c, D)
    buy = reach & (rng.random(n) < 0.5)
    n_ord = np.where(buy, 1 + np.minimum(rng.geometric(0.58, n) - 1, MAX_ORDERS - 1), 0)
    order_day = np.full((n, MAX_ORDERS), NEVER, dtype=np.int64)
    order_day[:, 0] = np.where(buy, t_c.astype(np.int64) + gap(rng, scale(0.15, 0.5, 14), n), NEVER)
    for j in range(1, MAX_ORDERS):
        nxt = order_day[:, j - 1] + gap(rng, scale(0.2, 1, 20), n, minimum=1)
        order_day[:, j] = np.where(n_ord > j, nxt, NEVER)
    order_day = np.where(order_day >= D, NEVER, order_day).astype(np.int32)

    has_account = vis & (rng.random(n) < 0.18)
    signup = reach & ~has_account & (buy | (rng.random(n) < 0.62))
    su_day = np.minimum(t_c.astype(np.int64) + gap(rng, 0.6, n), order_day[:, 0])
    id_day = np.where(has_account, start, np.where(signup, su_day, NEVER))
    id_day = _never_after(id_day, D)
    id_kind = np.where(id_day < D, np.where(has_account, ID_LOGIN, ID_SIGNUP), ID_NONE).astype(np.int8)

    # devices: identified customers may use up to three
    identified = id_day < D
    n_dev = np.where(identified, rng.choice([1, 2, 3], n, p=[0.7, 0.2, 0.1]), 1)
    dev_cat = np.empty((n, MAX_DEVICES), dtype=np.int8)
    dev_cat[:, 0] = rng.choice(3, n, p=[0.48, 0.44, 0.08])
    dev_cat[:, 1:] = rng.choice(3, (n, MAX_DEVICES - 1), p=[0.35, 0.5, 0.15])
    avail = np.full((n, MAX_DEVICES), NEVER, dtype=np.int64)
    avail[:, 0] = start
    later = id_day.astype(np.int64)[:, None] + np.cumsum(
        gap(rng, scale(0.15, 0.5, 10), n * (MAX_DEVICES - 1), minimum=1).reshape(n, -1), axis=1
    )
    avail[:, 1:] = np.where(np.arange(1, MAX_DEVICES)[None, :] < n_dev[:, None], later, NEVER)
    avail = np.where(avail >= D, NEVER, avail).astype(np.int32)
    has_app = (dev_cat == MOBILE) & (rng.random((n, MAX_DEVICES)) < 0.35) & (avail < D)

    # device of each order attempt, then the planted loss of mobile payments
    n_avail = (avail[:, None, :] <= order_day[:, :, None]).sum(axis=2)
    o_dev = np.minimum((rng.random((n, MAX_ORDERS)) * n_avail).astype(np.int8), MAX_DEVICES - 1)
    o_mobile = np.take_along_axis(dev_cat, o_dev.astype(np.int64), axis=1) == MOBILE
    lost = (order_day < D) & (order_day >= D - PAIN_DAYS) & o_mobile
    lost &= rng.random((n, MAX_ORDERS)) < MOBILE_PAYMENT_LOSS
    first_lost = np.where(lost.any(axis=1), lost.argmax(axis=1), MAX_ORDERS)
    j_idx = np.arange(MAX_ORDERS)[None, :]
    realised = (order_day < D) & (j_idx < first_lost[:, None])
    lost_attempt = (order_day < D) & (j_idx == first_lost[:, None])

    adv = buy & (rng.random(n) < 0.4) & realised[:, 0]
    t_adv = np.where(adv, order_day[:, 0].astype(np.int64) + gap(rng, scale(0.15, 1, 14), n, minimum=1), NEVER)
    t_adv = _never_after(t_adv, D)

    t_o1 = np.where(realised[:, 0], order_day[:, 0], NEVER).astype(np.int32)
    t_o2 = np.where(realised[:, 1], order_day[:, 1], NEVER).astype(np.int32)

    hard = np.full(n, HARD_NONE, dtype=np.int8)
    considering = (t_c < D) & ~realised[:, 0] & ~lost_attempt[:, 0]
    hard[considering & has_account & (rng.random(n) < 0.45)] = HARD_EMAIL_CLICK_ONLY
    hard[considering & (id_kind == ID_NONE) & (rng.random(n) < 0.3)] = HARD_THIN_EVIDENCE

    lost_day = np.where(lost_attempt.any(1), order_day.max(1, where=lost_attempt, initial=0), 0)
    milestones = np.stack([start, t_c, t_o1, t_o2, t_adv, lost_day], axis=1)
    last_m = np.where(milestones < D, milestones, 0).max(axis=1)
    end = np.minimum(last_m + gap(rng, scale(0.25, 1, 21), n), D - 1).astype(np.int32)

    country = rng.choice(len(COUNTRY_P), n, p=COUNTRY_P).astype(np.int8)
    has_email = identified | (seg == PASSIVE_CONTACT) | (seg == READER_CONTACT)
    # only identified visitors are on social: an anonymous visitor's handle could never be linked
    on_social = (seg == SOCIAL_ONLY) | (vis & identified & (rng.random(n) < 0.45))
    crm_email = identified & (rng.random(n) < 0.92)
    crm_social = identified & on_social & (rng.random(n) < 0.8)
    platform = np.where(on_social, rng.choice(len(PLATFORM_P), n, p=PLATFORM_P), -1).astype(np.int8)
    social_start = np.where(vis, start, np.where(rng.random(n) < 0.5, 0, rng.integers(0, D, n)))
    # a handle the CRM does not link shows up only after sign-in, with user_id on its rows
    social_start = np.where(vis & ~crm_social, id_day.astype(np.int64) + 1, social_start)
    social_start = _never_after(social_start, D)

    keep = realised | lost_attempt
    oc, oj = np.nonzero(keep)
    cents = np.clip(np.exp(rng.normal(4.25, 0.6, oc.size)) * 100, 2000, 30000).astype(np.int32)
    return Population(
        n=n,
        days=D,
        seg=seg,
        start=start,
        end=end,
        t_c=t_c,
        t_adv=t_adv,
        id_day=id_day,
        id_kind=id_kind,
        hard=hard,
        avail=avail,
        dev_cat=dev_cat,
        has_app=has_app,
        country=country,
        first_name=rng.integers(0, len(FIRST_NAMES), n).astype(np.int16),
        last_name=rng.integers(0, len(LAST_NAMES), n).astype(np.int16),
        has_email=has_email,
        platform=platform,
        social_start=social_start,
        crm_email=crm_email,
        crm_social=crm_social,
        o_cust=oc.astype(np.int32),
        o_day=order_day[oc, oj],
        o_dev=o_dev[oc, oj],
        o_cents=cents,
        o_lost=lost_attempt[oc, oj],
        t_o1=t_o1,
        t_o2=t_o2,
    )
