"""The evaluate stage's cross-dataset hook: a trained classical model on every external set.

The model's inputs are computed from the faces by its card, exactly as ``ferbench predict`` does
(:meth:`models.predictor.ClassicalPredictor.features`: the features stage's functions with the
card's parameters), then predicted in the fit process with the test split's time budget, as the
test split is (:func:`models.tasks.load_and_predict`).
"""

from __future__ import annotations

import numpy as np

from models import tasks
from models.external import PredictError, score_external
from models.records import ExternalScores
from models.worker import BudgetWorker
from pipeline import paths
from pipeline.external_scoring import load_sets, log_scores


def classical_external(
    model: str, timeout_s: float, n_boot: int, seed: int
) -> dict[str, ExternalScores]:
    """A trained classical model on every external set ({} when there is none)."""
    sets = load_sets()
    if not sets:
        return {}
    # Imported here: the feature extractors (numba, OpenCV) load only when there is a set to score.
    from models.predictor import load_model

    predictor = load_model(paths.model_dir(model))

    def predict(faces: np.ndarray) -> np.ndarray:
        x = predictor.features(np.ascontiguousarray(faces))
        with BudgetWorker() as worker:
            outcome = worker.run(
                tasks.load_and_predict,
                {"path": str(paths.model_file(model)), "x": x},
                timeout=timeout_s,
            )
        if outcome.status != "ok":
            raise PredictError(outcome.report_status, outcome.error or outcome.report_status)
        return outcome.value["predictions"]

    scores = score_external(sets, predictor.classes, predict, n_boot, seed)
    log_scores(model, scores)
    return scores
