"""Stage ``competency``: every model of the zoo, untuned, on every feature set.

Fits each model with its built-in, untuned defaults (``DEFAULTS`` in ``models/<model>.py``, not
the values chosen on dev in params.yaml, so the table compares feature sets, not tuning) on a
stratified subsample of ``competency.train_rows`` training rows (these rows and the defaults'
boosting rounds scaled to the data: :mod:`pipeline.scale`) of each feature set in
``competency.feature_sets``, scores it on test, and writes ``results/competency/<model>.json``
per model and every cell as one long table, ``results/competency.csv``, for the report and
``dvc plots``. Each cell runs in a child process killed at ``cell_timeout_s`` (and all of a
model's cells within ``model_timeout_s``); a failed or timed-out cell is recorded with its status.

One stage for the whole zoo rather than one per model: the table reads only each model's
``enabled`` and ``accelerate``, never its tuned values, so tuning reruns none of it; and one
stage with one fit process spares each model a DVC stage's start (lock file, imports, fit
process: about 10 s, more than most models' cells take on the demo set). The cost: editing one
model's module reruns every model's cells (about 5 min on FER2013).
"""

from __future__ import annotations

import contextlib
import sys
import time

import pandas as pd

from features.store import load_rows, load_xy
from fer_data.atomic import atomic_path
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
from pipeline.model_checks import start_fit_process
from pipeline.params import Params
from pipeline.runner import run_stage
from pipeline.scale import LEAST_ROUNDS, LEAST_ROWS, data_scale

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
    params: Params,
    model: str,
    feature_set: str,
    worker: BudgetWorker,
    timeout: float,
    classes: list[str],
    train_rows: int,
    defaults: dict[str, object],
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
        "params": defaults,
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


def run(params: Params, model: str, worker: BudgetWorker | None = None) -> CompetencyRecord:
    """Score ``model`` untuned on every feature set; write and return its record.

    ``worker``: the fit process to run the cells in (one is started and closed when None).
    """
    cfg, budget = params.models[model], params.competency
    scale = data_scale(params.scale, len(load_rows(paths.FEATURES_DIR, "train")))
    train_rows = scale.count("competency.train_rows", budget.train_rows, least=LEAST_ROWS)
    spec = get_spec(model)
    defaults = dict(spec.defaults)
    if spec.rounds:  # boosting rounds shrink with the data, as in search and train
        key = f"models/{model}.py DEFAULTS[{spec.rounds!r}]"
        defaults[spec.rounds] = scale.count(key, defaults[spec.rounds], least=LEAST_ROUNDS)
    get_logger().info("competency %s: %s", model, scale.describe())
    record = CompetencyRecord(
        data=DataSource.read(paths.SOURCE_FILE),
        model=model,
        params=defaults,
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
        with contextlib.ExitStack() as own:
            if worker is None:
                worker = own.enter_context(BudgetWorker())
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
                        params,
                        model,
                        feature_set,
                        worker,
                        timeout,
                        record.data.classes,
                        train_rows,
                        defaults,
                    )
                get_logger().info(
                    "competency %s on %s: %s %s", model, feature_set, cell.status, cell.accuracy
                )
                record.cells.append(cell)
    log_wrote(record.write(paths.competency(model)))
    return record


def table(models: tuple[str, ...] = MODEL_NAMES) -> pd.DataFrame:
    """Every model's cells as one long table (model, feature_set, scores...)."""
    records = []
    for model in models:
        found = CompetencyRecord.read(paths.competency(model))
        records += [{"model": model, **cell.to_json()} for cell in found.cells]
    return pd.DataFrame.from_records(records).reindex(columns=TABLE_COLUMNS)


def write_table(models: tuple[str, ...] = MODEL_NAMES) -> pd.DataFrame:
    """:func:`table` written to ``results/competency.csv``; the table."""
    frame = table(models)
    with atomic_path(paths.COMPETENCY_TABLE) as tmp:
        frame.to_csv(tmp, index=False)
    log_wrote(paths.COMPETENCY_TABLE, f"{len(frame)} cells")
    return frame


def main(params: Params) -> None:
    with stage("competency"), BudgetWorker() as worker:  # one fit process for the whole zoo
        for model in MODEL_NAMES:
            run(params, model, worker)
        write_table()


def cli(argv: list[str] | None = None) -> int:
    return run_stage("competency", main, argv, prepare=start_fit_process)


if __name__ == "__main__":
    sys.exit(cli())
