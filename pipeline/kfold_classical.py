"""The evaluate stage's k-fold hook: ``evaluate.protocol: kfold`` for a trained classical model.

The model is cross-validated (:func:`models.kfold.cross_validate`) with the parameters and
augmentation its train record says it was fitted with, built as the train stage builds it
(``models.<name>.accelerate``, ``compute.n_jobs``, ``seed``), each fold's fit within the model's
``fit_timeout_s``. With ``holdout`` nothing runs and the metrics have no ``kfold`` key.
"""

from __future__ import annotations

from fer_data.logs import get_logger, log_read
from fer_data.records import DataSource
from models.kfold import cross_validate, fold_rows
from models.records import KFoldScores, TrainRecord
from models.spec import BuildOptions
from pipeline import paths
from pipeline.params import Params


def kfold_scores(params: Params, model: str, info: TrainRecord) -> KFoldScores | None:
    """The model's k-fold record, or None with ``evaluate.protocol: holdout``.

    A model that was not trained gets a ``skipped`` record saying so (nothing to cross-validate
    with); a fold that fails or runs out of time is in the record (see
    :func:`models.kfold.cross_validate`).

    Raises
    ------
    FileNotFoundError, ValueError
        From :func:`models.kfold.fold_rows`: the feature store lacks a split, or is inconsistent.
    """
    cfg = params.evaluate
    if cfg.protocol != "kfold":
        return None
    if info.status != "ok":
        return KFoldScores(status="skipped", reason=f"the model was not trained ({info.status})")
    log = get_logger()
    model_cfg = params.models[model]
    rows = fold_rows(paths.FEATURES_DIR, info.feature_set, info.augmentation)
    log_read(
        paths.FEATURES_DIR,
        f"k-fold {model}: {rows.n_faces} train + dev faces of {info.feature_set}, "
        + (f"{rows.n_copies} {info.augmentation} copies" if rows.n_copies else "no copies"),
    )
    n_classes = len(DataSource.read(paths.SOURCE_FILE).classes)
    options = BuildOptions(
        info.feature_set,
        model_cfg.accelerate,
        params.compute.n_jobs,
        params.seed,
        n_classes,
    )
    record = cross_validate(
        rows,
        model,
        info.params,
        options,
        info.augmentation,
        cfg.folds,
        params.seed,
        model_cfg.fit_timeout_s,
        log,
    )
    if record.status == "ok":
        log.info(
            "k-fold %s: %d-fold accuracy %.4f ± %.4f, macro-F1 %.4f ± %.4f",
            model,
            cfg.folds,
            record.accuracy_mean,
            record.accuracy_sd,
            record.macro_f1_mean,
            record.macro_f1_sd,
        )
    else:
        log.error("!!! k-fold %s: %s: %s", model, record.status, record.error)
    return record
