"""`score_predictions` against scikit-learn on the same predictions, and its bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
)

from fer_data.faces import EMOTIONS
from models.devscore import dev_scores
from models.metrics import score_predictions

LABELS = list(range(len(EMOTIONS)))


@pytest.fixture(scope="module")
def predictions(
    real_faces: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Real labels, noisy predictions (right 55% of the time, never Disgust), alternating usages."""
    _, y_true = real_faces
    rng = np.random.default_rng(0)
    y_pred = np.where(rng.random(len(y_true)) < 0.55, y_true, rng.integers(0, 7, len(y_true)))
    y_pred[y_pred == 1] = 6
    usage = np.where(np.arange(len(y_true)) % 2 == 0, "PublicTest", "PrivateTest")
    return y_true, y_pred, usage


def _check_against_sklearn(scores: dict, y_true: np.ndarray, y_pred: np.ndarray) -> None:
    report = classification_report(
        y_true,
        y_pred,
        labels=LABELS,
        target_names=list(EMOTIONS),
        output_dict=True,
        zero_division=0,
    )
    assert scores["n"] == len(y_true)
    assert scores["accuracy"] == pytest.approx(np.mean(y_true == y_pred))
    assert scores["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert scores["macro_f1"] == pytest.approx(report["macro avg"]["f1-score"])
    assert scores["weighted_precision"] == pytest.approx(report["weighted avg"]["precision"])
    assert scores["weighted_recall"] == pytest.approx(report["weighted avg"]["recall"])
    assert scores["weighted_f1"] == pytest.approx(report["weighted avg"]["f1-score"])
    for name in EMOTIONS:
        mine, theirs = scores["per_class"][name], report[name]
        assert mine["precision"] == pytest.approx(theirs["precision"])
        assert mine["recall"] == pytest.approx(theirs["recall"])
        assert mine["f1"] == pytest.approx(theirs["f1-score"])
        assert mine["support"] == theirs["support"]
    assert scores["confusion_matrix"] == confusion_matrix(y_true, y_pred, labels=LABELS).tolist()


def test_scores_match_scikit_learn_for_all_public_and_private(predictions) -> None:
    y_true, y_pred, usage = predictions
    scores = score_predictions(y_true, y_pred, usage, n_boot=200, seed=1).to_json()
    _check_against_sklearn(scores["all"], y_true, y_pred)
    for key, name in (("public", "PublicTest"), ("private", "PrivateTest")):
        mask = usage == name
        _check_against_sklearn(scores[key], y_true[mask], y_pred[mask])
    assert scores["all"]["per_class"]["Disgust"]["precision"] == 0.0  # never predicted: 0, not NaN


def test_bootstrap_intervals_contain_the_point_estimate_and_are_reproducible(predictions) -> None:
    y_true, y_pred, usage = predictions
    scores = score_predictions(y_true, y_pred, usage, n_boot=500, seed=7).to_json()
    for subset in ("all", "public", "private"):
        s = scores[subset]
        for point, interval in (
            (s["accuracy"], s["accuracy_ci95"]),
            (s["macro_f1"], s["macro_f1_ci95"]),
        ):
            lo, hi = interval
            assert lo <= point <= hi
            assert 0 < hi - lo < 0.2
    # Fewer rows, wider interval.
    width = lambda s: s["accuracy_ci95"][1] - s["accuracy_ci95"][0]  # noqa: E731
    assert width(scores["public"]) > width(scores["all"])
    again = score_predictions(y_true, y_pred, usage, n_boot=500, seed=7).to_json()
    assert again == scores


def test_no_bootstrap_and_missing_subsets() -> None:
    y = np.array([0, 1, 2, 3, 3, 6])
    scores = score_predictions(y, y, np.array(["PublicTest"] * 6), n_boot=0).to_json()
    assert scores["private"] is None
    assert scores["all"]["accuracy"] == 1.0 and scores["all"]["accuracy_ci95"] is None
    # Classes absent from y_true do not count in balanced accuracy (as in scikit-learn).
    assert scores["all"]["balanced_accuracy"] == 1.0


@pytest.mark.parametrize(
    ("y_true", "y_pred", "usage", "message"),
    [
        ([0, 1], [0], ["PublicTest"] * 2, "lengths differ"),
        ([0, 7], [0, 1], ["PublicTest"] * 2, "0..6"),
        ([0, -1], [0, 1], ["PublicTest"] * 2, "0..6"),
    ],
)
def test_bad_input_is_rejected(y_true, y_pred, usage, message) -> None:
    with pytest.raises(ValueError, match=message):
        score_predictions(np.array(y_true), np.array(y_pred), np.array(usage), n_boot=10)


def test_an_eight_class_space_and_the_subject_bootstrap() -> None:
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 8, 400)
    y_pred = np.where(rng.random(400) < 0.6, y_true, rng.integers(0, 8, 400))
    usage = np.array(["PublicTest"] * 400)
    classes = [f"c{k}" for k in range(8)]
    scores = score_predictions(y_true, y_pred, usage, 300, 1, classes)
    assert list(scores.all.per_class) == classes and len(scores.all.confusion_matrix) == 8
    with pytest.raises(ValueError, match=r"0\.\.7"):
        score_predictions(np.array([8]), np.array([0]), usage[:1], 0, 0, classes)
    # Ten subjects of 40 images each: resampling subjects widens the interval (the images of one
    # subject are not independent when the subject's faces are all easy or all hard).
    subject = np.repeat(np.arange(10), 40)
    hard = subject < 5
    y_pred_sub = np.where(hard, (y_true + 1) % 8, y_true)  # five subjects all wrong, five all right
    by_row = score_predictions(y_true, y_pred_sub, usage, 500, 1, classes).all
    by_subject = score_predictions(y_true, y_pred_sub, usage, 500, 1, classes, subject).all
    assert by_row.accuracy == by_subject.accuracy == 0.5
    width = lambda s: s.accuracy_ci95[1] - s.accuracy_ci95[0]  # noqa: E731
    assert width(by_subject) > 3 * width(by_row)


def test_dev_scores_equal_scikit_learns_accuracy_and_macro_f1() -> None:
    rng = np.random.default_rng(7)
    for n, k in [(50, 7), (9, 7), (30, 3), (1, 1)]:  # few rows: some classes absent from both
        y_true, y_pred = rng.integers(0, k, n), rng.integers(0, k, n)
        scores = dev_scores(y_true, y_pred)
        assert scores["n"] == n
        assert scores["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)
        f1 = f1_score(y_true, y_pred, average="macro", zero_division=0)
        assert scores["macro_f1"] == pytest.approx(f1, abs=1e-12)
