"""A study's name is its experiment's identity; storage URLs are checked and never shown with their
password; only lost connections are retried. No database server needed (SQLite, in memory)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pytest
import sqlalchemy

from models.search import IDENTITY, SearchConfig, run_search
from models.spec import BuildOptions
from models.study import Db, StorageError, is_transient, masked, study_identity, study_name
from pipeline import search_worker
from pipeline.params import STORAGE_ENV, ParamsError
from pipeline.stages import search
from tests.models_helpers import session_store
from tests.stage_helpers import make_params, repo_params

SECRET = "hunter2-not-a-real-one"


def _context(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x": rng.normal(size=(40, 6)).astype(np.float32),
        "y": rng.integers(0, 7, 40),
        "x_val": rng.normal(size=(10, 6)).astype(np.float32),
        "y_val": rng.integers(0, 7, 10),
    }


DECIDES = {"feature_set": "hog", "metric": "accuracy", "seed": 1, "subsample": 0, "grid": {}}


def _name(context=None, params=None, decides=None, module="models.knn", model="knn") -> str:
    identity = study_identity(
        model, module, params or {"n_neighbors": 1}, context or _context(), decides or DECIDES
    )
    return study_name(identity)


def test_the_same_experiment_gets_the_same_name_and_any_difference_another() -> None:
    base = _name()
    assert base == _name() and base.startswith("knn-") and len(base) == len("knn-") + 12
    changed_row = _context()
    changed_row["x"][3, 2] += 1e-3  # one feature of one training row
    relabelled = _context()
    relabelled["y"][0] = (relabelled["y"][0] + 1) % 7
    fewer_dev = {**_context(), "x_val": _context()["x_val"][:9], "y_val": _context()["y_val"][:9]}
    folds = {
        "x": _context()["x"],
        "y": _context()["y"],
        "folds": [(np.arange(20), np.arange(20, 40))],
    }
    others = [
        _name(context=changed_row),
        _name(context=relabelled),
        _name(context=fewer_dev),
        _name(context=folds),
        _name(params={"n_neighbors": 3}),
        _name(decides={**DECIDES, "metric": "macro_f1"}),
        _name(decides={**DECIDES, "seed": 2}),
        _name(decides={**DECIDES, "subsample": 500}),
        _name(decides={**DECIDES, "grid": {"n_neighbors": [1, 3]}}),
        _name(module="models.gnb"),  # other code fits the trials
    ]
    assert len(set(others)) == len(others) and base not in others


def test_storage_urls_are_checked_and_shown_without_their_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql+psycopg://ferbench:{SECRET}@db.example:5432/optuna"
    assert masked(url) == "postgresql+psycopg://ferbench:***@db.example:5432/optuna"
    with pytest.raises(ParamsError, match=r"search\.storage: the URL holds a password") as bad:
        make_params(tmp_path, {"search.storage": url})
    assert SECRET not in str(bad.value) and STORAGE_ENV in str(bad.value)
    with pytest.raises(ParamsError, match=r"search\.storage: scheme 'mysql' is not supported"):
        make_params(tmp_path, {"search.storage": "mysql://db.example/optuna"})
    with pytest.raises(ParamsError, match=r"search.grace_s: got 5; must exceed search.heartbeat_s"):
        make_params(tmp_path, {"search.heartbeat_s": 5, "search.grace_s": 5})
    # The environment variable may hold the password; it overrides params.yaml, {dir} filled in.
    params = repo_params()
    assert search.config_for(params, "knn").storage == "sqlite:///artifacts/search/knn/study.db"
    monkeypatch.setenv(STORAGE_ENV, url)
    assert search.config_for(params, "knn").storage == url
    monkeypatch.setenv(STORAGE_ENV, "redis://cache.example/0")
    with pytest.raises(ParamsError, match=f"{STORAGE_ENV}: scheme 'redis' is not supported"):
        search.config_for(params, "knn")


class _PgError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__("server says no")
        self.sqlstate = sqlstate


def test_only_lost_connections_are_retried() -> None:
    def error(cls: type, sqlstate: str | None) -> Exception:
        return cls("SELECT 1", {}, _PgError(sqlstate))

    assert is_transient(error(sqlalchemy.exc.OperationalError, None))  # connection refused
    assert is_transient(error(sqlalchemy.exc.OperationalError, "57P01"))  # admin shutdown
    assert is_transient(error(sqlalchemy.exc.OperationalError, "08006"))  # connection failure
    assert not is_transient(error(sqlalchemy.exc.OperationalError, "28P01"))  # wrong password
    assert not is_transient(error(sqlalchemy.exc.ProgrammingError, "42601"))  # a bug
    assert not is_transient(ValueError("no database involved"))
    # psycopg reports the server's refusals without a SQLSTATE: the message tells them apart.
    refused = 'connection to server at "h", port 5432 failed: Connection refused'
    wrong = 'connection to server at "h", port 5432 failed: FATAL:  password authentication failed'
    assert is_transient(sqlalchemy.exc.OperationalError("", {}, Exception(refused)))
    assert not is_transient(sqlalchemy.exc.OperationalError("", {}, Exception(wrong)))

    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise error(sqlalchemy.exc.OperationalError, "57P03")  # "starting up"
        return "done"

    db = Db("postgresql+psycopg://u:pw@h/d", retry_s=10)
    assert db.call(flaky) == "done" and db.retries == 2

    def refused() -> None:
        raise error(sqlalchemy.exc.OperationalError, "28P01")

    with pytest.raises(StorageError, match=r"postgresql\+psycopg://u:\*\*\*@h/d: failed"):
        db.call(refused)


def test_a_study_under_our_name_holding_another_experiment_is_left_alone(
    fer2013_frame, tmp_path_factory, tmp_path: Path
) -> None:
    from features.store import load_xy

    store = session_store(fer2013_frame, tmp_path_factory)
    x, y, _ = load_xy(store, "train", "hog_landmarks")
    x_val, y_val, _ = load_xy(store, "dev", "hog_landmarks")
    context = {"x": x, "y": y, "x_val": x_val, "y_val": y_val}
    storage = f"sqlite:///{tmp_path}/study.db"
    config = SearchConfig(method="grid", grid={"n_neighbors": [1]}, timeout_s=60, storage=storage)
    options = BuildOptions("hog_landmarks", n_jobs=1)
    first = run_search("knn", {"n_neighbors": 1}, options, context, config)
    study = optuna.load_study(study_name=first.study, storage=storage)
    study.set_user_attr(IDENTITY, {**first.identity, "data": "someone else's"})
    with pytest.raises(StorageError, match=r"holds another experiment \(it differs in data\)"):
        run_search("knn", {"n_neighbors": 1}, options, context, config)
    assert len(optuna.load_study(study_name=first.study, storage=storage).trials) == 1


def test_a_worker_for_a_model_whose_search_is_off_says_so(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    make_params(tmp_path, {"models.svm.search.enabled": False})
    assert search_worker.cli(["svm", "--params", str(tmp_path / "params.yaml")]) == 2


def test_a_connection_lost_while_asking_leaves_no_trial_running_for_ever(
    tmp_path: Path, monkeypatch
) -> None:
    from models.search import WORKER, ask, claimed, fail_orphans, trial_status

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'study.db'}")
    db = Db(f"sqlite:///{tmp_path / 'study.db'}", retry_s=10)
    real_trial = optuna.Trial
    lost = []

    def trial_after_an_outage(*args: object) -> optuna.Trial:
        if not lost:  # the trial is created; the connection drops while reading it back
            lost.append(1)
            raise sqlalchemy.exc.OperationalError("SELECT 1", {}, _PgError("57P01"))
        return real_trial(*args)

    monkeypatch.setattr(optuna, "Trial", trial_after_an_outage)
    trial = ask(db, study)
    assert db.retries == 1 and len(study.get_trials()) == 1 and trial.number == 0

    # A trial whose creation was retried after all (the reply of the insert itself was lost):
    # no worker ever names itself on it, and after the grace period it is failed, unclaimed.
    orphan = study.ask()
    study.enqueue_trial({})  # a waiting trial is nobody's orphan
    trial.set_user_attr(WORKER, "me")
    assert fail_orphans(db, study, study.get_trials(), grace_s=3600) == 0
    assert fail_orphans(db, study, study.get_trials(), grace_s=0) == 1
    states = {t.number: (t.state, trial_status(t)) for t in study.get_trials()}
    assert states[orphan.number] == (optuna.trial.TrialState.FAIL, "orphan")
    assert states[trial.number][0] == optuna.trial.TrialState.RUNNING
    assert claimed(study.get_trials()) == 1
