"""Checks of ``models.<name>`` that need the model's own module: its hyper-parameters' names,
types and ranges are declared beside the estimator (``SPEC.hypers`` in ``models/<name>.py``).

A stage that runs one model checks that model (importing only its module); ``ferbench check``
checks all of them.
"""

from __future__ import annotations

from collections.abc import Iterable

from models.hyper import check_grid, check_space, check_values
from models.names import MODEL_NAMES
from models.registry import get_spec
from models.worker import prelaunch
from pipeline.params import ModelParams, Params, ParamsError

MODEL_HELP = "a key of `models` in params.yaml"


def _model_problems(name: str, model: ModelParams) -> list[str]:
    """Cross-field problems of one model: names, augmentation, and values that fit its estimator."""
    where = f"models.{name}"
    hypers = get_spec(name).hypers
    problems = check_values(model.params, hypers, f"{where}.params")
    search = model.search
    if search.grid or (search.enabled and search.method == "grid"):
        problems += check_grid(search.grid, hypers, f"{where}.search.grid")
    if search.space or (search.enabled and search.method == "optuna"):
        space = {k: v.model_dump() for k, v in search.space.items()}
        problems += check_space(space, hypers, f"{where}.search.space")
        for key, dist in space.items():
            if dist.get("log") and dist.get("step") not in (None, 1):
                problems.append(f"{where}.search.space.{key}: a log scale takes no step (Optuna)")
    return problems


def check_models(params: Params, names: Iterable[str] = MODEL_NAMES) -> None:
    """Check each named model's hyper-parameters, grid and space against its estimator's
    declaration (``SPEC.hypers`` in ``models/<name>.py``).

    Raises
    ------
    ParamsError
        Listing every bad key as ``models.<name>.params.<key>: ...``.
    """
    problems = [p for name in names for p in _model_problems(name, params.models[name])]
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise ParamsError(f"params.yaml: invalid parameters\n{lines}")


def check_model(params: Params, name: str) -> None:
    """:func:`check_models` for one model: the ``check`` hook of the per-model stages."""
    check_models(params, [name])


def start_fit_process(params: Params, name: str | None) -> None:
    """The ``prepare`` hook of the stages that fit: start the fit process early
    (:func:`models.worker.prelaunch`) unless the stage's model is disabled and fits nothing."""
    if name is None or params.models[name].enabled:
        prelaunch()
