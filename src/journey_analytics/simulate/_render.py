"""Turn event columns (integer codes) into the contract's fields, then into bytes.

`logical_frame` builds one polars frame per file with the contract's field
names (timestamps still epoch ms, money in cents, sentiment in hundredths).
`apply_defects` breaks the rows marked bad. `encode` gives the file's bytes:
JSON lines (nulls omitted), CSV (empty cell for null) or Parquet (typed).
"""

from __future__ import annotations

import gzip
import io

import numpy as np
import polars as pl

from . import _catalog as cat
from ._common import (
    COUNTRIES,
    COUNTRY_CURRENCY,
    CURRENCIES,
    DEVICE_CATEGORIES,
    FIRST_NAMES,
    LAST_NAMES,
    MAX_DEVICES,
    PLATFORMS,
    TS_EPOCH,
    hex_strings,
    lut,
    padded,
    scramble,
)
from ._email import EMAIL_EVENTS, M_CLICK
from ._social import NO_SENTIMENT, SOCIAL_EVENTS
from ._web import WEB_EVENTS

BAD_KINDS = (
    "not_json", "missing_event_id", "missing_event_ts", "unreadable_event_ts", "event_ts_without_timezone",
    "missing_event_name", "missing_identity", "missing_email", "missing_handle", "missing_platform",
    "value_not_a_number", "purchase_without_order_id", "rating_out_of_range", "sentiment_out_of_range",
)
(K_NOT_JSON, K_MISSING_ID, K_MISSING_TS, K_BAD_TS, K_NAIVE_TS, K_MISSING_NAME, K_NO_IDENTITY, K_MISSING_EMAIL,
 K_MISSING_HANDLE, K_MISSING_PLATFORM, K_VALUE_NAN, K_NO_ORDER, K_RATING, K_SENTIMENT) = range(len(BAD_KINDS))
NEEDS_PURCHASE = (K_VALUE_NAN, K_NO_ORDER)
GZIP_LEVEL = 5

COLUMNS = {
    "web": ("event_id", "event_ts", "event_name", "anonymous_id", "user_id", "session_id", "email", "page_url",
            "page_title", "referrer", "utm_source", "utm_medium", "utm_campaign", "device_category", "country",
            "order_id", "value", "currency", "rating", "item_id", "search_term"),
    "email": ("event_id", "event_ts", "event_name", "email", "user_id", "campaign_id", "message_id", "url", "reason"),
    "social": ("event_id", "event_ts", "event_name", "platform", "handle", "user_id", "post_id", "thread_id",
               "sentiment", "rating", "text"),
}
ID_PREFIX = {"web": "w", "email": "m", "social": "s"}


def allowed_kinds(channel: str, fmt: str) -> list[int]:
    """Defect kinds that can be expressed in this channel and file format."""
    text = fmt != "parquet"
    kinds = [K_MISSING_ID, K_MISSING_TS, K_MISSING_NAME]
    if text:
        kinds += [K_BAD_TS, K_NAIVE_TS]
    if fmt.startswith("jsonl"):
        kinds.append(K_NOT_JSON)
    if channel == "web":
        kinds += [K_NO_IDENTITY, K_NO_ORDER, K_RATING] + ([K_VALUE_NAN] if text else [])
    elif channel == "email":
        kinds.append(K_MISSING_EMAIL)
    else:
        kinds += [K_MISSING_HANDLE, K_MISSING_PLATFORM, K_RATING, K_SENTIMENT]
    return kinds


class Identities:
    """Per-customer identifier strings and look-up tables shared by all channels."""

    def __init__(self, pop, salt: int, campaigns: cat.Campaigns) -> None:
        n = pop.n
        keys = np.arange(n, dtype=np.int64)
        if n <= 900_000:
            self.user_id = padded(scramble(keys, 900_000, salt) + 100_000, 6, "u")
        else:
            self.user_id = padded(scramble(keys, 10 ** len(str(n)), salt), len(str(n)), "u")
        first = lut(FIRST_NAMES, pop.first_name)
        last = lut(LAST_NAMES, pop.last_name)
        self.email = first + "." + last + pl.Series(keys + 1).cast(pl.String) + "@example.com"
        handle_no = scramble(keys, max(10**7, 10 ** len(str(n))), salt // 7)
        self.handle = "@" + first + "_" + pl.Series(handle_no).cast(pl.String)
        dev_keys = np.arange(n * MAX_DEVICES, dtype=np.uint64)
        m48 = np.uint64((1 << 48) - 1)
        mixed = ((dev_keys * np.uint64(0x7F4A7C15B97F)) & m48) ^ (np.uint64(salt) & m48)
        self.anon = "anon-" + hex_strings(mixed, 12)
        self.platform = lut(PLATFORMS, pop.platform)
        self.country = lut(COUNTRIES, pop.country)
        self.currency = lut(CURRENCIES, np.asarray(COUNTRY_CURRENCY)[pop.country])
        self.dev_cat = lut(DEVICE_CATEGORIES, pop.dev_cat.ravel())
        self.utm_rows = cat.utm_table(campaigns)
        self.campaign_names = campaigns.names
        self.o_cents = pop.o_cents
        self.salt = salt


def _take(series: pl.Series, idx: np.ndarray, mask: np.ndarray | None = None) -> pl.Series:
    idx = np.asarray(idx, dtype=np.int64)
    if mask is not None:
        idx = np.where(mask, idx, -1)
    s = pl.Series(idx)
    return series.gather(pl.select(pl.when(s >= 0).then(s)).to_series())


def _keep(s: pl.Series, mask: np.ndarray) -> pl.Series:
    return pl.select(pl.when(pl.Series(mask)).then(s)).to_series()


def event_ids(seq: np.ndarray, channel: str, salt: int) -> pl.Series:
    return padded(scramble(seq, 10**12, salt), 12, ID_PREFIX[channel])


def logical_frame(channel: str, t: dict, rows: np.ndarray, seq: np.ndarray, ids: Identities) -> pl.DataFrame:
    """Contract fields for table rows `rows`, with event numbers `seq`."""
    c = t["cust"][rows].astype(np.int64)
    uid = t["uid"][rows]
    cols: dict[str, pl.Series | np.ndarray] = {
        "event_id": event_ids(seq, channel, ids.salt),
        "event_ts": t["ts"][rows],
    }
    if channel == "web":
        dev = c * MAX_DEVICES + t["dev"][rows]
        order = t["order"][rows].astype(np.int64)
        has_order = order >= 0
        sess = t["sess"][rows]
        utm = t["utm"][rows]
        rating = t["rating"][rows].astype(np.int64)
        cents = np.zeros(order.size, np.int64)
        cents[has_order] = ids.o_cents[order[has_order]]
        cols |= {
            "event_name": lut(WEB_EVENTS, t["name"][rows]),
            "anonymous_id": _take(ids.anon, dev),
            "user_id": _take(ids.user_id, c, uid),
            "session_id": _keep(padded(scramble(np.maximum(sess, 0), 10**10, ids.salt // 3), 10, "s-"), sess >= 0),
            "email": _take(ids.email, c, t["email"][rows]),
            "page_url": lut(cat.PAGE_URLS, t["page"][rows]),
            "page_title": lut(cat.PAGE_TITLES, t["page"][rows]),
            "referrer": lut(cat.REFERRERS, t["ref"][rows]),
            "utm_source": lut([r[0] for r in ids.utm_rows], utm),
            "utm_medium": lut([r[1] for r in ids.utm_rows], utm),
            "utm_campaign": lut([r[2] for r in ids.utm_rows], utm),
            "device_category": _take(ids.dev_cat, dev),
            "country": _take(ids.country, c),
            "order_id": _keep(padded(scramble(np.maximum(order, 0), 10**8, ids.salt // 5), 8, "o"), has_order),
            "value": _keep(pl.Series(cents), has_order),
            "currency": _take(ids.currency, c, has_order),
            "rating": _keep(pl.Series(rating), rating > 0),
            "item_id": lut(cat.SKUS, t["item"][rows]),
            "search_term": lut(cat.SEARCH_TERMS, t["term"][rows]),
        }
    elif channel == "email":
        camp = t["camp"][rows].astype(np.int64)
        name = t["name"][rows]
        camp_s = lut(ids.campaign_names, camp)
        url = lut([f"{cat.SITE}/c/{x}" for x in cat.CATEGORIES], t["url"][rows])
        cols |= {
            "event_name": lut(EMAIL_EVENTS, name),
            "email": _take(ids.email, c),
            "user_id": _take(ids.user_id, c, uid),
            "campaign_id": camp_s,
            "message_id": padded(scramble(t["msg"][rows], 10**10, ids.salt // 11), 10, "msg-"),
            "url": _keep(url + "?utm_source=newsletter&utm_medium=email&utm_campaign="
                         + camp_s.str.strip_prefix("cmp-"), name == M_CLICK),
            "reason": lut(cat.REASONS, t["reason"][rows]),
        }
    else:
        post = t["post"][rows].astype(np.int64)
        thread = t["thread"][rows]
        sent = t["sent"][rows].astype(np.int64)
        rating = t["rating"][rows].astype(np.int64)
        plat = lut(PLATFORMS, t["platform"][rows])
        cols |= {
            "event_name": lut(SOCIAL_EVENTS, t["name"][rows]),
            "platform": plat,
            "handle": _take(ids.handle, c),
            "user_id": _take(ids.user_id, c, uid),
            "post_id": _keep(plat + "-post-" + pl.Series(np.maximum(post, 0)).cast(pl.String).str.zfill(5), post >= 0),
            "thread_id": _keep(padded(scramble(np.maximum(thread, 0), 10**8, ids.salt // 13), 8, "th-"), thread >= 0),
            "sentiment": _keep(pl.Series(sent), sent != NO_SENTIMENT),
            "rating": _keep(pl.Series(rating), rating > 0),
            "text": lut(cat.TEXTS, t["text"][rows]),
        }
    cols |= {"_style": t["style"][rows], "_off": t["off"][rows]}
    return pl.DataFrame(cols)


def apply_defects(df: pl.DataFrame, bad: np.ndarray, channel: str) -> pl.DataFrame:
    """Break rows where `bad` holds a defect kind (>= 0); `_bad` keeps the kind."""
    df = df.with_columns(_bad=pl.Series(bad.astype(np.int8)))
    k = pl.col("_bad")

    def unless(*kinds: int, col: str) -> pl.Expr:
        return pl.when(k.is_in(list(kinds))).then(None).otherwise(pl.col(col)).alias(col)

    ex = [
        unless(K_MISSING_ID, col="event_id"),
        unless(K_MISSING_TS, col="event_ts"),
        pl.when(k == K_MISSING_NAME).then(None)
        .when(k.is_in([K_VALUE_NAN, K_NO_ORDER])).then(pl.lit("purchase"))
        .when(k == K_RATING).then(pl.lit("write_review" if channel == "web" else "review"))
        .when(k == K_SENTIMENT).then(pl.lit("comment"))
        .otherwise(pl.col("event_name")).alias("event_name"),
    ]
    if channel == "web":
        ex += [unless(K_NO_IDENTITY, col="anonymous_id"), unless(K_NO_IDENTITY, col="user_id"),
               unless(K_NO_ORDER, col="order_id"),
               pl.when(k == K_RATING).then(9).otherwise(pl.col("rating")).alias("rating")]
    elif channel == "email":
        ex.append(unless(K_MISSING_EMAIL, col="email"))
    else:
        ex += [unless(K_MISSING_HANDLE, col="handle"), unless(K_MISSING_PLATFORM, col="platform"),
               pl.when(k == K_RATING).then(9).otherwise(pl.col("rating")).alias("rating"),
               pl.when(k == K_SENTIMENT).then(350).otherwise(pl.col("sentiment")).alias("sentiment")]
    return df.with_columns(ex)


def _ts_text() -> pl.Expr:
    ts, off, style, k = pl.col("event_ts"), pl.col("_off").cast(pl.Int64), pl.col("_style"), pl.col("_bad")
    wall = pl.from_epoch(ts + off * 60_000, time_unit="ms").dt.strftime("%Y-%m-%dT%H:%M:%S%.3f")
    a = off.abs()
    suffix = (pl.when(off == 0).then(pl.lit("Z"))
              .otherwise(pl.concat_str([pl.when(off < 0).then(pl.lit("-")).otherwise(pl.lit("+")),
                                        (a // 60).cast(pl.String).str.zfill(2), pl.lit(":"),
                                        (a % 60).cast(pl.String).str.zfill(2)])))
    naive = pl.from_epoch(ts, time_unit="ms").dt.strftime("%Y-%m-%d %H:%M:%S")
    return (pl.when(k == K_BAD_TS).then(pl.lit("yesterday"))
            .when(k == K_NAIVE_TS).then(naive)
            .when(style == TS_EPOCH).then(ts.cast(pl.String))
            .otherwise(pl.concat_str([wall, suffix])).alias("event_ts"))


def _decimal(col: str, scale: int) -> pl.Expr:
    v = pl.col(col)
    a = v.abs()
    digits = 2 if scale == 100 else 0
    return pl.concat_str([pl.when(v < 0).then(pl.lit("-")).otherwise(pl.lit("")), (a // scale).cast(pl.String),
                          pl.lit("."), (a % scale).cast(pl.String).str.zfill(digits)]).alias(col)


def to_text(df: pl.DataFrame, channel: str) -> pl.DataFrame:
    """All-string columns in contract order (for JSON lines and CSV)."""
    ex = [_ts_text()]
    if channel == "web":
        bad_value = pl.lit("n/a")
        ex += [pl.when(pl.col("_bad") == K_VALUE_NAN).then(bad_value).otherwise(_decimal("value", 100)).alias("value"),
               pl.col("rating").cast(pl.String)]
    elif channel == "social":
        ex += [_decimal("sentiment", 100), pl.col("rating").cast(pl.String)]
    return df.with_columns(ex).select(*COLUMNS[channel], "_bad")


def to_typed(df: pl.DataFrame, channel: str) -> pl.DataFrame:
    """Parquet columns: strings, event_ts as epoch ms, value/sentiment as double, rating as int."""
    ex = []
    if channel == "web":
        ex.append((pl.col("value") / 100).alias("value"))
    if channel == "social":
        ex.append((pl.col("sentiment") / 100).alias("sentiment"))
    return df.with_columns(ex).select(COLUMNS[channel])


_NUMERIC = r"^-?[0-9]+(\.[0-9]+)?$"


def _jsonl(df: pl.DataFrame, channel: str) -> bytes:
    numeric_maybe = {"event_ts", "value", "sentiment", "rating"}
    frags = []
    for name in COLUMNS[channel]:
        col = pl.col(name)
        quoted = pl.concat_str([pl.lit('"'), col, pl.lit('"')])
        val = pl.when(col.str.contains(_NUMERIC)).then(col).otherwise(quoted) if name in numeric_maybe else quoted
        frags.append(pl.concat_str([pl.lit(f'"{name}":'), val]))
    line = pl.concat_str([pl.lit("{"), pl.concat_str(frags, separator=",", ignore_nulls=True), pl.lit("}")])
    line = pl.when(pl.col("_bad") == K_NOT_JSON).then(line.str.slice(0, line.str.len_chars() // 2)).otherwise(line)
    text = df.select(line.alias("l")).to_series().str.join("\n").item()
    return (text + "\n").encode() if text else b""


def encode(df: pl.DataFrame, channel: str, fmt: str) -> bytes:
    """The file's bytes in format `fmt` (jsonl, jsonl.gz, csv, parquet)."""
    if fmt == "parquet":
        buf = io.BytesIO()
        to_typed(df, channel).write_parquet(buf, compression="zstd")
        return buf.getvalue()
    text = to_text(df, channel)
    if fmt == "csv":
        return text.drop("_bad").write_csv().encode()
    data = _jsonl(text, channel)
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0) if fmt == "jsonl.gz" else data
