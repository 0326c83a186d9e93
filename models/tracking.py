"""Faces followed from frame to frame, with their scores smoothed over time.

Tracking is greedy IoU association (the "IOU tracker" of Bochinski, Eiselein & Sikora, AVSS
2017): each face of a frame continues the live track whose last box overlaps it most (IoU at
least ``min_iou``); a face left over starts a new track; a track unseen for more than
``max_missed`` frames ends. Each track's scores are an exponential moving average,
``s = a * s_previous + (1 - a) * s_frame`` with ``a = smoothing`` (0: no smoothing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.detect import Box


@dataclass
class _Track:
    id: int
    box: Box
    scores: np.ndarray  # float64 (k,): the smoothed scores
    missed: int = 0


@dataclass(frozen=True)
class Tracked:
    """One face of a frame: its track id and its scores smoothed along the track."""

    track: int
    smoothed: np.ndarray  # float32 (k,)


class FaceTracker:
    """Associates the boxes of successive frames and smooths each track's scores."""

    def __init__(self, min_iou: float, max_missed: int, smoothing: float) -> None:
        if not 0.0 < min_iou <= 1.0:
            raise ValueError(f"min_iou must be in (0, 1], got {min_iou}")
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.min_iou = min_iou
        self.max_missed = max_missed
        self.smoothing = smoothing
        self._tracks: list[_Track] = []
        self._next_id = 0

    def update(self, boxes: list[Box], scores: np.ndarray) -> list[Tracked]:
        """The tracks of this frame's faces (``boxes`` with ``scores`` (n, k)), in their order.

        Call once per frame, with an empty list for a frame without faces.
        """
        scores = np.asarray(scores, np.float64)
        pairs = sorted(
            (
                (box.iou(track.box), b, t)
                for b, box in enumerate(boxes)
                for t, track in enumerate(self._tracks)
            ),
            reverse=True,
        )
        match: dict[int, int] = {}
        used: set[int] = set()
        for overlap, b, t in pairs:
            if overlap < self.min_iou:
                break
            if b not in match and t not in used:
                match[b] = t
                used.add(t)
        out = []
        for b, box in enumerate(boxes):
            if b in match:
                track = self._tracks[match[b]]
                a = self.smoothing
                track.scores = a * track.scores + (1 - a) * scores[b]
                track.box, track.missed = box, 0
            else:
                track = _Track(self._next_id, box, scores[b].copy())
                self._next_id += 1
                self._tracks.append(track)
                used.add(len(self._tracks) - 1)
            out.append(Tracked(track.id, track.scores.astype(np.float32)))
        for t, track in enumerate(self._tracks):
            if t not in used:
                track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.max_missed]
        return out
