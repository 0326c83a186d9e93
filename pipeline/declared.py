"""Each stage sees only the parameters its ``dvc.yaml`` entry declares.

DVC reruns a stage when a parameter listed under its ``params:`` changes, and only then. A stage
that reads a parameter it does not declare gives a cached result that is wrong once that parameter
changes. So every stage gets a :class:`DeclaredParams` view of :class:`~pipeline.params.Params`:
reading an undeclared key raises :class:`UndeclaredParamError` naming the key and the stage, the
first time the stage runs (in the tests), instead of a silently stale cache later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from pipeline import paths

# The code's own dvc.yaml: the one that declares this code's stages.
CODE_DVC_FILE = Path(__file__).resolve().parents[1] / paths.DVC_FILE
WHOLE_FILE = ("*",)


class UndeclaredParamError(RuntimeError):
    """A stage read a parameter its ``dvc.yaml`` entry does not declare (a bug in ferbench)."""


def declared_params(stage: str, item: str | None = None, dvc_file: Path = CODE_DVC_FILE) -> list:
    """The ``params:`` entries of ``stage`` in ``dvc_file``, ``${item}`` replaced by ``item``.

    Entries are dotted keys of params.yaml (``seed``, ``models.svm``); ``params.yaml:`` with no
    list (the whole file) comes back as ``["*"]``.

    Raises
    ------
    KeyError
        ``stage`` is not in ``dvc_file``.
    """
    stages = yaml.safe_load(dvc_file.read_text(encoding="utf-8"))["stages"]
    entry = stages[stage]
    body = entry.get("do", entry)
    keys: list[str] = []
    for declared in body.get("params", []):
        if isinstance(declared, dict):  # {params.yaml: None} or {file: [keys]}
            for file, listed in declared.items():
                if file != paths.PARAMS_FILE.name:
                    continue
                keys += ["*"] if not listed else list(listed)
        else:
            keys.append(str(declared))
    return [k.replace("${item}", item or "") for k in keys]


def _split(key: str) -> tuple[str, ...]:
    return tuple(key.split("."))


class DeclaredParams:
    """A read-only view of a parameters object (pydantic models and dicts of them) that allows
    exactly the dotted keys in ``declared`` and everything below them."""

    def __init__(self, value: Any, declared: list[str], stage: str, at: tuple[str, ...] = ()):
        self._value = value
        self._declared = [_split(k) for k in declared]
        self._stage = stage
        self._at = at

    def _child(self, name: str, value: Any) -> Any:
        path = (*self._at, name)
        if any(path[: len(d)] == d for d in self._declared) or WHOLE_FILE in self._declared:
            return value  # fully declared: the real object, no more checks
        if any(d[: len(path)] == path for d in self._declared):
            return DeclaredParams(value, [".".join(d) for d in self._declared], self._stage, path)
        raise UndeclaredParamError(
            f"stage {self._stage} reads params.{'.'.join(path)}, which its dvc.yaml entry does "
            f"not declare under `params:`; add it there so that DVC reruns the stage when it "
            f"changes"
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if not (isinstance(self._value, BaseModel) and name in type(self._value).model_fields):
            where = ".".join(self._at) or "params"
            raise UndeclaredParamError(
                f"stage {self._stage} uses {where}.{name} on a partly declared section; read "
                f"declared keys one by one"
            )
        return self._child(name, getattr(self._value, name))

    def __getitem__(self, key: str) -> Any:
        return self._child(key, self._value[key])


def restrict(params: Any, stage: str, item: str | None = None) -> Any:
    """``params`` as stage ``stage`` (``item`` for a ``foreach`` stage) may read it."""
    declared = declared_params(stage, item)
    if WHOLE_FILE[0] in declared:
        return params
    name = f"{stage}@{item}" if item else stage
    return DeclaredParams(params, declared, name)
