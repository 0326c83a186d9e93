"""Helpers to run stages in a temporary working folder, as DVC would from the repository root."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from pipeline.params import Params, parse_params

REPO_ROOT = Path(__file__).resolve().parents[1]


def repo_raw_params() -> dict[str, Any]:
    """The repository's params.yaml as plain data (the single source of every default)."""
    return yaml.safe_load((REPO_ROOT / "params.yaml").read_text())


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in update.items():
        # A mapping updates the section it names; an empty one clears it.
        if value and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# Tests run stages on small samples with the sizes they name: scaling to the data
# (pipeline/scale.py) is off unless a test sets scale.by_data itself.
AS_WRITTEN = {"scale": {"by_data": False}}


def merged_raw(update: dict[str, Any] | None = None) -> dict[str, Any]:
    """The repository's params.yaml with the nested mapping ``update`` merged into it (and
    scale.by_data false unless ``update`` sets it)."""
    return _merge(_merge(repo_raw_params(), AS_WRITTEN), update or {})


def repo_params(update: dict[str, Any] | None = None) -> Params:
    """:func:`merged_raw`, validated."""
    return parse_params(merged_raw(update))


def make_params(tmp_path: Path, overrides: dict | None = None) -> Params:
    """The repository's params.yaml with dotted ``overrides`` set, written to ``tmp_path``.

    Each override replaces the value at its key (a mapping replaces the whole section: name
    single keys, ``cnn.vgg.epochs``, to keep the rest of a section). Scaling to the data is off
    (``scale.by_data: false``) unless an override sets it.
    """
    raw = _merge(repo_raw_params(), AS_WRITTEN)  # scale.by_data false unless overridden
    for dotted, value in (overrides or {}).items():
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    return parse_params(raw)


def validated(update: dict[str, Any] | None = None) -> Params:
    """:func:`repo_params`, every model's hyper-parameters checked too (as ``ferbench check``)."""
    from pipeline.model_checks import check_models

    params = repo_params(update)
    check_models(params)
    return params


def stage_run(module: Any, params: Params, item: str | None = None) -> Any:
    """``module.run`` as DVC runs it: with only the parameters its dvc.yaml entry declares.

    Returns the stage's record as JSON data (what the stage wrote), or its plain result.
    """
    from pipeline.declared import restrict

    stage = module.__name__.rsplit(".", 1)[1].replace("_", "-")
    view = restrict(params, stage, item)
    result = module.run(view) if item is None else module.run(view, item)
    return result.to_json() if hasattr(result, "to_json") else result
