"""The stage classifier: trained, saved, reused and applied where the rules are not clear.

It only ever chooses between the stages of a customer without an order (awareness,
consideration): orders are facts the rules decide, and the classifier never sees or
changes them. It is a gradient-boosted tree model with sigmoid-calibrated probabilities,
trained on a time-based split (the customers first seen most recently are held out), with
a fixed seed, and saved with its version, training date, feature list and metrics.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from journey_analytics import __version__
from journey_analytics.stages.rules import PRE_ORDER_STAGES, StageConfig

MODEL_FORMAT = 1
MODEL_FILE = "stage_model.pkl"


@dataclass
class StageModel:
    """A trained classifier with what is needed to decide whether to reuse it."""

    trained_on: date
    trained_at: str
    features: list[str]
    classes: list[str]
    training_source: str  # "labels" or "rules"
    config_fingerprint: str
    seed: int
    n_train: int
    n_test: int
    calibration: str
    estimator: Any
    metrics: dict[str, Any] = field(default_factory=dict)
    format_version: int = MODEL_FORMAT
    package_version: str = __version__

    def describe(self) -> dict[str, Any]:
        """The model's metadata without the estimator, JSON-friendly."""
        return {
            "format_version": self.format_version,
            "package_version": self.package_version,
            "trained_on": self.trained_on.isoformat(),
            "trained_at": self.trained_at,
            "training_source": self.training_source,
            "config_fingerprint": self.config_fingerprint,
            "seed": self.seed,
            "classes": self.classes,
            "features": self.features,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "calibration": self.calibration,
        }


def model_path(model_dir: Path) -> Path:
    """Where the model is saved in a model folder."""
    return Path(model_dir) / MODEL_FILE


def load_stage_model(model_dir: Path) -> StageModel | None:
    """The saved model, or None when there is none or it was saved by another format."""
    path = model_path(model_dir)
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as handle:
            model = pickle.load(handle)
    except Exception:
        return None
    if not isinstance(model, StageModel) or model.format_version != MODEL_FORMAT:
        return None
    return model


def save_stage_model(model: StageModel, model_dir: Path) -> Path:
    """Save the model atomically (a reader never sees half a file)."""
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_path(model_dir)
    fd, tmp = tempfile.mkstemp(prefix=".stage_model-", dir=model_dir)
    try:
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def retrain_reason(
    model: StageModel | None,
    as_of: date,
    features: list[str],
    training_source: str,
    config: StageConfig,
) -> str | None:
    """Why the saved model cannot be reused for this run (None: reuse it)."""
    if model is None:
        return "no saved model"
    if model.features != features:
        return "the feature list changed"
    if model.training_source != training_source:
        return f"training data changed from {model.training_source} to {training_source}"
    if model.config_fingerprint != config.fingerprint():
        return "the stage rule file changed"
    age = (as_of - model.trained_on).days
    if age < 0:
        return f"the model was trained on a later day ({model.trained_on})"
    if age >= config.settings.retrain_after_days:
        return f"the model is {age} days old (retrain_after_days = {config.settings.retrain_after_days})"
    return None


def time_split(first_seen: np.ndarray, customer_ids: list[str], test_share: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and test customers: the most recently first seen are the test set."""
    n = len(customer_ids)
    order = sorted(range(n), key=lambda i: (first_seen[i], customer_ids[i]))
    n_test = round(n * test_share)
    n_test = min(max(n_test, 1 if n >= 2 else 0), n - 1) if n else 0
    cut = n - n_test
    return np.array(sorted(order[:cut]), dtype=int), np.array(sorted(order[cut:]), dtype=int)


def fit_classifier(
    x: np.ndarray, y: np.ndarray, seed: int, sample_weight: np.ndarray | None = None
) -> tuple[Any, str]:
    """Fit the calibrated classifier; returns it and the calibration used."""
    counts = [int((y == c).sum()) for c in np.unique(y)]
    base = HistGradientBoostingClassifier(
        max_iter=100,
        max_leaf_nodes=15,
        max_bins=63,
        learning_rate=0.1,
        min_samples_leaf=max(1, min(20, len(y) // 20)),
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )
    folds = min(3, min(counts))
    # one thread: on these small matrices OpenMP's start-up costs more than it saves
    with threadpool_limits(limits=1, user_api="openmp"):
        if folds < 2:
            base.fit(x, y, sample_weight=sample_weight)
            return base, "none (too few examples of a stage to calibrate)"
        calibrated = CalibratedClassifierCV(
            base, method="sigmoid", cv=StratifiedKFold(folds, shuffle=True, random_state=seed)
        )
        calibrated.fit(x, y, sample_weight=sample_weight)
    return calibrated, f"sigmoid, {folds}-fold"


def train_stage_model(
    x: np.ndarray,
    y: np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    as_of: date,
    features: list[str],
    training_source: str,
    config: StageConfig,
    seed: int,
    n_test: int,
) -> StageModel:
    """Fit a model on pre-order stages; the caller evaluates it on its held-out customers."""
    if len(np.unique(y)) < 2:
        raise ValueError("the training data holds only one stage")
    estimator, calibration = fit_classifier(x, y, seed, sample_weight)
    return StageModel(
        trained_on=as_of,
        trained_at=datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
        features=list(features),
        classes=[str(c) for c in estimator.classes_],
        training_source=training_source,
        config_fingerprint=config.fingerprint(),
        seed=seed,
        n_train=len(y),
        n_test=n_test,
        calibration=calibration,
        estimator=estimator,
    )


def _pre_order_proba(model: StageModel, x: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The pre-order stages and each row's probabilities over them (summing to 1)."""
    with threadpool_limits(limits=1, user_api="openmp"):
        proba = model.estimator.predict_proba(x)
    classes = list(model.classes)
    allowed = [i for i, c in enumerate(classes) if c in PRE_ORDER_STAGES]
    proba = proba[:, allowed]
    total = proba.sum(axis=1, keepdims=True)
    proba = np.divide(proba, total, out=np.full_like(proba, 1.0 / len(allowed)), where=total > 0)
    return [classes[i] for i in allowed], proba


def predict_stages(model: StageModel, x: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The most probable pre-order stage of each row and its calibrated probability."""
    if len(x) == 0:
        return [], np.zeros(0)
    stages, proba = _pre_order_proba(model, x)
    best = proba.argmax(axis=1)
    return [stages[i] for i in best], proba[np.arange(len(best)), best]


# A feature is cited in a reason when it alone moves the chosen stage's probability this much.
MIN_CITED_EFFECT = 0.01
# Only the features that move predictions most across the customers (measured on a sample of
# this many) are weighed for each customer: the cost stays a few prediction passes.
SAMPLE_FOR_CANDIDATES = 1000
CANDIDATES = 8


def _effects(
    model: StageModel, x: np.ndarray, pick: np.ndarray, chosen_p: np.ndarray, contrast: np.ndarray, columns: list[int]
) -> np.ndarray:
    """rows x columns: how much each row's chosen-stage probability drops when that feature alone
    takes the contrast value (the other stage's typical value for the row's chosen stage)."""
    effect = np.zeros((len(x), len(columns)))
    for c, j in enumerate(columns):
        rows = np.flatnonzero(x[:, j] != contrast[:, j])
        if len(rows) == 0:
            continue
        moved = np.asfortranarray(x[rows])  # the trees predict column-major rows 5 times faster
        moved[:, j] = contrast[rows, j]
        _, proba = _pre_order_proba(model, moved)
        effect[rows, c] = chosen_p[rows] - proba[np.arange(len(rows)), pick[rows]]
    return effect


def strongest_features(
    model: StageModel, x: np.ndarray, chosen: list[str], top: int = 2, seed: int = 0
) -> list[list[tuple[str, float, float]]]:
    """For each row, up to ``top`` features that most raised the probability of its chosen stage
    over the other, as (feature, value, typical value of the other stage): the probability drops
    most when that feature alone takes the median it has among the rows given the other stage.
    Only the CANDIDATES features that matter most on a sample of the rows are weighed."""
    n, k = x.shape
    if n == 0:
        return []
    stages, base = _pre_order_proba(model, x)
    pick = np.array([stages.index(s) for s in chosen])
    chosen_p = base[np.arange(n), pick]
    # a stage's typical values: the medians among the rows given it (all rows when none is)
    typical = [np.median(x[pick == i] if (pick == i).any() else x, axis=0) for i in range(len(stages))]
    # a row's contrast: the typical values of the other of the two stages
    contrast = np.array(typical[::-1])[pick]
    sample = np.random.default_rng(seed).permutation(n)[:SAMPLE_FOR_CANDIDATES]
    overall = _effects(model, x[sample], pick[sample], chosen_p[sample], contrast[sample], list(range(k)))
    candidates = [int(j) for j in np.argsort(-overall.mean(axis=0), kind="stable")[:CANDIDATES]]
    effect = _effects(model, x, pick, chosen_p, contrast, candidates)
    order = np.argsort(-effect, axis=1, kind="stable")[:, :top]
    return [
        [
            (model.features[candidates[c]], float(x[i, candidates[c]]), float(contrast[i, candidates[c]]))
            for c in order[i] if effect[i, c] >= MIN_CITED_EFFECT
        ]
        for i in range(n)
    ]
