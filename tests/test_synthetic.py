"""The synthetic demo set: FER2013 format and balance, determinism, faces worth learning."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from skimage.feature import hog
from sklearn.linear_model import RidgeClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from fer_data.synthetic import (
    FER2013_CLASS_COUNTS,
    SYNTHETIC_NOTICE,
    synthetic_faces,
    synthetic_fer2013_csv,
)

USAGES = ("Training", "PublicTest", "PrivateTest")
N_ROWS = 1750  # 1,400 Training faces to learn from, 350 held out
SEED = 0


@pytest.fixture(scope="module")
def faces() -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(images, emotion, usage, seconds it took to draw them)."""
    start = time.perf_counter()
    images, emotion, usage = synthetic_faces(N_ROWS, SEED)
    return images, emotion, usage, time.perf_counter() - start


def _hog(images: np.ndarray) -> np.ndarray:
    return np.stack(
        [hog(im, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2)) for im in images]
    )


@pytest.fixture(scope="module")
def held_out_scores(faces: tuple) -> dict[str, float]:
    """HOG + linear classifier trained on the Training rows, scored on the held-out rows."""
    images, emotion, usage, _ = faces
    train, test = usage == "Training", usage != "Training"
    model = make_pipeline(StandardScaler(), RidgeClassifier(alpha=300.0))
    with threadpool_limits(1):  # a tiny fit: BLAS threads only contend on a shared machine
        model.fit(_hog(images[train]), emotion[train])
    majority = np.bincount(emotion[train]).argmax()
    return {
        "accuracy": model.score(_hog(images[test]), emotion[test]),
        "mirrored": model.score(_hog(images[test][:, :, ::-1]), emotion[test]),
        "baseline": float(np.mean(emotion[test] == majority)),
    }


def test_notice_is_one_unmissable_sentence() -> None:
    assert isinstance(SYNTHETIC_NOTICE, str)
    assert "synthetic" in SYNTHETIC_NOTICE.lower() and "not FER2013" in SYNTHETIC_NOTICE
    assert SYNTHETIC_NOTICE.count(".") == 1 and SYNTHETIC_NOTICE.endswith(".")


def test_arrays_have_fer2013_shapes_and_values(faces: tuple) -> None:
    images, emotion, usage, _ = faces
    assert images.dtype == np.uint8 and images.shape == (N_ROWS, 48, 48)
    assert emotion.dtype == np.int64 and emotion.shape == (N_ROWS,)
    assert set(np.unique(emotion)) == set(range(7))
    assert usage.shape == (N_ROWS,) and set(usage) == set(USAGES)


def test_rows_are_ordered_by_usage_and_split_80_10_10(faces: tuple) -> None:
    _, emotion, usage, _ = faces
    rank = np.array([USAGES.index(u) for u in usage])
    assert np.all(np.diff(rank) >= 0)
    assert [int(np.sum(usage == u)) for u in USAGES] == [1400, 175, 175]
    # Stratified: every class in every split, close to 80/10/10 within each class.
    for label in range(7):
        counts = np.array([np.sum((emotion == label) & (usage == u)) for u in USAGES])
        assert counts.min() >= 1
        assert np.allclose(counts / counts.sum(), [0.8, 0.1, 0.1], atol=0.03)
    # Labels are shuffled within a split, not sorted.
    assert np.any(np.diff(emotion[usage == "Training"]) < 0)


def test_class_proportions_follow_fer2013(faces: tuple) -> None:
    _, emotion, _, _ = faces
    expected = np.asarray(FER2013_CLASS_COUNTS) / np.sum(FER2013_CLASS_COUNTS)
    assert np.allclose(np.bincount(emotion, minlength=7) / len(emotion), expected, atol=0.005)
    assert np.bincount(emotion).argmax() == 3 and np.bincount(emotion).argmin() == 1


@pytest.mark.parametrize("n_rows", [70, 71, 100])
def test_small_sets_keep_every_class_in_every_split(n_rows: int) -> None:
    _, emotion, usage = synthetic_faces(n_rows, seed=1)
    assert len(emotion) == n_rows
    assert np.bincount(emotion, minlength=7).min() >= 10
    for split in USAGES:
        assert set(emotion[usage == split]) == set(range(7))


@pytest.mark.parametrize("bad", [69, 0, -5])
def test_too_few_rows_is_a_clear_error(bad: int) -> None:
    with pytest.raises(ValueError, match="at least 70"):
        synthetic_faces(bad, seed=0)


def test_negative_seed_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        synthetic_faces(100, seed=-1)


@pytest.mark.parametrize(("n_rows", "seed"), [(100.0, 0), (True, 0), (100, "0")])
def test_non_integer_arguments_are_rejected(n_rows: object, seed: object) -> None:
    with pytest.raises(TypeError):
        synthetic_faces(n_rows, seed)  # type: ignore[arg-type]


def test_same_seed_same_set_and_other_seed_other_set() -> None:
    first, second, other = (synthetic_faces(90, seed) for seed in (7, 7, 8))
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(first[1], other[1])


def test_images_are_not_blank_and_use_the_range(faces: tuple) -> None:
    images = faces[0].reshape(N_ROWS, -1).astype(np.float64)
    assert images.std(axis=1).min() > 12.0
    assert 90 < images.mean() < 170 and images.min() == 0 and images.max() == 255
    # Faces differ from one another, not one template with noise.
    assert np.abs(images[1:] - images[:-1]).mean() > 20


def test_faces_are_roughly_left_right_symmetric(faces: tuple) -> None:
    """The mean face looks like its mirror image: a frontal face sits in the middle of the frame."""
    mean_face = faces[0].astype(np.float64).mean(axis=0)
    assert np.corrcoef(mean_face.ravel(), mean_face[:, ::-1].ravel())[0, 1] > 0.95


def test_expressions_are_learnable_but_not_trivial(held_out_scores: dict[str, float]) -> None:
    accuracy, baseline = held_out_scores["accuracy"], held_out_scores["baseline"]
    assert baseline < 0.3
    assert accuracy > baseline + 0.25, held_out_scores
    assert accuracy < 0.95, held_out_scores


def test_mirrored_faces_read_as_the_same_expressions(held_out_scores: dict[str, float]) -> None:
    assert held_out_scores["mirrored"] > held_out_scores["baseline"] + 0.25, held_out_scores
    assert abs(held_out_scores["mirrored"] - held_out_scores["accuracy"]) < 0.08, held_out_scores


def _shape_predictor_path() -> Path | None:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "models/shape_predictor_68_face_landmarks.dat"
    return path if path.exists() else None


def test_dlib_landmarks_put_eyes_above_mouth(faces: tuple) -> None:
    """dlib's 68-point predictor, run on the whole frame, finds a plausible face paths."""
    dlib = pytest.importorskip("dlib")
    model = _shape_predictor_path()
    if model is None:
        pytest.skip("face_recognition_models' shape predictor is not installed")
    predictor = dlib.shape_predictor(str(model))
    images = faces[0][:60]
    ok = []
    for image in (*images, *images[:, :, ::-1]):
        shape = predictor(np.ascontiguousarray(image), dlib.rectangle(0, 0, 47, 47))
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        ok.append(points[36:48, 1].mean() + 5 < points[48:68, 1].mean())
    assert np.mean(ok) > 0.95


def test_generation_is_fast(faces: tuple) -> None:
    # About 0.2 s on an idle core; the bound leaves room for a busy shared machine.
    assert faces[3] < 5.0


def test_csv_is_kaggle_format_and_matches_the_arrays(tmp_path: Path) -> None:
    path = tmp_path / "raw" / "fer2013.csv"
    path.parent.mkdir()
    path.write_text("stale\n")
    assert synthetic_fer2013_csv(path, n_rows=120, seed=3) == path
    assert [p.name for p in path.parent.iterdir()] == ["fer2013.csv"]  # no temp file left behind
    raw = path.read_bytes()
    assert raw.startswith(b"emotion,pixels,Usage\n") and raw.endswith(b"\n")
    assert b"\r" not in raw and b'"' not in raw
    frame = pd.read_csv(path, dtype={"emotion": "int64", "pixels": "string", "Usage": "string"})
    assert list(frame.columns) == ["emotion", "pixels", "Usage"] and len(frame) == 120
    pixels = np.stack([np.asarray(s.split(), dtype=np.int64) for s in frame["pixels"]])
    assert pixels.shape == (120, 2304) and pixels.min() >= 0 and pixels.max() <= 255
    images, emotion, usage = synthetic_faces(120, seed=3)
    np.testing.assert_array_equal(pixels.reshape(-1, 48, 48), images)
    np.testing.assert_array_equal(frame["emotion"].to_numpy(), emotion)
    assert frame["Usage"].tolist() == usage.tolist()
