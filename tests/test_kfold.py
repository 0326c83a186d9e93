"""``evaluate.protocol: kfold``: stratified k-fold over train + dev on the real FER2013 sample.

The folds are stratified, disjoint and cover train + dev; augmented copies only ever train, and
never in the fold that holds out their face; the evaluate stage records k fold scores whose mean
and sd are those of the folds (holdout records none); a fold past its budget is recorded as
such, with no mean; the report shows the column and the line. (That the CNN's metrics say
k-fold was not run is checked with its stage, in test_cnn_stage.py.)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from features.store import load_rows
from models.kfold import cross_validate, fold_rows, kfold_splits
from models.records import KFoldScores
from models.spec import BuildOptions
from pipeline import paths
from pipeline.params import ParamsError
from pipeline.stages import evaluate, search, train
from reports.render import environment
from tests.stage_helpers import make_params, repo_params, stage_run

K = 5
SEED = 2013


def test_folds_are_stratified_disjoint_cover_train_dev_and_keep_copies_with_their_face(
    store_workdir: Path,
) -> None:
    rows = fold_rows(paths.FEATURES_DIR, "hog", "balanced")
    faces = np.concatenate(
        [load_rows(paths.FEATURES_DIR, s)["row_id"].to_numpy() for s in ("train", "dev")]
    )
    assert rows.n_faces == len(faces) and rows.n_copies > 0
    assert np.array_equal(rows.row_id[: rows.n_faces], faces)
    splits = kfold_splits(rows.y, rows.row_id, rows.n_faces, K, SEED)
    assert len(splits) == K

    held_out = np.concatenate([test for _, test in splits])
    assert np.array_equal(np.sort(held_out), np.arange(rows.n_faces))  # disjoint, cover, faces only
    classes = np.bincount(rows.y[: rows.n_faces])
    copies = np.arange(rows.n_faces, len(rows.y))
    for fit, test in splits:
        # Stratified: each class's share of a fold is its share of train + dev, to one face.
        assert np.all(np.abs(np.bincount(rows.y[test], minlength=len(classes)) - classes / K) <= 1)
        assert not np.intersect1d(fit, test).size
        trained_faces = fit[fit < rows.n_faces]
        assert np.array_equal(
            np.sort(np.concatenate([trained_faces, test])), np.arange(rows.n_faces)
        )
        # Copies: never of a held-out face; every copy of a training face is trained on.
        trained_copies = fit[fit >= rows.n_faces]
        assert not np.isin(rows.row_id[trained_copies], rows.row_id[test]).any()
        expected = copies[np.isin(rows.row_id[copies], rows.row_id[trained_faces])]
        assert np.array_equal(np.sort(trained_copies), expected)
    # Seeded: the same seed draws the same folds, another seed others.
    again = kfold_splits(rows.y, rows.row_id, rows.n_faces, K, SEED)
    other = kfold_splits(rows.y, rows.row_id, rows.n_faces, K, SEED + 1)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again, strict=True))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(splits, other, strict=True))


def test_evaluate_with_kfold_records_the_folds_and_holdout_records_none(
    store_workdir: Path,
) -> None:
    overrides = {
        "evaluate.n_boot": 50,
        "evaluate.folds": 3,
        "models.gnb.augmentation": "balanced",
        "models.gnb.search.enabled": False,
    }
    params = make_params(store_workdir, overrides)
    assert stage_run(search, params, "gnb")["status"] == "skipped"
    info = stage_run(train, params, "gnb")
    assert info["status"] == "ok"
    holdout = stage_run(evaluate, params, "gnb")
    assert "kfold" not in holdout and "kfold" not in json.loads(paths.metrics("gnb").read_text())

    params = make_params(store_workdir, {**overrides, "evaluate.protocol": "kfold"})
    metrics = stage_run(evaluate, params, "gnb")
    assert metrics == json.loads(paths.metrics("gnb").read_text())
    assert metrics["test"] == holdout["test"]  # the test scores stay as they are
    kfold = metrics["kfold"]
    assert kfold["status"] == "ok" and kfold["k"] == 3 and kfold["augmentation"] == "balanced"
    n_faces = sum(len(load_rows(paths.FEATURES_DIR, s)) for s in ("train", "dev"))
    n_copies = len(load_rows(paths.FEATURES_DIR, "aug_balanced"))
    assert kfold["faces"] == n_faces and kfold["augmented_rows"] == n_copies
    folds = list(kfold["folds"].values())
    assert list(kfold["folds"]) == ["1", "2", "3"]
    assert sum(f["test_rows"] for f in folds) == n_faces
    # Each fold trains on the other folds' faces plus their copies: every copy trains k - 1 times.
    assert sum(f["train_rows"] for f in folds) == 2 * n_faces + 2 * n_copies
    for metric in ("accuracy", "macro_f1"):
        values = [f[metric] for f in folds]
        assert all(0.2 < v < 0.8 for v in values)  # real scores of 7 classes on FER2013 faces
        assert kfold[f"{metric}_mean"] == pytest.approx(np.mean(values), abs=1e-12)
        assert kfold[f"{metric}_sd"] == pytest.approx(np.std(values, ddof=1), abs=1e-12)


def test_a_fold_past_its_budget_is_recorded_without_a_mean(store_workdir: Path) -> None:
    rows = fold_rows(paths.FEATURES_DIR, "hog", "none")
    # 10 ms: not even the fit process starts in time.
    record = cross_validate(rows, "gnb", {}, BuildOptions("hog"), "none", 3, SEED, 0.01)
    assert record.status == "budget_exceeded"
    assert list(record.folds) == ["1"] and record.folds["1"].status == "budget_exceeded"
    assert record.folds["1"].accuracy is None
    assert record.error.startswith("fold 1 of 3: ") and "folds 2-3 not run" in record.error
    assert record.accuracy_mean is None and record.accuracy_sd is None


def test_folds_beyond_the_rarest_class_fail_with_the_reason(store_workdir: Path) -> None:
    rows = fold_rows(paths.FEATURES_DIR, "hog", "none")
    rarest = int(np.bincount(rows.y[: rows.n_faces]).min())
    record = cross_validate(rows, "gnb", {}, BuildOptions("hog"), "none", rarest + 1, SEED, 60)
    assert record.status == "failed" and "evaluate.folds" in record.error and not record.folds


@pytest.mark.parametrize(("key", "value"), [("evaluate.protocol", "loocv"), ("evaluate.folds", 1)])
def test_bad_protocol_params_name_their_key(key: str, value: object) -> None:
    section, name = key.split(".")
    with pytest.raises(ParamsError, match=name):
        repo_params({section: {name: value}})


def test_the_report_shows_mean_and_sd_or_why_not() -> None:
    macros = environment().get_template("macros.html.j2").module
    ok = KFoldScores(
        status="ok", k=2, faces=10, augmentation="mirror", accuracy_mean=0.55, accuracy_sd=0.0125
    )
    ok.macro_f1_mean, ok.macro_f1_sd = 0.5, 0.01
    assert "55.00 ± 1.25" in str(macros.kfold_cell(ok))
    line = str(macros.kfold_line(ok))
    assert "accuracy 55.00 ± 1.25%" in line and "macro-F1 50.00 ± 1.00%" in line
    assert "mirror copies in the training folds only" in line
    cnn_row = KFoldScores(status="skipped", reason="not run (CNN)")
    assert "not run (CNN)" in str(macros.kfold_cell(cnn_row))
    late = KFoldScores(status="budget_exceeded", error="fold 2 of 5: exceeded 600 s")
    assert "budget_exceeded: fold 2 of 5: exceeded 600 s" in str(macros.kfold_line(late))
