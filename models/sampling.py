"""Stratified subsamples and folds that keep an image's augmented copies with the image.

Rows that share a group (``row_id``: an original and its augmented copies) are always taken or
left together, and always land in the same fold, so no copy of a validation image is trained on.
"""

from __future__ import annotations

import numpy as np


def _group_labels(y: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unique groups, the label of each, the group index of every row)."""
    unique, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    return unique, y[first], inverse.ravel()


def stratified_subsample(
    y: np.ndarray, n: int, seed: int, groups: np.ndarray | None = None
) -> np.ndarray:
    """Sorted row indices of a stratified subsample of about ``n`` rows.

    Every row when ``n`` is 0 or at least ``len(y)``. Otherwise ``round(n * n_groups / len(y))``
    whole groups are drawn with scikit-learn's ``train_test_split``, stratified by the group's
    label (the label of its first row); when a class has a single group, or fewer groups are
    drawn than there are classes, the draw is not stratified.

    Parameters
    ----------
    y : array_like of shape (n_rows,), non-negative int
        Class labels.
    n : int
        Approximate number of rows wanted (exact when every group is one row).
    seed : int
        ``random_state`` of the draw.
    groups : array_like of shape (n_rows,), optional
        Group key of each row (``row_id``); None makes every row its own group.

    Returns
    -------
    ndarray of shape (k,), int64
        Sorted row positions into ``y``.

    """
    y = np.asarray(y)
    if n <= 0 or n >= len(y):
        return np.arange(len(y))
    groups = np.arange(len(y)) if groups is None else np.asarray(groups)
    unique, labels, inverse = _group_labels(y, groups)
    n_groups = max(1, round(n * len(unique) / len(y)))
    if n_groups >= len(unique):  # e.g. n = len(y) - 1 with groups of two rows: every group
        return np.arange(len(y))
    counts = np.bincount(labels)
    # train_test_split cannot stratify a class with a single member, nor draw fewer members than
    # classes: the draw is then not stratified.
    stratify = (
        labels
        if counts[counts > 0].min() >= 2 and n_groups >= len(np.flatnonzero(counts))
        else None
    )
    from sklearn.model_selection import train_test_split  # ~1 s to import: only when drawing

    keep, _ = train_test_split(
        np.arange(len(unique)), train_size=n_groups, stratify=stratify, random_state=seed
    )
    return np.flatnonzero(np.isin(inverse, keep))


def stratified_folds(
    y: np.ndarray, k: int, seed: int, groups: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (train, validation) index pairs, stratified by label, grouped by ``groups``.

    Uses scikit-learn's ``StratifiedGroupKFold(n_splits=k, shuffle=True)``.

    Parameters
    ----------
    y : array_like of shape (n_rows,)
        Class labels.
    k : int
        Number of folds, at least 2.
    seed : int
        ``random_state`` of the shuffle.
    groups : array_like of shape (n_rows,), optional
        Group key of each row (``row_id``); None makes every row its own group.

    Returns
    -------
    list of (train, validation) tuples
        ``k`` pairs of int64 row-position arrays; each group lies wholly in one validation fold.

    Raises
    ------
    ValueError
        From scikit-learn, if ``k`` < 2 or there are fewer groups than ``k``.
    """
    groups = np.arange(len(y)) if groups is None else np.asarray(groups)
    from sklearn.model_selection import StratifiedGroupKFold  # ~1 s to import: only when used

    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y, groups))
