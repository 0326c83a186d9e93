"""The augment stage: how many copies each mode makes, per class, and what the operations do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fer_data.augmentations import augment_images, balanced_copies, reframe_images
from fer_data.faces import read_faces
from pipeline import paths
from pipeline.stages import augment, features, ingest, search, train
from tests.stage_helpers import make_params, stage_run


@pytest.fixture()
def ingested(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fer2013_sample_csv: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    ingest.run(make_params(tmp_path, {"data.path": str(fer2013_sample_csv)}))
    return tmp_path


def test_balanced_and_full_counts(ingested: Path) -> None:
    params = make_params(
        ingested,
        {"augment.modes": ["balanced", "full", "mirror"], "augment.max_copies_per_image": 3},
    )
    metrics = stage_run(augment, params)
    train = read_faces(paths.ingested("train"))
    counts = np.bincount(train.emotion, minlength=7)
    largest = counts.max()

    balanced = read_faces(paths.AUGMENTED_DIR / "balanced.feather")
    added = np.bincount(balanced.emotion, minlength=7)
    np.testing.assert_array_equal(added, np.minimum(largest - counts, 3 * counts))
    assert added[counts.argmax()] == 0
    assert metrics["modes"]["balanced"]["after"]["Happy"] == counts[3] + added[3]

    full = read_faces(paths.AUGMENTED_DIR / "full.feather")
    np.testing.assert_array_equal(np.bincount(full.emotion, minlength=7), counts)
    # Copies keep their source's id and label, carry a copy number >= 1, and differ from the source.
    source = {rid: i for i, rid in enumerate(train.row_id)}
    k = np.array([source[r] for r in full.row_id])
    np.testing.assert_array_equal(train.emotion[k], full.emotion)
    assert (full.aug >= 1).all() and set(full.usage) == {"Training"}
    assert (full.images != train.images[k]).any(axis=(1, 2)).mean() > 0.9


def test_mirror_is_every_training_image_mirrored_once(ingested: Path) -> None:
    metrics = stage_run(augment, make_params(ingested, {"augment.modes": ["mirror"]}))
    train = read_faces(paths.ingested("train"))
    mirror = read_faces(paths.AUGMENTED_DIR / "mirror.feather")
    np.testing.assert_array_equal(mirror.row_id, train.row_id)
    np.testing.assert_array_equal(mirror.emotion, train.emotion)
    np.testing.assert_array_equal(mirror.images, train.images[:, :, ::-1])
    assert (mirror.aug == 1).all()
    counts = np.bincount(train.emotion, minlength=7)
    assert metrics["modes"]["mirror"]["after"]["Fear"] == 2 * counts[2]


def test_reframe_is_the_mirror_and_every_image_and_mirror_re_framed(ingested: Path) -> None:
    params = make_params(
        ingested, {"augment.modes": ["mirror", "reframe"], "augment.reframe": 0.05}
    )
    metrics = stage_run(augment, params)
    train = read_faces(paths.ingested("train"))
    copies = read_faces(paths.AUGMENTED_DIR / "reframe.feather")
    n = len(train)
    np.testing.assert_array_equal(copies.row_id, np.repeat(train.row_id, 3))
    np.testing.assert_array_equal(copies.emotion, np.repeat(train.emotion, 3))
    assert copies.aug.tolist() == [1, 2, 3] * n
    images = copies.images.reshape(n, 3, 48, 48)
    np.testing.assert_array_equal(images[:, 0], train.images[:, :, ::-1])
    # Re-framed: not the image, yet the same face a pixel or two away (closer to it than to the
    # next face in the table).
    for k, original in ((1, train.images), (2, train.images[:, :, ::-1])):
        moved = images[:, k].astype(float)
        assert (images[:, k] != original).any(axis=(1, 2)).mean() > 0.9
        near = np.abs(moved - original).mean(axis=(1, 2))
        far = np.abs(moved - np.roll(original, 1, axis=0)).mean(axis=(1, 2))
        assert np.median(near) < 0.5 * np.median(far)
    counts = np.bincount(train.emotion, minlength=7)
    assert metrics["modes"]["reframe"]["after"]["Sad"] == 4 * counts[4]


def test_a_model_trains_on_the_reframe_mode(ingested: Path) -> None:
    overrides = {
        "augment.modes": ["mirror", "reframe"],
        "models.gnb.augmentation": "reframe",
        "models.gnb.search.enabled": False,
        "train.refit_on_dev": False,
    }
    params = make_params(ingested, overrides)
    for module in (augment, features):
        stage_run(module, params)
    stage_run(search, params, "gnb")
    record = stage_run(train, params, "gnb")
    n = len(read_faces(paths.ingested("train")))
    assert record["status"] == "ok" and record["train_rows"] == 4 * n


def test_reframe_images_moves_and_rescales_within_the_shift() -> None:
    face = np.zeros((1, 48, 48), np.uint8)
    face[0, 20:28, 20:28] = 255  # a bright square at the centre
    rng = np.random.default_rng(0)
    assert np.array_equal(reframe_images(face, 0.0, rng), face)
    centres = []
    for _ in range(200):
        moved = reframe_images(face, 0.1, rng)[0].astype(float)
        ys, xs = np.nonzero(moved > 127)
        centres.append((xs.mean(), ys.mean()))
    offsets = np.array(centres) - 23.5
    # output p reads input (p - c) * s + c + d: the square moves by about -d / s, |d| <= 4.8 px,
    # d uniform (standard deviation 4.8 / sqrt(3) = 2.8 px)
    assert np.abs(offsets).max() <= 0.1 * 48 / 0.9 + 1 and offsets.std(axis=0).min() > 2
    with pytest.raises(ValueError, match="shift"):
        reframe_images(face, 0.3, rng)


def test_same_seed_same_output(ingested: Path) -> None:
    params = make_params(ingested)
    stage_run(augment, params)
    first = read_faces(paths.AUGMENTED_DIR / "balanced.feather").images.copy()
    stage_run(augment, params)
    np.testing.assert_array_equal(
        first, read_faces(paths.AUGMENTED_DIR / "balanced.feather").images
    )


def test_balanced_copies_spread_evenly_and_respect_the_cap() -> None:
    emotion = np.array([0] * 10 + [1] * 3 + [2] * 6)
    copies = balanced_copies(emotion, target=1.0, max_copies=2, rng=np.random.default_rng(0))
    assert copies[:10].sum() == 0
    assert copies[10:13].tolist() == [2, 2, 2]  # needs 7, capped at 2 x 3
    assert copies[13:].sum() == 4 and set(copies[13:].tolist()) <= {0, 1}


def test_operations(real_faces) -> None:
    images = real_faces[0][:200]
    rng = np.random.default_rng(0)
    flipped = augment_images(images, ["flip"], 0, 0, rng)
    same = (flipped == images).all(axis=(1, 2))
    mirrored = (flipped == images[:, :, ::-1]).all(axis=(1, 2))
    assert (same | mirrored).all() and 0.3 < mirrored.mean() < 0.7

    brighter = augment_images(images, ["brightness"], 30, 0, rng).astype(float)
    shift = (brighter - images).mean(axis=(1, 2))
    assert np.abs(shift).max() <= 30.5 and shift.std() > 5

    contrasted = augment_images(images, ["contrast"], 0, 0.5, rng).astype(float)
    ratio = contrasted.std(axis=(1, 2)) / images.std(axis=(1, 2))
    assert ratio.min() > 0.45 and ratio.max() < 1.55 and ratio.std() > 0.1
    # Contrast scales around each image's mean; only clipping at 0/255 moves the mean.
    assert np.median(np.abs(contrasted.mean(axis=(1, 2)) - images.mean(axis=(1, 2)))) < 1.0
