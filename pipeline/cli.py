"""``ferbench <stage>``: the one entry point that every DVC stage calls."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from pipeline.fer_csv import DataError
from pipeline.params import DEFAULT_PARAMS, ParamsError, load_params
from pipeline.stage_log import get_logger

# stage name -> (module with `main(params, ...)`, one-line help)
STAGES: dict[str, tuple[str, str]] = {
    "ingest": ("pipeline.ingest", "CSV (or synthetic demo set) -> validated train/dev/test feather tables"),
    "augment": ("pipeline.augment", "augmented copies of the training split, per augmentation mode"),
    "features": ("pipeline.featurize", "pixels, HOG and dlib landmarks for every split"),
}
# Stages that run once per model take the model's name.
PER_MODEL_STAGES: set[str] = set()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ferbench", description=__doc__)
    parser.add_argument("--params", default=str(DEFAULT_PARAMS), help="parameters file (default: params.yaml)")
    sub = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for name, (_, help_text) in STAGES.items():
        stage_parser = sub.add_parser(name, help=help_text)
        if name in PER_MODEL_STAGES:
            stage_parser.add_argument("model", help="model name, a key of `models` in params.yaml")
    return parser


def _entry(stage: str) -> Callable[..., None]:
    return importlib.import_module(STAGES[stage][0]).main


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
