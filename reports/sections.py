"""Each section of the report as the data its template shows: tables, chart URIs, verdicts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features.records import FeatureMetrics
from fer_data.duplicates import DuplicatesMetrics
from fer_data.faces import MAIN_ORIGIN
from fer_data.records import AugmentMetrics, DataSource
from models.records import CnnTrainRecord, TrainRecord
from reports import charts, gallery, mcnemar, summary, tables
from reports.embed import svg_uri
from reports.inputs import ModelRun, RunInputs
from reports.summary import ParamChange

DUPLICATE_LABELS = {
    "groups": "groups of pixel-identical images",
    "rows_in_groups": "images in those groups",
    "groups_with_conflicting_labels": "groups whose copies carry different labels",
    "groups_straddling_train_and_test": "groups with copies in both train and test",
    "test_rows_with_a_copy_in_train": "test images with an identical image in train",
    "groups_straddling_train_and_dev": "groups with copies in both train and dev",
}


def run_summary(
    source: DataSource, commit: str, changes: list[ParamChange] | None, baseline: str
) -> dict[str, Any]:
    """Data source, commit, date, machine, and the parameters that differ from ``baseline`` (a
    label); ``changes`` is None when there was nothing to compare with."""
    return {
        "source": source,
        "commit": commit,
        "date": summary.now(),
        "machine": summary.machine(),
        "changes": changes or [],
        "compared": changes is not None,
        "baseline": baseline,
    }


def extra_sources(ingest: dict[str, Any]) -> dict[str, Any] | None:
    """The extra training sources of ``metrics/ingest.json`` (``extra_train``): faces added per
    class and source (``table``), and each source's counts as (label, value) pairs
    (``sources``); None when there is none."""
    found = ingest.get("extra_train") or {}
    if not found:
        return None
    classes = [c for c in ingest["splits"]["train"] if c != "total"]
    table = pd.DataFrame(
        {name: [info["added"].get(c, 0) for c in classes] for name, info in found.items()},
        index=classes,
    )
    sources = {}
    for name, info in found.items():
        pairs = [
            ("path", info["path"]),
            ("reader", info["reader"]),
            ("read (rows or files)", info["rows_read"]),
        ]
        pairs += [(f"rejected: {r}", n) for r, n in info["rejected_by_reason"].items()]
        pairs += [(f"dropped: {r}", sum(c.values())) for r, c in info["dropped"].items()]
        pairs += [
            ("identical to a FER2013 train image (kept)", info["identical_to_fer2013_training"]),
            ("identical to an earlier extra image (kept)", info["identical_to_extra"]),
            ("added to train", info["added"]["total"]),
            ("max_rows", f"{info['max_rows']} ({info['draw']})"),
        ]
        sources[name] = pairs
    return {"table": table, "sources": sources}


def data(
    ingest: dict[str, Any], augment: AugmentMetrics | None, features: FeatureMetrics | None
) -> dict[str, Any]:
    counts = tables.class_counts(ingest["splits"])
    shown = counts.drop(columns=[tables.SPLIT_LABELS["test"]])  # both halves are shown
    augmentation = []
    for mode, found in (augment.modes if augment else {}).items():
        extra_copies = {
            origin: counts
            for origin, counts in (found.added_by_origin or {}).items()
            if origin != MAIN_ORIGIN and counts.get("total")
        }
        augmentation.append(
            {"mode": mode, "train": augment.train, **found.to_json(), "extra": extra_copies}
        )
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
        "extra": extra_sources(ingest),
        "features": features,
    }


def competency(inputs: RunInputs) -> dict[str, Any] | None:
    if inputs.competency is None or inputs.competency.empty:
        return None
    table = tables.competency(inputs.competency, inputs.competency_sets)
    chart = (
        svg_uri(charts.competency(table.accuracy)) if table.accuracy.notna().any().any() else None
    )
    return {"table": table, "chart": chart, "train_rows": inputs.competency_rows}


def timing(ranked: list[ModelRun]) -> dict[str, Any] | None:
    timed = [m for m in ranked if m.ok and m.metrics.fit_seconds and m.metrics.predict_ms_per_image]
    if not timed:
        return None
    names = [m.name for m in timed]
    fit = [m.metrics.fit_seconds for m in timed]
    predict = [m.metrics.predict_ms_per_image for m in timed]
    return {"chart": svg_uri(charts.timing(names, fit, predict))}


def _trials(run: ModelRun) -> pd.DataFrame | None:
    trials = run.trials
    if trials is None or not {"number", "value", "state"} <= set(trials.columns):
        return None
    return trials


def model(run: ModelRun) -> dict[str, Any]:
    """One model's detail: per-class scores, confusion heatmaps, search history, parameters."""
    scores = run.scores("all")
    trials = _trials(run)
    metric = (run.search.metric if run.search else None) or "score"
    return {
        "name": run.name,
        "kind": run.kind,
        "metrics": run.metrics,
        "per_class": tables.per_class(scores) if scores else None,
        "confusion": svg_uri(charts.confusion(scores.confusion_matrix, list(scores.per_class)))
        if scores
        else None,
        "search": run.search,
        "trials": trials,
        "search_chart": svg_uri(charts.search_history(trials, metric))
        if trials is not None and len(trials)
        else None,
        "params_from": run.train.params_from if isinstance(run.train, TrainRecord) else None,
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
    train = run.train if isinstance(run.train, CnnTrainRecord) else None
    ms = train.predict_ms_per_image if train else {}
    views = [
        {
            "label": "centre crop",
            "scores": run.metrics.test_center_crop,
            "predict_ms": ms.get("center_crop"),
        },
        {
            "label": "10-crop (mean of the logits)",
            "scores": run.metrics.test,
            "predict_ms": ms.get("ten_crop", run.metrics.predict_ms_per_image),
        },
    ]
    best_epoch = train.best_epoch if train else None
    curves = (
        svg_uri(charts.training_curves(run.history, best_epoch))
        if run.history is not None and len(run.history)
        else None
    )
    return {"name": run.name, "views": views, "train": train, "curves": curves}


def leakage(copies: DuplicatesMetrics | None, ranked: list[ModelRun]) -> dict[str, Any] | None:
    """Test images with a copy in train + dev (``metrics/duplicates.json``), and every scored
    model's accuracy and macro-F1 on all test images beside those without a copy."""
    if copies is None:
        return None
    rows = []
    for run in ranked:
        full, clean = run.scores("all"), run.scores("clean")
        if run.ok:
            rows.append(
                {
                    "name": run.name,
                    "all": full,
                    "clean": clean,
                    "drop": None if clean is None else full.accuracy - clean.accuracy,
                }
            )
    return {"copies": copies, "rows": rows}
