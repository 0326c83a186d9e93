"""Multi-layer perceptron (scikit-learn, Adam, early stopping); prunable per epoch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline

from models.hyper import Hyper
from models.scaling import BlockScaler
from models.spec import BuildOptions, ModelSpec, Reporter, preprocess

HYPERS = {
    "width": Hyper("int", ge=1, le=8192),  # units of the first hidden layer
    "depth": Hyper("int", ge=1, le=8),  # hidden layers; each is half as wide as the one before
    "alpha": Hyper("float", ge=0.0, le=100.0),
    "learning_rate_init": Hyper("float", gt=0.0, le=1.0),
    "batch_size": Hyper("int", ge=1, le=65536),
    "max_iter": Hyper("int", ge=1, le=10000),
    "n_iter_no_change": Hyper("int", ge=1, le=1000),
    "validation_fraction": Hyper("float", gt=0.0, le=0.5),
    "landmark_weight": Hyper("float", ge=0.0, le=100.0),
}
DEFAULTS = {
    "width": 512,
    "depth": 2,
    "alpha": 1e-3,
    "learning_rate_init": 1e-3,
    "batch_size": 256,
    "max_iter": 200,
    "n_iter_no_change": 10,
    "validation_fraction": 0.1,
    "landmark_weight": 1.0,
}


class PrunableMLP(MLPClassifier):
    """MLPClassifier that hands each epoch's validation accuracy to a reporter, when one is set.

    Hooks the per-epoch early-stopping update (scikit-learn has no callbacks for this estimator).
    """

    def _update_no_improvement_count(
        self, early_stopping: bool, x: Any, y: Any, *args: Any
    ) -> None:
        super()._update_no_improvement_count(early_stopping, x, y, *args)
        reporter = getattr(self, "_reporter", None)
        if reporter is not None and early_stopping:
            reporter.report(len(self.validation_scores_), self.validation_scores_[-1])


def layer_sizes(width: int, depth: int) -> tuple[int, ...]:
    """Hidden-layer sizes: ``width`` units, then half as many per layer (at least 1).

    Parameters
    ----------
    width : int
        Units of the first hidden layer.
    depth : int
        Number of hidden layers.

    Returns
    -------
    tuple of int
        ``depth`` sizes, ``width >> i`` for layer i (e.g. (512, 256) for 512, 2).
    """
    return tuple(max(1, width >> i) for i in range(depth))


def build(params: Mapping[str, Any], options: BuildOptions) -> Pipeline:
    """Unfitted MLP with early stopping, after block scaling.

    Method: scikit-learn's ``MLPClassifier`` (ReLU, Adam: Kingma & Ba, ICLR 2015), here as
    :class:`PrunableMLP`; early stopping holds out ``validation_fraction`` of the training rows.

    Parameters
    ----------
    params : Mapping of str to value
        Every key of ``HYPERS`` (``width`` and ``depth`` give the layers, see
        :func:`layer_sizes`; ``landmark_weight`` is for the scaler), as
        :meth:`models.spec.ModelSpec.resolve` returns them (validated against ``HYPERS``).
    options : BuildOptions
        Uses ``feature_set`` (scaling) and ``seed`` (``random_state``).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``scale`` (:class:`~models.scaling.BlockScaler`) and ``mlp``.

    Raises
    ------
    KeyError
        If a key of ``HYPERS`` is missing from ``params``.
    """
    mlp = PrunableMLP(
        hidden_layer_sizes=layer_sizes(params["width"], params["depth"]),
        alpha=params["alpha"],
        learning_rate_init=params["learning_rate_init"],
        batch_size=params["batch_size"],
        max_iter=params["max_iter"],
        n_iter_no_change=params["n_iter_no_change"],
        validation_fraction=params["validation_fraction"],
        early_stopping=True,
        random_state=options.seed,
    )
    return Pipeline(
        [("scale", BlockScaler(options.feature_set, params["landmark_weight"])), ("mlp", mlp)]
    )


def fit_iterative(
    pipeline: Pipeline,
    x: np.ndarray,
    y: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    reporter: Reporter,
) -> None:
    """Fit ``pipeline`` in place, reporting the MLP's early-stopping accuracy after each epoch.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        As :func:`build` returns it.
    x : ndarray of shape (n, d), float32
        Training features.
    y : ndarray of shape (n,), int
        Training class codes (0 to n_classes - 1).
    x_val, y_val : ndarray
        Not used (the signature is :data:`models.spec.IterativeFit`'s): the score reported is
        the one on the MLP's own ``validation_fraction`` of ``x``.
    reporter : Reporter
        Receives ``(epoch, validation accuracy)`` after every epoch.

    Raises
    ------
    models.spec.Pruned
        Raised by ``reporter`` to stop the fit; the pipeline is then partly fitted.
    """
    # Reports the MLP's own early-stopping validation score (a slice of the training rows).
    x, _ = preprocess(pipeline, x, y, x_val)
    mlp = pipeline[-1]
    mlp._reporter = reporter
    try:
        mlp.fit(x, y)
    finally:
        del mlp._reporter


SPEC = ModelSpec("mlp", "multi-layer perceptron", HYPERS, DEFAULTS, build, fit_iterative)
