"""The stacking ensemble on the tiny real FER2013 store: its inputs (dev and test scores of the
train-only fit, not the saved refit), its dev score against its members', skipped members, and
its place beside the other models (metrics format, predictions, report, predict's refusal)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from features.store import load_rows, load_xy
from fer_data.errors import DataError
from fer_data.faces import EMOTIONS
from models.ensemble import member_predictions
from models.member_scores import load_scores, save_scores
from models.names import ENSEMBLE_NAME, MODEL_NAMES
from pipeline import paths
from pipeline.params import ParamsError
from pipeline.predict import model_directory
from pipeline.stages import ensemble, evaluate, report, search, train
from tests.models_helpers import copy_store, session_store
from tests.stage_helpers import make_params, repo_params, stage_run

MEMBERS = ("knn", "gnb")  # the zoo's order
# Out-of-fold stacking on ~300 dev rows is noisy: it may trail its best member by a little.
TOLERANCE = 0.03


def _params(workdir: Path, overrides: dict | None = None):
    return make_params(
        workdir,
        {
            "evaluate.n_boot": 50,
            "models.gnb.search.enabled": False,
            "models.knn.search.enabled": False,
            "train.refit_on_dev": True,  # dev scores from the train-only fit, not the saved model's
            **(overrides or {}),
        },
    )


@pytest.fixture(scope="module")
def zoo(fer2013_frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny store where gnb and knn were searched (off), trained and evaluated, and
    rf's train stage ran disabled: shared by the tests below, which only read it or add to it."""
    workdir = tmp_path_factory.mktemp("ensemble")
    copy_store(session_store(fer2013_frame, tmp_path_factory), workdir)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workdir)
        params = _params(workdir, {"models.rf.enabled": False})
        for model in MEMBERS:
            stage_run(search, params, model)
            stage_run(train, params, model)
            stage_run(evaluate, params, model)
        stage_run(search, params, "rf")
        stage_run(train, params, "rf")
    return workdir


@pytest.fixture()
def in_zoo(zoo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(zoo)
    return zoo


def test_dev_scores_come_from_the_fit_that_never_saw_dev(in_zoo: Path) -> None:
    info = json.loads(paths.train_record("gnb").read_text())
    assert info["refit_on_dev"] and info["status"] == "ok"
    dev = load_scores(paths.dev_scores("gnb"))
    rows = load_rows(paths.FEATURES_DIR, "dev")
    assert dev.scores.shape == (len(rows), len(EMOTIONS)) and dev.kind == "probability"
    assert np.array_equal(dev.row_id, rows["row_id"].to_numpy())
    assert np.array_equal(dev.labels, rows["emotion"].to_numpy())
    np.testing.assert_allclose(dev.scores.sum(axis=1), 1.0, atol=1e-4)
    # The train-only fit's accuracy (train.json) is that of these scores ...
    accuracy = float(np.mean(member_predictions(dev) == dev.labels))
    assert accuracy == pytest.approx(info["dev"]["accuracy"])
    # ... not of the saved model, which was refitted on train + dev.
    x_dev, _, _ = load_xy(paths.FEATURES_DIR, "dev", info["feature_set"])
    saved = joblib.load(paths.model_file("gnb")).predict_proba(x_dev)
    assert not np.allclose(saved, dev.scores, atol=1e-3)
    # The test scores come from that same fit (kept beside the refit), row by row ...
    test = load_scores(paths.test_scores("gnb"))
    assert test.fitted_on == dev.fitted_on
    assert np.array_equal(test.row_id, load_rows(paths.FEATURES_DIR, "test")["row_id"].to_numpy())
    x_test, _, _ = load_xy(paths.FEATURES_DIR, "test", info["feature_set"])
    dev_scored = joblib.load(paths.dev_scored_model("gnb"))
    np.testing.assert_allclose(test.scores, dev_scored.predict_proba(x_test), atol=1e-6)
    np.testing.assert_allclose(dev.scores, dev_scored.predict_proba(x_dev), atol=1e-6)
    # ... while the test predictions (metrics, confusion) are the saved refit's.
    refit = joblib.load(paths.model_file("gnb"))
    assert not np.allclose(refit.predict_proba(x_test), test.scores, atol=1e-3)
    predicted = pd.read_csv(paths.confusion("gnb"))["predicted"].map(EMOTIONS.index).to_numpy()
    assert np.array_equal(refit.predict(x_test), predicted)


def test_the_ensemble_stacks_its_members_and_names_the_missing_ones(in_zoo: Path) -> None:
    params = _params(in_zoo, {"ensemble.selection": "none"})
    metrics = stage_run(ensemble, params)
    assert metrics["status"] == "ok" and metrics["model"] == ENSEMBLE_NAME
    used = metrics["params"]
    assert used["members"] == list(MEMBERS)
    # members: all: every other model of the zoo is skipped, with why.
    cnns = {f"cnn_{arch}" for arch in params.cnn.archs}
    assert set(used["skipped"]) == set(MODEL_NAMES) - set(MEMBERS) | cnns
    assert used["skipped"]["svm"] == "not trained (no train.json)"
    assert used["skipped"]["rf"] == "train disabled"
    assert used["C"] in params.ensemble.c_grid
    best = max(used["member_dev_accuracy"].values())
    assert used["dev_oof_accuracy"] >= best - TOLERANCE, used
    # Scored like every model: the same format, the confusion file agrees with the matrix.
    rows = load_rows(paths.FEATURES_DIR, "test")
    written = json.loads(paths.metrics(ENSEMBLE_NAME).read_text())
    member = json.loads(paths.metrics("gnb").read_text())
    assert set(written) == set(member) and written["test"]["all"]["n"] == len(rows)
    assert set(written["test"]["all"]) == set(member["test"]["all"])
    plot = pd.read_csv(paths.confusion(ENSEMBLE_NAME))
    counts = np.zeros((7, 7), int)
    np.add.at(
        counts, (plot["actual"].map(EMOTIONS.index), plot["predicted"].map(EMOTIONS.index)), 1
    )
    assert counts.tolist() == written["test"]["all"]["confusion_matrix"]
    assert plot["actual"].map(EMOTIONS.index).tolist() == rows["emotion"].tolist()
    # The report and the leaderboard take it as a model.
    names = [name for name, _, _ in report.expected_models(params)]
    assert names[-1] == ENSEMBLE_NAME
    from fer_data.faces import FaceTable

    labels = rows["emotion"].to_numpy()
    table = FaceTable(
        row_id=rows["row_id"].to_numpy(),
        emotion=labels.astype(np.int8),
        usage=rows["usage"].to_numpy(str),
        images=np.zeros((len(rows), 48, 48), np.uint8),
    )
    run = report.load_model(ENSEMBLE_NAME, "ensemble", None, table)
    assert run.ok and run.train is None and run.predictions is not None
    board = report.leaderboard_metrics([run])
    assert board[ENSEMBLE_NAME]["accuracy"] == written["test"]["all"]["accuracy"]


def test_forward_selection_leaves_out_a_member_that_adds_nothing(in_zoo: Path) -> None:
    """A member whose scores are the same for every face carries no information: it cannot raise
    the stack's out-of-fold dev accuracy, so forward selection (the default) leaves it out and
    says so, and the stack is that of the members it kept."""
    written = [paths.dev_scores("rf"), paths.test_scores("rf")]
    sources = [load_scores(paths.dev_scores("gnb")), load_scores(paths.test_scores("gnb"))]
    try:
        for path, scores in zip(written, sources, strict=True):
            path.parent.mkdir(parents=True, exist_ok=True)
            save_scores(
                path, dataclasses.replace(scores, scores=np.full_like(scores.scores, 1 / 7))
            )
        params = _params(in_zoo)
        assert params.ensemble.selection == "forward"  # the default
        metrics = stage_run(ensemble, params)
    finally:
        for path in written:
            path.unlink(missing_ok=True)
    used = metrics["params"]
    selection = used["selection"]
    assert metrics["status"] == "ok" and "rf" in selection["left_out"]
    assert "rf" not in used["members"] and set(used["members"]) <= {"rf", *MEMBERS}
    assert used["members"] == [step["added"] for step in selection["steps"]]
    accuracies = [step["dev_oof_accuracy"] for step in selection["steps"]]
    assert accuracies == sorted(set(accuracies))  # each step raised it
    assert used["dev_oof_accuracy"] == accuracies[-1]  # the stack is the selection's
    assert max(selection["left_out"].values()) <= accuracies[-1]
    # The same members stacked without selection: the same test predictions.
    kept = stage_run(
        ensemble,
        _params(in_zoo, {"ensemble.selection": "none", "ensemble.members": used["members"]}),
    )
    assert kept["test"]["all"]["confusion_matrix"] == metrics["test"]["all"]["confusion_matrix"]


def test_without_members_only_the_ensemble_fails(in_zoo: Path) -> None:
    params = _params(in_zoo, {"ensemble.members": ["rf", "svm"]})
    metrics = stage_run(ensemble, params)
    assert metrics["status"] == "failed" and metrics["test"] is None
    assert metrics["params"] == {
        "members": [],
        "skipped": {"rf": "train disabled", "svm": "not trained (no train.json)"},
    }
    assert "rf: train disabled" in metrics["error"]
    assert pd.read_csv(paths.confusion(ENSEMBLE_NAME)).empty
    metrics = stage_run(ensemble, _params(in_zoo, {"ensemble.members": ["rf", "gnb"]}))
    assert metrics["status"] == "ok" and metrics["params"]["members"] == ["gnb"]
    assert metrics["params"]["skipped"] == {"rf": "train disabled"}


def test_a_member_whose_test_scores_come_from_another_fit_is_skipped(in_zoo: Path) -> None:
    """Test scores from a fit other than the dev scores' (here: the refit's, as evaluate wrote
    them before it scored the dev-scored fit) would meet weights learnt on another model."""
    path = paths.test_scores("gnb")
    original = path.read_bytes()
    test = load_scores(path)
    try:
        save_scores(path, dataclasses.replace(test, fitted_on="train + dev"))
        metrics = stage_run(ensemble, _params(in_zoo, {"ensemble.members": list(MEMBERS)}))
    finally:
        path.write_bytes(original)
    assert metrics["status"] == "ok" and metrics["params"]["members"] == ["knn"]
    why = metrics["params"]["skipped"]["gnb"]
    assert "another fit (train + dev)" in why and test.fitted_on in why


def test_members_must_be_models_of_the_run() -> None:
    with pytest.raises(ParamsError, match=r"ensemble\.members: unknown 'cnn_vgg'"):
        repo_params({"ensemble": {"members": ["svm", "cnn_vgg"]}})
    with pytest.raises(ParamsError, match=r"ensemble\.c_grid"):
        repo_params({"ensemble": {"c_grid": [0.0]}})
    with pytest.raises(ParamsError, match=r"ensemble\.selection"):
        repo_params({"ensemble": {"selection": "greedy"}})


def test_predict_says_why_it_cannot_run_the_ensemble(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="ensemble cannot predict new faces"):
        model_directory(ENSEMBLE_NAME, tmp_path)
