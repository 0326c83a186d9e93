"""Stage ``competency <model>``: one model, untuned, on every feature set.

Fits the model with its built-in, untuned defaults (``DEFAULTS`` in ``models/<model>.py``, not the
values chosen on dev in params.yaml, so the table compares feature sets, not tuning) on a
stratified subsample of ``competency.train_rows`` training rows (scaled to the data:
:mod:`pipeline.scale`) of each feature set in
``competency.feature_sets`` and scores it on test, writing ``results/competency/<model>.json``.
Each cell runs in a child process killed at ``cell_timeout_s`` (and all of a model's cells
within ``model_timeout_s``); a failed or timed-out cell is recorded with its status.
``competency-table`` (:mod:`pipeline.stages.competency_table`) gathers the cells.
"""

from __future__ import annotations

import sys
import time

from features.store import load_rows, load_xy
from fer_data.logs import get_logger, log_wrote, stage
from fer_data.records import DataSource
from models import tasks
from models.metrics import score_predictions
from models.names import MODEL_NAMES
from models.records import CompetencyCell, CompetencyRecord
from models.registry import get_spec
from models.sampling import stratified_subsample
from models.spec import BuildOptions
from models.worker import BudgetWorker
from pipeline import paths
from pipeline.model_checks import MODEL_HELP, check_model
from pipeline.params import Params
from pipeline.runner import run_stage
from pipeline.scale import LEAST_ROWS, data_scale


def _cell(
    params: Params,
    model: str,
    feature_set: str,
    worker: BudgetWorker,
    timeout: float,
    classes: list[str],
    train_rows: int,
) -> CompetencyCell:
    cfg = params.models[model]
    x, y, _ = load_xy(paths.FEATURES_DIR, "train", feature_set)
    keep = stratified_subsample(y, train_rows, params.seed)
    x_test, y_test, rows = load_xy(paths.FEATURES_DIR, "test", feature_set)
    options = BuildOptions(
        feature_set, cfg.accelerate, params.compute.n_jobs, params.seed, len(classes)
    )
    kwargs = {
        "model": model,
        "params": dict(get_spec(model).defaults),
        "options": options,
        "x": x[keep],
        "y": y[keep],
        "x_test": x_test,
    }
    outcome = worker.run(tasks.fit_predict, kwargs, timeout=timeout)
    cell = CompetencyCell(
        feature_set=feature_set, status=outcome.report_status, train_rows=len(keep)
    )
    if outcome.status != "ok":
        get_logger().error(
            "!!! competency %s on %s: %s: %s", model, feature_set, cell.status, outcome.error
        )
        cell.error = outcome.error
        return cell
    usage = rows["usage"].to_numpy(str)
    scores = score_predictions(y_test, outcome.value["predictions"], usage, 0, classes=classes)
    cell.accuracy = scores.all.accuracy
    cell.public_accuracy = scores.public.accuracy if scores.public else None
    cell.private_accuracy = scores.private.accuracy if scores.private else None
    cell.balanced_accuracy = scores.all.balanced_accuracy
    cell.macro_f1 = scores.all.macro_f1
    cell.fit_seconds = round(outcome.value["fit_seconds"], 3)
    cell.predict_seconds = round(outcome.value["predict_seconds"], 3)
    return cell


def run(params: Params, model: str) -> CompetencyRecord:
    cfg, budget = params.models[model], params.competency
    scale = data_scale(params.scale, len(load_rows(paths.FEATURES_DIR, "train")))
    train_rows = scale.count("competency.train_rows", budget.train_rows, least=LEAST_ROWS)
    get_logger().info("competency %s: %s", model, scale.describe())
    record = CompetencyRecord(
        data=DataSource.read(paths.SOURCE_FILE),
        model=model,
        params=dict(get_spec(model).defaults),
        train_rows=train_rows,
        cells=[],
        scale=scale.record(),
    )
    if not cfg.enabled:
        record.cells = [
            CompetencyCell(feature_set=fs, status="disabled") for fs in budget.feature_sets
        ]
    else:
        deadline = time.monotonic() + budget.model_timeout_s
        with BudgetWorker() as worker:
            for feature_set in budget.feature_sets:
                timeout = min(budget.cell_timeout_s, deadline - time.monotonic())
                if timeout < 1.0:
                    cell = CompetencyCell(
                        feature_set=feature_set,
                        status="budget_exceeded",
                        error=f"the model's {budget.model_timeout_s:.0f} s were spent",
                    )
                    get_logger().error(
                        "!!! competency %s on %s: %s", model, feature_set, cell.error
                    )
                else:
                    cell = _cell(
                        params, model, feature_set, worker, timeout, record.data.classes, train_rows
                    )
                get_logger().info(
                    "competency %s on %s: %s %s", model, feature_set, cell.status, cell.accuracy
                )
                record.cells.append(cell)
    log_wrote(record.write(paths.competency(model)))
    return record


def main(params: Params, model: str) -> None:
    with stage(f"competency {model}"):
        run(params, model)


def cli(argv: list[str] | None = None) -> int:
    return run_stage("competency", main, argv, MODEL_HELP, MODEL_NAMES, check_model)


if __name__ == "__main__":
    sys.exit(cli())
