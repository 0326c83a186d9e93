"""Stage ``train <model>``: fit the searched (or configured) parameters and save the model.

Reads ``artifacts/search/<model>/best_params.json`` and the training features (train, plus the
model's augmentation, plus dev when ``train.refit_on_dev``); writes ``artifacts/models/<model>/``:
``model.joblib``, ``train.json`` (status, parameters, fit seconds, model bytes, dev scores),
``model_card.json`` (what ``ferbench predict`` needs: see :mod:`pipeline.cards`) and
``dev_scores.npz``: the per-class dev scores of the fit on the training rows alone (what the
stacking ensemble learns from; :mod:`models.member_scores`).

Every model gets a dev score: with ``train.refit_on_dev`` the parameters are first fitted on the
training rows alone (a stratified subsample of ``train.dev_score_rows`` of them, 0: all) and scored
on dev, then refitted on train + dev (the saved model); without it the saved model is the dev-scored
one. With the refit the dev-scored fit is kept as ``dev_scored.joblib``: evaluate scores it on test
for the ensemble, whose meta-learner must be applied to the fits it learnt from. The SVM is saved in
its compact form (:class:`models.svm.CompactRBFSVC`), checked on dev to predict exactly as the
fitted SVC.

Fits run in a child process killed at ``fit_timeout_s`` (each fit); a fit that fails or runs out of
time is recorded in ``train.json`` and the stage still succeeds, so one model never takes the others
down.
"""

from __future__ import annotations

import sys

import numpy as np

from features.store import load_xy
from fer_data.logs import get_logger, log_read, log_wrote, stage
from fer_data.records import DataSource
from models import fitting
from models.data import training_data
from models.member_scores import ClassScores, save_scores
from models.names import MODEL_NAMES
from models.records import DevScores, ExportCheck, SearchRecord, TrainRecord
from models.sampling import stratified_subsample
from models.spec import BuildOptions
from models.worker import BudgetWorker, Outcome
from pipeline import paths
from pipeline.cards import write_classical_card
from pipeline.model_checks import MODEL_HELP, check_model, start_fit_process
from pipeline.params import Params
from pipeline.runner import run_stage


def chosen_params(model: str) -> tuple[dict, str]:
    """The parameters to fit and where they come from (search result or configuration)."""
    path = paths.best_params(model)
    found = SearchRecord.read(path)
    log_read(path, f"search status {found.status}")
    return found.params, "search" if found.status == "ok" else "configured"


def fit_context(params: Params, model: str) -> dict:
    """Training rows (with the model's augmentation) and, when there is one, the dev split."""
    cfg = params.models[model]
    x, y, groups = training_data(paths.FEATURES_DIR, cfg.feature_set, cfg.augmentation)
    context = {"x": x, "y": y, "groups": groups}
    log_read(paths.FEATURES_DIR, f"{len(y)} training rows of {cfg.feature_set}")
    try:
        x_dev, y_dev, rows = load_xy(paths.FEATURES_DIR, "dev", cfg.feature_set)
    except FileNotFoundError:
        if params.train.refit_on_dev:
            raise
        get_logger().warning("train %s: no dev split, so no dev score", model)
        return context
    log_read(paths.FEATURES_DIR / "dev", f"{len(y_dev)} dev rows")
    dev_row_id = rows["row_id"].to_numpy(np.int64)
    return {**context, "x_dev": x_dev, "y_dev": y_dev, "dev_row_id": dev_row_id}


def dev_score_rows(params: Params, context: dict) -> np.ndarray | None:
    """The training rows of the dev-scored fit before a refit: a stratified subsample of
    ``train.dev_score_rows`` (augmented copies kept with their original), or None for all."""
    wanted = params.train.dev_score_rows
    if wanted == 0 or wanted >= len(context["y"]):
        return None
    return stratified_subsample(context["y"], wanted, params.seed, context["groups"])


def save_dev_scores(model: str, context: dict, value: dict, kind: str, fitted_on: str) -> None:
    """The per-class dev scores of the fit that never saw dev (``dev_scores.npz``)."""
    scores = ClassScores(
        value["dev_class_scores"], context["dev_row_id"], context["y_dev"], kind, fitted_on
    )
    path = save_scores(paths.dev_scores(model), scores)
    log_wrote(path, f"{kind} scores of {len(scores.row_id)} dev rows (fitted on {fitted_on})")


def _fit(params: Params, model: str, fitted: dict, record: TrainRecord) -> Outcome:
    """Score on dev (when refitting), then fit and save; fills ``record``; the last outcome."""
    cfg = params.models[model]
    refit = params.train.refit_on_dev
    context = fit_context(params, model)
    record.train_rows = len(context["y"]) + (len(context["y_dev"]) if refit else 0)
    n_classes = len(DataSource.read(paths.SOURCE_FILE).classes)  # 7 FER2013, 8 FER+ classes
    options = BuildOptions(
        cfg.feature_set, cfg.accelerate, params.compute.n_jobs, params.seed, n_classes
    )
    common = {"model": model, "params": fitted, "options": options}
    fitted_on = "train" + ("" if cfg.augmentation == "none" else f" + {cfg.augmentation}")
    with BudgetWorker(context) as worker:
        if refit:
            rows = dev_score_rows(params, context)
            scored_on = fitted_on if rows is None else f"{len(rows)} rows of {fitted_on}"
            task = {**common, "rows": rows, "path": str(paths.dev_scored_model(model))}
            outcome = worker.run(fitting.fit_and_score_dev, task, timeout=cfg.fit_timeout_s)
            if outcome.status != "ok":
                return outcome
            record.dev = DevScores(**outcome.value["dev"], fitted_on=scored_on)
            save_dev_scores(model, context, outcome.value, outcome.value["score_kind"], scored_on)
            log_wrote(
                paths.dev_scored_model(model),
                f"the dev-scored fit, {outcome.value['model_bytes']:,} bytes (the ensemble's)",
            )
            get_logger().info(
                "train %s: dev accuracy %.4f (fitted on %s in %.1f s); refitting on train + dev",
                model,
                record.dev.accuracy,
                scored_on,
                outcome.value["fit_seconds"],
            )
        path = paths.model_file(model)
        outcome = worker.run(
            fitting.fit_and_save,
            {**common, "path": str(path), "with_dev": refit},
            timeout=cfg.fit_timeout_s,
        )
    if outcome.status == "ok":
        value = outcome.value
        record.fit_seconds = round(value["fit_seconds"], 3)
        record.model_bytes = value["model_bytes"]
        if "dev" in value:
            record.dev = DevScores(**value["dev"], fitted_on=fitted_on)
            save_dev_scores(model, context, value, value["score_kind"], fitted_on)
        if "exported" in value:
            record.exported = ExportCheck(**value["exported"])
        log_wrote(path, f"fit in {record.fit_seconds:.1f} s, {record.model_bytes:,} bytes")
        write_classical_card(
            model,
            params.features,
            cfg.feature_set,
            fitted,
            cfg.augmentation,
            refit,
            record.train_rows,
            record.dev,
            value["score_kind"],
        )
    return outcome


def run(params: Params, model: str) -> TrainRecord:
    log = get_logger()
    cfg = params.models[model]
    paths.model_dir(model).mkdir(parents=True, exist_ok=True)
    # A card names a usable model: none until this run has saved one.
    paths.model_card(model).unlink(missing_ok=True)
    paths.dev_scores(model).unlink(missing_ok=True)  # nor dev scores of another run's model
    paths.dev_scored_model(model).unlink(missing_ok=True)  # nor its fit
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
        outcome = _fit(params, model, fitted, record)
        record.status = outcome.report_status
        if outcome.status != "ok":
            record.error = outcome.error
            log.error(
                "!!! train %s: %s after %.0f s: %s",
                model,
                record.status,
                outcome.seconds,
                outcome.error,
            )
        elif record.exported is not None and record.exported.disagreements:
            log.warning(
                "train %s: the saved %s disagrees with the fitted model on %d of %d dev rows",
                model,
                record.exported.form,
                record.exported.disagreements,
                record.exported.rows_checked,
            )
    log_wrote(record.write(paths.train_record(model)))
    return record


def main(params: Params, model: str) -> None:
    with stage(f"train {model}"):
        run(params, model)


def cli(argv: list[str] | None = None) -> int:
    return run_stage("train", main, argv, MODEL_HELP, MODEL_NAMES, check_model, start_fit_process)


if __name__ == "__main__":
    sys.exit(cli())
