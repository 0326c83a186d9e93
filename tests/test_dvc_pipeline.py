"""`dvc repro` of ingest -> augment -> features in a temporary git repository holding this checkout.

Runs twice: on a small real FER2013 sample dropped into data/raw, and on a fresh clone's default
(no CSV: the synthetic demo set). Checks the outputs, that every metrics file says where the data
came from, and that a second `dvc repro` finds everything up to date.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.checkout import copy_checkout
from features.store import load_features, load_rows

pytestmark = pytest.mark.slow
STAGES = ["ingest", "augment", "features"]


def _run(cmd: list[str], cwd: Path) -> str:
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def _repro(repo: Path) -> None:
    _run([sys.executable, "-m", "dvc", "repro", *STAGES], repo)
    status = _run([sys.executable, "-m", "dvc", "status", *STAGES], repo)
    assert "up to date" in status, status
    again = _run([sys.executable, "-m", "dvc", "repro", *STAGES], repo)
    assert "didn't change, skipping" in again or "up to date" in again


def _check_outputs(repo: Path, synthetic: bool) -> None:
    features = repo / "data/features"
    for split in ("train", "dev", "test", "aug_balanced"):
        rows = load_rows(features, split)
        assert load_features(features, split, "hog_landmarks").shape == (len(rows), 1036)
        assert load_features(features, split, "pixels").shape == (len(rows), 2304)
        assert np.isfinite(load_features(features, split, "landmarks")).all()
    for name in ("ingest", "augment", "features"):
        metrics = json.loads((repo / "metrics" / f"{name}.json").read_text())
        assert metrics["data"]["synthetic"] is synthetic, name


def test_repro_on_a_real_sample(tmp_path: Path, fer2013_sample_csv: Path) -> None:
    repo = copy_checkout(tmp_path / "repo", jit_cache=True)
    shutil.copy(fer2013_sample_csv, repo / "data/raw/fer2013.csv")
    _repro(repo)
    _check_outputs(repo, synthetic=False)
    ingest = json.loads((repo / "metrics/ingest.json").read_text())
    assert ingest["rows"]["read"] == sum(1 for _ in fer2013_sample_csv.open()) - 1


def test_repro_on_a_fresh_clone_uses_the_synthetic_demo_set(tmp_path: Path) -> None:
    repo = copy_checkout(tmp_path / "repo", jit_cache=True)
    assert not list((repo / "data/raw").glob("fer2013*"))
    _repro(repo)
    _check_outputs(repo, synthetic=True)
    assert (
        "SYNTHETIC DEMO DATA"
        in json.loads((repo / "metrics/ingest.json").read_text())["data"]["notice"]
    )
