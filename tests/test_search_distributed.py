"""One search shared by several processes through a real PostgreSQL server (tests/pg_helpers.py).

`ferbench search-worker` processes and the `search` stage on one study: trials are numbered once
and counted once, a worker killed mid-trial leaves its trial failed (heartbeat) and retried while
the others go on, two experiments on one storage stay apart, a rerun resumes its own study, and a
database restart is survived or reported in one line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from models.search import claimed, trial_status
from models.study import Db, StorageError, open_storage
from pipeline import paths
from pipeline.params import STORAGE_ENV
from pipeline.stages import search
from tests.models_helpers import copy_store, session_store
from tests.pg_helpers import PASSWORD, PgServer
from tests.stage_helpers import REPO_ROOT, make_params, stage_run

# LightGBM on the tiny store: about a second a trial, reports every 10 rounds (pruning).
LIGHTGBM = {
    "compute.n_jobs": 1,
    "search.n_startup_trials": 2,
    "search.alpha": 1.0,  # the best trial always (the McNemar rule: test_models_search.py)
    "search.heartbeat_s": 1,
    "search.grace_s": 3,
    "search.retry_s": 30,
    # 40 rounds as written (not scaled down to 10 for these 1,190 rows): the trials must still be
    # running when test_a_database_restart... stops the server after the first one
    "scale.by_data": False,
    "models.lightgbm.params": dict(
        n_estimators=40, learning_rate=0.1, num_leaves=7, max_bin=15, colsample_bytree=0.3
    ),
    "models.lightgbm.search.enabled": True,
    "models.lightgbm.search.method": "optuna",
    "models.lightgbm.search.timeout_s": 240,
    "models.lightgbm.search.trial_timeout_s": 120,
    "models.lightgbm.search.subsample": 0,
    "models.lightgbm.search.prune_warmup_steps": 10,
    "models.lightgbm.search.space": {
        "learning_rate": {"type": "float", "low": 0.03, "high": 0.5, "log": True},
        "num_leaves": {"type": "int", "low": 4, "high": 15},
    },
}
WAIT_S = 300  # a subprocess that has not finished by then has hung


@pytest.fixture()
def store(fer2013_frame, tmp_path_factory) -> Path:
    return session_store(fer2013_frame, tmp_path_factory)


def _workspace(root: Path, store: Path, overrides: dict) -> Path:
    """A folder as DVC runs stages in: data/features and params.yaml."""
    root.mkdir(parents=True, exist_ok=True)
    copy_store(store, root)
    make_params(root, overrides)
    return root


def _env(url: str) -> dict[str, str]:
    return os.environ | {STORAGE_ENV: url, "PYTHONPATH": str(REPO_ROOT)}


def _start(workspace: Path, url: str, *command: str) -> subprocess.Popen:
    """``ferbench <command>`` in ``workspace``, in its own process group (to kill it whole)."""
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", *command, "--params", "params.yaml"],
        cwd=workspace,
        env=_env(url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _finish(process: subprocess.Popen) -> str:
    out, _ = process.communicate(timeout=WAIT_S)
    assert process.returncode == 0, out
    return out


def _study(url: str, name: str | None = None) -> optuna.Study:
    names = optuna.get_all_study_names(url)
    return optuna.load_study(study_name=name or names[0], storage=url)


def _wait_for(predicate, what: str, timeout: float = WAIT_S) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.1)


def _best_of(trials: list) -> optuna.trial.FrozenTrial:
    return max((t for t in trials if t.state == TrialState.COMPLETE), key=lambda t: t.value)


def test_two_workers_and_the_stage_share_one_study(
    store: Path, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    n_trials = 8
    ws = _workspace(tmp_path, store, {**LIGHTGBM, "models.lightgbm.search.n_trials": n_trials})
    workers = [_start(ws, pg_url, "search-worker", "lightgbm") for _ in range(2)]
    stage = _start(ws, pg_url, "search", "lightgbm")
    for process in workers:
        _finish(process)
    _finish(stage)

    study = _study(pg_url)
    trials = study.get_trials()
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    statuses = [trial_status(t) for t in trials]
    # Exactly the budget ran; a process that asked at the same moment as another for the last
    # place marked its trial surplus (not run, not counted).
    assert claimed(trials) == n_trials
    assert sum(s in ("ok", "pruned", "timeout", "error") for s in statuses) == n_trials
    assert set(statuses) <= {"ok", "pruned", "timeout", "error", "surplus"}, statuses
    ran_by = {t.user_attrs["worker"] for t in trials}
    assert len(ran_by) >= 2, ran_by  # the study was shared
    record = json.loads((ws / paths.best_params("lightgbm")).read_text())
    best = _best_of(trials)
    assert record["study"] == study.study_name and record["best_value"] == best.value
    assert {k: record["params"][k] for k in best.params} == best.params
    assert sum(record["trials"][s] for s in ("ok", "pruned", "timeout", "error")) == n_trials
    assert record["trials"].get("surplus", 0) == statuses.count("surplus")
    assert record["workers"] == len(ran_by)
    # The record shows where the study lives, never the password.
    assert PASSWORD not in json.dumps(record) and "***" in record["storage"]
    table = pd.read_csv(ws / paths.trials("lightgbm"))
    assert sorted(table["number"]) == sorted(numbers)
    assert set(table["user_attrs_worker"]) == ran_by


def test_a_killed_worker_leaves_its_trial_failed_and_the_others_go_on(
    store: Path, tmp_path: Path, pg_url: str
) -> None:
    n_trials = 4
    ws = _workspace(tmp_path, store, {**LIGHTGBM, "models.lightgbm.search.n_trials": n_trials})
    victim = _start(ws, pg_url, "search-worker", "lightgbm")

    def victim_is_fitting() -> bool:
        names = optuna.get_all_study_names(pg_url)
        return bool(names) and any(
            t.state == TrialState.RUNNING
            and bool(t.params)  # its point is drawn: it is fitting, not still asking
            and t.user_attrs.get("worker", "").endswith(f":{victim.pid}")
            for t in _study(pg_url, names[0]).get_trials()
        )

    _wait_for(victim_is_fitting, "the first worker to start a trial")
    os.killpg(victim.pid, signal.SIGKILL)  # the worker and its fit process: a machine lost
    victim.wait(timeout=30)
    survivor = _start(ws, pg_url, "search-worker", "lightgbm")
    out = _finish(survivor)

    trials = _study(pg_url).get_trials()
    lost = [t for t in trials if trial_status(t) == "lost"]
    assert len(lost) == 1 and lost[0].user_attrs["worker"].endswith(f":{victim.pid}")
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == lost[0].number]
    assert len(retry) == 1 and retry[0].state.is_finished()
    assert retry[0].params == lost[0].params  # the lost point is run again, once
    assert claimed(trials) == n_trials  # the lost trial and its retry count once
    done = [t for t in trials if trial_status(t) in ("ok", "pruned", "timeout", "error")]
    assert len(done) == n_trials and all(t.state.is_finished() for t in trials)
    assert "sent no heartbeat" in out


def test_two_experiments_on_one_storage_stay_apart(
    store: Path, tmp_path: Path, pg_url: str
) -> None:
    grid = {"n_neighbors": [1, 5, 15], "weights": ["uniform", "distance"]}
    common = {
        "models.knn.search.grid": grid,
        "models.knn.search.n_trials": 6,
        "models.knn.params": {"n_neighbors": 1, "pca_components": 0},
    }
    # Different data: all training rows, or a stratified subsample of 500.
    a = _workspace(tmp_path / "a", store, common)
    b = _workspace(tmp_path / "b", store, {**common, "models.knn.search.subsample": 500})
    runs = [_start(ws, pg_url, "search", "knn") for ws in (a, b)]  # at the same time
    for process in runs:
        _finish(process)

    records = [json.loads((ws / paths.best_params("knn")).read_text()) for ws in (a, b)]
    assert records[0]["study"] != records[1]["study"]
    assert sorted(optuna.get_all_study_names(pg_url)) == sorted(r["study"] for r in records)
    for record, process in zip(records, runs, strict=True):
        trials = _study(pg_url, record["study"]).get_trials(states=(TrialState.COMPLETE,))
        assert len(trials) == 6  # each study ran its own grid, once
        assert {t.user_attrs["worker"].split(":")[1] for t in trials} == {str(process.pid)}
        assert record["best_value"] == _best_of(trials).value  # its own best, no one else's


def test_the_same_experiment_rerun_resumes_its_own_study(
    store: Path, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = _workspace(tmp_path, store, {})
    monkeypatch.chdir(ws)
    monkeypatch.setenv(STORAGE_ENV, pg_url)
    space = {"n_neighbors": {"type": "int", "low": 1, "high": 30, "log": True}}
    knn = {
        "models.knn.search.method": "optuna",
        "models.knn.search.space": space,
        "models.knn.search.n_trials": 3,
    }
    first = stage_run(search, make_params(ws, knn), "knn")
    assert first["ran_here"] == 3
    before = {t.number: t.datetime_start for t in _study(pg_url, first["study"]).trials}
    # A rerun (DVC: `dvc repro -f`, or a budget raised) resumes: the 3 trials stay, 2 are added.
    more = stage_run(search, make_params(ws, {**knn, "models.knn.search.n_trials": 5}), "knn")
    assert more["study"] == first["study"] and more["ran_here"] == 2
    after = {t.number: t.datetime_start for t in _study(pg_url, first["study"]).trials}
    assert len(after) == 5 and all(after[n] == before[n] for n in before)
    again = stage_run(search, make_params(ws, {**knn, "models.knn.search.n_trials": 5}), "knn")
    assert again["ran_here"] == 0 and again["params"] == more["params"]
    # Another metric is another experiment: a study of its own; the first is left as it was.
    other = stage_run(search, make_params(ws, {**knn, "search.metric": "macro_f1"}), "knn")
    assert other["study"] != first["study"] and other["ran_here"] == 3
    assert len(_study(pg_url, first["study"]).trials) == 5


def test_a_database_restart_is_survived_and_an_outage_is_reported_in_one_line(
    store: Path, tmp_path: Path, pg_server: PgServer, pg_url: str
) -> None:
    overrides = {**LIGHTGBM, "models.lightgbm.search.n_trials": 4, "search.grace_s": 60}
    ws = _workspace(tmp_path, store, overrides)
    worker = _start(ws, pg_url, "search-worker", "lightgbm")

    def trials_done(n: int):  # of the study in pg_url (read when called)
        def check() -> bool:
            names = optuna.get_all_study_names(pg_url)
            states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
            return bool(names) and len(_study(pg_url, names[0]).get_trials(states=states)) >= n

        return check

    _wait_for(trials_done(1), "a first trial")
    pg_server.stop()  # the server goes away for a few seconds, mid-search
    time.sleep(4)
    pg_server.start()
    out = _finish(worker)
    trials = _study(pg_url).get_trials()
    assert claimed(trials) == 4 and all(t.state.is_finished() for t in trials)
    assert "retrying" in out  # the outage was seen, and survived

    # A database that stays away: one clear line naming the storage, exit code 2.
    ws2 = _workspace(
        tmp_path / "down", store,
        {**overrides, "search.retry_s": 3, "models.lightgbm.search.n_trials": 40},
    )  # fmt: skip
    pg_url = pg_server.database()
    worker = _start(ws2, pg_url, "search-worker", "lightgbm")
    try:
        _wait_for(trials_done(2), "the second search to run")
        pg_server.stop()
        out, _ = worker.communicate(timeout=WAIT_S)
    finally:
        pg_server.start()
    assert worker.returncode == 2, out
    last = out.strip().splitlines()[-1]
    assert "ERROR search storage postgresql+psycopg://ferbench:***@127.0.0.1" in last, out
    assert "unreachable" in last and "Traceback" not in out and PASSWORD not in out


def test_a_wrong_password_is_reported_at_once_not_retried(pg_server: PgServer) -> None:
    wrong = pg_server.url().replace(PASSWORD, "not-the-password")
    start = time.monotonic()
    with pytest.raises(StorageError, match="password authentication failed") as error:
        open_storage(Db(wrong, retry_s=120), heartbeat_s=10, grace_s=60)
    assert time.monotonic() - start < 30 and "not-the-password" not in str(error.value)
