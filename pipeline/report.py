"""Stage ``report``: one self-contained HTML page with every result of the run.

Reads the stages' metrics (``metrics/*.json``, ``metrics/models/*.json``), the search records
(``artifacts/search/<model>/``), the CNN's training info and history, the per-image test predictions
(``results/plots/confusion/<model>.csv``), the competency table and the test images. Writes
``results/report/index.html`` (charts and images embedded: no network needed to open it) and
``metrics/leaderboard.json``: accuracy and macro-F1 of every model, on one line of
``dvc metrics show`` / ``dvc exp show``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline import layout
from pipeline.atomic import write_json, write_text
from pipeline.params import Params
from pipeline.stage_log import log_wrote, stage
from reports import sections, tables
from reports.inputs import ModelRun, RunInputs, load
from reports.render import render

REPORT_DIR = layout.RESULTS_DIR / "report"
REPORT_FILE = REPORT_DIR / "index.html"
LEADERBOARD_FILE = layout.METRICS_DIR / "leaderboard.json"


def leaderboard_metrics(models: list[ModelRun]) -> dict[str, Any]:
    """Accuracy and macro-F1 on the whole test split of every scored model, in pipeline order.

    Two numbers per model keep ``dvc metrics show metrics/leaderboard.json`` and ``dvc exp show``
    readable; each model's own metrics file holds the rest (and a failed model's status). The
    order is fixed, not ranked, so that the columns stay put from one experiment to the next.
    """
    return {
        run.name: {
            "accuracy": run.metrics["test"]["all"]["accuracy"],
            "macro_f1": run.metrics["test"]["all"]["macro_f1"],
        }
        for run in models
        if run.ok
    }


def context(params: Params) -> tuple[dict[str, Any], RunInputs]:
    """Everything the template shows, and the inputs it was made from."""
    inputs = load(params)
    cfg = params.report
    ranked = tables.rank(inputs.models, cfg.rank_by)
    source = layout.data_source()
    page = {
        "summary": sections.run_summary(params, source),
        "data": sections.data(inputs.stages),
        "subsets": tables.SUBSETS,
        "subset_sizes": tables.subset_sizes(ranked),
        "rank_by": cfg.rank_by,
        "leaderboard": tables.leaderboard(ranked),
        "not_run": inputs.not_run,
        "competency": sections.competency(inputs, params),
        "timing": sections.timing(ranked),
        "models": [sections.model(run) for run in ranked],
        "significance": sections.significance(
            ranked, inputs.test.emotion.astype("int64"), cfg.top_models, cfg.alpha
        ),
        "gallery": sections.faces(ranked, inputs, cfg.gallery_faces, params.seed),
        "cnn": [sections.cnn(run) for run in ranked if run.kind == "cnn" and run.ok],
    }
    return page, inputs


def run(params: Params) -> Path:
    page, inputs = context(params)
    write_text(REPORT_FILE, render(page))
    log_wrote(REPORT_FILE, f"{len(inputs.models)} models")
    log_wrote(write_json(LEADERBOARD_FILE, leaderboard_metrics(inputs.models)))
    return REPORT_FILE


def main(params: Params) -> None:
    with stage("report") as log:
        path = run(params)
        log.info("report: open file://%s", path.resolve())
