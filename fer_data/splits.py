"""Split bookkeeping for ingest: blank images, the stratified dev split, exact duplicates."""

from __future__ import annotations

import numba
import numpy as np
from sklearn.model_selection import train_test_split

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
    """Population standard deviation of each image's pixels."""
    return _pixel_std(np.ascontiguousarray(images.reshape(len(images), -1)))


def blank_mask(images: np.ndarray, std_max: float) -> np.ndarray:
    """True for images whose pixel standard deviation is at most ``std_max``.

    FER2013 holds a dozen all-black frames (mean 0); a mean test misses constant grey or white
    frames, a spread test catches all of them.
    """
    return pixel_std(images) <= std_max


def dev_split(emotion: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, dev): a stratified, seeded ``fraction`` of the rows goes to dev."""
    index = np.arange(len(emotion))
    counts = np.bincount(emotion, minlength=len(EMOTIONS))
    if (counts[counts > 0] < 2).any():
        raise ValueError(
            "data.dev_fraction: cannot stratify the dev split: some emotion has a single "
            "Training row "
            f"(counts per class {counts.tolist()})"
        )
    train, dev = train_test_split(index, test_size=fraction, stratify=emotion, random_state=seed)
    return np.sort(train), np.sort(dev)


def duplicate_groups(images: np.ndarray) -> np.ndarray:
    """A group id per image; images with identical pixels share the id."""
    flat = np.ascontiguousarray(images.reshape(len(images), -1))
    keys = flat.view(np.dtype((np.void, flat.shape[1]))).ravel()
    _, inverse = np.unique(keys, return_inverse=True)
    return inverse.ravel()


def duplicate_stats(images: np.ndarray, emotion: np.ndarray, split: np.ndarray) -> dict[str, int]:
    """Exact-duplicate counts; ``split`` names each image's split (train / dev / test)."""
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


def class_counts(emotion: np.ndarray) -> dict[str, int]:
    counts = np.bincount(emotion.astype(np.int64), minlength=len(EMOTIONS))
    return {name: int(c) for name, c in zip(EMOTIONS, counts, strict=True)} | {
        "total": int(counts.sum())
    }
