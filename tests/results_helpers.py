"""A finished run's records, written as the pipeline writes them, for the commands that read them
(``ferbench summary``, ``ferbench compare``): real models' test predictions on the FER2013
sample, scored by the pipeline's own scoring code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier

from features.hog import hog_features
from fer_data.records import DataSource
from fer_data.synthetic import SYNTHETIC_NOTICE
from models.metrics import score_predictions
from models.records import ModelMetrics
from pipeline import paths
from reports.predictions import write_predictions
from tests.stage_helpers import merged_raw


def sample_predictions(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(test labels, test usage, model -> test predictions) of small real models fitted on the
    sample's Training rows: HOG + 1-NN, HOG + Gaussian naive Bayes at two smoothings, and the
    majority class."""
    images = np.stack(
        [np.asarray(s.split(), dtype=np.uint8).reshape(48, 48) for s in frame["pixels"]]
    )
    x, y = hog_features(images), frame["emotion"].to_numpy(np.int64)
    train = (frame["Usage"] == "Training").to_numpy()
    usage = frame["Usage"].to_numpy(str)[~train]
    fitted = {
        "knn": KNeighborsClassifier(n_neighbors=1),
        "gnb": GaussianNB(var_smoothing=1e-9),
        "gnb_smoothed": GaussianNB(var_smoothing=1e-8),
    }
    predictions = {
        name: model.fit(x[train], y[train]).predict(x[~train]).astype(np.int64)
        for name, model in fitted.items()
    }
    majority = np.bincount(y[train]).argmax()
    predictions["majority"] = np.full((~train).sum(), majority, np.int64)
    return y[~train], usage, predictions


def write_run(
    root: Path,
    y_true: np.ndarray,
    usage: np.ndarray,
    predictions: dict[str, np.ndarray],
    params: dict[str, Any] | None = None,
    synthetic: bool = False,
    test_md5: str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
) -> None:
    """Write under ``root`` what a run leaves: params.yaml (the repository's, ``params`` merged),
    ``metrics/leaderboard.json``, each model's metrics and per-image predictions,
    ``data/ingested/source.json`` and a ``dvc.lock`` naming the test table's hash."""
    (root / paths.PARAMS_FILE).write_text(yaml.safe_dump(merged_raw(params)))
    source = DataSource(
        source="synthetic" if synthetic else "csv",
        synthetic=synthetic,
        path=None if synthetic else "data/raw/fer2013.csv",
        notice=SYNTHETIC_NOTICE if synthetic else "",
        found_by="nothing found" if synthetic else "search of data/raw",
    )
    (root / paths.SOURCE_FILE).parent.mkdir(parents=True, exist_ok=True)
    source.write(root / paths.SOURCE_FILE)
    board = {}
    for model, y_pred in predictions.items():
        scores = score_predictions(y_true, y_pred, usage, n_boot=100, seed=1)
        ModelMetrics(
            data=source,
            model=model,
            feature_set="hog",
            augmentation="none",
            params={},
            fit_seconds=1.0,
            model_bytes=1000,
            predict_ms_per_image=0.1,
            test=scores,
            status="ok",
        ).write(root / paths.metrics(model))
        (root / paths.confusion(model)).parent.mkdir(parents=True, exist_ok=True)
        write_predictions(root / paths.confusion(model), y_true, y_pred)
        board[model] = {"accuracy": scores.all.accuracy, "macro_f1": scores.all.macro_f1}
    (root / paths.LEADERBOARD_FILE).write_text(json.dumps(board))
    lock = {
        "schema": "2.0",
        "stages": {
            "report": {
                "cmd": "python -m pipeline.stages.report",
                "deps": [{"path": paths.ingested("test").as_posix(), "md5": test_md5}],
            }
        },
    }
    (root / paths.DVC_LOCK).write_text(yaml.safe_dump(lock))
