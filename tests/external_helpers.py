"""External test sets built at test time from the real FER2013 sample's test rows (never committed).

- an image folder in another label vocabulary (``anger/``, ``happiness/``, ``sadness/`` ...), its
  file names carrying a subject as CK+'s do (``S007_0123.png``), with
  a ``contempt/`` folder (no FER2013 class: dropped and counted by every FER2013 model), one RGB
  64x64 image (resized when the set says so), one unreadable file and one image outside any label
  folder (both rejected and counted);
- a CSV (FER2013's columns) with labels ``0``-``7`` (7: contempt), a ``subject`` column grouping
  the rows into few subjects, and one row with a broken pixel list (rejected).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

# FER2013 code -> the folder names of the image-folder set (a RAF-DB / AffectNet-like vocabulary).
VOCABULARY = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
FOLDER_MAP = {
    name: cls
    for name, cls in zip(
        VOCABULARY, ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"), strict=True
    )
}
FOLDER_MAP["contempt"] = "Contempt"
CSV_MAP = {str(code): cls for code, cls in enumerate(FOLDER_MAP.values())}  # 0-6, 7 contempt
N_CONTEMPT = 5
N_SUBJECTS_PER_CLASS = 2
FOLDER_SUBJECTS = 20
SUBJECT_PATTERN = r"/S(\d+)_"  # the image folder's subjects, in its file names


def sample_test_rows(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (n, 48, 48), FER2013 codes (n,)) of the sample's test rows (both halves)."""
    test = frame[frame["Usage"] != "Training"]
    images = np.stack(
        [np.asarray(s.split(), dtype=np.uint8).reshape(48, 48) for s in test["pixels"]]
    )
    return images, test["emotion"].to_numpy(np.int64)


def write_image_folder(root: Path, frame: pd.DataFrame) -> dict[str, int]:
    """The image-folder set under ``root``; returns what a reader should find (counts)."""
    images, codes = sample_test_rows(frame)
    for i, (image, code) in enumerate(zip(images, codes, strict=True)):
        folder = root / VOCABULARY[code]
        folder.mkdir(parents=True, exist_ok=True)
        # CK+-style names: S<subject>_<image>; FOLDER_SUBJECTS subjects, shared across classes.
        Image.fromarray(image).save(folder / f"S{i % FOLDER_SUBJECTS:03d}_{i:04d}.png")
    (root / "contempt").mkdir()
    for i in range(N_CONTEMPT):  # faces labelled contempt: any face will do
        Image.fromarray(images[i]).save(root / "contempt" / f"S{i:03d}_c{i}.png")
    rgb = np.repeat(np.asarray(Image.fromarray(images[0]).resize((64, 64)))[..., None], 3, axis=2)
    Image.fromarray(rgb, "RGB").save(root / "happiness" / "S000_big_rgb.png")
    (root / "anger" / "broken.png").write_bytes(b"not an image")
    Image.fromarray(images[1]).save(root / "loose.png")
    return {
        "faces": len(images) + N_CONTEMPT + 1,
        "files": len(images) + N_CONTEMPT + 3,
        "rejected": 2,
        "contempt": N_CONTEMPT,
    }


def write_subject_csv(path: Path, frame: pd.DataFrame) -> dict[str, int]:
    """The CSV set at ``path``: subjects group the rows by class (few subjects, large clusters:
    per-class accuracy differs, so the subject bootstrap's interval is wider than the images')."""
    images, codes = sample_test_rows(frame)
    rng = np.random.default_rng(0)
    subject = [f"s{code}_{rng.integers(N_SUBJECTS_PER_CLASS)}" for code in codes]
    pixels = [" ".join(map(str, image.ravel())) for image in images]
    labels = [str(c) for c in codes]
    # Contempt rows (code 7) and one broken row.
    pixels += [*pixels[:N_CONTEMPT], "1 2 3"]
    labels += ["7"] * N_CONTEMPT + ["3"]
    subject += [f"c{i}" for i in range(N_CONTEMPT)] + ["x"]
    pd.DataFrame(
        {"emotion": labels, "pixels": pixels, "Usage": "PublicTest", "subject": subject}
    ).to_csv(path, index=False)
    return {
        "faces": len(images) + N_CONTEMPT,
        "rows": len(images) + N_CONTEMPT + 1,
        "rejected": 1,
        "contempt": N_CONTEMPT,
        "subjects": len(set(subject[: len(images)])),
    }


def external_params(folder: Path, csv: Path) -> dict:
    """``evaluate.external`` naming both sets."""
    return {
        "folder_set": {
            "path": str(folder),
            "label_map": FOLDER_MAP,
            "subject_column": None,
            "subject_pattern": None,
            "resize_images": True,
        },
        "subject_set": {
            "path": str(csv),
            "label_map": CSV_MAP,
            "subject_column": "subject",
            "subject_pattern": None,
            "resize_images": False,
        },
    }
