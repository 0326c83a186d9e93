"""Running one stage: load and check ``params.yaml``, restrict it to the stage's declared keys, run,
and turn anything a user can cause into one clear line and exit code 2 (never a traceback).

Every stage module ends with ``sys.exit(run_stage(...))`` under ``if __name__ == "__main__"``, so
``dvc.yaml``'s ``python -m pipeline.stages.<stage>`` leads straight to the stage's file; the
``ferbench <stage>`` command calls the same function.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from fer_data.errors import DataError
from fer_data.logs import get_logger
from fer_data.records import RecordError
from pipeline import paths
from pipeline.declared import restrict
from pipeline.params import Params, ParamsError, load_params

# What a user can cause: bad parameters, bad data, a missing input, an unreadable record.
USER_ERRORS = (ParamsError, DataError, RecordError, FileNotFoundError)


def stage_parser(
    stage: str, item_help: str | None = None, choices: Sequence[str] = ()
) -> argparse.ArgumentParser:
    """The arguments of ``python -m pipeline.stages.<stage>``: ``--params`` and, for a stage
    that runs once per model, the model's name."""
    parser = argparse.ArgumentParser(prog=f"ferbench {stage}")
    parser.add_argument("--params", default=str(paths.PARAMS_FILE), help="parameters file")
    if item_help:
        parser.add_argument("item", choices=list(choices), help=item_help)
    return parser


def run_stage(
    stage: str,
    main: Callable[..., object],
    argv: Sequence[str] | None = None,
    item_help: str | None = None,
    choices: Sequence[str] = (),
    check: Callable[[Params, str], None] | None = None,
    prepare: Callable[[Params, str | None], None] | None = None,
) -> int:
    """Parse ``argv``, load the parameters, run ``main(params[, item])``; the exit code.

    ``main`` sees only the keys that ``stage``'s entry in ``dvc.yaml`` declares. ``check(params,
    item)`` runs first: the model stages check their model's hyper-parameters with it.
    ``prepare(params, item)`` runs once the parameters load, before the check: the stages that fit
    start their fit process with it (:func:`models.worker.prelaunch`), so that it starts up
    meanwhile.
    """
    args = stage_parser(stage, item_help, choices).parse_args(argv)
    item = getattr(args, "item", None)
    try:
        params = load_params(args.params)
        if prepare is not None:
            prepare(params, item)
        if check is not None:
            check(params, item)
        main(restrict(params, stage, item), *([item] if item else []))
    except USER_ERRORS as exc:
        get_logger().error("%s", exc)
        return 2
    return 0
