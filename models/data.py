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
    """(x, y, groups): train, its augmented copies, and dev when ``with_dev``; groups: row ids."""
    x, y, rows = load_training_xy(features_dir, feature_set, augmentation)
    groups = rows["row_id"].to_numpy(np.int64)
    if with_dev:
        x_dev, y_dev, rows_dev = load_xy(features_dir, "dev", feature_set)
        x = np.vstack([x, x_dev])
        y = np.concatenate([y, y_dev])
        groups = np.concatenate([groups, rows_dev["row_id"].to_numpy(np.int64)])
    return x, y, groups
