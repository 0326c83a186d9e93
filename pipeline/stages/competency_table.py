"""Stage ``competency-table``: every model's competency cells as one long table.

Reads ``results/competency/<model>.json`` of every model of the zoo; writes
``results/competency.csv`` (one row per model and feature set) for the report and ``dvc plots``.
"""

from __future__ import annotations

import sys

import pandas as pd

from fer_data.atomic import atomic_path
from fer_data.logs import log_wrote, stage
from models.names import MODEL_NAMES
from models.records import CompetencyRecord
from pipeline import paths
from pipeline.params import Params
from pipeline.runner import run_stage

TABLE_COLUMNS = [
    "model",
    "feature_set",
    "status",
    "accuracy",
    "public_accuracy",
    "private_accuracy",
    "balanced_accuracy",
    "macro_f1",
    "train_rows",
    "fit_seconds",
    "predict_seconds",
]


def table(models: tuple[str, ...] = MODEL_NAMES) -> pd.DataFrame:
    """Every model's cells as one long table (model, feature_set, scores...)."""
    records = []
    for model in models:
        found = CompetencyRecord.read(paths.competency(model))
        records += [{"model": model, **cell.to_json()} for cell in found.cells]
    return pd.DataFrame.from_records(records).reindex(columns=TABLE_COLUMNS)


def main(params: Params) -> None:
    with stage("competency-table"):
        frame = table()
        with atomic_path(paths.COMPETENCY_TABLE) as tmp:
            frame.to_csv(tmp, index=False)
        log_wrote(paths.COMPETENCY_TABLE, f"{len(frame)} cells")


def cli(argv: list[str] | None = None) -> int:
    return run_stage("competency-table", main, argv)


if __name__ == "__main__":
    sys.exit(cli())
