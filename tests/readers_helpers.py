"""Helpers for the reader tests: the failing-input cases of ../shared/cases, and FER2013 rows
written out in the other distributions (reordered CSV, archives, image folders).

Everything is written to temporary folders from the real sample at test time; nothing is stored
in the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fer_data.faces import EMOTIONS
from tests.stage_helpers import REPO_ROOT

CASES = Path(os.environ.get("FERBENCH_CASES", REPO_ROOT.parent / "shared/cases"))
FOLDER_NAMES = [name.lower() for name in EMOTIONS]  # angry disgust fear ... neutral
PREFIX = {"Training": "Training", "PublicTest": "PublicTest", "PrivateTest": "PrivateTest"}


def case(name: str) -> Path:
    """``../shared/cases/<name>``, or skip the test saying where it was looked for."""
    path = CASES / name
    if not path.exists():
        pytest.skip(f"failing-input case {name!r} not found at {path} (set FERBENCH_CASES)")
    return path


def frame_images(frame: pd.DataFrame) -> np.ndarray:
    """uint8 (n, 48, 48) images of a Kaggle-format frame."""
    return np.stack([np.asarray(s.split(), np.uint8).reshape(48, 48) for s in frame["pixels"]])


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False, columns=["emotion", "pixels", "Usage"])
    return path


def write_image_folder(
    frame: pd.DataFrame, root: Path, prefixes: bool = True, suffix: str = ".png"
) -> Path:
    """The frame as ``root/train/<emotion>/Training_<row>.png`` and
    ``root/test/<emotion>/{PublicTest,PrivateTest}_<row>.png`` (no prefix: ``im<row>``)."""
    for (row, values), image in zip(frame.iterrows(), frame_images(frame), strict=True):
        part = "train" if values["Usage"] == "Training" else "test"
        stem = f"{PREFIX[values['Usage']]}_{row}" if prefixes else f"im{row}"
        folder = root / part / FOLDER_NAMES[int(values["emotion"])]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{stem}{suffix}")
    return root


def face_multiset(images: np.ndarray, emotion: np.ndarray) -> list[tuple[int, bytes]]:
    """Sorted (label, pixels) pairs: a split's content independent of row ids and order."""
    return sorted((int(e), img.tobytes()) for e, img in zip(emotion, images, strict=True))
