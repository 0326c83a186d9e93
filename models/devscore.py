"""A model's dev score: what ``ferbench predict`` chooses its default model by (never test)."""

from __future__ import annotations

import numpy as np

from models.metrics import confusion, per_class_f1


def dev_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float | int]:
    """``n``, ``accuracy`` and ``macro_f1`` of predictions ``y_pred`` for labels ``y_true``.

    The values of scikit-learn's ``accuracy_score`` and ``f1_score(average="macro",
    zero_division=0)``: macro-F1 averages over the classes present in either array.

    Parameters
    ----------
    y_true, y_pred : ndarray of shape (n,), int
        Class codes, non-negative.

    Returns
    -------
    dict
        ``n`` (int), ``accuracy`` and ``macro_f1`` (floats in [0, 1]; 0.0 for no rows).
    """
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    labels = np.union1d(y_true, y_pred)
    if not len(labels):
        return {"n": 0, "accuracy": 0.0, "macro_f1": 0.0}
    cm = confusion(y_true, y_pred, int(labels[-1]) + 1)
    return {
        "n": len(y_true),
        "accuracy": float(np.trace(cm) / len(y_true)),
        "macro_f1": float(per_class_f1(cm)[labels].mean()),
    }
