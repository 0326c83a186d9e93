"""The model zoo's params.yaml sections: bad values fail on load, naming the key and what fits."""

from __future__ import annotations

import pytest

from models.hyper import Hyper
from models.registry import MODEL_NAMES, get_spec
from pipeline.cli import main as cli_main
from pipeline.params import ParamsError, load_params
from tests.stage_helpers import REPO_ROOT, validated

SPECS = {name: get_spec(name) for name in MODEL_NAMES}


def _space(model: str, **space: dict) -> dict:
    return {"models": {model: {"search": {"enabled": True, "method": "optuna", "space": space}}}}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"models": {"svn": {}}}, "expected exactly the zoo's models knn, gnb, svm"),
        ({"models": {"svm": {"feature_set": "hug"}}}, "models.svm.feature_set: got 'hug'"),
        (
            {"models": {"svm": {"augmentation": "full"}}},
            "models.svm.augmentation: got 'full'; expected 'none' or 'balanced'",
        ),
        (
            {"models": {"svm": {"params": {"C": -1.0}}}},
            "models.svm.params.C: got -1.0; expected a number > 0",
        ),
        ({"models": {"svm": {"params": {"C": "big"}}}}, "models.svm.params.C: got 'big'"),
        ({"models": {"svm": {"params": {"gamma": "auto-ish"}}}}, "or 'scale' or 'auto'"),
        (
            {"models": {"svm": {"params": {"kernel": "linear"}}}},
            "models.svm.params.kernel: unknown hyper-parameter",
        ),
        (
            {"models": {"knn": {"params": {"n_neighbors": 2.5}}}},
            "models.knn.params.n_neighbors: got 2.5; expected an integer",
        ),
        (
            {"models": {"knn": {"params": {"n_neighbors": True}}}},
            "models.knn.params.n_neighbors: got True",
        ),
        (
            {"models": {"knn": {"params": {"weights": "inverse"}}}},
            "expected one of 'uniform', 'distance'",
        ),
        (
            {"models": {"rf": {"params": {"max_features": 0}}}},
            "models.rf.params.max_features: got 0",
        ),
        (
            {"models": {"gnb": {"params": {"var_smoothing": "1e-9"}}}},
            "models.gnb.params.var_smoothing: got '1e-9'",
        ),
        ({"models": {"knn": {"fit_timeout_s": -5}}}, "models.knn.fit_timeout_s: got -5"),
        ({"models": {"knn": {"search": {"timeout_s": 0}}}}, "models.knn.search.timeout_s: got 0"),
        (
            {"models": {"knn": {"search": {"n_trials": "many"}}}},
            "models.knn.search.n_trials: got 'many'",
        ),
        (
            {"models": {"knn": {"search": {"enabled": True, "method": "grid", "grid": {}}}}},
            "models.knn.search.grid: the grid is empty",
        ),
        (
            {"models": {"knn": {"search": {"method": "grid", "grid": {"n_neighbors": []}}}}},
            "models.knn.search.grid.n_neighbors: empty list",
        ),
        (
            {"models": {"knn": {"search": {"grid": {"n_neighbors": [1, 0]}}}}},
            "models.knn.search.grid.n_neighbors[1]: got 0",
        ),
        (
            {"models": {"knn": {"search": {"grid": {"leaf_size": [10]}}}}},
            "models.knn.search.grid.leaf_size: unknown",
        ),
        (
            {"models": {"knn": {"search": {"enabled": True, "method": "optuna", "space": {}}}}},
            "models.knn.search.space: the search space is empty",
        ),
        (
            _space("knn", n_neighbors={"type": "float", "low": 1, "high": 9}),
            "n_neighbors.type: got 'float'",
        ),
        (_space("svm", class_weight={"type": "int", "low": 0, "high": 1}), "use type: categorical"),
        (
            _space("svm", C={"type": "float", "low": 10, "high": 1}),
            "models.svm.search.space.C: low (10.0) is above high (1.0)",
        ),
        (
            _space("svm", C={"type": "float", "low": -1, "high": 1}),
            "models.svm.search.space.C.low: got -1.0",
        ),
        (
            _space("svm", C={"type": "float", "low": 0.1, "high": 1, "log": True, "step": 0.1}),
            "a log scale takes no step",
        ),
        (_space("svm", C={"type": "normal", "low": 1, "high": 2}), "models.svm.search.space.C"),
        (
            _space("knn", weights={"type": "categorical", "choices": ["uniform", "gaussian"]}),
            "weights.choices[1]: got 'gaussian'",
        ),
        (
            _space("knn", weights={"type": "categorical", "choices": []}),
            "models.knn.search.space.weights.categorical.choices",
        ),
        ({"search": {"cv_folds": 0}}, "search.cv_folds: got 0"),
        ({"search": {"metric": "auc"}}, "search.metric: got 'auc'"),
        ({"evaluate": {"n_boot": -1}}, "evaluate.n_boot: got -1"),
        ({"competency": {"feature_sets": ["hog", "hog"]}}, "competency.feature_sets"),
        ({"competency": {"feature_sets": ["sift"]}}, "competency.feature_sets.0: got 'sift'"),
        ({"competency": {"train_rows": 10}}, "competency.train_rows: got 10"),
        ({"compute": {"n_jobs": 0}}, "compute.n_jobs: got 0"),
    ],
)
def test_bad_model_params_name_their_key(raw: dict, expected: str) -> None:
    with pytest.raises(ParamsError, match="invalid parameters") as info:
        validated(raw)
    assert expected in str(info.value)


def test_every_problem_is_listed_at_once() -> None:
    # The schema's problems together, then (once it parses) every model's hyper-parameters.
    with pytest.raises(ParamsError) as info:
        validated({"seed": -1, "models": {"knn": {"search": {"timeout_s": 0}}}})
    assert "seed: got -1" in str(info.value) and "models.knn.search.timeout_s" in str(info.value)
    with pytest.raises(ParamsError) as info:
        validated(
            {
                "models": {
                    "svm": {"params": {"C": 0.0, "tol": "x"}},
                    "rf": {"params": {"n_estimators": 0}},
                }
            }
        )
    text = str(info.value)
    assert all(
        k in text for k in ("models.svm.params.C", "svm.params.tol", "rf.params.n_estimators")
    )


def test_augmentation_follows_augment_modes() -> None:
    params = validated(
        {
            "augment": {"modes": ["balanced", "full", "mirror"]},
            "models": {"mlp": {"augmentation": "full"}},
        }
    )
    assert params.models["mlp"].augmentation == "full"


def test_repository_params_cover_every_model_with_values_that_fit() -> None:
    params = load_params(REPO_ROOT / "params.yaml")
    assert set(params.models) == set(MODEL_NAMES)
    for name, spec in SPECS.items():
        for key, value in spec.resolve(params.models[name].params).items():
            assert spec.hypers[key].accepts(value), (name, key, value)


def test_built_in_defaults_fit_their_specs_and_unlisted_models_get_them() -> None:
    for spec in SPECS.values():
        for key, value in spec.defaults.items():
            assert spec.hypers[key].accepts(value), (spec.name, key, value)
    params = validated({"models": {"svm": {"params": {"C": 3.0}}}})
    assert set(params.models) == set(MODEL_NAMES) and params.models["svm"].params["C"] == 3.0


def test_hyper_specs_do_not_confuse_booleans_with_numbers() -> None:
    assert not Hyper("int", ge=0).accepts(True)
    assert not Hyper("choice", choices=(1, 2)).accepts(True)
    assert Hyper("float", gt=0, special=(None,)).accepts(None)
    assert not Hyper("float", gt=0).accepts(float("nan"))


def test_cli_rejects_an_unknown_model_name(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        cli_main(["search", "svn"])
    assert info.value.code == 2
    assert "invalid choice: 'svn'" in capsys.readouterr().err
