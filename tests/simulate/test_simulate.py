"""Tests of the landing-folder simulator, on real files written to tmp_path."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import gzip
import json
import re
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from journey_analytics.simulate import SimulationResult, simulate

START = dt.date(2026, 10, 1)
WEB_NAMES = {
    "page_view", "view_item", "search", "add_to_cart", "remove_from_cart", "view_cart", "begin_checkout",
    "add_shipping_info", "add_payment_info", "purchase", "refund", "sign_up", "login", "generate_lead", "share",
    "write_review", "refer_friend",
}
EMAIL_NAMES = {"processed", "delivered", "open", "click", "bounce", "dropped", "deferred", "spamreport", "unsubscribe"}
SOCIAL_NAMES = {"impression", "like", "comment", "share", "save", "follow", "unfollow", "mention", "message",
                "brand_reply", "review"}
INTENT = {"view_item", "search", "add_to_cart", "begin_checkout", "add_payment_info", "generate_lead", "sign_up"}
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
NAIVE = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}$")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


# ---------------------------------------------------------------- helpers


def parse_ts(v) -> dt.datetime | None:
    """The instant of a contract timestamp (ISO-8601 with zone, or epoch ms), else None."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int) or (isinstance(v, str) and v.isdigit()):
        return dt.datetime.fromtimestamp(int(v) / 1000, dt.timezone.utc)
    if isinstance(v, str) and ISO.match(v):
        return dt.datetime.fromisoformat(v.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
    return None


def _num(v) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str) and NUMBER.match(v):
        return float(v)
    return None


def read_rows(root: Path) -> list[dict]:
    """Every event row of every file, as dicts; a line that is not JSON has rec=None."""
    rows = []
    for p in sorted(root.glob("*/dt=*/*")):
        channel, day = p.parts[-3], dt.date.fromisoformat(p.parts[-2][3:])
        if p.name.endswith(".parquet"):
            recs = [{k: v for k, v in r.items() if v is not None} for r in pq.read_table(p).to_pylist()]
        elif p.name.endswith(".csv"):
            with open(p, newline="") as f:
                recs = [{k: v for k, v in r.items() if v != ""} for r in csv.DictReader(f)]
        else:
            data = gzip.decompress(p.read_bytes()) if p.name.endswith(".gz") else p.read_bytes()
            recs = []
            for line in data.decode().splitlines():
                try:
                    recs.append(json.loads(line))
                except json.JSONDecodeError:
                    recs.append(None)
        rows += [dict(channel=channel, dt=day, file=p, rec=r) for r in recs]
    return rows


def classify(row: dict) -> str | None:
    """None when the row follows the input contract, else the kind of defect."""
    r, ch = row["rec"], row["channel"]
    if r is None:
        return "not_json"
    if "event_id" not in r:
        return "missing_event_id"
    if "event_ts" not in r:
        return "missing_event_ts"
    if isinstance(r["event_ts"], str) and NAIVE.match(r["event_ts"]):
        return "event_ts_without_timezone"
    if parse_ts(r["event_ts"]) is None:
        return "unreadable_event_ts"
    if "event_name" not in r:
        return "missing_event_name"
    if ch == "web":
        if "anonymous_id" not in r and "user_id" not in r:
            return "missing_identity"
        if r["event_name"] in ("purchase", "refund"):
            if "value" in r and _num(r["value"]) is None:
                return "value_not_a_number"
            if "order_id" not in r:
                return "purchase_without_order_id"
    if ch == "email" and "email" not in r:
        return "missing_email"
    if ch == "social":
        if "handle" not in r:
            return "missing_handle"
        if "platform" not in r:
            return "missing_platform"
        if "sentiment" in r:
            s = _num(r["sentiment"])
            if s is None or not -1 <= s <= 1:
                return "sentiment_out_of_range"
    if "rating" in r:
        v = _num(r["rating"])
        if v is None or v != int(v) or not 1 <= v <= 5:
            return "rating_out_of_range"
    return None


def unique_good(rows: list[dict]) -> list[dict]:
    """Good rows, first copy of each event_id only."""
    seen, out = set(), []
    for row in rows:
        if classify(row) is None and row["rec"]["event_id"] not in seen:
            seen.add(row["rec"]["event_id"])
            out.append(row)
    return out


def read_customers(root: Path) -> list[dict]:
    with open(root / "_truth" / "customers.csv", newline="") as f:
        return list(csv.DictReader(f))


def observed_stages(root: Path, rows: list[dict], last: dt.date) -> dict[str, tuple[str, int]]:
    """The DESIGN's stage rules applied to the files, with identities stitched by the truth."""
    customers = read_customers(root)
    key_of = {}
    for c in customers:
        ids = [c["user_id"], c["email"], c["handle"]] + [a for a in c["anonymous_ids"].split("|") if a]
        key_of.update({i: c["customer_key"] for i in ids if i})
    lo = last - dt.timedelta(days=89)
    orders, intent, adv, touch = collections.defaultdict(set), set(), set(), set()
    for row in unique_good(rows):
        r, ch, name = row["rec"], row["channel"], row["rec"]["event_name"]
        recent = parse_ts(r["event_ts"]).date() >= lo
        if ch == "web":
            k = key_of.get(r.get("user_id")) or key_of[r["anonymous_id"]]
            touch.add(k)
            if name == "purchase":
                orders[k].add(r["order_id"])
            if name in INTENT and recent:
                intent.add(k)
            if recent and (name == "refer_friend" or (name == "write_review" and int(r["rating"]) >= 4)):
                adv.add(k)
        elif ch == "email":
            k = key_of[r["email"]]
            if name in ("open", "click", "unsubscribe", "spamreport"):
                touch.add(k)
            if name == "click" and recent:
                intent.add(k)
        else:
            k = key_of[r["handle"]]
            if name != "brand_reply":
                touch.add(k)
            positive = "sentiment" in r and float(r["sentiment"]) > 0
            if recent and ((name in ("share", "mention") and positive) or (name == "review" and int(r["rating"]) >= 4)):
                adv.add(k)
    out = {}
    for c in customers:
        k = c["customer_key"]
        n = len(orders[k])
        stage = "awareness" if k in touch else ""
        stage = "consideration" if k in intent else stage
        stage = {0: stage, 1: "purchase"}.get(n, "retention")
        stage = "advocacy" if n and k in adv else stage
        out[k] = (stage, n)
    return out


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> tuple[Path, SimulationResult]:
    out = tmp_path_factory.mktemp("sim") / "landing"
    return out, simulate(out, customers=400, days=12, seed=11)


@pytest.fixture(scope="module")
def rows(landing) -> list[dict]:
    return read_rows(landing[0])


@pytest.fixture(scope="module")
def summary(landing) -> dict:
    return json.loads((landing[0] / "_truth" / "summary.json").read_text())


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> tuple[Path, list[dict], dict]:
    out = tmp_path_factory.mktemp("big") / "landing"
    simulate(out, customers=2500, days=14, seed=3)
    return out, read_rows(out), json.loads((out / "_truth" / "summary.json").read_text())


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- tests


class TestArguments:
    """simulate() refuses nonsense arguments with a ValueError naming the argument."""

    @pytest.mark.parametrize(("kwargs", "name"), [
        ({"customers": 0}, "customers"), ({"customers": -3}, "customers"), ({"days": 0}, "days"),
        ({"formats": "xml"}, "formats"), ({"bad_row_rate": 1.5}, "bad_row_rate"),
        ({"duplicate_rate": -0.1}, "duplicate_rate"), ({"late_rate": 2}, "late_rate"),
        ({"label_share": -1}, "label_share"), ({"seed": -1}, "seed"),
    ])
    def test_refuses(self, tmp_path, kwargs, name):
        args = {"out": tmp_path / "x", "customers": 10, "days": 2, "seed": 1} | kwargs
        with pytest.raises(ValueError, match=name):
            simulate(**args)
        assert not (tmp_path / "x").exists()

    def test_refuses_non_empty_out(self, tmp_path):
        (tmp_path / "keep.txt").write_text("x")
        with pytest.raises(ValueError, match="out"):
            simulate(tmp_path, customers=10, days=2, seed=1)

    def test_accepts_existing_empty_directory(self, tmp_path):
        result = simulate(tmp_path, customers=20, days=2, seed=1)
        assert result.out == tmp_path and result.n_events_written > 0


class TestDeterminism:
    """The same arguments give byte-identical folders; another seed gives other files."""

    def test_same_seed_same_bytes(self, tmp_path):
        a = simulate(tmp_path / "a", customers=150, days=6, seed=5)
        b = simulate(tmp_path / "b", customers=150, days=6, seed=5)
        assert _files(a.out) == _files(b.out)

    def test_other_seed_differs(self, tmp_path):
        a = simulate(tmp_path / "a", customers=150, days=6, seed=5)
        b = simulate(tmp_path / "b", customers=150, days=6, seed=6)
        fa, fb = _files(a.out), _files(b.out)
        common = set(fa) & set(fb)
        assert any(fa[k] != fb[k] for k in common)


class TestLayout:
    """The folder follows the landing contract, and mixed mode uses every format."""

    def test_folders_and_names(self, landing):
        root, res = landing
        for p in root.glob("*/dt=*/*"):
            channel, part = p.parts[-3], p.parts[-2]
            assert channel in ("web", "email", "social")
            day = dt.date.fromisoformat(part.removeprefix("dt="))
            assert res.first_day <= day <= res.last_day
        for f in ("identities/crm_export.csv", "labels/labels.csv", "_truth/customers.csv", "_truth/summary.json"):
            assert (root / f).is_file()

    def test_mixed_has_every_format(self, landing):
        root, _ = landing
        names = {p.name for p in root.glob("*/dt=*/*")}
        assert {"part-0000.jsonl.gz", "app-0000.parquet", "part-0000.csv", "part-0000.jsonl"} <= names
        assert {p.parts[-3] for p in root.glob("*/dt=*/*.csv")} == {"email"}
        assert {p.parts[-3] for p in root.glob("*/dt=*/*.jsonl")} == {"social"}

    def test_parquet_on_some_days_only(self, landing):
        root, res = landing
        days = {p.parts[-2] for p in root.glob("web/dt=*/app-0000.parquet")}
        assert 0 < len(days) < (res.last_day - res.first_day).days + 1

    @pytest.mark.parametrize("fmt", ["jsonl", "jsonl.gz", "csv", "parquet"])
    def test_single_format(self, tmp_path, fmt):
        res = simulate(tmp_path / "s", customers=120, days=4, seed=2, formats=fmt)
        files = list(res.out.glob("*/dt=*/*"))
        assert files and all(p.name.endswith("." + fmt) for p in files)
        rows = read_rows(res.out)
        assert len(rows) == res.n_events_written
        assert sum(classify(r) is not None for r in rows) == res.n_bad_rows


class TestReadable:
    """Every event file opens with duckdb and polars, and the good rows carry the contract's fields."""

    def test_duckdb_and_polars(self, landing):
        root, _ = landing
        con = duckdb.connect()
        for p in sorted(root.glob("*/dt=*/*")):
            if p.name.endswith(".parquet"):
                n = con.execute(f"select count(*) from read_parquet('{p}')").fetchone()[0]
                assert n == pl.read_parquet(p).height
            elif p.name.endswith(".csv"):
                n = con.execute(f"select count(*) from read_csv('{p}', all_varchar=true)").fetchone()[0]
                assert n == pl.read_csv(p, infer_schema_length=0).height
            else:
                q = (f"select count(*) from read_json('{p}', format='newline_delimited', ignore_errors=true, "
                     "columns={'event_id': 'VARCHAR', 'event_ts': 'VARCHAR'})")
                n = con.execute(q).fetchone()[0]
                assert n > 0

    def test_parquet_types(self, landing):
        root, _ = landing
        p = next(iter(sorted(root.glob("web/dt=*/app-0000.parquet"))))
        schema = pl.read_parquet_schema(p)
        assert schema["event_ts"] == pl.Int64 and schema["value"] == pl.Float64 and schema["rating"] == pl.Int64
        assert schema["event_id"] == pl.String and schema["session_id"] == pl.String
        assert pl.read_parquet(p)["session_id"].null_count() == 0

    def test_required_fields_on_good_rows(self, rows):
        good = [r for r in rows if classify(r) is None]
        names = {"web": WEB_NAMES, "email": EMAIL_NAMES, "social": SOCIAL_NAMES}
        for row in good:
            r = row["rec"]
            assert r["event_name"] in names[row["channel"]]
            assert all(k == k.lower() and " " not in k for k in r)
            if row["channel"] == "web":
                assert "anonymous_id" in r and r["anonymous_id"].startswith("anon-")
                assert "user_id" not in r or re.match(r"^u\d{6}$", r["user_id"])
                assert r["device_category"] in ("desktop", "mobile", "tablet") and len(r["country"]) == 2
                if r["event_name"] in ("sign_up", "login"):
                    assert "user_id" in r and "@" in r["email"]
                if r["event_name"] in ("purchase", "refund"):
                    assert re.match(r"^o\d+$", r["order_id"]) and 20 <= _num(r["value"]) <= 300
                    assert r["currency"] in ("EUR", "USD")
            elif row["channel"] == "email":
                assert r["email"].endswith("@example.com")
                assert r["campaign_id"].startswith("cmp-")
                assert ("url" in r) == (r["event_name"] == "click")
            else:
                assert r["handle"].startswith("@") and r["platform"]
                if r["event_name"] in ("message", "brand_reply"):
                    assert r["thread_id"]

    def test_timestamp_styles(self, rows):
        kinds = collections.Counter()
        for row in rows:
            ts = (row["rec"] or {}).get("event_ts")
            if classify(row) is None:
                epoch = isinstance(ts, int) or str(ts).isdigit()
                kinds["epoch" if epoch else "Z" if ts.endswith("Z") else "offset"] += 1
        assert kinds["Z"] > kinds["offset"] > 0 and kinds["epoch"] > 0

    def test_offset_stamps_are_the_same_instant(self, rows):
        for row in rows:
            ts = (row["rec"] or {}).get("event_ts")
            if classify(row) is None and isinstance(ts, str) and not ts.endswith("Z"):
                inst = parse_ts(ts)
                assert dt.date(2026, 10, 1) <= inst.date() <= dt.date(2026, 10, 12)


class TestCounts:
    """The summary's counts equal what is in the files."""

    def test_rows_written(self, landing, rows, summary):
        _, res = landing
        assert len(rows) == res.n_events_written == summary["n_events_written"]
        by_channel = collections.Counter(r["channel"] for r in rows)
        assert dict(by_channel) == res.rows_by_channel == summary["rows_by_channel"]
        assert sum(f["rows"] for f in summary["files"]) == len(rows)

    def test_bad_rows_by_kind(self, landing, rows, summary):
        found = collections.Counter(k for k in map(classify, rows) if k)
        assert dict(found) == summary["bad_rows_by_kind"]
        assert sum(found.values()) == landing[1].n_bad_rows == summary["n_bad_rows"] > 0
        assert len(found) >= 8

    def test_duplicates(self, landing, rows, summary):
        good = [r for r in rows if classify(r) is None]
        ids = collections.Counter(r["rec"]["event_id"] for r in good)
        assert sum(c - 1 for c in ids.values()) == summary["n_duplicate_rows"] == landing[1].n_duplicate_rows > 0
        assert max(ids.values()) == 2
        first: dict[str, dict] = {}
        for r in good:
            assert first.setdefault(r["rec"]["event_id"], r["rec"]) == r["rec"]
        bad_ids = {r["rec"]["event_id"] for r in rows if classify(r) and r["rec"] and "event_id" in r["rec"]}
        assert not bad_ids & set(ids)

    def test_duplicates_same_and_later_file(self, rows, summary):
        where = collections.defaultdict(list)
        for r in rows:
            if classify(r) is None:
                where[r["rec"]["event_id"]].append(r["file"])
        pairs = [f for f in where.values() if len(f) == 2]
        same = sum(a == b for a, b in pairs)
        later = sum(a != b for a, b in pairs)
        ch = summary["channels"]
        assert same == sum(c["duplicate_rows_same_file"] for c in ch.values()) > 0
        assert later == sum(c["duplicate_rows_later_file"] for c in ch.values()) > 0


class TestLateRows:
    """Late events arrive after their event day but never after the last day."""

    def test_late(self, landing, rows, summary):
        _, res = landing
        arrival: dict[str, dt.date] = {}
        day: dict[str, dt.date] = {}
        for r in rows:
            if classify(r) is None:
                d = parse_ts(r["rec"]["event_ts"]).date()
                assert d <= r["dt"] <= res.last_day
                e = r["rec"]["event_id"]
                arrival[e] = min(arrival.get(e, r["dt"]), r["dt"])
                day[e] = d
        late = sum(arrival[e] > day[e] for e in arrival)
        assert late == summary["n_late_rows"] == res.n_late_rows > 0
        assert max((arrival[e] - day[e]).days for e in arrival) <= 3


class TestTruth:
    """The ground truth agrees with the DESIGN's stage rules applied to the files."""

    def test_stages_match_rules_except_hard_cases(self, landing, rows):
        root, res = landing
        observed = observed_stages(root, rows, res.last_day)
        differ = collections.Counter()
        for c in read_customers(root):
            stage, n_orders = observed[c["customer_key"]]
            assert int(c["n_orders"]) == n_orders
            if stage != c["true_stage"]:
                assert c["hard_case"] and (c["true_stage"], stage) == ("consideration", "awareness")
                differ[c["hard_case"]] += 1
        assert sum(differ.values()) > 0

    def test_identifiers_link_to_exactly_the_true_customers(self, landing, rows):
        root, _ = landing
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            parent.setdefault(x, x)
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        def link(ids: list[str]) -> None:
            for i in ids[1:]:
                parent[find(i)] = find(ids[0])

        for r in rows:
            if classify(r) is None:
                link([find(r["rec"][k]) for k in ("user_id", "anonymous_id", "email", "handle") if k in r["rec"]])
        with open(root / "identities" / "crm_export.csv", newline="") as f:
            for row in csv.DictReader(f):
                link([row[k] for k in ("user_id", "email", "handle") if row[k]])
        groups = collections.defaultdict(set)
        for c in read_customers(root):
            ids = [c["user_id"], c["email"], c["handle"], *c["anonymous_ids"].split("|")]
            for i in ids:
                if i in parent:
                    groups[c["customer_key"]].add(find(i))
        assert all(len(g) == 1 for g in groups.values())
        assert len({next(iter(g)) for g in groups.values()}) == len(groups) == len({find(x) for x in parent})

    def test_order_rules(self, landing):
        for c in read_customers(landing[0]):
            n = int(c["n_orders"])
            if n == 1:
                assert c["true_stage"] in ("purchase", "advocacy")
            elif n >= 2:
                assert c["true_stage"] in ("retention", "advocacy")
            else:
                assert c["true_stage"] in ("", "awareness", "consideration")
            if c["true_stage"] == "":
                assert c["segment"] in ("passive_contact", "reader_contact")

    def test_identified_emails_are_linked(self, landing, rows):
        root, _ = landing
        crm = pl.read_csv(root / "identities" / "crm_export.csv", infer_schema_length=0)
        assert crm.columns == ["user_id", "email", "platform", "handle"]
        linked = set(crm["email"].drop_nulls())
        linked |= {r["rec"]["email"] for r in rows
                   if classify(r) is None and r["channel"] == "web" and "email" in r["rec"]}
        for c in read_customers(root):
            if c["is_identified"] == "true":
                assert c["email"] in linked and re.match(r"^u\d{6}$", c["user_id"])
        handles = set(crm["handle"].drop_nulls())
        assert handles <= {c["handle"] for c in read_customers(root)}

    def test_multi_device_and_anonymous(self, landing):
        customers = read_customers(landing[0])
        identified = [c for c in customers if c["is_identified"] == "true"]
        multi = sum("|" in c["anonymous_ids"] for c in identified) / len(identified)
        assert 0.15 < multi < 0.45
        assert any(c["is_identified"] == "false" and c["anonymous_ids"] for c in customers)

    def test_labels(self, landing):
        root, res = landing
        labels = pl.read_csv(root / "labels" / "labels.csv", infer_schema_length=0)
        assert labels.columns == ["user_id", "stage", "as_of_date"]
        truth = {c["user_id"]: c["true_stage"] for c in read_customers(root) if c["user_id"]}
        last = labels.filter(pl.col("as_of_date") == res.last_day.isoformat())
        assert last.height > 0 and all(truth[u] == s for u, s in last.select("user_id", "stage").iter_rows())
        assert labels["as_of_date"].n_unique() == 2

    def test_summary_keys(self, summary, landing):
        for k in ("parameters", "n_customers", "n_events_written", "rows_by_channel", "n_bad_rows", "bad_rows_by_kind",
                  "n_duplicate_rows", "n_late_rows", "first_day", "last_day", "planted_pain_points", "stage_counts"):
            assert k in summary
        assert sum(summary["stage_counts"].values()) == summary["n_customers"] == 400
        kinds = {p["kind"] for p in summary["planted_pain_points"]}
        assert kinds == {"funnel_step_segment_drop_off", "email_bounce_rate", "social_slow_response",
                         "negative_sentiment_rise"}
        assert all(p["description"] for p in summary["planted_pain_points"])


class TestPlantedPainPoints:
    """The planted problems of the last seven days are visible in the files."""

    def _period(self, summary):
        return dt.date.fromisoformat(summary["planted_pain_points"][0]["period_start"])

    def test_mobile_payment_drop_off(self, big):
        _, rows, summary = big
        p0 = self._period(summary)
        n = collections.Counter()
        for r in unique_good(rows):
            rec = r["rec"]
            if r["channel"] == "web" and rec["event_name"] in ("add_payment_info", "purchase"):
                late = parse_ts(rec["event_ts"]).date() >= p0
                n[(late, rec["device_category"] == "mobile", rec["event_name"])] += 1

        def rate(late, mobile):
            return n[(late, mobile, "purchase")] / n[(late, mobile, "add_payment_info")]

        assert rate(True, True) < 0.7 * rate(True, False)
        assert rate(True, True) < 0.7 * rate(False, True)

    def test_email_bounce(self, big):
        _, rows, summary = big
        cmp = next(p for p in summary["planted_pain_points"] if p["kind"] == "email_bounce_rate")["campaign_id"]
        n = collections.Counter((r["rec"]["campaign_id"] == cmp, r["rec"]["event_name"]) for r in unique_good(rows)
                                if r["channel"] == "email")
        assert n[(True, "bounce")] / n[(True, "processed")] > 0.07
        assert n[(False, "bounce")] / n[(False, "processed")] < 0.03

    def test_slow_replies(self, big):
        _, rows, summary = big
        pp = next(p for p in summary["planted_pain_points"] if p["kind"] == "social_slow_response")
        p0 = self._period(summary)
        good = [r["rec"] for r in unique_good(rows) if r["channel"] == "social"]
        replies = {r["thread_id"]: parse_ts(r["event_ts"]) for r in good if r["event_name"] == "brand_reply"}
        delays, unanswered = [], 0
        for r in good:
            recent = parse_ts(r["event_ts"]).date() >= p0
            if r["event_name"] == "message" and r["platform"] == pp["platform"] and recent:
                if r["thread_id"] in replies:
                    delays.append((replies[r["thread_id"]] - parse_ts(r["event_ts"])).total_seconds() / 3600)
                else:
                    unanswered += 1
        delays.sort()
        assert delays and delays[len(delays) // 2] > 20
        assert unanswered / (unanswered + len(delays)) > 0.2

    def test_negative_sentiment(self, big):
        _, rows, summary = big
        pp = next(p for p in summary["planted_pain_points"] if p["kind"] == "negative_sentiment_rise")
        p0 = self._period(summary)
        n = collections.Counter()
        for r in unique_good(rows):
            rec = r["rec"]
            if r["channel"] == "social" and rec["platform"] == pp["platform"] and "sentiment" in rec:
                late = parse_ts(rec["event_ts"]).date() >= p0
                n[(late, float(rec["sentiment"]) < -0.2)] += 1
        late_share = n[(True, True)] / (n[(True, True)] + n[(True, False)])
        before_share = n[(False, True)] / (n[(False, True)] + n[(False, False)])
        assert late_share > 0.4 and late_share > 1.8 * before_share
