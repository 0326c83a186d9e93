"""Multi-scale HOG: the project's HOG (:mod:`features.hog`, equal to scikit-image's) at several
cell sizes, side by side; fine cells see wrinkles and mouth corners, coarse ones face shape."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from features.hog import hog_feature_count, hog_features


def hog_multi_feature_count(
    height: int, width: int, orientations: int, pixels_per_cell: tuple[int, ...], cpb: int
) -> int:
    """Sum of :func:`features.hog.hog_feature_count` over the cell sizes (2988 for 48x48,
    9 orientations, cells (6, 8, 12), 2x2 blocks)."""
    return sum(hog_feature_count(height, width, orientations, p, cpb) for p in pixels_per_cell)


def hog_multi_features(
    images: np.ndarray,
    orientations: int,
    pixels_per_cell: tuple[int, ...],
    cells_per_block: int,
    n_jobs: int = 1,
) -> np.ndarray:
    """HOG (L2-Hys) of every face at each cell size, concatenated in the order given.

    Method: Dalal & Triggs, CVPR 2005, via :func:`features.hog.hog_features` (bit-identical to
    ``skimage.feature.hog``), once per ``pixels_per_cell``.

    Parameters
    ----------
    images : ndarray of shape (n, h, w)
        Gray-level faces, e.g. uint8 (n, 48, 48).
    orientations : int
        Orientation bins over 0-180 degrees.
    pixels_per_cell : tuple of int
        Cell sides in pixels, e.g. (6, 8, 12); each must leave at least one block.
    cells_per_block : int
        Block side in cells.
    n_jobs : int, default 1
        Threads (the compiled kernel runs without the GIL).

    Returns
    -------
    ndarray of shape (n, sum of HOG lengths), float32
        :func:`hog_multi_feature_count` columns, scale by scale.

    Raises
    ------
    ValueError
        As :func:`features.hog.hog_features`, or if ``pixels_per_cell`` is empty.
    """
    if not pixels_per_cell:
        raise ValueError("hog_multi needs at least one pixels_per_cell")
    images = np.asarray(images)
    chunks = np.array_split(images, max(1, min(n_jobs, len(images))))

    def one(chunk: np.ndarray) -> np.ndarray:
        return np.hstack(
            [hog_features(chunk, orientations, p, cells_per_block) for p in pixels_per_cell]
        )

    with ThreadPoolExecutor(max(1, n_jobs)) as pool:
        return np.concatenate(list(pool.map(one, chunks)))
