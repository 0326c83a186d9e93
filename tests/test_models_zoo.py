"""Every model of the zoo trains on the real sample, predicts, beats the majority class on dev."""

from __future__ import annotations

import pickle
from pathlib import Path

import joblib
import numpy as np
import pytest

from features.store import load_training_xy, load_xy
from models.registry import MODEL_NAMES, build_model, get_spec
from models.scaling import LANDMARK_DIM, BlockScaler
from models.spec import BuildOptions, Pruned
from tests.models_helpers import session_store

SPECS = {name: get_spec(name) for name in MODEL_NAMES}

# Smaller than the defaults: the point is that each model works, quickly. One thread: tests run
# in-process, where OpenMP's busy waiting would fight the rest of the suite for 2 cores.
FAST = {
    "rf": {"n_estimators": 60},
    "adaboost": {"n_estimators": 30},
    "lightgbm": {
        "n_estimators": 30,
        "learning_rate": 0.2,
        "max_bin": 15,
        "num_leaves": 7,
        "colsample_bytree": 0.3,
    },
    "xgboost": {
        "n_estimators": 30,
        "learning_rate": 0.3,
        "max_bin": 16,
        "max_depth": 3,
        "colsample_bytree": 0.3,
    },
    "mlp": {"width": 128, "max_iter": 60},
}
OPTIONS = BuildOptions("hog_landmarks", n_jobs=1)


@pytest.fixture(scope="module")
def store(fer2013_frame, tmp_path_factory) -> Path:
    return session_store(fer2013_frame, tmp_path_factory)


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_every_model_trains_predicts_and_beats_the_majority_class(
    store: Path, model: str, tmp_path: Path
) -> None:
    x, y, _ = load_training_xy(store, "hog_landmarks", "balanced")
    x_dev, y_dev, _ = load_xy(store, "dev", "hog_landmarks")
    pipeline = build_model(model, FAST.get(model, {}), OPTIONS)
    pipeline.fit(x, y)
    predicted = pipeline.predict(x_dev)
    majority = np.bincount(y_dev).max() / len(y_dev)
    accuracy = np.mean(predicted == y_dev)
    assert accuracy > majority + 0.03, (
        f"{model}: dev accuracy {accuracy:.3f}, majority {majority:.3f}"
    )
    # The saved pipeline predicts the same (scaling included).
    joblib.dump(pipeline, tmp_path / "model.joblib")
    assert np.array_equal(joblib.load(tmp_path / "model.joblib").predict(x_dev), predicted)


@pytest.mark.parametrize("model", ["svm", "knn"])
def test_accelerated_and_stock_estimators_agree(store: Path, model: str) -> None:
    x, y, _ = load_xy(store, "train", "hog_landmarks")
    x_dev, _, _ = load_xy(store, "dev", "hog_landmarks")
    fast = build_model(model, {}, BuildOptions(accelerate=True, n_jobs=1)).fit(x, y).predict(x_dev)
    stock = (
        build_model(model, {}, BuildOptions(accelerate=False, n_jobs=1)).fit(x, y).predict(x_dev)
    )
    assert np.mean(fast == stock) > 0.97
    assert type(build_model(model, {}, BuildOptions(accelerate=True))[-1]).__module__.startswith(
        "sklearnex"
    )


def test_block_scaler_standardises_appearance_and_weights_raw_landmarks(store: Path) -> None:
    x, _, _ = load_xy(store, "train", "hog_landmarks")
    scaled = BlockScaler("hog_landmarks", landmark_weight=2.0).fit(x).transform(x)
    hog, landmarks = scaled[:, :-LANDMARK_DIM], scaled[:, -LANDMARK_DIM:]
    varying = x[:, :-LANDMARK_DIM].std(axis=0) > 0
    assert np.allclose(hog.mean(axis=0), 0, atol=1e-4)
    assert np.allclose(hog.std(axis=0)[varying], 1, atol=1e-3)
    raw = x[:, -LANDMARK_DIM:]
    assert np.allclose(landmarks, 2.0 * (raw - raw.mean(axis=0)), atol=1e-4)
    # A power < 1 compresses the appearance block only, before standardising it.
    rooted = BlockScaler("hog_landmarks", 1.0, appearance_power=0.5).fit(x)
    expected = np.sqrt(x[:, :-LANDMARK_DIM])
    assert np.allclose(rooted.mean_[:-LANDMARK_DIM], expected.mean(axis=0), atol=1e-4)
    assert np.allclose(rooted.transform(x)[:, -LANDMARK_DIM:], raw - raw.mean(axis=0), atol=1e-4)
    # Only the appearance block for feature sets without landmarks.
    hog_only = x[:, :-LANDMARK_DIM]
    assert np.allclose(
        BlockScaler("hog").fit(hog_only).transform(hog_only).std(axis=0)[varying], 1, atol=1e-3
    )


class _StopAt:
    """A reporter that records every report and prunes at the ``stop``-th one."""

    def __init__(self, stop: int) -> None:
        self.stop, self.steps = stop, []

    def report(self, step: int, value: float) -> None:
        assert 0.0 <= value <= 1.0
        self.steps.append(step)
        if len(self.steps) == self.stop:
            raise Pruned(f"step {step}")


@pytest.mark.parametrize("model", [name for name in MODEL_NAMES if SPECS[name].fit_iterative])
def test_iterative_models_report_each_step_and_stop_when_pruned(store: Path, model: str) -> None:
    x, y, _ = load_xy(store, "train", "hog_landmarks")
    x_dev, y_dev, _ = load_xy(store, "dev", "hog_landmarks")
    pipeline = build_model(model, FAST[model], OPTIONS)
    reporter = _StopAt(stop=3)
    with pytest.raises(Pruned):
        get_spec(model).fit_iterative(pipeline, x, y, x_dev, y_dev, reporter)
    assert len(reporter.steps) == 3 and reporter.steps == sorted(reporter.steps)
    # Without pruning the fit completes, and the fitted model pickles without its reporter.
    get_spec(model).fit_iterative(pipeline, x, y, x_dev, y_dev, _StopAt(stop=-1))
    assert pickle.loads(pickle.dumps(pipeline)) is not None
    assert np.mean(pipeline.predict(x_dev) == y_dev) > 0.2


def test_distance_weighted_knn_is_right_on_exact_duplicates(store: Path) -> None:
    # FER2013 repeats images across splits; a query equal to a training row must get its label.
    x, y, _ = load_xy(store, "train", "hog_landmarks")
    params = {"n_neighbors": 5, "weights": "distance"}
    knn = build_model("knn", params, BuildOptions(accelerate=True, n_jobs=1)).fit(x, y)
    assert np.mean(knn.predict(x[:200]) == y[:200]) == 1.0
