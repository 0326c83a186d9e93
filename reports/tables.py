"""The report's tables as plain rows: values exactly as the metrics files hold them.

Formatting (percentages, intervals, units) belongs to the templates' filters, so a table cell can
carry the raw value for sorting and for tests next to the text it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from fer_data.faces import EMOTIONS
from models.records import Scores
from reports.inputs import ModelRun

SUBSETS = {"all": "Both", "public": "PublicTest", "private": "PrivateTest"}
SPLIT_LABELS = {
    "train": "train",
    "dev": "dev",
    "test": "test (both)",
    "test_public": "PublicTest",
    "test_private": "PrivateTest",
}


def rank(models: list[ModelRun], metric: str) -> list[ModelRun]:
    """Scored models best first on ``metric`` over the whole test split, then the unscored ones."""
    scored = sorted((m for m in models if m.ok), key=lambda m: -m.score(metric))
    return scored + [m for m in models if not m.ok]


def leaderboard(models: list[ModelRun]) -> list[dict[str, Any]]:
    """One row per model: its scores per test subset (None when unscored) and its costs."""
    rows = []
    for position, run in enumerate(models, start=1):
        metrics = run.metrics
        rows.append(
            {
                "rank": position if run.ok else None,
                "name": run.name,
                "kind": run.kind,
                "feature_set": metrics.feature_set,
                "augmentation": metrics.augmentation,
                "status": metrics.status,
                "error": metrics.error,
                "subsets": {key: run.scores(key) for key in SUBSETS},
                "clean": run.scores("clean"),  # both halves, without the copies of training images
                "fit_seconds": metrics.fit_seconds,
                "predict_ms": metrics.predict_ms_per_image,
                "model_bytes": metrics.model_bytes,
                "external": metrics.external,  # per evaluate.external set (a column each)
                "kfold": metrics.kfold,  # evaluate.protocol kfold; None with holdout
            }
        )
    return rows


def subset_sizes(models: list[ModelRun]) -> dict[str, int | None]:
    """Test images in each subset, from the first scored model (every model scores the same)."""
    scored = next((m for m in models if m.ok), None)
    sizes = {}
    for key in SUBSETS:
        scores = None if scored is None else scored.scores(key)
        sizes[key] = None if scores is None else scores.n
    return sizes


def per_class(scores: Scores) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support per class of one subset's scores, then the averages."""
    # The scores' own classes, in code order (FER2013's 7 or FER+'s 8).
    rows = [{"label": name, **found.to_json()} for name, found in scores.per_class.items()]
    rows.append(
        {
            "label": "macro average",
            "precision": sum(r["precision"] for r in rows) / len(rows),
            "recall": sum(r["recall"] for r in rows) / len(rows),
            "f1": scores.macro_f1,
            "support": scores.n,
        }
    )
    rows.append(
        {
            "label": "weighted average",
            "precision": scores.weighted_precision,
            "recall": scores.weighted_recall,
            "f1": scores.weighted_f1,
            "support": scores.n,
        }
    )
    return rows


@dataclass(frozen=True)
class CompetencyTable:
    feature_sets: list[str]
    rows: list[dict[str, Any]]  # model, cells {feature_set: {status, accuracy, macro_f1, best}}
    accuracy: pd.DataFrame  # models x feature sets, NaN where a cell has no score


def competency(table: pd.DataFrame, feature_sets: list[str]) -> CompetencyTable:
    """Models x feature sets from ``results/competency.csv``; each model's best cell marked."""
    sets = list(dict.fromkeys([*feature_sets, *table["feature_set"]]))
    rows = []
    for model, cells in table.groupby("model", sort=False):
        by_set = {cell.feature_set: cell for cell in cells.itertuples(index=False)}
        scored = {
            fs: c.accuracy for fs, c in by_set.items() if c.status == "ok" and pd.notna(c.accuracy)
        }
        best = max(scored, key=scored.get) if scored else None
        rows.append(
            {
                "model": model,
                "best": best,
                "cells": {
                    fs: None
                    if fs not in by_set
                    else {
                        "status": by_set[fs].status,
                        "accuracy": _number(by_set[fs].accuracy),
                        "macro_f1": _number(by_set[fs].macro_f1),
                        "fit_seconds": _number(by_set[fs].fit_seconds),
                        "train_rows": _number(by_set[fs].train_rows),
                        "best": fs == best,
                    }
                    for fs in sets
                },
            }
        )
    accuracy = pd.DataFrame(
        {fs: [(r["cells"][fs] or {}).get("accuracy") for r in rows] for fs in sets},
        index=[r["model"] for r in rows],
        dtype=float,
    )
    return CompetencyTable(sets, rows, accuracy)


def _number(value: Any) -> float | None:
    return None if pd.isna(value) else float(value)


def class_counts(splits: dict[str, dict[str, int]]) -> pd.DataFrame:
    """Classes x splits (train, dev, PublicTest, PrivateTest, ...) from ``metrics/ingest.json``."""
    # The label space's classes, in code order: every split's keys but "total".
    classes = [k for k in next(iter(splits.values()), {}) if k != "total"] or list(EMOTIONS)
    frame = pd.DataFrame(
        {SPLIT_LABELS.get(k, k): {e: v[e] for e in classes} for k, v in splits.items()}
    )
    return frame.loc[classes]
