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
    x, x_val = preprocess(pipeline, x, y, x_val)

    def report(env: Any) -> None:
        step = env.iteration + 1
        if step % REPORT_EVERY == 0:
            error = next(r[2] for r in env.evaluation_result_list if r[1] == "multi_error")
            reporter.report(step, 1.0 - error)  # raises Pruned to stop the fit

    pipeline[-1].fit(
        x, y, eval_X=(x_val,), eval_y=(y_val,), eval_metric="multi_error", callbacks=[report]
    )


SPEC = ModelSpec("lightgbm", "LightGBM", HYPERS, DEFAULTS, build, fit_iterative)
