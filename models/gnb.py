"""Gaussian naive Bayes, optionally on decorrelated (PCA) features."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.decomposition import PCA
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline

from models.hyper import Hyper
from models.scaling import BlockScaler
from models.spec import BuildOptions, ModelSpec

HYPERS = {
    "var_smoothing": Hyper("float", gt=0.0, le=10.0),
    # Naive Bayes assumes independent columns; PCA components come closer to that than HOG bins.
    "pca_components": Hyper("int", ge=0, le=4096),
}
DEFAULTS = {"var_smoothing": 1e-9, "pca_components": 0}


def build(params: Mapping[str, Any], options: BuildOptions) -> Pipeline:
    """Unfitted Gaussian naive Bayes, after block scaling and optional PCA.

    Parameters
    ----------
    params : Mapping of str to value
        Every key of ``HYPERS`` (``var_smoothing``, ``pca_components``: 0 means no PCA), as
        :meth:`models.spec.ModelSpec.resolve` returns them (validated against ``HYPERS``).
    options : BuildOptions
        Uses ``feature_set`` (for :class:`models.scaling.BlockScaler`) and ``seed`` (PCA).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``scale`` (:class:`~models.scaling.BlockScaler`), ``pca`` (only if
        ``pca_components`` > 0) and ``gnb`` (scikit-learn ``GaussianNB``).

    Raises
    ------
    KeyError
        If a key of ``HYPERS`` is missing from ``params``.
    """
    steps: list[tuple[str, Any]] = [("scale", BlockScaler(options.feature_set))]
    if params["pca_components"]:
        steps.append(("pca", PCA(params["pca_components"], random_state=options.seed)))
    return Pipeline([*steps, ("gnb", GaussianNB(var_smoothing=params["var_smoothing"]))])


SPEC = ModelSpec("gnb", "Gaussian naive Bayes", HYPERS, DEFAULTS, build)
