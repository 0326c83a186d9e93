"""``ferbench <stage>``: the one entry point that every DVC stage calls."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from models.cnn.names import ARCHITECTURES
from models.zoo import MODEL_NAMES
from pipeline.fer_csv import DataError
from pipeline.params import DEFAULT_PARAMS, ParamsError, load_params
from pipeline.stage_log import get_logger

# stage name -> (module with `main(params, ...)`, or "module:function", one-line help)
STAGES: dict[str, tuple[str, str]] = {
    "ingest": ("pipeline.ingest", "CSV (or synthetic demo set) -> train/dev/test feather tables"),
    "augment": ("pipeline.augment", "augmented copies of the training split, per mode"),
    "features": ("pipeline.featurize", "pixels, HOG and dlib landmarks for every split"),
    "search": ("pipeline.search", "tune one model on dev (Optuna or grid, time-boxed)"),
    "train": ("pipeline.train", "fit one model with its searched (or configured) parameters"),
    "evaluate": ("pipeline.evaluate", "score one model on test: public, private and both"),
    "competency": ("pipeline.competency", "one model, untuned, on every feature set (subsample)"),
    "competency-table": ("pipeline.competency:main_table", "all competency cells as one CSV"),
    "cnn": ("pipeline.cnn", "train one CNN architecture; test it with centre and 10-crop views"),
    "report": ("pipeline.report", "the self-contained HTML report: results/report/index.html"),
}
# Stages that run once per model take the model's name.
PER_MODEL_STAGES: set[str] = {"search", "train", "evaluate", "competency", "cnn"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ferbench", description=__doc__)
    parser.add_argument(
        "--params", default=str(DEFAULT_PARAMS), help="parameters file (default: params.yaml)"
    )
    sub = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for name, (_, help_text) in STAGES.items():
        stage_parser = sub.add_parser(name, help=help_text)
        if name in PER_MODEL_STAGES:
            if name == "cnn":
                stage_parser.add_argument("model", choices=ARCHITECTURES, help="a CNN architecture")
            else:
                stage_parser.add_argument("model", choices=MODEL_NAMES, help="a key of `models`")
    return parser


def _entry(stage: str) -> Callable[..., None]:
    module, _, function = STAGES[stage][0].partition(":")
    return getattr(importlib.import_module(module), function or "main")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        params = load_params(args.params)
        extra = [args.model] if args.stage in PER_MODEL_STAGES else []
        _entry(args.stage)(params, *extra)
    except (ParamsError, DataError, FileNotFoundError) as exc:
        get_logger().error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
