"""The report's building blocks: McNemar and Holm, the parameter diff, alignment, face sampling."""

from __future__ import annotations

import subprocess
from math import comb
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fer_data.faces import EMOTIONS
from pipeline.params import ParamsError, parse_params
from pipeline.params_diff import baseline_params, changed_params
from reports import mcnemar
from reports.gallery import spread_sample
from reports.predictions import AlignmentError, read_predictions
from reports.render import interval, pct, size, sort_value
from tests.stage_helpers import merged_raw, validated


def test_exact_mcnemar_is_the_two_sided_binomial_tail_of_the_discordant_pairs() -> None:
    # 10 images only A gets right, 2 only B: p = 2 * P(X <= 2), X ~ Binomial(12, 1/2).
    expected = 2 * sum(comb(12, k) for k in range(3)) / 2**12
    assert mcnemar.exact_p_value(10, 2) == pytest.approx(expected)
    assert mcnemar.exact_p_value(2, 10) == pytest.approx(expected)
    assert mcnemar.exact_p_value(0, 0) == 1.0
    assert mcnemar.exact_p_value(5, 5) == 1.0


@pytest.mark.parametrize(("a", "b"), [(0, 7), (40, 61), (1500, 1620), (900, 1200)])
def test_exact_mcnemar_matches_scipys_binomial_test(a: int, b: int) -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    expected = scipy_stats.binomtest(a, a + b, 0.5).pvalue
    assert mcnemar.exact_p_value(a, b) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_holm_adjusts_in_input_order_and_stays_monotone() -> None:
    # Sorted: 0.005*4, 0.01*3, 0.03*2, then 0.04*1 lifted to the running maximum 0.06.
    assert mcnemar.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert mcnemar.holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])


def test_pairwise_counts_discordant_images_and_names_the_better_model() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 7, 2000)
    good = np.where(rng.random(2000) < 0.8, y, (y + 1) % 7)
    bad = np.where(rng.random(2000) < 0.5, y, (y + 2) % 7)
    tests = mcnemar.pairwise(y, {"good": good, "bad": bad, "same": good.copy()}, alpha=0.05)
    by_pair = {(t.a, t.b): t for t in tests}
    assert set(by_pair) == {("good", "bad"), ("good", "same"), ("bad", "same")}
    gb = by_pair[("good", "bad")]
    assert gb.only_a_right == int(np.sum((good == y) & (bad != y)))
    assert gb.only_b_right == int(np.sum((bad == y) & (good != y)))
    assert gb.significant and gb.better == "good" and gb.p_holm >= gb.p_value
    same = by_pair[("good", "same")]
    assert (same.only_a_right, same.only_b_right, same.significant, same.better) == (
        0,
        0,
        False,
        None,
    )


def test_no_changes_and_restating_a_builtin_default_is_not_one() -> None:
    base = validated()
    assert changed_params(base, base) == []
    from models.registry import get_spec

    raw = merged_raw()
    del raw["models"]["knn"]["params"]["weights"]  # the same as the built-in default
    assert get_spec("knn").defaults["weights"] == "uniform"
    assert changed_params(validated(raw), base) == []
    changes = changed_params(
        validated({"seed": 7, "models": {"svm": {"params": {"C": 30.0}}}}), base
    )
    assert [(c.key, c.value, c.default) for c in changes] == [
        ("models.svm.params.C", 30.0, 10.0),
        ("seed", 7, 2013),
    ]


def test_changes_are_against_the_committed_params_yaml_like_dvc_params_diff(
    tmp_path: Path,
) -> None:
    params_path = Path(__file__).resolve().parents[1] / "params.yaml"
    raw = yaml.safe_load(params_path.read_text())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    baseline, label = baseline_params(root=tmp_path)
    assert baseline is None and label.startswith("no committed params.yaml")  # no repository
    for cmd in (
        ["git", "init", "-q"],
        ["git", "add", "params.yaml"],
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "params"],
    ):
        subprocess.run(cmd, cwd=tmp_path, check=True, capture_output=True)
    raw["models"]["svm"]["params"]["C"] = 3.0  # as `dvc exp run -S models.svm.params.C=3` would
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    baseline, label = baseline_params(root=tmp_path)
    assert label.startswith("params.yaml at commit ")
    changes = changed_params(validated(raw), baseline)
    assert [(c.key, c.value, c.default) for c in changes] == [("models.svm.params.C", 3.0, 10.0)]
    assert changed_params(baseline, baseline) == []


def test_a_filled_search_grid_is_listed_once_per_key_and_not_as_a_removed_section() -> None:
    base = merged_raw()
    base["models"]["rf"]["search"]["grid"] = {}
    raw = merged_raw()
    raw["models"]["rf"]["search"]["grid"] = {"min_samples_leaf": [1, 5]}
    changes = changed_params(parse_params(raw), parse_params(base))
    assert [(c.key, c.value, c.in_default) for c in changes] == [
        ("models.rf.search.grid.min_samples_leaf", [1, 5], False)
    ]


def _write(path: Path, actual: list[int], predicted: list[int], **extra: list) -> Path:
    names = np.asarray(EMOTIONS)
    pd.DataFrame({"actual": names[actual], "predicted": names[predicted], **extra}).to_csv(
        path, index=False
    )
    return path


def test_predictions_align_on_position_after_checking_the_labels(tmp_path: Path) -> None:
    labels = np.array([0, 3, 6, 2])
    path = _write(tmp_path / "m.csv", [0, 3, 6, 2], [0, 4, 6, 1])
    assert read_predictions(path, labels).tolist() == [0, 4, 6, 1]
    with pytest.raises(AlignmentError, match="not the test table"):
        read_predictions(path, np.array([3, 0, 6, 2]))
    with pytest.raises(AlignmentError, match="3 predictions for 4"):
        read_predictions(_write(tmp_path / "short.csv", [0, 3, 6], [0, 3, 6]), labels)


def test_predictions_with_row_ids_are_reordered_to_the_test_table(tmp_path: Path) -> None:
    labels, row_id = np.array([0, 3, 6]), np.array([10, 20, 30])
    path = _write(tmp_path / "m.csv", [6, 0, 3], [5, 0, 3], row_id=[30, 10, 20])
    assert read_predictions(path, labels, row_id).tolist() == [0, 3, 5]


def test_a_failed_model_has_no_predictions(tmp_path: Path) -> None:
    empty = tmp_path / "failed.csv"
    empty.write_text("actual,predicted\n")
    assert read_predictions(empty, np.array([1, 2])) is None
    assert read_predictions(tmp_path / "absent.csv", np.array([1, 2])) is None


def test_the_face_sample_takes_every_class_in_turn() -> None:
    classes = np.array([3] * 50 + [1] * 2 + [0] * 5)
    picked = spread_sample(np.arange(len(classes)), classes, 6, seed=1)
    assert sorted(classes[picked].tolist()) == [0, 0, 1, 1, 3, 3]
    assert len(set(picked.tolist())) == 6
    assert np.array_equal(picked, spread_sample(np.arange(len(classes)), classes, 6, seed=1))


def test_number_formats() -> None:
    assert (pct(0.61234), pct(None), pct(float("nan"))) == ("61.23", "—", "—")
    assert interval([0.5, 0.625]) == "[50.0, 62.5]" and interval(None) == ""
    assert (size(1_500_000), size(512)) == ("1.5 MB", "512 B")
    assert (sort_value(0.1 + 0.2), sort_value(None)) == ("0.30000000000000004", "")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"report": {"rank_by": "f1"}}, "report.rank_by: got 'f1'"),
        ({"report": {"top_models": 1}}, "report.top_models: got 1"),
        ({"report": {"alpha": 0}}, "report.alpha: got 0"),
        ({"report": {"gallery_faces": -1}}, "report.gallery_faces: got -1"),
        ({"report": {"colour": "red"}}, "report.colour: unknown key"),
    ],
)
def test_bad_report_parameters_name_their_key(raw: dict, expected: str) -> None:
    with pytest.raises(ParamsError, match="invalid parameters") as info:
        validated(raw)
    assert expected in str(info.value)
