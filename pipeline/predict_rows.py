"""``ferbench predict``'s table: one row per face, per image without a face, per unreadable input.

CSV columns (JSON Lines records hold the same keys, with ``box`` as ``[x, y, w, h]`` and the scores
as ``{class: value}`` objects)::

    source, kind (image | video | camera), frame, time_s (video: 0-based frame, seconds),
    status (face | no_face | error), face (index in its image or frame, largest first),
    track (video: the face's track id), detector (haar | dlib | none), x, y, w, h (pixels),
    model, emotion, score_kind (probability | ovr_decision), score_<class> for each class,
    [smoothed_emotion, smoothed_<class> with --smooth], error
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from features.detect import Box
from fer_data.errors import DataError

FORMATS = {".csv": "csv", ".jsonl": "jsonl"}


@dataclass(frozen=True)
class Row:
    source: str
    kind: str
    status: str
    detector: str
    model: str
    score_kind: str
    frame: int | None = None
    time_s: float | None = None
    face: int | None = None
    track: int | None = None
    box: Box | None = None
    emotion: str | None = None
    scores: np.ndarray | None = None  # (n_classes,)
    smoothed_emotion: str | None = None
    smoothed: np.ndarray | None = None
    error: str | None = None


def _number(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 6)


class RowWriter:
    """Writes rows as they come (a camera run keeps what it wrote when stopped) to a CSV or JSON
    Lines file by ``path``'s suffix, or as CSV to standard output when ``path`` is None."""

    def __init__(self, path: Path | None, classes: tuple[str, ...], smoothed: bool) -> None:
        fmt = "csv" if path is None else FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise DataError(f"--out {path}: expected a .csv or .jsonl file")
        self.path, self.format, self.classes, self.smoothed = path, fmt, classes, smoothed
        self.count = 0
        self._handle: IO[str]
        if path is None:
            self._handle = sys.stdout
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self._csv = None
        if fmt == "csv":
            self._csv = csv.DictWriter(self._handle, self.columns(), lineterminator="\n")
            self._csv.writeheader()

    def columns(self) -> list[str]:
        names = ["source", "kind", "frame", "time_s", "status", "face", "track", "detector"]
        names += ["x", "y", "w", "h", "model", "emotion", "score_kind"]
        names += [f"score_{c}" for c in self.classes]
        if self.smoothed:
            names += ["smoothed_emotion", *(f"smoothed_{c}" for c in self.classes)]
        return [*names, "error"]

    def _scores(self, values: np.ndarray | None) -> dict[str, float | None] | None:
        if values is None:
            return None
        return {c: _number(v) for c, v in zip(self.classes, values, strict=True)}

    def write(self, row: Row) -> None:
        self.count += 1
        record: dict[str, Any] = {
            "source": row.source,
            "kind": row.kind,
            "frame": row.frame,
            "time_s": row.time_s,
            "status": row.status,
            "face": row.face,
            "track": row.track,
            "detector": row.detector,
        }
        scores, smoothed = self._scores(row.scores), self._scores(row.smoothed)
        if self._csv is None:
            record["box"] = (
                None if row.box is None else [row.box.x, row.box.y, row.box.w, row.box.h]
            )
            record |= {"model": row.model, "emotion": row.emotion, "score_kind": row.score_kind}
            record["scores"] = scores
            if self.smoothed:
                record |= {"smoothed_emotion": row.smoothed_emotion, "smoothed_scores": smoothed}
            record["error"] = row.error
            self._handle.write(json.dumps(record, allow_nan=False) + "\n")
            return
        box = row.box
        record |= {
            "x": box and box.x,
            "y": box and box.y,
            "w": box and box.w,
            "h": box and box.h,
            "model": row.model,
            "emotion": row.emotion,
            "score_kind": row.score_kind,
            "error": row.error,
        }
        record |= {f"score_{c}": v for c, v in (scores or {}).items()}
        if self.smoothed:
            record["smoothed_emotion"] = row.smoothed_emotion
            record |= {f"smoothed_{c}": v for c, v in (smoothed or {}).items()}
        self._csv.writerow(record)

    def flush(self) -> None:
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not sys.stdout:
            self._handle.close()
        else:
            self._handle.flush()
