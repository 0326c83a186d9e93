"""AdaBoost (SAMME) over shallow decision trees."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.ensemble import AdaBoostClassifier
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

from models.hyper import Hyper
from models.spec import BuildOptions, ModelSpec

HYPERS = {
    "n_estimators": Hyper("int", ge=1, le=5000),
    "learning_rate": Hyper("float", gt=0.0, le=10.0),
    "max_depth": Hyper("int", ge=1, le=64),  # of each weak tree
    # Columns each weak tree considers: all (null) is exact but single-threaded and slow, ~1-2 s
    # a tree on 28k x 1036; a fraction makes boosting a random-subspace ensemble, that much faster.
    "max_features": Hyper("float", gt=0.0, le=1.0, special=(None, "sqrt")),
}
DEFAULTS = {"n_estimators": 100, "learning_rate": 0.5, "max_depth": 2, "max_features": None}


def build(params: Mapping[str, Any], options: BuildOptions) -> Pipeline:
    """Unfitted AdaBoost (SAMME) over depth-limited decision trees.

    Method: Zhu, Zou, Rosset & Hastie, "Multi-class AdaBoost", Statistics and Its Interface
    2009 (SAMME), as implemented by scikit-learn.

    Parameters
    ----------
    params : Mapping of str to value
        Every key of ``HYPERS`` (``n_estimators``, ``learning_rate``, ``max_depth`` and
        ``max_features`` of each weak tree), as :meth:`models.spec.ModelSpec.resolve` returns
        them (validated against ``HYPERS``).
    options : BuildOptions
        Uses ``seed`` (``random_state`` of the trees and of the booster); features are not
        scaled.

    Returns
    -------
    sklearn.pipeline.Pipeline
        One step, ``adaboost`` (scikit-learn ``AdaBoostClassifier``); ``fit`` takes X of shape
        (n, d) and class codes of shape (n,).

    Raises
    ------
    KeyError
        If a key of ``HYPERS`` is missing from ``params``.
    """
    tree = DecisionTreeClassifier(
        max_depth=params["max_depth"],
        max_features=params["max_features"],
        random_state=options.seed,
    )
    boost = AdaBoostClassifier(
        tree,
        n_estimators=params["n_estimators"],
        learning_rate=params["learning_rate"],
        random_state=options.seed,
    )
    return Pipeline([("adaboost", boost)])


SPEC = ModelSpec("adaboost", "AdaBoost", HYPERS, DEFAULTS, build, rounds="n_estimators")
