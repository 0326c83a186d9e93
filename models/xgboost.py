"""XGBoost gradient-boosted trees, `hist` method (scale-free: no scaling step); prunable per round.

XGBoost needs the labels of a fit to be 0..k-1; a training split that lacks a class (Disgust has
only 547 FER2013 images, and a small file can have none) would make it fail. :class:`AllClassesXGB`
encodes the labels present to 0..k-1 for the booster and decodes its answers, so predictions are
the original class codes and ``predict_proba`` has a column for every one of the 7 classes (zero
for a class absent from training: it is never predicted). With all classes present the encoding is
the identity and the booster is fitted on exactly the same data.

Installed as `xgboost-cpu` (no CUDA libraries, ~470 MB less). For the GPU variant install the full
`xgboost` wheel instead and set `models.xgboost.params.device: cuda`; nothing else changes (with
`xgboost-cpu`, `cuda` fails the fit, which the stage reports as failed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
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
# The label space: FER2013's seven emotions (fer_data.faces.EMOTIONS; not imported, so this
# model's stages do not depend on the face-table module; tests/test_cases.py checks they agree).
N_CLASSES = 7


class AllClassesXGB(ClassifierMixin, BaseEstimator):
    """An ``XGBClassifier`` that trains on whichever classes are present and answers on all of
    ``n_classes`` (class codes 0..n_classes-1).

    Parameters
    ----------
    booster : xgboost.XGBClassifier
        The unfitted booster (its parameters are reachable as ``booster__<name>``).
    n_classes : int
        Size of the label space (7 for FER2013, 8 for FER+: ``BuildOptions.n_classes``); a
        larger label seen in training widens it.

    Attributes
    ----------
    classes_ : np.ndarray
        int64 (n_classes,): every class code 0..n_classes-1, present in training or not.
    present_ : np.ndarray
        int64 (k,): the class codes seen in training, sorted; the booster's label j is
        ``present_[j]``.
    """

    def __init__(self, booster: Any = None, n_classes: int = N_CLASSES) -> None:
        self.booster = booster
        self.n_classes = n_classes

    def _encode(self, y: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.present_, np.asarray(y, np.int64))

    def fit(self, x: np.ndarray, y: np.ndarray, **fit_params: Any) -> AllClassesXGB:
        """Fit the booster on labels encoded to 0..k-1.

        An ``eval_set``'s labels are encoded the same way; its rows of a class absent from
        training are left out of it (the booster cannot score them).
        """
        y = np.asarray(y, np.int64)
        self.present_ = np.unique(y)
        self.classes_ = np.arange(max(self.n_classes, int(self.present_[-1]) + 1))
        if "eval_set" in fit_params:
            evals = []
            for x_val, y_val in fit_params["eval_set"]:
                y_val = np.asarray(y_val, np.int64)
                known = np.isin(y_val, self.present_)
                evals.append((x_val[known], self._encode(y_val[known])))
            fit_params = {**fit_params, "eval_set": evals}
        self.booster.fit(x, self._encode(y), **fit_params)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """int64 (n,): original class codes."""
        return self.present_[np.asarray(self.booster.predict(x), np.int64)]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """float (n, len(classes_)): zeros in the columns of classes absent from training."""
        proba = self.booster.predict_proba(x)
        out = np.zeros((len(proba), len(self.classes_)), proba.dtype)
        out[:, self.present_] = proba
        return out


def build(params: Mapping[str, Any], options: BuildOptions) -> Pipeline:
    from xgboost import XGBClassifier

    booster = XGBClassifier(
        **params,
        tree_method="hist",
        n_jobs=options.n_jobs,
        random_state=options.seed,
        verbosity=0,
    )
    return Pipeline([("xgb", AllClassesXGB(booster, options.n_classes))])


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
    model = pipeline[-1]
    booster = model.booster
    booster.set_params(eval_metric="merror", callbacks=[_Report()])
    try:
        model.fit(x, y, eval_set=[(x_val, y_val)], verbose=False)
    finally:
        booster.set_params(eval_metric=None, callbacks=None)  # keep the fitted model picklable


SPEC = ModelSpec(
    "xgboost", "XGBoost", HYPERS, DEFAULTS, build, fit_iterative, rounds="n_estimators"
)
