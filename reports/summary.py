"""The run summary: which code (git commit), when, on what machine, with which settings."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ParamChange:
    key: str  # dotted path, e.g. models.svm.params.C
    value: Any
    default: Any  # None when the default has no such key (shown as "not set")
    in_default: bool

    @property
    def section(self) -> str:
        return self.key.split(".", 1)[0]


def git_commit(root: Path, generated: Sequence[Path] = ()) -> str:
    """``<sha>``, ``<sha> (uncommitted changes)``, or why there is no commit to name.

    Changes count in code, parameters and untracked files, not in ``generated`` (the pipeline's
    outputs, which a run rewrites).
    """
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", ".", *(f":(exclude){p}" for p in generated)],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except FileNotFoundError:
        return "unknown (git is not installed)"
    except subprocess.CalledProcessError:
        return "unknown (not a git repository, or no commit yet)"
    return f"{sha} (uncommitted changes)" if dirty else sha


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, str]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cores": f"{cores} available of {os.cpu_count()}",
        "cpu": cpu_model(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
