"""Helpers to run stages in a temporary working folder, as DVC would from the repository root."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from pipeline.params import Params, parse_params

REPO_ROOT = Path(__file__).resolve().parents[1]


def make_params(tmp_path: Path, overrides: dict | None = None) -> Params:
    """The repository's params.yaml with ``overrides`` merged in, written to ``tmp_path``."""
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    for dotted, value in (overrides or {}).items():
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    return parse_params(raw)


def copy_checkout(dest: Path) -> Path:
    """A fresh git repository at ``dest`` holding this checkout's files (tracked and untracked,
    not ignored), so DVC tests see the working tree as a clean clone would."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (REPO_ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, dest / name)
    for cmd in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "checkout"],
    ):
        subprocess.run(cmd, cwd=dest, check=True, capture_output=True)
    return dest
