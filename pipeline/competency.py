"""Stages ``competency <model>`` and ``competency-table``: the feature-competency table.

``competency <model>`` fits the model with its built-in, untuned defaults (``DEFAULTS`` in its
module, not the values chosen on dev in params.yaml, so the table compares feature sets, not
tuning) on a stratified subsample of ``competency.train_rows`` training rows of each feature set in
``competency.feature_sets`` and scores it on test, writing ``results/competency/<model>.json``.
Each cell runs in a child process killed at ``cell_timeout_s`` (and all of a model's cells
within ``model_timeout_s``); a failed or timed-out cell is recorded with its status.
``competency-table`` gathers every model's cells into ``results/competency.csv`` (one row per
model and feature set) for the report.
"""

from __future__ import annotations

import json
import time

import pandas as pd

from features.store import load_xy
from models import artifacts, tasks
from models.metrics import score_predictions
from models.sampling import stratified_subsample
from models.spec import BuildOptions
from models.worker import BudgetWorker
from models.zoo import MODEL_NAMES, get_spec
from pipeline import layout
from pipeline.atomic import atomic_path, write_json
from pipeline.params import Params
from pipeline.stage_log import get_logger, log_wrote, stage

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


def _cell(
    params: Params, model: str, feature_set: str, worker: BudgetWorker, timeout: float
) -> dict:
    cfg = params.models[model]
    x, y, _ = load_xy(layout.FEATURES_DIR, "train", feature_set)
    keep = stratified_subsample(y, params.competency.train_rows, params.seed)
    x_test, y_test, rows = load_xy(layout.FEATURES_DIR, "test", feature_set)
    options = BuildOptions(feature_set, cfg.accelerate, params.compute.n_jobs, params.seed)
    kwargs = {
        "model": model,
        "params": dict(get_spec(model).defaults),
        "options": options,
        "x": x[keep],
        "y": y[keep],
        "x_test": x_test,
    }
    outcome = worker.run(tasks.fit_predict, kwargs, timeout=timeout)
    cell: dict = {
        "feature_set": feature_set,
        "status": outcome.report_status,
        "train_rows": len(keep),
    }
    if outcome.status != "ok":
        get_logger().error(
            "!!! competency %s on %s: %s: %s", model, feature_set, cell["status"], outcome.error
        )
        return cell | {"error": outcome.error}
    scores = score_predictions(y_test, outcome.value["predictions"], rows["usage"].to_numpy(str), 0)
    return cell | {
        "accuracy": scores["all"]["accuracy"],
        "public_accuracy": (scores["public"] or {}).get("accuracy"),
        "private_accuracy": (scores["private"] or {}).get("accuracy"),
        "balanced_accuracy": scores["all"]["balanced_accuracy"],
        "macro_f1": scores["all"]["macro_f1"],
        "fit_seconds": round(outcome.value["fit_seconds"], 3),
        "predict_seconds": round(outcome.value["predict_seconds"], 3),
    }


def run(params: Params, model: str) -> dict:
    cfg = params.models[model]
    result: dict = {
        "data": layout.data_source(),
        "model": model,
        "params": dict(get_spec(model).defaults),
        "train_rows": params.competency.train_rows,
        "cells": [],
    }
    if not cfg.enabled:
        result["cells"] = [
            {"feature_set": fs, "status": "disabled"} for fs in params.competency.feature_sets
        ]
    else:
        deadline = time.monotonic() + params.competency.model_timeout_s
        with BudgetWorker() as worker:
            for feature_set in params.competency.feature_sets:
                timeout = min(params.competency.cell_timeout_s, deadline - time.monotonic())
                if timeout < 1.0:
                    cell = {"feature_set": feature_set, "status": "budget_exceeded"}
                    cell["error"] = (
                        f"the model's {params.competency.model_timeout_s:.0f} s were spent"
                    )
                    get_logger().error(
                        "!!! competency %s on %s: %s", model, feature_set, cell["error"]
                    )
                else:
                    cell = _cell(params, model, feature_set, worker, timeout)
                get_logger().info(
                    "competency %s on %s: %s %s",
                    model,
                    feature_set,
                    cell["status"],
                    cell.get("accuracy"),
                )
                result["cells"].append(cell)
    log_wrote(write_json(artifacts.competency_path(model), result))
    return result


def table(models: tuple[str, ...] = MODEL_NAMES) -> pd.DataFrame:
    """Every model's cells as one long table (model, feature_set, scores...)."""
    records = []
    for model in models:
        found = json.loads(artifacts.competency_path(model).read_text())
        records += [{"model": model, **cell} for cell in found["cells"]]
    return pd.DataFrame.from_records(records).reindex(columns=TABLE_COLUMNS)


def main(params: Params, model: str) -> None:
    with stage(f"competency {model}"):
        run(params, model)


def main_table(params: Params) -> None:
    with stage("competency-table"):
        frame = table()
        with atomic_path(artifacts.COMPETENCY_TABLE) as tmp:
            frame.to_csv(tmp, index=False)
        log_wrote(artifacts.COMPETENCY_TABLE, f"{len(frame)} cells")
