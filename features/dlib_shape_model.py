"""Reader for dlib's serialized ``shape_predictor`` (the 68-point ERT face-landmark model).

dlib writes every integer as one control byte (bit 0x80: negative, low nibble: byte count) followed
by that many little-endian magnitude bytes, and every float as two such integers, a mantissa and a
base-2 exponent (``float_details``). Matrices are written as ``-nr, -nc`` then the elements row by
row, ``std::vector`` as its size then the items. A ``shape_predictor`` (version 1) is::

    version, initial_shape (matrix<float,0,1>),
    forests: vector<vector<regression_tree>>   tree = (splits: vector<(idx1, idx2, thresh)>,
                                                       leaf_values: vector<matrix<float,0,1>>)
    anchor_idx: vector<vector<unsigned long>>, deltas: vector<vector<vector<float,2>>>

Token boundaries depend on every previous control byte, so the byte stream cannot be split up
front; one compiled pass (numba) decodes it in well under a second, and numpy does the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from numba import njit

from features.dlib_models import LANDMARKS_68, packaged_model_path

_SPECIAL_EXPONENT = 32000  # float_details: 32000 = +inf, 32001 = -inf, 32002 = NaN


@dataclass(frozen=True)
class ShapeModel:
    """The arrays of a dlib ERT shape predictor; shapes are interleaved (x0, y0, x1, y1, ...).

    C cascades, T trees per cascade, S splits and L = S + 1 leaves per tree, F feature pixels per
    cascade, P parts. Coordinates live in dlib's normalised box space ([0, 1] spans the rectangle).
    For dlib's 68-point model: C=15, T=500, S=15, L=16, F=500, P=68. Method: Kazemi & Sullivan,
    "One Millisecond Face Alignment with an Ensemble of Regression Trees", CVPR 2014, as
    implemented by dlib's ``shape_predictor``.
    """

    initial_shape: np.ndarray  # (2P,) float32
    split_idx1: np.ndarray  # (C, T, S) int32, index into the cascade's F feature pixels
    split_idx2: np.ndarray  # (C, T, S) int32
    split_thresh: np.ndarray  # (C, T, S) float32
    leaf_values: np.ndarray  # (C, T, L, 2P) float32
    anchor_idx: np.ndarray  # (C, F) int32, the part each feature pixel is anchored to
    deltas: np.ndarray  # (C, F, 2) float32, offset of the feature pixel from its anchor

    @property
    def num_parts(self) -> int:
        """Number of landmarks P (68 for dlib's model)."""
        return self.initial_shape.shape[0] // 2


def shape_model_path() -> Path:
    """Path of the 68-point model shipped by ``face_recognition_models``.

    Raises
    ------
    FileNotFoundError
        If the package is not installed or the model file is missing from it.
    """
    return packaged_model_path(LANDMARKS_68)


# --- compiled decoders: each returns the new byte position, or -1 on malformed input -----------


@njit(cache=True, inline="always")
def _read_int(buf: np.ndarray, pos: int) -> tuple[int, int]:
    ctrl = buf[pos]
    size = ctrl & 0x0F
    if (ctrl & 0x70) != 0 or size > 8 or pos + 1 + size > buf.shape[0]:
        return 0, -1
    value = 0
    for i in range(size - 1, -1, -1):
        value = (value << 8) | np.int64(buf[pos + 1 + i])
    if ctrl & 0x80:
        value = -value
    return value, pos + 1 + size


@njit(cache=True, inline="always")
def _read_float(buf: np.ndarray, pos: int) -> tuple[float, int]:
    mantissa, pos = _read_int(buf, pos)
    if pos < 0:
        return 0.0, -1
    exponent, pos = _read_int(buf, pos)
    if pos < 0:
        return 0.0, -1
    if exponent < _SPECIAL_EXPONENT:
        # Exact: a serialized float32 has at most a 24-bit mantissa.
        return math.ldexp(float(mantissa), exponent), pos
    if exponent == _SPECIAL_EXPONENT:
        return math.inf, pos
    if exponent == _SPECIAL_EXPONENT + 1:
        return -math.inf, pos
    return math.nan, pos


@njit(cache=True)
def _read_ints(buf: np.ndarray, pos: int, out: np.ndarray) -> int:
    for i in range(out.shape[0]):
        value, pos = _read_int(buf, pos)
        if pos < 0:
            return -1
        out[i] = value
    return pos


@njit(cache=True)
def _read_floats(buf: np.ndarray, pos: int, out: np.ndarray) -> int:
    for i in range(out.shape[0]):
        value, pos = _read_float(buf, pos)
        if pos < 0:
            return -1
        out[i] = value
    return pos


@njit(cache=True)
def _read_column(buf: np.ndarray, pos: int, out: np.ndarray) -> int:
    """A matrix<float,0,1> whose length must equal len(out)."""
    nr, pos = _read_int(buf, pos)
    if pos < 0 or abs(nr) != out.shape[0]:
        return -1
    nc, pos = _read_int(buf, pos)
    if pos < 0 or abs(nc) != 1:
        return -1
    return _read_floats(buf, pos, out)


@njit(cache=True)
def _read_forests(
    buf: np.ndarray,
    pos: int,
    idx1: np.ndarray,
    idx2: np.ndarray,
    thresh: np.ndarray,
    leaves: np.ndarray,
) -> int:
    """All cascades; every cascade, tree and leaf must have the sizes of the arrays given."""
    n_cascades, n_trees, n_splits = idx1.shape
    n_leaves = leaves.shape[2]
    for c in range(n_cascades):
        size, pos = _read_int(buf, pos)
        if pos < 0 or size != n_trees:
            return -1
        for t in range(n_trees):
            size, pos = _read_int(buf, pos)
            if pos < 0 or size != n_splits:
                return -1
            for s in range(n_splits):
                first, pos = _read_int(buf, pos)
                if pos < 0:
                    return -1
                second, pos = _read_int(buf, pos)
                if pos < 0:
                    return -1
                value, pos = _read_float(buf, pos)
                if pos < 0:
                    return -1
                idx1[c, t, s] = first
                idx2[c, t, s] = second
                thresh[c, t, s] = value
            size, pos = _read_int(buf, pos)
            if pos < 0 or size != n_leaves:
                return -1
            for leaf in range(n_leaves):
                pos = _read_column(buf, pos, leaves[c, t, leaf])
                if pos < 0:
                    return -1
    return pos


# --- python orchestration ------------------------------------------------------------------------


class _Cursor:
    """Small sequential reader for the few header tokens (sizes) read from Python."""

    def __init__(self, buf: np.ndarray, pos: int = 0) -> None:
        self.buf = buf
        self.pos = pos

    def check(self, pos: int, what: str) -> None:
        """Advance to ``pos``.

        Raises
        ------
        ValueError
            If ``pos`` is negative (a decoder's failure), naming ``what``.
        """
        if pos < 0:
            raise ValueError(f"malformed dlib shape_predictor file while reading {what}")
        self.pos = pos

    def int(self, what: str) -> int:
        """Read one integer token; ValueError naming ``what`` if malformed."""
        value, pos = _read_int(self.buf, self.pos)
        self.check(pos, what)
        return int(value)

    def ints(self, count: int, what: str) -> np.ndarray:
        """Read ``count`` integer tokens as int64 (count,); ValueError if malformed."""
        out = np.empty(count, np.int64)
        self.check(_read_ints(self.buf, self.pos, out), what)
        return out

    def floats(self, count: int, what: str) -> np.ndarray:
        """Read ``count`` float tokens as float32 (count,); ValueError if malformed."""
        out = np.empty(count, np.float32)
        self.check(_read_floats(self.buf, self.pos, out), what)
        return out


def _peek_tree_sizes(cur: _Cursor) -> tuple[int, int, int]:
    """(trees per cascade, splits per tree, leaves per tree) from the first tree, cursor kept."""
    probe = _Cursor(cur.buf, cur.pos)
    n_trees = probe.int("trees per cascade")
    if n_trees == 0:
        return 0, 0, 1
    n_splits = probe.int("splits per tree")
    probe.ints(4 * n_splits, "first tree splits")  # idx1, idx2, thresh (2 tokens) per split
    n_leaves = probe.int("leaves per tree")
    return n_trees, n_splits, n_leaves


def parse_shape_model(data: bytes | np.ndarray) -> ShapeModel:
    """Decode a serialized dlib ``shape_predictor`` (bytes of the .dat file).

    Parameters
    ----------
    data : bytes, bytearray or ndarray of shape (n_bytes,), uint8
        The whole file content (the format is described in the module doc).

    Returns
    -------
    ShapeModel
        The model's arrays, with the shapes and dtypes listed on :class:`ShapeModel`.

    Raises
    ------
    ValueError
        If the file is malformed or truncated (the message names the token being read), the
        version is not 1, the initial shape is not a (2P, 1) column, trees are not full binary
        trees of one size, cascade counts or feature-pixel counts disagree, bytes trail the
        model, or a split or anchor index is out of range.
    """
    buf = np.frombuffer(data, np.uint8) if isinstance(data, bytes | bytearray) else data
    cur = _Cursor(buf)
    if (version := cur.int("version")) != 1:
        raise ValueError(f"unsupported shape_predictor version {version}")
    n_rows, n_cols = abs(cur.int("initial shape rows")), abs(cur.int("initial shape cols"))
    if n_cols != 1 or n_rows % 2:
        raise ValueError(f"initial shape must be a (2P, 1) column, got ({n_rows}, {n_cols})")
    initial_shape = cur.floats(n_rows, "initial shape")

    n_cascades = cur.int("number of cascades")
    n_trees, n_splits, n_leaves = _peek_tree_sizes(cur) if n_cascades else (0, 0, 1)
    if n_leaves != n_splits + 1:
        raise ValueError(f"tree with {n_splits} splits has {n_leaves} leaves (need a full tree)")
    idx1 = np.empty((n_cascades, n_trees, n_splits), np.int64)
    idx2 = np.empty_like(idx1)
    thresh = np.empty(idx1.shape, np.float32)
    leaves = np.empty((n_cascades, n_trees, n_leaves, n_rows), np.float32)
    cur.check(_read_forests(buf, cur.pos, idx1, idx2, thresh, leaves), "forests (irregular?)")

    anchors, deltas = [], []
    if cur.int("anchor cascades") != n_cascades:
        raise ValueError("anchor_idx and forests disagree on the number of cascades")
    for _ in range(n_cascades):
        anchors.append(cur.ints(cur.int("feature pixels"), "anchor_idx"))
    if cur.int("delta cascades") != n_cascades:
        raise ValueError("deltas and forests disagree on the number of cascades")
    for _ in range(n_cascades):
        deltas.append(cur.floats(2 * cur.int("feature pixels"), "deltas").reshape(-1, 2))
    if cur.pos != buf.shape[0]:
        raise ValueError(f"{buf.shape[0] - cur.pos} trailing bytes after the shape_predictor")

    n_pixels = {len(a) for a in anchors} | {len(d) for d in deltas}
    if len(n_pixels) > 1:
        raise ValueError(f"cascades use different numbers of feature pixels: {sorted(n_pixels)}")
    n_parts = n_rows // 2
    n_features = len(anchors[0]) if anchors else 0
    anchor_idx = np.array(anchors, np.int32).reshape(n_cascades, n_features)
    for name, index, bound in (
        ("split index", idx1, n_features),
        ("split index", idx2, n_features),
        ("anchor index", anchor_idx, n_parts),
    ):
        if index.size and (index.min() < 0 or index.max() >= bound):
            raise ValueError(f"{name} out of range [0, {bound})")
    return ShapeModel(
        initial_shape=initial_shape,
        split_idx1=idx1.astype(np.int32),
        split_idx2=idx2.astype(np.int32),
        split_thresh=thresh,
        leaf_values=leaves,
        anchor_idx=anchor_idx,
        deltas=np.array(deltas, np.float32).reshape(n_cascades, n_features, 2),
    )


# dlib's unnormalizing_tform(rect) maps the box space to pixels with find_affine_transform, i.e.
# Q * pinv(P) for the corners P = (0,0), (1,0), (1,1) (homogeneous columns). Its SVD-based pinv is
# not exactly inv(P) = [[-1, 0, 1], [1, -1, 0], [0, 1, 0]]: the last bits differ, and that decides
# how points that land exactly on a half pixel (or far outside the box) round. These are the bits
# dlib computes (its svd4-based pinv replayed step by step in float64 -- dlib-bin is built without
# FMA -- and checked against dlib on adversarial points in tests/test_landmarks.py). P does not
# depend on the rectangle, so they are constants.
_PINV_CORNERS = np.array(
    [
        [float.fromhex(v) for v in ("-0x1.0000000000001p+0", "-0x1p-52", "0x1.0000000000001p+0")],
        [float.fromhex(v) for v in ("0x1.ffffffffffffdp-1", "-0x1.ffffffffffffbp-1", "0x1.8p-53")],
        [float.fromhex(v) for v in ("0x0p+0", "0x1.0000000000001p+0", "0x1.8p-54")],
    ]
)


def unnormalizing_tform(width: int, height: int) -> np.ndarray:
    """dlib's affine map from box space to the pixels of rectangle (0, 0, width-1, height-1).

    Returns a (2, 3) float64 matrix [M | b]; apply as (M[r,0]*x + M[r,1]*y) + b[r], the order of
    dlib's point_transform_affine.

    Parameters
    ----------
    width, height : int
        Size of the face rectangle in pixels (the map sends box (1, 1) to pixel
        (width - 1, height - 1)).

    Returns
    -------
    ndarray of shape (2, 3), float64
        ``[M | b]``, bit-identical to dlib's ``unnormalizing_tform``.
    """
    corners = np.array([[0.0, width - 1.0, width - 1.0], [0.0, 0.0, height - 1.0]])
    out = np.zeros((2, 3))
    for r in range(2):
        for j in range(3):
            acc = 0.0
            for k in range(3):  # dlib's matrix product: sequential sum over k
                acc += float(corners[r, k]) * float(_PINV_CORNERS[k, j])
            out[r, j] = acc
    return out


@lru_cache(maxsize=4)
def load_shape_model(path: str | Path | None = None) -> ShapeModel:
    """Parse a model file once per process (default: the 68-point model).

    Results are cached per ``path`` (``functools.lru_cache``, up to 4 models).

    Parameters
    ----------
    path : str, pathlib.Path or None, default None
        A dlib ``shape_predictor`` .dat file; None means :func:`shape_model_path`.

    Returns
    -------
    ShapeModel
        The decoded model.

    Raises
    ------
    FileNotFoundError
        If ``path`` (or, when None, the default model) does not exist.
    ValueError
        If the file is not a valid ``shape_predictor`` (see :func:`parse_shape_model`).
    """
    path = Path(path) if path is not None else shape_model_path()
    return parse_shape_model(path.read_bytes())
