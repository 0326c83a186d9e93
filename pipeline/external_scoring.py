"""The cnn and evaluate stages' cross-dataset hooks: score a trained model on every external set.

Reads ``data/external/`` (written by the external stage: :mod:`pipeline.stages.external`) and the
model's card (its class names: the one source of the label space a model is scored on). A CNN
predicts with the cnn stage's own 10-crop test path; classical models: see
:mod:`pipeline.external_classical` (kept apart so that the cnn stage does not depend on the
classical models' code).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fer_data.external import ExternalManifest, ExternalSet, read_external
from fer_data.logs import get_logger, log_read
from models.external import score_external
from models.records import ExternalScores, ModelCard
from pipeline import paths


def load_sets() -> list[ExternalSet]:
    """Every set the external stage wrote ([] when it names none, or has not run outside DVC)."""
    manifest = ExternalManifest.read_optional(paths.EXTERNAL_MANIFEST)
    sets = [] if manifest is None else [read_external(paths.external_set(n)) for n in manifest.sets]
    for table in sets:
        log_read(paths.external_set(table.name), f"{len(table)} faces")
    return sets


def log_scores(model: str, scores: dict[str, ExternalScores]) -> None:
    for name, found in scores.items():
        if found.scores is None:
            get_logger().warning("%s on external set %s: %s", model, name, found.error)
        else:
            get_logger().info(
                "%s on external set %s: accuracy %.4f (95%% CI %s, %s bootstrap), macro-F1 %.4f, "
                "%d faces, dropped %s",
                model,
                name,
                found.scores.accuracy,
                found.scores.accuracy_ci95,
                found.bootstrap,
                found.scores.macro_f1,
                found.n_images,
                found.dropped or "none",
            )


def cnn_external(
    model: str, predict: Callable[[np.ndarray], np.ndarray], n_boot: int, seed: int
) -> dict[str, ExternalScores]:
    """A trained CNN (its card written) on every external set, with ``predict`` (uint8 faces ->
    class codes: the stage's 10-crop test path)."""
    sets = load_sets()
    if not sets:
        return {}
    classes = ModelCard.read(paths.model_card(model)).classes
    scores = score_external(sets, classes, predict, n_boot, seed)
    log_scores(model, scores)
    return scores
