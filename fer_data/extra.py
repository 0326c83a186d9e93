"""Extra training sources: faces from other data sets that join the train split only.

A source (``data.extra_train.<name>``) is read by the labelled-set reader cross-dataset evaluation
uses (:func:`fer_data.readers.labelled.read_labelled`: a FER2013-shaped CSV, plain or gzip, an
image folder ``<label>/<image>``, or a tar/zip archive of either; the same decoding, grayscale
conversion, resize rule and rejects format as every other reader). Then, in this order, every face
that does not join is counted with its reason:

1. labels become class names: through the source's ``label_map`` (:func:`fer_data.external.
   map_labels`; a label mapped to null is dropped), or without a map, FER2013 codes ``0``-``6``
   and class names in any case (a folder named ``disgust/``); any other label is an error naming
   the source;
2. faces of a class not in ``classes`` are dropped (``class not chosen``);
3. blank images (pixel std at most ``data.blank_std_max``) are dropped, as they are from Training;
4. a face pixel-identical to a dev or test face is *rejected* as a leak (it is written to the
   rejects file with its reason); one identical to a FER2013 Training face is kept and reported,
   as is one identical to an earlier face of the extra sources;
5. when more than ``max_rows`` faces are left, a seeded draw stratified over the classes keeps
   ``max_rows`` of them (:func:`stratified_draw`); the rest are dropped (``over max_rows``).

Only then does ingest add the faces to the train split, after the dev split has been drawn from
the ``data.path`` input, so dev and test never change.
"""

from __future__ import annotations

import hashlib
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fer_data.errors import DataError
from fer_data.external import canonical_class, map_labels
from fer_data.faces import EMOTIONS
from fer_data.readers.labelled import LabelledFaces
from fer_data.readers.result import REJECT_COLUMNS
from fer_data.records import Record
from fer_data.splits import blank_mask

LEAK_REASON = "identical to a dev or test image (leak)"
DROP_NULL = "label mapped to null"
DROP_CLASS = "class not chosen"
DROP_BLANK = "blank image"
DROP_OVER = "over max_rows"
DRAW_RULE = (
    "seeded stratified draw: each chosen class keeps its share of max_rows (largest remainders "
    "round), faces drawn at random within the class (numpy default_rng([seed, crc32(name)]))"
)


class ExtraSourceInfo(Record):
    """What ingest read of one extra source and what joined the train split
    (``metrics/ingest.json``, ``extra_train.<name>``)."""

    path: str
    reader: str  # csv, image_folder, archive/csv or archive/image_folder
    rows_read: int  # CSV rows or files: accepted + rejected
    rejected: int  # unreadable rows or files, and leaks
    rejected_by_reason: dict[str, int]
    dropped: dict[str, dict[str, int]]  # reason -> class name (or label) -> faces
    identical_to_fer2013_training: int  # kept: reported for the duplicate checks
    identical_to_extra: int  # kept: a copy of an earlier face of the extra sources
    draw: str  # how max_rows faces were chosen
    max_rows: int
    added: dict[str, int]  # faces per class that joined train, and "total"
    notes: dict[str, Any]


@dataclass(frozen=True)
class ExtraFaces:
    """The faces of one source that join the train split.

    Attributes
    ----------
    name : str
        The source's key in ``data.extra_train``.
    images : np.ndarray
        uint8 (n, 48, 48).
    emotion : np.ndarray
        int8 (n,): class codes of the label space.
    items : np.ndarray
        object (n,) of str: where each face came from (``file:line`` or the image file).
    rejects : pandas.DataFrame
        Rows of :data:`~fer_data.readers.result.REJECT_COLUMNS`: the reader's rejects and the
        leaks.
    info : ExtraSourceInfo
        The counts.
    """

    name: str
    images: np.ndarray
    emotion: np.ndarray
    items: np.ndarray
    rejects: pd.DataFrame
    info: ExtraSourceInfo
    keys: list[bytes] = field(default_factory=list)  # digests of the kept faces

    def __len__(self) -> int:
        return len(self.emotion)


def image_keys(images: np.ndarray) -> list[bytes]:
    """A 16-byte BLAKE2b digest of each image's pixels (:mod:`hashlib`): equal for pixel-identical
    images.

    Parameters
    ----------
    images : np.ndarray
        uint8 (n, 48, 48).

    Returns
    -------
    list of bytes
        n digests.
    """
    flat = np.ascontiguousarray(images).reshape(len(images), -1)
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in flat]


def class_names(
    labels: np.ndarray, label_map: Mapping[str, str | None] | None, where: str
) -> tuple[np.ndarray, dict[str, int]]:
    """Class names of a source's labels (step 1 of the module doc).

    Parameters
    ----------
    labels : np.ndarray
        object (n,) of str, as written in the source.
    label_map : mapping or None
        Their label -> class name or None; None: FER2013 codes ``0``-``6`` or class names.
    where : str
        The parameter key, for messages (``data.extra_train.disgust_topup``).

    Returns
    -------
    names : np.ndarray
        object (n,): the class name, None for a label mapped to null.
    dropped : dict of str to int
        Faces per label mapped to null.

    Raises
    ------
    DataError
        A label that is neither mapped nor (without a map) a FER2013 code or class name,
        naming the key and the labels with their counts.
    """
    if label_map is not None:
        return map_labels(labels, label_map, f"{where}.label_map")
    named: dict[str, str | None] = {}
    for label in set(labels.tolist()):
        text = str(label).strip()
        if text.isdigit() and int(text) < len(EMOTIONS):
            named[label] = EMOTIONS[int(text)]
        else:
            named[label] = canonical_class(text)
    unknown = Counter(str(label) for label in labels if named[label] is None)
    if unknown:
        listed = ", ".join(f"{label!r} ({n} faces)" for label, n in sorted(unknown.items()))
        raise DataError(
            f"{where}: the labels {listed} are neither FER2013 codes 0-6 nor class names; "
            f"set {where}.label_map to map each to a class name or to null"
        )
    return np.asarray([named[label] for label in labels], dtype=object), {}


def stratified_draw(emotion: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of ``n`` rows drawn at random, each class keeping its share.

    Class c gets ``n * count_c / total`` rows, rounded down, and the rows left over go to the
    classes with the largest remainders (the lower class code first on a tie); within a class the
    rows are drawn uniformly without replacement.

    Parameters
    ----------
    emotion : np.ndarray
        int (m,): class codes.
    n : int
        Rows to keep, ``0 <= n``; all m when ``n >= m``.
    rng : numpy.random.Generator
        The draw's generator.

    Returns
    -------
    np.ndarray
        int64 (min(n, m),): sorted positions into ``emotion``.
    """
    m = len(emotion)
    if n >= m:
        return np.arange(m, dtype=np.int64)
    codes, counts = np.unique(emotion, return_counts=True)
    exact = n * counts / m
    quota = np.floor(exact).astype(np.int64)
    order = np.lexsort((codes, -(exact - quota)))  # largest remainder first, then class code
    quota[order[: n - int(quota.sum())]] += 1
    chosen = [
        rng.choice(np.flatnonzero(emotion == code), size=int(q), replace=False)
        for code, q in zip(codes, quota, strict=True)
    ]
    return np.sort(np.concatenate(chosen).astype(np.int64))


def _count(names: np.ndarray) -> dict[str, int]:
    return dict(sorted(Counter(str(n) for n in names).items()))


def _leak_rejects(items: np.ndarray, positions: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "file": [str(i) for i in items],
            "line": pd.array([pd.NA] * len(items), dtype="Int64"),
            "row_id": positions.astype(np.int64),  # position among the faces the reader accepted
            "reason": [LEAK_REASON] * len(items),
            "detail": [""] * len(items),
            "raw": [""] * len(items),
        },
        columns=list(REJECT_COLUMNS),
    )


@dataclass(frozen=True)
class Selection:
    """What a source is checked against (step 3 and 4 of the module doc).

    ``held_out`` and ``fer_train`` are digests (:func:`image_keys`) of the dev + test faces and of
    the FER2013 train faces; ``extra_seen`` those of the extra faces already kept (earlier
    sources).
    """

    classes: Sequence[str]  # the label space's class names
    blank_std_max: float
    held_out: set[bytes]
    fer_train: set[bytes]
    extra_seen: set[bytes]
    seed: int


def select(
    name: str,
    path: Path,
    read: LabelledFaces,
    label_map: Mapping[str, str | None] | None,
    chosen: Sequence[str],
    max_rows: int,
    against: Selection,
) -> ExtraFaces:
    """The faces of one read source that join the train split (steps 1-5 of the module doc).

    Parameters
    ----------
    name : str
        The source's key in ``data.extra_train``.
    path : Path
        Its path, for the record.
    read : LabelledFaces
        The source as :func:`~fer_data.readers.labelled.read_labelled` read it.
    label_map : mapping or None
        The source's ``label_map``.
    chosen : sequence of str
        The source's ``classes`` (names in ``against.classes``).
    max_rows : int
        The most faces that join.
    against : Selection
        The label space, the blank rule, and the digests to check against.

    Returns
    -------
    ExtraFaces
        The faces kept (in read order), their class codes in ``against.classes``, the rejects
        and the counts.

    Raises
    ------
    DataError
        A label the map does not name (see :func:`class_names`).
    """
    where = f"data.extra_train.{name}"
    names, null_dropped = class_names(read.labels, label_map, where)
    dropped: dict[str, dict[str, int]] = {}
    if null_dropped:
        dropped[DROP_NULL] = null_dropped
    keep = names != None  # noqa: E711  (elementwise on an object array)
    wanted = np.isin(names, list(chosen)) & keep
    if (keep & ~wanted).any():
        dropped[DROP_CLASS] = _count(names[keep & ~wanted])
    blank = blank_mask(read.images, against.blank_std_max) & wanted
    if blank.any():
        dropped[DROP_BLANK] = _count(names[blank])
    candidates = np.flatnonzero(wanted & ~blank)
    keys = image_keys(read.images[candidates])
    leak = np.asarray([k in against.held_out for k in keys], dtype=bool)
    rejects = pd.concat(
        [read.rejects, _leak_rejects(read.items[candidates[leak]], candidates[leak])],
        ignore_index=True,
    )
    candidates = candidates[~leak]
    keys = [k for k, bad in zip(keys, leak, strict=True) if not bad]
    code_of = {c: i for i, c in enumerate(against.classes)}
    emotion = np.asarray([code_of[n] for n in names[candidates]], dtype=np.int64)
    rng = np.random.default_rng([against.seed, zlib.crc32(name.encode())])
    drawn = stratified_draw(emotion, max_rows, rng)
    if len(drawn) < len(candidates):
        over = np.ones(len(candidates), bool)
        over[drawn] = False
        dropped[DROP_OVER] = _count(names[candidates[over]])
    candidates, emotion = candidates[drawn], emotion[drawn]
    keys = [keys[i] for i in drawn]
    seen = set(against.extra_seen)
    identical_to_extra = 0
    for key in keys:  # within the source too: the second copy counts
        identical_to_extra += key in seen
        seen.add(key)
    info = ExtraSourceInfo(
        path=str(path),
        reader=read.reader,
        rows_read=read.n_rows,
        rejected=len(rejects),
        rejected_by_reason={str(k): int(v) for k, v in rejects["reason"].value_counts().items()},
        dropped=dropped,
        identical_to_fer2013_training=sum(k in against.fer_train for k in keys),
        identical_to_extra=identical_to_extra,
        draw=DRAW_RULE,
        max_rows=max_rows,
        added={c: int(np.sum(emotion == i)) for i, c in enumerate(against.classes)}
        | {"total": len(emotion)},
        notes=read.notes,
    )
    return ExtraFaces(
        name=name,
        images=read.images[candidates],
        emotion=emotion.astype(np.int8),
        items=read.items[candidates],
        rejects=rejects,
        info=info,
        keys=keys,
    )
