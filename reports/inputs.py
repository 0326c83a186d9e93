"""The report's inputs as typed records, gathered by the report stage from the pipeline's outputs.

Nothing here computes a score: the numbers come from the stages' records as written, so the report
can never disagree with ``dvc metrics show``. Optional inputs (a search that did not run, a model
whose stage has not run yet, the CNN history) are ``None`` and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from features.records import FeatureMetrics
from fer_data.faces import FaceTable
from fer_data.records import AugmentMetrics
from models.records import CnnTrainRecord, ModelMetrics, Scores, SearchRecord, TrainRecord


@dataclass(frozen=True)
class ModelRun:
    name: str
    kind: Literal["classical", "cnn", "ensemble"]
    metrics: ModelMetrics  # metrics/models/<name>.json as written by evaluate (or cnn)
    search: SearchRecord | None  # artifacts/search/<name>/best_params.json
    trials: pd.DataFrame | None  # artifacts/search/<name>/trials.csv: one row per trial
    train: TrainRecord | CnnTrainRecord | None  # artifacts/models/<name>/train.json
    history: pd.DataFrame | None  # CNN only: per-epoch training history
    predictions: np.ndarray | None  # int64 (n_test,), in the order of the test table

    @property
    def ok(self) -> bool:
        return self.metrics.ok

    def scores(self, subset: str = "all") -> Scores | None:
        """The test scores of ``subset`` (all, public, private, or clean: both halves without the
        images copied in train + dev); None when unscored."""
        return None if self.metrics.test is None else getattr(self.metrics.test, subset)

    def score(self, metric: str, subset: str = "all") -> float | None:
        scores = self.scores(subset)
        return None if scores is None else getattr(scores, metric)


@dataclass(frozen=True)
class RunInputs:
    ingest: dict[str, Any]  # metrics/ingest.json
    augment: AugmentMetrics | None  # metrics/augment.json
    features: FeatureMetrics | None  # metrics/features.json
    models: list[ModelRun]
    not_run: list[str]  # models the parameters ask for whose metrics do not exist yet
    competency: pd.DataFrame | None  # results/competency.csv
    competency_sets: list[str]  # competency.feature_sets, in the order to show
    competency_rows: int  # competency.train_rows
    test: FaceTable  # the test images, in the order every per-image prediction follows
