"""What every model of the zoo declares: its hyper-parameters and how to build its pipeline."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:  # scikit-learn takes ~1 s to import; a stage's own process may not need it
    from sklearn.pipeline import Pipeline

from models.hyper import Hyper, Scalar


class Pruned(Exception):  # noqa: N818 - mirrors optuna.TrialPruned without importing optuna
    """Raised inside a fit when the search decided the trial is not worth finishing."""


class Reporter(Protocol):
    """Takes an iterative fit's validation scores as it goes; raises :class:`Pruned` to stop it."""

    def report(self, step: int, value: float) -> None:
        """Take a validation score ``value`` (0-1) after ``step`` (round, epoch or fold, from 1)."""
        ...


@dataclass(frozen=True)
class BuildOptions:
    """Run settings a model's ``build`` needs besides its hyper-parameters."""

    feature_set: str = "hog_landmarks"
    accelerate: bool = True  # scikit-learn-intelex estimators where the model has them
    n_jobs: int = 2
    seed: int = 2013
    n_classes: int = 7  # size of the label space: 7 FER2013 emotions, 8 FER+ classes


# fit(pipeline, x, y, x_val, y_val, reporter): fits in place, reporting validation accuracy.
IterativeFit = Callable[
    ["Pipeline", np.ndarray, np.ndarray, np.ndarray, np.ndarray, Reporter], None
]


@dataclass(frozen=True)
class ModelSpec:
    """One model of the zoo: its key, title, hyper-parameters, defaults and pipeline builder.

    Raises
    ------
    ValueError
        On construction, if ``defaults`` and ``hypers`` do not have the same keys.
    """

    name: str
    title: str
    hypers: Mapping[str, Hyper]
    defaults: Mapping[str, Scalar]
    build: Callable[[Mapping[str, Any], BuildOptions], Pipeline]
    # Iterative models report per-iteration validation accuracy so the search can prune them.
    fit_iterative: IterativeFit | None = None
    # The fitted pipeline as the train stage saves it, when that differs (the SVM's compact form).
    export: Callable[[Pipeline], Pipeline] | None = None
    # The hyper-parameter that counts boosting rounds: like a CNN's epochs, it shrinks with the
    # data (pipeline/scale.py), since each round costs about the same whatever the rows.
    rounds: str | None = None

    def __post_init__(self) -> None:
        unknown = set(self.defaults) - set(self.hypers)
        missing = set(self.hypers) - set(self.defaults)
        if unknown or missing:
            raise ValueError(f"{self.name}: defaults do not match hypers ({unknown=}, {missing=})")

    def resolve(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The defaults updated with ``params`` (already validated against :attr:`hypers`)."""
        return {**self.defaults, **params}


def preprocess(
    pipeline: Pipeline, x: np.ndarray, y: np.ndarray, x_val: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Fit every step but the last on (x, y); return (x, x_val) transformed for the last step.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Its leading steps are fitted in place; the last one is left alone.
    x : ndarray of shape (n, d)
        Training features.
    y : ndarray of shape (n,)
        Training labels.
    x_val : ndarray of shape (m, d)
        Validation features.

    Returns
    -------
    x, x_val : ndarray of shape (n, d') and (m, d')
        Transformed by the leading steps (d' may differ from d, e.g. after PCA); the inputs
        themselves when the pipeline has one step.
    """
    if len(pipeline.steps) == 1:
        return x, x_val
    head = pipeline[:-1]
    return head.fit_transform(x, y), head.transform(x_val)
