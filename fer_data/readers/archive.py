"""Reading FER2013 straight from the archive it was downloaded as (tar, tar.gz, zip).

Kaggle's original download is ``fer2013.tar.gz`` holding ``fer2013/fer2013.csv`` (plus a README and
a ``.bib``); other copies come as a ``.zip`` (Kaggle's current one also holds
``icml_face_data.csv``, ``train.csv`` and ``test.csv``), and some unpackers leave the tar with no
extension. The one member that is a FER2013 CSV (a ``.csv`` whose header has emotion, pixels and
Usage: ``fer2013.csv`` or ``icml_face_data.csv`` shaped) is found by its header and read in one pass
over the archive; it then goes through exactly the CSV parser a plain file does.

Kinds come from :func:`fer_data.readers.sniff.file_kind` (content, not extension). A tar is read as
a stream (``tarfile`` mode ``r|``), gunzipped with ISA-L when it is gzip; a zip through
:mod:`zipfile`. Nested archives are not opened.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from fer_data.errors import DataError
from fer_data.fer_csv import GZIP_MAGIC, parse_fer2013
from fer_data.readers.image_folder import EMOTION_FOLDERS
from fer_data.readers.result import ParsedFaces
from fer_data.readers.sniff import is_csv_name, is_fer_header

HEADER_LIMIT = 65536  # longest header line looked at (bytes)
LISTED = 12  # members named in an error message


@contextlib.contextmanager
def _tar_stream(path: Path) -> Iterator[tarfile.TarFile]:
    with open(path, "rb") as handle:
        gz = handle.read(2) == GZIP_MAGIC
    if gz:
        from isal import igzip  # ~2.5x faster inflate than zlib's

        with igzip.open(path, "rb") as raw, tarfile.open(fileobj=raw, mode="r|") as tar:
            yield tar
    else:
        with tarfile.open(path, mode="r|*") as tar:
            yield tar


def _header(handle: IO[bytes]) -> tuple[bytes, bool]:
    """(the first line as read, whether it is a FER2013 header)."""
    first = handle.readline(HEADER_LIMIT)
    text = first.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")
    return first, is_fer_header(text)


def _tar_candidates(path: Path) -> tuple[list[str], list[str], bytes | None]:
    """(every member name, the FER2013 CSV members, the first one's bytes)."""
    names: list[str] = []
    candidates: list[str] = []
    data = None
    try:
        with _tar_stream(path) as tar:
            for member in tar:
                names.append(member.name)
                if not (member.isfile() and is_csv_name(member.name)):
                    continue
                handle = tar.extractfile(member)
                first, fer = _header(handle)
                if not fer:
                    continue
                candidates.append(member.name)
                if data is None:
                    data = first + handle.read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"{path}: truncated or corrupt tar archive ({exc}); download it again"
        ) from None
    return names, candidates, data


def _zip_candidates(path: Path) -> tuple[list[str], list[str], bytes | None]:
    names: list[str] = []
    candidates: list[str] = []
    data = None
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                names.append(info.filename)
                if info.is_dir() or not is_csv_name(info.filename):
                    continue
                with archive.open(info) as handle:
                    first, fer = _header(handle)
                    if not fer:
                        continue
                    candidates.append(info.filename)
                    if data is None:
                        data = first + handle.read()
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"{path}: truncated or corrupt zip archive ({exc}); download it again"
        ) from None
    return names, candidates, data


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:LISTED])
    return shown + (f" (and {len(names) - LISTED} more)" if len(names) > LISTED else "")


def _holds_image_folder(names: list[str]) -> bool:
    """True when members look like ``[prefix/]train/<emotion>/<image>``."""
    for name in names:
        parts = [p.lower() for p in name.split("/") if p]
        for i in range(len(parts) - 2):
            if parts[i] in ("train", "test") and parts[i + 1] in EMOTION_FOLDERS:
                return True
    return False


def read_archive(path: Path, kind: str) -> ParsedFaces:
    """Find the one FER2013 CSV inside a tar or zip archive and parse it.

    Parameters
    ----------
    path : Path
        The archive.
    kind : {"tar", "zip"}
        From :func:`fer_data.readers.sniff.file_kind`.

    Returns
    -------
    ParsedFaces
        As :func:`fer_data.fer_csv.parse_fer2013`, with ``reader="archive"``, ``member`` the
        member read and ``origin`` ``"<archive> [<member>]"``.

    Raises
    ------
    DataError
        The archive is corrupt, holds no FER2013 CSV, or holds more than one (every case lists
        the members and says what to do).
    """
    names, candidates, data = (_tar_candidates if kind == "tar" else _zip_candidates)(path)
    if not candidates:
        if _holds_image_folder(names):
            advice = (
                "it holds an image-folder data set (train/<emotion>/, test/<emotion>/): unpack it "
                "and set data.path to the folder that holds train/ and test/"
            )
        else:
            advice = (
                "expected a .csv member whose header has the columns emotion, pixels and Usage "
                "(fer2013.csv or icml_face_data.csv); nested archives are not opened: unpack it "
                "and set data.path to the FER2013 file"
            )
        raise DataError(
            f"{path}: this {kind} archive holds no FER2013 CSV; {advice}. Its members: "
            f"{_listing(names) or 'none'}"
        )
    if len(candidates) > 1:
        raise DataError(
            f"{path}: this {kind} archive holds {len(candidates)} FER2013 CSVs "
            f"({', '.join(candidates)}); unpack it and set data.path to the one to use"
        )
    member = candidates[0]
    parsed = parse_fer2013(data, f"{path} [{member}]")
    return dataclasses.replace(
        parsed,
        reader="archive",
        member=member,
        notes={**parsed.notes, "archive": kind, "members": len(names)},
    )
