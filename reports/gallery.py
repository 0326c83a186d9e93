"""A sample of test faces the best model got right and got wrong, spread over the true classes."""

from __future__ import annotations

from typing import Any

import numpy as np

from fer_data.faces import FaceTable
from reports.embed import png_uri


def spread_sample(candidates: np.ndarray, classes: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Up to ``n`` of ``candidates`` (indices), taking the classes in turn, randomly within each.

    A plain random sample of the right answers would be mostly Happy; taking the classes in turn
    shows every class that has candidates. The result is ordered by class.
    """
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(candidates)
    cls = classes[shuffled]
    # Position of each candidate among its class's candidates: 0 for the first of each class, ...
    turn = np.empty(len(shuffled), np.int64)
    for k in np.unique(cls):
        members = cls == k
        turn[members] = np.arange(members.sum())
    chosen = shuffled[np.lexsort((cls, turn))[:n]]
    return chosen[np.argsort(classes[chosen], kind="stable")]


def faces(
    test: FaceTable, predicted: np.ndarray, n: int, seed: int
) -> dict[str, list[dict[str, Any]]]:
    """``{"right": [...], "wrong": [...]}``: up to ``n`` faces each, with labels and image URI."""
    actual = test.emotion.astype(np.int64)
    names = test.classes  # the label space: FER2013's 7 emotions or FER+'s 8 classes
    right = predicted == actual
    out: dict[str, list[dict[str, Any]]] = {}
    for key, mask, stream in (("right", right, 1), ("wrong", ~right, 2)):
        picked = spread_sample(np.flatnonzero(mask), actual, n, seed + stream)
        out[key] = [
            {
                "uri": png_uri(test.images[i]),
                "actual": names[actual[i]],
                "predicted": names[predicted[i]],
                "usage": str(test.usage[i]),
                "row_id": int(test.row_id[i]),
            }
            for i in picked
        ]
    return out
