"""Helpers to run stages in a temporary working folder, as DVC would from the repository root."""

from __future__ import annotations

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
