"""Image augmentations for the training split, and how many copies each mode makes.

The operations are vectorised over a batch and drawn from one seeded generator, so a mode's
output is identical from run to run.
"""

from __future__ import annotations

import numpy as np

from fer_data.faces import EMOTIONS


def balanced_copies(
    emotion: np.ndarray, target: float, max_copies: int, rng: np.random.Generator
) -> np.ndarray:
    """Copies to make of each image so every class reaches ``target`` x the largest class.

    A class that is short by ``need`` images spreads ``need`` copies over its members as evenly as
    possible (random members get the remainder), never more than ``max_copies`` per image.
    """
    counts = np.bincount(emotion, minlength=len(EMOTIONS))
    goal = round(target * counts.max())
    copies = np.zeros(len(emotion), np.int64)
    for label, count in enumerate(counts):
        if count == 0 or count >= goal:
            continue
        need = min(goal - count, count * max_copies)
        members = np.flatnonzero(emotion == label)
        base, extra = divmod(need, count)
        copies[members] = base
        copies[rng.choice(members, size=extra, replace=False)] += 1
    return copies


def full_copies(n_images: int, copies_per_image: int) -> np.ndarray:
    return np.full(n_images, copies_per_image, np.int64)


def augment_images(
    images: np.ndarray,
    ops: list[str],
    brightness: float,
    contrast: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """One random augmentation of each image: flip (p=0.5), brightness shift, contrast change."""
    out = images.astype(np.float32)
    n = len(out)
    if "flip" in ops:
        flip = rng.random(n) < 0.5
        out[flip] = out[flip, :, ::-1]
    if "contrast" in ops:
        # Scale deviations from each image's own mean: contrast changes, brightness does not.
        factor = rng.uniform(1.0 - contrast, 1.0 + contrast, size=(n, 1, 1)).astype(np.float32)
        mean = out.mean(axis=(1, 2), keepdims=True)
        out = (out - mean) * factor + mean
    if "brightness" in ops:
        out += rng.uniform(-brightness, brightness, size=(n, 1, 1)).astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
