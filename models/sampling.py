"""Stratified subsamples and folds that keep an image's augmented copies with the image.

Rows that share a group (``row_id``: an original and its augmented copies) are always taken or
left together, and always land in the same fold, so no copy of a validation image is trained on.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, train_test_split


def _group_labels(y: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unique groups, the label of each, the group index of every row)."""
    unique, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    return unique, y[first], inverse.ravel()


def stratified_subsample(
    y: np.ndarray, n: int, seed: int, groups: np.ndarray | None = None
) -> np.ndarray:
    """Sorted row indices of a stratified subsample of about ``n`` rows.

    Every row when ``n`` is 0 or at least ``len(y)``.
    """
    y = np.asarray(y)
    if n <= 0 or n >= len(y):
        return np.arange(len(y))
    groups = np.arange(len(y)) if groups is None else np.asarray(groups)
    unique, labels, inverse = _group_labels(y, groups)
    n_groups = max(1, round(n * len(unique) / len(y)))
    counts = np.bincount(labels)
    # train_test_split cannot stratify a class with a single member; such groups are always kept.
    stratify = (
        labels
        if counts[counts > 0].min() >= 2 and n_groups >= len(np.flatnonzero(counts))
        else None
    )
    keep, _ = train_test_split(
        np.arange(len(unique)), train_size=n_groups, stratify=stratify, random_state=seed
    )
    return np.flatnonzero(np.isin(inverse, keep))


def stratified_folds(
    y: np.ndarray, k: int, seed: int, groups: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (train, validation) index pairs, stratified by label, grouped by ``groups``."""
    groups = np.arange(len(y)) if groups is None else np.asarray(groups)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y, groups))
