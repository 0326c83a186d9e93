"""Hyper-parameter search with an enforced time budget: Optuna (TPE + median pruning) or a grid.

Both methods share one loop: ask the study for a trial, run it in a :class:`BudgetWorker` with a
deadline of ``min(trial_timeout_s, time left in the budget)``, tell the study how it went. A trial
that runs out of time is killed and recorded as failed with ``status=timeout``; the search as a
whole never outlives its budget by more than a worker shutdown. Trials score on the dev split (or
on k folds of the training rows): the test split is never seen here.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import optuna
import pandas as pd
from sklearn.model_selection import ParameterGrid

from models import tasks
from models.spec import BuildOptions
from models.worker import BudgetWorker, Outcome

MIN_TRIAL_SECONDS = 1.0  # below this much budget left, no new trial is started
ERROR_CHARS = 2000  # traceback tail kept per failed trial


@dataclass(frozen=True)
class SearchConfig:
    method: Literal["optuna", "grid"] = "optuna"
    n_trials: int = 20
    timeout_s: float = 600.0
    trial_timeout_s: float = 300.0
    grid: Mapping[str, list[Any]] = field(default_factory=dict)
    space: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    metric: str = "accuracy"
    storage: str | None = None  # an Optuna storage URL; None keeps the study in memory
    study_name: str = "ferbench"
    seed: int = 2013
    n_startup_trials: int = 5  # random trials before TPE models the space
    prune: bool = True
    prune_warmup_steps: int = 0


@dataclass
class SearchResult:
    status: Literal["ok", "failed", "budget_exceeded"]
    best_params: dict[str, Any]
    best_value: float | None
    trials: pd.DataFrame
    seconds: float
    counts: dict[str, int]


def suggest(trial: optuna.Trial, config: SearchConfig) -> dict[str, Any]:
    """Draw one trial's hyper-parameters from the grid or the Optuna space."""
    if config.method == "grid":
        return {
            name: trial.suggest_categorical(name, list(values))
            for name, values in config.grid.items()
        }
    drawn = {}
    for name, dist in config.space.items():
        if dist["type"] == "float":
            drawn[name] = trial.suggest_float(
                name, dist["low"], dist["high"], log=dist.get("log", False), step=dist.get("step")
            )
        elif dist["type"] == "int":
            drawn[name] = trial.suggest_int(
                name,
                dist["low"],
                dist["high"],
                log=dist.get("log", False),
                step=dist.get("step") or 1,
            )
        else:
            drawn[name] = trial.suggest_categorical(name, list(dist["choices"]))
    return drawn


def _inside(value: Any, dist: Mapping[str, Any]) -> bool:
    if dist["type"] == "categorical":
        return any(value == c and type(value) is type(c) for c in dist["choices"])
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and dist["low"] <= value <= dist["high"]
        and (dist["type"] == "float" or isinstance(value, int))
    )


def _make_study(config: SearchConfig) -> optuna.Study:
    if config.storage is not None:
        # A rerun starts afresh: DVC reruns a search because its inputs changed.
        with contextlib.suppress(KeyError):
            optuna.delete_study(study_name=config.study_name, storage=config.storage)
    # A grid is enqueued point by point (see run_search), so its sampler never draws anything.
    sampler = optuna.samplers.TPESampler(seed=config.seed, n_startup_trials=config.n_startup_trials)
    pruner: optuna.pruners.BasePruner = (
        optuna.pruners.MedianPruner(
            n_startup_trials=config.n_startup_trials, n_warmup_steps=config.prune_warmup_steps
        )
        if config.prune
        else optuna.pruners.NopPruner()
    )
    return optuna.create_study(
        storage=config.storage,
        sampler=sampler,
        pruner=pruner,
        study_name=config.study_name,
        direction="maximize",
    )


def _tell(study: optuna.Study, trial: optuna.Trial, outcome: Outcome) -> str:
    trial.set_user_attr("status", outcome.status)
    trial.set_user_attr("seconds", round(outcome.seconds, 3))
    if outcome.status == "ok":
        study.tell(trial, outcome.value)
    elif outcome.status == "pruned":
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        trial.set_user_attr("error", (outcome.error or "")[-ERROR_CHARS:])
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    return outcome.status


def run_search(
    model: str,
    base_params: Mapping[str, Any],
    options: BuildOptions,
    context: Mapping[str, Any],
    config: SearchConfig,
    log: Any = None,
) -> SearchResult:
    """Search ``model``'s hyper-parameters within ``config.timeout_s`` seconds of wall time.

    ``context`` holds ``x, y`` plus either ``x_val, y_val`` (hold-out) or ``folds`` (k-fold).
    ``base_params`` are the model's configured values; the search overrides the searched keys.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    start = time.monotonic()
    deadline = start + config.timeout_s
    task = tasks.cv_score if "folds" in context else tasks.holdout_score
    study = _make_study(config)
    n_trials = config.n_trials
    if config.method == "grid":
        # Optuna's GridSampler stops the study from inside `tell`, which only works under
        # `optimize`; enqueueing every point of the grid runs it through this same loop.
        points = list(ParameterGrid({k: list(v) for k, v in config.grid.items()}))
        for point in points:
            study.enqueue_trial(point)
        n_trials = min(n_trials, len(points))
    else:
        first = {name: base_params[name] for name in config.space if name in base_params}
        if all(_inside(first[name], config.space[name]) for name in first):
            study.enqueue_trial(first)  # the configured values are always tried first
    counts = {"ok": 0, "pruned": 0, "timeout": 0, "error": 0}
    with BudgetWorker(dict(context)) as worker:
        for _ in range(n_trials):
            # (Re)starting the fit process (after a killed trial) spends the search's budget,
            # not the next trial's.
            if not worker.start(deadline - time.monotonic()):
                break
            remaining = deadline - time.monotonic()
            if remaining < MIN_TRIAL_SECONDS:
                break
            trial = study.ask()
            params = {**base_params, **suggest(trial, config)}

            def on_report(step: int, value: float, trial: optuna.Trial = trial) -> bool:
                trial.report(value, step)
                return trial.should_prune()

            outcome = worker.run(
                task,
                {"model": model, "params": params, "options": options, "metric": config.metric},
                timeout=min(config.trial_timeout_s, remaining),
                on_report=on_report,
            )
            counts[_tell(study, trial, outcome)] += 1
            if log is not None:
                value = f"{outcome.value:.4f}" if outcome.status == "ok" else outcome.status
                log.info(
                    "search %s: trial %d %s in %.1f s", model, trial.number, value, outcome.seconds
                )
    seconds = time.monotonic() - start
    trials = study.trials_dataframe()
    if counts["ok"]:
        best = study.best_trial
        return SearchResult(
            "ok", {**base_params, **best.params}, best.value, trials, seconds, counts
        )
    status = "budget_exceeded" if counts["timeout"] or not any(counts.values()) else "failed"
    return SearchResult(status, dict(base_params), None, trials, seconds, counts)
