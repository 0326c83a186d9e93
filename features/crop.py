"""FER2013-style face crops from whole images: grayscale, a square around the detected face, 48x48.

FER2013's faces were located by a detector and registered to fill a 48x48 frame that shows a
little more than the face (forehead, chin, some hair). Detectors' boxes are tighter, so the crop
is the box's square grown by ``margin`` times its side on every side; the margin that matches
FER2013's framing is chosen on dev (``bench/choose_margin.py``, ``predict.<detector>.margin`` in
params.yaml). Parts of the square outside the image repeat the border pixels.
"""

from __future__ import annotations

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
