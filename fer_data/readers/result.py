"""What every reader returns: accepted faces, rejected inputs with reasons, and what was read."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# One rejects format for every reader (``data/ingested/rejects.csv``): ``file`` is the CSV (or
# ``archive [member]``) or the image file, ``line`` the 1-based CSV line (empty for an image),
# ``row_id`` the reader's row number of the input, ``detail`` a number or a short text (a field
# count, a pixel value, an image size, a folder name), ``raw`` the CSV line as it was ("" for an
# image).
REJECT_COLUMNS = ("file", "line", "row_id", "reason", "detail", "raw")


def empty_rejects() -> pd.DataFrame:
    """A rejects frame with no rows and the columns of :data:`REJECT_COLUMNS`."""
    return pd.DataFrame({name: pd.Series(dtype=object) for name in REJECT_COLUMNS})


@dataclass(frozen=True)
class ParsedFaces:
    """A data set as read, before splitting.

    Attributes
    ----------
    row_id : np.ndarray
        int64 (n,): the input row of each accepted face: the 0-based data row of a CSV, or the
        position of an image in an image folder's sorted file list (see
        :mod:`fer_data.readers.image_folder`).
    emotion : np.ndarray
        int8 (n,): class code 0-6 (:data:`fer_data.faces.EMOTIONS`); FER+ relabelling
        (:mod:`fer_data.relabel`) makes it 0-7 (:data:`fer_data.ferplus.FERPLUS_CLASSES`).
    usage : np.ndarray
        object (n,): ``Training``, ``PublicTest`` or ``PrivateTest``.
    images : np.ndarray
        uint8 (n, 48, 48): grayscale faces.
    rejects : pandas.DataFrame
        One row per rejected input, columns :data:`REJECT_COLUMNS`.
    n_rows : int
        Inputs read, accepted + rejected.
    reader : str
        ``csv``, ``archive`` or ``image_folder``.
    origin : str
        What was read, for messages: a path, or ``archive [member]``.
    member : str or None
        The archive member read (archives only).
    notes : dict
        Reader-specific counts for ``metrics/ingest.json`` (ignored columns, images converted to
        grayscale or resized, how test images were split into PublicTest / PrivateTest, ...).
    """

    row_id: np.ndarray
    emotion: np.ndarray
    usage: np.ndarray
    images: np.ndarray
    rejects: pd.DataFrame
    n_rows: int
    reader: str = "csv"
    origin: str = ""
    member: str | None = None
    notes: dict = field(default_factory=dict)
