"""RBF support vector machine (scikit-learn-intelex's oneDAL SVC when asked: ~15x faster fit).

Saved compact: a fitted SVC (oneDAL's or libsvm's) pickles its support vectors more than once plus
the solver's own model (1.44 GB for the default SVM on the full data), so the train stage saves
:class:`CompactRBFSVC` instead: the support vectors as float32 (the features are float32, so no
value changes), the dual coefficients, intercepts and gamma, and libsvm's one-vs-one RBF decision
computed in float64 (Chang & Lin, "LIBSVM: a library for support vector machines", 2011, sec. 7).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from models.hyper import Hyper
from models.scaling import BlockScaler
from models.spec import BuildOptions, ModelSpec

HYPERS = {
    "C": Hyper("float", gt=0.0, le=1e6),
    "gamma": Hyper("float", gt=0.0, le=1e3, special=("scale", "auto")),
    "landmark_weight": Hyper("float", ge=0.0, le=100.0),
    "appearance_power": Hyper("float", gt=0.0, le=2.0),  # x ** p of HOG / pixels before scaling
    "class_weight": Hyper("choice", choices=(None, "balanced")),
    "tol": Hyper("float", gt=0.0, le=1.0),
    "cache_size": Hyper("float", ge=1.0, le=65536.0),  # MB of kernel cache (speed only)
}
DEFAULTS = {
    "C": 15.0,
    "gamma": "scale",
    "landmark_weight": 1.0,
    "appearance_power": 1.0,
    "class_weight": None,
    "tol": 1e-3,
    "cache_size": 1024.0,
}


def build(params: Mapping[str, Any], options: BuildOptions) -> Pipeline:
    if options.accelerate:
        from sklearnex.svm import SVC
    else:
        from sklearn.svm import SVC
    svc = SVC(
        C=params["C"],
        kernel="rbf",
        gamma=params["gamma"],
        class_weight=params["class_weight"],
        tol=params["tol"],
        cache_size=params["cache_size"],
        random_state=options.seed,
    )
    return Pipeline(
        [
            (
                "scale",
                BlockScaler(
                    options.feature_set, params["landmark_weight"], params["appearance_power"]
                ),
            ),
            ("svc", svc),
        ]
    )


_CHUNK_BYTES = 64 * 2**20  # kernel rows computed at once: bounds memory at ~64 MB


class CompactRBFSVC(ClassifierMixin, BaseEstimator):
    """A fitted multiclass RBF SVC reduced to the arrays its decision needs.

    Fitted attributes (from :meth:`from_fitted`): ``support_vectors_`` float32 (n_sv, d) grouped
    by class, ``n_support_`` int64 (k,), ``dual_coef_`` float64 (k - 1, n_sv) and ``intercept_``
    float64 (k (k - 1) / 2,) in libsvm's layout, ``gamma_`` and ``classes_``. For classes i < j
    (pair p, in libsvm's order) the decision is ``sum_s coef[s] exp(-gamma |x - sv_s|^2) +
    intercept_[p]`` over the support vectors of i (coefficients row j - 1) and of j (row i);
    positive votes for i. The class with most votes wins, the first on ties, as libsvm and
    oneDAL decide.
    """

    @classmethod
    def from_fitted(cls, svc: Any) -> CompactRBFSVC:
        """The arrays of a fitted ``sklearn.svm.SVC`` or ``sklearnex.svm.SVC`` (RBF kernel)."""
        if getattr(svc, "kernel", None) != "rbf":
            raise ValueError(f"only RBF SVCs can be compacted, got kernel {svc.kernel!r}")
        compact = cls()
        vectors = np.asarray(svc.support_vectors_)
        compact.support_vectors_ = vectors.astype(np.float32)
        if not np.array_equal(compact.support_vectors_, vectors):
            raise ValueError("support vectors are not float32 values: float32 storage would round")
        compact.n_support_ = np.asarray(svc.n_support_, np.int64)
        compact.dual_coef_ = np.asarray(svc.dual_coef_, np.float64)
        compact.intercept_ = np.asarray(svc.intercept_, np.float64).reshape(-1)
        compact.gamma_ = float(svc._gamma)  # the resolved value of "scale" / "auto" / a number
        compact.classes_ = np.asarray(svc.classes_)
        compact.n_features_in_ = compact.support_vectors_.shape[1]
        k = len(compact.classes_)
        if k < 3 or compact.intercept_.shape != (k * (k - 1) // 2,):
            raise ValueError(f"expected a multiclass SVC (k >= 3 classes), got {k} classes")
        return compact

    def fit(self, x: np.ndarray, y: np.ndarray) -> CompactRBFSVC:
        raise TypeError("a CompactRBFSVC is made from a fitted SVC: use CompactRBFSVC.from_fitted")

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_wide", None)  # the float64 working copy is rebuilt on load, never saved
        return state

    def _vectors64(self) -> tuple[np.ndarray, np.ndarray]:
        if getattr(self, "_wide", None) is None:
            wide = self.support_vectors_.astype(np.float64)
            self._wide = (wide, np.einsum("ij,ij->i", wide, wide))
        return self._wide

    def pair_decisions(self, x: np.ndarray) -> np.ndarray:
        """libsvm's one-vs-one decision values, float64 (n, k (k - 1) / 2)."""
        check_is_fitted(self, "support_vectors_")
        x = np.asarray(x, np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            raise ValueError(f"x must be (n, {self.n_features_in_}), got {x.shape}")
        vectors, norms = self._vectors64()
        k = len(self.classes_)
        bounds = np.concatenate([[0], np.cumsum(self.n_support_)])
        out = np.empty((len(x), k * (k - 1) // 2))
        step = max(1, _CHUNK_BYTES // (8 * max(len(vectors), 1)))
        for start in range(0, len(x), step):
            part = x[start : start + step]
            squares = np.einsum("ij,ij->i", part, part)[:, None]
            # vectors @ part.T: one face is a matrix-vector product, 2-3x faster than part @ V.T
            dist = squares + norms[None, :] - 2 * (vectors @ part.T).T
            kernel = np.exp(-self.gamma_ * np.maximum(dist, 0.0))
            pair = 0
            for i in range(k):
                own = slice(bounds[i], bounds[i + 1])
                for j in range(i + 1, k):
                    other = slice(bounds[j], bounds[j + 1])
                    out[start : start + step, pair] = (
                        kernel[:, own] @ self.dual_coef_[j - 1, own]
                        + kernel[:, other] @ self.dual_coef_[i, other]
                        + self.intercept_[pair]
                    )
                    pair += 1
        return out

    def votes(self, decisions: np.ndarray) -> np.ndarray:
        """One-vs-one votes per class, int64 (n, k), from :meth:`pair_decisions`."""
        k = len(self.classes_)
        votes = np.zeros((len(decisions), k), np.int64)
        pair = 0
        for i in range(k):
            for j in range(i + 1, k):
                wins = decisions[:, pair] > 0
                votes[:, i] += wins
                votes[:, j] += ~wins
                pair += 1
        return votes

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[self.votes(self.pair_decisions(x)).argmax(axis=1)]

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """scikit-learn's ``ovr`` shape (n, k): votes plus pairwise confidences squashed into
        (-1/3, 1/3), so the largest entry is the predicted class except on exact vote ties."""
        return self.ovr_scores(self.pair_decisions(x))

    def ovr_scores(self, decisions: np.ndarray) -> np.ndarray:
        """:meth:`decision_function` from already computed :meth:`pair_decisions`."""
        votes = self.votes(decisions).astype(np.float64)
        k = len(self.classes_)
        confidence = np.zeros_like(votes)
        pair = 0
        for i in range(k):
            for j in range(i + 1, k):
                confidence[:, i] += decisions[:, pair]
                confidence[:, j] -= decisions[:, pair]
                pair += 1
        return votes + confidence / (3 * (np.abs(confidence) + 1))


def export(pipeline: Pipeline) -> Pipeline:
    """The fitted pipeline with its SVC replaced by :class:`CompactRBFSVC` (what is saved)."""
    return Pipeline([*pipeline.steps[:-1], ("svc", CompactRBFSVC.from_fitted(pipeline[-1]))])


SPEC = ModelSpec("svm", "RBF support vector machine", HYPERS, DEFAULTS, build, export=export)
