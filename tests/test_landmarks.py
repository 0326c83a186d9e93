"""dlib 68-point landmarks: the numba reimplementation against dlib itself, on real faces."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from features.dlib_shape_model import load_shape_model, parse_shape_model, unnormalizing_tform
from features.landmarks import (
    LEFT_EYE,
    RIGHT_EYE,
    _run_numba,
    detect_landmarks,
    landmark_features,
    normalise_landmarks,
    upscale_images,
)

dlib = pytest.importorskip("dlib")


@pytest.fixture(scope="module")
def faces(real_faces: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return real_faces[0]


Both = tuple[int, np.ndarray, np.ndarray]  # upscale, numba points, dlib points


@pytest.fixture(scope="module", params=[1, 2], ids=["upscale1", "upscale2"])
def both_backends(request: pytest.FixtureRequest, faces: np.ndarray) -> Both:
    upscale = request.param
    ours = detect_landmarks(faces, upscale=upscale, backend="numba", n_jobs=2)
    # The reference loop in-process for upscale 1, in worker processes for upscale 2.
    reference = detect_landmarks(faces, upscale=upscale, backend="dlib", n_jobs=upscale)
    return upscale, ours, reference


# --- exactness -------------------------------------------------------------------------------


def test_numba_equals_dlib_on_every_real_face(both_backends: Both) -> None:
    upscale, ours, reference = both_backends
    assert ours.shape == reference.shape == (len(ours), 68, 2)
    assert ours.dtype == np.float32
    differing = np.flatnonzero((ours != reference).any(axis=(1, 2)))
    assert differing.size == 0, f"upscale {upscale}: faces {differing[:10]} differ from dlib"


def test_points_are_on_the_upscaled_grid(both_backends: Both) -> None:
    upscale, ours, _ = both_backends
    assert np.array_equal(ours * upscale, np.round(ours * upscale))


def _enc_int(value: int) -> bytes:
    """dlib's integer encoding: control byte (0x80 = negative, low nibble = length) + LE bytes."""
    magnitude = abs(value)
    body = magnitude.to_bytes(max(1, (magnitude.bit_length() + 7) // 8), "little")
    return bytes([len(body) | (0x80 if value < 0 else 0)]) + body


def _enc_float(value: float) -> bytes:
    """dlib's float_details encoding: integer mantissa, integer base-2 exponent."""
    value = float(np.float32(value))
    if value == 0:
        return _enc_int(0) + _enc_int(0)
    mantissa, exponent = math.frexp(value)
    return _enc_int(int(mantissa * 2**24)) + _enc_int(exponent - 24)


def _enc_column(values: np.ndarray) -> bytes:
    return _enc_int(-len(values)) + _enc_int(-1) + b"".join(_enc_float(v) for v in values)


def _serialize(
    initial: np.ndarray, trees: list[list[tuple]], anchors: np.ndarray, deltas: np.ndarray
) -> bytes:
    """A dlib shape_predictor file; trees[c][t] = (idx1, idx2, thresh, leaves)."""
    out = _enc_int(1) + _enc_column(initial) + _enc_int(len(trees))
    for cascade in trees:
        out += _enc_int(len(cascade))
        for idx1, idx2, thresh, leaves in cascade:
            out += _enc_int(len(idx1))
            for a, b, t in zip(idx1, idx2, thresh, strict=True):
                out += _enc_int(int(a)) + _enc_int(int(b)) + _enc_float(t)
            out += _enc_int(len(leaves)) + b"".join(_enc_column(leaf) for leaf in leaves)
    out += _enc_int(len(anchors))
    for row in anchors:
        out += _enc_int(len(row)) + b"".join(_enc_int(int(a)) for a in row)
    out += _enc_int(len(deltas))
    for row in deltas:
        out += _enc_int(len(row)) + b"".join(_enc_float(v) for v in row.ravel())
    return out


def _dlib_points(path: Path, images: np.ndarray) -> np.ndarray:
    predictor = dlib.shape_predictor(str(path))
    h, w = images.shape[1:]
    rect = dlib.rectangle(0, 0, w - 1, h - 1)
    return np.array([[(p.x, p.y) for p in predictor(img, rect).parts()] for img in images])


def test_random_model_matches_dlib(faces: np.ndarray, tmp_path: Path) -> None:
    """Parser + kernel on a small random model of another shape (3 cascades, depth-3 trees)."""
    rng = np.random.default_rng(7)
    n_parts, n_pixels = 68, 40
    initial = load_shape_model().initial_shape
    trees = [
        [
            (
                rng.integers(0, n_pixels, 7),
                rng.integers(0, n_pixels, 7),
                rng.normal(0, 30, 7).astype(np.float32),
                rng.normal(0, 0.02, (8, 2 * n_parts)).astype(np.float32),
            )
            for _ in range(5)
        ]
        for _ in range(3)
    ]
    anchors = rng.integers(0, n_parts, (3, n_pixels))
    deltas = rng.normal(0, 0.1, (3, n_pixels, 2)).astype(np.float32)
    data = _serialize(initial, trees, anchors, deltas)
    path = tmp_path / "random.dat"
    path.write_bytes(data)
    model = parse_shape_model(data)
    assert model.leaf_values.shape == (3, 5, 8, 136)
    images = faces[:300]
    for size in (48, 96):
        batch = upscale_images(images, size // 48)
        assert np.array_equal(_run_numba(batch, 2, model), _dlib_points(path, batch))


def test_half_pixel_and_far_points_round_like_dlib(tmp_path: Path) -> None:
    """Box-to-pixel mapping: dlib's SVD-based affine differs from the exact one in the last bits,
    which decides points exactly on a half pixel or far outside the box."""
    rng = np.random.default_rng(3)
    values = [0.5, -0.5, 1.5, 2.5, -1.5, 0.25, 0.75, 1.0, 0.0, 1 / 3]
    values += [s * 2.0**k for k in range(-20, 46) for s in (1, -1, 3)]
    values += list(rng.normal(0, 10, 100).round() / 2)
    values = np.array(values, np.float32)
    points = np.stack([rng.choice(values, 1500), rng.choice(values, 1500)], axis=1)
    path = tmp_path / "probe.dat"
    path.write_bytes(_serialize(points.ravel(), [], np.zeros((0, 0)), np.zeros((0, 0, 2))))
    model = parse_shape_model(path.read_bytes())
    for h, w in ((48, 48), (96, 96), (60, 48)):
        image = np.zeros((1, h, w), np.uint8)
        ours = _run_numba(image, 1, model)[0]
        assert np.array_equal(ours, _dlib_points(path, image)[0]), (h, w)
    exact = np.floor(points.astype(np.float64) * 47 + 0.5)
    assert not np.array_equal(exact, _dlib_points(path, np.zeros((1, 48, 48), np.uint8))[0])


def test_unnormalizing_tform_is_close_to_the_exact_map() -> None:
    tform = unnormalizing_tform(48, 60)
    np.testing.assert_allclose(tform, [[47, 0, 0], [0, 59, 0]], atol=1e-12)


def test_parser_rejects_truncated_file() -> None:
    data = _serialize(np.zeros(4, np.float32), [], np.zeros((0, 0)), np.zeros((0, 0, 2)))
    with pytest.raises(ValueError, match=r"malformed|trailing"):
        parse_shape_model(data[:-3])
    with pytest.raises(ValueError, match="trailing"):
        parse_shape_model(data + b"\x00")


def _numpy_bilinear(images: np.ndarray, factor: int) -> np.ndarray:
    """Reference: the same pixel-centre bilinear taps with numpy fancy indexing."""
    out = images.astype(np.float64)
    for axis in (1, 2):
        size = out.shape[axis]
        src = np.clip((np.arange(size * factor) + 0.5) / factor - 0.5, 0, size - 1)
        lo = np.floor(src).astype(np.intp)
        frac = np.expand_dims(src - lo, [a for a in (0, 1, 2) if a != axis])
        hi = np.minimum(lo + 1, size - 1)
        out = np.take(out, lo, axis=axis) * (1 - frac) + np.take(out, hi, axis=axis) * frac
    return np.floor(out + 0.5).astype(np.uint8)


@pytest.mark.parametrize("factor", [1, 2, 3])
def test_upscale_is_pixel_centred_bilinear(faces: np.ndarray, factor: int) -> None:
    big = upscale_images(faces[:200], factor)
    assert big.shape == (200, 48 * factor, 48 * factor) and big.dtype == np.uint8
    assert np.array_equal(big, _numpy_bilinear(faces[:200], factor))
    flat = upscale_images(np.full((1, 4, 4), 77, np.uint8), factor)
    assert np.all(flat == 77)


# --- geometry on real faces ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def points(faces: np.ndarray) -> np.ndarray:
    return detect_landmarks(faces, upscale=1)


def test_eyes_above_nose_above_mouth(points: np.ndarray) -> None:
    eyes_y = points[:, 36:48, 1].mean(axis=1)
    nose_y = points[:, 30, 1]
    mouth_y = points[:, 48:68, 1].mean(axis=1)
    assert np.mean(eyes_y < mouth_y) >= 0.95
    assert np.mean((eyes_y < nose_y) & (nose_y < mouth_y)) >= 0.95


def test_left_right_order_and_jaw_span(points: np.ndarray) -> None:
    right_eye_x = points[:, RIGHT_EYE, 0].mean(axis=1)
    left_eye_x = points[:, LEFT_EYE, 0].mean(axis=1)
    assert np.mean(right_eye_x < left_eye_x) >= 0.95  # subject's right eye is on the image left
    jaw_span = points[:, :17, 0].max(axis=1) - points[:, :17, 0].min(axis=1)
    assert np.mean(jaw_span >= 0.5 * 48) >= 0.95
    assert np.median(jaw_span) <= 1.5 * 48


def test_points_mostly_inside_the_frame(points: np.ndarray) -> None:
    inside = (points >= -2) & (points <= 49)
    assert inside.all(axis=2).mean() >= 0.97


# --- normalisation -------------------------------------------------------------------------------


def test_normalised_points_are_centred_with_unit_eye_distance(points: np.ndarray) -> None:
    norm = normalise_landmarks(points)
    assert norm.dtype == np.float32 and norm.shape == points.shape
    np.testing.assert_allclose(norm.mean(axis=1), 0, atol=1e-5)
    iod = np.linalg.norm(norm[:, RIGHT_EYE].mean(axis=1) - norm[:, LEFT_EYE].mean(axis=1), axis=1)
    np.testing.assert_allclose(iod, 1, rtol=1e-5)


def test_normalisation_is_translation_and_scale_invariant(points: np.ndarray) -> None:
    moved = points.astype(np.float64) * 3.7 + np.array([12.5, -40.0])
    np.testing.assert_allclose(normalise_landmarks(moved), normalise_landmarks(points), atol=1e-5)


def test_normalisation_guards_degenerate_shapes() -> None:
    flat = np.full((2, 68, 2), 5.0, np.float32)
    out = normalise_landmarks(flat)
    assert np.isfinite(out).all() and np.all(out == 0)


def test_landmark_features_layout(faces: np.ndarray, points: np.ndarray) -> None:
    raw = landmark_features(faces[:50], upscale=1, normalise=False)
    assert raw.shape == (50, 136) and raw.dtype == np.float32
    assert np.array_equal(raw.reshape(50, 68, 2), points[:50])
    norm = landmark_features(faces[:50], upscale=1, normalise=True)
    assert np.array_equal(norm, normalise_landmarks(points[:50]).reshape(50, 136))


def test_empty_batch() -> None:
    assert detect_landmarks(np.zeros((0, 48, 48), np.uint8)).shape == (0, 68, 2)


# --- bad inputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("images", "kwargs", "message"),
    [
        (np.zeros((2, 48, 48), np.float32), {}, "uint8"),
        (np.zeros((48, 48), np.uint8), {}, "shape"),
        (np.zeros((2, 48, 48, 3), np.uint8), {}, "shape"),
        ([[[0]]], {}, "numpy array"),
        (np.zeros((2, 48, 48), np.uint8), {"upscale": 0}, "upscale"),
        (np.zeros((2, 48, 48), np.uint8), {"upscale": 1.5}, "upscale"),
        (np.zeros((2, 48, 48), np.uint8), {"upscale": True}, "upscale"),
        (np.zeros((2, 48, 48), np.uint8), {"backend": "cuda"}, "backend"),
        (np.zeros((2, 48, 48), np.uint8), {"n_jobs": 0}, "n_jobs"),
    ],
)
def test_bad_inputs_raise(images: object, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        detect_landmarks(images, **kwargs)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((2, 68)), np.zeros((2, 5, 2)), np.full((1, 68, 2), "a")],
    ids=["2d", "wrong-count", "strings"],
)
def test_normalise_rejects_bad_inputs(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        normalise_landmarks(bad)
