"""Split bookkeeping for ingest: blank images, the stratified dev split, exact duplicates."""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from fer_data.faces import EMOTIONS


@numba.njit(cache=True, parallel=True)
def _pixel_std(flat: np.ndarray) -> np.ndarray:
    # Exact integer sums per image: no float copy of the whole array.
    out = np.empty(flat.shape[0], np.float64)
    n = flat.shape[1]
    for i in numba.prange(flat.shape[0]):
        total = 0
        squares = 0
        for j in range(n):
            v = np.int64(flat[i, j])
            total += v
            squares += v * v
        out[i] = np.sqrt(max(n * squares - total * total, 0)) / n
    return out


def pixel_std(images: np.ndarray) -> np.ndarray:
    """Population standard deviation of each image's pixels.

    Computed from exact int64 sums of values and squares (a numba kernel), so no float copy of
    the whole array is made.

    Parameters
    ----------
    images : ndarray of shape (n, h, w), integer
        Gray-level images, usually uint8 (n, 48, 48).

    Returns
    -------
    ndarray of shape (n,), float64
        Standard deviation (ddof=0) of each image, in gray levels.
    """
    return _pixel_std(np.ascontiguousarray(images.reshape(len(images), -1)))


def blank_mask(images: np.ndarray, std_max: float) -> np.ndarray:
    """True for images whose pixel standard deviation is at most ``std_max``.

    FER2013 holds a dozen all-black frames (mean 0); a mean test misses constant grey or white
    frames, a spread test catches all of them.

    Parameters
    ----------
    images : ndarray of shape (n, h, w), integer
        Gray-level images, usually uint8 (n, 48, 48).
    std_max : float
        Largest pixel standard deviation (gray levels) still counted as blank.

    Returns
    -------
    ndarray of shape (n,), bool
        True for blank images.
    """
    return pixel_std(images) <= std_max


def dev_split(emotion: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, dev): a stratified, seeded ``fraction`` of the rows goes to dev.

    Uses scikit-learn's ``train_test_split`` with ``stratify=emotion``.

    Parameters
    ----------
    emotion : ndarray of shape (n,), non-negative int
        Class code of each training row.
    fraction : float
        Share of the rows that goes to dev, in (0, 1).
    seed : int
        ``random_state`` of the split.

    Returns
    -------
    train, dev : ndarray of int64
        Sorted row positions (0-based, into ``emotion``) of the two parts; together they hold
        each position exactly once.

    Raises
    ------
    ValueError
        If a present class has a single row (cannot be stratified; the message names
        ``data.dev_fraction``), or, from ``train_test_split``, if ``fraction`` is outside (0, 1)
        or gives a dev or train part smaller than the number of classes.
    """
    index = np.arange(len(emotion))
    counts = np.bincount(emotion, minlength=len(EMOTIONS))
    if (counts[counts > 0] < 2).any():
        raise ValueError(
            "data.dev_fraction: cannot stratify the dev split: some emotion has a single "
            "Training row "
            f"(counts per class {counts.tolist()})"
        )
    # Imported here: scikit-learn takes ~1 s to import; most users of this module split nothing.
    from sklearn.model_selection import train_test_split

    train, dev = train_test_split(index, test_size=fraction, stratify=emotion, random_state=seed)
    return np.sort(train), np.sort(dev)


def duplicate_groups(images: np.ndarray) -> np.ndarray:
    """A group id per image; images with identical pixels share the id.

    Parameters
    ----------
    images : ndarray of shape (n, h, w)
        Images compared byte for byte, usually uint8 (n, 48, 48).

    Returns
    -------
    ndarray of shape (n,), int64
        Group id in ``0 .. n_groups - 1`` (ids follow the sorted byte order of the images).
    """
    flat = np.ascontiguousarray(images.reshape(len(images), -1))
    keys = flat.view(np.dtype((np.void, flat.shape[1]))).ravel()
    _, inverse = np.unique(keys, return_inverse=True)
    return inverse.ravel()


def duplicate_stats(images: np.ndarray, emotion: np.ndarray, split: np.ndarray) -> dict[str, int]:
    """Exact-duplicate counts; ``split`` names each image's split (train / dev / test).

    Parameters
    ----------
    images : ndarray of shape (n, h, w)
        Images compared byte for byte, usually uint8 (n, 48, 48).
    emotion : ndarray of shape (n,), int
        Class label of each image.
    split : ndarray of shape (n,), str
        ``"train"``, ``"dev"`` or ``"test"`` for each image (other values are counted in no
        split).

    Returns
    -------
    dict of str to int
        ``groups`` (sets of two or more identical images), ``rows_in_groups``,
        ``groups_with_conflicting_labels`` (a group whose copies carry different emotions),
        ``groups_straddling_train_and_test``, ``test_rows_with_a_copy_in_train`` and
        ``groups_straddling_train_and_dev``.
    """
    groups = duplicate_groups(images)
    sizes = np.bincount(groups)
    dup_groups = np.flatnonzero(sizes > 1)
    in_dup = sizes[groups] > 1

    def groups_with(name: str) -> set[int]:
        return set(np.unique(groups[in_dup & (split == name)]).tolist())

    train, dev, test = groups_with("train"), groups_with("dev"), groups_with("test")
    labels_per_group = {int(g): set() for g in dup_groups}
    for g, label in zip(groups[in_dup], emotion[in_dup], strict=True):
        labels_per_group[int(g)].add(int(label))
    straddling = train & test
    return {
        "groups": len(dup_groups),
        "rows_in_groups": int(in_dup.sum()),
        "groups_with_conflicting_labels": sum(len(v) > 1 for v in labels_per_group.values()),
        "groups_straddling_train_and_test": len(straddling),
        "test_rows_with_a_copy_in_train": int(
            np.isin(groups[split == "test"], list(straddling)).sum()
        ),
        "groups_straddling_train_and_dev": len(train & dev),
    }


def class_counts(emotion: np.ndarray, classes: Sequence[str] = EMOTIONS) -> dict[str, int]:
    """Images per class name, plus ``"total"``.

    Parameters
    ----------
    emotion : ndarray of shape (n,), int
        Class code of each image (0 to ``len(classes) - 1``).
    classes : sequence of str, default FER2013's seven emotions
        The label space's class names (a face table's ``classes``; FER+: 8).

    Returns
    -------
    dict of str to int
        One key per name in ``classes`` (in order, zero for absent classes), then ``"total"``.

    Raises
    ------
    ValueError
        If a code is negative or not below ``len(classes)``.
    """
    counts = np.bincount(emotion.astype(np.int64), minlength=len(classes))
    return {name: int(c) for name, c in zip(classes, counts, strict=True)} | {
        "total": int(counts.sum())
    }
