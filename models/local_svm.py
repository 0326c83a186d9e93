"""Local learning: per test face, an SVM trained on its nearest training faces.

Method: Ionescu, Popescu and Grozea, "Local learning to improve bag of visual words model for
facial expression recognition", ICML 2013 Workshop on Representation Learning (FER2013 challenge,
4th place): a k-nearest-neighbours search selects the training faces closest to the test face, an
SVM is trained on those alone and classifies that face only; when every neighbour has the same
label, that label is the answer and no SVM is trained. After Bottou and Vapnik, "Local learning
algorithms", Neural Computation 1992.

Neighbours come from scikit-learn's (or, with ``accelerate``, scikit-learn-intelex's) brute-force
search on the block-scaled features (:class:`~models.scaling.BlockScaler`, as the RBF-SVM and KNN
use). The local SVM is libsvm's ``SVC`` on a precomputed kernel: the k x k Gram matrix is one BLAS
product, 4x faster than libsvm's own RBF kernel at k = 1000 (measured: 145 against 570 ms per
face); libsvm releases the GIL while it trains, so faces are solved on ``n_jobs`` threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from models.hyper import Hyper
from models.scaling import BlockScaler
from models.spec import BuildOptions, ModelSpec

HYPERS = {
    "n_neighbors": Hyper("int", ge=2, le=5000),  # k: training faces each local SVM learns from
    "metric": Hyper("choice", choices=("euclidean", "cosine", "manhattan")),  # of the search
    "kernel": Hyper("choice", choices=("rbf", "linear")),
    "C": Hyper("float", gt=0.0, le=1e6),
    "gamma": Hyper("float", gt=0.0, le=1e3, special=("scale",)),  # rbf only
    "landmark_weight": Hyper("float", ge=0.0, le=100.0),
    "appearance_power": Hyper("float", gt=0.0, le=2.0),
}
# Untuned defaults (the competency table's): k small enough that 7,178 test faces fit a cell.
DEFAULTS = {
    "n_neighbors": 100,
    "metric": "cosine",
    "kernel": "rbf",
    "C": 10.0,
    "gamma": "scale",
    "landmark_weight": 1.0,
    "appearance_power": 1.0,
}

_BATCH = 256  # faces per neighbour search and per parallel task: bounds the distance block
_PROGRESS_MIN = 2048  # show a progress bar from this many faces


class LocalSVC(ClassifierMixin, BaseEstimator):
    """An SVM per query, trained on the query's ``n_neighbors`` nearest training rows.

    Parameters
    ----------
    n_neighbors : int, default 100
        k, the training rows each local SVM is trained on (capped at the number of rows).
    metric : {"cosine", "euclidean", "manhattan"}, default "cosine"
        Distance of the neighbour search.
    kernel : {"rbf", "linear"}, default "rbf"
        Kernel of the local SVMs: ``exp(-gamma |a - b|^2)`` or ``a . b``.
    C : float, default 10.0
        SVM soft-margin penalty.
    gamma : float or "scale", default "scale"
        RBF width; ``"scale"`` is scikit-learn's ``1 / (d * var(X))`` over all training rows
        (one value for every local SVM).
    n_jobs : int, default 2
        Threads solving local SVMs (BLAS runs single-threaded inside them).
    accelerate : bool, default True
        scikit-learn-intelex's ``NearestNeighbors`` for the search, scikit-learn's otherwise.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class codes seen in ``fit``, sorted.
    gamma_ : float
        The RBF width used (``gamma`` resolved).
    n_svm_ : int
        Local SVMs trained by the last :meth:`decision_function` (queries whose neighbours
        disagree); the others took their neighbours' common label.
    """

    def __init__(
        self,
        n_neighbors: int = 100,
        metric: str = "cosine",
        kernel: str = "rbf",
        C: float = 10.0,  # noqa: N803 - scikit-learn's name
        gamma: float | str = "scale",
        n_jobs: int = 2,
        accelerate: bool = True,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.kernel = kernel
        self.C = C
        self.gamma = gamma
        self.n_jobs = n_jobs
        self.accelerate = accelerate

    def fit(self, x: np.ndarray, y: np.ndarray) -> LocalSVC:
        """Store the training rows and index them for the neighbour search.

        Parameters
        ----------
        x : array_like of shape (n, d)
            Training features (float32 kept, others become float64).
        y : array_like of shape (n,)
            Class codes.

        Returns
        -------
        LocalSVC
            ``self``.

        Raises
        ------
        ValueError
            Non-finite or non-2-D ``x``, mismatched lengths (scikit-learn's ``validate_data``),
            fewer than 2 rows, or an unknown ``metric`` / ``kernel``.
        """
        x, y = validate_data(self, x, y, dtype=[np.float32, np.float64])
        if len(x) < 2:
            raise ValueError(f"local SVMs need at least 2 training rows, got {len(x)}")
        if self.kernel not in ("rbf", "linear"):
            raise ValueError(f"kernel must be 'rbf' or 'linear', got {self.kernel!r}")
        if self.accelerate:
            from sklearnex.neighbors import NearestNeighbors
        else:
            from sklearn.neighbors import NearestNeighbors
        self.classes_, self.codes_ = np.unique(y, return_inverse=True)
        self.x_ = np.ascontiguousarray(x)
        self.sq_norms_ = np.einsum("ij,ij->i", self.x_, self.x_, dtype=np.float64)
        self.k_ = min(int(self.n_neighbors), len(x))
        self.gamma_ = (
            1.0 / (x.shape[1] * float(x.var(dtype=np.float64)) or 1.0)
            if self.gamma == "scale"
            else float(self.gamma)
        )
        self.index_ = NearestNeighbors(
            n_neighbors=self.k_, metric=self.metric, algorithm="brute", n_jobs=self.n_jobs
        ).fit(self.x_)
        return self

    def _kernel(self, rows: np.ndarray, other: np.ndarray, other_sq: np.ndarray) -> np.ndarray:
        """Kernel between training ``rows`` (indices) and vectors ``other``, float64."""
        dots = (self.x_[rows] @ other.T).astype(np.float64)
        if self.kernel == "linear":
            return dots
        dist = self.sq_norms_[rows][:, None] + other_sq[None, :] - 2.0 * dots
        return np.exp(-self.gamma_ * np.maximum(dist, 0.0))

    def _solve(self, query: np.ndarray, neighbours: np.ndarray) -> np.ndarray | None:
        """One query's scores over the local classes' codes, or None when they are unanimous."""
        codes = self.codes_[neighbours]
        if np.all(codes == codes[0]):
            return None
        a = self.x_[neighbours]
        gram = self._kernel(neighbours, a, self.sq_norms_[neighbours])
        query_sq = np.einsum("ij,ij->i", query, query, dtype=np.float64)
        k_query = self._kernel(neighbours, query, query_sq).T  # (1, k)
        svc = SVC(C=self.C, kernel="precomputed", decision_function_shape="ovr").fit(gram, codes)
        decision = svc.decision_function(k_query)[0]
        scores = np.full(len(self.classes_), -1.0)  # classes absent from the neighbourhood
        if len(svc.classes_) == 2:  # binary: one signed value, positive for classes_[1]
            d = float(np.atleast_1d(decision)[0])
            squash = d / (3.0 * (abs(d) + 1.0))
            scores[svc.classes_] = [float(d <= 0) - squash, float(d > 0) + squash]
        else:
            scores[svc.classes_] = decision
        return scores

    def _batch(self, x: np.ndarray, neighbours: np.ndarray) -> tuple[np.ndarray, int]:
        out = np.empty((len(x), len(self.classes_)))
        trained = 0
        with threadpool_limits(1):  # one BLAS thread per worker thread: no oversubscription
            for i, (query, rows) in enumerate(zip(x, neighbours, strict=True)):
                scores = self._solve(query[None, :], rows)
                if scores is None:
                    out[i] = -1.0
                    out[i, self.codes_[rows[0]]] = 1.0
                else:
                    out[i] = scores
                    trained += 1
        return out, trained

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Per-class scores of each query's local SVM: largest = predicted class.

        Parameters
        ----------
        x : array_like of shape (m, d)
            Query features, as in :meth:`fit`.

        Returns
        -------
        ndarray of shape (m, n_classes), float64
            The local SVC's one-vs-one votes plus squashed confidences (scikit-learn's ``ovr``
            shape, in (-1/3, k - 1 + 1/3)) for classes among the neighbours, -1 for classes
            absent from them; a unanimous neighbourhood gives its class 1, the others -1.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            ``x`` is not finite 2-D with the training column count.
        """
        check_is_fitted(self, "index_")
        x = validate_data(self, x, dtype=self.x_.dtype, reset=False)
        starts = range(0, len(x), _BATCH)
        searched = (
            (start, self.index_.kneighbors(x[start : start + _BATCH], return_distance=False))
            for start in starts
        )
        tasks = (delayed(self._batch)(x[s : s + len(rows)], rows) for s, rows in searched)
        results = Parallel(n_jobs=self.n_jobs, prefer="threads", return_as="generator")(tasks)
        results = tqdm(
            results,
            total=len(starts),
            desc=f"local SVMs (k={self.k_})",
            unit="batch",
            disable=len(x) < _PROGRESS_MIN,
        )
        parts = list(results)
        self.n_svm_ = sum(trained for _, trained in parts)
        if not parts:
            return np.empty((0, len(self.classes_)))
        return np.vstack([scores for scores, _ in parts])

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class codes, (m,): the largest of :meth:`decision_function` (same ``x``)."""
        return self.classes_[self.decision_function(x).argmax(axis=1)]


def build(params: Mapping[str, Any], options: BuildOptions) -> Pipeline:
    """Unfitted local-SVM pipeline: block scaling, then :class:`LocalSVC`.

    Method: Ionescu, Popescu and Grozea 2013 (module docstring); scikit-learn ``SVC`` and
    ``NearestNeighbors``.

    Parameters
    ----------
    params : Mapping of str to value
        Every key of ``HYPERS``, as :meth:`models.spec.ModelSpec.resolve` returns them.
    options : BuildOptions
        Uses ``feature_set`` (scaling), ``n_jobs`` (threads) and ``accelerate`` (the search).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``scale`` (:class:`~models.scaling.BlockScaler`) and ``local``.

    Raises
    ------
    KeyError
        If a key of ``HYPERS`` is missing from ``params``.
    """
    scaler = BlockScaler(options.feature_set, params["landmark_weight"], params["appearance_power"])
    local = LocalSVC(
        n_neighbors=params["n_neighbors"],
        metric=params["metric"],
        kernel=params["kernel"],
        C=params["C"],
        gamma=params["gamma"],
        n_jobs=options.n_jobs,
        accelerate=options.accelerate,
    )
    return Pipeline([("scale", scaler), ("local", local)])


SPEC = ModelSpec("local_svm", "local SVM (per-face SVM on its neighbours)", HYPERS, DEFAULTS, build)
