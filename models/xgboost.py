"""XGBoost gradient-boosted trees, `hist` method (scale-free: no scaling step); prunable per round.

Installed as `xgboost-cpu` (no CUDA libraries, ~470 MB less). For the GPU variant install the full
`xgboost` wheel instead and set `models.xgboost.params.device: cuda`; nothing else changes (with
`xgboost-cpu`, `cuda` fails the fit, which the stage reports as failed).
"""

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
    "max_depth": Hyper("int", ge=0, le=64),  # 0: unlimited (lossguide growth needs max_leaves)
    "min_child_weight": Hyper("float", ge=0.0, le=1e4),
    "subsample": Hyper("float", gt=0.0, le=1.0),
    "colsample_bytree": Hyper("float", gt=0.0, le=1.0),
    "reg_lambda": Hyper("float", ge=0.0, le=1e4),
    "max_bin": Hyper("int", ge=2, le=1024),
    "device": Hyper("choice", choices=("cpu", "cuda")),
}
# Built-in defaults: XGBoost's own, except 64 bins (speed); params.yaml holds the tuned values.
DEFAULTS = {
    "n_estimators": 100,
    "learning_rate": 0.1,
    "max_depth": 6,
    "min_child_weight": 1.0,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
    "reg_lambda": 1.0,
    "max_bin": 64,
    "device": "cpu",
}
REPORT_EVERY = 10  # boosting rounds between two reports to the search


def build(params: Mapping[str, Any], options: BuildOptions) -> Pipeline:
    from xgboost import XGBClassifier

    booster = XGBClassifier(
        **params,
        tree_method="hist",
        n_jobs=options.n_jobs,
        random_state=options.seed,
        verbosity=0,
    )
    return Pipeline([("xgb", booster)])


def fit_iterative(
    pipeline: Pipeline,
    x: np.ndarray,
    y: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    reporter: Reporter,
) -> None:
    from xgboost.callback import TrainingCallback

    class _Report(TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: dict) -> bool:
            step = epoch + 1
            if step % REPORT_EVERY == 0:
                reporter.report(
                    step, 1.0 - evals_log["validation_0"]["merror"][-1]
                )  # raises Pruned
            return False

    x, x_val = preprocess(pipeline, x, y, x_val)
    booster = pipeline[-1]
    booster.set_params(eval_metric="merror", callbacks=[_Report()])
    try:
        booster.fit(x, y, eval_set=[(x_val, y_val)], verbose=False)
    finally:
        booster.set_params(eval_metric=None, callbacks=None)  # keep the fitted model picklable


SPEC = ModelSpec("xgboost", "XGBoost", HYPERS, DEFAULTS, build, fit_iterative)
