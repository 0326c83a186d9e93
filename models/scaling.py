"""Feature-set aware scaling, fitted inside each model's pipeline on training rows only.

Appearance features (pixels, HOG) are standardised per column. Landmark coordinates are kept as
raw coordinates (centred) times ``landmark_weight``: standardising them gives every noisy jaw
point the weight of an informative mouth corner, while raw coordinates keep the geometry's own
spread, and the weight sets how much geometry counts against the 900 HOG columns in distance based
models (RBF-SVM, KNN, MLP). The landmark block is the last ``LANDMARK_DIM`` columns.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from features.names import FEATURE_SETS, stored_parts

LANDMARK_DIM = 136  # 68 (x, y) points
# landmarks and every <appearance>_landmarks (landmark columns last)
WITH_LANDMARKS = tuple(fs for fs in FEATURE_SETS if "landmarks" in stored_parts(fs))


class BlockScaler(TransformerMixin, BaseEstimator):
    """Standardise the appearance block, centre and weight the landmark block.

    ``appearance_power`` < 1 first compresses the (non-negative) appearance features, x ** p: the
    square root of HOG histograms (Hellinger) keeps a few strong edges from dominating distances.

    Parameters
    ----------
    feature_set : str, default "hog_landmarks"
        Feature set of the input; for ``"landmarks"`` and ``"<appearance>_landmarks"`` (e.g.
        ``"hog_landmarks"``) the last 136 columns are the landmark block, otherwise every
        column is appearance.
    landmark_weight : float, default 1.0
        Factor applied to the centred landmark columns; 0 zeroes them.
    appearance_power : float, default 1.0
        Exponent p of ``sign(x) * |x| ** p`` applied to the appearance block before
        standardising (1 leaves it unchanged).

    Attributes
    ----------
    mean_ : ndarray of shape (d,)
        Column means after the power transform, in the input's float dtype.
    scale_ : ndarray of shape (d,)
        Column standard deviations (1 for constant columns) for the appearance block,
        ``1 / landmark_weight`` (inf for 0) for the landmark block.
    """

    def __init__(
        self,
        feature_set: str = "hog_landmarks",
        landmark_weight: float = 1.0,
        appearance_power: float = 1.0,
    ) -> None:
        self.feature_set = feature_set
        self.landmark_weight = landmark_weight
        self.appearance_power = appearance_power

    def _power(self, x: np.ndarray, split: int) -> np.ndarray:
        if self.appearance_power == 1.0:
            return x
        x = x.copy()
        x[:, :split] = np.sign(x[:, :split]) * np.abs(x[:, :split]) ** self.appearance_power
        return x

    def _split(self, n_columns: int) -> int:
        """Index of the first landmark column (``n_columns`` when there are none)."""
        if self.feature_set not in WITH_LANDMARKS:
            return n_columns
        if n_columns < LANDMARK_DIM:
            raise ValueError(f"{self.feature_set} needs >= {LANDMARK_DIM} columns, got {n_columns}")
        return n_columns - LANDMARK_DIM

    def fit(self, x: np.ndarray, y: object = None) -> BlockScaler:
        """Learn column means and scales from training rows.

        Parameters
        ----------
        x : array_like of shape (n, d)
            Features; float32 and float64 are kept, other types become float32.
        y : ignored
            Present for the scikit-learn API.

        Returns
        -------
        BlockScaler
            ``self``, with ``mean_`` and ``scale_`` set.

        Raises
        ------
        ValueError
            If ``x`` is not a finite 2-D numeric array (scikit-learn's ``validate_data``), or
            the feature set has landmarks and ``x`` has fewer than 136 columns.
        """
        x = validate_data(self, x, dtype=[np.float32, np.float64])
        split = self._split(x.shape[1])
        x = self._power(x, split)
        mean = x.mean(axis=0, dtype=np.float64)
        scale = np.ones(x.shape[1])
        std = x[:, :split].std(axis=0, dtype=np.float64)
        scale[:split] = np.where(std > 0, std, 1.0)  # constant columns stay constant
        # Landmarks: divide by 1/weight so that transform is one (x - mean) / scale everywhere.
        scale[split:] = 1.0 / self.landmark_weight if self.landmark_weight > 0 else np.inf
        self.mean_ = mean.astype(x.dtype)
        self.scale_ = scale.astype(x.dtype)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """``(power(x) - mean_) / scale_``: standardised appearance, weighted centred landmarks.

        Parameters
        ----------
        x : array_like of shape (m, d)
            Features with the same number of columns as in :meth:`fit`.

        Returns
        -------
        ndarray of shape (m, d), float32 or float64
            The scaled features.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If :meth:`fit` has not been called.
        ValueError
            If ``x`` is not a finite 2-D numeric array or has a different number of columns.
        """
        check_is_fitted(self)
        x = validate_data(self, x, dtype=[np.float32, np.float64], reset=False)
        return (self._power(x, self._split(x.shape[1])) - self.mean_) / self.scale_
