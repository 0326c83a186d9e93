"""The train stage's fit-process tasks: score the chosen parameters on dev, then fit and save.

Like :mod:`models.tasks`, tasks have the form ``task(context, reporter, **kwargs)`` and live at
module level so the fit process of a :class:`models.worker.BudgetWorker` can unpickle them. The
context holds ``x``, ``y`` (the training rows, augmented copies included) and, when there is a
dev split, ``x_dev``, ``y_dev``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np

from fer_data.atomic import atomic_path
from models.devscore import dev_scores
from models.member_scores import class_scores
from models.registry import build_model, get_spec
from models.spec import BuildOptions, Reporter

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


def fit_and_score_dev(
    context: Mapping[str, Any],
    reporter: Reporter,
    model: str,
    params: Mapping[str, Any],
    options: BuildOptions,
    rows: np.ndarray | None = None,
    path: str | None = None,
) -> dict[str, Any]:
    """Fit on the training rows alone and score dev: the model's dev score before a refit.

    ``rows`` (int positions into ``context["x"]``; None: all) is the subsample fitted, which
    trades the dev score's fidelity for one cheaper fit. Also the per-class dev scores of that fit
    (``dev_class_scores`` float32 (n_dev, n_classes), ``score_kind``:
    :func:`models.member_scores.class_scores`), which the stacking ensemble learns from: they
    come from a model that never saw dev. With ``path`` the fit is saved there too (as
    :func:`fit_and_save` saves, ``model_bytes`` in the result): the evaluate stage scores it on
    test, so that the ensemble applies its meta-learner to the same fit it learnt from.
    """
    x, y = context["x"], context["y"]
    if rows is not None:
        x, y = x[rows], y[rows]
    pipeline = build_model(model, params, options)
    start = time.perf_counter()
    pipeline.fit(x, y)
    fit_seconds = time.perf_counter() - start
    scores = dev_scores(context["y_dev"], pipeline.predict(context["x_dev"]))
    per_class, kind = class_scores(pipeline, context["x_dev"], options.n_classes)
    result = {
        "dev": scores,
        "fit_seconds": fit_seconds,
        "dev_class_scores": per_class,
        "score_kind": kind,
    }
    if path is not None:
        result.update(_save(pipeline, model, path, context["x_dev"]))
    return result


def _exported(pipeline: Pipeline, export: Any, check_x: np.ndarray | None) -> tuple[Pipeline, dict]:
    """The saved form and the proof that it predicts as the fitted pipeline does."""
    saved = export(pipeline)
    rows = 0 if check_x is None else len(check_x)
    disagreements = 0
    if rows:
        disagreements = int(np.sum(saved.predict(check_x) != pipeline.predict(check_x)))
    return saved, {
        "form": type(saved[-1]).__name__,
        "rows_checked": rows,
        "disagreements": disagreements,
    }


def fit_and_save(
    context: Mapping[str, Any],
    reporter: Reporter,
    model: str,
    params: Mapping[str, Any],
    options: BuildOptions,
    path: str,
    with_dev: bool,
) -> dict[str, Any]:
    """Fit on the training rows (plus dev when ``with_dev``, appended after them) and save.

    A model whose spec has an ``export`` (the SVM) is saved in that form, checked on the dev
    rows to predict exactly what the fitted pipeline predicts. Without ``with_dev`` the saved
    model's dev scores come back too (it is the dev-scored model), with its per-class dev scores
    (``dev_class_scores``, as :func:`fit_and_score_dev`).
    """
    x, y = context["x"], context["y"]
    has_dev = "x_dev" in context
    if with_dev:
        x, y = np.vstack([x, context["x_dev"]]), np.concatenate([y, context["y_dev"]])
    pipeline = build_model(model, params, options)
    start = time.perf_counter()
    pipeline.fit(x, y)
    fit_seconds = time.perf_counter() - start
    result: dict[str, Any] = {"fit_seconds": fit_seconds}
    if has_dev and not with_dev:
        result["dev"] = dev_scores(context["y_dev"], pipeline.predict(context["x_dev"]))
        per_class, _ = class_scores(pipeline, context["x_dev"], options.n_classes)
        result["dev_class_scores"] = per_class
    result.update(_save(pipeline, model, path, context.get("x_dev")))
    return result


def _save(pipeline: Pipeline, model: str, path: str, check_x: np.ndarray | None) -> dict[str, Any]:
    """Save ``pipeline`` to ``path`` (joblib, atomically) in its spec's export form when it has
    one (the SVM), checked on ``check_x``; returns ``model_bytes``, ``score_kind`` and, for an
    export, ``exported`` (:func:`_exported`)."""
    result: dict[str, Any] = {}
    saved = pipeline
    export = get_spec(model).export
    if export is not None:
        saved, result["exported"] = _exported(pipeline, export, check_x)
    # What the per-class scores are: probabilities where the estimator has them.
    result["score_kind"] = "probability" if hasattr(saved, "predict_proba") else "ovr_decision"
    with atomic_path(path) as tmp:
        joblib.dump(saved, tmp)
    result["model_bytes"] = Path(path).stat().st_size
    return result
