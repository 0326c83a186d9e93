"""External test sets: faces from another data set, their labels mapped onto ferbench's classes.

An external set is read in its own vocabulary (:mod:`fer_data.readers.labelled`), then a label map
(``{their label: class name or null}``) turns each label into a class name. Labels mapped to null
are dropped here and counted; a label the map does not name is an error (nothing the user gave is
dropped silently). Each model later scores the faces of the classes it has and counts the others
as dropped (a FER2013 model has no contempt; a FER+ model has).

The mapped set is stored as ``data/external/<name>.parquet`` (pyarrow): ``item`` (where the face
came from), ``label`` (as written), ``emotion`` (the class name), ``subject`` (null without a
subject column) and ``pixels`` (2304 bytes, row-major 48x48); the schema metadata holds the set's
name, path and reader.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fer_data.atomic import atomic_path
from fer_data.errors import DataError
from fer_data.faces import EMOTIONS, IMAGE_SIDE, N_PIXELS
from fer_data.records import Record

# The class names a label map may target: FER2013's seven and FER+'s eighth, contempt. A model
# scores the faces of the classes it has (its model card's ``classes``, matched ignoring case).
TARGET_CLASSES = (*EMOTIONS, "Contempt")
_META_KEY = b"ferbench_external"


@dataclass(frozen=True)
class ExternalSet:
    """One external test set, its labels mapped to class names.

    Attributes
    ----------
    name : str
        The set's key in ``evaluate.external``.
    images : np.ndarray
        uint8 (n, 48, 48).
    emotion : np.ndarray
        object (n,) of str: class names from :data:`TARGET_CLASSES`.
    label : np.ndarray
        object (n,) of str: the labels as written in the set.
    subject : np.ndarray or None
        object (n,) of str: the person in each face; None when the set names none.
    item : np.ndarray
        object (n,) of str: where each face came from (``file:line`` or the image file).
    meta : dict
        ``path`` and ``reader``.
    """

    name: str
    images: np.ndarray
    emotion: np.ndarray
    label: np.ndarray
    subject: np.ndarray | None
    item: np.ndarray
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.emotion)

    @property
    def n_subjects(self) -> int | None:
        return None if self.subject is None else len(set(self.subject.tolist()))

    def take(self, index: np.ndarray) -> ExternalSet:
        """The faces selected by ``index`` (int positions or a boolean mask)."""
        return ExternalSet(
            self.name,
            self.images[index],
            self.emotion[index],
            self.label[index],
            None if self.subject is None else self.subject[index],
            self.item[index],
            self.meta,
        )


def canonical_class(name: str) -> str | None:
    """The :data:`TARGET_CLASSES` entry equal to ``name`` ignoring case, or None."""
    found = {c.lower(): c for c in TARGET_CLASSES}
    return found.get(name.strip().lower())


def map_labels(
    labels: np.ndarray, label_map: Mapping[str, str | None], where: str
) -> tuple[np.ndarray, dict[str, int]]:
    """Class names of ``labels`` through ``label_map``; labels are matched ignoring case.

    Parameters
    ----------
    labels : np.ndarray
        object (n,) of str, as written in the set.
    label_map : mapping of str to str or None
        Their label -> a class name (any case) or None (drop the faces).
    where : str
        The parameter key naming the map, for messages (``evaluate.external.ckplus.label_map``).

    Returns
    -------
    emotion : np.ndarray
        object (n,): the class name, or None for a label mapped to null.
    dropped : dict of str to int
        Faces per label mapped to null.

    Raises
    ------
    DataError
        A label of the set the map does not name (listing them with counts), a target that is
        not a class name, or two keys equal but for case.
    """
    lowered: dict[str, str | None] = {}
    for key, target in label_map.items():
        low = str(key).strip().lower()
        if low in lowered:
            raise DataError(f"{where}: the labels {key!r} and another differ only in case")
        if target is not None and canonical_class(target) is None:
            raise DataError(
                f"{where}.{key}: got {target!r}; expected a class name "
                f"({', '.join(TARGET_CLASSES)}) or null to drop these faces"
            )
        lowered[low] = None if target is None else canonical_class(target)
    counts = Counter(str(label) for label in labels)
    unknown = {label: n for label, n in counts.items() if label.lower() not in lowered}
    if unknown:
        listed = ", ".join(f"{label!r} ({n} faces)" for label, n in sorted(unknown.items()))
        raise DataError(
            f"{where}: no entry for the labels {listed}; map each to a class name "
            f"({', '.join(TARGET_CLASSES)}) or to null to drop its faces"
        )
    emotion = np.asarray([lowered[str(label).lower()] for label in labels], dtype=object)
    dropped = {label: n for label, n in sorted(counts.items()) if lowered[label.lower()] is None}
    return emotion, dropped


def write_external(table: ExternalSet, path: str | os.PathLike[str]) -> Path:
    """Write ``table`` as parquet (columns in the module doc), atomically; returns ``path``."""
    flat = np.ascontiguousarray(table.images).reshape(len(table), N_PIXELS)
    arrow = pa.table(
        {
            "item": pa.array(table.item.astype(str), pa.string()),
            "label": pa.array(table.label.astype(str), pa.string()),
            "emotion": pa.array(table.emotion.astype(str), pa.string()),
            "subject": pa.array(
                [None] * len(table) if table.subject is None else table.subject.astype(str),
                pa.string(),
            ),
            "pixels": pa.array([row.tobytes() for row in flat], pa.binary(N_PIXELS)),
        }
    )
    meta = {"name": table.name, "has_subjects": table.subject is not None, **table.meta}
    arrow = arrow.replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(arrow, tmp)
    return Path(path)


def read_external(path: str | os.PathLike[str]) -> ExternalSet:
    """Read a set written by :func:`write_external`.

    Raises
    ------
    DataError
        The file is missing or not such a set.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such external set; run the external stage first")
    arrow = pq.read_table(path)
    raw = (arrow.schema.metadata or {}).get(_META_KEY)
    if raw is None:
        raise DataError(f"{path}: not an external set written by ferbench")
    meta = json.loads(raw)
    n = arrow.num_rows
    pixels = arrow.column("pixels").combine_chunks()
    # A fixed-size binary array's data buffer holds the n x 2304 bytes back to back.
    buffer = pixels.buffers()[1]
    start = pixels.offset * N_PIXELS
    images = np.frombuffer(buffer, np.uint8, n * N_PIXELS, start).reshape(n, IMAGE_SIDE, IMAGE_SIDE)

    def strings(name: str) -> np.ndarray:
        return np.asarray(arrow.column(name).to_pylist(), dtype=object)

    return ExternalSet(
        name=meta.pop("name"),
        images=images,
        emotion=strings("emotion"),
        label=strings("label"),
        subject=strings("subject") if meta.pop("has_subjects") else None,
        item=strings("item"),
        meta=meta,
    )


class ExternalSetInfo(Record):
    """What the external stage read of one set, and what it kept."""

    path: str
    reader: str  # csv, image_folder, archive/csv or archive/image_folder
    rows_read: int  # CSV rows or files: accepted + rejected
    rejected: int
    rejected_by_reason: dict[str, int]
    dropped_by_label_map: dict[str, int]  # faces per label mapped to null
    images: int  # faces kept (a class name each)
    classes: dict[str, int]  # faces per class name
    subjects: int | None  # distinct subjects; None without a subject column
    notes: dict[str, Any]


class ExternalManifest(Record):
    """``data/external/manifest.json``: every set of ``evaluate.external`` ({} when none)."""

    sets: dict[str, ExternalSetInfo]
