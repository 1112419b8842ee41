"""Delivery: arrival days (late events), retried deliveries (duplicates),
contract-breaking rows, and one file per channel, stream and arrival day.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._common import DAY_MS
from ._render import (
    BAD_KINDS,
    K_MISSING_ID,
    NEEDS_PURCHASE,
    Identities,
    allowed_kinds,
    apply_defects,
    encode,
    logical_frame,
)
from ._web import E as WEB_CODE

EXT = {"jsonl": "jsonl", "jsonl.gz": "jsonl.gz", "csv": "csv", "parquet": "parquet"}
MIXED = {("web", 0): "jsonl.gz", ("web", 1): "parquet", ("email", 0): "csv", ("social", 0): "jsonl"}
STREAM_FILE = {0: "part-0000", 1: "app-0000"}


@dataclass
class Rates:
    bad_row_rate: float
    duplicate_rate: float
    late_rate: float


@dataclass
class ChannelStats:
    """What was written for one channel."""

    rows_written: int = 0
    events: int = 0  # distinct good events
    duplicate_rows: int = 0
    duplicate_rows_same_file: int = 0
    duplicate_rows_later_file: int = 0
    bad_rows: int = 0
    late_rows: int = 0
    bad_rows_by_kind: dict[str, int] = field(default_factory=dict)
    files: list[dict] = field(default_factory=list)


class Deliverer:
    """Writes the event files of all channels; owns the event numbering."""

    def __init__(self, rng: np.random.Generator, out: Path, days: int, start: dt.date, day0_ms: int,
                 formats: str, rates: Rates, ids: Identities, n_good_total: int, workers: int = 2) -> None:
        self.rng, self.out, self.days, self.start, self.day0_ms = rng, out, days, start, day0_ms
        self.formats, self.rates, self.ids = formats, rates, ids
        self.next_seq = 0
        self.next_bad_seq = n_good_total
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.pending: list = []

    def fmt(self, channel: str, stream: int) -> str:
        return MIXED[(channel, stream)] if self.formats == "mixed" else self.formats

    def deliver(self, channel: str, t: dict) -> ChannelStats:
        rng, D, rates = self.rng, self.days, self.rates
        stats = ChannelStats(bad_rows_by_kind={k: 0 for k in BAD_KINDS})
        n = t["ts"].size
        event_day = (t["ts"] - self.day0_ms) // DAY_MS
        assert n == 0 or (event_day.min() >= 0 and event_day.max() < D)
        late = rng.random(n) < rates.late_rate
        arrival = np.where(late, np.minimum(event_day + rng.integers(1, 4, n), D - 1), event_day)
        stats.late_rows = int((arrival > event_day).sum())
        stats.events = n
        seq = self.next_seq + np.arange(n, dtype=np.int64)
        self.next_seq += n

        d_idx = np.flatnonzero(rng.random(n) < rates.duplicate_rate)
        same = rng.random(d_idx.size) < 0.5
        arr2 = np.where(same, arrival[d_idx], np.minimum(arrival[d_idx] + rng.integers(1, 3, d_idx.size), D - 1))
        stats.duplicate_rows = int(d_idx.size)
        stats.duplicate_rows_same_file = int((arr2 == arrival[d_idx]).sum())
        stats.duplicate_rows_later_file = stats.duplicate_rows - stats.duplicate_rows_same_file

        stream = t["app"].astype(np.int64) if "app" in t else np.zeros(n, np.int64)
        rows = np.concatenate([np.arange(n), d_idx])
        key = np.concatenate([arrival, arr2]).astype(np.int64) * 2 + stream[rows]
        order = np.argsort(key, kind="stable")
        bounds = np.searchsorted(key[order], np.arange(2 * D + 1))
        is_purchase = t["name"] == WEB_CODE["purchase"] if channel == "web" else np.zeros(n, bool)
        wrote_app = False
        for g in range(2 * D):
            sel = order[bounds[g]:bounds[g + 1]]
            d, s = divmod(g, 2)
            force_empty = (channel == "web" and s == 1 and self.formats == "mixed" and g == 2 * D - 1 and not wrote_app)
            if sel.size == 0 and not force_empty:
                continue
            wrote_app |= s == 1
            fmt = self.fmt(channel, s)
            r = rows[sel]
            nb = int(rng.binomial(r.size, rates.bad_row_rate)) if r.size else 0
            kinds = rng.choice(np.asarray(allowed_kinds(channel, fmt)), nb)
            src = r[rng.integers(0, max(r.size, 1), nb)] if nb else np.zeros(0, np.int64)
            need = np.isin(kinds, NEEDS_PURCHASE)
            pr = r[is_purchase[r]]
            if need.any():
                if pr.size:
                    src = np.where(need, pr[rng.integers(0, pr.size, nb)], src)
                else:
                    kinds = np.where(need, K_MISSING_ID, kinds)
            all_rows = np.concatenate([r, src]).astype(np.int64)
            bad = np.concatenate([np.full(r.size, -1), kinds]).astype(np.int8)
            seqs = np.concatenate([seq[r], self.next_bad_seq + np.arange(nb, dtype=np.int64)])
            self.next_bad_seq += nb
            o = np.lexsort((seqs, t["ts"][all_rows]))
            day = self.start + dt.timedelta(days=d)
            rel = f"{channel}/dt={day.isoformat()}/{STREAM_FILE[s]}.{EXT[fmt]}"
            for kk, cnt in enumerate(np.bincount(kinds.astype(np.int64), minlength=len(BAD_KINDS))):
                stats.bad_rows_by_kind[BAD_KINDS[kk]] += int(cnt)
            stats.bad_rows += nb
            stats.rows_written += all_rows.size
            stats.files.append({"path": rel, "channel": channel, "format": fmt, "dt": day.isoformat(),
                                "rows": int(all_rows.size), "bad_rows": nb})
            self.pending.append(self.pool.submit(self._write, channel, fmt, t, all_rows[o], seqs[o], bad[o], rel))
        stats.bad_rows_by_kind = {k: v for k, v in stats.bad_rows_by_kind.items() if v}
        return stats

    def _write(self, channel: str, fmt: str, t: dict, rows, seqs, bad, rel: str) -> None:
        df = apply_defects(logical_frame(channel, t, rows, seqs, self.ids), bad, channel)
        data = encode(df, channel, fmt)
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def close(self) -> None:
        try:
            for f in self.pending:
                f.result()
        finally:
            self.pool.shutdown()
