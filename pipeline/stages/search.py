"""Stage ``search <model>``: tune one model's hyper-parameters on dev (or k folds of train).

Reads the model's training features (plus its augmentation) and the dev split; writes
``artifacts/search/<model>/``: ``best_params.json`` (what ``train`` fits, with the study's name
and storage), ``trials.csv`` (every trial of the study, from every worker, with its state, time
and worker) and, with the default storage, the Optuna study ``study.db``. A search that is off,
fails or runs out of budget still writes ``best_params.json`` (with the configured parameters) so
the pipeline goes on; the test split is never read here. On data smaller than FER2013 the
budgets and a boosted model's rounds shrink in proportion (:mod:`pipeline.scale`), and the
configured parameters in ``best_params.json`` carry the scaled rounds to ``train``.

The storage is ``search.storage``, or the URL in the environment variable
``FERBENCH_OPTUNA_STORAGE`` (PostgreSQL, to share the study with ``ferbench search-worker`` on
other machines; the variable keeps passwords out of params.yaml). The stage runs trials itself,
then waits for the other workers' running trials within its budget, and reports the whole study.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from features.store import load_rows, load_xy
from fer_data.atomic import write_text
from fer_data.logs import get_logger, log_read, log_wrote, stage
from models.data import training_data
from models.names import MODEL_NAMES
from models.records import SearchRecord
from models.registry import get_spec
from models.sampling import stratified_folds, stratified_subsample
from models.search import SearchConfig, run_search
from models.spec import BuildOptions
from pipeline import paths
from pipeline.model_checks import MODEL_HELP, check_model, start_fit_process
from pipeline.params import STORAGE_ENV, Params, ParamsError, storage_problems
from pipeline.runner import run_stage
from pipeline.scale import LEAST_ROUNDS, LEAST_ROWS, Scale, data_scale


def search_scale(params: Params, model: str, features_dir: Path = paths.FEATURES_DIR) -> Scale:
    """The model's search budget and boosting rounds scaled to the training split
    (:mod:`pipeline.scale`); the stage and every ``ferbench search-worker`` compute the same,
    so they join one study."""
    cfg = params.models[model]
    scale = data_scale(params.scale, len(load_rows(features_dir, "train")))
    key = f"models.{model}.search"
    scale.count(f"{key}.n_trials", cfg.search.n_trials)
    scale.seconds(f"{key}.timeout_s", cfg.search.timeout_s)
    scale.count(f"{key}.subsample", cfg.search.subsample, least=LEAST_ROWS)
    spec = get_spec(model)
    if spec.rounds:
        written = int(spec.resolve(cfg.params)[spec.rounds])
        scale.count(f"models.{model}.params.{spec.rounds}", written, least=LEAST_ROUNDS)
    return scale


def search_base(params: Params, model: str, scale: Scale | None = None) -> dict:
    """The configured parameters (the search's first trial; train's when nothing beats them),
    with the model's boosting rounds as ``scale`` sets them (None: as written)."""
    spec = get_spec(model)
    base = spec.resolve(params.models[model].params)
    if spec.rounds:
        key = f"models.{model}.params.{spec.rounds}"
        base[spec.rounds] = int(_used(scale, key, base[spec.rounds]))
    return base


def _used(scale: Scale | None, key: str, written: float) -> float:
    return written if scale is None else scale.changed.get(key, [written, written])[1]


def search_context(
    params: Params, model: str, features_dir: Path = paths.FEATURES_DIR, scale: Scale | None = None
) -> dict[str, np.ndarray | list]:
    """Training rows (subsampled) and either the dev split or k folds of the training rows."""
    cfg = params.models[model]
    subsample = int(_used(scale, f"models.{model}.search.subsample", cfg.search.subsample))
    x, y, groups = training_data(features_dir, cfg.feature_set, cfg.augmentation)
    keep = stratified_subsample(y, subsample, params.seed, groups)
    x, y, groups = x[keep], y[keep], groups[keep]
    log_read(features_dir / "train", f"{len(y)} rows of {cfg.feature_set} ({cfg.augmentation})")
    if params.search.cv_folds > 1:
        return {
            "x": x,
            "y": y,
            "folds": stratified_folds(y, params.search.cv_folds, params.seed, groups),
        }
    x_val, y_val, _ = load_xy(features_dir, "dev", cfg.feature_set)
    log_read(features_dir / "dev", f"{len(y_val)} rows")
    return {"x": x, "y": y, "x_val": x_val, "y_val": y_val}


def storage_url(params: Params, model: str) -> str:
    """``$FERBENCH_OPTUNA_STORAGE`` when set, else ``search.storage``; ``{dir}`` filled in.

    Raises
    ------
    ParamsError
        The environment variable holds an unsupported URL.
    """
    url = os.environ.get(STORAGE_ENV) or params.search.storage
    if os.environ.get(STORAGE_ENV):
        problems = storage_problems(url, STORAGE_ENV, allow_password=True)
        if problems:
            raise ParamsError("; ".join(problems))
    return url.replace("{dir}", paths.search_dir(model).as_posix())


def config_for(params: Params, model: str, scale: Scale | None = None) -> SearchConfig:
    """The search's settings; ``scale`` (:func:`search_scale`; None: as written) sets its
    ``n_trials``, ``timeout_s`` and ``subsample``."""
    cfg = params.models[model]
    search = params.search
    key = f"models.{model}.search"
    return SearchConfig(
        method=cfg.search.method,
        n_trials=int(_used(scale, f"{key}.n_trials", cfg.search.n_trials)),
        timeout_s=_used(scale, f"{key}.timeout_s", cfg.search.timeout_s),
        trial_timeout_s=cfg.search.trial_timeout_s,
        grid=cfg.search.grid,
        space={name: dist.model_dump() for name, dist in cfg.search.space.items()},
        metric=search.metric,
        storage=storage_url(params, model),
        seed=params.seed,
        n_startup_trials=search.n_startup_trials,
        prune=search.prune,
        prune_warmup_steps=cfg.search.prune_warmup_steps,
        alpha=search.alpha,
        heartbeat_s=search.heartbeat_s,
        grace_s=search.grace_s,
        retry_s=search.retry_s,
        decides={
            "augmentation": cfg.augmentation,
            "subsample": int(_used(scale, f"{key}.subsample", cfg.search.subsample)),
            "cv_folds": search.cv_folds,
        },
    )


def options_for(params: Params, model: str) -> BuildOptions:
    cfg = params.models[model]
    return BuildOptions(cfg.feature_set, cfg.accelerate, params.compute.n_jobs, params.seed)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def run(params: Params, model: str) -> SearchRecord:
    log = get_logger()
    cfg = params.models[model]
    paths.search_dir(model).mkdir(parents=True, exist_ok=True)
    scale = search_scale(params, model)
    log.info("search %s: %s", model, scale.describe())
    base = search_base(params, model, scale)
    if not (cfg.enabled and cfg.search.enabled):
        record = SearchRecord(
            model=model,
            params=base,
            best_value=None,
            status="skipped",
            reason="model disabled"
            if not cfg.enabled
            else "search disabled: configured parameters",
            scale=scale.record(),
        )
        write_text(paths.trials(model), "")
    else:
        config = config_for(params, model, scale)
        context = search_context(params, model, scale=scale)
        result = run_search(model, base, options_for(params, model), context, config, log)
        write_text(paths.trials(model), result.trials.to_csv(index=False))
        log_wrote(paths.trials(model), f"{len(result.trials)} trials of study {result.study}")
        folds = params.search.cv_folds
        record = SearchRecord(
            model=model,
            params=result.best_params,
            best_value=result.best_value,
            status=result.status,
            metric=config.metric,
            scored_on=f"{folds}-fold CV on train" if folds > 1 else "dev",
            method=config.method,
            searched=sorted(config.grid if config.method == "grid" else config.space),
            trials=result.counts,
            seconds=round(result.seconds, 1),
            budget_s=config.timeout_s,
            study=result.study,
            storage=result.storage,
            workers=result.workers,
            ran_here=result.ran,
            optuna_ms_per_trial=_rounded(result.optuna_ms_per_trial),
            sql_ms_per_trial=_rounded(result.sql_ms_per_trial),
            sql_per_trial=_rounded(result.sql_per_trial),
            scale=scale.record(),
            choice=result.choice,
        )
        if result.choice.get("kept") == "first":
            log.info(
                "search %s: trial %d's %.4f does not beat the configured values' trial %d "
                "significantly (McNemar p = %.3f >= %s): train fits the configured values",
                model,
                result.choice["best_trial"],
                result.choice["best_value"],
                result.choice["first_trial"],
                result.choice["p_value"],
                config.alpha,
            )
        if result.status != "ok":
            log.error(
                "!!! search %s: %s (%s); train falls back to the configured parameters",
                model,
                result.status,
                result.counts,
            )
    log_wrote(record.write(paths.best_params(model)))
    return record


def main(params: Params, model: str) -> None:
    with stage(f"search {model}") as log:
        record = run(params, model)
        log.info(
            "search %s: %s, best %s = %s", model, record.status, record.metric, record.best_value
        )


def cli(argv: list[str] | None = None) -> int:
    return run_stage("search", main, argv, MODEL_HELP, MODEL_NAMES, check_model, start_fit_process)


if __name__ == "__main__":
    sys.exit(cli())
