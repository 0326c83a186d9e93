"""A tiny feature store in the real layout, built from the real FER2013 sample, for model tests.

HOG is ``skimage.feature.hog`` itself; the 136 "landmark" columns are a deterministic stand-in
(a coarse grid of the image, in pixel-like units), enough to exercise the hog_landmarks code paths
without the landmark detector. ``aug_balanced`` holds horizontally flipped copies of the rarer
classes' training images, with the original's ``row_id``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from skimage.feature import hog

from features.store import save_array, save_rows
from fer_data.atomic import write_json
from fer_data.splits import dev_split

SOURCE = {"source": "csv", "synthetic": False, "notice": "", "path": "fer2013 test sample"}


def fake_landmarks(images: np.ndarray) -> np.ndarray:
    """136 coarse-grid intensities scaled to a spread of a few pixels, like real landmark points."""
    grid = images[:, 2::4, 2::4].reshape(len(images), -1)[:, :136]
    return (grid.astype(np.float32) / 255.0 * 8.0).astype(np.float32)


def _write_split(root: Path, split: str, images: np.ndarray, rows: pd.DataFrame) -> None:
    folder = root / split
    save_array(folder, "pixels", images.reshape(len(images), -1))
    hogs = np.stack(
        [hog(img, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2)) for img in images]
    )
    save_array(folder, "hog", hogs.astype(np.float32))
    save_array(folder, "landmarks", fake_landmarks(images))
    save_rows(folder, rows.reset_index(drop=True))


def build_store(root: Path, frame: pd.DataFrame, seed: int = 2013) -> Path:
    """Write ``<root>/data/features/{train,dev,test,aug_balanced}`` and ``<root>/data/ingested``.

    Builds once per ``root``: a ``DONE`` marker makes later calls return at once.
    """
    features = root / "data" / "features"
    if (features / "DONE").exists():
        return features
    images = np.stack(
        [np.asarray(s.split(), dtype=np.uint8).reshape(48, 48) for s in frame["pixels"]]
    )
    rows = pd.DataFrame(
        {
            "row_id": frame.index.to_numpy(np.int64),
            "aug": np.zeros(len(frame), np.int16),
            "emotion": frame["emotion"].to_numpy(np.int8),
            "usage": frame["Usage"].astype(str).to_numpy(),
        }
    )
    training = np.flatnonzero(rows["usage"].to_numpy() == "Training")
    train_idx, dev_idx = dev_split(rows["emotion"].to_numpy()[training], 0.15, seed)
    parts = {
        "train": training[train_idx],
        "dev": training[dev_idx],
        "test": np.flatnonzero(rows["usage"] != "Training"),
    }
    for split, index in parts.items():
        _write_split(features, split, images[index], rows.iloc[index])
    train = parts["train"]
    rare = train[np.isin(rows["emotion"].to_numpy()[train], (1, 2, 5))]
    aug_rows = rows.iloc[rare].assign(aug=np.int16(1))
    _write_split(features, "aug_balanced", images[rare][:, :, ::-1].copy(), aug_rows)
    write_json(root / "data" / "ingested" / "source.json", SOURCE)
    (features / "DONE").touch()
    return features


def copy_store(source: Path, root: Path) -> Path:
    """A copy of a built store's ``data`` folder under ``root`` (stages write beside it)."""
    shutil.copytree(source.parent, root / "data", dirs_exist_ok=True)
    return root / "data" / "features"


def session_store(frame: pd.DataFrame, factory: pytest.TempPathFactory) -> Path:
    """The tiny store, built once per test session (shared by every module's fixture)."""
    return build_store(factory.getbasetemp() / "zoo_store", frame)
