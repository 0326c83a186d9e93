"""Stratified k-fold cross-validation over train + dev, augmentation in the training folds only.

The evaluate stage's ``kfold`` protocol (``evaluate.protocol``), beside the test scores: the
faces of train and dev (originals only) are split into ``k`` stratified folds; each fold is held
out once while the model, with the parameters the train stage fitted, is fitted on the other
``k - 1`` folds plus the augmented copies of *their* faces. A copy shares its original's
``row_id`` (:mod:`fer_data.faces`), so the copies of a held-out face are never in that fold's
training part, and held-out folds hold originals only (as dev and test do).

Each fold's fit runs in a :class:`models.worker.BudgetWorker` child, killed at the model's
``fit_timeout_s`` like the train stage's fits; a fold that runs out of time or fails stops the
cross-validation and the record says which fold and why, with no mean or standard deviation.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from features.store import load_xy
from models.records import FoldScores, KFoldScores
from models.registry import build_model
from models.spec import BuildOptions, Reporter
from models.tasks import score
from models.worker import BudgetWorker

PROTOCOL = "stratified k-fold over train + dev faces; augmented copies in training folds only"


@dataclass(frozen=True)
class FoldRows:
    """The rows cross-validation draws from: originals (train, then dev) first, then copies.

    ``x`` float32 (n, d), ``y`` int64 (n,) class codes, ``row_id`` int64 (n,) (a copy shares its
    original's), ``n_faces``: how many leading rows are originals (train + dev faces).
    """

    x: np.ndarray
    y: np.ndarray
    row_id: np.ndarray
    n_faces: int

    @property
    def n_copies(self) -> int:
        return len(self.y) - self.n_faces


def fold_rows(
    features_dir: str | os.PathLike[str], feature_set: str, augmentation: str
) -> FoldRows:
    """Train and dev faces, then the augmented copies of ``augmentation``, from the store.

    Parameters
    ----------
    features_dir : str or os.PathLike
        Root of the feature store (:mod:`features.store`).
    feature_set : str
        One of ``features.names.FEATURE_SETS``.
    augmentation : str
        Augmentation mode whose ``aug_<mode>`` copies may be trained on, or ``"none"``.

    Returns
    -------
    FoldRows
        Train rows, dev rows, then the copies, in store order.

    Raises
    ------
    ValueError
        If a face's ``row_id`` occurs twice among train + dev (the store is inconsistent), or
        as :func:`features.store.load_xy`.
    FileNotFoundError
        As :func:`features.store.load_xy` (a split or feature file missing).
    """
    parts = [load_xy(features_dir, split, feature_set) for split in ("train", "dev")]
    n_faces = sum(len(y) for _, y, _ in parts)
    if augmentation != "none":
        parts.append(load_xy(features_dir, f"aug_{augmentation}", feature_set))
    x = np.vstack([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    row_id = np.concatenate([p[2]["row_id"].to_numpy(np.int64) for p in parts])
    faces = row_id[:n_faces]
    if len(np.unique(faces)) != n_faces:
        raise ValueError(
            f"{features_dir}: train + dev hold {n_faces - len(np.unique(faces))} repeated row_id "
            "values; each face must occur once (rerun the features stage)"
        )
    return FoldRows(x, y, row_id, n_faces)


def kfold_splits(
    y: np.ndarray, row_id: np.ndarray, n_faces: int, k: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (training rows, held-out rows) pairs: faces stratified, copies follow their face.

    The first ``n_faces`` rows (the originals) are split with scikit-learn's
    ``StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)``; a later row (an augmented
    copy) joins a fold's training part exactly when the face it copies (same ``row_id``) is in
    that training part, and is never held out. Copies of no face in the first rows are used by
    no fold.

    Parameters
    ----------
    y : ndarray of shape (n,), int
        Class codes of all rows.
    row_id : ndarray of shape (n,), int64
        Face key of all rows; unique among the first ``n_faces``.
    n_faces : int
        How many leading rows are originals.
    k : int
        Number of folds, at least 2.
    seed : int
        ``random_state`` of the shuffle.

    Returns
    -------
    list of (train, test) tuples
        Sorted int64 row positions: ``train`` (faces and copies), ``test`` (faces only).

    Raises
    ------
    ValueError
        If ``k`` < 2, or some class has fewer than ``k`` faces (a fold would lack it).
    """
    faces = y[:n_faces]
    counts = np.bincount(faces)
    smallest = int(counts[counts > 0].min()) if n_faces else 0
    if k < 2 or smallest < k:
        raise ValueError(
            f"evaluate.folds = {k}: k-fold needs 2 <= k <= the faces of the rarest class in "
            f"train + dev ({smallest})"
        )
    copies = np.arange(n_faces, len(y))
    from sklearn.model_selection import StratifiedKFold  # ~1 s to import: only with kfold

    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    splits = []
    for train, test in splitter.split(np.zeros(n_faces), faces):
        trained_copies = copies[np.isin(row_id[copies], row_id[train])]
        splits.append((np.concatenate([train, trained_copies]).astype(np.int64), test))
    return splits


def fit_score_fold(
    context: Mapping[str, Any],
    reporter: Reporter,
    model: str,
    params: Mapping[str, Any],
    options: BuildOptions,
    train: np.ndarray,
    test: np.ndarray,
) -> dict[str, float]:
    """Fit on ``context["x"][train]``, score on ``[test]``: one fold (a worker task).

    Parameters
    ----------
    context : Mapping
        ``x`` float32 (n, d) and ``y`` int64 (n,): the rows of :func:`fold_rows`.
    reporter : Reporter
        Not used (the fit is the train stage's plain ``fit``).
    model : str
        One of ``models.names.MODEL_NAMES``.
    params : Mapping of str to value
        The fitted hyper-parameters (the train record's).
    options : BuildOptions
        Feature set, acceleration, threads, seed and number of classes.
    train, test : ndarray of int64
        Row positions of the fold's training part and held-out part.

    Returns
    -------
    dict
        ``accuracy`` and ``macro_f1`` (0-1, :func:`models.tasks.score`) of the held-out rows,
        ``fit_seconds`` (wall-clock).
    """
    x, y = context["x"], context["y"]
    pipeline = build_model(model, params, options)
    start = time.perf_counter()
    pipeline.fit(x[train], y[train])
    fit_seconds = time.perf_counter() - start
    predicted = pipeline.predict(x[test])
    return {
        "accuracy": score("accuracy", y[test], predicted),
        "macro_f1": score("macro_f1", y[test], predicted),
        "fit_seconds": fit_seconds,
    }


def summarise(folds: dict[str, FoldScores], record: KFoldScores) -> None:
    """Fill ``record``'s means and sample standard deviations (ddof=1) when every fold ran."""
    if record.status != "ok":
        return
    for metric in ("accuracy", "macro_f1"):
        values = np.array([getattr(f, metric) for f in folds.values()], np.float64)
        setattr(record, f"{metric}_mean", float(values.mean()))
        setattr(record, f"{metric}_sd", float(values.std(ddof=1)))


def cross_validate(
    rows: FoldRows,
    model: str,
    params: Mapping[str, Any],
    options: BuildOptions,
    augmentation: str,
    k: int,
    seed: int,
    fit_timeout_s: float,
    log: logging.Logger | None = None,
) -> KFoldScores:
    """Stratified k-fold scores of one model with fixed parameters, each fit time-boxed.

    Parameters
    ----------
    rows : FoldRows
        From :func:`fold_rows`.
    model : str
        One of ``models.names.MODEL_NAMES``.
    params : Mapping of str to value
        The hyper-parameters the train stage fitted.
    options : BuildOptions
        As the train stage builds the model with.
    augmentation : str
        The augmentation mode of ``rows``' copies (recorded).
    k : int
        Number of folds (``evaluate.folds``).
    seed : int
        Seed of the fold split.
    fit_timeout_s : float
        Wall-clock budget of each fold's fit and prediction, in seconds (the model's
        ``fit_timeout_s``): the fit process is killed past it.
    log : logging.Logger, optional
        Receives a line per fold.

    Returns
    -------
    KFoldScores
        ``ok`` with every fold's accuracy and macro-F1 and their mean and standard deviation;
        ``budget_exceeded`` or ``failed`` (the fold and its error in ``error``; later folds not
        run; no mean) when a fold runs out of time or fails; ``failed`` when the folds cannot
        be drawn (``k`` too large for the data).
    """
    record = KFoldScores(
        status="ok",
        protocol=PROTOCOL,
        k=k,
        seed=seed,
        faces=rows.n_faces,
        augmentation=augmentation,
        augmented_rows=rows.n_copies,
        fit_timeout_s=fit_timeout_s,
        folds={},
    )
    try:
        splits = kfold_splits(rows.y, rows.row_id, rows.n_faces, k, seed)
    except ValueError as exc:
        record.status, record.error = "failed", str(exc)
        return record
    folds: dict[str, FoldScores] = {}
    with BudgetWorker({"x": rows.x, "y": rows.y}) as worker:
        for fold, (train, test) in enumerate(tqdm(splits, desc=f"k-fold {model}", leave=False), 1):
            task = {"model": model, "params": dict(params), "options": options}
            outcome = worker.run(
                fit_score_fold, {**task, "train": train, "test": test}, timeout=fit_timeout_s
            )
            scores = FoldScores(
                status=outcome.report_status, train_rows=len(train), test_rows=len(test)
            )
            if outcome.status == "ok":
                scores.accuracy = outcome.value["accuracy"]
                scores.macro_f1 = outcome.value["macro_f1"]
                scores.fit_seconds = round(outcome.value["fit_seconds"], 3)
            else:
                scores.error = outcome.error
            folds[str(fold)] = scores
            if log is not None:
                log.info(
                    "k-fold %s: fold %d/%d %s%s",
                    model,
                    fold,
                    k,
                    scores.status,
                    f", accuracy {scores.accuracy:.4f}" if scores.accuracy is not None else "",
                )
            if outcome.status != "ok":
                record.status = scores.status
                later = f"; folds {fold + 1}-{k} not run" if fold < k else ""
                record.error = f"fold {fold} of {k}: {outcome.error}{later}"
                break
    record.folds = folds
    summarise(folds, record)
    return record
