"""Stage ``report``: one self-contained HTML page with every result of the run.

Reads the stages' metrics (``metrics/*.json``, ``metrics/models/*.json``), the search records
(``artifacts/search/<model>/``), the CNN's training info and history, the per-image test predictions
(``results/plots/confusion/<model>.csv``), the competency table and the test images. Writes
``results/report/index.html`` (charts and images embedded: no network needed to open it) and
``metrics/leaderboard.json``: accuracy and macro-F1 of every model (its accuracy on the test images
without a copy in train + dev, and on each external test set of ``evaluate.external``), on one
line of ``dvc metrics show`` / ``dvc exp show``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from features.records import FeatureMetrics
from fer_data.atomic import write_json, write_text
from fer_data.duplicates import DuplicatesMetrics
from fer_data.external import ExternalManifest
from fer_data.faces import FaceTable, read_faces
from fer_data.logs import log_wrote, stage
from fer_data.records import AugmentMetrics, DataSource
from models.cnn.names import model_name
from models.names import ENSEMBLE_NAME, MODEL_NAMES
from models.records import CnnTrainRecord, ModelMetrics, SearchRecord, TrainRecord
from pipeline import paths
from pipeline.params import Params
from pipeline.params_diff import baseline_params, changed_params
from pipeline.runner import run_stage
from reports import cross_dataset, sections, tables
from reports.inputs import ModelRun, RunInputs
from reports.predictions import read_predictions
from reports.render import render
from reports.summary import git_commit


def _csv(path: Path) -> pd.DataFrame | None:
    if not path.exists() or path.stat().st_size == 0:  # search writes an empty file when skipped
        return None
    return pd.read_csv(path)


def _json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def expected_models(params: Params) -> list[tuple[str, str, str | None]]:
    """(name, kind, CNN architecture) of every model the parameters ask for, in report order."""
    classical = [(name, "classical", None) for name in MODEL_NAMES]
    cnns = [(model_name(arch), "cnn", arch) for arch in params.cnn.archs]
    return [*classical, *cnns, (ENSEMBLE_NAME, "ensemble", None)]


def load_model(name: str, kind: str, arch: str | None, test: FaceTable) -> ModelRun | None:
    """One model's records, or None when its metrics do not exist yet."""
    metrics = ModelMetrics.read_optional(paths.metrics(name))
    if metrics is None:
        return None
    train_type = CnnTrainRecord if kind == "cnn" else TrainRecord
    classical = kind == "classical"  # the ensemble has no search; its record is its metrics
    return ModelRun(
        name=name,
        kind=kind,
        metrics=metrics,
        search=SearchRecord.read_optional(paths.best_params(name)) if classical else None,
        trials=_csv(paths.trials(name)) if classical else None,
        train=train_type.read_optional(paths.train_record(name)) if kind != "ensemble" else None,
        history=_csv(paths.cnn_history(arch)) if arch else None,
        predictions=read_predictions(
            paths.confusion(name), test.emotion, test.row_id, test.classes
        ),
    )


def load(params: Params) -> RunInputs:
    """Everything the report shows, read from the pipeline's outputs."""
    test = read_faces(paths.ingested("test"))
    models, not_run = [], []
    for name, kind, arch in expected_models(params):
        run = load_model(name, kind, arch, test)
        if run is None:
            not_run.append(name)
        else:
            models.append(run)
    competency = _csv(paths.COMPETENCY_TABLE)
    # The rows the cells used: competency.train_rows, scaled to the data (pipeline/scale.py).
    used_rows = None if competency is None else competency.get("train_rows")
    return RunInputs(
        ingest=_json(paths.stage_metrics("ingest")),
        augment=AugmentMetrics.read_optional(paths.stage_metrics("augment")),
        features=FeatureMetrics.read_optional(paths.stage_metrics("features")),
        models=models,
        not_run=not_run,
        competency=competency,
        competency_sets=list(params.competency.feature_sets),
        competency_rows=(
            int(used_rows.max())
            if used_rows is not None and used_rows.notna().any()
            else params.competency.train_rows
        ),
        test=test,
    )


def leaderboard_metrics(models: list[ModelRun]) -> dict[str, Any]:
    """Accuracy and macro-F1 on the whole test split of every scored model, in pipeline order.

    Two numbers per model, and the accuracy without the test images copied in train + dev
    (``no_copy_accuracy``), keep ``dvc metrics show metrics/leaderboard.json`` and ``dvc exp show``
    readable; each model's own metrics file holds the rest (and a failed model's status). The
    order is fixed, not ranked, so that the columns stay put from one experiment to the next.
    """
    board = {
        run.name: {"accuracy": run.score("accuracy"), "macro_f1": run.score("macro_f1")}
        for run in models
        if run.ok
    }
    for run in models:  # without the test images copied in train + dev, when scored
        if run.ok and run.scores("clean") is not None:
            board[run.name]["no_copy_accuracy"] = run.score("accuracy", "clean")
    for run in models:  # cross-dataset: accuracy and macro-F1 per external set, when any
        if run.ok and (external := cross_dataset.leaderboard_entries(run)):
            board[run.name]["external"] = external
    return board


def summary(params: Params) -> dict[str, Any]:
    baseline, label = baseline_params()
    return sections.run_summary(
        source=DataSource.read(paths.SOURCE_FILE),
        commit=git_commit(Path("."), paths.GENERATED),
        changes=None if baseline is None else changed_params(params, baseline),
        baseline=label,
    )


def context(params: Params) -> tuple[dict[str, Any], RunInputs]:
    """Everything the template shows, and the inputs it was made from."""
    inputs = load(params)
    cfg = params.report
    ranked = tables.rank(inputs.models, cfg.rank_by)
    page = {
        "summary": summary(params),
        "data": sections.data(inputs.ingest, inputs.augment, inputs.features),
        "subsets": tables.SUBSETS,
        "subset_sizes": tables.subset_sizes(ranked),
        "rank_by": cfg.rank_by,
        "leaderboard": tables.leaderboard(ranked),
        "not_run": inputs.not_run,
        "competency": sections.competency(inputs),
        "timing": sections.timing(ranked),
        "models": [sections.model(run) for run in ranked],
        "significance": sections.significance(
            ranked, inputs.test.emotion.astype("int64"), cfg.top_models, cfg.alpha
        ),
        "gallery": sections.faces(ranked, inputs, cfg.gallery_faces, params.seed),
        "cnn": [sections.cnn(run) for run in ranked if run.kind == "cnn" and run.ok],
        "leakage": sections.leakage(
            DuplicatesMetrics.read_optional(paths.stage_metrics("duplicates")), ranked
        ),
        "external_sets": list(params.evaluate.external),  # a leaderboard column each
        "cross_dataset": cross_dataset.section(
            ranked,
            ExternalManifest.read_optional(paths.EXTERNAL_MANIFEST),
            list(params.evaluate.external),
        ),
    }
    return page, inputs


def run(params: Params) -> Path:
    page, inputs = context(params)
    write_text(paths.REPORT_FILE, render(page))
    log_wrote(paths.REPORT_FILE, f"{len(inputs.models)} models")
    log_wrote(write_json(paths.LEADERBOARD_FILE, leaderboard_metrics(inputs.models)))
    return paths.REPORT_FILE


def main(params: Params) -> None:
    with stage("report") as log:
        path = run(params)
        log.info("report: open file://%s", path.resolve())


def cli(argv: list[str] | None = None) -> int:
    return run_stage("report", main, argv)


if __name__ == "__main__":
    sys.exit(cli())
