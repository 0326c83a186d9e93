"""``ferbench``: every DVC stage (``ferbench <stage>`` runs ``pipeline/stages/<stage>.py``), plus
``ferbench check``, which validates the whole of params.yaml, every model's hyper-parameters
included, before a run (``./run.sh repro`` calls it first); ``ferbench predict``, which applies a
trained model to images, folders, videos or a camera (:mod:`pipeline.predict`); ``ferbench
search-worker MODEL``, which runs trials of a model's search from another machine
(:mod:`pipeline.search_worker`); ``ferbench summary``, a finished run's report path, data and top
models in the terminal (:mod:`pipeline.summary`); and ``ferbench compare REV REV...``, experiments
or commits side by side on one HTML page (:mod:`pipeline.compare`)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from fer_data.logs import get_logger
from pipeline import paths
from pipeline.model_checks import check_models
from pipeline.params import ParamsError, load_params

# stage -> one-line help; the stage's module is pipeline/stages/<stage with _ for ->.py
STAGES: dict[str, str] = {
    "ingest": "FER2013 (or the synthetic demo set) -> train/dev/test face tables",
    "augment": "augmented copies of the training split, per mode",
    "features": "pixels, HOG and dlib landmarks for every split",
    "duplicates": "test images with an exact or near copy in train + dev",
    "external": "read the cross-dataset test sets of evaluate.external, labels mapped",
    "search": "tune one model on dev (Optuna or grid, time-boxed)",
    "train": "fit one model with its searched (or configured) parameters",
    "evaluate": "score one model on test: public, private and both",
    "competency": "every model, untuned, on every feature set (subsample): one table",
    "cnn": "train one CNN architecture; test it with centre and 10-crop views",
    "ensemble": "stack the models' dev scores (meta-learner tuned on dev); score it on test",
    "report": "the self-contained HTML report: results/report/index.html",
}


# Commands that are not stages: name -> (module with a ``cli(argv)``, one-line help). Imported only
# when run, like the stages, so that `ferbench check` loads neither OpenCV nor Optuna.
TOOLS: dict[str, tuple[str, str]] = {
    "predict": (
        "pipeline.predict",
        "apply a trained model to images, folders, videos or a camera",
    ),
    "search-worker": (
        "pipeline.search_worker",
        "join MODEL's search study (shared storage) and run its trials from this machine",
    ),
    "summary": (
        "pipeline.summary",
        "a finished run in the terminal: the report's path, the data, the top models",
    ),
    "compare": (
        "pipeline.compare",
        "experiments or commits side by side, with McNemar tests: one HTML page",
    ),
}


def stage_module(stage: str) -> str:
    return f"pipeline.stages.{stage.replace('-', '_')}"


def check(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="ferbench check", description=check.__doc__)
    parser.add_argument("--params", default=str(paths.PARAMS_FILE))
    args = parser.parse_args(argv)
    try:
        check_models(load_params(args.params))
    except ParamsError as exc:
        get_logger().error("%s", exc)
        return 2
    get_logger().info("%s: every parameter is valid", args.params)
    return 0


check.__doc__ = "validate params.yaml, every model's hyper-parameters included"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--params"] and len(argv) > 2:  # ferbench --params FILE <command> ...
        argv = [argv[2], *argv[:2], *argv[3:]]
    tools = {name: help_text for name, (_, help_text) in TOOLS.items()}
    commands = {**STAGES, "check": check.__doc__, **tools}
    if not argv or argv[0] not in commands:
        parser = argparse.ArgumentParser(prog="ferbench", description=__doc__)
        sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
        for name, help_text in commands.items():
            sub.add_parser(name, help=help_text, add_help=False)
        parser.parse_args(argv)  # prints usage and exits 2 (or 0 for --help)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "check":
        return check(rest)
    if command in TOOLS:
        return importlib.import_module(TOOLS[command][0]).cli(rest)
    return importlib.import_module(stage_module(command)).cli(rest)


if __name__ == "__main__":
    sys.exit(main())
