"""The report's "Cross-dataset" section: every model on each external test set.

Reads what the stages wrote: each model's ``external`` scores (``metrics/models/<model>.json``)
and what the external stage read of each set (``data/external/manifest.json``). Nothing is
computed here but the drop from the FER2013 test accuracy, so the section can never disagree with
``dvc metrics show``.
"""

from __future__ import annotations

from typing import Any

from fer_data.external import ExternalManifest
from models.records import ExternalScores
from reports.inputs import ModelRun


def _row(run: ModelRun, found: ExternalScores | None) -> dict[str, Any]:
    scores = None if found is None else found.scores
    test = run.score("accuracy")
    return {
        "name": run.name,
        "kind": run.kind,
        "status": "not scored" if found is None else found.status,
        "error": None if found is None else found.error,
        "scores": scores,
        "test_accuracy": test,
        # Percentage points lost (negative) or gained moving from FER2013's test split.
        "change_pp": None if scores is None or test is None else 100 * (scores.accuracy - test),
        "n_images": None if found is None else found.n_images,
        "n_subjects": None if found is None else found.n_subjects,
        "bootstrap": None if found is None else found.bootstrap,
        "dropped": {} if found is None else found.dropped,
    }


def _counted(counts: dict[str, int]) -> str:
    """``"3: a 2; b 1"``: the total, then each key's count."""
    total = sum(counts.values())
    return f"{total:,}" + (
        ": " + "; ".join(f"{k} {v:,}" for k, v in counts.items()) if total else ""
    )


def section(
    ranked: list[ModelRun], manifest: ExternalManifest | None, configured: list[str]
) -> dict[str, Any] | None:
    """Per configured set: what was read, and one row per model (best accuracy first).

    Parameters
    ----------
    ranked : list of ModelRun
        The models in leaderboard order.
    manifest : ExternalManifest or None
        ``data/external/manifest.json`` (None: the external stage has not run).
    configured : list of str
        The names in ``evaluate.external``; none: no section (None).

    Returns
    -------
    dict or None
        ``sets``: for each set its name, the manifest entry (or None) and its model rows; each
        row's per-class F1 by class name is ``row.scores.per_class``.
    """
    if not configured:
        return None
    sets = []
    for name in configured:
        rows = [_row(run, run.metrics.external.get(name)) for run in ranked]
        rows.sort(key=lambda r: -1.0 if r["scores"] is None else -r["scores"].accuracy)
        scored = [r for r in rows if r["scores"] is not None]
        classes = list(scored[0]["scores"].per_class) if scored else []
        info = None if manifest is None else manifest.sets.get(name)
        sets.append(
            {
                "name": name,
                "info": info,
                "rows": rows,
                "classes": classes,
                "rejected": None if info is None else _counted(info.rejected_by_reason),
                "mapped_to_null": None if info is None else _counted(info.dropped_by_label_map),
            }
        )
    return {"sets": sets}


def leaderboard_entries(run: ModelRun) -> dict[str, dict[str, float]]:
    """Accuracy and macro-F1 per external set (for ``metrics/leaderboard.json``)."""
    return {
        name: {"accuracy": found.scores.accuracy, "macro_f1": found.scores.macro_f1}
        for name, found in run.metrics.external.items()
        if found.scores is not None
    }
