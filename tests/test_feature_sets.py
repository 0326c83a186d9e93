"""The LBP, dense-SIFT bag-of-words and multi-scale HOG feature sets, on real FER2013 faces.

Descriptors against the libraries they come from (scikit-image, OpenCV), the SIFT vocabulary
learnt from the training split alone, and each new set through the features stage, a trained
model and the predictor (whose features on new faces must equal the stored ones).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import joblib
import numpy as np
import pytest
from skimage.feature import hog, local_binary_pattern

from features.hog_multi import hog_multi_features
from features.lbp import lbp_features
from features.sift import BovwConfig, dense_sift, encode_bovw, fit_vocabulary, keypoint_grid
from features.store import load_features, load_vocabulary, load_xy
from fer_data.errors import DataError
from fer_data.faces import read_faces, write_faces
from models.predictor import load_model
from models.records import ModelCard
from pipeline import paths
from pipeline.params import ParamsError
from pipeline.stages import features, ingest, search, train
from tests.stage_helpers import make_params, merged_raw, stage_run

NEW_SETS = ("lbp", "sift_bovw", "hog_multi")
BOVW = BovwConfig(4, 2.67, 32, (1, 2), "hard", 0.2, 1.0, "none")


@pytest.fixture(scope="module")
def faces(real_faces: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return real_faces[0][:40]


# --- the descriptors ---------------------------------------------------------------------------


def test_lbp_histograms_count_scikit_image_codes_per_cell(faces: np.ndarray) -> None:
    for method, bins in (("uniform", 10), ("nri_uniform", 59)):
        ours = lbp_features(faces, 8, 1.0, method, grid=6, norm="l1", n_jobs=2)
        assert ours.shape == (len(faces), 36 * bins) and ours.dtype == np.float32
        for i, face in enumerate(faces[:5]):
            codes = local_binary_pattern(face, 8, 1.0, method)
            expected = [
                np.histogram(codes[r : r + 8, c : c + 8], bins=bins, range=(0, bins))[0] / 64.0
                for r in range(0, 48, 8)
                for c in range(0, 48, 8)
            ]
            np.testing.assert_allclose(ours[i], np.concatenate(expected), rtol=0, atol=1e-7)
    l1 = lbp_features(faces, 8, 1.0, "uniform", 7, "l1")
    root = lbp_features(faces, 8, 1.0, "uniform", 7, "sqrt")
    assert l1.shape == (len(faces), 490)
    np.testing.assert_allclose(l1.reshape(len(faces), 49, 10).sum(axis=2), 1.0, atol=1e-6)
    np.testing.assert_allclose(root, np.sqrt(l1), atol=1e-7)


def test_lbp_rejects_bad_settings(faces: np.ndarray) -> None:
    with pytest.raises(ValueError, match="method"):
        lbp_features(faces, method="ror")
    with pytest.raises(ValueError, match="grid"):
        lbp_features(faces, grid=49)
    with pytest.raises(ValueError, match="uint8"):
        lbp_features(faces.astype(np.float32))


def test_hog_multi_is_scikit_image_hog_at_each_cell_size(faces: np.ndarray) -> None:
    ours = hog_multi_features(faces[:6], 9, (4, 6, 8), 2, n_jobs=2)
    expected = np.stack(
        [
            np.concatenate([hog(face, 9, (p, p), (2, 2), block_norm="L2-Hys") for p in (4, 6, 8)])
            for face in faces[:6]
        ]
    )
    assert ours.shape == (6, 4356 + 1764 + 900) and ours.dtype == np.float32
    np.testing.assert_array_equal(ours, expected.astype(np.float32))


def test_dense_sift_is_opencv_sift_on_the_grid(faces: np.ndarray) -> None:
    ours = dense_sift(faces[:4], step=4, size=2.67, n_jobs=2)
    centres = keypoint_grid(48, 4)
    assert ours.shape == (4, 144, 128) and ours.dtype == np.float32
    assert centres[0].tolist() == [2.0, 2.0] and centres[-1].tolist() == [46.0, 46.0]
    keypoints = [cv2.KeyPoint(float(x), float(y), 2.67) for x, y in centres]
    for face, descriptors in zip(faces[:4], ours, strict=True):
        _, reference = cv2.SIFT_create().compute(face, keypoints)
        reference /= np.linalg.norm(reference, axis=1, keepdims=True)
        np.testing.assert_allclose(descriptors, reference, atol=1e-6)


def test_hard_bags_count_each_descriptor_s_nearest_word_per_region(faces: np.ndarray) -> None:
    descriptors = dense_sift(faces[:8], 4, 2.67)
    vocabulary = fit_vocabulary(descriptors.reshape(-1, 128), 32, seed=1)
    assert vocabulary.shape == (32, 128) and vocabulary.dtype == np.float32
    bags = encode_bovw(descriptors, 48, vocabulary, BOVW)
    assert bags.shape == (8, 32 * 5) and bags.dtype == np.float32
    distances = ((descriptors[:, :, None, :] - vocabulary[None, None]) ** 2).sum(axis=3)
    words = distances.argmin(axis=2)  # (8, 144)
    x, y = keypoint_grid(48, 4).T
    quadrant = (y >= 24).astype(int) * 2 + (x >= 24)
    for i in range(8):
        whole = np.bincount(words[i], minlength=32) / 144
        np.testing.assert_allclose(bags[i, :32], whole, atol=1e-6)
        for q in range(4):
            part = np.bincount(words[i][quadrant == q], minlength=32) / 144
            np.testing.assert_allclose(bags[i, 32 * (q + 1) : 32 * (q + 2)], part, atol=1e-6)
    soft = encode_bovw(descriptors, 48, vocabulary, replace(BOVW, assignment="soft"))
    np.testing.assert_allclose(soft[:, :32].sum(axis=1), 1.0, atol=1e-5)
    assert not np.allclose(soft, bags)
    normed = encode_bovw(descriptors, 48, vocabulary, replace(BOVW, power=0.5, norm="l2"))
    np.testing.assert_allclose(
        normed, np.sqrt(bags) / np.linalg.norm(np.sqrt(bags), axis=1)[:, None], atol=1e-6
    )


# --- params ------------------------------------------------------------------------------------


def test_a_model_on_a_set_the_features_stage_does_not_build_is_a_params_error() -> None:
    from pipeline.params import parse_params

    raw = merged_raw({"models": {"gnb": {"feature_set": "lbp_landmarks"}}})
    with pytest.raises(ParamsError, match=r"models\.gnb\.feature_set: lbp_landmarks needs lbp"):
        parse_params(raw)
    raw = merged_raw({"competency": {"feature_sets": ["hog_multi"]}})
    with pytest.raises(ParamsError, match=r"competency\.feature_sets: hog_multi needs hog_multi"):
        parse_params(raw)
    raw = merged_raw({"features": {"sets": ["pixels", "hog", "landmarks", "lbp"]}})
    raw["models"]["gnb"]["feature_set"] = "lbp_landmarks"
    assert parse_params(raw).models["gnb"].feature_set == "lbp_landmarks"


# --- the stage, a model, the predictor ---------------------------------------------------------

STAGE_OVERRIDES = {
    "augment.modes": [],  # augmented splits go through the same code as train
    "models.svm.augmentation": "none",
    "features.sets": ["pixels", "hog", "landmarks", *NEW_SETS],
    "features.n_jobs": 2,
    "features.sift.words": 32,
    "features.sift.vocabulary_images": 200,
    "models.gnb.search.enabled": False,
    "models.gnb.params": {"var_smoothing": 1.0e-9, "pca_components": 20},
}


@pytest.fixture(scope="module")
def store(fer2013_sample_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder where ingest -> features built every set."""
    root = tmp_path_factory.mktemp("feature_sets")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        params = make_params(root, {"data.path": str(fer2013_sample_csv), **STAGE_OVERRIDES})
        for module in (ingest, features):
            stage_run(module, params)
    return root


@pytest.fixture()
def workdir(store: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(store)
    return store


def test_the_stage_stores_every_listed_set_row_aligned(workdir: Path) -> None:
    from features.records import FeatureMetrics

    metrics = FeatureMetrics.read(paths.stage_metrics("features"))
    expected = {"pixels": 2304, "hog": 900, "landmarks": 136, "lbp": 36 * 59,
                "sift_bovw": 32 * 5, "hog_multi": 1764 + 900 + 324}  # fmt: skip
    assert set(metrics.splits) == {"train", "dev", "test"}
    for split, info in metrics.splits.items():
        assert info.dims == expected
        for name in NEW_SETS:
            x = load_features(paths.FEATURES_DIR, split, name)
            assert x.shape == (info.rows, expected[name]) and x.dtype == np.float32
            assert np.isfinite(x).all()
    assert set(metrics.seconds) == {*expected, "sift_vocabulary", "total"}
    train = read_faces(paths.ingested("train"))
    lbp = load_features(paths.FEATURES_DIR, "train", "lbp")
    np.testing.assert_array_equal(lbp, lbp_features(train.images, 8, 1.0, "nri_uniform", 6, "l1"))


def test_the_vocabulary_is_learnt_on_the_training_split_only(workdir: Path) -> None:
    params = make_params(workdir, STAGE_OVERRIDES)
    stored = load_vocabulary(paths.SIFT_VOCABULARY)
    assert stored.shape == (32, 128)
    view = _view(params)
    originals = {split: read_faces(paths.ingested(split)) for split in paths.SPLITS}
    try:
        for split in ("dev", "test"):  # other dev and test faces: the same vocabulary
            table = originals[split]
            write_faces(replace(table, images=255 - table.images), paths.ingested(split))
        np.testing.assert_array_equal(features.vocabulary_of(view)[0], stored)
        table = originals["train"]  # other training faces: another vocabulary
        write_faces(replace(table, images=255 - table.images), paths.ingested("train"))
        assert not np.allclose(features.vocabulary_of(view)[0], stored)
    finally:
        for split, table in originals.items():
            write_faces(table, paths.ingested(split))
        again, _ = features.vocabulary_of(view)
    np.testing.assert_array_equal(again, stored)  # seeded: the same faces give the same words
    np.testing.assert_array_equal(load_vocabulary(paths.SIFT_VOCABULARY), stored)


def _view(params):
    from pipeline.declared import restrict

    return restrict(params, "features", None)


@pytest.mark.parametrize("feature_set", ["lbp", "sift_bovw", "hog_multi_landmarks"])
def test_a_model_trains_on_the_set_and_predicts_from_faces_as_stored(
    workdir: Path, feature_set: str
) -> None:
    params = make_params(workdir, {**STAGE_OVERRIDES, "models.gnb.feature_set": feature_set})
    stage_run(search, params, "gnb")
    record = stage_run(train, params, "gnb")
    assert record["status"] == "ok" and 0.15 < record["dev"]["accuracy"] < 0.9
    card = ModelCard.read(paths.model_card("gnb"))
    assert card.features.feature_set == feature_set
    assert (card.features.sift is not None) == feature_set.startswith("sift_bovw")
    model = load_model(paths.model_dir("gnb"))
    test = read_faces(paths.ingested("test"))
    x_test, _, _ = load_xy(paths.FEATURES_DIR, "test", feature_set)
    np.testing.assert_array_equal(model.features(test.images), x_test)
    result = model.predict_faces(test.images)
    np.testing.assert_array_equal(
        result.labels, joblib.load(paths.model_file("gnb")).predict(x_test)
    )
    if card.features.sift is not None:
        # The model directory holds its own vocabulary: predict does not need the store's.
        own = paths.model_vocabulary("gnb")
        np.testing.assert_array_equal(load_vocabulary(own), load_vocabulary(paths.SIFT_VOCABULARY))
        own.unlink()
        with pytest.raises(DataError, match="SIFT vocabulary"):
            load_model(paths.model_dir("gnb")).features(test.images[:1])
