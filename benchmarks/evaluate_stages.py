"""Score the stage step against the simulator's truth: rules alone and rules plus model.

For each seed: simulate a landing folder, run one day of the pipeline through the library
steps (no Prefect: open_run, ingest every kind, stitch, sessionize, marts, finish_run) with
assign_stages in between, and compare customer_stages with ``_truth/customers.csv``
(truth user_id mapped to customer_id through identity_map).

    python benchmarks/evaluate_stages.py --customers 10000 --days 31 --seeds 1 2 3

Writes ``<out>/results.json`` and prints a markdown table (used in docs/stages.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from journey_analytics import runs
from journey_analytics.config import HASH_KEY_ENV, load_settings
from journey_analytics.simulate import simulate
from journey_analytics.stages import assign_stages
from journey_analytics.stages.evaluate import score_against_truth, write_evaluation

START = date(2026, 10, 1)


def run_seed(out: Path, customers: int, days: int, seed: int, label_share: float,
             use_labels: bool, rules_path: Path | None) -> dict[str, Any]:
    """Simulate, run the pipeline for the last simulated day, assign stages and score them."""
    root = out / f"seed-{seed}"
    if root.exists():
        shutil.rmtree(root)
    landing = root / "landing"
    t0 = time.perf_counter()
    simulate(landing, customers=customers, days=days, seed=seed, start=START, label_share=label_share)
    if not use_labels:
        shutil.rmtree(landing / "labels", ignore_errors=True)
    t_sim = time.perf_counter() - t0
    as_of = START + timedelta(days=days - 1)
    ctx = runs.open_run(as_of, landing, root / "warehouse.duckdb", root / "reports", load_settings(None))
    try:
        runs.build_through_sessions(ctx)
        t1 = time.perf_counter()
        result = assign_stages(ctx.con, as_of, rules_path=rules_path, model_dir=root / "models", seed=seed)
        t_stages = time.perf_counter() - t1
        truth = landing / "_truth" / "customers.csv"
        labelled = {r[0] for r in ctx.con.execute("select distinct user_id from raw.labels").fetchall()}
        identified = score_against_truth(ctx.con, truth, identified_only=True)
        unlabelled = score_against_truth(ctx.con, truth, identified_only=True, exclude_user_ids=labelled)
        everyone = score_against_truth(ctx.con, truth, identified_only=False, group_column="hard_case")
        # the truth comparison joins the model's evaluation report (shown with it in the dashboard)
        latest = root / "models" / "evaluation.json"
        if latest.is_file():
            report = json.loads(latest.read_text(encoding="utf-8"))
            report["truth"] = identified
            write_evaluation(report, root / "models", as_of)
        runs.finish_run(ctx, root / "reports" / "none.html")
    except BaseException:
        runs.abort_run(ctx)
        raise
    return {
        "seed": seed,
        "customers": customers,
        "days": days,
        "as_of": as_of.isoformat(),
        "labels": use_labels,
        "simulate_seconds": round(t_sim, 1),
        "stage_seconds": round(t_stages, 1),
        "result": result.as_dict(),
        "identified": identified,
        "identified_unlabelled": unlabelled,
        "all": everyone,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--label-share", type=float, default=0.2, help="share of identified customers with a label")
    parser.add_argument("--no-labels", action="store_true", help="drop labels/: train on the rules' clear decisions")
    parser.add_argument("--rules", type=Path, default=None, help="stage rule file (default config/stages.toml)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/stages"))
    args = parser.parse_args(argv)
    os.environ.setdefault(HASH_KEY_ENV, "benchmark-only-key")
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for seed in args.seeds:
        r = run_seed(args.out, args.customers, args.days, seed, args.label_share, not args.no_labels, args.rules)
        results.append(r)
        print(
            f"seed {seed}: identified macro-F1 rules {r['identified']['rules']['macro_f1']:.4f}, "
            f"rules+model {r['identified']['rules_plus_model']['macro_f1']:.4f} "
            f"(n={r['identified']['n']}); unlabelled identified {r['identified_unlabelled']['rules']['macro_f1']:.4f} / "
            f"{r['identified_unlabelled']['rules_plus_model']['macro_f1']:.4f} (n={r['identified_unlabelled']['n']}); all customers {r['all']['rules']['macro_f1']:.4f} / "
            f"{r['all']['rules_plus_model']['macro_f1']:.4f} (n={r['all']['n']}); "
            f"model trained on {r['result']['training_source']}; stages {r['stage_seconds']} s",
            flush=True,
        )
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    print()
    print("| seed | customers | days | training | identified: rules | identified: rules+model "
          "| identified, unlabelled: rules | identified, unlabelled: rules+model | all found: rules | all found: rules+model |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['seed']} | {r['customers']:,} | {r['days']} | {r['result']['training_source']} | "
            f"{r['identified']['rules']['macro_f1']:.3f} | {r['identified']['rules_plus_model']['macro_f1']:.3f} | "
            f"{r['identified_unlabelled']['rules']['macro_f1']:.3f} | {r['identified_unlabelled']['rules_plus_model']['macro_f1']:.3f} | "
            f"{r['all']['rules']['macro_f1']:.3f} | {r['all']['rules_plus_model']['macro_f1']:.3f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
