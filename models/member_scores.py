"""Per-class scores of a model on one split, saved for the stacking ensemble (models.ensemble).

A scores file (``.npz``, written by the train, evaluate and cnn stages) holds, for the rows of one
split: ``scores`` float32 (n, n_classes), ``row_id`` int64 (n,) (the ingested table's row ids, so
that members line up row by row), ``labels`` int64 (n,), ``kind`` (``probability``: class
probabilities, ``predict_proba`` or a CNN's softmax; ``ovr_decision``: ``decision_function``
values of shape (n, n_classes), for estimators without probabilities such as the RBF-SVM) and
``fitted_on`` (what the model had seen when it scored these rows: for dev, never dev itself; a
model's dev and test files come from one fit, so they say the same).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from fer_data.atomic import atomic_path

SCORE_KINDS = ("probability", "ovr_decision")


@dataclass(frozen=True)
class ClassScores:
    """One model's per-class scores on the rows of one split (see the module docstring)."""

    scores: np.ndarray  # float32 (n, n_classes)
    row_id: np.ndarray  # int64 (n,)
    labels: np.ndarray  # int64 (n,)
    kind: str  # one of SCORE_KINDS
    fitted_on: str

    def __post_init__(self) -> None:
        n = len(self.row_id)
        if self.scores.ndim != 2 or len(self.scores) != n or len(self.labels) != n:
            raise ValueError(
                f"scores {self.scores.shape}, row_id ({n},) and labels ({len(self.labels)},) "
                "must have one row per image"
            )
        if self.kind not in SCORE_KINDS:
            raise ValueError(f"score kind {self.kind!r}: expected one of {', '.join(SCORE_KINDS)}")


def class_scores(estimator: Any, x: np.ndarray, n_classes: int) -> tuple[np.ndarray, str]:
    """Per-class scores of a fitted scikit-learn classifier (or pipeline) on ``x``.

    ``predict_proba`` where the estimator has it (``probability``), else ``decision_function``
    in scikit-learn's ``ovr`` shape (``ovr_decision``). Columns follow the class codes
    0..``n_classes`` - 1: a class absent from training gets probability 0, or NaN for a decision
    value (undefined).

    Parameters
    ----------
    estimator : fitted classifier with ``classes_``
    x : ndarray of shape (n, d), float32
    n_classes : int
        Classes of the label space (7 FER2013, 8 FER+).

    Returns
    -------
    scores : ndarray of shape (n, n_classes), float32
    kind : str
        ``probability`` or ``ovr_decision``.
    """
    if hasattr(estimator, "predict_proba"):
        raw, kind, fill = estimator.predict_proba(x), "probability", 0.0
    else:
        raw, kind, fill = estimator.decision_function(x), "ovr_decision", np.nan
    raw = np.asarray(raw, np.float64)
    if raw.ndim == 1:  # two classes: scikit-learn's one column is the second class's
        raw = np.column_stack([-raw, raw])
    full = np.full((len(x), n_classes), fill, np.float32)
    full[:, np.asarray(estimator.classes_, np.int64)] = raw
    return full, kind


def save_scores(path: Path, scores: ClassScores) -> Path:
    """Write ``scores`` to ``path`` (``.npz``, atomically); returns ``path``."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(
            handle,
            scores=np.asarray(scores.scores, np.float32),
            row_id=np.asarray(scores.row_id, np.int64),
            labels=np.asarray(scores.labels, np.int64),
            kind=np.array(scores.kind),
            fitted_on=np.array(scores.fitted_on),
        )
    return path


def load_scores(path: Path) -> ClassScores:
    """Read a file written by :func:`save_scores`.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The file is not a scores file (a key is missing or the shapes disagree).
    """
    with np.load(path, allow_pickle=False) as data:
        missing = {"scores", "row_id", "labels", "kind", "fitted_on"} - set(data.files)
        if missing:
            raise ValueError(f"{path}: not a class-scores file (no {', '.join(sorted(missing))})")
        return ClassScores(
            scores=data["scores"],
            row_id=data["row_id"],
            labels=data["labels"],
            kind=str(data["kind"]),
            fitted_on=str(data["fitted_on"]),
        )


def load_predict_and_score(
    context: Mapping[str, Any],
    reporter: Any,
    path: str,
    x: np.ndarray,
    n_classes: int,
    scores_path: str | None = None,
) -> dict[str, Any]:
    """Load a saved pipeline, predict ``x`` (timed) and score it per class (not timed).

    The evaluate stage's fit-process task: :func:`models.tasks.load_and_predict`'s
    ``predictions`` int64 (m,) and ``predict_seconds``, plus ``scores`` float32
    (m, n_classes) and ``score_kind`` (:func:`class_scores`). ``path``: a pipeline saved by
    :func:`models.fitting.fit_and_save` (joblib; trusted files only). ``scores_path``: another
    saved pipeline whose scores are wanted instead (the dev-scored fit beside a refit, so that the
    ensemble's dev and test scores come from one fit); None: ``path``'s.
    """
    pipeline = joblib.load(path)
    start = time.perf_counter()
    predictions = pipeline.predict(x)
    seconds = time.perf_counter() - start
    scored = pipeline if scores_path is None else joblib.load(scores_path)
    scores, kind = class_scores(scored, x, n_classes)
    return {
        "predictions": np.asarray(predictions, np.int64),
        "predict_seconds": seconds,
        "scores": scores,
        "score_kind": kind,
    }
