"""FER2013-style face crops from whole images: grayscale, a square around the detected face, 48x48.

FER2013's faces were located by a detector and registered to fill a 48x48 frame that shows a
little more than the face (forehead, chin, some hair). Detectors' boxes are tighter, so the crop
is the box's square grown by ``margin`` times its side on every side; the margin that matches
FER2013's framing is chosen on dev (``bench/choose_margin.py``, ``predict.<detector>.margin`` in
params.yaml). Parts of the square outside the image repeat the border pixels.

A detector's box still wobbles from face to face in position and scale, and models of pixels
are sensitive to that: on dev, shifting FER2013's own framing by 3% of the side cost the RBF-SVM
3 points. :class:`CropViews` reads a face at several framings around the box, so a model's scores
can be averaged over them (test-time augmentation, as the CNN's 10-crop does within a crop).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from features.detect import Box
from fer_data.faces import IMAGE_SIDE


def to_gray(image: np.ndarray, channels: str = "bgr") -> np.ndarray:
    """uint8 grayscale (h, w) of a uint8 image: (h, w), (h, w, 1), (h, w, 3) or (h, w, 4).

    ``channels`` is the colour order of 3- and 4-channel images: ``"bgr"`` (OpenCV's, what
    :func:`features.media.read_image` returns) or ``"rgb"`` (scikit-image, PIL, matplotlib).
    Luma weights are ITU-R BT.601's, as ``cv2.cvtColor``.

    Raises
    ------
    ValueError
        Not a uint8 array of one of those shapes, or ``channels`` is neither bgr nor rgb.
    """
    if channels not in ("bgr", "rgb"):
        raise ValueError(f"channels must be 'bgr' or 'rgb', got {channels!r}")
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return np.ascontiguousarray(image)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        rgb = channels == "rgb"
        code = {
            3: cv2.COLOR_RGB2GRAY if rgb else cv2.COLOR_BGR2GRAY,
            4: cv2.COLOR_RGBA2GRAY if rgb else cv2.COLOR_BGRA2GRAY,
        }[image.shape[2]]
        return cv2.cvtColor(np.ascontiguousarray(image), code)
    raise ValueError(
        f"expected an image of shape (h, w), (h, w, 3) or (h, w, 4), got {image.shape}"
    )


def crop_box(box: Box, margin: float) -> Box:
    """The square crop of ``box``: centred on it, side ``max(w, h) * (1 + 2 * margin)``."""
    if margin <= -0.5:
        raise ValueError(f"margin must be greater than -0.5, got {margin}")
    side = max(1, round(max(box.w, box.h) * (1 + 2 * margin)))
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    return Box(round(cx - side / 2), round(cy - side / 2), side, side)


def crop_face(gray: np.ndarray, box: Box, margin: float, side: int = IMAGE_SIDE) -> np.ndarray:
    """The face in ``box`` framed like FER2013: uint8 (side, side).

    ``gray``: uint8 (h, w). The square :func:`crop_box` is cut (border pixels repeated where it
    leaves the image) and resized with OpenCV's area interpolation (``INTER_AREA``: averages
    the pixels each output pixel covers, the alias-free way to shrink).
    """
    if gray.dtype != np.uint8 or gray.ndim != 2:
        raise ValueError(f"expected uint8 grayscale (h, w), got {gray.dtype} {gray.shape}")
    square = crop_box(box, margin)
    height, width = gray.shape
    pad = max(0, -square.x, -square.y, square.x + square.w - width, square.y + square.h - height)
    if pad:
        gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    top, left = square.y + pad, square.x + pad
    patch = gray[top : top + square.h, left : left + square.w]
    return cv2.resize(patch, (side, side), interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class CropViews:
    """The framings a face is read at: the crop square scaled by each of ``scales`` about its
    centre and, when ``shift`` > 0, each scaled square also moved by ``shift`` times the crop
    square's side left, right, up and down.

    ``len(views)`` crops per face: ``len(scales)`` (``shift`` = 0) or ``5 * len(scales)``.
    The default, ``CropViews()``, is the single crop :func:`crop_face` cuts.

    Raises
    ------
    ValueError
        ``shift`` outside [0, 0.25], no scale, or a scale outside [0.5, 2].
    """

    shift: float = 0.0
    scales: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        if not 0.0 <= self.shift <= 0.25:
            raise ValueError(f"shift must be within [0, 0.25] of the side, got {self.shift}")
        if not self.scales or not all(0.5 <= s <= 2.0 for s in self.scales):
            raise ValueError(f"scales must be one or more values in [0.5, 2], got {self.scales}")

    def __len__(self) -> int:
        return len(self.scales) * (5 if self.shift > 0 else 1)

    def boxes(self, square: Box) -> list[Box]:
        """The squares of the views of the crop square ``square``, scale by scale."""
        offsets = [(0.0, 0.0)]
        if self.shift > 0:
            d = self.shift
            offsets += [(-d, 0.0), (d, 0.0), (0.0, -d), (0.0, d)]
        return [reframe_box(square, dx, dy, scale) for scale in self.scales for dx, dy in offsets]


def reframe_box(square: Box, across: float, down: float, scale: float = 1.0) -> Box:
    """``square`` scaled by ``scale`` about its centre, then moved by ``across`` and ``down``
    times its (unscaled) side; pixel coordinates rounded to the nearest integer."""
    side = max(1, round(square.w * scale))
    x = square.x + square.w / 2 + across * square.w - side / 2
    y = square.y + square.h / 2 + down * square.w - side / 2
    return Box(round(x), round(y), side, side)


def crop_views(
    gray: np.ndarray, box: Box, margin: float, views: CropViews, side: int = IMAGE_SIDE
) -> np.ndarray:
    """The face in ``box`` at each framing of ``views``: uint8 (len(views), side, side).

    Each view is cut as :func:`crop_face` cuts the crop square (``crop_box(box, margin)``);
    with ``CropViews()`` the one view is exactly ``crop_face(gray, box, margin, side)``.
    """
    square = crop_box(box, margin)
    return np.stack([crop_face(gray, view, 0.0, side) for view in views.boxes(square)])


def resize_face(gray: np.ndarray, side: int = IMAGE_SIDE) -> np.ndarray:
    """A whole image taken as an already cropped face (``--no-detect``): uint8 (side, side).

    A non-square image is centre-cropped to a square first, so the face keeps its proportions.
    """
    height, width = gray.shape
    edge = min(height, width)
    top, left = (height - edge) // 2, (width - edge) // 2
    patch = gray[top : top + edge, left : left + edge]
    grow = edge < side
    return cv2.resize(
        patch, (side, side), interpolation=cv2.INTER_LINEAR if grow else cv2.INTER_AREA
    )
