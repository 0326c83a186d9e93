"""The code's version: ``[project] version`` of the checkout's pyproject.toml (the package's
metadata when ferbench runs from an installed copy without its source tree)."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import metadata
from pathlib import Path

# The project file of the code itself (not a data path): this file sits in <root>/fer_data/.
_PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


@lru_cache(maxsize=1)
def ferbench_version() -> str:
    """The version string, e.g. ``"0.1.0"``; ``"unknown"`` when neither source has one."""
    if _PYPROJECT.exists():
        project = tomllib.loads(_PYPROJECT.read_text(encoding="utf-8")).get("project", {})
        if isinstance(project.get("version"), str):
            return project["version"]
    try:
        return metadata.version("ferbench")
    except metadata.PackageNotFoundError:
        return "unknown"
