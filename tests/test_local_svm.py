"""The local SVM (models/local_svm.py) on the real FER2013 sample, and its stages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

import models.local_svm as local_svm
from features.store import load_training_xy, load_xy
from models.local_svm import LocalSVC
from models.registry import build_model
from models.spec import BuildOptions
from pipeline import paths
from pipeline.stages import competency, evaluate, search, train
from tests.stage_helpers import make_params, stage_run

SMALL = {"n_neighbors": 40, "gamma": "scale", "landmark_weight": 0.5}


@pytest.fixture()
def sample_xy(store_workdir: Path) -> tuple[np.ndarray, ...]:
    """hog_landmarks (x, y) of the sample's train and test splits."""
    x, y, _ = load_training_xy(paths.FEATURES_DIR, "hog_landmarks")
    x_test, y_test, _ = load_xy(paths.FEATURES_DIR, "test", "hog_landmarks")
    return x, y, x_test, y_test


def test_fit_predict_shapes_and_classes(sample_xy: tuple[np.ndarray, ...]) -> None:
    x, y, x_test, _ = sample_xy
    x_test = x_test[:150]
    pipeline = build_model("local_svm", SMALL, BuildOptions(n_jobs=2, accelerate=False))
    pipeline.fit(x, y)
    scores = pipeline.decision_function(x_test)
    predictions = pipeline.predict(x_test)
    assert predictions.shape == (len(x_test),) and scores.shape == (len(x_test), 7)
    assert set(predictions) <= set(np.unique(y)) and len(set(predictions)) >= 3
    assert np.array_equal(predictions, pipeline[-1].classes_[scores.argmax(axis=1)])
    # Classes absent from a face's neighbourhood score -1, below every class present.
    assert scores.min() == -1.0 and np.all(scores.max(axis=1) > -1 / 3)
    assert 0 < pipeline[-1].n_svm_ <= len(x_test)


def test_unanimous_neighbours_decide_without_an_svm(
    sample_xy: tuple[np.ndarray, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    x, y, x_test, _ = sample_xy
    # Five copies of one test face, labelled Happy (3), beside the real training rows: that face's
    # 5 nearest neighbours are its copies, another face's are mixed.
    query = x_test[:1]
    x_fit = np.vstack([x, np.repeat(query, 5, axis=0)])
    y_fit = np.concatenate([y, np.full(5, 3)])
    model = LocalSVC(n_neighbors=5, metric="euclidean", gamma=0.001, accelerate=False)
    model.fit(x_fit, y_fit)
    mixed = next(
        i
        for i in range(1, len(x_test))
        if len(set(y_fit[model.index_.kneighbors(x_test[i : i + 1])[1][0]])) > 1
    )
    trained: list[int] = []
    real_svc = local_svm.SVC

    def counting_svc(*args: object, **kwargs: object) -> object:
        trained.append(1)
        return real_svc(*args, **kwargs)

    monkeypatch.setattr(local_svm, "SVC", counting_svc)
    scores = model.decision_function(np.vstack([query, x_test[mixed : mixed + 1]]))
    assert model.n_svm_ == 1 and len(trained) == 1  # the mixed face's only
    assert scores[0, 3] == 1.0 and np.all(np.delete(scores[0], 3) == -1.0)
    assert model.predict(query)[0] == 3 and len(trained) == 1


def test_local_svm_is_at_least_as_accurate_as_knn_on_its_neighbours(
    sample_xy: tuple[np.ndarray, ...],
) -> None:
    x, y, x_test, y_test = sample_xy
    options = BuildOptions(n_jobs=2, accelerate=False)
    local = build_model("local_svm", SMALL, options).fit(x, y)
    scaled_train, scaled_test = local[0].transform(x), local[0].transform(x_test)
    knn = KNeighborsClassifier(SMALL["n_neighbors"], metric="cosine", algorithm="brute")
    knn_accuracy = np.mean(knn.fit(scaled_train, y).predict(scaled_test) == y_test)
    local_accuracy = np.mean(local.predict(x_test) == y_test)
    # The same neighbours, voting (kNN) or training an SVM on them (local learning).
    assert local_accuracy >= knn_accuracy


def test_stages_search_train_evaluate_and_competency(store_workdir: Path) -> None:
    params = make_params(
        store_workdir,
        {
            "evaluate.n_boot": 50,
            "competency.train_rows": 300,
            "competency.feature_sets": ["hog", "hog_landmarks"],
            "models.local_svm.enabled": True,
            "models.local_svm.params": {"n_neighbors": 30},
            "models.local_svm.search.method": "grid",
            "models.local_svm.search.grid": {"n_neighbors": [20, 40]},
            "models.local_svm.search.subsample": 0,
        },
    )
    found = stage_run(search, params, "local_svm")
    assert found["status"] == "ok" and found["trials"]["ok"] == 2
    info = stage_run(train, params, "local_svm")
    assert info["status"] == "ok" and info["params"]["n_neighbors"] in (20, 40)
    metrics = stage_run(evaluate, params, "local_svm")
    assert metrics["status"] == "ok" and 0.2 < metrics["test"]["all"]["accuracy"] < 1
    cells = stage_run(competency, params, "local_svm")["cells"]
    assert [c["status"] for c in cells] == ["ok", "ok"]
