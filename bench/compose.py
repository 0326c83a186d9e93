"""Whole frames made from FER2013 faces, for measuring the detect-crop-classify path.

Each 48x48 face is enlarged (bicubic) to a random side and pasted at a random position into a
640x480 frame with a random background: a flat grey, a blurred noise field, a linear gradient,
or a crop of one of scikit-image's bundled photographs that shows no face (brick, grass, gravel,
coffee, coins, moon, a text page, a rocket, the Hubble deep field). The pasted square is the
face's known FER2013 framing: a detector's box grown by the right margin should cover it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from skimage import data as skdata

from features.detect import Box

FRAME = (640, 480)  # width, height
PHOTOS = ("brick", "grass", "gravel", "coffee", "coins", "moon", "page", "rocket")


@dataclass(frozen=True)
class Composed:
    frame: np.ndarray  # uint8 gray (480, 640)
    box: Box  # where the face was pasted (its FER2013 framing)


def _photo_bank() -> list[np.ndarray]:
    bank = []
    for name in PHOTOS:
        image = getattr(skdata, name)()
        if image.ndim == 3:
            image = cv2.cvtColor(image[:, :, :3], cv2.COLOR_RGB2GRAY)
        bank.append(image.astype(np.uint8))
    bank.append(cv2.cvtColor(skdata.hubble_deep_field(), cv2.COLOR_RGB2GRAY))
    return bank


class FrameMaker:
    """Random frames around faces; ``sides``: the pasted face's side in pixels, (low, high)."""

    def __init__(self, seed: int, sides: tuple[int, int] = (96, 192)) -> None:
        self.rng = np.random.default_rng(seed)
        self.sides = sides
        self.photos = _photo_bank()

    def background(self) -> np.ndarray:
        width, height = FRAME
        kind = self.rng.integers(4)
        if kind == 0:
            return np.full((height, width), self.rng.integers(20, 236), np.uint8)
        if kind == 1:
            noise = self.rng.normal(128, 60, (height // 8, width // 8)).clip(0, 255)
            return cv2.resize(noise.astype(np.uint8), FRAME, interpolation=cv2.INTER_CUBIC)
        if kind == 2:
            low, high = sorted(self.rng.integers(0, 256, 2))
            ramp = np.linspace(low, high, width if self.rng.integers(2) else height)
            grid = ramp[None, :] if ramp.size == width else ramp[:, None]
            return np.broadcast_to(grid, (height, width)).astype(np.uint8).copy()
        photo = self.photos[self.rng.integers(len(self.photos))]
        scale = max(width / photo.shape[1], height / photo.shape[0]) * self.rng.uniform(1.0, 1.5)
        size = (int(np.ceil(photo.shape[1] * scale)), int(np.ceil(photo.shape[0] * scale)))
        big = cv2.resize(photo, size, interpolation=cv2.INTER_LINEAR)
        top = self.rng.integers(0, big.shape[0] - height + 1)
        left = self.rng.integers(0, big.shape[1] - width + 1)
        return np.ascontiguousarray(big[top : top + height, left : left + width])

    def compose(self, face: np.ndarray) -> Composed:
        """One frame with ``face`` (uint8 (48, 48)) pasted into it."""
        side = int(self.rng.integers(self.sides[0], self.sides[1] + 1))
        frame = self.background()
        x = int(self.rng.integers(0, FRAME[0] - side + 1))
        y = int(self.rng.integers(0, FRAME[1] - side + 1))
        frame[y : y + side, x : x + side] = cv2.resize(
            face, (side, side), interpolation=cv2.INTER_CUBIC
        )
        return Composed(frame, Box(x, y, side, side))


def match(boxes: list[Box], truth: Box, min_iou: float = 0.1) -> Box | None:
    """The detection that belongs to the pasted face: its centre inside the pasted square and
    the largest overlap with it (at least ``min_iou``); None when the face was missed."""
    best, best_iou = None, min_iou
    for box in boxes:
        cx, cy = box.x + box.w / 2, box.y + box.h / 2
        inside = truth.x <= cx <= truth.x + truth.w and truth.y <= cy <= truth.y + truth.h
        overlap = box.iou(truth)
        if inside and overlap >= best_iou:
            best, best_iou = box, overlap
    return best
