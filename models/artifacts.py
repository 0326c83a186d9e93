"""Where the model zoo's stages write, per model (all under the generated folders of the layout)."""

from __future__ import annotations

from pathlib import Path

from pipeline import layout

BEST_PARAMS = "best_params.json"
TRIALS = "trials.csv"
MODEL_FILE = "model.joblib"
TRAIN_INFO = "train.json"


def search_dir(model: str) -> Path:
    return layout.SEARCH_DIR / model


def model_dir(model: str) -> Path:
    return layout.MODELS_DIR / model


def metrics_path(model: str) -> Path:
    return layout.METRICS_DIR / "models" / f"{model}.json"


def confusion_path(model: str) -> Path:
    return layout.RESULTS_DIR / "plots" / "confusion" / f"{model}.csv"


def competency_path(model: str) -> Path:
    return layout.RESULTS_DIR / "competency" / f"{model}.json"


COMPETENCY_TABLE = layout.RESULTS_DIR / "competency.csv"
