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
    get_logger().info("read  %s (%s)%s", path, _size(Path(path)), f": {what}" if what else "")


def log_wrote(path: str | os.PathLike[str], what: str = "") -> None:
    get_logger().info("wrote %s (%s)%s", path, _size(Path(path)), f": {what}" if what else "")


@contextlib.contextmanager
def stage(name: str) -> Iterator[logging.Logger]:
    """Log the start and the wall time of a stage."""
    logger = get_logger()
    logger.info("stage %s: start", name)
    start = time.perf_counter()
    yield logger
    logger.info("stage %s: done in %.1f s", name, time.perf_counter() - start)
