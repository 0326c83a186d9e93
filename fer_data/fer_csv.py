"""Reading Kaggle's ``fer2013.csv`` (``emotion,pixels,Usage``; plain or gzip) fast and strictly.

File-level problems (missing, empty, wrong header, truncated gzip) raise :class:`DataError` with the
file name and what was expected. Row-level problems never stop the read: each bad row is returned
in ``rejects`` with its line number, reason and full text, so nothing is dropped silently.

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

EXPECTED_HEADER = "emotion,pixels,Usage"
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


@dataclass(frozen=True)
class ParsedCSV:
    row_id: np.ndarray  # int64: 0-based data row of every accepted row
    emotion: np.ndarray  # int8
    usage: np.ndarray  # str
    images: np.ndarray  # uint8 (n, 48, 48)
    rejects: pd.DataFrame  # line, row_id, reason, detail, raw
    n_rows: int  # data rows read, accepted + rejected


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it is gzip (detected by its magic number, not its name)."""
    if not path.exists():
        raise DataError(
            f"{path}: FER2013 file not found. Download fer2013.csv from Kaggle's 'Challenges in "
            f"Representation Learning: Facial Expression Recognition Challenge' and put it (or "
            f"fer2013.csv.gz) at {path}, or set data.csv in params.yaml; data.source: synthetic "
            f"runs the pipeline on the synthetic demo set instead."
        )
    if path.is_dir():
        raise DataError(f"{path}: is a folder; expected the fer2013.csv file itself")
    raw = path.read_bytes()
    if raw[:2] != GZIP_MAGIC:
        return raw
    from isal import igzip  # ISA-L inflates ~2.5x faster than zlib

    try:
        return igzip.decompress(raw)
    except (EOFError, OSError, ValueError) as exc:
        raise DataError(
            f"{path}: truncated or corrupt gzip file ({exc}); download it again"
        ) from None


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
def _parse_rows(buf, starts, ends, names, lengths, pixels, emotion, usage, error, detail):
    for i in numba.prange(starts.shape[0]):
        s, e = starts[i], ends[i]
        if e > s and buf[e - 1] == 13:  # CRLF line ending
            e -= 1
        if e == s:
            error[i] = 8
            continue
        c1 = -1
        c2 = -1
        commas = 0
        for j in range(s, e):
            if buf[j] == 44:
                commas += 1
                if commas == 1:
                    c1 = j
                elif commas == 2:
                    c2 = j
        if commas != 2:
            error[i] = 1
            detail[i] = commas + 1
            continue
        a, b = _strip(buf, s, c1)
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
        a, b = _strip(buf, c1 + 1, c2)
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
        a, b = _strip(buf, c2 + 1, e)
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


def _check_header(path: Path, data: bytes) -> int:
    """Validate the header line; return the offset where data rows start."""
    if not data.strip():
        raise DataError(
            f"{path}: file is empty; expected the header '{EXPECTED_HEADER}' and data rows"
        )
    offset = 3 if data.startswith(b"\xef\xbb\xbf") else 0  # UTF-8 byte-order mark
    newline = data.find(b"\n", offset)
    end = len(data) if newline < 0 else newline
    header = data[offset:end].decode("utf-8", errors="replace").strip().strip("\r")
    columns = [c.strip().strip('"') for c in header.split(",")]
    if columns != EXPECTED_HEADER.split(","):
        hint = (
            " (the first line looks like data: the header is missing)"
            if header[:1].isdigit()
            else ""
        )
        raise DataError(
            f"{path}: line 1 is {header[:80]!r}; expected the header '{EXPECTED_HEADER}'{hint}"
        )
    return len(data) if newline < 0 else newline + 1


def _line_bounds(buf: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray]:
    newlines = np.flatnonzero(buf[start:] == 10) + start
    starts = np.concatenate(([start], newlines + 1))
    ends = np.concatenate((newlines, [len(buf)]))
    if starts[-1] == ends[-1]:  # the file ends with a newline: no last row
        starts, ends = starts[:-1], ends[:-1]
    return starts.astype(np.int64), ends.astype(np.int64)


def _rejects_frame(buf: bytes, starts, ends, error, detail, bad: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "line": bad + 2,  # 1-based file line; line 1 is the header
            "row_id": bad,
            "reason": [REASONS[int(error[i])] for i in bad],
            "detail": detail[bad],
            "raw": [
                buf[starts[i] : ends[i]].decode("utf-8", errors="replace").rstrip("\r") for i in bad
            ],
        }
    )


def parse_fer2013(data: bytes, path: Path) -> ParsedCSV:
    """Parse the bytes of a Kaggle-format FER2013 CSV; ``path`` is only used in messages."""
    start = _check_header(path, data)
    buf = np.frombuffer(data, dtype=np.uint8)
    starts, ends = _line_bounds(buf, start)
    n = len(starts)
    if n == 0:
        raise DataError(f"{path}: has the header but no data rows")
    pixels = np.zeros((n, N_PIXELS), np.uint8)
    emotion = np.zeros(n, np.int8)
    usage = np.zeros(n, np.int8)
    error = np.zeros(n, np.int8)
    detail = np.zeros(n, np.int64)
    names, lengths = _usage_table()
    _parse_rows(buf, starts, ends, names, lengths, pixels, emotion, usage, error, detail)
    good = np.flatnonzero(error == 0)
    bad = np.flatnonzero(error != 0)
    return ParsedCSV(
        row_id=good.astype(np.int64),
        emotion=emotion[good],
        usage=np.asarray(USAGES, dtype=object)[usage[good]],
        images=pixels[good].reshape(-1, IMAGE_SIDE, IMAGE_SIDE),
        rejects=_rejects_frame(data, starts, ends, error, detail, bad),
        n_rows=n,
    )


def read_fer2013(path: str | os.PathLike[str]) -> ParsedCSV:
    path = Path(path)
    return parse_fer2013(read_bytes(path), path)
