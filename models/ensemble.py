"""Stacking: a multinomial logistic regression on the members' per-class scores, tuned on dev only.

Stacked generalisation (Wolpert, "Stacked generalization", Neural Networks 5(2), 1992): a
meta-learner learns to combine the base models' predictions on rows the base models never saw.
Here those rows are the dev split: every member scored dev from a fit on train alone
(:mod:`models.member_scores`), so the meta-learner (scikit-learn's ``LogisticRegression``,
multinomial with the lbfgs solver, on standardised inputs) is trained on dev, its ``C`` chosen by
stratified k-fold cross-validation on dev, whose out-of-fold predictions give the ensemble's own
dev score. It is then fitted on all of dev and applied to the members' test scores. Test is never
looked at before that.

Which members: with ``selection="forward"`` (:func:`select_forward`), greedy forward selection on
the same out-of-fold dev accuracy (Caruana et al., "Ensemble selection from libraries of models",
ICML 2004, applied to the stacker's inputs): start from nothing, add the member whose scores raise
it most, stop when none raises it. A weak member (a classical model whose dev scores come from a
fit on a training subsample) then cannot drag the stack below its best member.

Inputs per member: log-probabilities (clipped at :data:`MIN_PROBABILITY`) for members with class
probabilities, the ``ovr`` decision values as they are for the others (the RBF-SVM).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from models.member_scores import ClassScores

MIN_PROBABILITY = 1e-6  # log(0) is -inf: a probability of 0 counts as this


def member_inputs(scores: ClassScores) -> np.ndarray:
    """One member's meta-learner inputs, float64 (n, n_classes).

    ``probability`` scores as ``log(max(p, 1e-6))``; ``ovr_decision`` values as they are, a class
    the member never saw in training (NaN) as the lowest value of that member's scores.
    """
    if scores.kind == "probability":
        return np.log(np.clip(scores.scores.astype(np.float64), MIN_PROBABILITY, 1.0))
    values = scores.scores.astype(np.float64)
    finite = values[np.isfinite(values)]
    low = float(finite.min()) if finite.size else 0.0
    return np.where(np.isfinite(values), values, low)


def member_predictions(scores: ClassScores) -> np.ndarray:
    """The class each row's largest score names, int64 (n,) (NaN scores never win)."""
    values = np.where(np.isfinite(scores.scores), scores.scores, -np.inf)
    return values.argmax(axis=1).astype(np.int64)


def align(scores: ClassScores, row_id: np.ndarray) -> ClassScores | None:
    """``scores`` reordered to ``row_id`` (int64 (n,)); None when its rows are not those rows."""
    if len(scores.row_id) != len(row_id) or len(np.unique(scores.row_id)) != len(row_id):
        return None
    position = {int(r): i for i, r in enumerate(scores.row_id)}
    try:
        order = np.array([position[int(r)] for r in row_id], np.int64)
    except KeyError:
        return None
    return ClassScores(
        scores.scores[order], row_id, scores.labels[order], scores.kind, scores.fitted_on
    )


@dataclass(frozen=True)
class StackResult:
    """What :func:`fit_stack` chose and predicted."""

    c: float  # the meta-learner's inverse regularisation strength, chosen on dev
    folds: int  # stratified folds on dev
    cv_accuracy: dict[float, float]  # C -> out-of-fold dev accuracy
    dev_oof: np.ndarray  # int64 (n_dev,): out-of-fold dev predictions at the chosen C
    test_pred: np.ndarray  # int64 (n_test,): the meta-learner fitted on all dev, on test
    test_proba: np.ndarray  # float32 (n_test, n_classes)
    meta: Pipeline  # the meta-learner fitted on all of dev


def meta_learner(c: float, max_iter: int, seed: int) -> Pipeline:
    """Standardise the stacked scores, then a multinomial logistic regression (lbfgs)."""
    return make_pipeline(
        StandardScaler(), LogisticRegression(C=c, max_iter=max_iter, random_state=seed)
    )


def fit_stack(
    dev: Sequence[ClassScores],
    test: Sequence[ClassScores],
    c_grid: Sequence[float],
    folds: int,
    max_iter: int,
    seed: int,
    n_classes: int,
    cv: DevCV | None = None,
) -> StackResult:
    """Choose ``C`` by stratified k-fold on dev, fit on all of dev, predict test.

    Parameters
    ----------
    dev, test : sequences of ClassScores
        Each member's scores on dev (from a fit that never saw dev) and on test, in the same
        member order; the dev ones aligned row by row (:func:`align`), as are the test ones.
    c_grid : sequence of float
        Candidate ``C`` (> 0); ties go to the smallest (the most regularised).
    folds : int
        Stratified folds on dev (shuffled with ``seed``); lowered to the smallest class's dev
        rows when that is fewer (at least 2).
    max_iter : int
        lbfgs iterations.
    seed : int
    n_classes : int
        Classes of the label space; ``test_proba`` has a column per class (0 for a class
        absent from dev).
    cv : DevCV, optional
        The cross-validation of these very members (:attr:`Selection.cv`), so it is not run
        again; by default it is run here.

    Returns
    -------
    StackResult

    Raises
    ------
    ValueError
        No member, or a dev class with a single row (no two folds can hold it).
    """
    if not dev:
        raise ValueError("no member to stack")
    x_dev = np.hstack([member_inputs(s) for s in dev])
    x_test = np.hstack([member_inputs(s) for s in test])
    if cv is None:
        cv = cross_validate_stack(x_dev, dev[0].labels, c_grid, folds, max_iter, seed)
    meta = meta_learner(cv.c, max_iter, seed).fit(x_dev, dev[0].labels)
    proba = np.zeros((len(x_test), n_classes), np.float32)
    proba[:, meta.classes_] = meta.predict_proba(x_test)
    return StackResult(
        c=cv.c,
        folds=cv.folds,
        cv_accuracy=cv.accuracy_by_c,
        dev_oof=cv.oof,
        test_pred=np.asarray(meta.predict(x_test), np.int64),
        test_proba=proba,
        meta=meta,
    )


@dataclass(frozen=True)
class DevCV:
    """The meta-learner's stratified k-fold on dev for one set of members."""

    c: float  # the C with the best out-of-fold accuracy (ties: the smallest)
    folds: int
    accuracy_by_c: dict[float, float]  # C -> out-of-fold dev accuracy
    oof: np.ndarray  # int64 (n_dev,): out-of-fold predictions at ``c``

    @property
    def accuracy(self) -> float:
        return self.accuracy_by_c[self.c]


def cross_validate_stack(
    x_dev: np.ndarray,
    y: np.ndarray,
    c_grid: Sequence[float],
    folds: int,
    max_iter: int,
    seed: int,
) -> DevCV:
    """Out-of-fold dev accuracy of the meta-learner on stacked inputs ``x_dev`` (n_dev, k), per
    ``C``; ``y`` int64 (n_dev,) the dev labels.

    The folds depend on the labels and ``seed`` alone, so every set of members is cut the same
    way. Raises ``ValueError`` for a dev class with a single row.
    """
    smallest = int(np.bincount(y)[np.unique(y)].min())
    if smallest < 2:
        raise ValueError("a class has a single dev row: stratified folds need two")
    folds = min(folds, smallest)
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    accuracy, oof = {}, {}
    for c in sorted(c_grid):
        predicted = cross_val_predict(meta_learner(c, max_iter, seed), x_dev, y, cv=split)
        oof[c] = np.asarray(predicted, np.int64)
        accuracy[float(c)] = float(np.mean(oof[c] == y))
    best = max(sorted(accuracy), key=lambda c: (accuracy[c], -c))
    return DevCV(c=best, folds=folds, accuracy_by_c=accuracy, oof=oof[best])


@dataclass(frozen=True)
class Selection:
    """What :func:`select_forward` kept, and how the out-of-fold dev accuracy grew."""

    chosen: list[int]  # indices into the candidates, in the order they were added
    steps: list[tuple[int, float]]  # (index added, out-of-fold dev accuracy with it)
    rejected: dict[int, float]  # every other index: the accuracy the last round gave it
    cv: DevCV  # the cross-validation of the chosen members (for :func:`fit_stack`)


def select_forward(
    dev: Sequence[ClassScores], c_grid: Sequence[float], folds: int, max_iter: int, seed: int
) -> Selection:
    """Greedy forward selection of members by the stack's out-of-fold dev accuracy.

    Each round cross-validates (:func:`cross_validate_stack`, ``C`` chosen per set) every
    set made of the members kept so far plus one more, and keeps the best; it stops when the
    best no longer beats the previous round strictly, or no member is left. Ties go to the
    candidate listed first. Test is never read. Dev accuracy after selection is optimistic (the
    members were chosen on the same folds); test is the honest score.

    Parameters
    ----------
    dev : sequence of ClassScores
        Each candidate's dev scores, aligned row by row.
    c_grid, folds, max_iter, seed
        As :func:`fit_stack`.

    Returns
    -------
    Selection
        At least one member.

    Raises
    ------
    ValueError
        No candidate, or a dev class with a single row.
    """
    if not dev:
        raise ValueError("no member to stack")
    y = dev[0].labels
    inputs = [member_inputs(s) for s in dev]  # once per member, not per candidate set
    chosen: list[int] = []
    steps: list[tuple[int, float]] = []
    kept: DevCV | None = None
    last_round: dict[int, DevCV] = {}
    while len(chosen) < len(dev):
        last_round = {
            i: cross_validate_stack(
                np.hstack([inputs[j] for j in (*chosen, i)]), y, c_grid, folds, max_iter, seed
            )
            for i in range(len(dev))
            if i not in chosen
        }
        pick = max(last_round, key=lambda i: (last_round[i].accuracy, -i))
        if kept is not None and last_round[pick].accuracy <= kept.accuracy:
            break
        chosen.append(pick)
        kept = last_round[pick]
        steps.append((pick, kept.accuracy))
    rejected = {i: cv.accuracy for i, cv in last_round.items() if i not in chosen}
    return Selection(chosen=chosen, steps=steps, rejected=rejected, cv=kept)
