"""Stage ``train <model>``: fit the searched (or configured) parameters and save the model.

Reads ``artifacts/search/<model>/best_params.json`` and the training features (train, plus the
model's augmentation, plus dev when ``train.refit_on_dev``); writes ``artifacts/models/<model>/``:
``model.joblib`` and ``train.json`` (status, parameters, fit seconds, model bytes). The fit runs in
a child process killed at ``fit_timeout_s``; a fit that fails or runs out of time is recorded in
``train.json`` and the stage still succeeds, so one model never takes the others down.
"""

from __future__ import annotations

import sys

from fer_data.logs import get_logger, log_read, log_wrote, stage
from models import tasks
from models.data import training_data
from models.names import MODEL_NAMES
from models.records import SearchRecord, TrainRecord
from models.spec import BuildOptions
from models.worker import BudgetWorker
from pipeline import paths
from pipeline.model_checks import MODEL_HELP, check_model
from pipeline.params import Params
from pipeline.runner import run_stage


def chosen_params(model: str) -> tuple[dict, str]:
    """The parameters to fit and where they come from (search result or configuration)."""
    path = paths.best_params(model)
    found = SearchRecord.read(path)
    log_read(path, f"search status {found.status}")
    return found.params, "search" if found.status == "ok" else "configured"


def run(params: Params, model: str) -> TrainRecord:
    log = get_logger()
    cfg = params.models[model]
    paths.model_dir(model).mkdir(parents=True, exist_ok=True)
    fitted, source = chosen_params(model)
    record = TrainRecord(
        model=model,
        feature_set=cfg.feature_set,
        augmentation=cfg.augmentation,
        params=fitted,
        params_from=source,
        refit_on_dev=params.train.refit_on_dev,
        fit_seconds=None,
        model_bytes=None,
        status="disabled",
    )
    if cfg.enabled:
        x, y, _ = training_data(
            paths.FEATURES_DIR, cfg.feature_set, cfg.augmentation, params.train.refit_on_dev
        )
        log_read(paths.FEATURES_DIR, f"{len(y)} training rows of {cfg.feature_set}")
        options = BuildOptions(cfg.feature_set, cfg.accelerate, params.compute.n_jobs, params.seed)
        path = paths.model_file(model)
        with BudgetWorker({"x": x, "y": y}) as worker:
            outcome = worker.run(
                tasks.fit_and_save,
                {"model": model, "params": fitted, "options": options, "path": str(path)},
                timeout=cfg.fit_timeout_s,
            )
        record.train_rows = len(y)
        record.status = outcome.report_status
        if outcome.status == "ok":
            record.fit_seconds = round(outcome.value["fit_seconds"], 3)
            record.model_bytes = outcome.value["model_bytes"]
            log_wrote(path, f"fit in {record.fit_seconds:.1f} s")
        else:
            record.error = outcome.error
            log.error(
                "!!! train %s: %s after %.0f s: %s",
                model,
                record.status,
                outcome.seconds,
                outcome.error,
            )
    log_wrote(record.write(paths.train_record(model)))
    return record


def main(params: Params, model: str) -> None:
    with stage(f"train {model}"):
        run(params, model)


def cli(argv: list[str] | None = None) -> int:
    return run_stage("train", main, argv, MODEL_HELP, MODEL_NAMES, check_model)


if __name__ == "__main__":
    sys.exit(cli())
