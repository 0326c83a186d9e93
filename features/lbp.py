"""Uniform local binary pattern (LBP) histograms on a grid of cells.

Each pixel gets scikit-image's ``local_binary_pattern`` code (Ojala, Pietikainen & Maenpaa,
"Multiresolution gray-scale and rotation invariant texture classification with local binary
patterns", TPAMI 2002); the face is cut into ``grid`` x ``grid`` cells and each cell's codes are
counted, as in Ahonen, Hadid & Pietikainen, "Face description with local binary patterns",
TPAMI 2006. The descriptor itself is scikit-image's; this module only pools it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from skimage.feature import local_binary_pattern

LBP_METHODS = ("uniform", "nri_uniform")
LBP_NORMS = ("l1", "sqrt")


def lbp_bins(points: int, method: str) -> int:
    """Number of distinct codes: ``P + 2`` for ``uniform``, ``P (P - 1) + 3`` for ``nri_uniform``.

    Raises
    ------
    ValueError
        If ``method`` is not one of ``LBP_METHODS``.
    """
    if method == "uniform":
        return points + 2
    if method == "nri_uniform":
        return points * (points - 1) + 3
    raise ValueError(f"LBP method must be one of {', '.join(LBP_METHODS)}, got {method!r}")


def cell_edges(side: int, grid: int) -> np.ndarray:
    """Pixel edges of ``grid`` cells along a side of ``side`` pixels (int64, ``grid + 1``).

    Cells are as even as integers allow (48 px in 7 cells: widths 6 or 7).
    """
    return np.linspace(0, side, grid + 1).round().astype(np.int64)


def lbp_feature_count(points: int, method: str, grid: int) -> int:
    """Length of the LBP vector: ``grid**2 * lbp_bins(points, method)`` (490: P=8, uniform, 7)."""
    return grid * grid * lbp_bins(points, method)


def _cell_index(height: int, width: int, grid: int) -> np.ndarray:
    rows = np.searchsorted(cell_edges(height, grid), np.arange(height), side="right") - 1
    cols = np.searchsorted(cell_edges(width, grid), np.arange(width), side="right") - 1
    return (rows[:, None] * grid + cols[None, :]).ravel()


def _lbp_chunk(
    images: np.ndarray, points: int, radius: float, method: str, grid: int, norm: str
) -> np.ndarray:
    n, height, width = images.shape
    bins = lbp_bins(points, method)
    cell = _cell_index(height, width, grid)
    out = np.empty((n, grid * grid * bins), dtype=np.float32)
    counts = np.bincount(cell, minlength=grid * grid).astype(np.float64)
    per_column = np.repeat(counts, bins)
    for i in range(n):
        codes = local_binary_pattern(images[i], points, radius, method).astype(np.int64).ravel()
        hist = np.bincount(cell * bins + codes, minlength=grid * grid * bins) / per_column
        out[i] = np.sqrt(hist) if norm == "sqrt" else hist
    return out


def lbp_features(
    images: np.ndarray,
    points: int = 8,
    radius: float = 1.0,
    method: str = "uniform",
    grid: int = 7,
    norm: str = "l1",
    n_jobs: int = 1,
) -> np.ndarray:
    """LBP code histograms of ``grid`` x ``grid`` cells, cell by cell, row-major.

    Method: scikit-image ``local_binary_pattern(image, points, radius, method)`` per image,
    then per cell a histogram of the codes (Ahonen et al., TPAMI 2006).

    Parameters
    ----------
    images : ndarray of shape (n, h, w), uint8
        Gray-level faces, e.g. (n, 48, 48).
    points : int, default 8
        Circle sample points P.
    radius : float, default 1.0
        Circle radius R in pixels.
    method : {"uniform", "nri_uniform"}, default "uniform"
        ``uniform``: rotation-invariant uniform codes (P + 2 bins); ``nri_uniform``: the
        non-rotation-invariant uniform codes (P (P - 1) + 3 bins, 59 for P = 8).
    grid : int, default 7
        Cells per side; cell edges from :func:`cell_edges`.
    norm : {"l1", "sqrt"}, default "l1"
        ``l1``: each cell's histogram divided by its pixel count (sums to 1); ``sqrt``: the
        square root of that (Hellinger).
    n_jobs : int, default 1
        Threads (scikit-image's LBP loop runs without the GIL).

    Returns
    -------
    ndarray of shape (n, grid * grid * bins), float32
        Layout (cell_row, cell_col, code); 490 columns for P=8, uniform, grid 7.

    Raises
    ------
    ValueError
        If ``images`` is not uint8 (n, h, w), ``method`` or ``norm`` is unknown, ``points`` <
        1, ``radius`` <= 0, or ``grid`` is not in 1..min(h, w).
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(
            f"images must be uint8 of shape (n, h, w), got {images.dtype} {images.shape}"
        )
    lbp_bins(points, method)  # checks the method
    if norm not in LBP_NORMS:
        raise ValueError(f"LBP norm must be one of {', '.join(LBP_NORMS)}, got {norm!r}")
    if points < 1 or radius <= 0:
        raise ValueError(f"LBP needs points >= 1 and radius > 0, got P={points}, R={radius}")
    if not 1 <= grid <= min(images.shape[1:]):
        raise ValueError(f"LBP grid must be 1..{min(images.shape[1:])}, got {grid}")
    chunks = np.array_split(images, max(1, min(n_jobs, len(images))))
    with ThreadPoolExecutor(max(1, n_jobs)) as pool:
        parts = list(pool.map(lambda c: _lbp_chunk(c, points, radius, method, grid, norm), chunks))
    return np.concatenate(parts)
