"""Every failing input of ../shared/cases (read at run time), and more of the same kind of fault.

Each case's README says what users expect; each test below checks that behaviour. The FER+ vote
file case (ferplus-labels) belongs to the label-source work and is tested there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from features.store import load_training_xy, load_xy
from fer_data.errors import DataError
from fer_data.faces import EMOTIONS, read_faces
from models.registry import MODEL_NAMES, build_model
from models.spec import BuildOptions
from pipeline import paths
from pipeline.stages import cnn, evaluate, ingest, search, train
from tests.models_helpers import build_store
from tests.readers_helpers import case, face_multiset, write_csv
from tests.stage_helpers import make_params, stage_run

DISGUST = EMOTIONS.index("Disgust")


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _outputs() -> dict[str, bytes]:
    files = [*paths.INGESTED_DIR.iterdir(), paths.stage_metrics("ingest")]
    return {str(p): p.read_bytes() for p in sorted(files)}


def _tables() -> dict[str, list]:
    return {
        split: face_multiset(t.images, t.emotion)
        for split in paths.SPLITS
        for t in [read_faces(paths.ingested(split))]
    }


# --- archive-not-csv ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "member"),
    [
        ("fer2013.tar.gz", "fer2013/fer2013.csv"),
        ("fer2013", "fer2013/fer2013.csv"),
        ("fer2013.zip", "fer2013.csv"),
    ],
)
def test_archive_not_csv_is_read_directly(workdir: Path, name: str, member: str) -> None:
    folder = case("archive-not-csv")
    params = {"data.path": str(folder / name), "data.dev_fraction": 0.2}
    metrics = stage_run(ingest, make_params(workdir, params))
    assert metrics["data"]["source"] == "archive" and metrics["data"]["member"] == member
    assert metrics["rows"] == {"read": 70, "accepted": 70, "rejected": 0, "rejected_by_reason": {}}
    reference = case("small-dev-split") / "fer2013.csv"  # the same 70 rows, as a plain CSV
    found = _tables()
    stage_run(ingest, make_params(workdir, {**params, "data.path": str(reference)}))
    assert found == _tables()


def test_archive_with_default_dev_fraction_fails_on_the_data_not_the_header(workdir: Path) -> None:
    path = case("archive-not-csv") / "fer2013.tar.gz"
    with pytest.raises(DataError, match=r"^data.dev_fraction=0.1 of 42 Training rows gives 5"):
        stage_run(ingest, make_params(workdir, {"data.path": str(path)}))


# --- icml-header ----------------------------------------------------------------------------------


def test_icml_header_ingests_exactly_as_fer2013_csv(workdir: Path) -> None:
    icml = case("icml-header") / "icml_face_data.csv"
    plain = case("small-dev-split") / "fer2013.csv"  # the same rows with Kaggle's other header
    found = {}
    for name, path in (("icml", icml), ("plain", plain)):
        stage_run(ingest, make_params(workdir, {"data.path": str(path), "data.dev_fraction": 0.2}))
        found[name] = {s: read_faces(paths.ingested(s)) for s in paths.SPLITS}
    for split in paths.SPLITS:  # same rows (row ids too), same splits
        a, b = found["icml"][split], found["plain"][split]
        np.testing.assert_array_equal(a.row_id, b.row_id)
        np.testing.assert_array_equal(a.images, b.images)
        np.testing.assert_array_equal(a.usage, b.usage)


def test_reordered_header_of_the_real_sample_gives_the_same_splits(
    workdir: Path, fer2013_frame: pd.DataFrame, fer2013_sample_csv: Path
) -> None:
    icml = workdir / "icml_face_data.csv"
    fer2013_frame.to_csv(icml, index=False, columns=["emotion", "Usage", "pixels"])
    icml.write_text(icml.read_text().replace("emotion,Usage,pixels", "emotion, Usage, pixels", 1))
    stage_run(ingest, make_params(workdir, {"data.path": str(fer2013_sample_csv)}))
    before = {s: read_faces(paths.ingested(s)).row_id for s in paths.SPLITS}
    stage_run(ingest, make_params(workdir, {"data.path": str(icml)}))
    for split in paths.SPLITS:
        np.testing.assert_array_equal(read_faces(paths.ingested(split)).row_id, before[split])


def test_a_header_truly_missing_a_column_names_it(workdir: Path) -> None:
    text = (case("icml-header") / "icml_face_data.csv").read_text()
    broken = workdir / "icml_face_data.csv"
    broken.write_text(text.replace("emotion, Usage, pixels", "emotion, Use, pixels", 1))
    with pytest.raises(DataError, match=r"icml_face_data.csv: line 1 is .*: no column 'Usage'"):
        stage_run(ingest, make_params(workdir, {"data.path": str(broken)}))


# --- small-dev-split and test-rows-only ---------------------------------------------------------


def _previous_run(workdir: Path, sample: Path) -> dict[str, bytes]:
    stage_run(ingest, make_params(workdir, {"data.path": str(sample)}))
    return _outputs()


def test_small_dev_split_is_one_line_naming_the_parameter(
    workdir: Path, fer2013_sample_csv: Path
) -> None:
    before = _previous_run(workdir, fer2013_sample_csv)
    path = case("small-dev-split") / "fer2013.csv"
    with pytest.raises(DataError) as info:
        stage_run(ingest, make_params(workdir, {"data.path": str(path)}))
    assert str(info.value).startswith(
        "data.dev_fraction=0.1 of 42 Training rows gives 5 dev rows, fewer than the 7 classes; "
        "set data.dev_fraction to at least 0.17"
    )
    assert _outputs() == before
    # The fix the message names works.
    metrics = stage_run(
        ingest, make_params(workdir, {"data.path": str(path), "data.dev_fraction": 0.17})
    )
    assert metrics["splits"]["dev"]["total"] == 8


def test_a_class_with_a_single_training_row(workdir: Path) -> None:
    frame = pd.read_csv(case("small-dev-split") / "fer2013.csv")
    training_fear = frame.index[(frame["Usage"] == "Training") & (frame["emotion"] == 2)]
    csv = write_csv(frame.drop(training_fear[1:]), workdir / "fer2013.csv")
    with pytest.raises(DataError, match=r"^data.dev_fraction=0.3: cannot stratify .* Fear has a "):
        stage_run(ingest, make_params(workdir, {"data.path": str(csv), "data.dev_fraction": 0.3}))


def test_test_rows_only_fails_before_writing(workdir: Path, fer2013_sample_csv: Path) -> None:
    before = _previous_run(workdir, fer2013_sample_csv)
    path = case("test-rows-only") / "fer2013.csv"
    with pytest.raises(DataError) as info:
        stage_run(ingest, make_params(workdir, {"data.path": str(path)}))
    assert str(info.value) == (
        f"{path}: no Training rows (rows per Usage: Training 0, PublicTest 14, PrivateTest 14); "
        "ingest needs Training rows to make the train and dev splits"
    )
    assert _outputs() == before


def test_the_mirror_case_no_test_rows_fails_too(workdir: Path, fer2013_sample_csv: Path) -> None:
    before = _previous_run(workdir, fer2013_sample_csv)
    frame = pd.read_csv(case("small-dev-split") / "fer2013.csv")
    csv = write_csv(frame[frame["Usage"] == "Training"], workdir / "train_only.csv")
    with pytest.raises(
        DataError, match=r"train_only.csv: no test rows \(rows per Usage: Training 42"
    ):
        stage_run(ingest, make_params(workdir, {"data.path": str(csv), "data.dev_fraction": 0.2}))
    assert _outputs() == before


# --- fallback-to-synthetic ------------------------------------------------------------------------


def _user_tree(workdir: Path) -> Path:
    shutil.copytree(case("fallback-to-synthetic") / "data", workdir / "data")
    (workdir / "data/raw/README.md").write_text("# Your FER2013 download goes here\n")
    return workdir / "data/raw"


def test_the_users_file_under_data_raw_is_used_not_the_synthetic_set(workdir: Path) -> None:
    _user_tree(workdir)
    metrics = stage_run(ingest, make_params(workdir, {"data.dev_fraction": 0.2}))
    assert metrics["data"]["synthetic"] is False
    assert metrics["data"]["path"] == "data/raw/fer2013/fer2013.csv"
    assert metrics["data"]["found_by"] == "search of data/raw"
    assert metrics["rows"]["read"] == 70
    # With the defaults the user's 70 rows are too few for the dev split: an error, not the
    # synthetic set.
    with pytest.raises(DataError, match=r"^data.dev_fraction=0.1 of 42 Training rows"):
        stage_run(ingest, make_params(workdir))


def test_another_fer2013_file_beside_it_is_named_in_an_error(workdir: Path) -> None:
    raw = _user_tree(workdir)
    shutil.copy(case("icml-header") / "icml_face_data.csv", raw / "icml_face_data.csv")
    with pytest.raises(DataError) as info:
        stage_run(ingest, make_params(workdir))
    assert "data/raw/fer2013/fer2013.csv (CSV)" in str(info.value)
    assert "data/raw/icml_face_data.csv (CSV)" in str(info.value)
    assert not paths.INGESTED_DIR.exists()


@pytest.mark.parametrize("where", ["data/raw/fer2013.csv", "/path/with/typo.csv"])
def test_an_explicit_path_with_a_typo_is_an_error_naming_it(workdir: Path, where: str) -> None:
    _user_tree(workdir)
    with pytest.raises(DataError, match=rf"^data.path={where}: no such file or folder"):
        stage_run(ingest, make_params(workdir, {"data.path": where}))


def test_an_explicit_folder_is_searched(workdir: Path) -> None:
    _user_tree(workdir)
    params = {"data.path": "data/raw/fer2013", "data.dev_fraction": 0.2}
    metrics = stage_run(ingest, make_params(workdir, params))
    assert metrics["data"]["path"] == "data/raw/fer2013/fer2013.csv"


# --- image-folder ---------------------------------------------------------------------------------


def test_image_folder_case_ingests(workdir: Path) -> None:
    folder = case("image-folder")
    metrics = stage_run(
        ingest, make_params(workdir, {"data.path": str(folder), "data.dev_fraction": 0.5})
    )
    assert metrics["data"]["source"] == "image_folder"
    assert metrics["rows"]["accepted"] == 20 and metrics["rows"]["rejected"] == 0
    assert metrics["splits"]["train"]["total"] + metrics["splits"]["dev"]["total"] == 14
    # No PublicTest_/PrivateTest_ prefixes: every test image is PublicTest, and it is said.
    assert metrics["splits"]["test_public"]["total"] == 6
    assert metrics["splits"]["test_private"]["total"] == 0
    assert metrics["reader"]["test_usage"] == {"no prefix: PublicTest": 6}
    assert metrics["class_coverage"]["missing_in_test"] == ["Neutral"]
    test = read_faces(paths.ingested("test"))
    expected = np.asarray(Image.open(folder / "test/angry/im14.png"))
    np.testing.assert_array_equal(test.images[test.emotion == 0][0], expected)


def test_image_folder_bad_files_are_counted_rejects(workdir: Path) -> None:
    folder = shutil.copytree(case("image-folder"), workdir / "faces")
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    Image.fromarray(np.zeros((64, 64), np.uint8) + 9).save(folder / "train/happy/big.png")
    Image.new("RGB", (48, 48), (200, 10, 10)).save(folder / "train/sad/colour.png")
    (folder / "train/Contempt").mkdir()
    Image.new("L", (48, 48), 5).save(folder / "train/Contempt/x.png")
    (folder / "test/fear/broken.png").write_text("not a png")
    params = {"data.path": str(folder), "data.dev_fraction": 0.5, "data.max_reject_fraction": 0.2}
    metrics = stage_run(ingest, make_params(workdir, params))
    assert metrics["rows"]["read"] == 24 and metrics["rows"]["rejected"] == 3
    rejects = pd.read_csv(paths.REJECTS_FILE)
    assert list(rejects.columns) == ["file", "line", "row_id", "reason", "detail", "raw"]
    by_file = dict(zip(rejects["file"], rejects["reason"], strict=True))
    assert by_file[str(folder / "train/happy/big.png")].startswith("wrong size (expected 48x48")
    assert by_file[str(folder / "train/Contempt/x.png")].startswith("unknown emotion folder")
    assert by_file[str(folder / "test/fear/broken.png")] == "unreadable image"
    assert metrics["reader"]["converted_to_gray"] == {"RGB": 1}
    # The resize parameter takes the other size in, counted.
    metrics = stage_run(ingest, make_params(workdir, {**params, "data.resize_images": True}))
    assert metrics["rows"]["rejected"] == 2 and metrics["reader"]["resized"] == {"64x64": 1}


# --- class-missing-in-train -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def missing_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The case's 64 rows as a feature store (skimage HOG + stand-in landmarks)."""
    frame = pd.read_csv(case("class-missing-in-train") / "fer2013.csv")
    return build_store(tmp_path_factory.mktemp("missing"), frame)


def test_class_missing_in_train_is_a_loud_warning(workdir: Path) -> None:
    path = case("class-missing-in-train") / "fer2013.csv"
    params = {"data.path": str(path), "data.dev_fraction": 0.2}
    metrics = stage_run(ingest, make_params(workdir, params))
    assert metrics["class_coverage"]["missing_in_training"] == ["Disgust"]
    assert metrics["warnings"][0].startswith("no Training rows for Disgust")
    assert metrics["splits"]["test"]["Disgust"] == 4


# Small enough for 30 training rows (GNB's PCA, the MLP's stratified early-stopping split).
SMALL = {
    "gnb": {"pca_components": 0},
    "knn": {"n_neighbors": 1},
    "mlp": {"width": 32, "max_iter": 20, "validation_fraction": 0.3},
    "rf": {"n_estimators": 20},
    "adaboost": {"n_estimators": 10},
    "lightgbm": {"n_estimators": 10, "min_child_samples": 2},
    "xgboost": {"n_estimators": 10},
}


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_every_model_trains_and_predicts_without_the_class(missing_store: Path, model: str) -> None:
    x, y, _ = load_training_xy(missing_store, "hog_landmarks")
    x_test, y_test, _ = load_xy(missing_store, "test", "hog_landmarks")
    assert DISGUST not in y and DISGUST in y_test
    pipeline = build_model(model, SMALL.get(model, {}), BuildOptions(n_jobs=1))
    pipeline.fit(x, y)
    predicted = np.asarray(pipeline.predict(x_test))
    assert predicted.shape == y_test.shape
    assert set(predicted.tolist()) <= set(np.unique(y).tolist())  # original codes, never Disgust
    if model == "xgboost":
        proba = pipeline.predict_proba(x_test)
        assert proba.shape == (len(x_test), len(EMOTIONS))
        assert np.all(proba[:, DISGUST] == 0) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
        np.testing.assert_array_equal(proba.argmax(axis=1), predicted)


def test_xgboost_stage_trains_and_evaluates_without_the_class(
    missing_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(missing_store.parent, tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    params = make_params(tmp_path, {"evaluate.n_boot": 50})
    stage_run(search, params, "xgboost")
    info = stage_run(train, params, "xgboost")
    assert info["status"] == "ok", info.get("error")
    metrics = stage_run(evaluate, params, "xgboost")
    assert metrics["status"] == "ok"
    confusion = np.array(metrics["test"]["all"]["confusion_matrix"])
    assert confusion.shape == (7, 7) and confusion[:, DISGUST].sum() == 0
    assert confusion[DISGUST].sum() == 4


def test_xgboost_predictions_are_unchanged_when_every_class_is_present(
    fer2013_frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from xgboost import XGBClassifier

    from tests.models_helpers import session_store

    store = session_store(fer2013_frame, tmp_path_factory)
    x, y, _ = load_xy(store, "train", "hog_landmarks")
    x_dev, _, _ = load_xy(store, "dev", "hog_landmarks")
    params = {"n_estimators": 20, "max_bin": 16, "max_depth": 3, "colsample_bytree": 0.3}
    ours = build_model("xgboost", params, BuildOptions(n_jobs=1)).fit(x, y)
    plain = build_model("xgboost", params, BuildOptions(n_jobs=1))[-1].booster
    assert isinstance(plain, XGBClassifier)
    plain.fit(x, y)
    np.testing.assert_array_equal(ours.predict(x_dev), plain.predict(x_dev))
    np.testing.assert_array_equal(ours.predict_proba(x_dev), plain.predict_proba(x_dev))


def test_cnn_trains_and_predicts_without_the_class(workdir: Path) -> None:
    path = case("class-missing-in-train") / "fer2013.csv"
    overrides = {
        "data.path": str(path),
        "data.dev_fraction": 0.2,
        "evaluate.n_boot": 20,
        "cnn.threads": 1,
        "cnn.mini_xception.epochs": 1,
        "cnn.mini_xception.finetune_epochs": 0,
        "cnn.mini_xception.crop": 32,
    }
    params = make_params(workdir, overrides)
    stage_run(ingest, params)
    metrics = stage_run(cnn, params, "mini_xception")
    assert metrics["status"] == "ok"
    assert np.array(metrics["test"]["all"]["confusion_matrix"]).shape == (7, 7)
    assert metrics["test"]["all"]["n"] == 28
