"""Atomic file writes: an interrupted stage never leaves a half-written output behind.

Every output is written to a temporary file in the destination folder and moved into place with
``os.replace`` (atomic on POSIX within one file system) only once it is complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block succeeds.

    Parameters
    ----------
    path : str or os.PathLike
        Final destination. Missing parent folders are created.

    Yields
    ------
    pathlib.Path
        A temporary file (``.<name>.*.tmp``) in the same folder, already created and empty.
        Write the output there; when the ``with`` block exits normally it is given the
        permissions ``0o666 & ~umask`` and moved over ``path`` with ``os.replace``.

    Raises
    ------
    OSError
        If the folder cannot be created or the temporary file cannot be made or moved. Any
        exception raised inside the block propagates; the temporary file is removed and ``path``
        is left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates the file 0600; give it the permissions a plain open() would have.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` as UTF-8, atomically (see :func:`atomic_path`).

    Parameters
    ----------
    path : str or os.PathLike
        Destination file; missing parent folders are created.
    text : str
        Full file content.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    OSError
        If the file cannot be written; ``path`` is then left as it was.
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike[str], payload: Any) -> Path:
    """Write ``payload`` as indented JSON (keys in insertion order, trailing newline), atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file; missing parent folders are created.
    payload : Any
        A value ``json.dumps`` accepts (dicts, lists, str, int, float, bool, None).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        If ``payload`` holds a value JSON cannot encode (e.g. a numpy array); nothing is written.
    OSError
        If the file cannot be written; ``path`` is then left as it was.
    """
    return write_text(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")
