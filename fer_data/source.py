"""Where the data comes from: ``data.source`` and ``data.path`` resolved to one input, or the
synthetic demo set only when the user gave nothing.

Rules (no silent substitution):

- ``synthetic``: always the demo set.
- ``data.path`` set explicitly (different from the default, ``data/raw``) must exist; a file is read
  by its content (CSV plain or gzip, tar or zip archive); a folder is an image-folder data set when
  it holds ``train/`` or ``test/``, otherwise it is searched (below). Nothing usable there is an
  error naming the path.
- The default folder is searched, subfolders included: FER2013 CSVs (a ``.csv``/``.csv.gz`` whose
  header has emotion, pixels and Usage, or named ``fer2013*``/``icml_face_data*``; never the FER+
  vote file), tar/zip archives (by content, whatever their name) and image folders. One input found
  is used and named in the log; several are an error listing them. Nothing found: ``auto`` runs
  the synthetic demo set, saying where it looked; ``path`` is an error saying where to put the
  download.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fer_data.errors import DataError
from fer_data.readers.sniff import (
    IMAGE_SUFFIXES,
    file_kind,
    first_line,
    has_fer_name,
    is_csv_name,
    is_fer_header,
    is_ferplus_header,
    is_image_folder,
)

SOURCES = ("auto", "path", "synthetic")
LOOKED_FOR = (
    "a FER2013 CSV (fer2013.csv or icml_face_data.csv, plain or gzip), a tar/zip archive holding "
    "one, or an image folder with train/ and test/"
)
DOWNLOAD = (
    "Download fer2013.csv (or the archive) from Kaggle's 'Challenges in Representation Learning: "
    "Facial Expression Recognition Challenge'"
)


@dataclass(frozen=True)
class Resolved:
    """One input to read, or the synthetic demo set.

    ``kind``: ``csv``, ``archive``, ``image_folder`` or ``synthetic``; ``archive``: ``tar`` or
    ``zip`` (archives only); ``found_by``: ``data.path`` or ``search of <folder>``; ``looked_in``:
    the folder searched (synthetic: where no data was found).
    """

    kind: str
    path: Path | None
    archive: str | None = None
    found_by: str = "data.path"
    looked_in: Path | None = None


def _classify_file(path: Path) -> Resolved:
    kind = file_kind(path)
    if kind == "csv":
        return Resolved("csv", path)
    return Resolved("archive", path, archive=kind)


def search(folder: Path) -> list[Resolved]:
    """Every FER2013 input under ``folder`` (recursively; hidden entries skipped), sorted.

    An image folder is one input (its own files are not searched further).
    """
    found: list[Resolved] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if here != folder and is_image_folder(here):
            found.append(Resolved("image_folder", here, found_by=f"search of {folder}"))
            dirnames[:] = []
            continue
        for name in sorted(filenames):
            path = here / name
            if name.startswith(".") or path.suffix.lower() in IMAGE_SUFFIXES:
                continue
            if is_csv_name(name):
                header = first_line(path)
                if is_ferplus_header(header):
                    continue  # FER+ votes: labels, not faces
                if not (is_fer_header(header) or has_fer_name(name)):
                    continue
            resolved = _classify_file(path)
            if resolved.kind == "archive" or is_csv_name(name):
                found.append(
                    Resolved(resolved.kind, path, resolved.archive, found_by=f"search of {folder}")
                )
    return found


def _describe(found: list[Resolved]) -> str:
    kinds = {"csv": "CSV", "archive": "archive", "image_folder": "image folder"}
    return ", ".join(f"{r.path} ({kinds[r.kind]})" for r in found)


def _missing(path: Path) -> str:
    hint = ""
    parent = path.parent
    if parent.is_dir():
        entries = sorted(p.name for p in parent.iterdir() if not p.name.startswith("."))
        shown = ", ".join(entries[:8]) + (", ..." if len(entries) > 8 else "")
        hint = f" ({parent} holds: {shown})" if entries else f" ({parent} is empty)"
    else:
        hint = f" (no folder {parent} either)"
    return f"data.path={path}: no such file or folder{hint}; set data.path to your FER2013 data"


def resolve(source: str, path: Path, default: Path) -> Resolved:
    """The input ``data.source`` / ``data.path`` name (rules: see the module docstring).

    Parameters
    ----------
    source : {"auto", "path", "synthetic"}
        ``data.source``.
    path : Path
        ``data.path``.
    default : Path
        The default of ``data.path`` (``data/raw``): only there does "nothing found" mean "the
        user gave nothing".

    Raises
    ------
    DataError
        An explicit ``data.path`` that does not exist or holds no FER2013 input; several inputs
        found by a search; ``source: path`` with no data found.
    """
    if source == "synthetic":
        return Resolved("synthetic", None, found_by="data.source: synthetic")
    path = Path(path)
    explicit = path != Path(default)
    if not path.exists():
        if explicit:
            raise DataError(_missing(path))
        return _nothing(source, path)
    if path.is_file():
        return _classify_file(path)
    if is_image_folder(path):
        return Resolved("image_folder", path)
    found = search(path)
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise DataError(
            f"data.path={path}: found {len(found)} FER2013 inputs under it: {_describe(found)}; "
            f"keep one there (e.g. move the one to use to {path / 'fer2013.csv'}) or set "
            f"data.path to it (dvc exp run -S data.path={found[0].path})"
        )
    if explicit:
        raise DataError(
            f"data.path={path}: this folder holds no FER2013 data; expected {LOOKED_FOR}"
        )
    return _nothing(source, path)


def _nothing(source: str, default: Path) -> Resolved:
    if source == "path":
        raise DataError(
            f"data.source: path, but there is no FER2013 data in {default}. {DOWNLOAD} and put it "
            f"in {default}, or set data.path; data.source: synthetic runs the synthetic demo set"
        )
    return Resolved("synthetic", None, found_by="nothing found", looked_in=default)


def synthetic_reason(resolved: Resolved) -> str:
    """One line for the banner: why the demo set runs and where ferbench looked."""
    if resolved.looked_in is None:
        return "data.source: synthetic"
    return (
        f"no FER2013 data in {resolved.looked_in} (searched it and its subfolders for {LOOKED_FOR})"
    )
