"""Scoring a trained model on an external test set (cross-dataset evaluation).

The model's own class names (its model card's ``classes``) decide what is scored: faces of a class
the model has are predicted and scored over the model's label space; faces of any other class
(contempt, for a FER2013 model) are dropped and counted per class. Scores are those of the
FER2013 test split (:func:`models.metrics.score_subset`: accuracy, macro-F1, per-class table,
confusion matrix); when the set names subjects, the 95% intervals come from the cluster bootstrap
over subjects (Field & Welsh, "Bootstrapping clustered data", JRSS-B 2007): several images of one
person are not independent, and resampling images would make the intervals too narrow.

Macro-F1 averages over all of the model's classes, so a class the external set lacks counts with
F1 0 when the model predicts it and 0 when it does not: compare macro-F1 only between models on
the same set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from fer_data.external import ExternalSet
from models.metrics import score_subset
from models.records import ExternalScores, Status


class PredictError(Exception):
    """A prediction that failed or ran out of time: ``status`` and ``error`` for the record."""

    def __init__(self, status: Status, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error


def score_external_set(
    table: ExternalSet,
    classes: Sequence[str],
    predict: Callable[[np.ndarray], np.ndarray],
    n_boot: int,
    seed: int,
) -> ExternalScores:
    """Score one model on one external set.

    Parameters
    ----------
    table : ExternalSet
        The faces, uint8 (n, 48, 48), with class names (and subjects, when given).
    classes : sequence of str
        The model's class names in code order (its card's ``classes``); matched ignoring case.
    predict : callable
        uint8 (m, 48, 48) faces -> int64 (m,) codes into ``classes``; raises
        :class:`PredictError` when the prediction fails or outlasts its budget.
    n_boot : int
        Bootstrap resamples for the intervals (0: none).
    seed : int
        Seed of the resamples.

    Returns
    -------
    ExternalScores
        ``status`` ``ok`` with scores; ``skipped`` when no face is of the model's classes;
        the failure's status and error when ``predict`` raised :class:`PredictError`.
    """
    code = {name.lower(): k for k, name in enumerate(classes)}
    y_true = np.asarray([code.get(str(e).lower(), -1) for e in table.emotion], np.int64)
    keep = y_true >= 0
    dropped = dict(sorted(Counter(table.emotion[~keep].tolist()).items()))
    kept = table.take(keep)
    base = {
        "path": str(table.meta.get("path", "")),
        "n_images": int(keep.sum()),
        "n_subjects": kept.n_subjects,
        "bootstrap": "images" if kept.subject is None else "subjects",
        "dropped": dropped,
    }
    if not keep.any():
        return ExternalScores(
            **base, scores=None, status="skipped", error="no face of the model's classes"
        )
    try:
        y_pred = np.asarray(predict(kept.images), np.int64)
    except PredictError as failed:
        return ExternalScores(**base, scores=None, status=failed.status, error=failed.error)
    scores = score_subset(y_true[keep], y_pred, n_boot, seed, list(classes), kept.subject)
    return ExternalScores(**base, scores=scores, status="ok")


def score_external(
    sets: Sequence[ExternalSet],
    classes: Sequence[str],
    predict: Callable[[np.ndarray], np.ndarray],
    n_boot: int,
    seed: int,
) -> dict[str, ExternalScores]:
    """:func:`score_external_set` for each set, keyed by the set's name."""
    return {t.name: score_external_set(t, classes, predict, n_boot, seed) for t in sets}
