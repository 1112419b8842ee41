"""Pain point recall on the simulator's planted problems, over several seeds.

    python benchmarks/evaluate_pain_points.py --customers 5000 --days 31 --seeds 1 2 3 4 5

For each seed: simulate, run the nightly steps (without the orchestrator), flag pain points
as of the last day, and match them with the planted problems in _truth/summary.json.
Prints a table and, with --write, writes docs/pain-points.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from collections import Counter
from datetime import date
from pathlib import Path

from journey_analytics import runs
from journey_analytics.config import Settings
from journey_analytics.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]

# planted kind -> (finding kinds that detect it, the attribute that must match)
MATCHES = {
    # The segment's drop also drags the whole step down: the step-level finding is the same problem.
    "funnel_step_segment_drop_off": (
        {"segment_drop", "funnel_step_drop"},
        lambda p, f: f["step"] == p["step"] and (
            (f["segment_key"], f["segment_value"]) in {(p["segment_key"], p["segment_value"]), ("all", "all")}
        ),
    ),
    "email_bounce_rate": ({"email_bounce"}, lambda p, f: f["segment_value"] == p["campaign_id"]),
    "social_slow_response": ({"social_slow_replies", "social_unanswered"}, lambda p, f: f["segment_value"] == p["platform"]),
    "negative_sentiment_rise": ({"social_negative_sentiment"}, lambda p, f: f["segment_value"] == p["platform"]),
}


def evaluate_seed(seed: int, customers: int, days: int, work: Path) -> dict:
    """Simulate one seed, run the pipeline and match findings with planted problems."""
    landing = work / f"landing-{seed}"
    shutil.rmtree(landing, ignore_errors=True)
    result = simulate(out=landing, customers=customers, days=days, seed=seed)
    truth = json.loads((landing / "_truth" / "summary.json").read_text())
    warehouse = work / f"w-{seed}.duckdb"
    for old in work.glob(f"w-{seed}.duckdb*"):
        old.unlink()
    as_of = date.fromisoformat(str(truth["last_day"]))
    ctx = runs.open_run(as_of, landing, warehouse, work / "reports", Settings())
    try:
        runs.build_through_sessions(ctx)
        runs.stages_step(ctx)
        runs.funnels_step(ctx)
        runs.pain_points_step(ctx)
        findings = [
            dict(zip(("kind", "step", "segment_key", "segment_value", "severity"), row, strict=True))
            for row in ctx.con.execute(
                "select kind, step, segment_key, segment_value, severity from main.pain_points where as_of_date = ?",
                [as_of],
            ).fetchall()
        ]
        runs.finish_run(ctx, work / "none.html")
    except BaseException:
        runs.abort_run(ctx)
        raise
    planted = truth["planted_pain_points"]
    found, used = [], set()
    for p in planted:
        kinds, same = MATCHES[p["kind"]]
        hits = [i for i, f in enumerate(findings) if f["kind"] in kinds and same(p, f)]
        found.append(bool(hits))
        used.update(hits)
    unplanted = [f for i, f in enumerate(findings) if i not in used]
    return {
        "seed": seed, "customers": result.n_customers, "planted": len(planted), "found": sum(found),
        "missed": [p["kind"] for p, ok in zip(planted, found, strict=True) if not ok],
        "unplanted": len(unplanted),
        "unplanted_kinds": dict(Counter(f["kind"] for f in unplanted)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--write", action="store_true", help="write docs/pain-points.md")
    args = parser.parse_args()
    os.environ.setdefault("JOURNEY_HASH_KEY", "evaluation-key")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            row = evaluate_seed(seed, args.customers, args.days, Path(tmp))
            rows.append(row)
            print(json.dumps(row), flush=True)
    planted = sum(r["planted"] for r in rows)
    found = sum(r["found"] for r in rows)
    print(f"recall {found}/{planted} = {found / planted:.0%}; unplanted findings per seed: {[r['unplanted'] for r in rows]}")
    if args.write:
        _write_doc(rows, args)


_MEANINGS = "## What each finding means"


def _write_doc(rows: list[dict], args: argparse.Namespace) -> None:
    """Write the results at the top of docs/pain-points.md, keeping the page's other sections."""
    planted = sum(r["planted"] for r in rows)
    found = sum(r["found"] for r in rows)
    lines = [
        "# Pain points: recall on planted problems",
        "",
        "The simulator plants four problems in the last 7 days of its window (a mobile drop-off",
        "between add_payment_info and purchase, one e-mail campaign that bounces, slow and missing",
        "brand replies on one social platform, a rise of negative sentiment on another) and records",
        "them in `_truth/summary.json`. The nightly steps run on the simulated landing folder and the",
        "findings in `pain_points` are matched with the planted problems. The mobile drop also pulls the",
        "whole purchase step down, so a `funnel_step_drop` on that step counts as the same problem.",
        "",
        f"Reproduce: `.venv/bin/python benchmarks/evaluate_pain_points.py --customers {args.customers} "
        f"--days {args.days} --seeds {' '.join(map(str, args.seeds))} --write`",
        "",
        "| seed | customers | planted | found | missed | unplanted findings | unplanted kinds |",
        "|---:|---:|---:|---:|---|---:|---|",
    ]
    for r in rows:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(r["unplanted_kinds"].items())) or "-"
        lines.append(
            f"| {r['seed']} | {r['customers']:,} | {r['planted']} | {r['found']} | {', '.join(r['missed']) or '-'} | {r['unplanted']} | {kinds} |"
        )
    lines += ["", f"Recall: {found} of {planted} planted problems found ({found / planted:.0%}).", ""]
    # The rest of the page (what each finding means) is kept as written.
    doc = ROOT / "docs" / "pain-points.md"
    old = doc.read_text(encoding="utf-8") if doc.is_file() else ""
    rest = old[old.index(_MEANINGS):] if _MEANINGS in old else _MEANINGS + "\n"
    doc.write_text("\n".join(lines) + "\n" + rest, encoding="utf-8")


if __name__ == "__main__":
    main()
