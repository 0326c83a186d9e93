"""Stage logging: what each stage read, what it wrote and how long it took."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

LOGGER_NAME = "ferbench"


def get_logger() -> logging.Logger:
    """The project's ``ferbench`` logger, configured on first use.

    The first call attaches one stderr handler (``HH:MM:SS LEVEL message``), sets the level from
    the ``FERBENCH_LOG_LEVEL`` environment variable (default ``INFO``) and stops propagation to
    the root logger; later calls return the same logger unchanged.

    Returns
    -------
    logging.Logger
        The logger named ``ferbench``.

    Raises
    ------
    ValueError
        On first use, if ``FERBENCH_LOG_LEVEL`` is not a logging level name (e.g. ``DEBUG``).
    """
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        logger.setLevel(os.environ.get("FERBENCH_LOG_LEVEL", "INFO"))
        logger.propagate = False
    return logger


def _size(path: Path) -> str:
    if path.is_dir():
        total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    elif path.exists():
        total = path.stat().st_size
    else:
        return "missing"
    return f"{total / 1e6:.1f} MB"


def log_read(path: str | os.PathLike[str], what: str = "") -> None:
    """Log at INFO that ``path`` was read, with its size in MB (a folder's total, or "missing").

    Parameters
    ----------
    path : str or os.PathLike
        File or folder read.
    what : str, optional
        Short description appended after a colon.
    """
    get_logger().info("read  %s (%s)%s", path, _size(Path(path)), f": {what}" if what else "")


def log_wrote(path: str | os.PathLike[str], what: str = "") -> None:
    """Log at INFO that ``path`` was written, with its size in MB (a folder's total, or "missing").

    Parameters
    ----------
    path : str or os.PathLike
        File or folder written.
    what : str, optional
        Short description appended after a colon.
    """
    get_logger().info("wrote %s (%s)%s", path, _size(Path(path)), f": {what}" if what else "")


@contextlib.contextmanager
def stage(name: str) -> Iterator[logging.Logger]:
    """Log the start and the wall time of a stage.

    Parameters
    ----------
    name : str
        Stage name shown in the two log lines.

    Yields
    ------
    logging.Logger
        The ``ferbench`` logger. The closing "done in ... s" line (wall-clock seconds) is logged
        only when the block exits normally.
    """
    logger = get_logger()
    logger.info("stage %s: start", name)
    start = time.perf_counter()
    yield logger
    logger.info("stage %s: done in %.1f s", name, time.perf_counter() - start)
