"""A copy of this checkout as a fresh git repository: what a clean clone would hold.

Used by the benchmarks (a full ``dvc repro`` in scratch space) and by the DVC tests.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def copy_checkout(dest: Path, source: Path = REPO_ROOT) -> Path:
    """Copy ``source``'s files (tracked and untracked, not ignored) to ``dest`` and commit them
    there, so DVC sees the working tree as a clean clone would; returns ``dest``."""
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
    identity = ["-c", "user.name=ferbench", "-c", "user.email=ferbench@example.invalid"]
    for cmd in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", *identity, "commit", "-qm", "checkout"],
    ):
        subprocess.run(cmd, cwd=dest, check=True, capture_output=True)
    return dest
