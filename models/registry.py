"""The model zoo by name: each model lives in ``models/<name>.py`` (its ``params.yaml`` key) and
declares a ``SPEC``. Modules are imported only when asked for, so a stage that runs one model
imports (and depends on) that model's module alone."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from models.names import MODEL_NAMES
from models.spec import BuildOptions, ModelSpec

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

__all__ = ["MODEL_NAMES", "build_model", "get_spec"]


def get_spec(name: str) -> ModelSpec:
    """The :class:`~models.spec.ModelSpec` of ``models/<name>.py``.

    Parameters
    ----------
    name : str
        A model key of ``params.yaml`` (one of :data:`MODEL_NAMES`); its module is imported on
        first use.

    Returns
    -------
    ModelSpec
        The module's ``SPEC``.

    Raises
    ------
    ValueError
        ``name`` is not one of :data:`MODEL_NAMES`.
    RuntimeError
        The module's ``SPEC.name`` is not ``name``.
    """
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(MODEL_NAMES)}")
    spec = importlib.import_module(f"models.{name}").SPEC
    if spec.name != name:
        raise RuntimeError(f"models/{name}.py declares SPEC.name={spec.name!r}")
    return spec


def build_model(name: str, params: Mapping[str, Any], options: BuildOptions) -> Pipeline:
    """The model's unfitted scikit-learn pipeline: its defaults updated with ``params``.

    Parameters
    ----------
    name : str
        One of :data:`MODEL_NAMES`.
    params : Mapping of str to value
        Hyper-parameters that override the model's defaults (validated against its ``hypers``
        beforehand; not checked here).
    options : BuildOptions
        Feature set, acceleration, threads and seed.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Unfitted; ``fit`` takes X of shape (n, d) and class codes of shape (n,).

    Raises
    ------
    ValueError, RuntimeError
        As :func:`get_spec`.
    """
    spec = get_spec(name)
    return spec.build(spec.resolve(params), options)
