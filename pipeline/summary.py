"""``ferbench summary``: what a finished run says in the terminal.

The report's path, the data the run used (loudly when it was the synthetic demo set) and the top
of the leaderboard: each model's test accuracy with its 95% interval and its macro-F1. It reads
the records the run wrote (``metrics/leaderboard.json``, ``metrics/models/<model>.json``,
``data/ingested/source.json``), so it works after ``dvc repro`` and after ``dvc exp run`` alike;
``./run.sh repro`` ends with it.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from fer_data.logs import get_logger
from fer_data.records import DataSource, RecordError
from models.records import ModelMetrics
from pipeline import paths
from pipeline.params import ParamsError, load_params

RULE = "=" * 78
LOUD = "!" * 78


def _interval(ci: list[float] | None) -> str:
    return "no interval (evaluate.n_boot = 0)" if not ci else f"95% CI {ci[0]:.3f}-{ci[1]:.3f}"


def data_lines(source: DataSource) -> list[str]:
    """The data the run used: one line, or a banner when it was the synthetic demo set."""
    if not source.synthetic:
        where = f" {source.path}" if source.path else ""
        member = f" ({source.member})" if source.member else ""
        return [f"Data:    {source.source}{where}{member}"]
    why = f" ({source.found_by})" if source.found_by else ""
    text = [
        f"Data: the SYNTHETIC DEMO SET{why}.",
        source.notice,
        "Put FER2013 in data/raw (README, Quickstart) and rerun for real numbers.",
    ]
    wrapped = [line for part in text for line in textwrap.wrap(part, len(LOUD) - 3)]
    return [LOUD, *(f"!! {line}" for line in wrapped), LOUD]


def ranked_models(root: Path, rank_by: str) -> list[ModelMetrics]:
    """The leaderboard's models (``metrics/leaderboard.json``), best first on ``rank_by``.

    Raises
    ------
    FileNotFoundError
        The run has not reached its report stage (no leaderboard yet).
    RecordError
        A metrics file is not a ferbench record.
    """
    board = root / paths.LEADERBOARD_FILE
    if not board.exists():
        raise FileNotFoundError(
            f"{board}: no leaderboard yet; run the pipeline first (dvc repro, or ./run.sh repro)"
        )
    try:
        names = list(json.loads(board.read_text(encoding="utf-8")))
    except json.JSONDecodeError as exc:
        raise RecordError(f"{board}: not valid JSON ({exc})") from None
    models = [ModelMetrics.read(root / paths.metrics(name)) for name in names]
    scored = [m for m in models if m.ok and m.test is not None and m.test.all is not None]
    return sorted(scored, key=lambda m: -getattr(m.test.all, rank_by))


def summary_lines(root: Path, rank_by: str, top: int) -> list[str]:
    """The summary as lines of text (see the module's docstring)."""
    source = DataSource.read(root / paths.SOURCE_FILE)
    models = ranked_models(root, rank_by)
    lines = [RULE, f"Report:  {(root / paths.REPORT_FILE).resolve().as_uri()}", *data_lines(source)]
    shown = models[:top]
    lines.append(
        f"Top {len(shown)} of {len(models)} models by test {rank_by} "
        f"({shown[0].test.all.n if shown else 0} test images):"
    )
    width = max((len(m.model) for m in shown), default=5)
    for place, metrics in enumerate(shown, start=1):
        scores = metrics.test.all
        lines.append(
            f"  {place}. {metrics.model:<{width}}  accuracy {scores.accuracy:.3f} "
            f"({_interval(scores.accuracy_ci95)})  macro-F1 {scores.macro_f1:.3f}"
        )
    if not shown:
        lines.append("  (no model was scored: see the report)")
    if source.synthetic:
        lines.append("(synthetic demo data: these numbers say nothing about FER2013)")
    lines.append(RULE)
    return lines


def cli(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ferbench summary", description=__doc__.split("\n")[0])
    parser.add_argument("--params", default=str(paths.PARAMS_FILE), help="parameters file")
    parser.add_argument("--top", type=int, default=5, help="models to list (default 5)")
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error(f"--top: got {args.top}; expected 1 or more")
    try:
        rank_by = load_params(args.params).report.rank_by
        print("\n".join(summary_lines(Path("."), rank_by, args.top)))
    except (ParamsError, RecordError, FileNotFoundError) as exc:
        get_logger().error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(cli())
