"""Reading FER2013 distributed as image folders: ``train/<emotion>/*`` and ``test/<emotion>/*``.

Layout: a root folder holding ``train/`` and ``test/`` (names in any case), each holding one folder
per emotion, named ``angry disgust fear happy neutral sad surprise`` in any case. Usage: every image
under ``train/`` is ``Training``; under ``test/`` a file name starting with ``PublicTest_`` or
``PrivateTest_`` (as on the widely used Kaggle copy) gives its half; a test image without either
prefix counts as ``PublicTest`` (so PrivateTest scores are empty for such a folder: the log and
``metrics/ingest.json`` say how many images that rule placed).

Validation, as strict as the CSV's: an 8-bit grayscale 48x48 image is taken as it is; a colour one
(RGB, RGBA, palette, ...) is converted to grayscale with Pillow's ``convert("L")`` (ITU-R 601-2
luma, L = 0.299 R + 0.587 G + 0.114 B) and counted; another size is resized to 48x48 (Pillow,
Lanczos) only when ``resize`` is set, and counted, otherwise rejected. Unreadable files, other pixel
formats (16-bit, float), files outside an emotion folder and unknown folder names are rejected with
the file name and the reason. Hidden files (``.DS_Store``, ``._*``) are skipped and counted.

Order and ``row_id``: the files are listed ``train/`` first, then ``test/``, each in the natural
order of their paths relative to the root (digit runs compare as numbers: ``im2`` < ``im10``),
and ``row_id`` is a file's position in that list. The order is deterministic, so splits are
reproducible; and because the stratified dev split depends only on the order of rows within each
class, an image folder whose file names sort in CSV row order (for instance ``Training_<row>.png``)
gives exactly the CSV's train / dev / test rows.

Images are decoded with Pillow (:mod:`fer_data.readers.decode`) in ``n_jobs`` worker processes, in
chunks.
"""

from __future__ import annotations

import multiprocessing
import re
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd

from fer_data.errors import DataError
from fer_data.faces import IMAGE_SIDE
from fer_data.logs import get_logger
from fer_data.readers.decode import SIDE, decode_chunk
from fer_data.readers.result import REJECT_COLUMNS, ParsedFaces
from fer_data.readers.sniff import TEST, TRAIN, image_folder_parts

# Folder name (lower case) -> FER2013 class code (fer_data.faces.EMOTIONS order).
EMOTION_FOLDERS = {
    "angry": 0,
    "disgust": 1,
    "fear": 2,
    "happy": 3,
    "sad": 4,
    "surprise": 5,
    "neutral": 6,
}
TEST_PREFIXES = (("publictest_", "PublicTest"), ("privatetest_", "PrivateTest"))
UNPREFIXED_USAGE = "PublicTest"
PARALLEL_MIN = 2000  # fewer files are decoded in-process: a worker start costs more
CHUNK = 256  # files per task: small enough to balance two workers

assert SIDE == IMAGE_SIDE

REASONS = {
    "folder": "unknown emotion folder (expected angry, disgust, fear, happy, sad, surprise or "
    "neutral, in any case)",
    "place": "not inside an emotion folder (expected train/<emotion>/<image> or "
    "test/<emotion>/<image>)",
    1: "unreadable image",
    2: "wrong size (expected 48x48; data.resize_images: true resizes it)",
    3: "unsupported pixel format (expected 8-bit grayscale or colour)",
}
_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple:
    """Sort key in which digit runs compare as numbers (``im2`` before ``im10``)."""
    return tuple(int(p) if p.isdigit() else p for p in _DIGITS.split(text))


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def list_files(root: Path) -> tuple[list[tuple[str, Path]], int]:
    """([(part, path relative to root)] in row order, hidden files skipped).

    Raises
    ------
    DataError
        ``root`` lacks ``train/`` or ``test/``.
    """
    parts = image_folder_parts(root)
    missing = [name for name in (TRAIN, TEST) if name not in parts]
    if missing:
        raise DataError(
            f"{root}: an image-folder data set needs a train/ and a test/ folder (each with one "
            f"folder per emotion); {' and '.join(m + '/' for m in missing)} "
            f"{'is' if len(missing) == 1 else 'are'} missing"
        )
    files: list[tuple[str, Path]] = []
    hidden = 0
    for part in (TRAIN, TEST):
        found = []
        for path in parts[part].rglob("*"):
            if not path.is_file():
                continue
            relative = path.relative_to(root)
            if _hidden(relative):
                hidden += 1
            else:
                found.append(relative)
        found.sort(key=lambda p: natural_key(p.as_posix()))
        files += [(part, p) for p in found]
    return files, hidden


def _pool_context() -> multiprocessing.context.BaseContext:
    # fork starts a worker in milliseconds (measured: 5,000 PNGs on 2 busy cores, fork 2.9 s,
    # spawn 5.0 s, joblib/loky 6.2 s, one process 3.5 s); the workers run only decode_chunk, with
    # numpy and Pillow imported before the fork. Elsewhere (macOS, Windows) spawn is the safe one.
    return multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")


def decode_all(
    paths: list[str], resize: bool, n_jobs: int
) -> tuple[np.ndarray, np.ndarray, list, list]:
    """:func:`~fer_data.readers.decode.decode_chunk` over every path, in ``n_jobs`` processes
    when there are many (tqdm shows the progress)."""
    if n_jobs <= 1 or len(paths) < PARALLEL_MIN:
        return decode_chunk(paths, resize)
    import PIL.Image  # noqa: F401  imported before the fork: the workers need not import it
    from tqdm import tqdm

    chunks = [paths[i : i + CHUNK] for i in range(0, len(paths), CHUNK)]
    results: list = [None] * len(chunks)
    with (
        ProcessPoolExecutor(n_jobs, mp_context=_pool_context()) as pool,
        tqdm(total=len(paths), desc="read images", unit="img", leave=False) as bar,
    ):
        futures = {pool.submit(decode_chunk, chunk, resize): i for i, chunk in enumerate(chunks)}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            bar.update(len(chunks[futures[future]]))
    return (
        np.concatenate([r[0] for r in results]),
        np.concatenate([r[1] for r in results]),
        [d for r in results for d in r[2]],
        [c for r in results for c in r[3]],
    )


def _usage(part: str, name: str) -> tuple[str, str]:
    """(Usage, the rule that gave it)."""
    if part == TRAIN:
        return "Training", "train/"
    lowered = name.lower()
    for prefix, usage in TEST_PREFIXES:
        if lowered.startswith(prefix):
            return usage, f"{usage}_ prefix"
    return UNPREFIXED_USAGE, f"no prefix: {UNPREFIXED_USAGE}"


def read_image_folder(root: Path, resize: bool = False, n_jobs: int = 2) -> ParsedFaces:
    """Read an image-folder FER2013 data set (layout and rules: see the module docstring).

    Parameters
    ----------
    root : Path
        The folder holding ``train/`` and ``test/``.
    resize : bool
        Resize images that are not 48x48 (Lanczos) instead of rejecting them.
    n_jobs : int
        Worker processes decoding images (Pillow).

    Returns
    -------
    ParsedFaces
        ``reader="image_folder"``; ``row_id`` is the file's position in the sorted list; the
        rejects' ``file`` is the image path, ``line`` empty; ``notes`` counts the files, skipped
        hidden files, conversions to grayscale (by source mode), resizes (by source size) and the
        rule that gave each test image its Usage.

    Raises
    ------
    DataError
        ``train/`` or ``test/`` is missing, or the folder holds no image file at all.
    """
    files, hidden = list_files(root)
    if not files:
        raise DataError(f"{root}: train/ and test/ hold no files; expected train/<emotion>/*.png")
    n = len(files)
    emotion = np.full(n, -1, np.int8)
    usage = np.empty(n, dtype=object)
    place_reject: dict[int, tuple[str, str]] = {}
    rules: Counter[str] = Counter()
    for i, (part, relative) in enumerate(files):
        inside = relative.parts[1:]  # <emotion>/<name>
        if len(inside) != 2:
            place_reject[i] = ("place", "/".join(inside[:-1]))
            continue
        code = EMOTION_FOLDERS.get(inside[0].lower())
        if code is None:
            place_reject[i] = ("folder", inside[0])
            continue
        emotion[i] = code
        usage[i], rule = _usage(part, inside[1])
        if part == TEST:
            rules[rule] += 1
    to_decode = np.flatnonzero(emotion >= 0)
    images = np.zeros((n, IMAGE_SIDE, IMAGE_SIDE), np.uint8)
    status = np.zeros(n, np.int8)
    details = [""] * n
    decoded, codes, found_details, changes = decode_all(
        [str(root / files[i][1]) for i in to_decode], resize, n_jobs
    )
    images[to_decode], status[to_decode] = decoded, codes
    converted: Counter[str] = Counter()
    resized: Counter[str] = Counter()
    for i, detail, change in zip(to_decode, found_details, changes, strict=True):
        details[i] = detail
        for item in filter(None, change.split(";")):
            kind, value = item.split(":", 1)
            (converted if kind == "mode" else resized)[value] += 1
    bad = sorted([*place_reject, *np.flatnonzero(status != 0).tolist()])
    rejects = pd.DataFrame(
        {
            "file": [str(root / files[i][1]) for i in bad],
            "line": pd.array([pd.NA] * len(bad), dtype="Int64"),
            "row_id": np.asarray(bad, np.int64),
            "reason": [
                REASONS[place_reject[i][0]] if i in place_reject else REASONS[int(status[i])]
                for i in bad
            ],
            "detail": [place_reject[i][1] if i in place_reject else details[i] for i in bad],
            "raw": [""] * len(bad),
        },
        columns=list(REJECT_COLUMNS),
    )
    good = np.setdiff1d(to_decode, np.asarray(bad, np.int64))
    if rules.get(f"no prefix: {UNPREFIXED_USAGE}"):
        get_logger().warning(
            "%s: %d test images have no PublicTest_/PrivateTest_ prefix: all counted as %s, so "
            "PrivateTest scores will be empty for them",
            root,
            rules[f"no prefix: {UNPREFIXED_USAGE}"],
            UNPREFIXED_USAGE,
        )
    return ParsedFaces(
        row_id=good.astype(np.int64),
        emotion=emotion[good],
        usage=usage[good],
        images=images[good],
        rejects=rejects,
        n_rows=n,
        reader="image_folder",
        origin=str(root),
        notes={
            "files": n,
            "hidden_files_skipped": hidden,
            "converted_to_gray": dict(sorted(converted.items())),
            "gray_conversion": "Pillow convert('L'): ITU-R 601-2 luma",
            "resized": dict(resized.most_common(20)),
            "resized_total": int(sum(resized.values())),
            "test_usage": dict(sorted(rules.items())),
            "row_id": "position in the sorted file list: train/ then test/, natural order of paths",
        },
    )
