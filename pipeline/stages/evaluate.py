"""Stage ``evaluate <model>``: score the trained model on test (PublicTest, PrivateTest, both).

Reads ``artifacts/models/<model>/``, the test features and the external test sets
(``data/external/``: scored into the metrics' ``external``); writes ``metrics/models/<model>.json``
(the format of :func:`models.metrics.score_predictions`, plus timings and the data source, so
numbers from the synthetic demo set say so; ``test.clean``: the test images without a copy in
train + dev, from ``data/duplicates/``), ``results/plots/confusion/<model>.csv`` (one
``actual,predicted`` row per test image, for ``dvc plots``) and
``artifacts/scores/<model>/test.npz`` (the per-class test scores the stacking ensemble applies its
meta-learner to, from the fit its dev scores come from: with ``train.refit_on_dev`` the
dev-scored fit ``dev_scored.joblib``, not the refit; only for a model scored ok). A model whose
training failed, or whose prediction fails or outlasts ``evaluate.timeout_s``, gets a metrics file
with that status; the stage still succeeds.
"""

from __future__ import annotations

import sys

import numpy as np

from features.store import load_xy
from fer_data.duplicates import clean_mask
from fer_data.logs import get_logger, log_read, log_wrote, stage
from fer_data.records import DataSource
from models.member_scores import ClassScores, load_predict_and_score, save_scores
from models.metrics import score_predictions
from models.names import MODEL_NAMES
from models.records import ModelMetrics, TrainRecord
from models.worker import BudgetWorker
from pipeline import paths
from pipeline.external_classical import classical_external
from pipeline.kfold_classical import kfold_scores
from pipeline.model_checks import MODEL_HELP, check_model, start_fit_process
from pipeline.params import Params
from pipeline.runner import run_stage
from reports.predictions import write_predictions


def write_confusion(
    model: str, y_true: np.ndarray, y_pred: np.ndarray, classes: list[str] | None = None
) -> None:
    """The per-image test predictions that ``dvc plots`` and the report read."""
    log_wrote(
        write_predictions(paths.confusion(model), y_true, y_pred, classes),
        f"{len(y_true)} predictions",
    )


def run(params: Params, model: str) -> ModelMetrics:
    log = get_logger()
    info = TrainRecord.read(paths.train_record(model))
    data = DataSource.read(paths.SOURCE_FILE)  # with the label space: classes, label_source
    metrics = ModelMetrics(
        data=data,
        model=model,
        feature_set=info.feature_set,
        augmentation=info.augmentation,
        params=info.params,
        fit_seconds=info.fit_seconds,
        model_bytes=info.model_bytes,
        predict_ms_per_image=None,
        test=None,
        status=info.status,
    )
    y_true = y_pred = np.zeros(0, np.int64)
    paths.scores_dir(model).mkdir(parents=True, exist_ok=True)
    paths.test_scores(model).unlink(missing_ok=True)  # none but this run's
    if info.status != "ok":
        metrics.error = info.error or f"not trained ({info.status})"
    else:
        x, y_true, rows = load_xy(paths.FEATURES_DIR, "test", info.feature_set)
        log_read(paths.FEATURES_DIR / "test", f"{len(y_true)} rows of {info.feature_set}")
        # In the fit process too: same thread settings as training, and a hung predict is bounded.
        task = {"path": str(paths.model_file(model)), "x": x, "n_classes": len(data.classes)}
        if info.refit_on_dev:  # the ensemble's test scores: the fit its dev scores come from
            task["scores_path"] = str(paths.dev_scored_model(model))
        with BudgetWorker() as worker:
            outcome = worker.run(load_predict_and_score, task, timeout=params.evaluate.timeout_s)
        if outcome.status == "ok":
            y_pred = outcome.value["predictions"]
            seconds = outcome.value["predict_seconds"]
            metrics.predict_ms_per_image = round(1000 * seconds / max(len(x), 1), 4)
            metrics.test = score_predictions(
                y_true,
                y_pred,
                rows["usage"].to_numpy(str),
                params.evaluate.n_boot,
                params.seed,
                classes=data.classes,
                clean=clean_mask(paths.DUPLICATES_TABLE, rows["row_id"].to_numpy()),
            )
            scores = ClassScores(
                outcome.value["scores"],
                rows["row_id"].to_numpy(np.int64),
                y_true,
                outcome.value["score_kind"],
                info.dev.fitted_on if info.dev is not None else "train",
            )
            log_wrote(save_scores(paths.test_scores(model), scores), "per-class test scores")
            external = classical_external(
                model, params.evaluate.timeout_s, params.evaluate.n_boot, params.seed
            )
            if external:
                metrics.external = external
        else:
            metrics.status = outcome.report_status
            metrics.error = outcome.error
            y_true = y_pred = np.zeros(0, np.int64)
    if (kfold := kfold_scores(params, model, info)) is not None:  # evaluate.protocol: kfold
        metrics.kfold = kfold
    if metrics.status != "ok":
        log.error("!!! evaluate %s: %s: %s", model, metrics.status, metrics.error)
    write_confusion(model, y_true, y_pred, data.classes)
    log_wrote(metrics.write(paths.metrics(model)))
    return metrics


def main(params: Params, model: str) -> None:
    with stage(f"evaluate {model}") as log:
        metrics = run(params, model)
        if metrics.ok:
            scores = metrics.test.all
            log.info(
                "evaluate %s: test accuracy %.4f (95%% CI %s), macro-F1 %.4f",
                model,
                scores.accuracy,
                scores.accuracy_ci95,
                scores.macro_f1,
            )


def cli(argv: list[str] | None = None) -> int:
    return run_stage(
        "evaluate", main, argv, MODEL_HELP, MODEL_NAMES, check_model, start_fit_process
    )


if __name__ == "__main__":
    sys.exit(cli())
