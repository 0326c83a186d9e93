"""features.hog must reproduce skimage.feature.hog exactly, on real FER2013 faces."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.feature import hog

from features.hog import hog_feature_count, hog_features

# The brief's tolerance; every comparison below also demands bit equality.
TOLERANCE = 1e-9


def skimage_hog(
    images: np.ndarray, orientations: int = 9, pixels_per_cell: int = 8, cells_per_block: int = 2
) -> np.ndarray:
    return np.stack(
        [
            hog(
                image,
                orientations=orientations,
                pixels_per_cell=(pixels_per_cell, pixels_per_cell),
                cells_per_block=(cells_per_block, cells_per_block),
                block_norm="L2-Hys",
                feature_vector=True,
            )
            for image in images
        ]
    )


def assert_same(ours: np.ndarray, reference: np.ndarray) -> None:
    assert ours.shape == reference.shape
    assert np.abs(ours - reference).max(initial=0.0) <= TOLERANCE
    np.testing.assert_array_equal(ours, reference)


@pytest.fixture(scope="module")
def faces(real_faces: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return real_faces[0]


@pytest.fixture(scope="module")
def few_faces(faces: np.ndarray) -> np.ndarray:
    return faces[::12]  # ~150 faces, for the variants


def test_every_real_face_matches_skimage(faces: np.ndarray) -> None:
    assert_same(hog_features(faces, dtype=np.float64), skimage_hog(faces))


def test_float32_output_is_skimage_rounded(few_faces: np.ndarray) -> None:
    ours = hog_features(few_faces)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, skimage_hog(few_faces).astype(np.float32))


def _tall_faces(faces: np.ndarray) -> np.ndarray:
    """50 x 47 images: two extra real rows below each face, last column dropped."""
    return np.concatenate([faces, faces[:, :2, :]], axis=1)[:, :, :47]


@pytest.mark.parametrize(
    ("crop", "orientations", "pixels_per_cell", "cells_per_block"),
    [
        ("44x44", 9, 8, 2),  # 4 dropped pixels per axis still feed the last cells' gradients
        ("50x47", 9, 8, 2),
        ("48x48", 12, 6, 3),
        ("48x48", 7, 7, 2),  # odd cell size: area 49 is not a power of two
        ("48x48", 8, 4, 1),
        ("48x48", 13, 4, 4),  # 208-value blocks: numpy's recursive pairwise sum
        ("44x44", 5, 3, 5),
    ],
)
def test_other_sizes_and_parameters_match_skimage(
    few_faces: np.ndarray, crop: str, orientations: int, pixels_per_cell: int, cells_per_block: int
) -> None:
    images = {
        "48x48": few_faces,
        "44x44": few_faces[:, 2:46, 2:46],
        "50x47": _tall_faces(few_faces),
    }[crop]
    params = (orientations, pixels_per_cell, cells_per_block)
    ours = hog_features(images, *params, dtype=np.float64)
    assert_same(ours, skimage_hog(images, *params))
    assert ours.shape[1] == hog_feature_count(*images.shape[1:], *params)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_integer_valued_inputs_of_any_dtype_match_skimage(
    few_faces: np.ndarray, dtype: type
) -> None:
    images = few_faces.astype(dtype)
    ours = hog_features(images, dtype=np.float64)
    reference = skimage_hog(images)  # float32 for float32 input, float64 otherwise
    np.testing.assert_array_equal(ours.astype(reference.dtype), reference)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_non_uint8_values_match_skimage(few_faces: np.ndarray, dtype: type) -> None:
    # Scaled and shifted so the images are not 0..255 integers and take the ufunc path.
    images = (few_faces[:40].astype(np.float64) * 2.37 - 100.0).astype(dtype)
    reference = skimage_hog(images)
    ours = hog_features(images, dtype=reference.dtype)
    assert_same(ours, reference)


def test_negative_zero_pixels_match_skimage(few_faces: np.ndarray) -> None:
    # Integer-valued floats take the uint8 table path; -0.0 pixels make -0.0 gradients, which
    # skimage turns into angles of -0 or -180 degrees, i.e. 0 after % 180, like +0.0.
    images = few_faces[:40].astype(np.float64)
    images[images < 40] = -0.0  # dark regions: runs of -0.0 next to +0.0-free pixels
    images[:, ::2, ::2] = np.abs(images[:, ::2, ::2])  # and a checkerboard of +0.0 / -0.0
    assert np.signbit(images).sum() > 1000
    assert_same(hog_features(images, dtype=np.float64), skimage_hog(images))


@pytest.mark.parametrize("value", [0, 128, 255])
def test_constant_image_gives_zeros(value: int) -> None:
    images = np.full((3, 48, 48), value, dtype=np.uint8)
    ours = hog_features(images, dtype=np.float64)
    assert not ours.any()
    assert_same(ours, skimage_hog(images))


def test_batching_and_empty_input(few_faces: np.ndarray) -> None:
    whole = hog_features(few_faces)
    np.testing.assert_array_equal(hog_features(few_faces, batch_size=7), whole)
    assert hog_features(few_faces[:0]).shape == (0, 900)


def test_dtype_parameter(few_faces: np.ndarray) -> None:
    assert hog_features(few_faces[:3]).dtype == np.float32
    assert hog_features(few_faces[:3], dtype=np.float64).dtype == np.float64
    half = hog_features(few_faces[:3], dtype=np.float16)
    assert half.dtype == np.float16
    wide = hog_features(few_faces[:3], dtype=np.float64)
    np.testing.assert_array_equal(half, wide.astype(np.float16))


def test_feature_count() -> None:
    assert hog_feature_count(48, 48) == 900
    assert hog_feature_count(50, 47) == 5 * 4 * 36
    assert hog_feature_count(16, 16) == 36
    assert hog_feature_count(48, 48, 12, 6, 3) == 6 * 6 * 9 * 12


@pytest.mark.parametrize(
    ("images", "kwargs", "message"),
    [
        (np.zeros((48, 48), np.uint8), {}, "shape"),
        (np.zeros((1, 48, 48, 1), np.uint8), {}, "shape"),
        (np.zeros((2, 15, 48), np.uint8), {}, "smaller than one block"),
        (np.zeros((2, 48, 11), np.uint8), {"pixels_per_cell": 6}, "smaller than one block"),
        (np.zeros((2, 48, 48), np.complex128), {}, "dtype"),
        (np.zeros((2, 48, 48), np.uint8), {"orientations": 0}, "orientations"),
        (np.zeros((2, 48, 48), np.uint8), {"pixels_per_cell": -8}, "pixels_per_cell"),
        (np.zeros((2, 48, 48), np.uint8), {"cells_per_block": 2.0}, "cells_per_block"),
        (np.zeros((2, 48, 48), np.uint8), {"orientations": True}, "orientations"),
        (np.zeros((2, 48, 48), np.uint8), {"batch_size": 0}, "batch_size"),
        (np.zeros((2, 48, 48), np.uint8), {"dtype": np.int32}, "dtype"),
    ],
)
def test_bad_inputs_raise(images: np.ndarray, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        hog_features(images, **kwargs)


def test_feature_count_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="smaller than one block"):
        hog_feature_count(8, 48)
    with pytest.raises(ValueError, match="pixels_per_cell"):
        hog_feature_count(48, 48, pixels_per_cell=0)
