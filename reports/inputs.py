"""Everything the report reads, gathered from the pipeline's outputs into plain records.

Nothing here computes a score: the numbers come from the stages' metrics files as written, so
the report can never disagree with ``dvc metrics show``. Optional inputs (a search that did not
run, a model whose stage has not run yet, the CNN history) load as ``None`` and the report says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models import artifacts
from models.cnn.names import model_name
from models.zoo import MODEL_NAMES
from pipeline import layout
from pipeline.faces import FaceTable, read_faces
from pipeline.params import Params
from reports.predictions import read_predictions

TEST_FACES = layout.INGESTED_DIR / "test.feather"
STAGE_METRICS = ("ingest", "augment", "features")


def history_path(arch: str) -> Path:
    # Written by pipeline/cnn.py; importing that module would import torch just for a path.
    return layout.RESULTS_DIR / "plots" / "cnn" / f"{arch}_history.csv"


@dataclass(frozen=True)
class ModelRun:
    name: str
    kind: str  # "classical" or "cnn"
    metrics: dict[str, Any]  # metrics/models/<name>.json as written by evaluate (or cnn)
    search: dict[str, Any] | None  # artifacts/search/<name>/best_params.json
    trials: pd.DataFrame | None  # artifacts/search/<name>/trials.csv: one row per trial
    train: dict[str, Any] | None  # artifacts/models/<name>/train.json
    history: pd.DataFrame | None  # CNN only: per-epoch training history
    predictions: np.ndarray | None  # per test image, in the order of the test table

    @property
    def ok(self) -> bool:
        return self.metrics.get("status") == "ok" and self.metrics.get("test") is not None

    def score(self, metric: str, subset: str = "all") -> float | None:
        scores = (self.metrics.get("test") or {}).get(subset)
        return None if scores is None else scores[metric]


@dataclass(frozen=True)
class RunInputs:
    stages: dict[str, dict[str, Any] | None]  # ingest, augment, features metrics
    models: list[ModelRun]
    not_run: list[str]  # models the parameters ask for whose metrics do not exist yet
    competency: pd.DataFrame | None  # results/competency.csv
    test: FaceTable  # the test images, in the order every per-image prediction follows


def _json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def _csv(path: Path) -> pd.DataFrame | None:
    if not path.exists() or path.stat().st_size == 0:  # search writes an empty file when skipped
        return None
    return pd.read_csv(path)


def expected_models(params: Params) -> list[tuple[str, str, str | None]]:
    """(name, kind, CNN architecture) of every model the parameters ask for, in report order."""
    classical = [(name, "classical", None) for name in MODEL_NAMES]
    return classical + [(model_name(arch), "cnn", arch) for arch in params.cnn.archs]


def load_model(name: str, kind: str, arch: str | None, test: FaceTable) -> ModelRun | None:
    metrics = _json(artifacts.metrics_path(name))
    if metrics is None:
        return None
    return ModelRun(
        name=name,
        kind=kind,
        metrics=metrics,
        search=_json(artifacts.search_dir(name) / artifacts.BEST_PARAMS),
        trials=_csv(artifacts.search_dir(name) / artifacts.TRIALS),
        train=_json(artifacts.model_dir(name) / artifacts.TRAIN_INFO),
        history=_csv(history_path(arch)) if arch else None,
        predictions=read_predictions(artifacts.confusion_path(name), test.emotion, test.row_id),
    )


def load(params: Params) -> RunInputs:
    test = read_faces(TEST_FACES)
    models, not_run = [], []
    for name, kind, arch in expected_models(params):
        run = load_model(name, kind, arch, test)
        if run is None:
            not_run.append(name)
        else:
            models.append(run)
    return RunInputs(
        stages={name: _json(layout.METRICS_DIR / f"{name}.json") for name in STAGE_METRICS},
        models=models,
        not_run=not_run,
        competency=_csv(artifacts.COMPETENCY_TABLE),
        test=test,
    )
