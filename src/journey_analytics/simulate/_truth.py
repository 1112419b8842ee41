"""Ground truth: stages from latent behaviour, the CRM export, labels, customers.csv.

Stages follow the DESIGN's rules applied to everything each customer did
(every generated event, before defects), plus latent intent that leaves only
thin traces (long dwell on product pages). Orders count all time; intent and
advocacy signals count within the 90-day lookback; any touch makes awareness;
a contact who only had e-mail delivered has no stage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from ._common import (
    ADVOCACY,
    AWARENESS,
    CONSIDERATION,
    DAY_MS,
    HARD_NAMES,
    LOOKBACK_DAYS,
    MAX_DEVICES,
    PURCHASE,
    RETENTION,
    SEGMENT_NAMES,
    STAGES,
)
from ._email import M_CLICK, M_OPEN, M_SPAM, M_UNSUB
from ._render import Identities
from ._social import NO_SENTIMENT, X_MENTION, X_REPLY, X_REVIEW, X_SHARE
from ._web import E as W
from ._web import INTENT_EVENTS


@dataclass
class Signals:
    """(customer, day) pairs of each kind of stage evidence."""

    n: int
    order_c: np.ndarray
    order_d: np.ndarray
    intent_c: np.ndarray
    intent_d: np.ndarray
    adv_c: np.ndarray
    adv_d: np.ndarray
    first_touch: np.ndarray  # per customer, NEVER-like large when none

    def stages_as_of(self, x: int) -> np.ndarray:
        """Stage code per customer as of the end of day x; -1 for no stage."""
        n_orders = np.bincount(self.order_c[self.order_d <= x], minlength=self.n)
        win_i = (self.intent_d <= x) & (self.intent_d > x - LOOKBACK_DAYS)
        win_a = (self.adv_d <= x) & (self.adv_d > x - LOOKBACK_DAYS)
        intent = np.zeros(self.n, bool)
        intent[self.intent_c[win_i]] = True
        adv = np.zeros(self.n, bool)
        adv[self.adv_c[win_a]] = True
        st = np.full(self.n, -1, np.int8)
        st[self.first_touch <= x] = AWARENESS
        st[intent] = CONSIDERATION
        st[n_orders == 1] = PURCHASE
        st[n_orders >= 2] = RETENTION
        st[(n_orders >= 1) & adv] = ADVOCACY
        return st

    def n_orders(self) -> np.ndarray:
        return np.bincount(self.order_c, minlength=self.n)


def collect_signals(n: int, day0_ms: int, web: dict, email: dict, social: dict,
                    latent_c: np.ndarray, latent_d: np.ndarray) -> Signals:
    def day(t):
        return ((t["ts"] - day0_ms) // DAY_MS).astype(np.int32)

    wd, md, sd = day(web), day(email), day(social)
    wn, mn, sn = web["name"], email["name"], social["name"]
    w_intent = np.isin(wn, [W[e] for e in INTENT_EVENTS])
    m_click = mn == M_CLICK
    w_adv = (wn == W["refer_friend"]) | ((wn == W["write_review"]) & (web["rating"] >= 4))
    s_pos = (social["sent"] != NO_SENTIMENT) & (social["sent"] > 0)
    s_adv = (np.isin(sn, [X_SHARE, X_MENTION]) & s_pos) | ((sn == X_REVIEW) & (social["rating"] >= 4))
    first = np.full(n, np.iinfo(np.int32).max, np.int32)
    np.minimum.at(first, web["cust"], wd)
    m_touch = np.isin(mn, [M_OPEN, M_CLICK, M_UNSUB, M_SPAM])
    np.minimum.at(first, email["cust"][m_touch], md[m_touch])
    s_touch = sn != X_REPLY
    np.minimum.at(first, social["cust"][s_touch], sd[s_touch])
    purchase = wn == W["purchase"]
    return Signals(
        n=n,
        order_c=web["cust"][purchase].astype(np.int64),
        order_d=wd[purchase],
        intent_c=np.concatenate([web["cust"][w_intent], email["cust"][m_click], latent_c]).astype(np.int64),
        intent_d=np.concatenate([wd[w_intent], md[m_click], latent_d]).astype(np.int32),
        adv_c=np.concatenate([web["cust"][w_adv], social["cust"][s_adv]]).astype(np.int64),
        adv_d=np.concatenate([wd[w_adv], sd[s_adv]]).astype(np.int32),
        first_touch=first,
    )


def stage_names(codes: np.ndarray) -> pl.Series:
    c = pl.Series(codes.astype(np.int64))
    return pl.Series(list(STAGES)).gather(pl.select(pl.when(c >= 0).then(c)).to_series())


def customers_frame(pop, ids: Identities, sig: Signals, stage: np.ndarray, web: dict) -> pl.DataFrame:
    n = pop.n
    identified = pop.id_day < pop.days
    used = np.zeros(n * MAX_DEVICES, bool)
    used[web["cust"].astype(np.int64) * MAX_DEVICES + web["dev"]] = True
    dev_rows = np.flatnonzero(used)
    anon = (pl.DataFrame({"c": dev_rows // MAX_DEVICES, "a": ids.anon.gather(pl.Series(dev_rows))})
            .group_by("c", maintain_order=True).agg(pl.col("a").str.join("|")))
    keys = np.arange(n)
    social = (pop.platform >= 0) & (pop.crm_social | (pop.social_start < pop.days))
    df = pl.DataFrame({
        "c": keys,
        "customer_key": "c" + pl.Series(keys).cast(pl.String).str.zfill(7),
        "user_id": pl.select(pl.when(pl.Series(identified)).then(ids.user_id)).to_series(),
        "email": pl.select(pl.when(pl.Series(pop.has_email)).then(ids.email)).to_series(),
        "platform": pl.select(pl.when(pl.Series(social)).then(ids.platform)).to_series(),
        "handle": pl.select(pl.when(pl.Series(social)).then(ids.handle)).to_series(),
        "true_stage": stage_names(stage),
        "n_orders": sig.n_orders(),
        "is_identified": identified,
        "segment": pl.Series(list(SEGMENT_NAMES)).gather(pl.Series(pop.seg.astype(np.int64))),
        "hard_case": pl.Series([h or None for h in HARD_NAMES], dtype=pl.String).gather(
            pl.Series(pop.hard.astype(np.int64))),
    })
    df = df.join(anon.rename({"a": "anonymous_ids"}), on="c", how="left", maintain_order="left")
    return df.select("customer_key", "user_id", "anonymous_ids", "email", "platform", "handle", "true_stage",
                     "n_orders", "is_identified", "segment", "hard_case")


def identities_frame(pop, ids: Identities) -> pl.DataFrame:
    """CRM export: user_id,email for most identified customers; user_id,platform,handle for social ones."""
    e = np.flatnonzero(pop.crm_email)
    s = np.flatnonzero(pop.crm_social)
    null = pl.lit(None, dtype=pl.String)
    a = pl.DataFrame({"k": e, "user_id": ids.user_id.gather(e), "email": ids.email.gather(e)}).with_columns(
        platform=null, handle=null)
    b = pl.DataFrame({"k": s, "user_id": ids.user_id.gather(s), "platform": ids.platform.gather(s),
                      "handle": ids.handle.gather(s)}).with_columns(email=null)
    cols = ["user_id", "email", "platform", "handle"]
    return (pl.concat([a.select("k", *cols), b.select("k", *cols)]).sort("k", maintain_order=True).select(cols))


def labels_frame(rng: np.random.Generator, pop, ids: Identities, sig: Signals, stage_last: np.ndarray,
                 label_share: float, start, days: int) -> pl.DataFrame:
    import datetime as dt

    identified = pop.id_day < pop.days
    last = start + dt.timedelta(days=days - 1)
    chosen = np.flatnonzero(identified & (stage_last >= 0) & (rng.random(pop.n) < label_share))
    parts = [pl.DataFrame({"k": chosen, "user_id": ids.user_id.gather(chosen),
                           "stage": stage_names(stage_last[chosen]), "as_of_date": [last] * chosen.size},
                          schema_overrides={"as_of_date": pl.Date})]
    if days >= 4:
        x = (days - 1) // 2
        st_mid = sig.stages_as_of(x)
        early = chosen[(rng.random(chosen.size) < 0.25) & (st_mid[chosen] >= 0) & (pop.id_day[chosen] <= x)]
        parts.insert(0, pl.DataFrame({"k": early, "user_id": ids.user_id.gather(early),
                                      "stage": stage_names(st_mid[early]),
                                      "as_of_date": [start + dt.timedelta(days=x)] * early.size},
                                     schema_overrides={"as_of_date": pl.Date}))
    return pl.concat(parts).select("user_id", "stage", "as_of_date")
