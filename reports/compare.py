"""The comparison page: several experiments (or commits) side by side, as one HTML file.

For each experiment: the parameters that differ between them, each model's test accuracy and
macro-F1 with their 95% intervals, and, for each model, every pair of experiments tested with
McNemar's exact test on the same test images (Holm-adjusted over that model's pairs): the
report's own test (:mod:`reports.mcnemar`), applied across experiments instead of across models.
:mod:`pipeline.compare` reads the experiments from git / DVC and calls :func:`render_compare`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from fer_data.errors import DataError
from fer_data.records import DataSource
from models.records import ModelMetrics
from reports.mcnemar import pairwise
from reports.render import render
from reports.summary import now

NOT_SET = "not set"  # a parameter one experiment's params.yaml does not have


@dataclass
class Experiment:
    """One experiment's results, as read from its commit (or the workspace).

    Attributes
    ----------
    name : str
        As the user named it (experiment name, branch, tag, commit or ``workspace``).
    commit : str
        The commit it was read from (full SHA), or ``workspace``.
    params : dict
        Its params.yaml, flattened to dotted keys (``cnn.mini_xception.lr``).
    metrics : dict of str to ModelMetrics
        Each model's test metrics (``metrics/models/<model>.json``).
    predictions : dict of str to (ndarray, ndarray)
        Each model's per-image test labels and predictions, int64 class codes of shape (n,).
    test_md5 : str or None
        ``data/ingested/test.feather``'s hash in its ``dvc.lock``; None where none is recorded.
    source : DataSource or None
        The data it ran on.
    """

    name: str
    commit: str
    params: dict[str, Any]
    metrics: dict[str, ModelMetrics]
    predictions: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    test_md5: str | None = None
    source: DataSource | None = None


def check_same_test_images(experiments: list[Experiment]) -> None:
    """Raise :class:`DataError` unless every experiment was scored on the same test images.

    The test table's hash in ``dvc.lock`` decides where the experiments record it; the
    per-image true labels of every predictions file must agree as well.
    """
    hashed = [e for e in experiments if e.test_md5]
    for other in hashed[1:]:
        if other.test_md5 != hashed[0].test_md5:
            raise DataError(
                f"{hashed[0].name} and {other.name} were scored on different test images "
                f"(data/ingested/test.feather {hashed[0].test_md5} vs {other.test_md5} in their "
                "dvc.lock): McNemar's test needs the same images; compare runs on the same data"
            )
    first: tuple[str, np.ndarray] | None = None
    for experiment in experiments:
        for model, (actual, _) in experiment.predictions.items():
            if first is None:
                first = (f"{experiment.name}'s {model}", actual)
            elif len(actual) != len(first[1]) or not np.array_equal(actual, first[1]):
                raise DataError(
                    f"{experiment.name}'s {model} and {first[0]} were scored on different test "
                    f"images ({len(actual)} vs {len(first[1])} rows, or other labels row by row): "
                    "McNemar's test needs the same images; compare runs on the same data"
                )


def differing_params(experiments: list[Experiment]) -> list[dict[str, Any]]:
    """Each parameter whose value is not the same in every experiment: key and values."""
    keys = sorted({key for e in experiments for key in e.params})
    rows = []
    for key in keys:
        values = [e.params.get(key, NOT_SET) for e in experiments]
        if any(v != values[0] for v in values[1:]):
            rows.append({"key": key, "values": values})
    return rows


def _model_names(experiments: list[Experiment]) -> list[str]:
    names: list[str] = []
    for experiment in experiments:
        names += [m for m in experiment.metrics if m not in names]
    return names


def metric_rows(experiments: list[Experiment]) -> list[dict[str, Any]]:
    """Per model, per experiment: its test scores over all test images (None when unscored)."""
    rows = []
    for model in _model_names(experiments):
        cells = []
        for experiment in experiments:
            metrics = experiment.metrics.get(model)
            scores = metrics.test.all if metrics is not None and metrics.ok else None
            cells.append(
                {
                    "status": "not run" if metrics is None else metrics.status,
                    "scores": scores,
                }
            )
        rows.append({"model": model, "cells": cells})
    return rows


def significance(experiments: list[Experiment], alpha: float) -> list[dict[str, Any]]:
    """Per model scored in two experiments or more: McNemar between every pair of them.

    Holm's correction runs over the pairs of one model (the family of one question: did the
    change make this model better?), as the report's runs over its pairs of models.
    """
    out = []
    for model in _model_names(experiments):
        having = [e for e in experiments if model in e.predictions and e.metrics[model].ok]
        if len(having) < 2:
            continue
        y_true = having[0].predictions[model][0]
        predictions = {e.name: e.predictions[model][1] for e in having}
        accuracy = {e.name: e.metrics[model].test.all.accuracy for e in having}
        pairs = [
            {"test": t, "acc_a": accuracy[t.a], "acc_b": accuracy[t.b]}
            for t in pairwise(y_true, predictions, alpha)
        ]
        out.append({"model": model, "n": len(y_true), "pairs": pairs})
    return out


def context(experiments: list[Experiment], alpha: float) -> dict[str, Any]:
    """What ``compare.html.j2`` shows.

    Raises
    ------
    DataError
        Fewer than two experiments, two with one name, or different test images.
    """
    if len(experiments) < 2:
        raise DataError(f"compare needs two experiments or more, got {len(experiments)}")
    names = [e.name for e in experiments]
    for a, b in combinations(names, 2):
        if a == b:
            raise DataError(f"experiment {a!r} is named twice; name each one once")
    check_same_test_images(experiments)
    return {
        "date": now(),
        "alpha": alpha,
        "experiments": experiments,
        "synthetic": [e.name for e in experiments if e.source is not None and e.source.synthetic],
        "params": differing_params(experiments),
        "metrics": metric_rows(experiments),
        "significance": significance(experiments, alpha),
    }


def render_compare(experiments: list[Experiment], alpha: float) -> str:
    """The comparison page (self-contained HTML: styles and script inline, no network)."""
    return render(context(experiments, alpha), "compare.html.j2")
