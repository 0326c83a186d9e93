"""What the fit process runs: tasks of the form ``task(context, reporter, **kwargs)``.

They live at module level so the fit process of a :class:`models.worker.BudgetWorker` can
unpickle them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import joblib
import numpy as np

from models.registry import build_model, get_spec
from models.spec import BuildOptions, Reporter

METRICS = ("accuracy", "balanced_accuracy", "macro_f1")


def score(metric: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """One of ``METRICS`` of predictions, via scikit-learn.

    Parameters
    ----------
    metric : {"accuracy", "balanced_accuracy", "macro_f1"}
        Accuracy, mean per-class recall, or unweighted mean of per-class F1 (a class with no
        true and no predicted rows scores 0).
    y_true, y_pred : ndarray of shape (n,), int
        True and predicted labels.

    Returns
    -------
    float
        The score, in [0, 1].

    Raises
    ------
    ValueError
        If ``metric`` is unknown (or, from scikit-learn, the arrays differ in length).
    """
    # Imported here: the stage that imports this module to send tasks need not load scikit-learn.
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

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
) -> dict[str, Any]:
    """Fit on ``context["x"]``, score on ``context["x_val"]``; iterative models report meanwhile.

    Parameters
    ----------
    context : Mapping
        ``x`` float32 (n, d), ``y`` int (n,), ``x_val`` float32 (m, d), ``y_val`` int (m,).
    reporter : Reporter
        Receives an iterative model's validation accuracy as it trains (see the model's
        ``fit_iterative``); other models report nothing.
    model : str
        One of ``models.names.MODEL_NAMES``.
    params : Mapping of str to value
        Hyper-parameters overriding the model's defaults.
    options : BuildOptions
        Feature set, acceleration, threads and seed.
    metric : str
        One of ``METRICS``.

    Returns
    -------
    dict
        ``value``: ``metric`` of the predictions on ``x_val``, in [0, 1]; ``correct``: bool
        (m,), which validation rows were classified right (the search's McNemar test).

    Raises
    ------
    models.spec.Pruned
        From ``reporter``, to stop an unpromising trial.
    ValueError
        If ``model`` or ``metric`` is unknown.
    """
    x, y, x_val, y_val = context["x"], context["y"], context["x_val"], context["y_val"]
    pipeline = build_model(model, params, options)
    fit_iterative = get_spec(model).fit_iterative
    if fit_iterative is not None:
        fit_iterative(pipeline, x, y, x_val, y_val, reporter)
    else:
        pipeline.fit(x, y)
    predicted = pipeline.predict(x_val)
    return {"value": score(metric, y_val, predicted), "correct": predicted == y_val}


def cv_score(
    context: Mapping[str, Any],
    reporter: Reporter,
    model: str,
    params: Mapping[str, Any],
    options: BuildOptions,
    metric: str,
) -> dict[str, Any]:
    """Mean score over ``context["folds"]``, reporting the running mean after each fold.

    Parameters
    ----------
    context : Mapping
        ``x`` float32 (n, d), ``y`` int (n,) and ``folds``: (train, validation) row-index pairs
        (see :func:`models.sampling.stratified_folds`).
    reporter : Reporter
        Receives ``(fold, running mean score)`` after each fold.
    model, params, options, metric
        As :func:`holdout_score`.

    Returns
    -------
    dict
        ``value``: mean of the per-fold ``metric`` scores, in [0, 1]; ``correct``: bool, the
        out-of-fold correctness of every validation row, fold after fold.

    Raises
    ------
    models.spec.Pruned
        From ``reporter``, to stop an unpromising trial.
    ValueError
        If ``model`` or ``metric`` is unknown.
    """
    x, y = context["x"], context["y"]
    scores, correct = [], []
    for fold, (train, val) in enumerate(context["folds"], start=1):
        pipeline = build_model(model, params, options).fit(x[train], y[train])
        predicted = pipeline.predict(x[val])
        scores.append(score(metric, y[val], predicted))
        correct.append(predicted == y[val])
        reporter.report(fold, float(np.mean(scores)))
    return {"value": float(np.mean(scores)), "correct": np.concatenate(correct)}


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
    """Fit on (x, y) and predict x_test: the competency table's cells.

    Parameters
    ----------
    context : Mapping
        Not used (the arrays come as arguments).
    reporter : Reporter
        Not used.
    model, params, options
        As :func:`holdout_score`.
    x : ndarray of shape (n, d), float32
        Training features.
    y : ndarray of shape (n,), int
        Training class codes (0 to n_classes - 1).
    x_test : ndarray of shape (m, d), float32
        Features to predict.

    Returns
    -------
    dict
        ``predictions`` int64 (m,), ``fit_seconds`` and ``predict_seconds`` (wall-clock
        seconds).

    Raises
    ------
    ValueError
        If ``model`` is unknown.
    """
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
    """Load a saved pipeline and predict ``x``: the evaluate stage's timed prediction.

    Parameters
    ----------
    context : Mapping
        Not used.
    reporter : Reporter
        Not used.
    path : str
        A pipeline saved by :func:`models.fitting.fit_and_save` (``joblib``; trusted files only).
    x : ndarray of shape (m, d), float32
        Features to predict.

    Returns
    -------
    dict
        ``predictions`` int64 (m,) and ``predict_seconds`` (wall-clock seconds, loading not
        included).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    """
    pipeline = joblib.load(path)
    start = time.perf_counter()
    predictions = pipeline.predict(x)
    return {
        "predictions": np.asarray(predictions, np.int64),
        "predict_seconds": time.perf_counter() - start,
    }
