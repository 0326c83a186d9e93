"""Sizes and budgets scaled to the data (pipeline/scale.py): small data shrinks them in
proportion, FER2013-sized data runs every value exactly as written."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from features.store import load_rows
from fer_data.faces import read_faces
from pipeline import paths
from pipeline.scale import LEAST_ROWS, Scale, count_rows, data_scale
from pipeline.stages import cnn, competency, ingest, search
from tests.stage_helpers import make_params, repo_params, stage_run

# FER2013's Training split has 28,709 rows; ingest holds data.dev_fraction (0.1) of them out for
# dev and drops a handful of blank images: the training split keeps more than 25,800.
FER2013_TRAIN_ROWS = 25_800
SCALE_ON = {"scale.by_data": True}


def test_the_repository_scales_by_the_data_and_leaves_fer2013_as_written() -> None:
    raw = repo_params({"scale": {"by_data": True}})
    assert raw.scale.reference_rows <= FER2013_TRAIN_ROWS
    scale = data_scale(raw.scale, FER2013_TRAIN_ROWS)
    assert scale.factor == 1.0
    for model, cfg in raw.models.items():
        assert scale.count(f"{model}.n", cfg.search.n_trials) == cfg.search.n_trials
        assert scale.seconds(f"{model}.t", cfg.search.timeout_s) == cfg.search.timeout_s
        assert scale.count(f"{model}.s", cfg.search.subsample, LEAST_ROWS) == cfg.search.subsample
    assert scale.count("c", raw.competency.train_rows, LEAST_ROWS) == raw.competency.train_rows
    assert scale.count("e", raw.cnn.mini_xception.epochs) == raw.cnn.mini_xception.epochs
    assert scale.changed == {} and scale.record().factor == 1.0


def test_counts_and_budgets_shrink_in_proportion_with_floors() -> None:
    scale = Scale(train_rows=2520, reference_rows=25_000, by_data=True, min_seconds=20.0)
    assert scale.factor == pytest.approx(0.1008)
    assert scale.count("epochs", 20) == 3  # rounded up
    assert scale.count("n_trials", 5) == 1
    assert scale.count("rows", 2000, LEAST_ROWS) == math.ceil(2000 * 0.1008)
    assert scale.count("small", 300, LEAST_ROWS) == LEAST_ROWS  # the floor
    assert scale.count("all", 0, LEAST_ROWS) == 0  # 0 means "all rows": unchanged
    assert scale.count("tiny", 50, LEAST_ROWS) == 50  # never above the written value
    assert scale.seconds("timeout", 300.0) == pytest.approx(30.2)
    assert scale.seconds("short", 60.0) == 20.0  # scale.min_seconds
    assert scale.seconds("shorter", 10.0) == 10.0
    assert set(scale.changed) == {"epochs", "n_trials", "rows", "small", "timeout", "short"}
    assert scale.changed["epochs"] == [20, 3]
    assert "epochs 20 -> 3" in scale.describe()
    off = Scale(train_rows=2520, reference_rows=25_000, by_data=False, min_seconds=20.0)
    assert off.factor == 1.0 and off.count("epochs", 20) == 20
    assert "every value as written" in off.describe()


def test_competency_subsamples_in_proportion_and_records_the_scale(store_workdir: Path) -> None:
    overrides = {**SCALE_ON, "competency.feature_sets": ["hog"], "competency.train_rows": 4000}
    params = make_params(store_workdir, overrides)
    n_train = len(load_rows(paths.FEATURES_DIR, "train"))
    expected = max(LEAST_ROWS, math.ceil(4000 * n_train / params.scale.reference_rows))
    assert expected < n_train  # the sample is small: the subsample really shrinks
    result = stage_run(competency, params, "gnb")
    assert result["train_rows"] == expected
    assert result["cells"][0]["status"] == "ok"
    assert result["cells"][0]["train_rows"] == pytest.approx(expected, abs=7)
    assert result["scale"]["train_rows"] == n_train
    assert result["scale"]["changed"] == {"competency.train_rows": [4000, expected]}

    written = stage_run(
        competency, make_params(store_workdir, overrides | {"scale.by_data": False}), "gnb"
    )
    assert written["train_rows"] == min(4000, written["train_rows"])
    assert written["scale"]["factor"] == 1.0 and written["scale"]["changed"] == {}


def test_competency_fits_the_defaults_with_boosting_rounds_scaled(store_workdir: Path) -> None:
    from models.adaboost import DEFAULTS

    overrides = {**SCALE_ON, "competency.feature_sets": ["hog"]}
    result = stage_run(competency, make_params(store_workdir, overrides), "adaboost")
    factor = result["scale"]["factor"]
    expected = max(search.LEAST_ROUNDS, math.ceil(DEFAULTS["n_estimators"] * factor))
    assert expected < DEFAULTS["n_estimators"]
    assert result["params"]["n_estimators"] == expected  # what the cells fitted
    key = "models/adaboost.py DEFAULTS['n_estimators']"
    assert result["scale"]["changed"][key] == [DEFAULTS["n_estimators"], expected]
    assert result["cells"][0]["status"] == "ok"


def test_search_budget_scales_alike_for_the_stage_and_its_workers(store_workdir: Path) -> None:
    overrides = {
        **SCALE_ON,
        "models.lightgbm.search.n_trials": 40,
        "models.lightgbm.search.timeout_s": 600.0,
        "models.lightgbm.search.subsample": 8000,
    }
    params = make_params(store_workdir, overrides)
    scale = search.search_scale(params, "lightgbm")
    factor = scale.factor
    config = search.config_for(params, "lightgbm", scale)
    assert config.n_trials == math.ceil(40 * factor) < 40
    assert config.timeout_s == pytest.approx(max(params.scale.min_seconds, round(600 * factor, 1)))
    assert config.decides["subsample"] == max(LEAST_ROWS, math.ceil(8000 * factor))
    as_written = search.config_for(params, "lightgbm")
    assert as_written.n_trials == 40 and as_written.decides["subsample"] == 8000
    context = search.search_context(params, "lightgbm", scale=scale)
    assert len(context["y"]) == pytest.approx(config.decides["subsample"], abs=7)


def test_boosting_rounds_scale_for_the_search_and_train_and_fer2013_keeps_them(
    store_workdir: Path,
) -> None:
    overrides = {**SCALE_ON, "models.adaboost.search.enabled": False}
    params = make_params(store_workdir, overrides)
    written = params.models["adaboost"].params["n_estimators"]
    record = search.run(params, "adaboost")  # search off: the configured values, scaled
    factor = record.scale.factor
    expected = max(search.LEAST_ROUNDS, math.ceil(written * factor))
    assert expected < written
    assert record.params["n_estimators"] == expected
    assert record.scale.changed["models.adaboost.params.n_estimators"] == [written, expected]
    # train fits what best_params.json says: the scaled rounds
    from pipeline.stages.train import chosen_params

    assert chosen_params("adaboost")[0]["n_estimators"] == expected
    lightgbm = search.search_scale(params, "lightgbm")
    assert search.search_base(params, "lightgbm", lightgbm)["n_estimators"] == max(
        search.LEAST_ROUNDS, math.ceil(params.models["lightgbm"].params["n_estimators"] * factor)
    )
    assert search.search_base(params, "svm", search.search_scale(params, "svm")) == (
        search.search_base(params, "svm")  # no rounds: nothing changes
    )
    full = data_scale(params.scale, FER2013_TRAIN_ROWS)
    full.count("models.adaboost.params.n_estimators", written, search.LEAST_ROUNDS)
    assert full.changed == {}  # FER2013: the rounds as written


def test_cnn_epochs_scale_with_the_ingested_training_split(
    fer2013_sample_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    overrides = {"data.path": str(fer2013_sample_csv), "cnn.mini_xception.epochs": 200}
    stage_run(ingest, make_params(tmp_path, overrides))
    n_train = count_rows(paths.ingested("train"))
    assert n_train == len(read_faces(paths.ingested("train")))
    settings, scale = cnn.recipe_settings(
        make_params(tmp_path, overrides | SCALE_ON), "mini_xception"
    )
    assert settings["epochs"] == math.ceil(200 * n_train / scale.reference_rows)
    assert settings["finetune_epochs"] == 0  # nothing to fine-tune stays nothing
    assert scale.record().changed == {"cnn.mini_xception.epochs": [200, settings["epochs"]]}
    settings, _ = cnn.recipe_settings(make_params(tmp_path, overrides), "mini_xception")
    assert settings["epochs"] == 200


def test_a_missing_training_split_names_the_stage_to_run(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="run the ingest stage"):
        count_rows(tmp_path / "train.feather")
