"""Face detection in whole images: OpenCV's Haar cascade, dlib's HOG frontal-face detector or dlib's
CNN face detector (MMOD).

- ``haar``: Viola & Jones' boosted cascades of Haar-like features (CVPR 2001) as OpenCV ships
  them in ``cv2.data.haarcascades``; the reference real-time FER systems use the frontal one
  (``haarcascade_frontalface_default.xml``). Several cascades form a fallback chain: each is tried
  in turn until one finds a face (the profile cascade on the image and on its mirror, since it
  only finds faces turned one way), so a face the first misses costs more time, and one it finds
  costs nothing extra.
- ``dlib``: ``dlib.get_frontal_face_detector()``, HOG features with a linear SVM over an image
  pyramid (Dalal & Triggs, CVPR 2005; King, "Max-Margin Object Detection", 2015).
- ``mmod``: ``dlib.cnn_face_detection_model_v1`` with the ``mmod_human_face_detector.dat`` that
  ``face_recognition_models`` ships: a small CNN trained with the max-margin object-detection loss
  (King 2015), which finds turned, dark and partly hidden faces the other two miss, at ~3 s a
  640x480 frame on 2 CPU cores. Meant as the fallback of a :class:`DetectorChain` for photos.

:class:`DetectorChain` tries detectors in turn until one finds a face; :class:`RegionTracker`
makes any detector cheap on video by searching each known face only near where it was.

Each sees a grayscale copy no wider than ``detect_width`` pixels (0: full size), and returns boxes
in the coordinates of the image it was given. Input: uint8 (h, w) grayscale.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from features.dlib_models import MMOD_FACE_DETECTOR, packaged_model_path

DETECTORS = ("haar", "dlib", "mmod")
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


@dataclass(frozen=True)
class MmodSettings:
    """``upsample``: pyramid up-samplings before detecting (the CNN's window is ~80 px)."""

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
    tracking_side = 48  # a face this wide in a region search: twice the 24 px window (~4 ms)

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


def _dlib_boxes(rects, shape: tuple[int, ...], factor: float) -> list[Box]:
    """dlib rectangles (inclusive corners), clipped to an image of ``shape``, times ``factor``."""
    boxes = []
    for rect in rects:
        left, top = max(rect.left(), 0), max(rect.top(), 0)
        right = min(rect.right() + 1, shape[1])
        bottom = min(rect.bottom() + 1, shape[0])
        if right > left and bottom > top:
            boxes.append(_scaled(left, top, right - left, bottom - top, factor))
    return _sorted(boxes)


class DlibHogDetector:
    """dlib's HOG + linear SVM frontal-face detector."""

    name = "dlib"
    tracking_side = 96  # a face this wide in a region search: above the 80 px window

    def __init__(self, settings: DlibSettings | None = None) -> None:
        self.settings = settings or DlibSettings()

    @cached_property
    def _detector(self):  # -> dlib.fhog_object_detector (dlib ships no type stubs)
        import dlib

        return dlib.get_frontal_face_detector()

    def detect(self, gray: np.ndarray) -> list[Box]:
        """Faces in ``gray`` (uint8 (h, w)), largest first; boxes clipped to the image."""
        small, factor = _shrink(_check_gray(gray), self.settings.detect_width)
        return _dlib_boxes(self._detector(small, self.settings.upsample), small.shape, factor)


class MmodDetector:
    """dlib's CNN face detector (MMOD), with the weights ``face_recognition_models`` ships.

    Raises
    ------
    FileNotFoundError
        On first use, if ``face_recognition_models`` or its ``mmod_human_face_detector.dat`` is
        missing.
    """

    name = "mmod"
    tracking_side = 112  # a face this wide in a region search: above the ~80 px window

    def __init__(self, settings: MmodSettings | None = None) -> None:
        self.settings = settings or MmodSettings()

    @cached_property
    def _detector(self):  # -> dlib.cnn_face_detection_model_v1
        import dlib

        path = packaged_model_path(MMOD_FACE_DETECTOR)
        return dlib.cnn_face_detection_model_v1(str(path))

    def detect(self, gray: np.ndarray) -> list[Box]:
        """Faces in ``gray`` (uint8 (h, w)), largest first; boxes clipped to the image."""
        small, factor = _shrink(_check_gray(gray), self.settings.detect_width)
        found = self._detector(small, self.settings.upsample)
        return _dlib_boxes([d.rect for d in found], small.shape, factor)


def _scaled(x: float, y: float, w: float, h: float, factor: float) -> Box:
    return Box(round(x * factor), round(y * factor), round(w * factor), round(h * factor))


FaceDetector = HaarDetector | DlibHogDetector | MmodDetector


def make_detector(
    name: str,
    haar: HaarSettings | None = None,
    dlib: DlibSettings | None = None,
    mmod: MmodSettings | None = None,
) -> FaceDetector:
    """The detector called ``name`` (one of :data:`DETECTORS`) with its settings.

    Raises
    ------
    ValueError
        ``name`` is not one of :data:`DETECTORS`.
    """
    if name == "haar":
        return HaarDetector(haar)
    if name == "dlib":
        return DlibHogDetector(dlib)
    if name == "mmod":
        return MmodDetector(mmod)
    raise ValueError(f"unknown face detector {name!r}; expected one of {', '.join(DETECTORS)}")


def found_by(detector) -> str:
    """The name of the detector that found the last call's faces: a chain's (or a tracker's)
    ``found_by``, a single detector's own name."""
    return getattr(detector, "found_by", detector.name)


class DetectorChain:
    """Detectors tried in turn until one finds a face (e.g. Haar, then MMOD for what it missed).

    A face the first finds costs only the first; ``found_by`` names the detector that found the
    last call's faces (the first one when none did).
    """

    def __init__(self, detectors: list[FaceDetector]) -> None:
        if not detectors:
            raise ValueError("a detector chain needs at least one detector")
        self.detectors = detectors
        self.name = "+".join(d.name for d in detectors)
        self.tracking_side = max(d.tracking_side for d in detectors)
        self.found_by = detectors[0].name

    def detect(self, gray: np.ndarray) -> list[Box]:
        """Faces in ``gray`` (uint8 (h, w)), largest first: those of the first detector that
        finds any."""
        for detector in self.detectors:
            boxes = detector.detect(gray)
            if boxes:
                self.found_by = detector.name
                return boxes
        self.found_by = self.detectors[0].name
        return []


class RegionTracker:
    """A detector made cheap on video: the whole frame every ``redetect_every`` frames (and
    whenever no face is known), in between each face of the last frame searched only in the
    region around it.

    The region is the last box grown by ``grow`` x its side on each side, resized so that the
    face is about ``detector.tracking_side`` pixels wide, so a search costs the same whatever
    the face's size (~4 ms with Haar, against ~40 ms for a 640x480 frame). The detect-then-track
    scheme is the usual one of real-time face pipelines; a face the region search loses, or a
    new face, is found at the next whole-frame detection. One tracker per video.
    """

    def __init__(
        self, detector: FaceDetector | DetectorChain, redetect_every: int, grow: float = 0.5
    ) -> None:
        if redetect_every < 1:
            raise ValueError(f"redetect_every must be at least 1, got {redetect_every}")
        self.detector = detector
        self.name = detector.name
        self.redetect_every = redetect_every
        self.grow = grow
        self._last: list[Box] = []
        self._since = 0  # frames since the last whole-frame detection

    @property
    def found_by(self) -> str:
        return found_by(self.detector)

    def detect(self, gray: np.ndarray) -> list[Box]:
        """Faces in this frame (uint8 (h, w)), largest first."""
        gray = _check_gray(gray)
        self._since += 1
        if not self._last or self._since >= self.redetect_every:
            boxes = self.detector.detect(gray)
            self._since = 0
        else:
            boxes = []
            for last in self._last:  # two faces' regions may find one face: keep it once
                boxes += [b for b in self._near(gray, last) if all(b.iou(k) < 0.5 for k in boxes)]
            if len(boxes) < len(self._last):
                self._since = self.redetect_every  # a face was lost: look everywhere next frame
        self._last = boxes
        return _sorted(boxes)

    def _near(self, gray: np.ndarray, last: Box) -> list[Box]:
        """The face near ``last``: at most one box, in frame coordinates."""
        pad = round(max(last.w, last.h) * self.grow)
        left, top = max(last.x - pad, 0), max(last.y - pad, 0)
        right = min(last.x + last.w + pad, gray.shape[1])
        bottom = min(last.y + last.h + pad, gray.shape[0])
        if right <= left or bottom <= top:
            return []
        scale = min(1.0, self.detector.tracking_side / max(last.w, last.h, 1))
        region = gray[top:bottom, left:right]
        if scale < 1.0:
            size = (max(1, round(region.shape[1] * scale)), max(1, round(region.shape[0] * scale)))
            region = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
        found = [_scaled(b.x, b.y, b.w, b.h, 1 / scale) for b in self.detector.detect(region)]
        moved = [Box(b.x + left, b.y + top, b.w, b.h) for b in found]
        overlapping = [b for b in moved if b.iou(last) > 0.1]
        return [max(overlapping, key=lambda b: b.iou(last))] if overlapping else []
