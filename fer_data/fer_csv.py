"""Reading Kaggle's FER2013 CSV (plain or gzip) fast and strictly.

Both Kaggle layouts are read: ``fer2013.csv`` (header ``emotion,pixels,Usage``) and
``icml_face_data.csv`` (header ``emotion, Usage, pixels``). Column names are matched after trimming
spaces and quotes, case-insensitively, in any order; other columns are ignored (and reported).
File-level problems (missing, empty, a header without a needed column, truncated gzip) raise
:class:`DataError` with the file name and what was expected. Row-level problems never stop the
read: each bad row is returned in ``rejects`` with its line number, reason and full text, so
nothing is dropped silently.

The rows are parsed by one numba kernel over the raw bytes (both cores), about 10x faster than
pandas plus a per-row ``str.split``; see ``bench/bench_ingest_features.py``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import pandas as pd

from fer_data.errors import DataError
from fer_data.faces import IMAGE_SIDE, N_PIXELS, USAGES
from fer_data.readers.result import REJECT_COLUMNS, ParsedFaces

EXPECTED_HEADER = "emotion,pixels,Usage"
# The columns ingest needs, as named in the header (matched case-insensitively after trimming).
COLUMNS = ("emotion", "pixels", "Usage")
GZIP_MAGIC = b"\x1f\x8b"
N_EMOTIONS = 7

# Row error codes, in the order they are checked; 0 means the row is valid.
REASONS = {
    1: "wrong number of fields (expected 3: emotion,pixels,Usage)",
    2: "emotion is not an integer",
    3: "emotion outside 0-6",
    4: "pixels contain a non-integer token",
    5: "pixel value outside 0-255",
    6: f"wrong pixel count (expected {N_PIXELS})",
    7: f"unknown Usage (expected one of {', '.join(USAGES)})",
    8: "empty line",
}


# The CSV reader's result is every reader's result; the old name stays for existing callers.
ParsedCSV = ParsedFaces


@dataclass(frozen=True)
class Header:
    """Where the data rows start and which field holds each needed column."""

    start: int  # byte offset of the first data row
    names: tuple[str, ...]  # every column as written (trimmed)
    emotion: int  # field index of each needed column
    pixels: int
    usage: int

    @property
    def ignored(self) -> list[str]:
        used = {self.emotion, self.pixels, self.usage}
        return [name for i, name in enumerate(self.names) if i not in used]


def not_found_message(path: Path) -> str:
    return (
        f"{path}: FER2013 file not found. Download fer2013.csv from Kaggle's 'Challenges in "
        f"Representation Learning: Facial Expression Recognition Challenge' and put it (or "
        f"fer2013.csv.gz, or the archive as downloaded) at {path}, or set data.path in "
        f"params.yaml; data.source: synthetic runs the pipeline on the synthetic demo set instead."
    )


def gunzip(raw: bytes, label: object) -> bytes:
    """``raw`` inflated with ISA-L (~2.5x faster than zlib); a truncated file is a DataError."""
    from isal import igzip

    try:
        return igzip.decompress(raw)
    except (EOFError, OSError, ValueError) as exc:
        raise DataError(
            f"{label}: truncated or corrupt gzip file ({exc}); download it again"
        ) from None


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it is gzip (detected by its magic number, not its name)."""
    if not path.exists():
        raise DataError(not_found_message(path))
    if path.is_dir():
        raise DataError(f"{path}: is a folder; expected the fer2013.csv file itself")
    raw = path.read_bytes()
    return gunzip(raw, path) if raw[:2] == GZIP_MAGIC else raw


@numba.njit(cache=True, inline="always")
def _strip(buf: np.ndarray, a: int, b: int) -> tuple[int, int]:
    # Tolerate surrounding spaces and one pair of double quotes around a field.
    while a < b and buf[a] == 32:
        a += 1
    while b > a and buf[b - 1] == 32:
        b -= 1
    if b - a >= 2 and buf[a] == 34 and buf[b - 1] == 34:
        a += 1
        b -= 1
    return a, b


@numba.njit(cache=True, inline="always")
def _usage_code(buf: np.ndarray, a: int, b: int, names: np.ndarray, lengths: np.ndarray) -> int:
    for code in range(lengths.shape[0]):
        if b - a != lengths[code]:
            continue
        same = True
        for k in range(lengths[code]):
            if buf[a + k] != names[code, k]:
                same = False
                break
        if same:
            return code
    return -1


@numba.njit(cache=True, parallel=True)
def _parse_rows(buf, starts, ends, fields, names, lengths, pixels, emotion, usage, error, detail):
    # fields: (number of fields, field index of emotion, of pixels, of Usage)
    n_fields, f_emotion, f_pixels, f_usage = fields[0], fields[1], fields[2], fields[3]
    for i in numba.prange(starts.shape[0]):
        s, e = starts[i], ends[i]
        if e > s and buf[e - 1] == 13:  # CRLF line ending
            e -= 1
        if e == s:
            error[i] = 8
            continue
        # One scan finds the bounds of the three needed fields and counts the fields.
        ea = eb = pa = pb = ua = ub = 0
        field = 0
        field_start = s
        for j in range(s, e + 1):
            if j == e or buf[j] == 44:
                if field == f_emotion:
                    ea, eb = field_start, j
                elif field == f_pixels:
                    pa, pb = field_start, j
                elif field == f_usage:
                    ua, ub = field_start, j
                field += 1
                field_start = j + 1
        if field != n_fields:
            error[i] = 1
            detail[i] = field
            continue
        a, b = _strip(buf, ea, eb)
        value = 0
        if b == a or b - a > 6:
            error[i] = 2
            continue
        for j in range(a, b):
            if buf[j] < 48 or buf[j] > 57:
                error[i] = 2
                break
            value = value * 10 + (buf[j] - 48)
        if error[i] != 0:
            continue
        if value >= 7:
            error[i] = 3
            detail[i] = value
            continue
        emotion[i] = value
        a, b = _strip(buf, pa, pb)
        count = 0
        current = -1
        for j in range(a, b + 1):
            ch = buf[j] if j < b else 32  # a virtual space flushes the last token
            if ch == 32:
                if current >= 0:
                    if current > 255:
                        error[i] = 5
                        detail[i] = current
                        break
                    if count < pixels.shape[1]:
                        pixels[i, count] = current
                    count += 1
                    current = -1
            elif ch >= 48 and ch <= 57:
                current = (0 if current < 0 else current) * 10 + (ch - 48)
                if current > 99999:
                    current = 99999  # keep the value bounded; it is rejected as > 255 anyway
            else:
                error[i] = 4
                detail[i] = j - a
                break
        if error[i] != 0:
            continue
        if count != pixels.shape[1]:
            error[i] = 6
            detail[i] = count
            continue
        a, b = _strip(buf, ua, ub)
        code = _usage_code(buf, a, b, names, lengths)
        if code < 0:
            error[i] = 7
            continue
        usage[i] = code


def _usage_table() -> tuple[np.ndarray, np.ndarray]:
    width = max(len(u) for u in USAGES)
    names = np.zeros((len(USAGES), width), np.uint8)
    for code, usage in enumerate(USAGES):
        names[code, : len(usage)] = np.frombuffer(usage.encode(), np.uint8)
    return names, np.array([len(u) for u in USAGES], np.int64)


def header_columns(line: str) -> list[str]:
    """The column names of a header line, trimmed of spaces and double quotes."""
    return [c.strip().strip('"').strip() for c in line.strip().strip("\r").split(",")]


def find_columns(columns: list[str]) -> dict[str, int] | str:
    """Field index of each of :data:`COLUMNS` (case-insensitive), or what is wrong, as a text."""
    lowered = [c.lower() for c in columns]
    found: dict[str, int] = {}
    problems = []
    for name in COLUMNS:
        hits = [i for i, c in enumerate(lowered) if c == name.lower()]
        if not hits:
            problems.append(f"no column '{name}'")
        elif len(hits) > 1:
            problems.append(f"the column '{name}' {len(hits)} times")
        else:
            found[name] = hits[0]
    return "; ".join(problems) if problems else found


def _check_header(path: object, data: bytes) -> Header:
    """Validate the header line: the three needed columns, once each, in any order."""
    if not data.strip():
        raise DataError(
            f"{path}: file is empty; expected the header '{EXPECTED_HEADER}' and data rows"
        )
    offset = 3 if data.startswith(b"\xef\xbb\xbf") else 0  # UTF-8 byte-order mark
    newline = data.find(b"\n", offset)
    end = len(data) if newline < 0 else newline
    first = data[offset : min(end, offset + 4096)]
    if b"\x00" in first or first.decode("utf-8", errors="replace").count("\ufffd") > 2:
        raise DataError(
            f"{path}: is not a text CSV (its first bytes are binary, and it is not a gzip, tar or "
            f"zip archive either); expected Kaggle's fer2013.csv with the header "
            f"'{EXPECTED_HEADER}'"
        )
    header = data[offset:end].decode("utf-8", errors="replace").strip().strip("\r")
    columns = header_columns(header)
    found = find_columns(columns)
    if isinstance(found, str):
        hint = (
            " (the first line looks like data: the header is missing)"
            if header[:1].isdigit()
            else ""
        )
        raise DataError(
            f"{path}: line 1 is {header[:80]!r}: {found}; expected the header "
            f"'{EXPECTED_HEADER}' (fer2013.csv) or 'emotion, Usage, pixels' "
            f"(icml_face_data.csv): the columns emotion, pixels and Usage in any order{hint}"
        )
    return Header(
        start=len(data) if newline < 0 else newline + 1,
        names=tuple(columns),
        emotion=found["emotion"],
        pixels=found["pixels"],
        usage=found["Usage"],
    )


def _line_bounds(buf: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray]:
    newlines = np.flatnonzero(buf[start:] == 10) + start
    starts = np.concatenate(([start], newlines + 1))
    ends = np.concatenate((newlines, [len(buf)]))
    if starts[-1] == ends[-1]:  # the file ends with a newline: no last row
        starts, ends = starts[:-1], ends[:-1]
    return starts.astype(np.int64), ends.astype(np.int64)


def _rejects_frame(
    buf: bytes, starts, ends, error, detail, bad: np.ndarray, origin: str, reasons: dict
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "file": [origin] * len(bad),
            "line": bad + 2,  # 1-based file line; line 1 is the header
            "row_id": bad,
            "reason": [reasons[int(error[i])] for i in bad],
            "detail": detail[bad],
            "raw": [
                buf[starts[i] : ends[i]].decode("utf-8", errors="replace").rstrip("\r") for i in bad
            ],
        },
        columns=list(REJECT_COLUMNS),
    )


def parse_fer2013(data: bytes, path: object) -> ParsedFaces:
    """Parse the bytes of a Kaggle-format FER2013 CSV (``fer2013.csv`` or ``icml_face_data.csv``).

    Parameters
    ----------
    data : bytes
        The whole file, already gunzipped.
    path : path or str
        Names the input in messages and in the rejects' ``file`` column (a path, or
        ``archive [member]``).

    Returns
    -------
    ParsedFaces
        ``reader="csv"``; ``row_id`` is the 0-based data row; ``notes["ignored_columns"]`` lists
        header columns other than emotion, pixels and Usage.

    Raises
    ------
    DataError
        Empty file, binary content, a header without emotion, pixels or Usage (or with one of
        them twice), or no data rows.
    """
    header = _check_header(path, data)
    buf = np.frombuffer(data, dtype=np.uint8)
    starts, ends = _line_bounds(buf, header.start)
    n = len(starts)
    if n == 0:
        raise DataError(f"{path}: has the header but no data rows")
    pixels = np.zeros((n, N_PIXELS), np.uint8)
    emotion = np.zeros(n, np.int8)
    usage = np.zeros(n, np.int8)
    error = np.zeros(n, np.int8)
    detail = np.zeros(n, np.int64)
    names, lengths = _usage_table()
    fields = np.array([len(header.names), header.emotion, header.pixels, header.usage], np.int64)
    _parse_rows(buf, starts, ends, fields, names, lengths, pixels, emotion, usage, error, detail)
    good = np.flatnonzero(error == 0)
    bad = np.flatnonzero(error != 0)
    reasons = dict(REASONS)
    if header.names != tuple(COLUMNS):
        expected = f"{len(header.names)}: {','.join(header.names)}"
        reasons[1] = f"wrong number of fields (expected {expected})"
    origin = str(path)
    return ParsedFaces(
        row_id=good.astype(np.int64),
        emotion=emotion[good],
        usage=np.asarray(USAGES, dtype=object)[usage[good]],
        images=pixels[good].reshape(-1, IMAGE_SIDE, IMAGE_SIDE),
        rejects=_rejects_frame(data, starts, ends, error, detail, bad, origin, reasons),
        n_rows=n,
        reader="csv",
        origin=origin,
        notes={"columns": list(header.names), "ignored_columns": header.ignored},
    )


def read_fer2013(path: str | os.PathLike[str]) -> ParsedFaces:
    """Read a FER2013 CSV file, plain or gzip (see :func:`parse_fer2013`)."""
    path = Path(path)
    return parse_fer2013(read_bytes(path), path)
