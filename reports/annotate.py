"""Annotated copies of what ``ferbench predict`` read: each face's box and emotion drawn on the
image or video frame (OpenCV drawing), and written with OpenCV's encoders."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_data.atomic import atomic_path
from fer_data.errors import DataError

# One BGR colour per emotion (FER2013 order; an 8th class, FER+'s contempt, gets the last).
COLOURS = (
    (40, 40, 220),  # Angry: red
    (40, 140, 40),  # Disgust: green
    (160, 60, 160),  # Fear: purple
    (40, 200, 240),  # Happy: yellow
    (200, 110, 40),  # Sad: blue
    (30, 140, 250),  # Surprise: orange
    (200, 200, 200),  # Neutral: grey
    (120, 120, 60),  # anything else
)
# Images OpenCV writes in colour; others (pgm, pbm, ...) are annotated as png.
COLOUR_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class Label:
    """One face to draw: box (x, y, w, h) in pixels, text, and the class index for its colour."""

    box: tuple[int, int, int, int]
    text: str
    label: int


def draw(image: np.ndarray, labels: list[Label]) -> np.ndarray:
    """A copy of ``image`` (uint8 BGR (h, w, 3)) with each label's box and text drawn."""
    out = image.copy()
    scale = max(0.4, min(out.shape[:2]) / 600)
    thick = max(1, round(2 * scale))
    for item in labels:
        x, y, w, h = item.box
        colour = COLOURS[min(item.label, len(COLOURS) - 1)]
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thick)
        (tw, th), base = cv2.getTextSize(item.text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        top = y - th - base - 4 if y - th - base - 4 >= 0 else y + h
        cv2.rectangle(out, (x, top), (x + tw + 4, top + th + base + 4), colour, cv2.FILLED)
        cv2.putText(
            out,
            item.text,
            (x + 2, top + th + 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (0, 0, 0),
            thick,
            cv2.LINE_AA,
        )
    return out


def image_target(path: Path) -> Path:
    """Where an annotated copy of image ``path`` goes: same name, png for grey-only formats."""
    return path if path.suffix.lower() in COLOUR_SUFFIXES else path.with_suffix(".png")


def write_image(path: str | os.PathLike[str], image: np.ndarray) -> Path:
    """Encode ``image`` (uint8 BGR) by ``path``'s suffix and write it atomically."""
    path = Path(path)
    ok, data = cv2.imencode(path.suffix, image)
    if not ok:
        raise DataError(f"{path}: OpenCV cannot encode an image of this type")
    with atomic_path(path) as tmp:
        data.tofile(tmp)
    return path


class VideoWriter:
    """An annotated video: MPEG-4 Part 2 (``mp4v``) in an .mp4 file, at the source's frame rate."""

    def __init__(self, path: str | os.PathLike[str], fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fourcc = cv2.VideoWriter_fourcc(*"mp4v")
        self._writer = cv2.VideoWriter(str(self.path), fourcc, fps, size)
        if not self._writer.isOpened():
            raise DataError(f"{self.path}: OpenCV cannot write an mp4v video here")
        self.size = size

    def write(self, frame: np.ndarray) -> None:
        if (frame.shape[1], frame.shape[0]) != self.size:  # a stream that changes size mid-way
            frame = cv2.resize(frame, self.size)
        self._writer.write(frame)

    def close(self) -> None:
        self._writer.release()
