"""Face detection in whole images: OpenCV's Haar cascade or dlib's HOG frontal-face detector.

- ``haar``: Viola & Jones' boosted cascades of Haar-like features (CVPR 2001) as OpenCV ships
  them in ``cv2.data.haarcascades``; the reference real-time FER systems use the frontal one
  (``haarcascade_frontalface_default.xml``). Several cascades form a fallback chain: each is tried
  in turn until one finds a face (the profile cascade on the image and on its mirror, since it
  only finds faces turned one way), so a face the first misses costs more time, and one it finds
  costs nothing extra.
- ``dlib``: ``dlib.get_frontal_face_detector()``, HOG features with a linear SVM over an image
  pyramid (Dalal & Triggs, CVPR 2005; King, "Max-Margin Object Detection", 2015).

Both see a grayscale copy no wider than ``detect_width`` pixels (0: full size), and return boxes
in the coordinates of the image they were given. Input: uint8 (h, w) grayscale.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

DETECTORS = ("haar", "dlib")
# OpenCV's face cascades, by the name between ``haarcascade_`` and ``.xml``.
HAAR_CASCADES = (
    "frontalface_default",
    "frontalface_alt",
    "frontalface_alt2",
    "frontalface_alt_tree",
    "profileface",
)
_MIRRORED = ("profileface",)  # trained on faces turned one way: also run on the mirror image


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels: left ``x``, top ``y``, width ``w``, height ``h``."""

    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return max(self.w, 0) * max(self.h, 0)

    def iou(self, other: Box) -> float:
        """Intersection over union with ``other`` (0 when they do not overlap)."""
        left, top = max(self.x, other.x), max(self.y, other.y)
        right = min(self.x + self.w, other.x + other.w)
        bottom = min(self.y + self.h, other.y + other.h)
        inter = max(right - left, 0) * max(bottom - top, 0)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class HaarSettings:
    """``cv2.CascadeClassifier.detectMultiScale`` arguments; ``min_size`` in pixels of the
    original image; ``cascades``: names from :data:`HAAR_CASCADES`, tried in this order."""

    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_size: int = 30
    detect_width: int = 320
    cascades: tuple[str, ...] = ("frontalface_default", "frontalface_alt2", "profileface")


@dataclass(frozen=True)
class DlibSettings:
    """``upsample``: pyramid up-samplings before detecting (finds faces below ~80 px)."""

    upsample: int = 0
    detect_width: int = 0


def _check_gray(gray: np.ndarray) -> np.ndarray:
    if not isinstance(gray, np.ndarray) or gray.dtype != np.uint8 or gray.ndim != 2:
        shape = getattr(gray, "shape", None)
        dtype = getattr(gray, "dtype", type(gray).__name__)
        raise ValueError(f"expected a uint8 grayscale image (h, w), got {dtype} of shape {shape}")
    return gray


def _shrink(gray: np.ndarray, width: int) -> tuple[np.ndarray, float]:
    """``gray`` at most ``width`` wide (area averaging), and the factor back to full size."""
    if width <= 0 or gray.shape[1] <= width:
        return gray, 1.0
    factor = gray.shape[1] / width
    height = max(1, round(gray.shape[0] / factor))
    return cv2.resize(gray, (width, height), interpolation=cv2.INTER_AREA), factor


def _sorted(boxes: list[Box]) -> list[Box]:
    """Largest first (the face a single-face caller wants), then left to right."""
    return sorted(boxes, key=lambda b: (-b.area, b.x, b.y))


class HaarDetector:
    """OpenCV's Haar cascades, tried in the order of ``settings.cascades`` until one finds a face.

    Raises
    ------
    ValueError
        A cascade name is not one of :data:`HAAR_CASCADES`, or none is given.
    """

    name = "haar"

    def __init__(self, settings: HaarSettings | None = None) -> None:
        self.settings = settings or HaarSettings()
        unknown = [c for c in self.settings.cascades if c not in HAAR_CASCADES]
        if unknown or not self.settings.cascades:
            raise ValueError(
                f"unknown Haar cascade(s) {unknown}; expected names from {', '.join(HAAR_CASCADES)}"
            )

    @cached_property
    def _cascades(self) -> list[tuple[str, cv2.CascadeClassifier]]:
        loaded = []
        for name in self.settings.cascades:
            path = f"{cv2.data.haarcascades}haarcascade_{name}.xml"
            cascade = cv2.CascadeClassifier(path)
            if cascade.empty():
                raise RuntimeError(f"OpenCV could not load {path}")
            loaded.append((name, cascade))
        return loaded

    def _run(self, cascade: cv2.CascadeClassifier, small: np.ndarray, side: int) -> np.ndarray:
        found = cascade.detectMultiScale(
            small,
            scaleFactor=self.settings.scale_factor,
            minNeighbors=self.settings.min_neighbors,
            minSize=(side, side),
        )
        return np.reshape(found, (-1, 4))

    def detect(self, gray: np.ndarray) -> list[Box]:
        """Faces in ``gray`` (uint8 (h, w)), largest first: those of the first cascade that
        finds any."""
        small, factor = _shrink(_check_gray(gray), self.settings.detect_width)
        side = max(1, round(self.settings.min_size / factor))
        for name, cascade in self._cascades:
            found = self._run(cascade, small, side)
            if not len(found) and name in _MIRRORED:
                mirrored = self._run(cascade, np.ascontiguousarray(small[:, ::-1]), side)
                found = mirrored.copy()
                found[:, 0] = small.shape[1] - mirrored[:, 0] - mirrored[:, 2]
            if len(found):
                return _sorted([_scaled(x, y, w, h, factor) for x, y, w, h in found])
        return []


class DlibHogDetector:
    """dlib's HOG + linear SVM frontal-face detector."""

    name = "dlib"

    def __init__(self, settings: DlibSettings | None = None) -> None:
        self.settings = settings or DlibSettings()

    @cached_property
    def _detector(self):  # -> dlib.fhog_object_detector (dlib ships no type stubs)
        import dlib

        return dlib.get_frontal_face_detector()

    def detect(self, gray: np.ndarray) -> list[Box]:
        """Faces in ``gray`` (uint8 (h, w)), largest first; boxes clipped to the image."""
        gray = _check_gray(gray)
        small, factor = _shrink(gray, self.settings.detect_width)
        boxes = []
        for rect in self._detector(small, self.settings.upsample):
            left, top = max(rect.left(), 0), max(rect.top(), 0)
            right = min(rect.right() + 1, small.shape[1])
            bottom = min(rect.bottom() + 1, small.shape[0])
            if right > left and bottom > top:
                boxes.append(_scaled(left, top, right - left, bottom - top, factor))
        return _sorted(boxes)


def _scaled(x: float, y: float, w: float, h: float, factor: float) -> Box:
    return Box(round(x * factor), round(y * factor), round(w * factor), round(h * factor))


FaceDetector = HaarDetector | DlibHogDetector


def make_detector(
    name: str, haar: HaarSettings | None = None, dlib: DlibSettings | None = None
) -> FaceDetector:
    """The detector called ``name`` (``haar`` or ``dlib``) with its settings.

    Raises
    ------
    ValueError
        ``name`` is not one of :data:`DETECTORS`.
    """
    if name == "haar":
        return HaarDetector(haar)
    if name == "dlib":
        return DlibHogDetector(dlib)
    raise ValueError(f"unknown face detector {name!r}; expected one of {', '.join(DETECTORS)}")
