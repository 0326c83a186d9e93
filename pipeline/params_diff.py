"""Which parameters a run changed: params.yaml against params.yaml at git HEAD, as
``dvc params diff`` compares, so a ``dvc exp run -S ...`` lists exactly its own changes."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from models.registry import get_spec
from pipeline import paths
from pipeline.params import Params, ParamsError, parse_params
from reports.summary import ParamChange


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one mapping of dotted keys (``cnn.mini_xception.lr``) to leaf values."""
    if isinstance(node, dict) and node:
        out: dict[str, Any] = {}
        for key, value in node.items():
            out |= flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    return {prefix: node}


def _resolved(params: Params) -> dict[str, Any]:
    """The parameters as plain data, each model's hyper-parameters filled with built-in defaults.

    ``models.<m>.params`` lists only the values set in params.yaml; resolving both sides through
    the model's spec keeps a value that merely restates a built-in default out of the changes.
    """
    dumped = params.model_dump(mode="json")
    for name, model in dumped["models"].items():
        model["params"] = get_spec(name).resolve(model["params"])
    return dumped


def baseline_params(
    path: Path = paths.PARAMS_FILE, root: Path = Path(".")
) -> tuple[Params | None, str]:
    """The parameters a run is compared with, and what they are.

    ``path`` as committed at git HEAD (as ``dvc params diff`` compares): a ``dvc exp run -S ...``
    then lists exactly its own changes. Without a commit holding a valid file: ``None`` (there is
    nothing to compare with), and a label that says why.
    """
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        committed = subprocess.run(
            ["git", "show", f"HEAD:./{path.as_posix()}"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        label = f"{path} at commit {sha}"
        return parse_params(yaml.safe_load(committed), label), label
    except (FileNotFoundError, subprocess.CalledProcessError, yaml.YAMLError, ParamsError):
        return None, "no committed params.yaml to compare with (not a git repository, or no commit)"


def changed_params(params: Params, baseline: Params) -> list[ParamChange]:
    """Every parameter whose value differs from ``baseline``, by key."""
    actual, default = flatten(_resolved(params)), flatten(_resolved(baseline))
    changes = [
        ParamChange(key, value, default.get(key), key in default)
        for key, value in actual.items()
        if key not in default or default[key] != value
    ]
    changes += [
        ParamChange(key, None, value, True)
        for key, value in default.items()
        # An empty default section ({} flattens to one key) filled in params.yaml is not a removal.
        if key not in actual and not any(k.startswith(f"{key}.") for k in actual)
    ]
    return sorted(changes, key=lambda change: change.key)
