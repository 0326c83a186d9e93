"""``ferbench compare REV REV [...]``: experiments or commits side by side, on one HTML page.

Each REV is a DVC experiment's name (``dvc exp run -n NAME``, or the name ``dvc exp show`` lists),
a git branch, tag or commit, or ``workspace`` (the files as they are now). From each it reads, as
committed there (``git show REV:PATH``): ``params.yaml``, ``metrics/leaderboard.json``, every
model's ``metrics/models/<model>.json`` and per-image test predictions
(``results/plots/confusion/<model>.csv``), ``dvc.lock`` (the test table's hash) and the data
source (``data/ingested/source.json`` where committed, else the one the metrics records name).
:mod:`reports.compare` builds the page: the parameters that differ, each model's metrics with
intervals, and McNemar tests between experiments, per model.

A DVC experiment is a commit under ``refs/exps/`` (``dvc exp run`` commits its parameters,
metrics and plots there), so both kinds are read alike.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from fer_data.atomic import write_text
from fer_data.errors import DataError
from fer_data.logs import get_logger, log_wrote
from fer_data.records import DataSource, RecordError
from models.records import ModelMetrics
from pipeline import paths
from pipeline.params import ParamsError, load_params
from pipeline.params_diff import flatten
from reports.compare import Experiment, render_compare
from reports.predictions import AlignmentError, parse_predictions

WORKSPACE = "workspace"
EXPERIMENT_REFS = "refs/exps/"
TEST_TABLE = paths.ingested("test").as_posix()


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    except FileNotFoundError:
        raise DataError("git is not installed: ferbench compare reads revisions with git") from None


def _experiments(root: Path) -> dict[str, list[str]]:
    """DVC experiment name -> commits (``refs/exps/<baseline>/<name>``)."""
    listed = _git(root, "for-each-ref", "--format=%(objectname) %(refname)", EXPERIMENT_REFS)
    found: dict[str, list[str]] = {}
    for line in listed.stdout.splitlines():
        sha, ref = line.split(" ", 1)
        found.setdefault(ref.rsplit("/", 1)[-1], []).append(sha)
    return found


def resolve(rev: str, root: Path = Path(".")) -> str:
    """The commit ``rev`` names (full SHA), or ``workspace``.

    Raises
    ------
    DataError
        ``rev`` is neither a git revision nor one DVC experiment's name.
    """
    if rev == WORKSPACE:
        return WORKSPACE
    if _git(root, "rev-parse", "--is-inside-work-tree").returncode != 0:
        raise DataError(f"{root.resolve()}: not a git repository; compare reads git revisions")
    # A git revision first (branch, tag, SHA, HEAD~1), as DVC resolves names.
    found = _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if found.returncode == 0 and not rev.startswith("-"):
        return found.stdout.strip()
    experiments = _experiments(root)
    commits = experiments.get(rev, [])
    if len(commits) == 1:
        return commits[0]
    if len(commits) > 1:
        raise DataError(
            f"experiment name {rev!r} is ambiguous: {len(commits)} experiments of different "
            f"baselines have it ({', '.join(c[:7] for c in commits)}); give a commit instead"
        )
    known = ", ".join(sorted(experiments)[:10]) or "none"
    raise DataError(
        f"unknown revision or experiment {rev!r}: not a git branch, tag or commit, nor a DVC "
        f"experiment's name (experiments here: {known}; `dvc exp show` lists them)"
    )


def read_at(commit: str, path: str, root: Path = Path(".")) -> str | None:
    """``path`` as committed at ``commit`` (or in the workspace); None where it is absent."""
    if commit == WORKSPACE:
        file = root / path
        return file.read_text(encoding="utf-8") if file.exists() else None
    shown = _git(root, "show", f"{commit}:{path}")
    return shown.stdout if shown.returncode == 0 else None


def read_output(commit: str, path: str, root: Path = Path(".")) -> str | None:
    """A DVC-cached output ``path`` as it was at ``commit``, from the local DVC cache (what
    ``dvc exp run`` and ``dvc repro`` put there); where it is not cached, as committed to git
    (the layout of older runs). None where it is in neither."""
    if commit != WORKSPACE:
        import dvc.api  # here only: importing DVC takes seconds

        try:
            return dvc.api.read(path, repo=str(root), rev=commit, encoding="utf-8")
        except Exception:
            pass
    return read_at(commit, path, root)


def _test_md5(lock_text: str | None) -> str | None:
    """``data/ingested/test.feather``'s hash in a ``dvc.lock`` (any stage that reads it)."""
    if not lock_text:
        return None
    for stage in (yaml.safe_load(lock_text) or {}).get("stages", {}).values():
        for dep in stage.get("deps", []):
            if dep.get("path") == TEST_TABLE and dep.get("md5"):
                return str(dep["md5"])
    return None


def _record(cls: Any, text: str, where: str) -> Any:
    try:
        return cls.model_validate(json.loads(text))
    except (json.JSONDecodeError, ValueError) as exc:
        raise RecordError(f"{where}: not a {cls.__name__} record ({exc})") from None


def load_experiment(rev: str, root: Path = Path(".")) -> Experiment:
    """Everything the page shows of one experiment or commit.

    Raises
    ------
    DataError
        ``rev`` is unknown, or holds no results (no leaderboard: the run was not committed).
    RecordError
        A metrics file is not a ferbench record.
    """
    commit = resolve(rev, root)
    where = rev if commit == WORKSPACE else f"{rev} ({commit[:7]})"
    board = read_at(commit, paths.LEADERBOARD_FILE.as_posix(), root)
    if board is None:
        raise DataError(
            f"{where}: no results: {paths.LEADERBOARD_FILE} is not there (run the pipeline: "
            "dvc exp run, or dvc repro and commit metrics/ and dvc.lock)"
        )
    raw_params = yaml.safe_load(read_at(commit, paths.PARAMS_FILE.as_posix(), root) or "") or {}
    metrics: dict[str, ModelMetrics] = {}
    predictions = {}
    for model in json.loads(board):
        path = paths.metrics(model).as_posix()
        text = read_at(commit, path, root)
        if text is None:
            continue
        metrics[model] = _record(ModelMetrics, text, f"{where}:{path}")
        csv_path = paths.confusion(model).as_posix()
        csv = read_output(commit, csv_path, root)
        if csv:
            try:
                parsed = parse_predictions(
                    pd.read_csv(io.StringIO(csv)),
                    f"{where}:{csv_path}",
                    metrics[model].data.classes,
                )
            except AlignmentError as exc:
                raise DataError(str(exc)) from None
            if parsed is not None:
                predictions[model] = parsed
    # source.json is inside a DVC-cached folder, not in git: each metrics record names its data.
    source = read_at(commit, paths.SOURCE_FILE.as_posix(), root)
    data = next((m.data for m in metrics.values()), None)
    return Experiment(
        name=rev,
        commit=commit,
        params=flatten(raw_params),
        metrics=metrics,
        predictions=predictions,
        test_md5=_test_md5(read_at(commit, paths.DVC_LOCK.as_posix(), root)),
        source=data if source is None else _record(DataSource, source, f"{where}:source.json"),
    )


def compare(revs: Sequence[str], output: Path, alpha: float, root: Path = Path(".")) -> Path:
    """Write the comparison page of ``revs`` to ``output``; returns ``output``."""
    experiments = [load_experiment(rev, root) for rev in revs]
    for experiment in experiments:
        missing = sorted(set(experiment.metrics) - set(experiment.predictions))
        if missing:
            get_logger().warning(
                "%s: no per-image test predictions for %s (results/plots/confusion not "
                "committed): metrics only, no McNemar test",
                experiment.name,
                ", ".join(missing),
            )
    write_text(output, render_compare(experiments, alpha))
    log_wrote(output, f"{len(experiments)} experiments")
    return output


def cli(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ferbench compare", description=__doc__.split("\n")[0])
    parser.add_argument(
        "revs", nargs="+", metavar="REV", help="DVC experiment names, git revisions, or workspace"
    )
    parser.add_argument("-o", "--output", default=str(paths.COMPARE_FILE), help="HTML file")
    parser.add_argument("--alpha", type=float, help="significance level (default report.alpha)")
    parser.add_argument("--params", default=str(paths.PARAMS_FILE), help="parameters file")
    args = parser.parse_args(argv)
    if len(args.revs) < 2:
        parser.error("give two experiments or commits or more")
    try:
        alpha = args.alpha if args.alpha is not None else load_params(args.params).report.alpha
        if not 0.0 < alpha < 1.0:
            raise ParamsError(f"--alpha: got {alpha}; expected a level between 0 and 1")
        output = compare(args.revs, Path(args.output), alpha)
    except (DataError, RecordError, ParamsError) as exc:
        get_logger().error("%s", exc)
        return 2
    print(f"Comparison: {output.resolve().as_uri()}")
    return 0


if __name__ == "__main__":
    sys.exit(cli())
