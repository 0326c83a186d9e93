"""Image augmentations for the training split, and how many copies each mode makes.

The operations are vectorised over a batch and drawn from one seeded generator, so a mode's
output is identical from run to run.
"""

from __future__ import annotations

import cv2
import numpy as np

from fer_data.faces import EMOTIONS


def balanced_copies(
    emotion: np.ndarray, target: float, max_copies: int, rng: np.random.Generator
) -> np.ndarray:
    """Copies to make of each image so every class reaches ``target`` x the largest class.

    A class that is short by ``need`` images spreads ``need`` copies over its members as evenly as
    possible (random members get the remainder), never more than ``max_copies`` per image.

    Parameters
    ----------
    emotion : ndarray of shape (n,), non-negative int
        Class label (0-6, see ``EMOTIONS``) of each image.
    target : float
        Goal size of every class as a fraction of the largest class (``round(target * max)``
        images); classes already at or above the goal, and empty classes, get no copies.
    max_copies : int
        Most copies any one image may get.
    rng : numpy.random.Generator
        Picks which members of a class get the one extra copy of the remainder.

    Returns
    -------
    ndarray of shape (n,), int64
        Number of augmented copies to make of each image (0 or more).
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
    """The same number of copies for every image.

    Parameters
    ----------
    n_images : int
        Number of images.
    copies_per_image : int
        Copies to make of each.

    Returns
    -------
    ndarray of shape (n_images,), int64
        ``copies_per_image`` everywhere.
    """
    return np.full(n_images, copies_per_image, np.int64)


def augment_images(
    images: np.ndarray,
    ops: list[str],
    brightness: float,
    contrast: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """One random augmentation of each image: flip (p=0.5), brightness shift, contrast change.

    The operations run in the order flip, contrast, brightness, each only if named in ``ops``;
    the result is rounded to the nearest integer and clipped to 0-255.

    Parameters
    ----------
    images : ndarray of shape (n, h, w)
        Gray-level images (0-255), usually uint8 (n, 48, 48).
    ops : list of str
        Any of ``"flip"`` (left-right mirror with probability 0.5), ``"contrast"``,
        ``"brightness"``; other names are ignored.
    brightness : float
        Largest brightness shift in gray levels; each image gets one shift drawn uniformly from
        ``[-brightness, brightness]``.
    contrast : float
        Largest relative contrast change; each image's deviations from its own mean are scaled by
        a factor drawn uniformly from ``[1 - contrast, 1 + contrast]`` (the mean is kept).
    rng : numpy.random.Generator
        Source of all random draws (flip mask, then contrast, then brightness).

    Returns
    -------
    ndarray of shape (n, h, w), uint8
        The augmented images.
    """
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


def reframe_images(images: np.ndarray, shift: float, rng: np.random.Generator) -> np.ndarray:
    """Each face framed a little differently: moved and rescaled about its centre.

    A face detector frames a face less consistently than FER2013's registration; a model trained
    on re-framed copies depends less on the exact framing (README, Apply a model). Image by image,
    a scale factor is drawn from [1 - shift, 1 + shift], then a move across and one down, each
    from [-shift, shift] times the side; output pixel p reads input pixel
    ``(p - c) * scale + c + move`` (c: the centre), bilinear, border pixels repeated
    (``cv2.warpAffine``). ``shift = 0`` returns the images unchanged.

    Parameters
    ----------
    images : ndarray of shape (n, h, w), uint8
        Gray-level faces (FER2013: (n, 48, 48)).
    shift : float
        Largest move, as a fraction of the side, and largest relative change of scale (0-0.25).
    rng : numpy.random.Generator
        Source of the draws (per image: scale, then move across and down).

    Returns
    -------
    ndarray of shape (n, h, w), uint8
        The re-framed faces.

    Raises
    ------
    ValueError
        If ``shift`` is outside [0, 0.25] or ``images`` is not uint8 of shape (n, h, w).
    """
    if not 0.0 <= shift <= 0.25:
        raise ValueError(f"shift must be within [0, 0.25] of the side, got {shift}")
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(f"expected uint8 images (n, h, w), got {images.dtype} {images.shape}")
    height, width = images.shape[1:]
    cx, cy = (width - 1) / 2, (height - 1) / 2
    out = np.empty_like(images)
    for i, image in enumerate(images):
        scale = 1 + rng.uniform(-shift, shift)
        dx, dy = rng.uniform(-shift, shift, 2) * (width, height)
        warp = np.array(
            [
                [1 / scale, 0, cx - (cx + dx) / scale],
                [0, 1 / scale, cy - (cy + dy) / scale],
            ],
            np.float32,
        )
        out[i] = cv2.warpAffine(
            image, warp, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
    return out
