"""Stage ``search <model>``: tune one model's hyper-parameters on dev (or k folds of train).

Reads the model's training features (plus its augmentation) and the dev split; writes
``artifacts/search/<model>/``: ``best_params.json`` (what ``train`` fits), ``trials.csv`` (every
trial with its state and time) and, with the default storage, the Optuna study ``study.db``.
A search that is off, fails or runs out of budget still writes ``best_params.json`` (with the
configured parameters) so the pipeline goes on; the test split is never read here.
"""

from __future__ import annotations

import numpy as np

from features.store import load_xy
from models import artifacts
from models.data import training_data
from models.sampling import stratified_folds, stratified_subsample
from models.search import SearchConfig, run_search
from models.spec import BuildOptions
from models.zoo import get_spec
from pipeline import layout
from pipeline.atomic import write_json, write_text
from pipeline.params import Params
from pipeline.stage_log import get_logger, log_read, log_wrote, stage


def _context(params: Params, model: str) -> dict[str, np.ndarray | list]:
    """Training rows (subsampled) and either the dev split or k folds of the training rows."""
    cfg = params.models[model]
    x, y, groups = training_data(layout.FEATURES_DIR, cfg.feature_set, cfg.augmentation)
    keep = stratified_subsample(y, cfg.search.subsample, params.seed, groups)
    x, y, groups = x[keep], y[keep], groups[keep]
    log_read(
        layout.FEATURES_DIR / "train", f"{len(y)} rows of {cfg.feature_set} ({cfg.augmentation})"
    )
    if params.search.cv_folds > 1:
        return {
            "x": x,
            "y": y,
            "folds": stratified_folds(y, params.search.cv_folds, params.seed, groups),
        }
    x_val, y_val, _ = load_xy(layout.FEATURES_DIR, "dev", cfg.feature_set)
    log_read(layout.FEATURES_DIR / "dev", f"{len(y_val)} rows")
    return {"x": x, "y": y, "x_val": x_val, "y_val": y_val}


def config_for(params: Params, model: str) -> SearchConfig:
    cfg = params.models[model].search
    return SearchConfig(
        method=cfg.method,
        n_trials=cfg.n_trials,
        timeout_s=cfg.timeout_s,
        trial_timeout_s=cfg.trial_timeout_s,
        grid=cfg.grid,
        space={name: dist.model_dump() for name, dist in cfg.space.items()},
        metric=params.search.metric,
        storage=params.search.storage.replace("{dir}", artifacts.search_dir(model).as_posix()),
        study_name=model,
        seed=params.seed,
        n_startup_trials=params.search.n_startup_trials,
        prune=params.search.prune,
        prune_warmup_steps=cfg.prune_warmup_steps,
    )


def run(params: Params, model: str) -> dict:
    log = get_logger()
    cfg = params.models[model]
    out = artifacts.search_dir(model)
    out.mkdir(parents=True, exist_ok=True)
    base = get_spec(model).resolve(cfg.params)
    summary: dict = {"model": model, "params": base, "best_value": None}
    if not (cfg.enabled and cfg.search.enabled):
        summary["status"] = "skipped"
        summary["reason"] = (
            "model disabled" if not cfg.enabled else "search disabled: configured parameters"
        )
        write_text(out / artifacts.TRIALS, "")
    else:
        config = config_for(params, model)
        options = BuildOptions(cfg.feature_set, cfg.accelerate, params.compute.n_jobs, params.seed)
        result = run_search(model, base, options, _context(params, model), config, log)
        trials_csv = result.trials.to_csv(index=False)
        write_text(out / artifacts.TRIALS, trials_csv)
        log_wrote(out / artifacts.TRIALS, f"{len(result.trials)} trials")
        summary |= {
            "status": result.status,
            "params": result.best_params,
            "best_value": result.best_value,
            "metric": config.metric,
            "scored_on": f"{params.search.cv_folds}-fold CV on train"
            if params.search.cv_folds > 1
            else "dev",
            "method": config.method,
            "searched": sorted(config.grid if config.method == "grid" else config.space),
            "trials": result.counts,
            "seconds": round(result.seconds, 1),
            "budget_s": config.timeout_s,
        }
        if result.status != "ok":
            log.error(
                "!!! search %s: %s (%s); train falls back to the configured parameters",
                model,
                result.status,
                result.counts,
            )
    log_wrote(write_json(out / artifacts.BEST_PARAMS, summary))
    return summary


def main(params: Params, model: str) -> None:
    with stage(f"search {model}") as log:
        summary = run(params, model)
        log.info(
            "search %s: %s, best %s = %s",
            model,
            summary["status"],
            summary.get("metric"),
            summary["best_value"],
        )
