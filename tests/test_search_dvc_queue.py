"""`dvc exp run --queue` twice, then `dvc queue start -j 2`: two experiments search one model at
the same time on one PostgreSQL storage, each in its own study, each adopting its own best.

Runs in a scratch git repository holding this checkout (bench/checkout.py). The feature store is
the tests' tiny one (tests/models_helpers.py), recorded as the features stage's output with
`dvc commit` so that the queued experiments run the search stage alone (`-s`), in seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dvc.api
import optuna
import pytest
import yaml

from bench.checkout import copy_checkout
from pipeline import paths
from pipeline.params import STORAGE_ENV
from tests.models_helpers import copy_store, session_store

pytestmark = pytest.mark.slow
IDENTITY = ["-c", "user.name=ferbench", "-c", "user.email=ferbench@example.invalid"]
QUEUE_WAIT_S = 600


def _run(repo: Path, env: dict[str, str], *cmd: str) -> str:
    done = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_two_queued_experiments_search_in_their_own_studies(
    fer2013_frame, tmp_path_factory, tmp_path: Path, pg_url: str
) -> None:
    repo = copy_checkout(tmp_path / "repo", jit_cache=True)
    raw = yaml.safe_load((repo / paths.PARAMS_FILE).read_text())
    raw["compute"]["n_jobs"] = 1
    raw["models"]["knn"]["search"]["grid"] = {"n_neighbors": [1, 5, 15]}
    (repo / paths.PARAMS_FILE).write_text(yaml.safe_dump(raw, sort_keys=False))
    copy_store(session_store(fer2013_frame, tmp_path_factory), repo)
    (repo / paths.AUGMENTED_DIR).mkdir(exist_ok=True)
    (repo / paths.stage_metrics("features")).parent.mkdir(exist_ok=True)
    (repo / paths.stage_metrics("features")).write_text('{"built_by": "tests/models_helpers.py"}')

    env = os.environ | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        STORAGE_ENV: pg_url,
    }
    dvc_cli = [sys.executable, "-m", "dvc"]
    _run(repo, env, *dvc_cli, "commit", "-f", "features")
    _run(repo, env, "git", "add", "-A")
    _run(repo, env, "git", *IDENTITY, "commit", "-qm", "feature store")
    # Two experiments that differ in their data: all training rows, or 300 of them.
    for subsample in (0, 300):
        _run(
            repo, env, *dvc_cli, "exp", "run", "--queue", "-s",
            "-S", f"models.knn.search.subsample={subsample}", "search@knn",
        )  # fmt: skip
    _run(repo, env, *dvc_cli, "queue", "start", "-j", "2")
    end = time.monotonic() + QUEUE_WAIT_S
    status = _run(repo, env, *dvc_cli, "queue", "status")
    while "Queued" in status or "Running" in status:
        assert time.monotonic() < end, status
        time.sleep(2)
        status = _run(repo, env, *dvc_cli, "queue", "status")
    assert status.count("Success") == 2, status

    names = sorted(optuna.get_all_study_names(pg_url))
    assert len(names) == 2 and all(n.startswith("knn-") for n in names)
    for name in names:
        trials = optuna.load_study(study_name=name, storage=pg_url).get_trials()
        assert len(trials) == 3 and all(t.state.is_finished() for t in trials)
        assert len({t.user_attrs["worker"] for t in trials}) == 1  # one experiment's stage
    # Each experiment's result (read from its commit) names its own study and adopts its best.
    revs = _run(repo, env, *dvc_cli, "exp", "ls", "--sha-only").split()
    assert len(revs) == 2, revs
    for rev in revs:
        text = dvc.api.read(str(paths.best_params("knn")), repo=str(repo), rev=rev)
        record = json.loads(text)
        assert record["study"] in names
        best = optuna.load_study(study_name=record["study"], storage=pg_url).best_value
        assert record["best_value"] == best
        names.remove(record["study"])
    assert names == []
