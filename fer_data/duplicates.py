"""Copies of test images in the training split: pixel-identical, or near (perceptual hash).

FER2013 was gathered by web image search, so the same photo often appears more than once: pixel
for pixel, or re-cropped, re-scaled or re-exposed. A test image with such a copy among the images
a model trained on (train + dev) measures memory, not recognition. This module finds them:

- **exact**: the 48x48 pixels are byte-identical to a training image's;
- **near**: otherwise, the perceptual hash of the image lies within ``max_distance`` bits
  (Hamming distance) of a training image's hash.

Hashes come from the ``imagehash`` library (J. Buchner, https://github.com/JohannesBuchner/imagehash;
``phash`` after N. Krawetz, "Looks Like It", hackerfactor.com 2011: the signs of the low-frequency
2-D DCT of the downscaled image against their median). The nearest-hash search is a brute-force
XOR and popcount over packed 64-bit words (numpy), a few seconds for FER2013's 7,178 test images
against 28,709 training ones.

The per-test-row table (:data:`COLUMNS`) is what the evaluate and cnn stages read, through
:func:`clean_mask`, to score every model also on the test images that have no copy.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fer_data.atomic import atomic_path
from fer_data.errors import DataError
from fer_data.logs import get_logger
from fer_data.records import DataSource, Record

HASHES = ("phash", "dhash", "average_hash")  # imagehash functions with hash_size**2 bits
COLUMNS = ("row_id", "usage", "exact_copy", "near_copy", "nearest_distance", "nearest_row_id")
_HASH_CHUNK = 2048  # images per worker task
_SEARCH_CHUNK = 128  # test hashes per search block: bounds memory at ~128 x n_train x 11 bytes


def _hash_function(method: str) -> Callable:
    import imagehash  # imported here: only this stage needs it

    if method not in HASHES:
        raise ValueError(f"unknown hash {method!r}; expected one of {', '.join(HASHES)}")
    return getattr(imagehash, method)


def _hash_chunk(images: np.ndarray, method: str, hash_size: int) -> np.ndarray:
    """Packed hashes, uint64 (k, hash_size**2 / 64), of uint8 (k, h, w) images."""
    from PIL import Image

    function = _hash_function(method)
    bits = np.empty((len(images), hash_size * hash_size), bool)
    for i, image in enumerate(images):
        bits[i] = function(Image.fromarray(image), hash_size=hash_size).hash.ravel()
    return np.packbits(bits, axis=1).view(np.uint64)


def image_hashes(
    images: np.ndarray,
    method: str = "phash",
    hash_size: int = 16,
    n_jobs: int = 1,
    chunk: int = _HASH_CHUNK,
) -> np.ndarray:
    """Perceptual hashes of grayscale images, packed into 64-bit words.

    Parameters
    ----------
    images : ndarray of shape (n, h, w), uint8
        Grayscale images (FER2013: 48x48).
    method : {"phash", "dhash", "average_hash"}
        The ``imagehash`` function (``phash``: DCT hash, Krawetz 2011; ``dhash``: gradient signs;
        ``average_hash``: pixels against their mean), each on Pillow's Lanczos resize.
    hash_size : int
        Side of the hash's bit grid: ``hash_size**2`` bits, a multiple of 64 (8, 16, 24, 32).
    n_jobs : int
        Worker processes (forked on Linux); 1 hashes in this process.
    chunk : int
        Images per worker task.

    Returns
    -------
    ndarray of shape (n, hash_size**2 // 64), uint64
        Hash bits in ``imagehash``'s row-major order, packed big-endian within each byte
        (``np.packbits``); two images' Hamming distance is the popcount of their XOR.

    Raises
    ------
    ValueError
        An unknown ``method``, or ``hash_size**2`` not a multiple of 64.
    ImportError
        ``imagehash`` is not installed.
    """
    if hash_size < 8 or (hash_size * hash_size) % 64:
        raise ValueError(f"hash_size must be a multiple of 8 (8, 16, 24, ...), got {hash_size}")
    _hash_function(method)  # fails early on an unknown name
    words = hash_size * hash_size // 64
    if len(images) == 0:
        return np.zeros((0, words), np.uint64)
    chunks = [images[i : i + chunk] for i in range(0, len(images), chunk)]
    if n_jobs <= 1 or len(chunks) == 1:
        return np.concatenate([_hash_chunk(c, method, hash_size) for c in _progress(chunks)])
    # fork: workers start in milliseconds with numpy, Pillow and imagehash already imported.
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with ProcessPoolExecutor(min(n_jobs, len(chunks)), mp_context=context) as pool:
        futures = [pool.submit(_hash_chunk, c, method, hash_size) for c in chunks]
        return np.concatenate([f.result() for f in _progress(futures)])


def _progress(items: list) -> list:
    from tqdm import tqdm

    return tqdm(items, desc="hash images", unit="chunk", leave=False, disable=len(items) < 4)


def nearest_hamming(
    query: np.ndarray, reference: np.ndarray, n_jobs: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """The nearest ``reference`` hash of every ``query`` hash, by Hamming distance (brute force).

    Parameters
    ----------
    query : ndarray of shape (m, w), uint64
        Packed hashes (:func:`image_hashes`).
    reference : ndarray of shape (n, w), uint64
        Packed hashes of the same method and size; n >= 1.
    n_jobs : int
        Threads over blocks of queries (numpy's XOR and popcount release the GIL).

    Returns
    -------
    distance : ndarray of shape (m,), int64
        Differing bits to the nearest reference hash (0 to 64 w).
    index : ndarray of shape (m,), int64
        Its position in ``reference`` (the first one on ties).

    Raises
    ------
    ValueError
        ``reference`` is empty, or the two have different word counts.
    """
    if len(reference) == 0:
        raise ValueError("no reference hashes to search")
    if query.shape[1] != reference.shape[1]:
        raise ValueError(f"hash widths differ: {query.shape[1]} and {reference.shape[1]} words")
    columns = np.ascontiguousarray(reference.T)  # (w, n): one contiguous row per word

    def block(start: int) -> tuple[np.ndarray, np.ndarray]:
        q = query[start : start + _SEARCH_CHUNK]
        shape = (len(q), columns.shape[1])
        xor, bits = np.empty(shape, np.uint64), np.empty(shape, np.uint8)
        distance = np.zeros(shape, np.uint16)
        for word in range(columns.shape[0]):  # preallocated: no temporaries per word
            np.bitwise_xor(q[:, word, None], columns[word][None, :], out=xor)
            np.bitwise_count(xor, out=bits)
            np.add(distance, bits, out=distance)
        nearest = distance.argmin(axis=1)
        return distance[np.arange(len(q)), nearest].astype(np.int64), nearest.astype(np.int64)

    starts = range(0, len(query), _SEARCH_CHUNK)
    with ThreadPoolExecutor(max(1, n_jobs)) as pool:
        found = list(pool.map(block, starts))
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate([f[0] for f in found]), np.concatenate([f[1] for f in found])


def exact_copies(query: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """For each query image, the position of a pixel-identical reference image, or -1.

    Parameters
    ----------
    query : ndarray of shape (m, h, w), uint8
    reference : ndarray of shape (n, h, w), uint8

    Returns
    -------
    ndarray of shape (m,), int64
        Position in ``reference`` of the first identical image; -1 where there is none.
    """
    first: dict[bytes, int] = {}
    for i, image in enumerate(np.ascontiguousarray(reference).reshape(len(reference), -1)):
        first.setdefault(image.tobytes(), i)
    flat = np.ascontiguousarray(query).reshape(len(query), -1)
    return np.array([first.get(image.tobytes(), -1) for image in flat], np.int64)


@dataclass(frozen=True)
class Copies:
    """Every test image's copies in the training images (columns of :data:`COLUMNS`)."""

    row_id: np.ndarray  # int64 (m,): the test image's row id
    usage: np.ndarray  # str (m,): PublicTest or PrivateTest
    exact_copy: np.ndarray  # bool (m,): a training image has identical pixels
    near_copy: np.ndarray  # bool (m,): no exact copy, a training hash within max_distance
    nearest_distance: np.ndarray  # int64 (m,): bits to the nearest training hash
    nearest_row_id: np.ndarray  # int64 (m,): that training image (the exact copy, when any)

    @property
    def clean(self) -> np.ndarray:
        """bool (m,): neither an exact nor a near copy in the training images."""
        return ~(self.exact_copy | self.near_copy)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({name: getattr(self, name) for name in COLUMNS})


def find_copies(
    test_images: np.ndarray,
    test_row_id: np.ndarray,
    test_usage: np.ndarray,
    train_images: np.ndarray,
    train_row_id: np.ndarray,
    method: str,
    hash_size: int,
    max_distance: int,
    n_jobs: int = 1,
) -> Copies:
    """Exact and near copies of each test image among the training images.

    Parameters
    ----------
    test_images : ndarray of shape (m, 48, 48), uint8
    test_row_id : ndarray of shape (m,), int
    test_usage : ndarray of shape (m,), str
    train_images : ndarray of shape (n, 48, 48), uint8
        Every image a model may have trained on (train + dev); n >= 1.
    train_row_id : ndarray of shape (n,), int
    method, hash_size : str, int
        The perceptual hash (:func:`image_hashes`).
    max_distance : int
        A test image without an exact copy is a near copy when a training hash lies within this
        many bits (inclusive).
    n_jobs : int
        Processes hashing, threads searching.

    Returns
    -------
    Copies
        One entry per test image, in the given order.

    Raises
    ------
    ValueError
        No training images, or a bad ``method`` / ``hash_size`` (:func:`image_hashes`).
    """
    hashes = image_hashes(np.concatenate([train_images, test_images]), method, hash_size, n_jobs)
    train_hashes, test_hashes = hashes[: len(train_images)], hashes[len(train_images) :]
    distance, nearest = nearest_hamming(test_hashes, train_hashes, n_jobs)
    exact = exact_copies(test_images, train_images)
    is_exact = exact >= 0
    nearest = np.where(is_exact, exact, nearest)
    return Copies(
        row_id=np.asarray(test_row_id, np.int64),
        usage=np.asarray(test_usage).astype(str),
        exact_copy=is_exact,
        near_copy=~is_exact & (distance <= max_distance),
        nearest_distance=distance,
        nearest_row_id=np.asarray(train_row_id, np.int64)[nearest]
        if len(nearest)
        else np.zeros(0, np.int64),
    )


def write_copies(copies: Copies, path: str | os.PathLike[str]) -> Path:
    """Write the per-test-row table as CSV (:data:`COLUMNS`), atomically."""
    with atomic_path(path) as tmp:
        copies.frame().to_csv(tmp, index=False)
    return Path(path)


def clean_mask(path: str | os.PathLike[str], row_id: np.ndarray) -> np.ndarray | None:
    """Which test rows have no exact or near copy in training, from the duplicates table.

    Parameters
    ----------
    path : str or os.PathLike
        The table :func:`write_copies` wrote (``data/duplicates/test_copies.csv``).
    row_id : ndarray of shape (m,), int
        The scored test rows' ids, in the order of the predictions.

    Returns
    -------
    ndarray of shape (m,), bool, or None
        True where the row has neither kind of copy. None, with a warning naming the file, when
        the table does not exist (a stage run outside DVC before the duplicates stage, whose
        ``dvc.yaml`` entry depends on it): the scores then leave the clean subset out.

    Raises
    ------
    DataError
        The table lacks its columns, or a test row is not in it (it was made from other ingested
        data: rerun the duplicates stage).
    """
    path = Path(path)
    if not path.exists():
        get_logger().warning(
            "%s does not exist: no scores without the test images copied in train + dev; run "
            "the duplicates stage first (dvc repro duplicates)",
            path,
        )
        return None
    table = pd.read_csv(path)
    missing = [c for c in ("row_id", "exact_copy", "near_copy") if c not in table.columns]
    if missing:
        raise DataError(f"{path}: missing columns {', '.join(missing)}; rerun the duplicates stage")
    clean = ~(table["exact_copy"].astype(bool) | table["near_copy"].astype(bool))
    found = pd.Series(clean.to_numpy(), index=table["row_id"].to_numpy())
    wanted = np.asarray(row_id, np.int64)
    absent = ~np.isin(wanted, found.index.to_numpy())
    if absent.any():
        raise DataError(
            f"{path}: {int(absent.sum())} of {len(wanted)} test rows (e.g. row_id "
            f"{int(wanted[absent][0])}) are not in the table; it was made from other ingested "
            "data: rerun the duplicates stage"
        )
    return found.loc[wanted].to_numpy(bool)


class CopyCounts(Record):
    """Test images of one Usage (or all) by what they have in the training images."""

    test: int  # test images
    exact: int  # with a pixel-identical training image
    near: int  # without one, with a training hash within max_distance bits
    clean: int  # neither: the "no copy" subset every model is also scored on


class DuplicatesMetrics(Record):
    """``metrics/duplicates.json``: how many test images have a copy in train + dev, and how."""

    data: DataSource
    hash: str  # the imagehash function
    hash_bits: int  # hash_size**2
    max_distance: int  # near copy: Hamming distance <= this, in bits
    training_images: int  # train + dev images compared against
    counts: dict[str, CopyCounts]  # "all", then per Usage (PublicTest, PrivateTest)
    seconds: float


def copy_counts(copies: Copies) -> dict[str, CopyCounts]:
    """:class:`CopyCounts` of all test images, then of each Usage in order of appearance."""
    groups = {"all": np.ones(len(copies.row_id), bool)}
    for usage in dict.fromkeys(copies.usage.tolist()):
        groups[usage] = copies.usage == usage
    return {
        name: CopyCounts(
            test=int(mask.sum()),
            exact=int((copies.exact_copy & mask).sum()),
            near=int((copies.near_copy & mask).sum()),
            clean=int((copies.clean & mask).sum()),
        )
        for name, mask in groups.items()
    }
