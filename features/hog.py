"""Batch HOG that reproduces ``skimage.feature.hog`` bit for bit, for many images at once.

Reference call (what ``hog_features`` reproduces, per image)::

    skimage.feature.hog(img, orientations, (ppc, ppc), (cpb, cpb), block_norm="L2-Hys",
                        feature_vector=True)

Numerical details copied from scikit-image (``_hog.py`` and the ``_hoghistogram.pyx`` Cython):

* gradients are plain central differences ``x[i+1] - x[i-1]`` on the *whole* image, with the first
  and last row (column) set to 0; rows/columns beyond the last full cell still feed the gradient
  of the last cell's pixels;
* magnitude ``np.hypot(g_col, g_row)``, orientation ``np.rad2deg(np.arctan2(g_row, g_col)) % 180``;
* hard binning: bin ``i`` takes ``per * i <= angle < per * (i + 1)`` with ``per = 180 / n`` in
  float64; an angle >= ``per * n`` (e.g. 180.0 after ``%`` rounding) falls in no bin;
* each (cell, bin) sum runs in raster order with a C ``float`` (float32) accumulator,
  then is divided by the cell area in float32;
* blocks are L2-Hys normalised (eps = 1e-5, clip 0.2) with ``np.sum``'s pairwise summation order,
  laid out as (block_row, block_col, cell_row, cell_col, orientation).

For uint8 images the gradients are integers in [-255, 255], so magnitude and bin come from a
511 x 511 table built with the very same numpy ufuncs skimage uses: exact by construction and
no transcendental call per pixel. Other dtypes get the ufuncs on the whole batch.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit

_EPS = 1e-5
_EPS2 = _EPS**2  # the same Python expression skimage evaluates, so the same double
_CLIP = 0.2
_PW_BLOCKSIZE = 128  # numpy's pairwise-summation block size


def hog_feature_count(
    height: int,
    width: int,
    orientations: int = 9,
    pixels_per_cell: int = 8,
    cells_per_block: int = 2,
) -> int:
    """Length of the HOG vector skimage returns for a ``height`` x ``width`` image.

    ``(height // ppc - cpb + 1) * (width // ppc - cpb + 1) * cpb**2 * orientations``; 900 for a
    48x48 image with the defaults.

    Parameters
    ----------
    height, width : int
        Image size in pixels.
    orientations : int, default 9
        Orientation bins over 0-180 degrees.
    pixels_per_cell : int, default 8
        Side of a square cell in pixels.
    cells_per_block : int, default 2
        Side of a square normalisation block in cells.

    Returns
    -------
    int
        Number of features per image.

    Raises
    ------
    ValueError
        If a HOG parameter is not a positive integer, or the image is smaller than one block
        (``pixels_per_cell * cells_per_block`` pixels on a side).
    """
    _check_params(orientations, pixels_per_cell, cells_per_block)
    _check_size(height, width, pixels_per_cell, cells_per_block)
    blocks_row = height // pixels_per_cell - cells_per_block + 1
    blocks_col = width // pixels_per_cell - cells_per_block + 1
    return blocks_row * blocks_col * cells_per_block**2 * orientations


def hog_features(
    images: np.ndarray,
    orientations: int = 9,
    pixels_per_cell: int = 8,
    cells_per_block: int = 2,
    dtype: np.dtype = np.float32,
    batch_size: int = 4096,
) -> np.ndarray:
    """HOG (L2-Hys) of every image in ``images`` (n, h, w); returns (n, n_features) in ``dtype``.

    Values equal ``skimage.feature.hog`` exactly (compute in float64, then cast to ``dtype``).
    Images are processed ``batch_size`` at a time so float inputs need bounded scratch memory.
    Method: Dalal & Triggs, "Histograms of Oriented Gradients for Human Detection", CVPR 2005;
    implementation details follow scikit-image's ``skimage.feature.hog`` (see the module doc).

    Parameters
    ----------
    images : array_like of shape (n, h, w)
        Gray-level images of integer, bool or real float dtype, e.g. uint8 (n, 48, 48). Float
        images holding only integers 0-255 take the exact uint8 path.
    orientations : int, default 9
        Orientation bins over 0-180 degrees (unsigned gradients).
    pixels_per_cell : int, default 8
        Side of a square cell in pixels.
    cells_per_block : int, default 2
        Side of a square normalisation block in cells.
    dtype : numpy dtype, default float32
        Floating-point type of the result.
    batch_size : int, default 4096
        Images computed per call of the compiled kernel.

    Returns
    -------
    ndarray of shape (n, n_features), ``dtype``
        One HOG vector per image, laid out (block_row, block_col, cell_row, cell_col,
        orientation); ``n_features`` is :func:`hog_feature_count` (900 for float32 (n, 900) on
        48x48 images with the defaults).

    Raises
    ------
    ValueError
        If ``images`` is not 3-D or not of integer, bool or real float dtype; a HOG parameter or
        ``batch_size`` is not a positive integer; ``dtype`` is not a floating-point type; or the
        images are smaller than one block.
    """
    images = np.asarray(images)
    _check_images(images)
    _check_params(orientations, pixels_per_cell, cells_per_block)
    if not isinstance(batch_size, int | np.integer) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if np.dtype(dtype).kind != "f":
        raise ValueError(f"dtype must be a floating-point type, got {dtype!r}")
    n, height, width = images.shape
    n_features = hog_feature_count(height, width, orientations, pixels_per_cell, cells_per_block)
    out = np.empty((n, n_features), dtype=dtype)
    # The kernels write float64 only (one compiled specialisation each); other output types go
    # through a reused batch buffer, which costs ~0.04 s on all of FER2013.
    wide = None if out.dtype == np.float64 else np.empty((min(n, batch_size), n_features))
    for start in range(0, n, batch_size):
        batch = images[start : start + batch_size]
        target = out[start : start + len(batch)]
        if wide is None:
            _hog_batch(batch, orientations, pixels_per_cell, cells_per_block, target)
        else:
            _hog_batch(batch, orientations, pixels_per_cell, cells_per_block, wide[: len(batch)])
            target[:] = wide[: len(batch)]
    return out


# --- validation ------------------------------------------------------------------------------


def _check_params(orientations: int, pixels_per_cell: int, cells_per_block: int) -> None:
    for name, value in (
        ("orientations", orientations),
        ("pixels_per_cell", pixels_per_cell),
        ("cells_per_block", cells_per_block),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_size(height: int, width: int, pixels_per_cell: int, cells_per_block: int) -> None:
    side = pixels_per_cell * cells_per_block
    if height < side or width < side:
        raise ValueError(
            f"images of {height}x{width} are smaller than one block: with pixels_per_cell="
            f"{pixels_per_cell} and cells_per_block={cells_per_block} they need at least "
            f"{side}x{side} pixels"
        )


def _check_images(images: np.ndarray) -> None:
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, height, width), got shape {images.shape}")
    kind = images.dtype.kind
    if kind not in "biuf":
        raise ValueError(f"images must be integer, bool or real float, got dtype {images.dtype}")


# --- per-batch driver ------------------------------------------------------------------------


def _hog_batch(batch: np.ndarray, orientations: int, ppc: int, cpb: int, out: np.ndarray) -> None:
    """float64 HOG of one batch into ``out``, dispatched on the image dtype."""
    batch = _as_uint8_if_lossless(batch)
    if batch.dtype == np.uint8:
        magnitude_lut, bin_lut = _uint8_tables(orientations)
        _hog_uint8_kernel(
            np.ascontiguousarray(batch), magnitude_lut, bin_lut, orientations, ppc, cpb, _EPS2, out
        )
    else:
        magnitude, bins = _polar(batch, orientations)
        _hog_polar_kernel(magnitude, bins, orientations, ppc, cpb, _EPS2, out)


def _as_uint8_if_lossless(batch: np.ndarray) -> np.ndarray:
    """uint8 view of a batch whose values are all 0..255 integers, else the batch unchanged.

    Such images give integer gradients in any float type, hence the same HOG as uint8, and the
    table path is several times faster than the per-pixel ufuncs. -0.0 pixels are harmless: a
    -0.0 gradient only turns an angle of 0 or 180 degrees into -0 or -180, all of which land
    on 0 after ``% 180`` (numpy's rad2deg(pi) is exactly 180).
    """
    if batch.dtype == np.uint8 or batch.size == 0:
        return batch
    lossless = (batch >= 0) & (batch <= 255)
    if batch.dtype.kind == "f":
        lossless &= batch == np.floor(batch)
    return batch.astype(np.uint8) if lossless.all() else batch


def _skimage_float_type(dtype: np.dtype) -> type:
    """The dtype skimage converts the image to before taking gradients (float16 -> float32)."""
    return np.float32 if dtype in (np.float16, np.float32) else np.float64


def _gradients(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Central differences with zeroed borders, in skimage's working float type, as float64."""
    image = batch.astype(_skimage_float_type(batch.dtype), copy=False)
    g_row = np.zeros(image.shape, dtype=image.dtype)
    g_col = np.zeros(image.shape, dtype=image.dtype)
    g_row[:, 1:-1, :] = image[:, 2:, :] - image[:, :-2, :]
    g_col[:, :, 1:-1] = image[:, :, 2:] - image[:, :, :-2]
    return g_row.astype(np.float64, copy=False), g_col.astype(np.float64, copy=False)


def _bin_index(g_row: np.ndarray, g_col: np.ndarray, orientations: int) -> np.ndarray:
    """Orientation bin per pixel (-1 for none), via skimage's exact angle expression."""
    # rad2deg(arctan2(...)) % 180, evaluated in place to keep one float64 temporary.
    angle = np.arctan2(g_row, g_col)
    np.rad2deg(angle, out=angle)
    np.remainder(angle, 180, out=angle)
    # Edges as the Cython computes them: per * i in float64 (not 180 * i / n).
    edges = (180.0 / orientations) * np.arange(orientations + 1, dtype=np.float64)
    # bin = (number of edges <= angle) - 1; counted in a small int type instead of searchsorted's
    # int64 output. Angles >= the last edge (e.g. 180.0 after % rounding) fall in no bin.
    bins = np.full(angle.shape, -1, dtype=np.int8 if orientations < 127 else np.int32)
    for edge in edges[:-1]:
        bins += angle >= edge
    bins[angle >= edges[-1]] = -1
    return bins


def _polar(batch: np.ndarray, orientations: int) -> tuple[np.ndarray, np.ndarray]:
    g_row, g_col = _gradients(batch)
    bins = _bin_index(g_row, g_col, orientations)
    return np.hypot(g_col, g_row), bins


@lru_cache(maxsize=8)
def _uint8_tables(orientations: int) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude and bin for every integer gradient pair, indexed [g_row + 255, g_col + 255]."""
    values = np.arange(-255, 256, dtype=np.float64)
    g_row, g_col = np.meshgrid(values, values, indexing="ij")
    magnitude = np.hypot(g_col, g_row)
    bins = _bin_index(g_row, g_col, orientations)
    return magnitude, bins


# --- numba kernels ---------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _pairwise_leaf(a: np.ndarray, lo: int, n: int) -> float:
    """numpy's pairwise_sum for n <= 128: plain loop below 8, else 8 interleaved partial sums."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - (n % 8):
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True, nogil=True)
def _pairwise_sum(a: np.ndarray, n: int) -> float:
    """``np.sum`` of a contiguous float64 run, in numpy's exact pairwise order.

    Above 128 numpy recurses on halves (rounded down to a multiple of 8); numba's on-disk cache
    crashes on recursive functions, so the recursion runs on an explicit post-order stack.
    """
    if n <= _PW_BLOCKSIZE:
        return _pairwise_leaf(a, 0, n)
    depth = 64  # halving from n < 2**63 never goes deeper
    los = np.empty(depth, dtype=np.int64)
    sizes = np.empty(depth, dtype=np.int64)
    stage = np.empty(depth, dtype=np.int64)  # 0: visit left, 1: visit right, 2: combine
    values = np.empty(depth, dtype=np.float64)
    top, n_values = 0, 0
    los[0], sizes[0], stage[0] = 0, n, 0
    while top >= 0:
        lo, size = los[top], sizes[top]
        if size <= _PW_BLOCKSIZE:
            values[n_values] = _pairwise_leaf(a, lo, size)
            n_values += 1
            top -= 1
            continue
        half = size // 2
        half -= half % 8
        if stage[top] == 2:
            values[n_values - 2] = values[n_values - 2] + values[n_values - 1]
            n_values -= 1
            top -= 1
            continue
        child_lo = lo if stage[top] == 0 else lo + half
        child_size = half if stage[top] == 0 else size - half
        stage[top] += 1
        top += 1
        los[top], sizes[top], stage[top] = child_lo, child_size, 0
    return values[0]


@njit(cache=True, nogil=True)
def _l2_hys(block: np.ndarray, squares: np.ndarray, eps2: float) -> None:
    """In-place L2-Hys of a flat block, as skimage's ``_hog_normalize_block``."""
    m = block.size
    for k in range(m):
        squares[k] = block[k] * block[k]
    denom = np.sqrt(0.0 + _pairwise_sum(squares, m) + eps2)
    for k in range(m):
        block[k] = min(block[k] / denom, _CLIP)
        squares[k] = block[k] * block[k]
    denom = np.sqrt(0.0 + _pairwise_sum(squares, m) + eps2)
    for k in range(m):
        block[k] = block[k] / denom


@njit(cache=True, nogil=True)
def _cell_histograms(
    magnitude: np.ndarray, bins: np.ndarray, ppc: int, totals: np.ndarray, hist: np.ndarray
) -> None:
    """hist[cy, cx, o]: float32-accumulated, area-divided magnitude sums, as the Cython does.

    Each (cell, bin) sum must follow the cell's raster order, but different cells are
    independent: looping over the pixel offset outermost makes consecutive updates hit
    different cells, so the float adds don't wait on one another.
    """
    n_cells_row, n_cells_col = hist.shape[0], hist.shape[1]
    totals[:] = 0.0
    for py in range(ppc):
        for px in range(ppc):
            for cy in range(n_cells_row):
                y = cy * ppc + py
                for cx in range(n_cells_col):
                    x = cx * ppc + px
                    b = bins[y, x]
                    if b >= 0:
                        # C `float total += double`: add in double, round to float.
                        totals[cy, cx, b] = np.float32(
                            np.float64(totals[cy, cx, b]) + magnitude[y, x]
                        )
    area = np.float32(ppc * ppc)
    for cy in range(n_cells_row):
        for cx in range(n_cells_col):
            for o in range(hist.shape[2]):
                hist[cy, cx, o] = np.float32(totals[cy, cx, o] / area)


@njit(cache=True, nogil=True)
def _blocks(hist: np.ndarray, cpb: int, eps2: float, out: np.ndarray) -> None:
    """Normalised blocks in skimage's (block_row, block_col, cell_row, cell_col, o) order."""
    n_cells_row, n_cells_col, orientations = hist.shape
    m = cpb * cpb * orientations
    block = np.empty(m, dtype=np.float64)
    squares = np.empty(m, dtype=np.float64)
    pos = 0
    for br in range(n_cells_row - cpb + 1):
        for bc in range(n_cells_col - cpb + 1):
            k = 0
            for r in range(br, br + cpb):
                for c in range(bc, bc + cpb):
                    for o in range(orientations):
                        block[k] = hist[r, c, o]
                        k += 1
            _l2_hys(block, squares, eps2)
            out[pos : pos + m] = block
            pos += m


@njit(cache=True, nogil=True)
def _hog_uint8_kernel(
    images: np.ndarray,
    magnitude_lut: np.ndarray,
    bin_lut: np.ndarray,
    orientations: int,
    ppc: int,
    cpb: int,
    eps2: float,
    out: np.ndarray,
) -> None:
    n, height, width = images.shape
    magnitude = np.empty((height, width), dtype=np.float64)
    bins = np.empty((height, width), dtype=bin_lut.dtype)
    totals = np.empty((height // ppc, width // ppc, orientations), dtype=np.float32)
    hist = np.empty(totals.shape, dtype=np.float64)
    for i in range(n):
        img = images[i]
        for y in range(height):
            for x in range(width):
                g_row = 0
                g_col = 0
                if 0 < y < height - 1:
                    g_row = np.int32(img[y + 1, x]) - np.int32(img[y - 1, x])
                if 0 < x < width - 1:
                    g_col = np.int32(img[y, x + 1]) - np.int32(img[y, x - 1])
                magnitude[y, x] = magnitude_lut[g_row + 255, g_col + 255]
                bins[y, x] = bin_lut[g_row + 255, g_col + 255]
        _cell_histograms(magnitude, bins, ppc, totals, hist)
        _blocks(hist, cpb, eps2, out[i])


@njit(cache=True, nogil=True)
def _hog_polar_kernel(
    magnitude: np.ndarray,
    bins: np.ndarray,
    orientations: int,
    ppc: int,
    cpb: int,
    eps2: float,
    out: np.ndarray,
) -> None:
    n, height, width = magnitude.shape
    totals = np.empty((height // ppc, width // ppc, orientations), dtype=np.float32)
    hist = np.empty(totals.shape, dtype=np.float64)
    for i in range(n):
        _cell_histograms(magnitude[i], bins[i], ppc, totals, hist)
        _blocks(hist, cpb, eps2, out[i])
