"""The resume checkpoint: written atomically while training, read back only by the same settings.

A checkpoint carries a fingerprint of everything that shapes training (architecture, parameters,
seed, the exact training rows); one from other settings is ignored, so a stale file can never leak
into a new run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fer_data.atomic import atomic_path
from fer_data.logs import get_logger


def fingerprint(settings: dict[str, Any], *arrays: np.ndarray) -> str:
    """SHA-256 of the settings (as sorted-key JSON) and of each array's dtype, shape and bytes.

    Parameters
    ----------
    settings : dict
        Everything that shapes training; values JSON cannot encode are hashed as ``str(value)``.
    *arrays : ndarray
        Data the run depends on (e.g. the training images and labels), any shape and dtype.

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for array in arrays:
        digest.update(str((array.dtype, array.shape)).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` with ``torch.save``, atomically (see :func:`fer_data.atomic.atomic_path`).

    Parameters
    ----------
    path : pathlib.Path
        Destination; missing parent folders are created.
    state : dict
        Tensors and plain values only (it is read back with ``weights_only=True``), including
        ``"fingerprint"`` (see :func:`fingerprint`).

    Raises
    ------
    OSError
        If the file cannot be written; ``path`` is then left as it was.
    """
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path, expected: str, device: torch.device) -> dict[str, Any] | None:
    """The saved state when ``path`` holds one with fingerprint ``expected``, else None.

    A missing file returns None; an unreadable one, or one with another fingerprint, is logged
    and ignored (None): nothing is raised.

    Parameters
    ----------
    path : pathlib.Path
        Checkpoint written by :func:`save_checkpoint`.
    expected : str
        Fingerprint of the current settings and data.
    device : torch.device
        Where the tensors are loaded (``map_location``).

    Returns
    -------
    dict or None
        The state as saved.
    """
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:
        get_logger().warning("ignoring unreadable checkpoint %s: %s", path, exc)
        return None
    if state.get("fingerprint") != expected:
        get_logger().info("ignoring checkpoint %s: it was made with other settings or data", path)
        return None
    return state
