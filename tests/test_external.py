"""Cross-dataset evaluation: the external stage reads sets in other vocabularies, and a trained
model scores on them (contempt dropped and counted, subjects driving the bootstrap).

The sets are written at test time from the real FER2013 sample's test rows
(:mod:`tests.external_helpers`); the model is GNB on HOG, trained by the real stages on the
tiny real feature store.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_data.external import read_external
from fer_data.faces import EMOTIONS
from fer_data.logs import get_logger
from models.metrics import score_subset
from pipeline import paths
from pipeline.cli import main as cli_main
from pipeline.params import ParamsError
from pipeline.stages import evaluate, external, search, train
from tests.external_helpers import (
    CSV_MAP,
    FOLDER_MAP,
    FOLDER_SUBJECTS,
    SUBJECT_PATTERN,
    external_params,
    write_image_folder,
    write_subject_csv,
)
from tests.stage_helpers import make_params, stage_run

GNB = {
    "evaluate.n_boot": 300,
    "models.gnb.feature_set": "hog",  # the store's landmarks are a stand-in; HOG is real
    "models.gnb.search.enabled": False,
}


@pytest.fixture(scope="module")
def sets(fer2013_frame, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("external_sets")
    folder_counts = write_image_folder(root / "folder", fer2013_frame)
    csv_counts = write_subject_csv(root / "subjects.csv", fer2013_frame)
    return {
        "params": external_params(root / "folder", root / "subjects.csv"),
        "folder": folder_counts,
        "csv": csv_counts,
        "root": root,
    }


def test_the_external_stage_maps_labels_and_counts_every_reject(store_workdir: Path, sets) -> None:
    params = make_params(store_workdir, {"evaluate.external": sets["params"]})
    manifest = stage_run(external, params)["sets"]
    folder, csv = manifest["folder_set"], manifest["subject_set"]

    assert folder["rows_read"] == sets["folder"]["files"]
    assert folder["rejected"] == sets["folder"]["rejected"] == 2
    assert set(folder["rejected_by_reason"]) == {
        "unreadable image",
        "not inside a label folder (expected <label>/<image>)",
    }
    assert folder["images"] == sets["folder"]["faces"]
    assert folder["classes"]["Contempt"] == sets["folder"]["contempt"]
    assert folder["notes"]["resized"] == 1 and folder["notes"]["converted_to_gray"] == 1
    assert folder["subjects"] is None and folder["reader"] == "image_folder"

    assert csv["rows_read"] == sets["csv"]["rows"] and csv["rejected"] == 1
    assert csv["images"] == sets["csv"]["faces"]
    assert csv["subjects"] == sets["csv"]["subjects"] + sets["csv"]["contempt"]
    assert csv["notes"]["ignored_columns"] == ["Usage"]

    table = read_external(paths.external_set("subject_set"))
    assert len(table) == csv["images"] and table.images.dtype == np.uint8
    assert set(table.emotion) == {*EMOTIONS, "Contempt"}
    assert table.label[table.emotion == "Happy"].tolist() == ["3"] * csv["classes"]["Happy"]
    rejects = (store_workdir / paths.EXTERNAL_REJECTS).read_text().splitlines()
    assert len(rejects) == 1 + 3 and rejects[0].startswith("set,file,line")


def test_archives_and_null_mapped_labels(store_workdir: Path, sets) -> None:
    root, params = sets["root"], sets["params"]
    shutil.make_archive(str(store_workdir / "folder"), "zip", root / "folder")
    with tarfile.open(store_workdir / "subjects.tgz", "w:gz") as tar:
        tar.add(root / "subjects.csv", arcname="release/subjects.csv")
    folder_map = {**FOLDER_MAP, "disgust": None}  # null: dropped by the stage, counted
    changed = {
        "folder_set": {**params["folder_set"], "path": "folder.zip", "label_map": folder_map},
        "subject_set": {**params["subject_set"], "path": "subjects.tgz"},
    }
    manifest = stage_run(external, make_params(store_workdir, {"evaluate.external": changed}))[
        "sets"
    ]
    folder, csv = manifest["folder_set"], manifest["subject_set"]
    assert folder["reader"] == "archive/image_folder" and csv["reader"] == "archive/csv"
    assert csv["notes"]["member"] == "release/subjects.csv"
    assert folder["dropped_by_label_map"] == {"disgust": 16} and "Disgust" not in folder["classes"]
    assert folder["images"] == sets["folder"]["faces"] - 16 and folder["rejected"] == 2
    assert csv["images"] == sets["csv"]["faces"] and csv["rejected"] == 1
    rejects = (store_workdir / paths.EXTERNAL_REJECTS).read_text()
    assert "folder.zip [anger/broken.png]" in rejects


def test_subjects_from_image_file_names(store_workdir: Path, sets) -> None:
    folder = store_workdir / "folder"
    shutil.copytree(sets["root"] / "folder", folder)
    Image.fromarray(np.zeros((48, 48), np.uint8) + 90).save(folder / "fear" / "anonymous.png")
    cfg = {**sets["params"]["folder_set"], "path": str(folder), "subject_pattern": SUBJECT_PATTERN}
    manifest = stage_run(external, make_params(store_workdir, {"evaluate.external": {"ck": cfg}}))
    found = manifest["sets"]["ck"]
    assert found["subjects"] == FOLDER_SUBJECTS
    assert found["images"] == sets["folder"]["faces"] and found["rejected"] == 3
    reason = "no subject in the file's path (subject_pattern does not match it)"
    assert found["rejected_by_reason"][reason] == 2  # anonymous.png, and broken.png before decoding
    table = read_external(paths.external_set("ck"))
    assert all(f"/S{s}_" in item for s, item in zip(table.subject, table.item, strict=True))


def test_a_model_scores_every_set_with_contempt_dropped_and_subjects_resampled(
    store_workdir: Path, sets
) -> None:
    params = make_params(store_workdir, {**GNB, "evaluate.external": sets["params"]})
    stage_run(external, params)
    stage_run(search, params, "gnb")
    stage_run(train, params, "gnb")
    metrics = stage_run(evaluate, params, "gnb")
    on_disk = json.loads(paths.metrics("gnb").read_text())
    assert on_disk["external"] == json.loads(json.dumps(metrics["external"]))

    folder, csv = on_disk["external"]["folder_set"], on_disk["external"]["subject_set"]
    for found, counts in ((folder, sets["folder"]), (csv, sets["csv"])):
        assert found["status"] == "ok"
        assert found["dropped"] == {"Contempt": counts["contempt"]}
        assert found["n_images"] == counts["faces"] - counts["contempt"]
        scores = found["scores"]
        assert scores["n"] == found["n_images"] and list(scores["per_class"]) == list(EMOTIONS)
        assert sum(map(sum, scores["confusion_matrix"])) == found["n_images"]
        assert 0.0 < scores["accuracy"] < 1.0

    assert folder["bootstrap"] == "images" and folder["n_subjects"] is None
    assert csv["bootstrap"] == "subjects" and csv["n_subjects"] == sets["csv"]["subjects"]
    # The subject set holds the test rows themselves: same faces, same predictions as the test
    # split's, so its point scores equal the test split's.
    assert csv["scores"]["accuracy"] == on_disk["test"]["all"]["accuracy"]
    assert csv["scores"]["confusion_matrix"] == on_disk["test"]["all"]["confusion_matrix"]

    # The intervals resample subjects: rebuilt from the confusion matrix's predictions, the
    # image bootstrap gives a narrower interval than the subject one written.
    table = read_external(paths.external_set("subject_set"))
    kept = table.take(table.emotion != "Contempt")
    y_true = np.asarray([EMOTIONS.index(e) for e in kept.emotion])
    predictions = _predictions_from_test(y_true, csv["scores"]["confusion_matrix"])
    by_subject = score_subset(y_true, predictions, 300, params.seed, EMOTIONS, kept.subject)
    by_image = score_subset(y_true, predictions, 300, params.seed, EMOTIONS)
    assert by_subject.accuracy == csv["scores"]["accuracy"]
    width = lambda ci: ci[1] - ci[0]  # noqa: E731
    assert width(by_subject.accuracy_ci95) > 1.5 * width(by_image.accuracy_ci95)
    assert width(csv["scores"]["accuracy_ci95"]) > 1.5 * width(by_image.accuracy_ci95)


def _predictions_from_test(y_true: np.ndarray, confusion: list[list[int]]) -> np.ndarray:
    """The per-image predictions of the evaluate stage (results/plots/confusion/gnb.csv) put in
    the order of ``y_true``: the subject set holds the test rows in the test split's order."""
    import pandas as pd

    plot = pd.read_csv(paths.confusion("gnb"))
    predicted = plot["predicted"].map({name: k for k, name in enumerate(EMOTIONS)}).to_numpy()
    actual = plot["actual"].map({name: k for k, name in enumerate(EMOTIONS)}).to_numpy()
    assert (actual == y_true).all()
    counts = np.zeros((7, 7), int)
    np.add.at(counts, (actual, predicted), 1)
    assert counts.tolist() == confusion
    return predicted


def test_no_external_set_writes_an_empty_manifest_and_no_scores(store_workdir: Path) -> None:
    params = make_params(store_workdir, {**GNB, "evaluate.external": {}})
    stale = paths.external_set("old")
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"left by an earlier run")
    assert stage_run(external, params) == {"sets": {}}
    assert json.loads(paths.EXTERNAL_MANIFEST.read_text()) == {"sets": {}}
    assert not stale.exists()
    stage_run(search, params, "gnb")
    stage_run(train, params, "gnb")
    stage_run(evaluate, params, "gnb")
    assert "external" not in json.loads(paths.metrics("gnb").read_text())


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"path": "nowhere/ck"},
            "evaluate.external.folder_set.path: nowhere/ck: no such file or folder",
        ),
        (
            {"label_map": {**FOLDER_MAP, "anger": "Furious"}},
            "evaluate.external.folder_set.label_map.anger: got 'Furious'; expected a class name",
        ),
        (
            {"label_map": {k: v for k, v in FOLDER_MAP.items() if k != "fear"}},
            "evaluate.external.folder_set.label_map: no entry for the labels 'fear' (",
        ),
        (
            {"subject_column": "subject"},
            "an image folder has no columns, so no subject column 'subject'",
        ),
        (
            {"path": "subjects.csv", "subject_pattern": "S(\\d+)"},
            "evaluate.external.folder_set: subjects.csv: a CSV names subjects in a column",
        ),
    ],
)
def test_a_bad_set_is_exit_2_with_one_line_naming_its_key(
    store_workdir: Path, sets, change: dict, expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    good = sets["params"]["folder_set"]
    shutil.copy(sets["root"] / "subjects.csv", store_workdir / "subjects.csv")
    make_params(store_workdir, {"evaluate.external": {"folder_set": {**good, **change}}})
    logger = get_logger()
    logger.addHandler(caplog.handler)  # ferbench's logger does not propagate to the root
    try:
        assert cli_main(["external"]) == 2
    finally:
        logger.removeHandler(caplog.handler)
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "\n" not in errors[0] and expected in errors[0], errors
    assert errors[0].startswith("evaluate.external.folder_set")
    assert not paths.EXTERNAL_MANIFEST.exists()  # nothing written


def test_set_names_and_label_maps_are_checked_with_the_params(store_workdir: Path, sets) -> None:
    good = sets["params"]["subject_set"]
    with pytest.raises(ParamsError, match=r"evaluate.external.2nd: a set's name must be an"):
        make_params(store_workdir, {"evaluate.external": {"2nd": good}})
    with pytest.raises(ParamsError, match=r"evaluate.external.s.label_map: got \{\}"):
        make_params(store_workdir, {"evaluate.external": {"s": {**good, "label_map": {}}}})
    with pytest.raises(ParamsError, match=r"evaluate.external.s.resize_images: required key"):
        make_params(
            store_workdir,
            {"evaluate.external": {"s": {k: v for k, v in good.items() if k != "resize_images"}}},
        )
    for pattern, problem in (("S(\\d+", "not a regular expression"), ("S\\d+", "needs a group")):
        with pytest.raises(ParamsError, match=rf"evaluate.external.s.subject_pattern: .*{problem}"):
            make_params(
                store_workdir, {"evaluate.external": {"s": {**good, "subject_pattern": pattern}}}
            )
    # YAML reads `0: Angry` with an integer key: labels are text.
    params = make_params(
        store_workdir, {"evaluate.external": {"s": {**good, "label_map": {0: "angry", 7: None}}}}
    )
    assert params.evaluate.external["s"].label_map == {"0": "angry", "7": None}
    assert set(CSV_MAP) == {str(k) for k in range(8)}
