"""The feature store: one folder per split, one ``.npy`` per stored feature set, row-aligned.

Layout (``features_dir`` is ``data/features`` by default)::

    <features_dir>/<split>/pixels.npy     uint8   (n, 2304)
    <features_dir>/<split>/hog.npy        float32 (n, 900)
    <features_dir>/<split>/landmarks.npy  float32 (n, 136)
    <features_dir>/<split>/lbp.npy        float32 (n, 490)    } only the sets listed in
    <features_dir>/<split>/sift_bovw.npy  float32 (n, 1280)   } features.sets are built
    <features_dir>/<split>/hog_multi.npy  float32 (n, 2988)   }
    <features_dir>/<split>/rows.feather   row_id, aug, emotion, usage (key + labels)
    <features_dir>/sift_vocabulary.npy    float32 (words, 128), learnt on train (sift_bovw only)

Splits are ``train``, ``dev``, ``test`` and one ``aug_<mode>`` per augmentation mode (the augmented
copies only; a model trained with a mode sees ``train`` plus ``aug_<mode>``). ``hog_landmarks``
(and every ``<appearance>_landmarks``) is not stored: it is the concatenation of the appearance
set and ``landmarks``, built on load.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather

from features.names import COMPOSITES, FEATURE_SETS, STORED_SETS
from fer_data.atomic import atomic_path

__all__ = ["COMPOSITES", "FEATURE_SETS", "STORED_SETS"]
ROWS_FILE = "rows.feather"


def _check_name(feature_set: str) -> None:
    if feature_set not in FEATURE_SETS:
        raise ValueError(
            f"unknown feature set {feature_set!r}; expected one of {', '.join(FEATURE_SETS)}"
        )


def _array_path(split_dir: str | os.PathLike[str], name: str) -> Path:
    return Path(split_dir) / f"{name}.npy"


def save_array(split_dir: str | os.PathLike[str], name: str, array: np.ndarray) -> Path:
    """Store feature set ``name`` of one split (``<features_dir>/<split>``), atomically.

    Parameters
    ----------
    split_dir : str or os.PathLike
        The split's folder; created if missing.
    name : str
        Stored feature set, e.g. ``"pixels"``, ``"hog"`` or ``"landmarks"`` (not checked).
    array : ndarray of shape (n, d)
        Row-aligned with the split's ``rows.feather``; saved as is with ``np.save`` (pixels
        uint8 (n, 2304), hog float32 (n, 900), landmarks float32 (n, 136)).

    Returns
    -------
    pathlib.Path
        ``<split_dir>/<name>.npy``.

    Raises
    ------
    OSError
        If the file cannot be written; an existing file is then left as it was.
    """
    path = _array_path(split_dir, name)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, array)
    return path


def save_rows(split_dir: str | os.PathLike[str], rows: pd.DataFrame) -> Path:
    """Store a split's ``row_id, aug, emotion, usage`` keys, atomically.

    Parameters
    ----------
    split_dir : str or os.PathLike
        The split's folder; created if missing.
    rows : pandas.DataFrame of n rows
        One row per feature row, in array order; the features stage writes ``row_id`` int64,
        ``aug`` int16, ``emotion`` int8 and ``usage`` str. The index is dropped.

    Returns
    -------
    pathlib.Path
        ``<split_dir>/rows.feather``.

    Raises
    ------
    OSError
        If the file cannot be written; an existing file is then left as it was.
    """
    path = Path(split_dir) / ROWS_FILE
    with atomic_path(path) as tmp:
        feather.write_feather(pa.Table.from_pandas(rows, preserve_index=False), tmp)
    return path


def save_vocabulary(path: str | os.PathLike[str], vocabulary: np.ndarray) -> Path:
    """Store the dense-SIFT vocabulary (float32 (words, 128)) at ``path``, atomically.

    Raises
    ------
    OSError
        If the file cannot be written; an existing file is then left as it was.
    """
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, np.asarray(vocabulary, np.float32))
    return path


def load_vocabulary(path: str | os.PathLike[str]) -> np.ndarray:
    """The dense-SIFT vocabulary saved by :func:`save_vocabulary`: float32 (words, 128).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist (the features stage writes it when ``sift_bovw`` is built).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist; run the features stage with sift_bovw in features.sets"
        )
    return np.load(path).astype(np.float32, copy=False)


def load_rows(features_dir: str | os.PathLike[str], split: str) -> pd.DataFrame:
    """``row_id, aug, emotion, usage`` of a split, in the order of its feature arrays.

    Parameters
    ----------
    features_dir : str or os.PathLike
        Root of the feature store.
    split : str
        ``"train"``, ``"dev"``, ``"test"`` or ``"aug_<mode>"``.

    Returns
    -------
    pandas.DataFrame of n rows
        The columns as :func:`save_rows` stored them.

    Raises
    ------
    FileNotFoundError
        If the split's ``rows.feather`` does not exist.
    """
    path = Path(features_dir) / split / ROWS_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run the features stage first")
    return feather.read_feather(path)


def load_features(features_dir: str | os.PathLike[str], split: str, feature_set: str) -> np.ndarray:
    """A split's feature matrix as float32 (pixels are stored as uint8).

    Parameters
    ----------
    features_dir : str or os.PathLike
        Root of the feature store.
    split : str
        ``"train"``, ``"dev"``, ``"test"`` or ``"aug_<mode>"``.
    feature_set : str
        One of ``FEATURE_SETS``; a composite (``"hog_landmarks"``) is its parts side by side.

    Returns
    -------
    ndarray of shape (n, d), float32
        d = 2304 (pixels, gray levels 0-255), 900 (hog), 136 (landmarks) or 1036
        (hog_landmarks) for 48x48 FER2013 images with the default settings; the new sets'
        widths depend on ``features.lbp``, ``features.sift`` and ``features.hog_multi``.

    Raises
    ------
    ValueError
        If ``feature_set`` is not one of ``FEATURE_SETS``.
    FileNotFoundError
        If a needed ``.npy`` file does not exist.
    """
    _check_name(feature_set)
    parts = COMPOSITES.get(feature_set, (feature_set,))
    arrays = []
    for name in parts:
        path = _array_path(Path(features_dir) / split, name)
        if not path.exists():
            raise FileNotFoundError(
                f"{path} does not exist; run the features stage first (with {name} in "
                "features.sets)"
            )
        arrays.append(np.load(path).astype(np.float32, copy=False))
    return arrays[0] if len(arrays) == 1 else np.hstack(arrays)


def load_xy(
    features_dir: str | os.PathLike[str], split: str, feature_set: str
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """(X, y, rows) for one split.

    Parameters
    ----------
    features_dir : str or os.PathLike
        Root of the feature store.
    split : str
        ``"train"``, ``"dev"``, ``"test"`` or ``"aug_<mode>"``.
    feature_set : str
        One of ``FEATURE_SETS``.

    Returns
    -------
    X : ndarray of shape (n, d), float32
        Features, as :func:`load_features`.
    y : ndarray of shape (n,), int64
        Class codes (0 to n_classes - 1: 7 FER2013 emotions or 8 FER+ classes).
    rows : pandas.DataFrame of n rows
        The split's keys, as :func:`load_rows`.

    Raises
    ------
    ValueError
        If ``feature_set`` is unknown, or the features and keys differ in length.
    FileNotFoundError
        If the split's keys or a needed feature file do not exist.
    """
    rows = load_rows(features_dir, split)
    features = load_features(features_dir, split, feature_set)
    if len(rows) != len(features):
        raise ValueError(
            f"{features_dir}/{split}: {len(features)} feature rows but {len(rows)} keys"
        )
    return features, rows["emotion"].to_numpy(np.int64), rows


def load_training_xy(
    features_dir: str | os.PathLike[str], feature_set: str, augmentation: str = "none"
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """The training split, plus the augmented copies of ``augmentation`` unless it is ``none``.

    Parameters
    ----------
    features_dir : str or os.PathLike
        Root of the feature store.
    feature_set : str
        One of ``FEATURE_SETS``.
    augmentation : str, default "none"
        Augmentation mode whose ``aug_<mode>`` split is appended after ``train``.

    Returns
    -------
    X : ndarray of shape (n, d), float32
        Training features, then the augmented copies' (n = n_train + n_aug).
    y : ndarray of shape (n,), int64
        Class codes (0 to n_classes - 1: 7 FER2013 emotions or 8 FER+ classes).
    rows : pandas.DataFrame of n rows
        Keys in the same order, with a fresh 0..n-1 index.

    Raises
    ------
    ValueError, FileNotFoundError
        As :func:`load_xy`, for ``train`` or for ``aug_<augmentation>`` (a mode the features
        stage did not extract has no folder).
    """
    x, y, rows = load_xy(features_dir, "train", feature_set)
    if augmentation == "none":
        return x, y, rows
    xa, ya, rows_a = load_xy(features_dir, f"aug_{augmentation}", feature_set)
    return np.vstack([x, xa]), np.concatenate([y, ya]), pd.concat([rows, rows_a], ignore_index=True)
