"""LightGBM gradient-boosted trees (scale-free: no scaling step); prunable per boosting round."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from models.hyper import Hyper
from models.spec import BuildOptions, ModelSpec, Reporter, preprocess

HYPERS = {
    "n_estimators": Hyper("int", ge=1, le=20000),
    "learning_rate": Hyper("float", gt=0.0, le=1.0),
    "num_leaves": Hyper("int", ge=2, le=131072),
    "max_depth": Hyper("int", ge=-1, le=64),  # -1: unlimited
    "min_child_samples": Hyper("int", ge=1, le=100000),
    "colsample_bytree": Hyper("float", gt=0.0, le=1.0),
    "subsample": Hyper("float", gt=0.0, le=1.0),
    "reg_lambda": Hyper("float", ge=0.0, le=1e4),
    "max_bin": Hyper("int", ge=2, le=1023),
    "class_weight": Hyper("choice", choices=(None, "balanced")),
}
# Built-in defaults: LightGBM's own, except 63 bins (speed); params.yaml holds the tuned values.
DEFAULTS = {
    "n_estimators": 100,
    "learning_rate": 0.1,
    "num_leaves": 31,
    "max_depth": -1,
    "min_child_samples": 20,
    "colsample_bytree": 1.0,
    "subsample": 1.0,
    "reg_lambda": 0.0,
    "max_bin": 63,
    "class_weight": None,
}
REPORT_EVERY = 10  # boosting rounds between two reports to the search


def build(params: Mapping[str, Any], options: BuildOptions) -> Pipeline:
    """Unfitted LightGBM classifier on unscaled features.

    Method: Ke et al., "LightGBM: A Highly Efficient Gradient Boosting Decision Tree",
    NeurIPS 2017; the ``lightgbm`` package's ``LGBMClassifier``.

    Parameters
    ----------
    params : Mapping of str to value
        Keyword arguments of ``LGBMClassifier``, passed as is: the keys of ``HYPERS``, as
        :meth:`models.spec.ModelSpec.resolve` returns them. Row subsampling runs every round
        (``subsample_freq=1``) when ``subsample`` < 1.
    options : BuildOptions
        Uses ``n_jobs`` and ``seed`` (``random_state``).

    Returns
    -------
    sklearn.pipeline.Pipeline
        One step, ``lgbm`` (silent: ``verbose=-1``).

    Raises
    ------
    KeyError
        If ``params`` has no ``subsample``.
    """
    from lightgbm import LGBMClassifier

    gbm = LGBMClassifier(
        **params,
        subsample_freq=1 if params["subsample"] < 1.0 else 0,
        n_jobs=options.n_jobs,
        random_state=options.seed,
        verbose=-1,
    )
    return Pipeline([("lgbm", gbm)])


def fit_iterative(
    pipeline: Pipeline,
    x: np.ndarray,
    y: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    reporter: Reporter,
) -> None:
    """Fit ``pipeline`` in place, reporting dev accuracy every ``REPORT_EVERY`` boosting rounds.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        As :func:`build` returns it.
    x : ndarray of shape (n, d), float32
        Training features.
    y : ndarray of shape (n,), int
        Training class codes (0 to n_classes - 1).
    x_val : ndarray of shape (m, d), float32
        Validation features, passed to LightGBM as its evaluation set.
    y_val : ndarray of shape (m,), int
        Validation labels.
    reporter : Reporter
        Receives ``(round, 1 - multi_error)`` at rounds 10, 20, ...

    Raises
    ------
    models.spec.Pruned
        Raised by ``reporter`` to stop the fit; the pipeline is then partly fitted.
    """
    x, x_val = preprocess(pipeline, x, y, x_val)

    def report(env: Any) -> None:
        step = env.iteration + 1
        if step % REPORT_EVERY == 0:
            error = next(r[2] for r in env.evaluation_result_list if r[1] == "multi_error")
            reporter.report(step, 1.0 - error)  # raises Pruned to stop the fit

    pipeline[-1].fit(
        x, y, eval_X=(x_val,), eval_y=(y_val,), eval_metric="multi_error", callbacks=[report]
    )


SPEC = ModelSpec(
    "lightgbm", "LightGBM", HYPERS, DEFAULTS, build, fit_iterative, rounds="n_estimators"
)
