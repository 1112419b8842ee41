"""How good the stages are: per-stage precision, recall and F1, macro-F1 and the confusion
matrix, for the rules alone and for rules plus model, against a reference (held-out labels,
the rules' clear decisions, or a simulator's truth).

Macro-F1 is the unweighted mean of the F1 of the stages that occur in the reference.
A customer the pipeline gave no stage counts as predicted ``none``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl

from journey_analytics.stages.features import query_frame
from journey_analytics.stages.rules import STAGES
from journey_analytics.wording import plural

NO_STAGE = "none"


def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, Any]:
    """Per-stage precision, recall, F1 and support; macro-F1; accuracy; confusion matrix."""
    true = np.asarray(list(y_true), dtype=object)
    pred = np.asarray(list(y_pred), dtype=object)
    extra = sorted({str(v) for v in np.concatenate([true, pred])} - set(STAGES))
    labels = list(STAGES) + extra
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for t, p in zip(true, pred, strict=True):
        matrix[index[str(t)], index[str(p)]] += 1
    per_stage: dict[str, dict[str, float | int]] = {}
    f1s = []
    for label in STAGES:
        i = index[label]
        tp = int(matrix[i, i])
        predicted = int(matrix[:, i].sum())
        support = int(matrix[i, :].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_stage[label] = {
            "precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(f1, 4), "support": support, "predicted": predicted,
        }
        if support:
            f1s.append(f1)
    n = int(matrix.sum())
    return {
        "n": n,
        "accuracy": round(float(np.trace(matrix)) / n, 4) if n else 0.0,
        "macro_f1": round(float(np.mean(f1s)), 4) if f1s else 0.0,
        "per_stage": per_stage,
        "confusion_matrix": {"labels": labels, "rows": matrix.tolist()},
    }


# The reference of a classifier trained on labels: the labelled customers kept out of its training.
HELD_OUT_LABELS = "held-out labels"


def compare(
    y_true: Sequence[str], y_rules: Sequence[str], y_final: Sequence[str], *, reference: str,
    decided_by_model: int | None = None,
) -> dict[str, Any]:
    """Rules alone against rules plus model, on the same customers and reference.

    ``decided_by_model``: how many of them the classifier decided (their rule is not clear); the
    two columns differ only in those, the others have their rules' stage in both.
    """
    section: dict[str, Any] = {
        "reference": reference,
        "n": len(y_true),
        "rules": classification_metrics(y_true, y_rules),
        "rules_plus_model": classification_metrics(y_true, y_final),
    }
    if decided_by_model is not None:
        section["decided_by_model"] = decided_by_model
    return section


UNDEFINED = "n/a"


def _shown_scores(scores: dict[str, Any]) -> list[Any]:
    """A stage's precision, recall and F1 as a table shows them: "n/a" where they are undefined
    (precision of a stage nothing was given, recall and F1 of a stage the reference does not
    hold, which macro-F1 leaves out too), not the 0.0 the JSON keeps for them, which read as a
    stage the rules and the model get all wrong."""
    precision = scores["precision"] if scores.get("predicted", 1) else UNDEFINED
    if not scores["support"]:
        return [precision, UNDEFINED, UNDEFINED]
    return [precision, scores["recall"], scores["f1"]]


def display_tables(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report as captioned tables (columns and rows), ready for markdown or HTML."""
    tables = []
    for key, title in (("labels", "Supplied labels"), ("held_out", "Held-out customers"), ("truth", "Simulator truth")):
        section = report.get(key)
        if not section or not section.get("n"):
            continue
        rows = []
        for stage in STAGES:
            r = section["rules"]["per_stage"][stage]
            m = section["rules_plus_model"]["per_stage"][stage]
            rows.append([stage, r["support"], *_shown_scores(r), *_shown_scores(m)])
        rows.append(["macro-F1", section["n"], "", "", section["rules"]["macro_f1"], "", "", section["rules_plus_model"]["macro_f1"]])
        decided = section.get("decided_by_model")
        by_model = "" if decided is None else f", {decided} of them decided by the classifier"
        tables.append({
            "caption": f"{title} (reference: {section['reference']}, {plural(section['n'], 'customer')}{by_model})",
            "columns": ["stage", "support", "rules precision", "rules recall", "rules F1",
                        "rules+model precision", "rules+model recall", "rules+model F1"],
            "rows": rows,
        })
        cm = section["rules_plus_model"]["confusion_matrix"]
        tables.append({
            "caption": f"{title}: confusion matrix of rules plus model (rows true, columns predicted)",
            "columns": ["true \\ predicted", *cm["labels"]],
            "rows": [[label, *row] for label, row in zip(cm["labels"], cm["rows"], strict=True)],
        })
    return tables


def report_markdown(report: dict[str, Any]) -> str:
    """The evaluation report as markdown."""
    out = [f"# Stage classifier evaluation, {report.get('as_of_date', '')}", ""]
    model = report.get("model", {})
    if model:
        out.append(
            f"Trained on {model.get('training_source')} ({plural(model.get('n_train') or 0, 'customer')}, "
            f"{model.get('n_test')} held out; with labels, the customers no label can describe learn from "
            f"the rules' stages), calibration {model.get('calibration')}, seed {model.get('seed')}. "
            "Each table names its reference and counts the customers it scores (support)."
        )
        out.append("")
    if report.get("no_classifier"):
        out.append(f"No classifier this run ({report['no_classifier']}): the rules alone, against the supplied labels.")
        out.append("")
    for table in report.get("display", {}).get("tables", []):
        out.append(f"**{table['caption']}**")
        out.append("")
        out.append("| " + " | ".join(str(c) for c in table["columns"]) + " |")
        out.append("|" + "---|" * len(table["columns"]))
        for row in table["rows"]:
            out.append("| " + " | ".join(str(c) for c in row) + " |")
        out.append("")
    return "\n".join(out)


def write_evaluation(report: dict[str, Any], model_dir: Path, as_of: date) -> Path:
    """Write the report as JSON and markdown beside the model; returns the JSON path.

    ``evaluation.json`` is always the latest; a dated copy keeps each training's report.
    """
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    report = {**report, "display": {"title": "Stage classifier evaluation", "tables": display_tables(report)}}
    text = json.dumps(report, indent=2, default=str)
    (model_dir / f"evaluation-{as_of.isoformat()}.json").write_text(text, encoding="utf-8")
    latest = model_dir / "evaluation.json"
    latest.write_text(text, encoding="utf-8")
    (model_dir / "evaluation.md").write_text(report_markdown(report), encoding="utf-8")
    return latest


def score_against_truth(
    con: duckdb.DuckDBPyConnection,
    truth_csv: Path,
    *,
    identified_only: bool = True,
    exclude_user_ids: set[str] | None = None,
    group_column: str | None = None,
) -> dict[str, Any]:
    """Compare ``main.customer_stages`` with a simulator's ``_truth/customers.csv``.

    Truth rows are mapped to customers through their user_id, else their first anonymous id
    (``identity_map``); the rules' own stage (``rule_stage``) gives the rules-alone score,
    ``stage`` the rules plus model. A customer found but given no stage counts as ``none``.
    ``exclude_user_ids`` leaves out customers (for example the labelled ones the model saw);
    ``group_column`` (a truth column) adds the accuracy of both per value of that column.
    """
    truth = pl.read_csv(truth_csv, infer_schema_length=0)
    if identified_only and "is_identified" in truth.columns:
        truth = truth.filter(pl.col("is_identified").str.to_lowercase().is_in(["true", "1"]))
    truth = truth.filter(pl.col("true_stage").is_not_null())
    if exclude_user_ids:
        truth = truth.filter(~pl.col("user_id").is_in(sorted(exclude_user_ids)) | pl.col("user_id").is_null())
    if "anonymous_ids" not in truth.columns:
        truth = truth.with_columns(anonymous_ids=pl.lit(None, dtype=pl.String))
    group = pl.col(group_column).fill_null("") if group_column else pl.lit("")
    truth = truth.select(
        pl.int_range(pl.len()).alias("truth_row"), "user_id", "true_stage", group.alias("truth_group"),
        pl.col("anonymous_ids").str.split("|").list.first().alias("anonymous_id"),
    )
    con.register("_stage_truth", truth.to_arrow())
    mapped = query_frame(
        con,
        """
        select
            t.truth_row,
            t.true_stage,
            t.truth_group,
            coalesce(by_user.customer_id, by_device.customer_id) as customer_id,
            coalesce(s.rule_stage, 'none') as rule_stage,
            coalesce(s.stage, 'none') as stage
        from _stage_truth as t
        left join main.identity_map as by_user
            on by_user.identifier_type = 'user_id' and by_user.identifier = t.user_id
        left join main.identity_map as by_device
            on by_device.identifier_type = 'anonymous_id' and by_device.identifier = t.anonymous_id
        left join main.customer_stages as s
            on s.customer_id = coalesce(by_user.customer_id, by_device.customer_id)
        order by t.truth_row
        """,
    )
    con.unregister("_stage_truth")
    # a truth customer we cannot find (no user_id, no web device) is left out and counted
    unmapped = int(mapped["customer_id"].null_count())
    mapped = mapped.filter(pl.col("customer_id").is_not_null())
    result = compare(
        mapped["true_stage"].to_list(), mapped["rule_stage"].to_list(), mapped["stage"].to_list(),
        reference="simulator truth" + (" (identified customers)" if identified_only else " (all customers found)"),
    )
    result["unmapped"] = unmapped
    if group_column:
        result["by_" + group_column] = {
            str(g["truth_group"][0]) or "(none)": {
                "n": g.height,
                "rules_accuracy": round(float((g["rule_stage"] == g["true_stage"]).mean()), 4),
                "rules_plus_model_accuracy": round(float((g["stage"] == g["true_stage"]).mean()), 4),
            }
            for g in mapped.partition_by("truth_group", maintain_order=False)
        }
    return result
