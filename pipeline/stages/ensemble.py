"""Stage ``ensemble``: stack the members' per-class scores with a meta-learner tuned on dev only.

Reads each member's dev scores from a fit that never saw dev (``artifacts/models/<model>/
dev_scores.npz``: the train stage's fit on the training rows alone, a CNN's dev-chosen weights) and
the test scores of that same fit (``artifacts/scores/<model>/test.npz``: with ``train.refit_on_dev``
not the saved refit, whose scores the meta-learner never saw; nor a CNN's fine-tune on train + dev),
the test rows' labels and halves (``data/features/test``, in the order of the evaluate stage's
predictions). Fits :mod:`models.ensemble` (C chosen by stratified k-fold on dev) and writes, like
every model: ``metrics/models/ensemble.json`` (:class:`models.records.ModelMetrics`; ``params``
names the members, the skipped ones with why, the chosen C, the out-of-fold dev accuracy and each
member's dev accuracy) and ``results/plots/confusion/ensemble.csv`` (one ``actual,predicted`` row
per test image).

Members are ``ensemble.members``: ``all`` (the zoo and the CNNs of ``cnn.archs``) or a list. A
member without both scores files (disabled, failed, timed out, or scored before this code), or whose
two files come from different fits, is skipped and named; with no member left the metrics say
``failed`` and the stage still succeeds, like a model whose training failed. With
``ensemble.selection: forward`` the stack keeps only the members that raise its out-of-fold dev
accuracy (:func:`models.ensemble.select_forward`); ``params.members`` are the stacked ones and
``params.selection`` holds each step and the members left out with their accuracy.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from features.store import load_rows
from fer_data.duplicates import clean_mask
from fer_data.errors import DataError
from fer_data.logs import get_logger, log_read, log_wrote, stage
from fer_data.records import DataSource
from models.cnn.names import model_name
from models.devscore import dev_scores
from models.ensemble import Selection, align, fit_stack, member_predictions, select_forward
from models.member_scores import ClassScores, load_scores
from models.metrics import score_predictions
from models.names import ENSEMBLE_NAME, MODEL_NAMES
from models.records import ModelMetrics, TrainRecord
from pipeline import paths
from pipeline.params import Params
from pipeline.runner import run_stage
from reports.predictions import write_predictions


def candidates(params: Params) -> list[str]:
    """The members ``ensemble.members`` asks for, in the leaderboard's order."""
    wanted = params.ensemble.members
    if wanted != "all":
        return list(wanted)
    return [*MODEL_NAMES, *(model_name(arch) for arch in params.cnn.archs)]


def why_missing(model: str) -> str:
    """Why a member has no scores files: its training status where it has a record."""
    if model in MODEL_NAMES:
        record = TrainRecord.read_optional(paths.train_record(model))
        if record is None:
            return "not trained (no train.json)"
        if record.status != "ok":
            return f"train {record.status}"
        if not paths.dev_scores(model).exists():
            return "no dev scores (no dev split, or trained before dev scores were saved)"
        return f"no test scores (evaluate did not score it: see {paths.metrics(model)})"
    if not paths.dev_scores(model).exists():
        return "no dev scores (the CNN stage did not finish)"
    return "no test scores (the CNN stage did not finish)"


def gather(
    models: list[str], dev_rows: np.ndarray | None, test_rows: np.ndarray
) -> tuple[dict[str, tuple[ClassScores, ClassScores]], dict[str, str]]:
    """Each usable member's (dev, test) scores, aligned; and the skipped ones with why."""
    members, skipped = {}, {}
    for model in models:
        dev_path, test_path = paths.dev_scores(model), paths.test_scores(model)
        if not dev_path.exists() or not test_path.exists():
            skipped[model] = why_missing(model)
            continue
        dev, test = load_scores(dev_path), load_scores(test_path)
        log_read(dev_path, f"{dev.kind} scores of {len(dev.row_id)} dev rows ({dev.fitted_on})")
        log_read(test_path, f"{test.kind} scores of {len(test.row_id)} test rows")
        if test.fitted_on != dev.fitted_on:  # weights learnt on one fit suit no other
            skipped[model] = (
                f"its test scores come from another fit ({test.fitted_on}) than its dev scores "
                f"({dev.fitted_on}): rerun its evaluate (or cnn) stage"
            )
            continue
        if dev_rows is None:
            dev_rows = np.sort(dev.row_id)
        dev, test = align(dev, dev_rows), align(test, test_rows)
        if dev is None or test is None:
            which = "dev" if dev is None else "test"
            skipped[model] = f"its {which} rows are not the other members' (or the test table's)"
            continue
        members[model] = (dev, test)
    return members, skipped


def selection_record(names: list[str], kept: Selection) -> dict:
    """``params.selection`` of the metrics: the rule, each step, the members left out."""
    return {
        "rule": "forward: add the member that raises the out-of-fold dev accuracy most, "
        "until none raises it",
        "steps": [{"added": names[i], "dev_oof_accuracy": round(a, 4)} for i, a in kept.steps],
        "left_out": {names[i]: round(a, 4) for i, a in kept.rejected.items()},
    }


def run(params: Params) -> ModelMetrics:
    log = get_logger()
    cfg = params.ensemble
    data = DataSource.read(paths.SOURCE_FILE)
    test_table = load_rows(paths.FEATURES_DIR, "test")
    log_read(paths.FEATURES_DIR / "test", f"{len(test_table)} test rows")
    test_rows = test_table["row_id"].to_numpy(np.int64)
    test_labels = test_table["emotion"].to_numpy(np.int64)
    members, skipped = gather(candidates(params), None, test_rows)
    for model, why in skipped.items():
        log.warning("ensemble: skipping %s: %s", model, why)
    metrics = ModelMetrics(
        data=data,
        model=ENSEMBLE_NAME,
        feature_set="stacked",
        augmentation="none",
        params={"members": list(members), "skipped": skipped},
        fit_seconds=None,
        model_bytes=None,
        predict_ms_per_image=None,
        test=None,
        status="failed",
    )
    y_true = y_pred = np.zeros(0, np.int64)
    if not members:
        metrics.error = "no member has dev and test scores: " + "; ".join(
            f"{m}: {why}" for m, why in skipped.items()
        )
    else:
        dev = [d for d, _ in members.values()]
        test = [t for _, t in members.values()]
        y_dev = dev[0].labels
        for model, (d, t) in members.items():
            if not np.array_equal(t.labels, test_labels):
                raise DataError(
                    f"{paths.test_scores(model)}: its labels are not those of the test rows "
                    f"({paths.FEATURES_DIR / 'test'}): rerun its evaluate (or cnn) stage"
                )
            if not np.array_equal(d.labels, y_dev):
                raise DataError(f"{paths.dev_scores(model)}: its dev labels are not the others'")
        member_dev = {
            m: round(dev_scores(y_dev, member_predictions(d))["accuracy"], 4)
            for m, (d, _) in members.items()
        }
        start = time.perf_counter()
        cv = None  # the chosen members' cross-validation, when selection already ran it
        try:
            if cfg.selection == "forward":
                names = list(members)
                kept = select_forward(dev, cfg.c_grid, cfg.cv_folds, cfg.max_iter, params.seed)
                cv = kept.cv
                metrics.params["selection"] = selection_record(names, kept)
                metrics.params["members"] = [names[i] for i in kept.chosen]
                dev = [dev[i] for i in kept.chosen]
                test = [test[i] for i in kept.chosen]
                log.info(
                    "ensemble: forward selection kept %s of %d members (left out: %s)",
                    ", ".join(metrics.params["members"]),
                    len(names),
                    ", ".join(metrics.params["selection"]["left_out"]) or "none",
                )
            result = fit_stack(
                dev,
                test,
                cfg.c_grid,
                cfg.cv_folds,
                cfg.max_iter,
                params.seed,
                len(data.classes),
                cv=cv,
            )
        except ValueError as exc:
            raise DataError(f"ensemble: {exc} ({len(y_dev)} dev rows)") from None
        seconds = time.perf_counter() - start
        oof = dev_scores(y_dev, result.dev_oof)
        metrics.params.update(
            {
                "meta_learner": "multinomial LogisticRegression (lbfgs) on standardised scores",
                "inputs": {m: d.kind for m, (d, _) in members.items()},
                "C": result.c,
                "cv_folds": result.folds,
                "cv_accuracy_by_C": {str(c): round(a, 4) for c, a in result.cv_accuracy.items()},
                "dev_rows": len(y_dev),
                "dev_oof_accuracy": round(oof["accuracy"], 4),
                "dev_oof_macro_f1": round(oof["macro_f1"], 4),
                "member_dev_accuracy": member_dev,
            }
        )
        y_true, y_pred = test_labels, result.test_pred
        metrics.fit_seconds = round(seconds, 3)
        metrics.test = score_predictions(
            y_true,
            y_pred,
            test_table["usage"].to_numpy(str),
            params.evaluate.n_boot,
            params.seed,
            classes=data.classes,
            clean=clean_mask(paths.DUPLICATES_TABLE, test_table["row_id"].to_numpy()),
        )
        metrics.status = "ok"
        best = max(member_dev, key=member_dev.get)
        log.info(
            "ensemble of %d (%s): C=%g; dev out-of-fold accuracy %.4f (best member %s %.4f)",
            len(metrics.params["members"]),
            ", ".join(metrics.params["members"]),
            result.c,
            oof["accuracy"],
            best,
            member_dev[best],
        )
    if metrics.status != "ok":
        log.error("!!! ensemble: %s: %s", metrics.status, metrics.error)
    path = write_predictions(paths.confusion(ENSEMBLE_NAME), y_true, y_pred, data.classes)
    log_wrote(path, f"{len(y_true)} predictions")
    log_wrote(metrics.write(paths.metrics(ENSEMBLE_NAME)))
    return metrics


def main(params: Params) -> None:
    with stage("ensemble") as log:
        metrics = run(params)
        if metrics.ok:
            scores = metrics.test.all
            log.info(
                "ensemble: test accuracy %.4f (95%% CI %s), macro-F1 %.4f",
                scores.accuracy,
                scores.accuracy_ci95,
                scores.macro_f1,
            )


def cli(argv: list[str] | None = None) -> int:
    return run_stage("ensemble", main, argv)


if __name__ == "__main__":
    sys.exit(cli())
