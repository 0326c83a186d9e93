"""Per-model DVC stages: changing one model's parameters leaves every other model's stages cached.

Builds a git + DVC repository from this checkout, stands in placeholder files for every stage's
outputs, records them with `dvc commit` (no stage runs, so this takes seconds), then edits
params.yaml and asks `dvc status` which stages changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench.checkout import copy_checkout
from models.registry import MODEL_NAMES

ZOO_STEPS = ("search", "train", "evaluate", "competency")
# Creates a placeholder for every output (and every missing dependency) of every stage.
PLACEHOLDERS = """
from pathlib import Path
from dvc.repo import Repo

for stage in Repo(".").index.stages:
    for entry in [*stage.outs, *stage.deps]:
        path = Path(entry.def_path)
        if path.exists() or "://" in entry.def_path:
            continue
        target = path if path.suffix else path / "placeholder.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(entry.def_path + "\\n")
"""


def _run(cmd: list[str], cwd: Path) -> str:
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = copy_checkout(tmp_path_factory.mktemp("dvc_models"), jit_cache=True)
    if not (dest / ".dvc").exists():
        _run([sys.executable, "-m", "dvc", "init", "-q"], dest)
    _run([sys.executable, "-c", PLACEHOLDERS], dest)
    _run([sys.executable, "-m", "dvc", "commit", "-f", "-q"], dest)
    return dest


def _changed_after(repo: Path, edit: dict[str, object]) -> set[str]:
    path = repo / "params.yaml"
    original = path.read_text()
    raw = yaml.safe_load(original)
    for dotted, value in edit.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    path.write_text(yaml.safe_dump(raw))
    try:
        return set(json.loads(_run([sys.executable, "-m", "dvc", "status", "--json"], repo)))
    finally:
        path.write_text(original)


def test_the_committed_pipeline_is_up_to_date(repo: Path) -> None:
    assert json.loads(_run([sys.executable, "-m", "dvc", "status", "--json"], repo)) == {}


@pytest.mark.parametrize(("model", "key"), [("svm", "C"), ("lightgbm", "learning_rate")])
def test_one_models_parameter_reruns_only_that_model(repo: Path, model: str, key: str) -> None:
    # The report reads all of params.yaml (its run summary lists what differs from HEAD).
    changed = _changed_after(repo, {f"models.{model}.params.{key}": 0.05})
    assert changed == {f"search@{model}", f"train@{model}", "report"}
    # The competency table (one stage for the zoo) runs the untuned built-in defaults: it
    # follows only on/off.
    assert _changed_after(repo, {f"models.{model}.enabled": False}) == {
        f"search@{model}",
        f"train@{model}",
        "competency",
        "report",
    }


def test_a_search_budget_does_not_touch_the_competency_table(repo: Path) -> None:
    assert _changed_after(repo, {"models.knn.search.timeout_s": 30}) == {
        "search@knn",
        "train@knn",
        "report",
    }


def test_a_shared_section_reruns_that_step_for_every_model(repo: Path) -> None:
    changed = _changed_after(repo, {"evaluate.n_boot": 50})
    zoo_steps = {name for name in changed if name.split("@")[0] in ZOO_STEPS}
    assert zoo_steps == {f"evaluate@{m}" for m in MODEL_NAMES}


def _changed_after_touching(repo: Path, code: str) -> set[str]:
    path = repo / code
    original = path.read_text()
    path.write_text(original + "\n# touched\n")
    try:
        return set(json.loads(_run([sys.executable, "-m", "dvc", "status", "--json"], repo)))
    finally:
        path.write_text(original)


def test_editing_code_in_a_stages_imports_reruns_that_stage(repo: Path) -> None:
    # models/sampling.py: imported by search (subsamples, folds), train (the dev-score fit's
    # subsample) and competency, not by evaluate.
    changed = _changed_after_touching(repo, "models/sampling.py")
    steps = ("search", "train")
    assert changed == {f"{step}@{m}" for step in steps for m in MODEL_NAMES} | {"competency"}
    # One model's module: only that model's stages (and the report, which resolves its defaults).
    assert _changed_after_touching(repo, "models/svm.py") == {
        "search@svm",
        "train@svm",
        "evaluate@svm",
        "competency",
        "report",
    }
    # The feature store's code reruns the stages that write or read features, not ingest.
    store = _changed_after_touching(repo, "features/store.py")
    assert "features" in store and "ingest" not in store and "augment" not in store
