"""Journey stages: every customer in awareness, consideration, purchase, retention or
advocacy as of a run date, with who decided (a rule or the classifier), how sure and why.

:func:`assign_stages` is the step the nightly run calls. It builds ``customers`` (the
features), matches the rules of ``config/stages.toml``, lets the classifier decide where
the matched rule is not clear, and writes ``customer_stages``, ``stage_history``,
``stage_transitions`` and ``stage_funnel``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl

from journey_analytics.contract import install_contract_macros
from journey_analytics.stages.evaluate import HELD_OUT_LABELS, NO_STAGE, compare, write_evaluation
from journey_analytics.stages.features import (
    build_customers,
    feature_columns,
    feature_matrix,
    query_frame,
)
from journey_analytics.stages.model import (
    StageModel,
    load_stage_model,
    model_path,
    predict_stages,
    retrain_reason,
    save_stage_model,
    strongest_features,
    time_split,
    train_stage_model,
)
from journey_analytics.stages.rules import (
    PRE_ORDER_STAGES,
    STAGES,
    StageConfig,
    StageConfigError,
    apply_rules,
    load_stage_config,
    rule_reason,
)
from journey_analytics.warehouse import comment_table, has_tables, load_model, run_model, run_script
from journey_analytics.wording import plural

__all__ = ["STAGES", "StageConfigError", "StageResult", "assign_stages", "load_stage_config"]

UNCLEAR_RULE_CONFIDENCE = 0.5
# Weight of a customer whose rule is not clear when the classifier learns from the rules.
UNCLEAR_TRAINING_WEIGHT = 0.5


@dataclass(frozen=True)
class StageResult:
    """What one stage step did."""

    as_of: date
    customers: int
    staged: int
    by_stage: dict[str, int]
    by_source: dict[str, int]
    model_path: Path | None
    model_trained: bool
    training_source: str | None
    retrain_reason: str | None
    evaluation_path: Path | None
    notices: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "as_of": self.as_of.isoformat(),
            "customers": self.customers,
            "staged": self.staged,
            "by_stage": self.by_stage,
            "by_source": self.by_source,
            "model_path": str(self.model_path) if self.model_path else None,
            "model_trained": self.model_trained,
            "training_source": self.training_source,
            "retrain_reason": self.retrain_reason,
            "evaluation_path": str(self.evaluation_path) if self.evaluation_path else None,
            "notices": self.notices,
        }


def read_labels(con: duckdb.DuckDBPyConnection, as_of: date, config: StageConfig) -> tuple[dict[str, str], list[str]]:
    """Each customer's latest known stage from ``raw.labels`` within the label age limit, and
    notices of the labels left out: customers whose latest labels disagree (two stages on one
    day, for one user id or for two user ids of one customer; no label is picked at random),
    and user ids the warehouse does not know (in no event and no identities file)."""
    if not has_tables(con, "labels", schema="raw"):
        return {}, []
    rows = con.execute(
        """
        with dated as (
            select m.customer_id, l.stage, l.as_of_date,
                max(l.as_of_date) over (partition by m.customer_id) as latest
            from raw.labels as l
            inner join main.identity_map as m
                on m.identifier_type = 'user_id' and m.identifier = l.user_id
                and m.names_someone  -- (a label on 'guest', or on a bot's account, labels no one)
            inner join main.customers as c on c.customer_id = m.customer_id
            where l.as_of_date <= cast(? as date)
                and l.as_of_date >= cast(? as date) - cast(? as integer)
        )
        select customer_id, min(stage) as stage, count(distinct stage) as stages
        from dated
        where as_of_date = latest
        group by customer_id
        """,
        [as_of, as_of, config.settings.label_max_age_days],
    ).fetchall()
    labels = {customer_id: stage for customer_id, stage, stages in rows if stages == 1 and stage in STAGES}
    notices = []
    conflicting = sum(1 for _, _, stages in rows if stages > 1)
    if conflicting:
        notices.append(
            f"{plural(conflicting, 'customer has', 'customers have')} labels of different stages on their latest label day; "
            "they are left unlabelled"
        )
    ((unknown,),) = con.execute(
        """
        select count(distinct l.user_id) from raw.labels as l
        where l.as_of_date <= cast(? as date) and l.as_of_date >= cast(? as date) - cast(? as integer)
            and not exists (
                select 1 from main.identity_map as m
                where m.identifier_type = 'user_id' and m.identifier = l.user_id
            )
        """,
        [as_of, as_of, config.settings.label_max_age_days],
    ).fetchall()
    if unknown:
        notices.append(f"{plural(unknown, 'labelled user id is', 'labelled user ids are')} unknown (in no event and no identities file); "
                       f"{'its label is' if unknown == 1 else 'their labels are'} not used")
    return labels, notices


def _trainable_label_counts(labels: dict[str, str], matches: pl.DataFrame) -> list[int]:
    """How many labels training can use, per pre-order stage (awareness, consideration): those
    of customers without an order, among those given a stage."""
    pre_order = matches.filter((pl.col("n_orders") == 0) & pl.col("rule_id").is_not_null())["customer_id"].to_list()
    stages = [labels[c] for c in pre_order if labels.get(c) in PRE_ORDER_STAGES]
    return [stages.count(s) for s in PRE_ORDER_STAGES]


def _enough_labels(labels: dict[str, str], matches: pl.DataFrame, config: StageConfig) -> bool:
    """Whether the labels of customers without an order, among those given a stage (the ones
    training can use), reach ``min_labels`` and ``min_labels_per_stage``."""
    counts = _trainable_label_counts(labels, matches)
    return sum(counts) >= config.settings.min_labels and min(counts) >= config.settings.min_labels_per_stage


def _too_few_labels_notice(labels: dict[str, str], matches: pl.DataFrame, config: StageConfig, doing: str) -> str:
    """The notice of labels too few to train on, with the counts the thresholds are held to: a
    count of every labelled customer (most of them buyers, whom the classifier never decides)
    read as more than ``min_labels`` and seemed to contradict the notice."""
    counts = _trainable_label_counts(labels, matches)
    per_stage = ", ".join(f"{n} {stage}" for n, stage in zip(counts, PRE_ORDER_STAGES, strict=True))
    return (
        f"{plural(len(labels), 'labelled customer')}, of whom {sum(counts)} without an order ({per_stage}) can be trained on: "
        f"too few (min_labels = {config.settings.min_labels}, min_labels_per_stage = "
        f"{config.settings.min_labels_per_stage}); {doing}"
    )


def _time_split_each(
    pool: pl.DataFrame, is_labelled: np.ndarray, test_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """The time split (the most recently first seen held out) of the labelled customers and
    of the others apart, so the labels held out are the newest share of the labelled ones."""
    train: list[np.ndarray] = []
    test: list[np.ndarray] = []
    for labelled in (True, False):
        where = np.flatnonzero(is_labelled == labelled)
        if len(where) == 0:
            continue
        part = pool[where.tolist()]
        part_train, part_test = time_split(part["first_seen"].to_numpy(), part["customer_id"].to_list(), test_share)
        train.append(where[part_train])
        test.append(where[part_test])
    if not train:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _train(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    matches: pl.DataFrame,
    labels: dict[str, str],
    source: str,
    features: list[str],
    config: StageConfig,
    seed: int,
    model_dir: Path,
    save_dir: Path,
) -> tuple[StageModel | None, Path | None, str | None, str | None]:
    """Train on the labels or on the rules' own stages, evaluate on the held-out customers, save
    into ``save_dir`` (the report names the model's place in ``model_dir``, where it is kept).

    Returns the model (None when there is nothing to learn from), the evaluation report's
    path, and, when no model was trained, a notice saying why and the same in a few words (for
    the reasons of the customers the rules then decide alone)."""
    # Without labels the rules' stages are all we know. The clear decisions alone are a
    # sample chosen by the very features the classifier reads (every clear considerer
    # has an intent event, no clear awareness customer browses), so a model fit on them
    # only extrapolates into the unclear customers. The unclear ones join the training
    # data with their tentative stage at a lower weight: the classifier learns the region
    # it will decide, and departs from the tentative stage only where the clear cases
    # around it say otherwise.
    rule_pool = matches.filter(
        (pl.col("n_orders") == 0) & pl.col("rule_stage").is_in(list(PRE_ORDER_STAGES))
    ).with_columns(pl.col("rule_stage").alias("reference"), pl.lit(False).alias("labelled"))
    if source == "labels":
        labelled = matches.filter(pl.col("customer_id").is_in(list(labels)) & pl.col("rule_id").is_not_null())
        labelled = labelled.with_columns(
            pl.col("customer_id").replace_strict(labels, default=None).alias("reference"),
            pl.lit(True).alias("labelled"),
        )
        # Labels are keyed by user_id, so they describe identified customers only. The others
        # (anonymous visitors, e-mail-only contacts: most of those the classifier decides) are
        # learnt from the rules' stages, as without labels. Trained on the labels alone, the
        # classifier carried what held for identified customers over to them (on one
        # simulator, "first seen long ago means awareness": docs/stages.md).
        not_identified = rule_pool.filter(
            ~pl.col("is_identified").fill_null(False) & ~pl.col("customer_id").is_in(list(labels))
        )
        pool = pl.concat([labelled, not_identified], how="vertical_relaxed")
    else:
        pool = rule_pool
    pool = pool.sort("customer_id")
    ids = pool["customer_id"].to_list()
    if len(ids) < 4:
        return None, None, f"too few customers to train the classifier on ({len(ids)})", "too few customers to learn from"
    is_labelled = np.asarray(pool["labelled"].to_list(), dtype=bool)
    train_idx, test_idx = _time_split_each(pool, is_labelled, config.settings.test_share)
    _, x = feature_matrix(con, features, ids)
    reference = np.asarray(pool["reference"].to_list(), dtype=object)
    # the classifier only learns the stages of customers without an order
    trainable = np.asarray(
        [(n == 0 and r in PRE_ORDER_STAGES) for n, r in zip(pool["n_orders"].to_list(), reference, strict=True)]
    )
    fit_idx = train_idx[trainable[train_idx]]
    if len(set(reference[fit_idx])) < 2:
        return None, None, "the training customers hold only one stage; the rules decide alone", "one stage only to learn from"
    clear = np.asarray(pool["rule_is_clear"].fill_null(True).to_list(), dtype=bool)
    # The unclear customers only echo the rules' guess: a stage needs clear (or labelled) examples
    # to be learnt. A first night with three clear considerers gave a model that called every
    # anonymous visitor with one product view aware for the week it was kept.
    taught = reference[fit_idx[(clear | is_labelled)[fit_idx]]]
    fewest = min(int((taught == s).sum()) for s in PRE_ORDER_STAGES)
    if fewest < config.settings.min_labels_per_stage:
        return None, None, (
            f"too few clear examples of a stage to train the classifier on ({fewest}, "
            f"min_labels_per_stage = {config.settings.min_labels_per_stage}); the rules decide alone"
        ), "too few clear examples of a stage"
    weights = np.where(clear | is_labelled, 1.0, UNCLEAR_TRAINING_WEIGHT)
    model = train_stage_model(
        x[fit_idx], reference[fit_idx].astype(str), sample_weight=weights[fit_idx], as_of=as_of, features=features,
        training_source=source, config=config, seed=seed, n_test=len(test_idx),
    )
    # evaluate on the held-out (most recently first seen) customers
    test = pool[test_idx.tolist()]
    predicted, _ = predict_stages(model, x[test_idx])
    rule_stages = [s if s is not None else NO_STAGE for s in test["rule_stage"].to_list()]
    unclear = [not bool(c) for c in test["rule_is_clear"].fill_null(True).to_list()]
    if source == "labels":
        # scored against the held-out labels only (the rules' stages would score the rules)
        keep = [i for i, labelled in enumerate(test["labelled"].to_list()) if labelled]
        final = [predicted[i] if unclear[i] else rule_stages[i] for i in keep]
        held_out = compare([test["reference"][i] for i in keep], [rule_stages[i] for i in keep], final,
                           reference=HELD_OUT_LABELS, decided_by_model=sum(unclear[i] for i in keep))
    else:
        # without labels the reference is the rules' clear decisions: this scores the classifier alone on them
        keep = [i for i, c in enumerate(test["rule_is_clear"].fill_null(True).to_list()) if c]
        held_out = compare([test["reference"][i] for i in keep], [rule_stages[i] for i in keep],
                           [predicted[i] for i in keep],
                           reference="rules' clear decisions (no labels); rules_plus_model = classifier alone")
    model.metrics = {"held_out": held_out}
    save_stage_model(model, save_dir)
    evaluation = _write_report(con, model, model_dir, save_dir, as_of, matches, labels if source != "labels" else {})
    return model, evaluation, None, None


def _write_report(
    con: duckdb.DuckDBPyConnection,
    model: StageModel,
    model_dir: Path,
    save_dir: Path,
    as_of: date,
    matches: pl.DataFrame,
    untrained_labels: dict[str, str],
) -> Path:
    """Write the evaluation report of ``model`` for the day: its held-out scores, and, given
    labels too few to train on, its scores against them. Such labels are still a reference that
    no training saw: without them, the only score would be the classifier's against the rules it
    learnt from."""
    report = {
        "as_of_date": as_of.isoformat(),
        "model": {**model.describe(), "path": str(model_path(model_dir))},
        "held_out": model.metrics.get("held_out", {}),
    }
    if untrained_labels:
        report["labels"] = _score_on_labels(con, model, matches, untrained_labels)
    return write_evaluation(report, save_dir, as_of)


def _write_rules_report(
    con: duckdb.DuckDBPyConnection,
    save_dir: Path,
    as_of: date,
    matches: pl.DataFrame,
    labels: dict[str, str],
    no_classifier: str,
) -> Path:
    """Write the evaluation report of a run without a classifier, given labels: the rules alone
    against them (none was trained on). Without it, labels supplied on such a night (the training
    customers holding one stage, or too few) were scored by no report."""
    report = {
        "as_of_date": as_of.isoformat(),
        "no_classifier": no_classifier,
        "labels": _score_on_labels(con, None, matches, labels),
    }
    return write_evaluation(report, save_dir, as_of)


def _score_on_labels(
    con: duckdb.DuckDBPyConnection, model: StageModel | None, matches: pl.DataFrame, labels: dict[str, str]
) -> dict[str, Any]:
    """The rules, and the rules with the classifier deciding where they are not clear, against
    every supplied label of a customer the rules give a stage. Without a classifier the unclear
    rules decide too: the two columns are the same."""
    labelled = matches.filter(pl.col("customer_id").is_in(list(labels)) & pl.col("rule_id").is_not_null())
    rule_stage = dict(zip(labelled["customer_id"].to_list(), labelled["rule_stage"].to_list(), strict=True))
    clear = dict(zip(labelled["customer_id"].to_list(), labelled["rule_is_clear"].fill_null(True).to_list(), strict=True))
    if model is None:
        ids = sorted(rule_stage)
        rules = [rule_stage[c] for c in ids]
        return compare([labels[c] for c in ids], rules, rules,
                       reference="supplied labels, none used in training; no classifier, so rules plus model are the rules alone",
                       decided_by_model=0)
    ids, x = feature_matrix(con, model.features, list(rule_stage))
    predicted = dict(zip(ids, predict_stages(model, x)[0], strict=True)) if ids else {}
    rules = [rule_stage[c] if rule_stage[c] is not None else NO_STAGE for c in ids]
    final = [r if clear[c] else predicted[c] for c, r in zip(ids, rules, strict=True)]
    return compare([labels[c] for c in ids], rules, final,
                   reference="supplied labels, too few to train on, none used in training",
                   decided_by_model=sum(not clear[c] for c in ids))


def _report_of(model: StageModel, model_dir: Path) -> Path | None:
    """The saved model's latest report: ``evaluation.json`` (its training, or a night that scored
    labels with it), unless a later night without a classifier wrote it; then its training's."""
    for path in (model_dir / "evaluation.json", model_dir / f"evaluation-{model.trained_on.isoformat()}.json"):
        if path.is_file():
            described = json.loads(path.read_text(encoding="utf-8")).get("model") or {}
            if described.get("trained_at") == model.trained_at:
                return path
    return None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _model_reason(
    row: dict[str, Any], rule_text: str, stage: str, confidence: float, weighed: list[tuple[str, float, float]]
) -> str:
    """The rule's evidence, and the customer's features that weighed most towards the stage."""
    text = rule_text.rstrip(".")
    if weighed:
        other = "consideration" if stage == "awareness" else "awareness"
        cited = ", ".join(f"{name} {_number(value)} (typical of {other} {_number(typical)})" for name, value, typical in weighed)
        behaviour = f"weighed most: {cited}"
    else:
        behaviour = "no single feature stands out"
    return (
        f"The classifier gives {stage} with probability {confidence:.2f} where rule "
        f"{row['rule_id']} is not clear ({text[0].lower() + text[1:]}; {behaviour})."
    )


def _write_stage_tables(con: duckdb.DuckDBPyConnection, assigned: pl.DataFrame, as_of: date) -> None:
    """customer_stages from the assigned frame; stage_history for the day; transitions; funnel."""
    con.register("_assigned", assigned.to_arrow())
    con.execute(
        """
        create or replace temp table customer_stages_assigned as
        select
            customer_id, cast(as_of_date as date) as as_of_date, stage, stage_source,
            cast(confidence as double) as confidence, rule_id, rule_stage, reason, is_identified
        from _assigned
        """
    ).fetchall()
    con.unregister("_assigned")
    run_model(con, "marts", "customer_stages")
    history = load_model("marts", "stage_history")
    body = history.sql.strip().rstrip(";")
    con.execute(f"create table if not exists main.stage_history as select * from ({body}) limit 0").fetchall()
    con.execute("delete from main.stage_history where as_of_date = ?", [as_of]).fetchall()
    con.execute(f"insert into main.stage_history by name select * from ({body})").fetchall()
    comment_table(con, "main.stage_history", history)
    run_model(con, "marts", "stage_transitions")
    run_model(con, "marts", "stage_funnel")


def assign_stages(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    *,
    rules_path: Path | None = None,
    model_dir: Path,
    save_dir: Path | None = None,
    seed: int = 42,
) -> StageResult:
    """Give every customer a stage as of the end of ``as_of`` and keep the history.

    Needs ``main.events`` and ``main.identity_map`` (and reads ``raw.labels`` if present).
    The classifier is reused from ``model_dir`` unless it is stale, and retrained (with a
    fresh evaluation report beside it) when it is. A retrained model is saved in
    ``save_dir`` when given (a run's private folder, moved into ``model_dir`` when the run
    publishes), else in ``model_dir``.
    """
    config = load_stage_config(rules_path)
    model_dir = Path(model_dir)
    save_dir = Path(save_dir) if save_dir is not None else model_dir
    notices: list[str] = []
    install_contract_macros(con)  # the stage order, for stage_transitions and stage_funnel
    run_script(con, "macros", "identity_macros")  # stage_transitions follows earlier customer ids
    n_customers = build_customers(con, as_of, config)
    apply_rules(con, config)
    matches = query_frame(
        con,
        """
        select r.*, c.first_seen, c.n_sessions, c.n_long_dwells_90d
        from customer_rule_matches as r
        inner join main.customers as c using (customer_id)
        order by r.customer_id
        """,
    )
    features = feature_columns(con)
    labels, label_notices = read_labels(con, as_of, config)
    notices.extend(label_notices)
    source = "labels" if _enough_labels(labels, matches, config) else "rules"
    model = load_stage_model(model_dir)
    reason = retrain_reason(model, as_of, features, source, config)
    if labels and source == "rules":
        doing = "training on the rules' stages" if reason is not None else "the classifier trained on the rules' stages is kept"
        notices.append(_too_few_labels_notice(labels, matches, config, doing))
    trained = False
    evaluation: Path | None = None
    no_classifier: str | None = None  # why, in a few words, when there is none
    if reason is not None:
        model, evaluation, problem, no_classifier = _train(
            con, as_of, matches, labels, source, features, config, seed, model_dir, save_dir
        )
        trained = model is not None
        if problem:
            notices.append(problem)
            if labels:  # no classifier: the labels still score the rules (docs/stages.md)
                evaluation = _write_rules_report(con, save_dir, as_of, matches, labels, problem)
    elif model is not None and labels and source == "rules":
        # Labels too few to train on, with the saved model kept: they are scored all the same
        # (docs/stages.md), or labels landing between two trainings would go unscored for days.
        evaluation = _write_report(con, model, model_dir, save_dir, as_of, matches, labels)

    if evaluation is None and model is not None:
        evaluation = _report_of(model, model_dir)

    rows = matches.filter(pl.col("rule_id").is_not_null()).to_dicts()
    unclear_ids = [r["customer_id"] for r in rows if not r["rule_is_clear"]]
    predictions: dict[str, tuple[str, float, list[tuple[str, float, float]]]] = {}
    if model is not None and unclear_ids:
        ids, x = feature_matrix(con, model.features, unclear_ids)
        stages, confidence = predict_stages(model, x)
        weighed = strongest_features(model, x, stages)
        predictions = {
            c: (s, float(p), w) for c, s, p, w in zip(ids, stages, confidence, weighed, strict=True)
        }

    out = []
    for row in rows:
        rule = config.rule(row["rule_id"])
        text = rule_reason(rule, row)
        record = {
            "customer_id": row["customer_id"], "as_of_date": as_of, "rule_id": rule.id,
            "rule_stage": rule.stage, "is_identified": bool(row["is_identified"]),
        }
        if rule.clear:
            record.update(stage=rule.stage, stage_source="rule", confidence=1.0, reason=text)
        elif row["customer_id"] in predictions:
            stage, p, weighed_most = predictions[row["customer_id"]]
            record.update(stage=stage, stage_source="model", confidence=round(p, 4),
                          reason=_model_reason(row, text, stage, p, weighed_most))
        else:
            record.update(stage=rule.stage, stage_source="rule", confidence=UNCLEAR_RULE_CONFIDENCE,
                          reason=text[:-1] + "; not clear, and no classifier is available"
                          + (f" ({no_classifier})." if no_classifier else "."))
        out.append(record)
    schema = {
        "customer_id": pl.String, "as_of_date": pl.Date, "stage": pl.String, "stage_source": pl.String,
        "confidence": pl.Float64, "rule_id": pl.String, "rule_stage": pl.String, "reason": pl.String,
        "is_identified": pl.Boolean,
    }
    assigned = pl.DataFrame(out, schema=schema) if out else pl.DataFrame(schema=schema)
    _write_stage_tables(con, assigned, as_of)

    by_stage = {s: int((assigned["stage"] == s).sum()) for s in STAGES}
    by_source = {s: int((assigned["stage_source"] == s).sum()) for s in ("rule", "model")}
    return StageResult(
        as_of=as_of,
        customers=n_customers,
        staged=assigned.height,
        by_stage=by_stage,
        by_source=by_source,
        model_path=model_path(model_dir) if model is not None else None,
        model_trained=trained,
        training_source=model.training_source if model is not None else None,
        retrain_reason=reason,
        evaluation_path=evaluation,
        notices=notices,
    )
