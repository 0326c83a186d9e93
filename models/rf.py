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
    forest = RandomForestClassifier(**params, n_jobs=options.n_jobs, random_state=options.seed)
    return Pipeline([("forest", forest)])


SPEC = ModelSpec("rf", "random forest", HYPERS, DEFAULTS, build)
