"""Face tables: the feather files every later stage reads.

A face table holds one row per image: ``row_id`` (the 0-based data row of the source CSV, the key
every later artifact joins on), ``aug`` (0 for an original image, k for its k-th augmented copy),
``emotion`` (the class code: 0-6 for FER2013 labels, 0-7 for FER+ majority labels), ``usage``
(Training / PublicTest / PrivateTest), ``pixels`` (a fixed-size list of 2304 uint8, row-major
48x48) and, for FER+ labels only, ``votes`` (a fixed-size list of the row's 10 FER+ crowd votes,
uint8, in :data:`fer_data.ferplus.VOTE_COLUMNS` order; the CNN's soft and multi-label targets are
made from them) and ``origin`` (where the face came from: ``fer2013`` for the ``data.path`` input,
whatever its format, or the name of a ``data.extra_train`` source; augmented copies keep their
original's; tables written before the column existed read as all ``fer2013``). The table's schema
metadata records the data source and the label space (``classes`` and ``label_source``), so a
table made from the synthetic demo set can never pass for FER2013, and FER+ labels never pass for
FER2013's.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather

from fer_data.atomic import atomic_path

IMAGE_SIDE = 48
N_PIXELS = IMAGE_SIDE * IMAGE_SIDE
EMOTIONS = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
USAGES = ("Training", "PublicTest", "PrivateTest")
LABEL_SOURCES = ("fer2013", "ferplus")
N_VOTES = 10  # FER+ vote columns: 8 emotions, unknown, not a face
MAIN_ORIGIN = "fer2013"  # origin of the data.path input's rows; extra sources carry their name
_META_KEY = b"ferbench"


@dataclass(frozen=True)
class FaceTable:
    """Images of one face table with their labels, one row per image (columns as in the module doc).

    Raises
    ------
    ValueError
        On construction, if the columns differ in length or ``images`` is not uint8 (n, 48, 48).
    """

    row_id: np.ndarray  # int64 (n,)
    emotion: np.ndarray  # int8 (n,)
    usage: np.ndarray  # str (n,)
    images: np.ndarray  # uint8 (n, 48, 48)
    aug: np.ndarray | None = None  # int16 (n,); None means all originals
    meta: dict = field(default_factory=dict)  # e.g. {"source": "csv", "synthetic": False}
    votes: np.ndarray | None = None  # uint8 (n, 10) FER+ votes; None for FER2013 labels
    origin: np.ndarray | None = None  # str (n,); None means all MAIN_ORIGIN

    def __post_init__(self) -> None:
        n = len(self.row_id)
        sizes = {len(self.emotion), len(self.usage), len(self.images)}
        if self.origin is not None:
            sizes.add(len(self.origin))
        if self.aug is not None:
            sizes.add(len(self.aug))
        if self.votes is not None:
            sizes.add(len(self.votes))
            if self.votes.ndim != 2 or self.votes.shape[1] != N_VOTES:
                raise ValueError(f"votes must be (n, {N_VOTES}), got {self.votes.shape}")
        if sizes != {n}:
            raise ValueError(f"FaceTable columns have different lengths: {sorted(sizes | {n})}")
        if self.images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE) or self.images.dtype != np.uint8:
            raise ValueError(
                f"images must be uint8 (n, 48, 48), got {self.images.dtype} {self.images.shape}"
            )

    def __len__(self) -> int:
        return len(self.row_id)

    @property
    def aug_index(self) -> np.ndarray:
        """Augmented-copy index of each row: int16 (n,), all zeros when ``aug`` is None."""
        return np.zeros(len(self), np.int16) if self.aug is None else self.aug

    @property
    def origins(self) -> np.ndarray:
        """Origin of each row: object (n,) of str, all :data:`MAIN_ORIGIN` when ``origin`` is
        None."""
        if self.origin is None:
            return np.full(len(self), MAIN_ORIGIN, dtype=object)
        return self.origin

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names of the label space, indexed by ``emotion`` (``meta["classes"]``; FER2013's
        :data:`EMOTIONS` for a table written before label spaces were recorded)."""
        return tuple(self.meta.get("classes", EMOTIONS))

    @property
    def label_source(self) -> str:
        """Where the labels come from: ``fer2013`` or ``ferplus`` (``meta["label_source"]``)."""
        return str(self.meta.get("label_source", "fer2013"))

    def take(self, index: np.ndarray) -> FaceTable:
        """The rows selected by ``index``, as a new table sharing ``meta``.

        Parameters
        ----------
        index : ndarray
            Integer positions of shape (k,) or a boolean mask of shape (n,), as numpy indexing
            takes them.

        Returns
        -------
        FaceTable
            A table of the selected rows (k of them, or as many as the mask keeps).
        """
        return FaceTable(
            row_id=self.row_id[index],
            emotion=self.emotion[index],
            usage=self.usage[index],
            images=self.images[index],
            aug=None if self.aug is None else self.aug[index],
            meta=self.meta,
            votes=None if self.votes is None else self.votes[index],
            origin=None if self.origin is None else self.origin[index],
        )


def concat_tables(tables: list[FaceTable]) -> FaceTable:
    """Stack face tables row-wise; the result always has an ``aug`` column.

    Parameters
    ----------
    tables : list of FaceTable
        One or more tables; the first one's ``meta`` is kept, the others' are ignored. Either all
        or none of them have ``votes``.

    Returns
    -------
    FaceTable
        All rows in the given order (n = sum of the tables' lengths); ``aug`` is int16 (n,) with
        zeros for tables that had none.

    Raises
    ------
    IndexError
        If ``tables`` is empty.
    ValueError
        If some tables have ``votes`` and others do not.
    """
    if len({t.votes is None for t in tables}) > 1:
        raise ValueError("cannot concatenate face tables with and without FER+ votes")
    return FaceTable(
        row_id=np.concatenate([t.row_id for t in tables]),
        emotion=np.concatenate([t.emotion for t in tables]),
        usage=np.concatenate([t.usage for t in tables]),
        images=np.concatenate([t.images for t in tables]),
        aug=np.concatenate([t.aug_index for t in tables]),
        meta=tables[0].meta,
        votes=None
        if any(t.votes is None for t in tables)
        else np.concatenate([t.votes for t in tables]),
        origin=None
        if all(t.origin is None for t in tables)
        else np.concatenate([t.origins for t in tables]),
    )


def _to_arrow(table: FaceTable) -> pa.Table:
    flat = pa.array(np.ascontiguousarray(table.images).reshape(-1), type=pa.uint8())
    pixels = pa.FixedSizeListArray.from_arrays(flat, N_PIXELS)
    columns = {
        "row_id": pa.array(table.row_id, pa.int64()),
        "aug": pa.array(table.aug_index, pa.int16()),
        "emotion": pa.array(table.emotion, pa.int8()),
        "usage": pa.array(table.usage.astype(str), pa.string()).dictionary_encode(),
        "pixels": pixels,
        "origin": pa.array(table.origins.astype(str), pa.string()).dictionary_encode(),
    }
    if table.votes is not None:
        flat_votes = pa.array(np.ascontiguousarray(table.votes, np.uint8).reshape(-1), pa.uint8())
        columns["votes"] = pa.FixedSizeListArray.from_arrays(flat_votes, N_VOTES)
    arrow = pa.table(columns)
    return arrow.replace_schema_metadata({_META_KEY: json.dumps(table.meta).encode()})


def write_faces(table: FaceTable, path: str | os.PathLike[str]) -> Path:
    """Write a face table as an uncompressed feather (Arrow IPC) file, atomically.

    Columns are written as ``row_id`` int64, ``aug`` int16, ``emotion`` int8, ``usage`` and
    ``origin`` dictionary-encoded strings, ``pixels`` fixed-size list of 2304 uint8 and, when the
    table has
    them, ``votes`` fixed-size list of 10 uint8; ``meta`` (with ``classes`` and ``label_source``)
    is stored as JSON in the schema metadata. Uses pyarrow's ``feather.write_feather``.

    Parameters
    ----------
    table : FaceTable
        The table to write; ``meta`` must be JSON-serialisable.
    path : str or os.PathLike
        Destination file; missing parent folders are created.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        If ``table.meta`` cannot be encoded as JSON.
    OSError
        If the file cannot be written; ``path`` is then left as it was.
    """
    with atomic_path(path) as tmp:
        feather.write_feather(_to_arrow(table), tmp, compression="uncompressed")
    return Path(path)


def read_faces(path: str | os.PathLike[str]) -> FaceTable:
    """Read a face table written by :func:`write_faces` (zero-copy for the pixels).

    Parameters
    ----------
    path : str or os.PathLike
        A feather file written by :func:`write_faces`.

    Returns
    -------
    FaceTable
        ``row_id`` int64 (n,), ``emotion`` int8 (n,), ``usage`` object array of str (n,),
        ``images`` uint8 (n, 48, 48) (read-only, backed by the Arrow buffer), ``aug`` int16 (n,),
        ``votes`` uint8 (n, 10) or None, ``origin`` object array of str (n,) or None (a table
        written without the column), and ``meta`` from the schema metadata (``{}`` if absent).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If a required column (``row_id``, ``aug``, ``emotion``, ``usage``, ``pixels``) is missing,
        or the columns do not form a valid :class:`FaceTable`.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"face table {path} does not exist; run the stage that writes it first"
        )
    arrow = feather.read_table(path, memory_map=False)
    expected = {"row_id", "aug", "emotion", "usage", "pixels"}
    if not expected <= set(arrow.column_names):
        raise ValueError(f"{path}: expected columns {sorted(expected)}, found {arrow.column_names}")
    pixels = arrow.column("pixels").combine_chunks()
    images = pixels.flatten().to_numpy().reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    raw_meta = (arrow.schema.metadata or {}).get(_META_KEY, b"{}")
    votes = None
    if "votes" in arrow.column_names:
        flat = arrow.column("votes").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        votes = flat.reshape(-1, N_VOTES)
    return FaceTable(
        row_id=arrow.column("row_id").to_numpy(),
        emotion=arrow.column("emotion").to_numpy(),
        usage=np.asarray(
            arrow.column("usage").combine_chunks().cast(pa.string()).to_pylist(), dtype=object
        ),
        images=images,
        aug=arrow.column("aug").to_numpy(),
        meta=json.loads(raw_meta),
        votes=votes,
        origin=np.asarray(
            arrow.column("origin").combine_chunks().cast(pa.string()).to_pylist(), dtype=object
        )
        if "origin" in arrow.column_names
        else None,
    )
