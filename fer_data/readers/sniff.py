"""Telling FER2013 inputs apart by their content, not their names.

A user points ``data.path`` at whatever they downloaded: a CSV (plain or gzip, with or without
the ``.gz`` suffix), a tar or zip archive (Kaggle's ``fer2013.tar.gz``, a ``.zip``, a tar whose
extension an unpacker stripped), or a folder. Archives are recognised with the standard library's
:func:`zipfile.is_zipfile` and :func:`tarfile.is_tarfile` (which reads through gzip, bzip2 and xz).
"""

from __future__ import annotations

import gzip
import tarfile
import zipfile
import zlib
from pathlib import Path

from fer_data.fer_csv import GZIP_MAGIC, find_columns, header_columns

# Image files are never archives or CSVs: a folder search does not open them.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
# File names that say "FER2013" even when the header is broken: a search reports them (and the
# reader then names what is wrong) rather than passing them over.
FER_NAME_PREFIXES = ("fer2013", "icml_face_data")
TRAIN, TEST = "train", "test"


def file_kind(path: Path) -> str:
    """``zip``, ``tar`` or ``csv`` (anything else: the CSV reader then says what is wrong).

    Zip is tested first: a zip's local headers can pass the tar header checksum test.
    """
    if zipfile.is_zipfile(path):
        return "zip"
    try:
        if tarfile.is_tarfile(path):
            return "tar"
    except (OSError, EOFError, tarfile.TarError, zlib.error):  # a truncated gzip, for one
        pass
    return "csv"


def first_line(path: Path, limit: int = 65536) -> str:
    """The first line of a file (gunzipped when it is gzip), at most ``limit`` bytes; "" if none."""
    with open(path, "rb") as handle:
        magic = handle.read(2)
    try:
        opener = gzip.open if magic == GZIP_MAGIC else open
        with opener(path, "rb") as handle:
            line = handle.readline(limit)
    except (OSError, EOFError, zlib.error):
        return ""
    return line.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")


def is_fer_header(line: str) -> bool:
    """True when the header line has the emotion, pixels and Usage columns (in any order)."""
    return isinstance(find_columns(header_columns(line)), dict)


def is_ferplus_header(line: str) -> bool:
    """True for the FER+ vote file's header (``Usage,Image name,neutral,...``): votes, no faces."""
    return "image name" in [c.lower() for c in header_columns(line)]


def is_csv_name(name: str) -> bool:
    lowered = name.lower()
    return lowered.endswith((".csv", ".csv.gz"))


def has_fer_name(name: str) -> bool:
    return name.lower().startswith(FER_NAME_PREFIXES)


def image_folder_parts(folder: Path) -> dict[str, Path]:
    """The ``train`` and ``test`` subfolders of ``folder`` that exist (names in any case)."""
    found = {}
    for child in folder.iterdir():
        if child.is_dir() and child.name.lower() in (TRAIN, TEST):
            found[child.name.lower()] = child
    return found


def is_image_folder(folder: Path) -> bool:
    """True when ``folder`` holds a ``train/`` or a ``test/`` folder: an image-folder data set
    (the reader then requires both)."""
    return bool(image_folder_parts(folder))
