"""A copy of this checkout as a fresh git repository: what a clean clone would hold.

Used by the benchmarks (a full ``dvc repro`` in scratch space) and by the DVC tests.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def copy_checkout(dest: Path, source: Path = REPO_ROOT, jit_cache: bool = False) -> Path:
    """Copy ``source``'s files (tracked and untracked, not ignored) to ``dest`` and commit them
    there, so DVC sees the working tree as a clean clone would; returns ``dest``.

    ``jit_cache``: also copy numba's compiled kernels (``__pycache__/*.nbi``, ``*.nbc`` beside the
    copied modules), which stay valid because the copy keeps the sources' modification times; the
    copy then does not compile the HOG and landmark kernels again (the tests' copies; a benchmark
    of a fresh clone leaves it off, as a clone compiles them).
    """
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=source,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (source / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, dest / name)
    if jit_cache:
        for cached in source.glob("*/__pycache__/*.nb[ic]"):
            target = dest / cached.relative_to(source)
            if (target.parent.parent / cached.name.split(".")[0]).with_suffix(".py").exists():
                target.parent.mkdir(exist_ok=True)
                shutil.copy2(cached, target)
    identity = ["-c", "user.name=ferbench", "-c", "user.email=ferbench@example.invalid"]
    for cmd in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", *identity, "commit", "-qm", "checkout"],
    ):
        subprocess.run(cmd, cwd=dest, check=True, capture_output=True)
    return dest
