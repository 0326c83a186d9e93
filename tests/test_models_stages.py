"""The search / train / evaluate / competency stages on a tiny real feature store.

Checks the metrics format shared with the CNN, that the confusion CSV agrees with it, that tuning
never reads the test split, and that a model that crashes or runs out of time is reported as such
while the other models go on.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.store import load_rows
from fer_data.faces import EMOTIONS
from models.registry import MODEL_NAMES, get_spec
from pipeline import paths
from pipeline.cli import main as cli_main
from pipeline.stages import competency, evaluate, search, train
from tests.models_helpers import SOURCE
from tests.stage_helpers import make_params, stage_run

SCORE_KEYS = {
    "n",
    "accuracy",
    "accuracy_ci95",
    "balanced_accuracy",
    "macro_f1",
    "macro_f1_ci95",
    "weighted_precision",
    "weighted_recall",
    "weighted_f1",
    "per_class",
    "confusion_matrix",
}
GNB_GRID = {
    "models.gnb.search.enabled": True,
    "models.gnb.search.method": "grid",
    "models.gnb.search.grid": {"var_smoothing": [1e-9, 1e-3]},
}


def _params(store_workdir: Path, overrides: dict | None = None):
    return make_params(
        store_workdir, {"evaluate.n_boot": 200, "competency.train_rows": 400, **(overrides or {})}
    )


def test_search_train_evaluate_write_the_shared_metrics_format(store_workdir: Path) -> None:
    params = _params(
        store_workdir, {**GNB_GRID, "train.refit_on_dev": True, "train.dev_score_rows": 150}
    )
    found = stage_run(search, params, "gnb")
    assert found["status"] == "ok" and found["trials"]["ok"] == 2 and found["scored_on"] == "dev"
    assert len(pd.read_csv(paths.trials("gnb"))) == 2
    assert (paths.search_dir("gnb") / "study.db").exists()

    info = stage_run(train, params, "gnb")
    assert info["status"] == "ok" and info["params_from"] == "search"
    assert info["params"]["var_smoothing"] == found["params"]["var_smoothing"]
    n_train, n_dev = (len(load_rows(paths.FEATURES_DIR, s)) for s in ("train", "dev"))
    assert info["train_rows"] == n_train + n_dev  # refit_on_dev
    # The dev score before the refit: a fit on 150 training rows, named as such.
    assert info["dev"]["fitted_on"] == "150 rows of train" and 0 < info["dev"]["accuracy"] < 1
    dev_scores = np.load(paths.dev_scores("gnb"))
    assert len(dev_scores["row_id"]) == n_dev
    assert info["fit_seconds"] > 0 and info["model_bytes"] > 0

    metrics = stage_run(evaluate, params, "gnb")
    on_disk = json.loads(paths.metrics("gnb").read_text())
    assert on_disk == json.loads(json.dumps(metrics))
    assert on_disk["data"] == SOURCE and on_disk["status"] == "ok"
    assert {"model", "feature_set", "augmentation", "params", "fit_seconds", "model_bytes"} <= set(
        on_disk
    )
    assert on_disk["predict_ms_per_image"] > 0
    rows = load_rows(paths.FEATURES_DIR, "test")
    for subset, usage in (("all", None), ("public", "PublicTest"), ("private", "PrivateTest")):
        scores = on_disk["test"][subset]
        assert set(scores) == SCORE_KEYS
        assert scores["n"] == (len(rows) if usage is None else int((rows["usage"] == usage).sum()))
        assert list(scores["per_class"]) == list(EMOTIONS)
    # The plot file holds the same predictions as the confusion matrix.
    plot = pd.read_csv(paths.confusion("gnb"))
    index = {name: k for k, name in enumerate(EMOTIONS)}
    counts = np.zeros((7, 7), int)
    np.add.at(counts, (plot["actual"].map(index), plot["predicted"].map(index)), 1)
    assert counts.tolist() == on_disk["test"]["all"]["confusion_matrix"]


def test_tuning_never_reads_the_test_split(store_workdir: Path) -> None:
    params = _params(store_workdir, {**GNB_GRID, "search.cv_folds": 3})
    shutil.rmtree(paths.FEATURES_DIR / "test")
    assert stage_run(search, params, "gnb")["scored_on"] == "3-fold CV on train"
    shutil.rmtree(paths.FEATURES_DIR / "dev")
    assert (
        stage_run(train, make_params(store_workdir, {"train.refit_on_dev": False}), "gnb")["status"]
        == "ok"
    )


def test_a_model_that_runs_out_of_time_or_crashes_is_reported_and_the_others_go_on(
    store_workdir: Path,
) -> None:
    params = _params(
        store_workdir,
        {
            "models.rf.params": {"n_estimators": 5000},
            "models.rf.fit_timeout_s": 2.0,
            "models.rf.search.enabled": False,  # the train stage's budget is what is tested
            "models.knn.params": {"pca_components": 4000},  # more components than columns: crashes
            "models.knn.search.enabled": False,
            "models.gnb.search.enabled": False,
        },
    )
    for model in ("rf", "knn", "gnb"):
        stage_run(search, params, model)
        stage_run(train, params, model)
        stage_run(evaluate, params, model)
    slow = json.loads(paths.metrics("rf").read_text())
    assert slow["status"] == "budget_exceeded" and slow["test"] is None and " s" in slow["error"]
    crashed = json.loads(paths.metrics("knn").read_text())
    assert crashed["status"] == "failed" and "n_components" in crashed["error"]
    assert json.loads(paths.metrics("gnb").read_text())["status"] == "ok"
    assert pd.read_csv(paths.confusion("rf")).empty


def test_disabled_models_write_their_outputs_without_work(store_workdir: Path) -> None:
    params = _params(store_workdir, {"models.svm.enabled": False})
    assert stage_run(search, params, "svm")["status"] == "skipped"
    assert stage_run(train, params, "svm")["status"] == "disabled"
    assert stage_run(evaluate, params, "svm")["status"] == "disabled"
    assert {c["status"] for c in stage_run(competency, params, "svm")["cells"]} == {"disabled"}


def test_competency_scores_every_feature_set_and_the_table_gathers_every_model(
    store_workdir: Path,
) -> None:
    params = _params(store_workdir, {"competency.cell_timeout_s": 60.0})
    result = stage_run(competency, params, "gnb")
    assert [c["feature_set"] for c in result["cells"]] == [
        "pixels",
        "hog",
        "landmarks",
        "hog_landmarks",
    ]
    assert all(c["status"] == "ok" and 0.1 < c["accuracy"] < 1 for c in result["cells"])
    assert all(c["train_rows"] == pytest.approx(400, abs=10) for c in result["cells"])
    assert result["data"] == SOURCE
    for model in MODEL_NAMES:  # the others as if they had run: the table only gathers files
        if model != "gnb":
            target = paths.competency(model)
            target.write_text(json.dumps(result | {"model": model}))
    competency.write_table()
    table = pd.read_csv(paths.COMPETENCY_TABLE)
    assert len(table) == 4 * len(MODEL_NAMES) and set(table["model"]) == set(MODEL_NAMES)


def test_a_competency_cell_past_its_budget_is_recorded(
    store_workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Competency fits the built-in defaults (models.*.params do not reach it): 5,000 trees, 25
    # times the default forest (about 1 s here), is what a 2-s cell must be killed in.
    spec = get_spec("rf")
    slow = dataclasses.replace(spec, defaults={**spec.defaults, "n_estimators": 5000})
    monkeypatch.setattr(competency, "get_spec", lambda name: slow)
    params = _params(
        store_workdir, {"competency.cell_timeout_s": 2.0, "competency.feature_sets": ["hog"]}
    )
    (cell,) = stage_run(competency, params, "rf")["cells"]
    assert cell["status"] == "budget_exceeded" and "accuracy" not in cell


def test_the_cli_runs_a_model_stage(store_workdir: Path) -> None:
    _params(store_workdir, {"models.gnb.search.enabled": False})
    assert cli_main(["--params", str(store_workdir / "params.yaml"), "search", "gnb"]) == 0
    assert json.loads((paths.best_params("gnb")).read_text())["status"] == "skipped"
