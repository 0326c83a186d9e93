"""k-nearest neighbours on standardised features (scikit-learn-intelex brute force when asked)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline

from models.hyper import Hyper
from models.scaling import BlockScaler
from models.spec import BuildOptions, ModelSpec

HYPERS = {
    "n_neighbors": Hyper("int", ge=1, le=1000),
    "weights": Hyper("choice", choices=("uniform", "distance")),
    "metric": Hyper("choice", choices=("euclidean", "manhattan", "cosine")),
    "landmark_weight": Hyper("float", ge=0.0, le=100.0),
    # 0 keeps every column; otherwise PCA to this many whitened components before the search.
    "pca_components": Hyper("int", ge=0, le=4096),
}
DEFAULTS = {
    "n_neighbors": 1,
    "weights": "uniform",
    "metric": "euclidean",
    "landmark_weight": 1.0,
    "pca_components": 0,
}


def build(params: Mapping[str, Any], options: BuildOptions) -> Pipeline:
    """Unfitted brute-force k-nearest neighbours after block scaling and optional PCA.

    Method: Cover & Hart, "Nearest neighbor pattern classification", IEEE Trans. Inf. Theory
    1967; scikit-learn (or scikit-learn-intelex) ``KNeighborsClassifier``.

    Parameters
    ----------
    params : Mapping of str to value
        Every key of ``HYPERS`` (``n_neighbors``, ``weights``, ``metric``,
        ``landmark_weight`` for the scaler, ``pca_components``: 0 means no PCA), as
        :meth:`models.spec.ModelSpec.resolve` returns them (validated against ``HYPERS``).
    options : BuildOptions
        Uses ``feature_set`` (scaling), ``seed`` (PCA), ``n_jobs`` and ``accelerate``:
        scikit-learn-intelex's ``KNeighborsClassifier`` when set and ``weights`` is uniform,
        scikit-learn's otherwise (see the comment in the code).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``scale`` (:class:`~models.scaling.BlockScaler`), ``pca`` (whitened, only if
        ``pca_components`` > 0) and ``knn``.

    Raises
    ------
    KeyError
        If a key of ``HYPERS`` is missing from ``params``.
    """
    # scikit-learn-intelex 2026.2 mislabels distance-weighted votes when a query equals a training
    # row (FER2013 has exact duplicates across splits): 14% vs 51% dev accuracy, measured. Those
    # go to scikit-learn's own brute force.
    if options.accelerate and params["weights"] == "uniform":
        from sklearnex.neighbors import KNeighborsClassifier
    else:
        from sklearn.neighbors import KNeighborsClassifier
    steps: list[tuple[str, Any]] = [
        ("scale", BlockScaler(options.feature_set, params["landmark_weight"])),
    ]
    if params["pca_components"]:
        steps.append(("pca", PCA(params["pca_components"], whiten=True, random_state=options.seed)))
    knn = KNeighborsClassifier(
        n_neighbors=params["n_neighbors"],
        weights=params["weights"],
        metric=params["metric"],
        algorithm="brute",
        n_jobs=options.n_jobs,
    )
    return Pipeline([*steps, ("knn", knn)])


SPEC = ModelSpec("knn", "k-nearest neighbours", HYPERS, DEFAULTS, build)
