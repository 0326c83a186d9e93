"""Reading what ``ferbench predict`` is given: image files, video files and cameras, with OpenCV.

Images are decoded by ``cv2.imdecode`` (8-bit BGR; EXIF orientation applied), videos and cameras
read frame by frame through ``cv2.VideoCapture`` (FFmpeg for files). Anything that cannot be read
raises :class:`fer_data.errors.DataError` naming the file and what went wrong.
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from fer_data.errors import DataError

IMAGE_SUFFIXES = (
    ".jpg",
    ".jpeg",
    ".jpe",
    ".png",
    ".bmp",
    ".tif",
    ".tiff",
    ".webp",
    ".pgm",
    ".ppm",
    ".pbm",
    ".pnm",
)
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg")
GLOB_CHARS = frozenset("*?[")


def media_kind(path: str | os.PathLike[str]) -> str | None:
    """``"image"``, ``"video"`` or ``None`` (not a supported kind), by the file's suffix."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return None


@dataclass
class Inputs:
    """What a list of input arguments names: files to read, in order, and what was left out."""

    files: list[Path] = field(default_factory=list)  # given files, and folders' media files
    missing: list[str] = field(default_factory=list)  # arguments that name nothing
    skipped: list[Path] = field(default_factory=list)  # folder files that are not media


def expand_inputs(arguments: Sequence[str | os.PathLike[str]]) -> Inputs:
    """Files named by ``arguments``: files as given, folders recursively (their image and video
    files, sorted; other files are listed in ``skipped``), globs (``photos/*.jpg``, ``**``
    recursive) as matched. A file named twice is read once."""
    found = Inputs()
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            found.files.append(path)

    for argument in arguments:
        text = os.fspath(argument)
        path = Path(text)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if media_kind(child) is None:
                    found.skipped.append(child)
                else:
                    add(child)
        elif path.exists():
            add(path)
        elif GLOB_CHARS & set(text):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            files = [m for m in matches if m.is_file()]
            if not files:
                found.missing.append(text)
            for match in files:
                add(match)
        else:
            found.missing.append(text)
    return found


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """The image at ``path`` as uint8 BGR (h, w, 3).

    Raises
    ------
    DataError
        The file cannot be opened or OpenCV cannot decode it (corrupt, empty, not an image).
    """
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        kind = "an empty file" if data.size == 0 else "not a readable image (corrupt or unknown)"
        raise DataError(f"{path}: {kind}")
    return image


@dataclass(frozen=True)
class Frame:
    index: int  # 0-based frame number
    time_s: float  # position in the video (files) or seconds since the capture opened (cameras)
    image: np.ndarray  # uint8 BGR (h, w, 3)


class VideoSource:
    """Frames of a video file, or of a camera (an integer index, or a device path), in order.

    ``frame_count`` and ``fps`` are what the container says (``None`` when unknown, e.g. for a
    camera). Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, source: str | os.PathLike[str] | int, camera: bool = False) -> None:
        self.name = f"camera:{source}" if camera else os.fspath(source)
        self.camera = camera
        target = source if isinstance(source, int) else os.fspath(source)
        self._capture = cv2.VideoCapture(target)
        if not self._capture.isOpened():
            what = "camera" if camera else "video"
            raise DataError(f"{self.name}: OpenCV cannot open this {what}")
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(self._capture.get(cv2.CAP_PROP_FPS))
        self.frame_count = count if count > 0 and not camera else None
        self.fps = fps if fps > 0 else None

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._capture.release()

    def frames(self) -> Iterator[Frame]:
        """Frames until the video ends (or the camera stops delivering)."""
        start = time.monotonic()
        index = 0
        while True:
            ok, image = self._capture.read()
            if not ok or image is None:
                return
            if self.camera:
                stamp = time.monotonic() - start
            else:
                stamp = self._capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                if stamp <= 0 and index and self.fps:  # containers without timestamps
                    stamp = index / self.fps
            if image.ndim == 2:
                image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            yield Frame(index, round(float(stamp), 4), image)
            index += 1
