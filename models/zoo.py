"""The model zoo: every model's spec by name, and building its pipeline from parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.pipeline import Pipeline

from models import adaboost, forest, gnb, knn, lgbm, mlp, svm, xgb
from models.spec import BuildOptions, ModelSpec

SPECS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        knn.SPEC,
        gnb.SPEC,
        svm.SPEC,
        forest.SPEC,
        adaboost.SPEC,
        lgbm.SPEC,
        xgb.SPEC,
        mlp.SPEC,
    )
}
MODEL_NAMES = tuple(SPECS)


def get_spec(name: str) -> ModelSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}; expected one of {', '.join(MODEL_NAMES)}"
        ) from None


def build_model(name: str, params: Mapping[str, Any], options: BuildOptions) -> Pipeline:
    """The model's unfitted pipeline: its defaults updated with ``params``."""
    spec = get_spec(name)
    return spec.build(spec.resolve(params), options)
