"""Per-image test predictions, aligned across models for McNemar's test and the gallery.

The evaluate (and cnn) stage writes ``results/plots/confusion/<model>.csv``, one
``actual,predicted`` row per test image in the order of the test table
(``data/ingested/test.feather``, which the feature store's test rows follow). When the file
carries a ``row_id`` column it is aligned on that; otherwise on position, after checking that its
``actual`` column is the test table's labels, so a file from another ordering fails loudly
instead of pairing the wrong images.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from fer_data.atomic import atomic_path
from fer_data.faces import EMOTIONS


class AlignmentError(ValueError):
    """A predictions file does not line up with the test table."""


def _codes(names: pd.Series, path: Path, column: str, classes: Sequence[str]) -> np.ndarray:
    codes = names.map({name: k for k, name in enumerate(classes)})
    if codes.isna().any():
        bad = sorted(set(names[codes.isna()].astype(str)))[:5]
        raise AlignmentError(
            f"{path}: unknown {column} labels {bad}; expected {', '.join(classes)}"
        )
    return codes.to_numpy(np.int64)


def write_predictions(
    path: Path, y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str] | None = None
) -> Path:
    """Write one ``actual,predicted`` row (class names) per test image, atomically.

    ``y_true`` and ``y_pred``: int class codes of shape (n,), in the test table's order;
    ``classes``: the label space's names (default FER2013's 7 emotions; FER+ has 8).
    """
    names = np.asarray(EMOTIONS if classes is None else classes)
    frame = pd.DataFrame({"actual": names[y_true], "predicted": names[y_pred]})
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path


def parse_predictions(
    frame: pd.DataFrame, where: str, classes: Sequence[str] = EMOTIONS
) -> tuple[np.ndarray, np.ndarray] | None:
    """The ``actual`` and ``predicted`` class codes of a predictions file read as ``frame``.

    For files read outside the workspace (another commit's, ``ferbench compare``), where there is
    no test table to align with: two int64 arrays of shape (n,) in the file's row order, or None
    for a failed model's empty file. ``where`` names the file in errors; ``classes`` are the
    label space's names in code order (the run's ``DataSource.classes``).

    Raises
    ------
    AlignmentError
        A column is missing or holds an unknown emotion name.
    """
    if frame.empty:
        return None
    missing = {"actual", "predicted"} - set(frame.columns)
    if missing:
        raise AlignmentError(f"{where}: no {', '.join(sorted(missing))} column")
    path = Path(where)
    return (
        _codes(frame["actual"], path, "actual", classes),
        _codes(frame["predicted"], path, "predicted", classes),
    )


def read_predictions(
    path: Path,
    labels: np.ndarray,
    row_id: np.ndarray | None = None,
    classes: Sequence[str] | None = None,
) -> np.ndarray | None:
    """Predicted class codes aligned with ``labels`` (the test table); None when there are none.

    A model that failed has an empty file (header only) or none at all. ``classes``: the label
    space's names, in code order (default FER2013's 7 emotions; FER+ has 8).
    """
    classes = EMOTIONS if classes is None else classes
    if not path.exists():
        return None
    frame = pd.read_csv(path)
    if frame.empty:
        return None
    labels = np.asarray(labels, np.int64)
    if "row_id" in frame.columns and row_id is not None:
        position = pd.Series(np.arange(len(row_id)), index=row_id)
        missing = ~frame["row_id"].isin(position.index)
        if missing.any() or len(frame) != len(row_id):
            raise AlignmentError(f"{path}: its row_id column does not match the test table's rows")
        frame = frame.iloc[np.argsort(position[frame["row_id"]].to_numpy())]
    if len(frame) != len(labels):
        raise AlignmentError(f"{path}: {len(frame)} predictions for {len(labels)} test images")
    if not np.array_equal(_codes(frame["actual"], path, "actual", classes), labels):
        raise AlignmentError(f"{path}: its actual labels are not the test table's, row by row")
    return _codes(frame["predicted"], path, "predicted", classes)
