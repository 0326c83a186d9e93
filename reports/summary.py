"""The run summary: which code (git commit), when, on what machine, with which settings."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from models.zoo import get_spec
from pipeline import layout
from pipeline.params import DEFAULT_PARAMS, Params, ParamsError, parse_params

# Outputs of the pipeline: a run rewrites them, so they do not make the code differ from the commit.
GENERATED = (
    layout.DATA_DIR,
    layout.ARTIFACTS_DIR,
    layout.METRICS_DIR,
    layout.RESULTS_DIR,
    Path("dvc.lock"),
)


@dataclass(frozen=True)
class ParamChange:
    key: str  # dotted path, e.g. models.svm.params.C
    value: Any
    default: Any  # None when the default has no such key (shown as "not set")
    in_default: bool

    @property
    def section(self) -> str:
        return self.key.split(".", 1)[0]


def git_commit(root: Path = Path(".")) -> str:
    """``<sha>``, ``<sha> (uncommitted changes)``, or why there is no commit to name.

    Changes count in code, parameters and untracked files, not in the pipeline's generated outputs.
    """
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", ".", *(f":(exclude){p}" for p in GENERATED)],
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


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict) and node:
        out: dict[str, Any] = {}
        for key, value in node.items():
            out |= _flatten(value, f"{prefix}.{key}" if prefix else str(key))
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


def baseline_params(path: Path = DEFAULT_PARAMS, root: Path = Path(".")) -> tuple[Params, str]:
    """The parameters a run is compared with, and what they are.

    ``path`` as committed at git HEAD (as ``dvc params diff`` compares): a ``dvc exp run -S ...``
    then lists exactly its own changes. Without a commit holding a valid file: the built-in
    defaults of :class:`~pipeline.params.Params`.
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
        return Params(), "the built-in defaults of pipeline.params.Params"


def changed_params(params: Params, baseline: Params | None = None) -> list[ParamChange]:
    """Every parameter whose value differs from ``baseline`` (default: the built-in defaults,
    ``Params()``), by key."""
    baseline = Params() if baseline is None else baseline
    actual, default = _flatten(_resolved(params)), _flatten(_resolved(baseline))
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
