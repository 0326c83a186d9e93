"""What the fit process runs: tasks of the form ``task(context, reporter, **kwargs)``.

They live at module level so a spawned :class:`models.worker.BudgetWorker` can unpickle them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from fer_data.atomic import atomic_path
from models.registry import build_model, get_spec
from models.spec import BuildOptions, Reporter

METRICS = ("accuracy", "balanced_accuracy", "macro_f1")


def score(metric: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    if metric == "accuracy":
        return float(accuracy_score(y_true, y_pred))
    if metric == "balanced_accuracy":
        return float(balanced_accuracy_score(y_true, y_pred))
    if metric == "macro_f1":
        return float(f1_score(y_true, y_pred, average="macro", zero_division=0))
    raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")


def holdout_score(
    context: Mapping[str, Any],
    reporter: Reporter,
    model: str,
    params: Mapping[str, Any],
    options: BuildOptions,
    metric: str,
) -> float:
    """Fit on ``context["x"]``, score on ``context["x_val"]``; iterative models report meanwhile."""
    x, y, x_val, y_val = context["x"], context["y"], context["x_val"], context["y_val"]
    pipeline = build_model(model, params, options)
    fit_iterative = get_spec(model).fit_iterative
    if fit_iterative is not None:
        fit_iterative(pipeline, x, y, x_val, y_val, reporter)
    else:
        pipeline.fit(x, y)
    return score(metric, y_val, pipeline.predict(x_val))


def cv_score(
    context: Mapping[str, Any],
    reporter: Reporter,
    model: str,
    params: Mapping[str, Any],
    options: BuildOptions,
    metric: str,
) -> float:
    """Mean score over ``context["folds"]``, reporting the running mean after each fold."""
    x, y = context["x"], context["y"]
    scores = []
    for fold, (train, val) in enumerate(context["folds"], start=1):
        pipeline = build_model(model, params, options).fit(x[train], y[train])
        scores.append(score(metric, y[val], pipeline.predict(x[val])))
        reporter.report(fold, float(np.mean(scores)))
    return float(np.mean(scores))


def fit_and_save(
    context: Mapping[str, Any],
    reporter: Reporter,
    model: str,
    params: Mapping[str, Any],
    options: BuildOptions,
    path: str,
) -> dict[str, float]:
    """Fit on ``context["x"]`` and save the pipeline to ``path`` (atomically); fit time and size."""
    pipeline = build_model(model, params, options)
    start = time.perf_counter()
    pipeline.fit(context["x"], context["y"])
    fit_seconds = time.perf_counter() - start
    with atomic_path(path) as tmp:
        joblib.dump(pipeline, tmp)
    return {"fit_seconds": fit_seconds, "model_bytes": Path(path).stat().st_size}


def fit_predict(
    context: Mapping[str, Any],
    reporter: Reporter,
    model: str,
    params: Mapping[str, Any],
    options: BuildOptions,
    x: np.ndarray,
    y: np.ndarray,
    x_test: np.ndarray,
) -> dict[str, Any]:
    """Fit on (x, y) and predict x_test: the competency table's cells."""
    pipeline = build_model(model, params, options)
    start = time.perf_counter()
    pipeline.fit(x, y)
    fitted = time.perf_counter()
    predictions = pipeline.predict(x_test)
    return {
        "predictions": np.asarray(predictions, np.int64),
        "fit_seconds": fitted - start,
        "predict_seconds": time.perf_counter() - fitted,
    }


def load_and_predict(
    context: Mapping[str, Any], reporter: Reporter, path: str, x: np.ndarray
) -> dict[str, Any]:
    """Load a saved pipeline and predict ``x``: the evaluate stage's timed prediction."""
    pipeline = joblib.load(path)
    start = time.perf_counter()
    predictions = pipeline.predict(x)
    return {
        "predictions": np.asarray(predictions, np.int64),
        "predict_seconds": time.perf_counter() - start,
    }
