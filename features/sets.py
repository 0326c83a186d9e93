"""One function that computes any stored feature set of a batch of faces.

The features stage (on the splits) and :mod:`models.predictor` (on new faces) both call
:func:`compute_set`, so a trained model's features on a face equal the stored ones. Settings come
as plain values: :class:`FeatureConfig` holds one small config per set, ``None`` for a set the
caller does not compute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.hog import hog_features
from features.hog_multi import hog_multi_features
from features.landmarks import landmark_features
from features.lbp import lbp_features
from features.names import STORED_SETS
from features.sift import BovwConfig, sift_bovw_features


@dataclass(frozen=True)
class HogConfig:
    orientations: int
    pixels_per_cell: int
    cells_per_block: int


@dataclass(frozen=True)
class LandmarkConfig:
    upscale: int
    normalise: bool
    backend: str


@dataclass(frozen=True)
class LbpConfig:
    points: int
    radius: float
    method: str  # uniform or nri_uniform
    grid: int
    norm: str  # l1 or sqrt


@dataclass(frozen=True)
class HogMultiConfig:
    orientations: int
    pixels_per_cell: tuple[int, ...]
    cells_per_block: int


@dataclass(frozen=True)
class FeatureConfig:
    """Settings of the sets to compute; ``vocabulary`` (float32 (words, 128)) with ``sift``."""

    hog: HogConfig | None = None
    landmarks: LandmarkConfig | None = None
    lbp: LbpConfig | None = None
    sift: BovwConfig | None = None
    vocabulary: np.ndarray | None = None
    hog_multi: HogMultiConfig | None = None


def compute_set(name: str, faces: np.ndarray, config: FeatureConfig, n_jobs: int = 1) -> np.ndarray:
    """Stored feature set ``name`` of uint8 faces (n, 48, 48).

    Parameters
    ----------
    name : str
        One of ``features.names.STORED_SETS``.
    faces : ndarray of shape (n, side, side), uint8
        Gray-level faces.
    config : FeatureConfig
        Must hold the settings of ``name`` (and the vocabulary for ``sift_bovw``).
    n_jobs : int, default 1
        Threads.

    Returns
    -------
    ndarray of shape (n, d)
        ``pixels`` uint8 (n, side * side); every other set float32 (see each module:
        :mod:`features.hog`, :mod:`features.landmarks`, :mod:`features.lbp`,
        :mod:`features.sift`, :mod:`features.hog_multi`).

    Raises
    ------
    ValueError
        If ``name`` is unknown or its settings are missing, or as the set's own function.
    """
    if name not in STORED_SETS:
        raise ValueError(f"unknown stored feature set {name!r}; expected one of {STORED_SETS}")
    if name == "pixels":
        return faces.reshape(len(faces), -1)
    settings = config.sift if name == "sift_bovw" else getattr(config, name)
    if settings is None:
        raise ValueError(f"no settings given for feature set {name!r}")
    if name == "hog":
        return hog_features(
            faces, settings.orientations, settings.pixels_per_cell, settings.cells_per_block
        )
    if name == "landmarks":
        return landmark_features(
            faces, settings.upscale, settings.normalise, backend=settings.backend, n_jobs=n_jobs
        )
    if name == "lbp":
        return lbp_features(
            faces, settings.points, settings.radius, settings.method, settings.grid,
            settings.norm, n_jobs,
        )  # fmt: skip
    if name == "hog_multi":
        return hog_multi_features(
            faces, settings.orientations, tuple(settings.pixels_per_cell),
            settings.cells_per_block, n_jobs,
        )  # fmt: skip
    if config.vocabulary is None:
        raise ValueError("sift_bovw needs the vocabulary learnt on the training split")
    return sift_bovw_features(faces, config.vocabulary, settings, n_jobs)
