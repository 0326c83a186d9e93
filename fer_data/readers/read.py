"""One entry point for every reader: a resolved input (:mod:`fer_data.source`) becomes
:class:`~fer_data.readers.result.ParsedFaces`."""

from __future__ import annotations

from pathlib import Path

from fer_data.fer_csv import read_fer2013
from fer_data.readers.archive import read_archive
from fer_data.readers.image_folder import read_image_folder
from fer_data.readers.result import ParsedFaces


def read_input(
    kind: str, path: Path, archive: str | None = None, resize: bool = False, n_jobs: int = 2
) -> ParsedFaces:
    """Read one input.

    Parameters
    ----------
    kind : {"csv", "archive", "image_folder"}
        What ``path`` is (:func:`fer_data.source.resolve` decides, by content).
    path : Path
        The file or folder.
    archive : {"tar", "zip"}, optional
        The archive's kind (``kind="archive"`` only).
    resize, n_jobs
        Image folders only: see :func:`fer_data.readers.image_folder.read_image_folder`.

    Raises
    ------
    DataError
        Whatever the reader finds wrong with the file, naming it.
    """
    if kind == "csv":
        return read_fer2013(path)
    if kind == "archive":
        return read_archive(path, archive or "tar")
    if kind == "image_folder":
        return read_image_folder(path, resize=resize, n_jobs=n_jobs)
    raise ValueError(f"unknown input kind {kind!r}")
