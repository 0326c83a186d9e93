"""Random forest (scale-free: no scaling step)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline

from models.hyper import Hyper
from models.spec import BuildOptions, ModelSpec

HYPERS = {
    "n_estimators": Hyper("int", ge=1, le=5000),
    "max_depth": Hyper("int", ge=1, le=1000, special=(None,)),
    "max_features": Hyper("float", gt=0.0, le=1.0, special=("sqrt", "log2")),
    "min_samples_leaf": Hyper("int", ge=1, le=10000),
    "class_weight": Hyper("choice", choices=(None, "balanced", "balanced_subsample")),
}
DEFAULTS = {
    "n_estimators": 200,
    "max_depth": None,
    "max_features": "sqrt",
    "min_samples_leaf": 1,
    "class_weight": None,
}


def build(params: Mapping[str, Any], options: BuildOptions) -> Pipeline:
    """Unfitted random forest on unscaled features.

    Method: Breiman, "Random Forests", Machine Learning 2001, as implemented by scikit-learn.

    Parameters
    ----------
    params : Mapping of str to value
        Keyword arguments of ``RandomForestClassifier``, passed as is: the keys of ``HYPERS``
        (``n_estimators``, ``max_depth``, ``max_features``, ``min_samples_leaf``,
        ``class_weight``), as :meth:`models.spec.ModelSpec.resolve` returns them. A missing key
        falls back to scikit-learn's default.
    options : BuildOptions
        Uses ``n_jobs`` and ``seed`` (``random_state``).

    Returns
    -------
    sklearn.pipeline.Pipeline
        One step, ``forest`` (scikit-learn ``RandomForestClassifier``).

    Raises
    ------
    TypeError
        If ``params`` holds a key ``RandomForestClassifier`` does not take.
    """
    forest = RandomForestClassifier(**params, n_jobs=options.n_jobs, random_state=options.seed)
    return Pipeline([("forest", forest)])


SPEC = ModelSpec("rf", "random forest", HYPERS, DEFAULTS, build)
