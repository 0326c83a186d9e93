"""``ferbench search-worker MODEL``: run trials of MODEL's search from any machine.

A worker reads the same ``params.yaml`` and features as the ``search`` stage (only the keys the
stage declares in ``dvc.yaml``), so it computes the same study name and joins that study in the
shared storage (``$FERBENCH_OPTUNA_STORAGE``, typically PostgreSQL). It runs trials, each in a
fit process killed at its deadline, pruned like the stage's, until the study holds its
``n_trials`` trials or the study's round ends, then exits. It writes nothing under the
repository: the stage (``dvc repro``, ``ferbench search MODEL``) writes the best parameters and
the trial table of the whole study. Start workers before or after the stage, on as many machines
as there are; see the README, "Search on several machines".
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from fer_data.logs import get_logger, stage
from models.names import MODEL_NAMES
from models.search import SearchResult, run_search
from pipeline import paths
from pipeline.declared import restrict
from pipeline.model_checks import MODEL_HELP, check_model
from pipeline.params import Params, ParamsError, load_params
from pipeline.runner import USER_ERRORS, stage_parser
from pipeline.stages.search import (
    config_for,
    options_for,
    search_base,
    search_context,
    search_scale,
)

COMMAND = "search-worker"  # pipeline/cli.py's TOOLS entry


def run(params: Params, model: str, features_dir: Path = paths.FEATURES_DIR) -> SearchResult:
    """Run trials of ``model``'s study until its budget is claimed or its round ends.

    Raises
    ------
    ParamsError
        The model or its search is disabled: the stage would not search it.
    StorageError
        The study's storage is unreachable (see :class:`models.study.StorageError`).
    """
    cfg = params.models[model]
    if not (cfg.enabled and cfg.search.enabled):
        key = f"models.{model}.enabled" if not cfg.enabled else f"models.{model}.search.enabled"
        raise ParamsError(
            f"{key} is false: the search stage does not search {model}; set it to true "
            "(the same params.yaml on every machine)"
        )
    scale = search_scale(params, model, features_dir)  # the stage's: the same study
    config = config_for(params, model, scale)
    if config.storage and config.storage.startswith("sqlite:///"):
        paths.search_dir(model).mkdir(parents=True, exist_ok=True)  # the default {dir}
    base = search_base(params, model, scale)
    context = search_context(params, model, features_dir, scale)
    return run_search(
        model, base, options_for(params, model), context, config, get_logger(), role="worker"
    )


def main(params: Params, model: str, features_dir: Path = paths.FEATURES_DIR) -> None:
    with stage(f"{COMMAND} {model}") as log:
        result = run(params, model, features_dir)
        cost = (
            f"; per trial {result.optuna_ms_per_trial:.1f} ms in Optuna, of it "
            f"{result.sql_ms_per_trial:.1f} ms in {result.sql_per_trial:.1f} SQL statements"
            if result.ran and result.sql_ms_per_trial is not None
            else ""
        )
        log.info(
            "%s %s: ran %d trials of study %s in %s (now %s%s); best %s = %s",
            COMMAND,
            model,
            result.ran,
            result.study,
            result.storage,
            result.counts,
            cost,
            params.search.metric,
            None if result.best_value is None else round(result.best_value, 4),
        )


def cli(argv: Sequence[str] | None = None) -> int:
    """Parse ``MODEL [--params FILE] [--features DIR]``, run the worker; the exit code (2 for
    anything a user can cause: bad parameters, missing features, an unreachable storage)."""
    parser = stage_parser(COMMAND, MODEL_HELP, MODEL_NAMES)
    parser.description = __doc__.splitlines()[0]
    parser.add_argument(
        "--features",
        default=str(paths.FEATURES_DIR),
        help="the feature store (the features stage's output: `dvc pull features`, or a shared "
        "path); default: %(default)s",
    )
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
        check_model(params, args.item)
        # Exactly the keys the stage reads: the worker's study identity matches the stage's.
        main(restrict(params, "search", args.item), args.item, Path(args.features))
    except USER_ERRORS as exc:
        get_logger().error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(cli())
