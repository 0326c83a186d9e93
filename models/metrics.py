"""Test-set scores in the one format every model (classical or CNN) reports.

:func:`score_predictions` scores PublicTest, PrivateTest and both, each with a bootstrap 95%
interval for accuracy and macro-F1. Everything is computed from confusion matrices, so the point
values equal scikit-learn's ``classification_report`` (``zero_division=0``) on the same
predictions, and a thousand bootstrap resamples cost one ``bincount``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fer_data.faces import EMOTIONS
from models.records import ClassScores, Scores, TestScores

N_CLASSES = len(EMOTIONS)
SUBSETS = {"all": None, "public": "PublicTest", "private": "PrivateTest"}
_BOOT_CHUNK = 100  # resamples per bincount: bounds memory at ~100 x n indices


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """``n_classes`` x ``n_classes`` counts, rows actual, columns predicted.

    Parameters
    ----------
    y_true, y_pred : array_like of shape (n,), int
        Class codes 0 to ``n_classes - 1``.
    n_classes : int
        Size of the label space (7 for FER2013, 8 for FER+).

    Returns
    -------
    ndarray of shape (n_classes, n_classes), int64
        ``cm[i, j]``: rows of true class i predicted as j.

    Raises
    ------
    ValueError
        If a code is negative or not below ``n_classes`` (from ``np.bincount`` or the reshape).
    """
    codes = np.asarray(y_true, np.int64) * n_classes + np.asarray(y_pred, np.int64)
    return np.bincount(codes, minlength=n_classes**2).reshape(n_classes, n_classes)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


def per_class_f1(cm: np.ndarray) -> np.ndarray:
    """Per-class F1 of one (7, 7) or many (b, 7, 7) confusion matrices: 2tp / (2tp + fp + fn)."""
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    return _safe_div(2.0 * tp, cm.sum(axis=-1) + cm.sum(axis=-2))


def _bootstrap(
    codes: np.ndarray, n_boot: int, seed: int, k: int, groups: np.ndarray | None = None
) -> tuple[list[float], list[float]] | tuple[None, None]:
    """95% percentile intervals of accuracy and macro-F1 over ``n_boot`` resamples.

    ``codes``: ``actual * k + predicted`` per row. Without ``groups`` the rows are resampled;
    with ``groups`` (e.g. a subject per row) whole groups are (the cluster bootstrap: images of
    one person are not independent).
    """
    if n_boot == 0:
        return None, None
    rng = np.random.default_rng(seed)
    accuracy, macro_f1 = [], []
    if groups is not None:
        _, group_of = np.unique(groups, return_inverse=True)
        n_groups = int(group_of.max()) + 1
        per_group = np.zeros((n_groups, k * k), np.int64)
        np.add.at(per_group, (group_of, codes), 1)
    for start in range(0, n_boot, _BOOT_CHUNK):
        size = min(_BOOT_CHUNK, n_boot - start)
        if groups is None:
            n = len(codes)
            picks = codes[rng.integers(0, n, size=(size, n))]
            picks += np.arange(size)[:, None] * k**2
            cms = np.bincount(picks.ravel(), minlength=size * k**2).reshape(size, k, k)
        else:
            drawn = rng.integers(0, n_groups, size=(size, n_groups))
            cms = per_group[drawn].sum(axis=1).reshape(size, k, k)
        totals = np.maximum(cms.sum(axis=(1, 2)), 1)
        accuracy.append(np.trace(cms, axis1=1, axis2=2) / totals)
        macro_f1.append(per_class_f1(cms).mean(axis=1))

    def interval(values: list[np.ndarray]) -> list[float]:
        lo, hi = np.percentile(np.concatenate(values), [2.5, 97.5])
        return [float(lo), float(hi)]

    return interval(accuracy), interval(macro_f1)


def score_subset(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    n_boot: int,
    seed: int,
    classes: Sequence[str] = EMOTIONS,
    groups: np.ndarray | None = None,
) -> Scores:
    """Accuracy, balanced accuracy, macro-F1 (with 95% bootstrap intervals), weighted P/R/F1,
    per-class scores and the confusion matrix of int class codes ``y_true``, ``y_pred`` (n,).

    The intervals are bootstrap percentile intervals (Efron & Tibshirani, "An Introduction to the
    Bootstrap", 1993): ``n_boot`` resamples of the n rows with replacement (of whole groups when
    ``groups`` is given: the cluster bootstrap), 2.5th and 97.5th percentiles. Precision, recall
    and F1 of a class with a zero denominator are 0, as scikit-learn's ``zero_division=0``.

    Parameters
    ----------
    y_true, y_pred : ndarray of shape (n,), int
        Class codes 0 to ``len(classes) - 1``, n >= 1 when ``n_boot`` > 0.
    n_boot : int
        Bootstrap resamples; 0 skips the intervals.
    seed : int
        Seed of ``numpy.random.default_rng`` for the resamples.
    classes : sequence of str, default FER2013's seven emotions
        The label space, in code order (FER+ has eight).
    groups : ndarray of shape (n,), optional
        A group (e.g. subject) per row: the bootstrap then resamples groups, not rows.

    Returns
    -------
    Scores
        Every score in [0, 1]; intervals as ``[low, high]`` or None when ``n_boot`` is 0;
        per-class scores keyed by emotion name; the confusion matrix as nested lists of int.

    Raises
    ------
    ValueError
        If a code is outside the label space, or ``n_boot`` > 0 with no rows.
    """
    k = len(classes)
    cm = confusion(y_true, y_pred, k)
    support = cm.sum(axis=1)
    tp = np.diag(cm)
    precision = _safe_div(tp, cm.sum(axis=0))
    recall = _safe_div(tp, support)
    f1 = per_class_f1(cm)
    weights = support / max(support.sum(), 1)
    codes = np.asarray(y_true, np.int64) * k + np.asarray(y_pred, np.int64)
    acc_ci, f1_ci = _bootstrap(codes, n_boot, seed, k, groups)
    return Scores(
        n=len(y_true),
        accuracy=float(tp.sum() / max(len(y_true), 1)),
        accuracy_ci95=acc_ci,
        # Like scikit-learn: the mean recall over the classes that occur in y_true.
        balanced_accuracy=float(recall[support > 0].mean()) if support.any() else 0.0,
        macro_f1=float(f1.mean()),
        macro_f1_ci95=f1_ci,
        weighted_precision=float(weights @ precision),
        weighted_recall=float(weights @ recall),
        weighted_f1=float(weights @ f1),
        per_class={
            name: ClassScores(
                precision=float(precision[k]),
                recall=float(recall[k]),
                f1=float(f1[k]),
                support=int(support[k]),
            )
            for k, name in enumerate(classes)
        },
        confusion_matrix=cm.tolist(),
    )


def score_predictions(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    usage: np.ndarray,
    n_boot: int = 1000,
    seed: int = 0,
    classes: Sequence[str] = EMOTIONS,
    groups: np.ndarray | None = None,
    clean: np.ndarray | None = None,
) -> TestScores:
    """Scores for ``all`` test rows, ``public`` (PublicTest) and ``private`` (PrivateTest), and
    ``clean``: all rows with no copy in the training images, when ``clean`` marks them.

    ``y_true``, ``y_pred``: int class codes 0-6 of shape (n,); ``usage``: str (n,). A subset with
    no rows (e.g. a test split without PrivateTest) scores ``None``.

    Parameters
    ----------
    y_true, y_pred : array_like of shape (n,), int
        True and predicted class codes 0-6.
    usage : array_like of shape (n,), str
        ``"PublicTest"`` or ``"PrivateTest"`` per row (other values count in ``all`` only).
    n_boot : int, default 1000
        Bootstrap resamples per subset (see :func:`score_subset`); 0 skips the intervals.
    seed : int, default 0
        Seed of the ``all`` subset's resamples; ``public`` and ``private`` use seed + 1, + 2.
    classes : sequence of str, default FER2013's seven emotions
        The label space, in code order.
    groups : array_like of shape (n,), optional
        A group (subject) per row for the cluster bootstrap (see :func:`score_subset`).
    clean : array_like of shape (n,), bool, optional
        True for the rows without an exact or near copy in train + dev
        (:func:`fer_data.duplicates.clean_mask`); their scores use seed + 3. None leaves
        ``clean`` out of the result.

    Returns
    -------
    TestScores
        :func:`score_subset` of ``all``, ``public``, ``private`` and (given ``clean``) ``clean``;
        a subset without rows is None.

    Raises
    ------
    ValueError
        The arrays differ in length, or a code lies outside 0-6.
    """
    y_true, y_pred, usage = np.asarray(y_true), np.asarray(y_pred), np.asarray(usage)
    if not len(y_true) == len(y_pred) == len(usage):
        raise ValueError(
            f"lengths differ: {len(y_true)} labels, {len(y_pred)} predictions, {len(usage)} usages"
        )
    k = len(classes)
    if len(y_true) and (
        min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= k
    ):
        raise ValueError(f"labels and predictions must lie in 0..{k - 1}")
    groups = None if groups is None else np.asarray(groups)
    masks = {
        key: np.ones(len(usage), bool) if value is None else usage == value
        for key, value in SUBSETS.items()
    }
    if clean is not None:
        masks["clean"] = np.asarray(clean, bool)
        if len(masks["clean"]) != len(usage):
            raise ValueError(f"lengths differ: {len(usage)} rows, {len(clean)} clean flags")
    scores = {}
    for offset, (key, mask) in enumerate(masks.items()):
        scores[key] = (
            score_subset(
                y_true[mask],
                y_pred[mask],
                n_boot,
                seed + offset,
                classes,
                None if groups is None else groups[mask],
            )
            if mask.any()
            else None
        )
    return TestScores(**scores)
