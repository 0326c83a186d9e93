"""Each section of the report as the data its template shows: tables, chart URIs, verdicts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipeline.params import Params
from reports import charts, gallery, mcnemar, summary, tables
from reports.embed import svg_uri
from reports.inputs import ModelRun, RunInputs

DUPLICATE_LABELS = {
    "groups": "groups of pixel-identical images",
    "rows_in_groups": "images in those groups",
    "groups_with_conflicting_labels": "groups whose copies carry different labels",
    "groups_straddling_train_and_test": "groups with copies in both train and test",
    "test_rows_with_a_copy_in_train": "test images with an identical image in train",
    "groups_straddling_train_and_dev": "groups with copies in both train and dev",
}


def run_summary(params: Params, source: dict[str, Any]) -> dict[str, Any]:
    baseline, baseline_label = summary.baseline_params()
    return {
        "source": source,
        "commit": summary.git_commit(),
        "date": summary.now(),
        "machine": summary.machine(),
        "changes": summary.changed_params(params, baseline),
        "baseline": baseline_label,
    }


def data(stages: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    ingest, augment, features = stages["ingest"], stages["augment"], stages["features"]
    counts = tables.class_counts(ingest["splits"])
    shown = counts.drop(columns=[tables.SPLIT_LABELS["test"]])  # both halves are shown
    augmentation = []
    for mode, found in (augment or {}).get("modes", {}).items():
        augmentation.append({"mode": mode, "train": augment["train"], **found})
    return {
        "counts": counts,
        "totals": {tables.SPLIT_LABELS.get(k, k): v["total"] for k, v in ingest["splits"].items()},
        "chart": svg_uri(charts.class_distribution(shown)),
        "rows": ingest["rows"],
        "blank": ingest["blank_images"],
        "duplicates": [
            (DUPLICATE_LABELS.get(key, key.replace("_", " ")), value)
            for key, value in ingest["duplicates"].items()
        ],
        "augmentation": augmentation,
        "features": features,
    }


def competency(inputs: RunInputs, params: Params) -> dict[str, Any] | None:
    if inputs.competency is None or inputs.competency.empty:
        return None
    table = tables.competency(inputs.competency, list(params.competency.feature_sets))
    chart = (
        svg_uri(charts.competency(table.accuracy)) if table.accuracy.notna().any().any() else None
    )
    return {"table": table, "chart": chart, "train_rows": params.competency.train_rows}


def timing(ranked: list[ModelRun]) -> dict[str, Any] | None:
    timed = [
        m
        for m in ranked
        if m.ok and m.metrics.get("fit_seconds") and m.metrics.get("predict_ms_per_image")
    ]
    if not timed:
        return None
    names = [m.name for m in timed]
    fit = [m.metrics["fit_seconds"] for m in timed]
    predict = [m.metrics["predict_ms_per_image"] for m in timed]
    return {"chart": svg_uri(charts.timing(names, fit, predict))}


def _trials(run: ModelRun) -> pd.DataFrame | None:
    trials = run.trials
    if trials is None or not {"number", "value", "state"} <= set(trials.columns):
        return None
    return trials


def model(run: ModelRun) -> dict[str, Any]:
    """One model's detail: per-class scores, confusion heatmaps, search history, parameters."""
    scores = (run.metrics.get("test") or {}).get("all")
    trials = _trials(run)
    search = run.search or {}
    return {
        "name": run.name,
        "kind": run.kind,
        "metrics": run.metrics,
        "per_class": tables.per_class(scores) if scores else None,
        "confusion": svg_uri(charts.confusion(scores["confusion_matrix"])) if scores else None,
        "search": search,
        "trials": trials,
        "search_chart": svg_uri(charts.search_history(trials, search.get("metric", "score")))
        if trials is not None and len(trials)
        else None,
        "params_from": (run.train or {}).get("params_from"),
    }


def significance(
    ranked: list[ModelRun], y_true: np.ndarray, top: int, alpha: float
) -> dict[str, Any]:
    """McNemar's test between every pair of the ``top`` best models with per-image predictions."""
    candidates = [m for m in ranked if m.ok and m.predictions is not None][:top]
    tests = mcnemar.pairwise(y_true, {m.name: m.predictions for m in candidates}, alpha)
    return {"models": [m.name for m in candidates], "tests": tests, "alpha": alpha}


def faces(ranked: list[ModelRun], inputs: RunInputs, n: int, seed: int) -> dict[str, Any] | None:
    best = next((m for m in ranked if m.ok and m.predictions is not None), None)
    if best is None or n == 0:
        return None
    return {"model": best.name, **gallery.faces(inputs.test, best.predictions, n, seed)}


def cnn(run: ModelRun) -> dict[str, Any]:
    """Centre crop vs 10-crop scores, per test subset, and the training curves."""
    train = run.train or {}
    ms = train.get("predict_ms_per_image") or {}
    views = []
    for key, label, speed in (
        ("test_center_crop", "centre crop", ms.get("center_crop")),
        (
            "test",
            "10-crop (mean of the logits)",
            ms.get("ten_crop", run.metrics.get("predict_ms_per_image")),
        ),
    ):
        views.append({"label": label, "scores": run.metrics.get(key) or {}, "predict_ms": speed})
    best_epoch = train.get("best_epoch")
    curves = (
        svg_uri(charts.training_curves(run.history, best_epoch))
        if run.history is not None and len(run.history)
        else None
    )
    return {"name": run.name, "views": views, "train": train, "curves": curves}
