"""The DVC graph is exactly right: each stage declares the code it runs, the parameters it reads,
and nothing else; paths and defaults are declared once."""

from __future__ import annotations

import ast
import re
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from models.cnn.names import ARCHITECTURES
from models.names import MODEL_NAMES
from pipeline.declared import UndeclaredParamError, declared_params, restrict
from pipeline.params import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    ModelParams,
    Params,
)
from tests.import_closure import PACKAGES, closure
from tests.stage_helpers import REPO_ROOT, repo_params

DVC = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
CMD = re.compile(r"^python -m (?P<module>pipeline\.stages\.\w+)(?: \$\{item\})?$")
# Files a module reads at run time besides its imports.
DATA_FILES = {Path("reports/render.py"): {Path("reports/templates")}}


def _stages() -> list[tuple[str, str | None]]:
    found = []
    for name, entry in DVC.items():
        items = entry.get("foreach")
        if items is None:
            found.append((name, None))
        else:
            zoo = list(ARCHITECTURES) if items == "${cnn.archs}" else list(items)
            found += [(name, item) for item in zoo]
    return found


def _is_code(dep: str) -> bool:
    return dep.endswith(".py") or any(dep == str(p) for ps in DATA_FILES.values() for p in ps)


def _expected(module: str, item: str | None) -> set[Path]:
    models = (item,) if item in MODEL_NAMES else MODEL_NAMES
    expected = closure(module, models)
    for source, data in DATA_FILES.items():
        if source in expected:
            expected |= data
    return expected


@pytest.mark.parametrize("stage", list(DVC))
def test_each_stage_declares_exactly_the_code_it_runs(stage: str) -> None:
    """Every file a stage (each of its foreach items) runs is a dep; every code dep is run by at
    least one item (a foreach template serves all items, so it declares their union)."""
    body = DVC[stage].get("do", DVC[stage])
    command = CMD.match(body["cmd"])
    assert command, f"{stage}: cmd should be `python -m pipeline.stages.<stage>`: {body['cmd']}"
    module = command["module"]
    assert (REPO_ROOT / (module.replace(".", "/") + ".py")).exists()
    union: set[Path] = set()
    for _, item in (s for s in _stages() if s[0] == stage):
        expected = _expected(module, item)
        union |= expected
        declared = {Path(d.replace("${item}", item or "")) for d in body["deps"] if _is_code(d)}
        missing = sorted(map(str, expected - declared))
        assert not missing, f"{stage}@{item}: add {missing} to its deps in dvc.yaml"
    templated = {Path(d) for d in body["deps"] if _is_code(d) and "${item}" not in d}
    extra = sorted(map(str, templated - union))
    assert not extra, f"{stage}: remove {extra} from its deps: no item runs them"


def test_the_ingest_stage_depends_on_the_path_the_user_configured() -> None:
    assert "${data.path}" in DVC["ingest"]["deps"]


def _every_section(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        keys.append(key)
        inner = field.annotation
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            keys += _every_section(inner, f"{key}.")
    return keys


def test_a_stage_that_reads_an_undeclared_parameter_fails() -> None:
    params = restrict(repo_params(), "train", "svm")
    assert params.models["svm"].params["C"] == 10.0  # declared: models.svm
    assert params.train.refit_on_dev is True  # declared: train
    with pytest.raises(UndeclaredParamError, match=r"train@svm reads params\.models\.knn"):
        _ = params.models["knn"]
    with pytest.raises(UndeclaredParamError, match=r"params\.evaluate"):
        _ = params.evaluate
    cnn = restrict(repo_params(), "cnn", "vgg")
    assert cnn.cnn.vgg.epochs > 0 and cnn.evaluate.n_boot >= 0
    with pytest.raises(UndeclaredParamError, match=r"params\.cnn\.resnet18"):
        _ = cnn.cnn.resnet18
    with pytest.raises(UndeclaredParamError, match=r"params\.evaluate\.timeout_s"):
        _ = cnn.evaluate.timeout_s


def test_declared_parameters_name_real_keys() -> None:
    known = set(_every_section(Params)) | {f"models.{k}" for k in _every_section(ModelParams)}
    for stage, item in _stages():
        for key in declared_params(stage, item):
            if key == "*":
                continue
            parts = key.split(".")
            if parts[0] == "models":  # models.<name>[.field]
                assert parts[1] in MODEL_NAMES, (stage, key)
                parts = ["models", *parts[2:]]
                key = ".".join(parts)
            assert key in known or key == "models", (stage, key)


def test_the_schema_has_no_defaults_params_yaml_is_their_single_source() -> None:
    # Optuna's own optional arguments (log, step) are the only defaults, as in its API.
    optuna_signature = {FloatDistribution, IntDistribution, CategoricalDistribution}
    seen: set[type] = set()

    def walk(model: type[BaseModel], prefix: str) -> list[str]:
        if model in seen or model in optuna_signature:
            return []
        seen.add(model)
        defaults = []
        for name, field in model.model_fields.items():
            if not field.is_required():
                defaults.append(f"{prefix}{name}")
            for inner in _models_in(field.annotation):
                defaults += walk(inner, f"{prefix}{name}.")
        return defaults

    assert walk(Params, "") == []


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


# pipeline/paths.py declares every path; the feature store names the files inside its folders.
OWN_FORMATS = {REPO_ROOT / "pipeline/paths.py", REPO_ROOT / "features/store.py"}
PATH_LITERAL = re.compile(
    r"^(data|artifacts|metrics|results)/|\.(feather|joblib|pt|npy)$|^(params|dvc)\.(yaml|lock)$"
)


def test_no_path_literal_outside_the_paths_module() -> None:
    found = []
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            if path in OWN_FORMATS:
                continue
            tree = ast.parse(path.read_text())
            docstrings = {
                id(node.body[0].value)
                for node in ast.walk(tree)
                if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
                and node.body
                and isinstance(node.body[0], ast.Expr)
            }
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and id(node) not in docstrings
                    and PATH_LITERAL.search(node.value)
                ):
                    found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {node.value!r}")
    assert found == []
