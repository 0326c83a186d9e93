"""Reading a labelled face set in any vocabulary: the inputs of cross-dataset evaluation.

An external test set (CK+, JAFFE, RAF-DB, a FER2013 copy, ...) arrives as

- a CSV, plain or gzip, shaped like FER2013's: a label column ``emotion`` and a ``pixels`` column
  (2304 space-separated gray levels 0-255, row-major 48x48), plus optionally a subject column and
  any other columns (ignored and reported; ``Usage`` too: every row is a test row). Column names
  are matched after trimming, case-insensitively. Labels are kept as written (``3``, ``anger``,
  ``Contempt``): a label map turns them into class names (:mod:`fer_data.external`).
- an image folder: ``<label>/<image>`` at any depth below the root, the label being the image's
  parent folder name as written. Images are decoded as the FER2013 image-folder reader does
  (:func:`fer_data.readers.image_folder.decode_all`: grayscale conversion counted, other sizes
  resized only when ``resize`` is set, else rejected).
- a tar or zip archive holding one of those: unpacked into a temporary folder (tar with the
  standard library's ``data`` filter: no absolute paths, links out of the folder or device
  files), then read as the one CSV it holds, or else as an image folder.

Bad rows (a pixel list of the wrong length, a value outside 0-255, an empty label or subject)
and bad images are rejected with the file, line and reason (the rejects format of
:data:`fer_data.readers.result.REJECT_COLUMNS`); file-level problems raise
:class:`~fer_data.errors.DataError` naming the file.
"""

from __future__ import annotations

import dataclasses
import io
import re
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fer_data.errors import DataError
from fer_data.faces import IMAGE_SIDE, N_PIXELS
from fer_data.fer_csv import read_bytes
from fer_data.readers.image_folder import REASONS, decode_all, natural_key
from fer_data.readers.result import REJECT_COLUMNS, empty_rejects
from fer_data.readers.sniff import file_kind

LABEL_COLUMN, PIXELS_COLUMN = "emotion", "pixels"
CSV_SUFFIXES = (".csv", ".csv.gz")
ROW_REASONS = {
    "label": "empty label",
    "subject": "empty subject",
    "pixels": f"pixels are not {N_PIXELS} integers 0-255",
    "place": "not inside a label folder (expected <label>/<image>)",
    "no_subject": "no subject in the file's path (subject_pattern does not match it)",
}


@dataclass(frozen=True)
class LabelledFaces:
    """A labelled face set as read: faces with their labels as written, and what was rejected.

    Attributes
    ----------
    images : np.ndarray
        uint8 (n, 48, 48) grayscale faces.
    labels : np.ndarray
        object (n,) of str: each face's label as written (trimmed).
    subjects : np.ndarray or None
        object (n,) of str: the person in each face, when a subject column was read.
    items : np.ndarray
        object (n,) of str: where each face came from (``file:line`` or the image file).
    rejects : pandas.DataFrame
        One row per rejected input, columns :data:`~fer_data.readers.result.REJECT_COLUMNS`.
    n_rows : int
        Inputs read, accepted + rejected.
    reader : str
        ``csv``, ``image_folder``, ``archive/csv`` or ``archive/image_folder``.
    notes : dict
        Ignored columns, grayscale conversions and resizes, the archive member read.
    """

    images: np.ndarray
    labels: np.ndarray
    subjects: np.ndarray | None
    items: np.ndarray
    rejects: pd.DataFrame
    n_rows: int
    reader: str
    notes: dict = field(default_factory=dict)


def _column(columns: list[str], wanted: str, path: object) -> int:
    hits = [i for i, c in enumerate(columns) if c.lower() == wanted.lower()]
    if len(hits) != 1:
        found = "no" if not hits else f"{len(hits)}"
        raise DataError(
            f"{path}: {found} column '{wanted}' in the header ({', '.join(columns)}); expected "
            f"one '{LABEL_COLUMN}' (the label), one '{PIXELS_COLUMN}' (48x48 gray levels) and the "
            "subject column when one is set"
        )
    return hits[0]


def _parse_pixels(text: str) -> np.ndarray | None:
    tokens = text.split()
    if len(tokens) != N_PIXELS or not all(t.isdigit() for t in tokens):
        return None
    values = np.asarray(tokens, dtype=np.int64)
    return None if values.max() > 255 else values.astype(np.uint8)


def read_labelled_csv(
    path: Path, subject_column: str | None, origin: str | None = None
) -> LabelledFaces:
    """A FER2013-shaped CSV (plain or gzip) with labels in any vocabulary (see the module doc).

    Parameters
    ----------
    path : Path
        The CSV.
    subject_column : str or None
        The column naming each face's subject (person), or None.
    origin : str, optional
        Names the input in messages and rejects (default: ``path``).

    Raises
    ------
    DataError
        Missing, empty or binary file; no ``emotion`` or ``pixels`` column (or the subject
        column), or one of them twice; no data rows.
    """
    origin = origin or str(path)
    data = read_bytes(path)
    try:
        frame = pd.read_csv(
            io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig"
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{origin}: not a readable CSV ({exc})") from None
    columns = [str(c).strip().strip('"').strip() for c in frame.columns]
    frame.columns = columns
    if frame.empty:
        raise DataError(f"{origin}: has the header but no data rows")
    wanted = [LABEL_COLUMN, PIXELS_COLUMN, *([subject_column] if subject_column else [])]
    index = [_column(columns, name, origin) for name in wanted]
    labels = frame.iloc[:, index[0]].str.strip().to_numpy(object)
    subjects = frame.iloc[:, index[2]].str.strip().to_numpy(object) if subject_column else None
    n = len(frame)
    images = np.zeros((n, IMAGE_SIDE, IMAGE_SIDE), np.uint8)
    reason = np.full(n, "", dtype=object)
    for i, text in enumerate(frame.iloc[:, index[1]]):
        pixels = _parse_pixels(text)
        if pixels is None:
            reason[i] = ROW_REASONS["pixels"]
        else:
            images[i] = pixels.reshape(IMAGE_SIDE, IMAGE_SIDE)
    if subjects is not None:
        reason[(reason == "") & (subjects == "")] = ROW_REASONS["subject"]
    reason[(reason == "") & (labels == "")] = ROW_REASONS["label"]
    bad = np.flatnonzero(reason != "")
    good = np.flatnonzero(reason == "")
    rejects = pd.DataFrame(
        {
            "file": [origin] * len(bad),
            "line": bad + 2,  # 1-based, line 1 is the header
            "row_id": bad,
            "reason": reason[bad],
            "detail": labels[bad],
            "raw": [",".join(frame.iloc[i].astype(str))[:200] for i in bad],
        },
        columns=list(REJECT_COLUMNS),
    )
    ignored = [c for i, c in enumerate(columns) if i not in index]
    return LabelledFaces(
        images=images[good],
        labels=labels[good],
        subjects=None if subjects is None else subjects[good],
        items=np.asarray([f"{origin}:{i + 2}" for i in good], dtype=object),
        rejects=rejects,
        n_rows=n,
        reader="csv",
        notes={"ignored_columns": ignored},
    )


def _subject(pattern: re.Pattern[str] | None, relative: Path) -> str | None:
    if pattern is None:
        return ""
    found = pattern.search(relative.as_posix())
    return ((found.group(1) or "").strip() or None) if found else None


def read_labelled_folder(
    root: Path, resize: bool, n_jobs: int, subject_pattern: str | None = None
) -> LabelledFaces:
    """An image folder ``<label>/<image>`` (any depth below ``root``; hidden files skipped).

    Parameters
    ----------
    root : Path
        The folder.
    resize : bool
        Resize images that are not 48x48 (Lanczos) instead of rejecting them.
    n_jobs : int
        Processes decoding images.
    subject_pattern : str, optional
        A regular expression (Python :mod:`re`) searched in each image's path relative to
        ``root`` (``/``-separated); its first group is the subject (CK+'s ``S(\\d+)_``). An image
        it does not match is rejected.

    Raises
    ------
    DataError
        The folder holds no file.
    """
    files = sorted(
        (
            p.relative_to(root)
            for p in root.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
        ),
        key=lambda p: natural_key(p.as_posix()),
    )
    if not files:
        raise DataError(f"{root}: holds no files; expected <label>/<image> (e.g. anger/001.png)")
    pattern = None if subject_pattern is None else re.compile(subject_pattern)
    outside = [p for p in files if len(p.parts) < 2]
    placed = [p for p in files if len(p.parts) >= 2]
    subject_of = {p: _subject(pattern, p) for p in placed}
    unnamed = [p for p in placed if subject_of[p] is None]
    placed = [p for p in placed if subject_of[p] is not None]
    images, status, details, changes = decode_all([str(root / p) for p in placed], resize, n_jobs)
    ok = status == 0
    bad_rows = (
        [
            (str(root / p), REASONS[int(status[i])], details[i])
            for i, p in enumerate(placed)
            if not ok[i]
        ]
        + [(str(root / p), ROW_REASONS["place"], "") for p in outside]
        + [(str(root / p), ROW_REASONS["no_subject"], subject_pattern) for p in unnamed]
    )
    rejects = (
        pd.DataFrame(
            {
                "file": [r[0] for r in bad_rows],
                "line": pd.array([pd.NA] * len(bad_rows), dtype="Int64"),
                "row_id": np.arange(len(bad_rows), dtype=np.int64),
                "reason": [r[1] for r in bad_rows],
                "detail": [r[2] for r in bad_rows],
                "raw": [""] * len(bad_rows),
            },
            columns=list(REJECT_COLUMNS),
        )
        if bad_rows
        else empty_rejects()
    )
    kept = [p for i, p in enumerate(placed) if ok[i]]
    converted = sum(1 for i, c in enumerate(changes) if ok[i] and "mode:" in c)
    resized = sum(1 for i, c in enumerate(changes) if ok[i] and "size:" in c)
    return LabelledFaces(
        images=images[ok],
        labels=np.asarray([p.parts[-2].strip() for p in kept], dtype=object),
        subjects=None if pattern is None else np.asarray([subject_of[p] for p in kept], object),
        items=np.asarray([str(root / p) for p in kept], dtype=object),
        rejects=rejects,
        n_rows=len(files),
        reader="image_folder",
        notes={"converted_to_gray": converted, "resized": resized},
    )


def _unpack(path: Path, kind: str, into: Path) -> None:
    try:
        if kind == "zip":
            with zipfile.ZipFile(path) as archive:
                archive.extractall(into)  # zipfile strips absolute paths and ".." itself
        else:
            with tarfile.open(path) as archive:
                archive.extractall(into, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"{path}: corrupt or unreadable {kind} archive ({exc})") from None


def _csv_members(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.name.lower().endswith(CSV_SUFFIXES)
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def read_labelled(
    path: Path,
    subject_column: str | None,
    resize: bool,
    n_jobs: int,
    subject_pattern: str | None = None,
) -> LabelledFaces:
    """Read a labelled set: a CSV, an image folder, or a tar/zip archive of either.

    Parameters
    ----------
    path : Path
        A file (CSV plain or gzip, tar or zip archive, told apart by content) or a folder.
    subject_column : str or None
        CSV inputs: the column naming each face's subject.
    resize : bool
        Images: resize those not 48x48 (Lanczos) instead of rejecting them.
    n_jobs : int
        Processes decoding images.
    subject_pattern : str or None
        Image inputs: the regular expression whose first group, searched in an image's path,
        is its subject (see :func:`read_labelled_folder`).

    Raises
    ------
    DataError
        The path does not exist; a subject column for images, or a subject pattern for a CSV;
        an archive with several CSVs; what the CSV or image-folder reader finds wrong.
    """
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        _no_column(path, "an image folder", subject_column)
        return read_labelled_folder(path, resize, n_jobs, subject_pattern)
    kind = file_kind(path)
    if kind == "csv":
        _no_pattern(path, "a CSV", subject_pattern)
        return read_labelled_csv(path, subject_column)
    with tempfile.TemporaryDirectory(prefix="ferbench-external-") as tmp:
        root = Path(tmp)
        _unpack(path, kind, root)
        members = _csv_members(root)
        if len(members) > 1:
            names = ", ".join(str(m.relative_to(root)) for m in members)
            raise DataError(
                f"{path}: this {kind} archive holds {len(members)} CSVs ({names}); "
                "expected one, or only images"
            )
        if members:
            _no_pattern(path, f"a {kind} archive of a CSV", subject_pattern)
            member = members[0].relative_to(root)
            read = read_labelled_csv(members[0], subject_column, f"{path} [{member}]")
            return _archived(read, "archive/csv", {"member": str(member)})
        _no_column(path, f"a {kind} archive of images", subject_column)
        read = read_labelled_folder(root, resize, n_jobs, subject_pattern)
        items = np.asarray([f"{path} [{Path(i).relative_to(root)}]" for i in read.items], object)
        rejects = read.rejects.assign(
            file=[f"{path} [{Path(f).relative_to(root)}]" for f in read.rejects["file"]]
        )
        return _archived(
            dataclasses.replace(read, items=items, rejects=rejects), "archive/image_folder", {}
        )


def _no_column(path: Path, what: str, subject_column: str | None) -> None:
    if subject_column:
        raise DataError(
            f"{path}: {what} has no columns, so no subject column '{subject_column}'; name "
            "subjects with subject_pattern (a regular expression on the file's path), or set "
            "subject_column to null"
        )


def _no_pattern(path: Path, what: str, subject_pattern: str | None) -> None:
    if subject_pattern:
        raise DataError(
            f"{path}: {what} names subjects in a column (subject_column), not in file names; "
            "set subject_pattern to null"
        )


def _archived(read: LabelledFaces, reader: str, notes: dict) -> LabelledFaces:
    return dataclasses.replace(read, reader=reader, notes={**read.notes, **notes})
