"""Decoding image files to 48x48 grayscale: what the image-folder reader's worker processes run.

Kept apart, importing only numpy and Pillow, so a worker process starts in a fraction of a second
(the reader's own module pulls in pandas, pyarrow and numba).

Grayscale: an 8-bit grayscale image (Pillow mode ``L``) is taken as it is; a colour one (RGB,
RGBA, palette, CMYK, ...) is converted with Pillow's ``convert("L")`` (ITU-R 601-2 luma:
L = 0.299 R + 0.587 G + 0.114 B); other pixel formats (16-bit, 32-bit, float) are refused. Size:
48x48 is taken; another size is resized with Pillow's Lanczos filter when ``resize`` is set,
otherwise refused.
"""

from __future__ import annotations

import numpy as np

SIDE = 48  # fer_data.faces.IMAGE_SIDE (the reader checks that they agree)
OK, UNREADABLE, WRONG_SIZE, BAD_FORMAT = 0, 1, 2, 3
# Pillow modes converted to grayscale with convert("L"); "L" itself is taken as it is.
COLOUR_MODES = frozenset(
    {"1", "P", "PA", "LA", "La", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"}
)


def decode(path: str, resize: bool) -> tuple[np.ndarray | None, int, str, str]:
    """Read one image file.

    Returns
    -------
    image : np.ndarray or None
        uint8 (48, 48), or None when refused.
    status : int
        ``OK``, ``UNREADABLE``, ``WRONG_SIZE`` or ``BAD_FORMAT``.
    detail : str
        Why it was refused (Pillow's message, ``"64x64"``, ``"I;16 (48x48)"``); "" when read.
    change : str
        What was done to it: ``"mode:RGB"``, ``"size:64x64"``, both joined by ``;``, or "".
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            mode, size = image.mode, image.size
            changes = []
            if mode in COLOUR_MODES:
                image = image.convert("L")
                changes.append(f"mode:{mode}")
            elif mode != "L":
                return None, BAD_FORMAT, f"{mode} ({size[0]}x{size[1]})", ""
            if size != (SIDE, SIDE):
                if not resize:
                    return None, WRONG_SIZE, f"{size[0]}x{size[1]}", ""
                image = image.resize((SIDE, SIDE), Image.Resampling.LANCZOS)
                changes.append(f"size:{size[0]}x{size[1]}")
            return np.asarray(image, dtype=np.uint8), OK, "", ";".join(changes)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        return None, UNREADABLE, str(exc)[:200], ""


def decode_chunk(paths: list[str], resize: bool) -> tuple[np.ndarray, np.ndarray, list, list]:
    """:func:`decode` over ``paths``: (images uint8 (n, 48, 48), status int8 (n,), details,
    changes); a refused image's pixels are zeros."""
    images = np.zeros((len(paths), SIDE, SIDE), np.uint8)
    status = np.zeros(len(paths), np.int8)
    details, changes = [], []
    for i, path in enumerate(paths):
        image, code, detail, change = decode(path, resize)
        if image is not None:
            images[i] = image
        status[i] = code
        details.append(detail)
        changes.append(change)
    return images, status, details, changes
