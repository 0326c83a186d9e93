"""A model's dev score: what ``ferbench predict`` chooses its default model by (never test)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score


def dev_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float | int]:
    """``n``, ``accuracy`` and ``macro_f1`` (scikit-learn, ``zero_division=0``) of predictions
    ``y_pred`` for labels ``y_true`` (int arrays of shape (n,))."""
    return {
        "n": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }
