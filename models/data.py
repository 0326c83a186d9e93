"""The rows a model trains on, from the feature store."""

from __future__ import annotations

import os

import numpy as np

from features.store import load_training_xy, load_xy


def training_data(
    features_dir: str | os.PathLike[str],
    feature_set: str,
    augmentation: str,
    with_dev: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, groups): train, its augmented copies, and dev when ``with_dev``; groups: row ids.

    Parameters
    ----------
    features_dir : str or os.PathLike
        Root of the feature store.
    feature_set : str
        One of ``features.names.FEATURE_SETS``.
    augmentation : str
        Augmentation mode whose copies are appended, or ``"none"``.
    with_dev : bool, default False
        Also append the dev split (for the final fit after a search).

    Returns
    -------
    x : ndarray of shape (n, d), float32
        Features, in the order train, augmented copies, dev.
    y : ndarray of shape (n,), int64
        Class codes: 0-6 (FER2013 labels) or 0-7 (FER+ labels).
    groups : ndarray of shape (n,), int64
        ``row_id`` of each row: an image and its augmented copies share it.

    Raises
    ------
    ValueError, FileNotFoundError
        As :func:`features.store.load_xy`, for any split read.
    """
    x, y, rows = load_training_xy(features_dir, feature_set, augmentation)
    groups = rows["row_id"].to_numpy(np.int64)
    if with_dev:
        x_dev, y_dev, rows_dev = load_xy(features_dir, "dev", feature_set)
        x = np.vstack([x, x_dev])
        y = np.concatenate([y, y_dev])
        groups = np.concatenate([groups, rows_dev["row_id"].to_numpy(np.int64)])
    return x, y, groups
