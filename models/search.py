"""Hyper-parameter search with an enforced time budget: Optuna (TPE + median pruning) or a grid,
in one process or shared by several (``ferbench search-worker``) through one study.

Every process runs the same loop: ask the study for a trial, run it in a :class:`BudgetWorker`
with a deadline of ``min(trial_timeout_s, time left in the budget)``, tell the study how it went.
A trial that runs out of time is killed and recorded as failed with ``status=timeout``; the
search as a whole never outlives its budget by more than a worker shutdown (plus, for the stage,
:data:`SETTLE_S` waiting for other workers' last trials). Trials score on the dev split (or on k
folds of the training rows): the test split is never seen here.

Sharing a study (see :mod:`models.study` for its name, storage and heartbeats):

- The budget is the study's: processes run trials until the study holds ``n_trials`` trials
  (running ones included; a trial lost with its worker and retried counts once), or until the
  study's current *round* ends. The first process of a round sets its deadline (now +
  ``timeout_s``, stored in the study); later ones adopt it, so the stage that joins workers
  already running waits no longer than they do.
- Resume: a study is never deleted. Rerunning the same experiment (same identity) reopens its
  study: finished trials are kept and only the missing ones run (raise ``n_trials`` to extend
  it). Under ``dvc repro`` with the default SQLite storage in the stage's output folder, DVC
  deletes that folder before a rerun, so a rerun starts afresh as before; with PostgreSQL (or
  any storage outside the outputs) it resumes.
- Two processes may ask at the same moment for the last trial of the budget; the one whose
  trial number comes later marks its trial ``surplus`` (failed, not counted) and stops.
- Each process seeds its sampler differently (the stage with ``seed``, workers at random) and
  TPE treats running trials as bad (``constant_liar``), so parallel workers do not draw the same
  point.
"""

from __future__ import annotations

import base64
import datetime
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from models import tasks
from models.registry import get_spec
from models.significance import discordant, exact_p_value
from models.spec import BuildOptions
from models.study import (
    Db,
    Heartbeat,
    StorageError,
    differing,
    open_storage,
    study_identity,
    study_name,
)
from models.worker import BudgetWorker, Outcome

MIN_TRIAL_SECONDS = 1.0  # below this much budget left, no new trial is started
ERROR_CHARS = 2000  # traceback tail kept per failed trial
READY_WAIT_S = 30.0  # a joining process waits this long for the study's creator to enqueue
POLL_S = 0.5  # how often the stage looks at other workers' running trials
SETTLE_S = 5.0  # after the deadline, the stage waits this long for other workers' last trials
# Study and trial attributes (user_attrs: they show in trials.csv and optuna-dashboard).
IDENTITY, READY, DEADLINE = "identity", "ready", "deadline"
STATUS, WORKER = "status", "worker"
CORRECT = "correct"  # user attribute: base64 of np.packbits(validation rows classified right)
COUNTED = ("ok", "pruned", "timeout", "error")  # always in the counts, even when 0
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)

Role = Literal["stage", "worker"]


@dataclass(frozen=True)
class SearchConfig:
    method: Literal["optuna", "grid"] = "optuna"
    n_trials: int = 20
    timeout_s: float = 600.0
    trial_timeout_s: float = 300.0
    grid: Mapping[str, list[Any]] = field(default_factory=dict)
    space: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    metric: str = "accuracy"
    storage: str | None = None  # an Optuna storage URL; None keeps the study in memory
    seed: int = 2013
    n_startup_trials: int = 5  # random trials before TPE models the space
    prune: bool = True
    prune_warmup_steps: int = 0
    # The best trial replaces the configured values (the first trial) only when it is right on
    # significantly more validation rows (exact McNemar, two-sided p < alpha); 1.0: always.
    alpha: float = 1.0
    heartbeat_s: int = 10  # a running trial records a heartbeat this often (RDB storages)
    grace_s: int = 60  # no heartbeat for this long: the trial's worker died
    retry_s: float = 120.0  # a lost database connection is retried this long
    # Further settings that decide the trials (augmentation, subsample, CV folds): they join the
    # study's identity.
    decides: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class SearchResult:
    status: Literal["ok", "failed", "budget_exceeded"]
    best_params: dict[str, Any]
    best_value: float | None
    trials: pd.DataFrame
    seconds: float
    counts: dict[str, int]  # the whole study's trials per outcome
    study: str = ""
    storage: str = "in-memory"  # the URL without its password
    ran: int = 0  # trials this process ran
    workers: int = 0  # distinct processes that ran the study's trials
    db_seconds: float = 0.0  # wall time this process spent in Optuna calls, all told
    # Per trial it ran (the budget check, ask, sampling, reports and pruning checks, tell): wall
    # time in Optuna calls, and of it the SQL statements' round trips, and their number.
    optuna_ms_per_trial: float | None = None
    sql_ms_per_trial: float | None = None
    sql_per_trial: float | None = None
    identity: dict[str, Any] = field(default_factory=dict)
    # How the parameters were chosen: the rule, and for the McNemar rule both trials, their
    # discordant rows, the p-value and which was kept (:func:`_chosen`).
    choice: dict[str, Any] = field(default_factory=dict)


def worker_id() -> str:
    """``host:pid``, recorded on every trial a process runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def suggest(trial: optuna.Trial, config: SearchConfig) -> dict[str, Any]:
    """Draw one trial's hyper-parameters from the grid or the Optuna space."""
    if config.method == "grid":
        return {
            name: trial.suggest_categorical(name, list(values))
            for name, values in config.grid.items()
        }
    drawn = {}
    for name, dist in config.space.items():
        if dist["type"] == "float":
            drawn[name] = trial.suggest_float(
                name, dist["low"], dist["high"], log=dist.get("log", False), step=dist.get("step")
            )
        elif dist["type"] == "int":
            drawn[name] = trial.suggest_int(
                name,
                dist["low"],
                dist["high"],
                log=dist.get("log", False),
                step=dist.get("step") or 1,
            )
        else:
            drawn[name] = trial.suggest_categorical(name, list(dist["choices"]))
    return drawn


def _inside(value: Any, dist: Mapping[str, Any]) -> bool:
    if dist["type"] == "categorical":
        return any(value == c and type(value) is type(c) for c in dist["choices"])
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and dist["low"] <= value <= dist["high"]
        and (dist["type"] == "float" or isinstance(value, int))
    )


def _decides(model: str, options: BuildOptions, config: SearchConfig) -> dict[str, Any]:
    searched = (
        {"grid": {k: list(v) for k, v in config.grid.items()}}
        if config.method == "grid"
        else {"space": {k: dict(v) for k, v in config.space.items()}}
    )
    return {
        **dict(config.decides),
        "feature_set": options.feature_set,
        "accelerate": options.accelerate,
        "metric": config.metric,
        "method": config.method,
        **searched,
        "seed": config.seed,
        "n_startup_trials": config.n_startup_trials,
        "prune": config.prune,
        "prune_warmup_steps": config.prune_warmup_steps,
    }


def _sampler_and_pruner(
    config: SearchConfig, role: Role
) -> tuple[optuna.samplers.BaseSampler, optuna.pruners.BasePruner]:
    # A grid is enqueued point by point (see _open_study), so its sampler never draws anything.
    # The stage keeps the configured seed (one process: reproducible); each worker draws its own.
    sampler = optuna.samplers.TPESampler(
        seed=config.seed if role == "stage" else None,
        n_startup_trials=config.n_startup_trials,
        constant_liar=True,
    )
    pruner: optuna.pruners.BasePruner = (
        optuna.pruners.MedianPruner(
            n_startup_trials=config.n_startup_trials, n_warmup_steps=config.prune_warmup_steps
        )
        if config.prune
        else optuna.pruners.NopPruner()
    )
    return sampler, pruner


def _first_trials(config: SearchConfig, base_params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What the study's creator enqueues: every grid point, or the configured values."""
    if config.method == "grid":
        # Optuna's GridSampler stops the study from inside `tell`, which only works under
        # `optimize`; enqueueing every point runs a grid through this same loop, on any worker.
        from sklearn.model_selection import ParameterGrid  # ~1 s to import; grids are rare

        return list(ParameterGrid({k: list(v) for k, v in config.grid.items()}))
    first = {name: base_params[name] for name in config.space if name in base_params}
    if all(_inside(first[name], config.space[name]) for name in first):
        return [first]  # the configured values are always tried first
    return []


def _open_study(
    db: Db,
    storage: optuna.storages.RDBStorage | None,
    identity: dict[str, Any],
    config: SearchConfig,
    role: Role,
    first: list[dict[str, Any]],
    log: Any,
) -> optuna.Study:
    """Create the study (and enqueue ``first``) or join it once its creator is done."""
    name = study_name(identity)
    sampler, pruner = _sampler_and_pruner(config, role)
    kwargs = {"study_name": name, "storage": storage, "sampler": sampler, "pruner": pruner}
    try:
        study = db.call(optuna.create_study, direction="maximize", **kwargs)
    except optuna.exceptions.DuplicatedStudyError:
        study = db.call(optuna.load_study, **kwargs)
        return _join(db, study, identity, first, log)
    if storage is not None and log is not None:
        _log_other_studies(db, storage, identity, name, log)
    _enqueue(db, study, identity, first)
    if log is not None:
        log.info("search: new study %s in %s", name, db.label)
    return study


def _enqueue(
    db: Db, study: optuna.Study, identity: dict[str, Any], first: list[dict[str, Any]]
) -> None:
    db.call(study.set_user_attr, IDENTITY, identity)
    for point in first:
        db.call(study.enqueue_trial, point)
    db.call(study.set_user_attr, READY, True)  # joiners wait for this before asking


def _join(
    db: Db,
    study: optuna.Study,
    identity: dict[str, Any],
    first: list[dict[str, Any]],
    log: Any,
) -> optuna.Study:
    waited = time.monotonic()
    attrs = db.call(lambda: study.user_attrs)
    while not attrs.get(READY) and time.monotonic() - waited < READY_WAIT_S:
        time.sleep(0.2)
        attrs = db.call(lambda: study.user_attrs)
    theirs = attrs.get(IDENTITY)
    if theirs is not None and theirs != identity:
        raise StorageError(
            f"search storage {db.label}: study {study.study_name} holds another experiment "
            f"(it differs in {', '.join(differing(identity, theirs))}); it is left untouched: "
            "rename or delete it yourself if it is yours"
        )
    if not attrs.get(READY):  # its creator died before enqueueing: do it in its place
        _enqueue(db, study, identity, first)
    if log is not None:
        n = len(db.call(study.get_trials, deepcopy=False, states=FINISHED))
        log.info("search: joined study %s in %s (%d trials done)", study.study_name, db.label, n)
    return study


def _log_other_studies(
    db: Db,
    storage: optuna.storages.RDBStorage,
    identity: dict[str, Any],
    name: str,
    log: Any,
) -> None:
    """A new study beside others of the same model: say what differs (a worker whose data or code
    differs from the stage's would otherwise search alone without noticing)."""
    prefix = f"{identity['model']}-"
    others = [
        s
        for s in db.call(optuna.get_all_study_summaries, storage, include_best_trial=False)
        if s.study_name.startswith(prefix) and s.study_name != name
    ]
    for other in others[-3:]:
        theirs = other.user_attrs.get(IDENTITY, {})
        log.info(
            "search: the storage also holds study %s (%d trials), which differs in: %s",
            other.study_name,
            other.n_trials,
            ", ".join(differing(identity, theirs)) or "nothing recorded",
        )


def _round_deadline(db: Db, study: optuna.Study, timeout_s: float, log: Any) -> float:
    """The current round's end (epoch seconds): adopted when one is running, else started now."""
    now = time.time()
    current = db.call(lambda: study.user_attrs).get(DEADLINE)
    if isinstance(current, int | float) and current - now >= MIN_TRIAL_SECONDS:
        if log is not None:
            log.info("search: joins the study's round, %.0f s left", current - now)
        return min(float(current), now + timeout_s)  # never past this process's own budget
    deadline = now + timeout_s
    db.call(study.set_user_attr, DEADLINE, deadline)
    return deadline


def trial_status(trial: optuna.trial.FrozenTrial) -> str:
    """ok, pruned, timeout, error, running, waiting, surplus, orphan (never taken up by a
    worker: :func:`fail_orphans`), or lost (its worker died)."""
    if trial.state == TrialState.COMPLETE:
        return "ok"
    if trial.state == TrialState.PRUNED:
        return "pruned"
    if trial.state == TrialState.RUNNING:
        return "running"
    if trial.state == TrialState.WAITING:
        return "waiting"
    status = trial.user_attrs.get(STATUS)
    # A failed trial is ours (timeout, error, surplus) or was failed by a heartbeat check: lost.
    return status if status in ("timeout", "error", "surplus", "orphan") else "lost"


def _superseded(trials: list[optuna.trial.FrozenTrial]) -> set[int]:
    """Numbers of lost trials that were retried: the retry takes their place in the budget."""
    return {
        t.system_attrs["retry_history"][-1] for t in trials if t.system_attrs.get("retry_history")
    }


def _claims(trial: optuna.trial.FrozenTrial, superseded: set[int]) -> bool:
    """Whether ``trial`` takes a place in the study's budget of ``n_trials``."""
    return (
        trial.state != TrialState.WAITING
        and trial.user_attrs.get(STATUS) not in ("surplus", "orphan")
        and trial.number not in superseded
    )


def claimed(trials: list[optuna.trial.FrozenTrial]) -> int:
    """Trials that count towards ``n_trials``: started, not surplus, not replaced by a retry."""
    superseded = _superseded(trials)
    return sum(_claims(t, superseded) for t in trials)


def _is_surplus(trials: list[optuna.trial.FrozenTrial], number: int, n_trials: int) -> bool:
    superseded = _superseded(trials)
    rank = sum(_claims(t, superseded) for t in trials if t.number <= number)
    return rank > n_trials


def ask(db: Db, study: optuna.Study) -> optuna.Trial:
    """``study.ask()`` in two retried steps: claim a trial, then read it.

    ``Study.ask`` creates (or pops) the trial and then reads the study for the sampler; retried
    as one call, a connection lost after the creation had committed created a second trial and
    left the first RUNNING for ever, holding a place in ``n_trials``. Here only the claim (one
    statement) can leave such an orphan, and :func:`fail_orphans` clears it. Uses Optuna's
    ``Study._pop_waiting_trial_id`` and ``_storage``, as ``Study.ask`` does (Optuna 4).
    """

    def claim() -> int:
        study._thread_local.cached_all_trials = None  # as Study.ask: read the study afresh
        trial_id = study._pop_waiting_trial_id()
        return study._storage.create_new_trial(study._study_id) if trial_id is None else trial_id

    return db.call(optuna.Trial, study, db.call(claim))


def fail_orphans(
    db: Db,
    study: optuna.Study,
    trials: list[optuna.trial.FrozenTrial],
    grace_s: float,
    log: Any = None,
) -> int:
    """Fail the RUNNING ``trials`` (the study's, as just read) that no worker took up within
    ``grace_s`` seconds; how many.

    A worker names itself on its trial right after asking for it; a trial without a worker after
    ``grace_s`` is one whose creation's reply was lost with the connection (:func:`ask`), and no
    process will ever finish it. Its status is ``orphan``; it holds no place in ``n_trials``
    (Optuna's heartbeat check only fails trials that had a beat; this one never had). Start times
    are the asking machine's clock: machines whose clocks differ by ``grace_s`` fail live trials.
    """
    now = datetime.datetime.now()
    orphans = [
        t
        for t in trials
        if t.state == TrialState.RUNNING
        and WORKER not in t.user_attrs
        and t.datetime_start is not None
        and (now - t.datetime_start).total_seconds() > grace_s
    ]
    for t in orphans:
        try:
            db.call(study._storage.set_trial_user_attr, t._trial_id, STATUS, "orphan")
            db.call(study._storage.set_trial_state_values, t._trial_id, TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # finished meanwhile
        if log is not None:
            log.warning("search: trial %d was never taken up by a worker: failed", t.number)
    return len(orphans)


def _tell(db: Db, study: optuna.Study, trial: optuna.Trial, outcome: Outcome, log: Any) -> str:
    """Record ``outcome``; ``lost`` when the trial was failed meanwhile (its heartbeat did not
    reach the storage for ``grace_s``): its retry runs it again, so its result is dropped."""
    try:
        db.call(trial.set_user_attr, STATUS, outcome.status)
        db.call(trial.set_user_attr, "seconds", round(outcome.seconds, 3))
        if outcome.status == "ok":
            # Which validation rows it got right, packed: the McNemar test in :func:`_chosen`.
            packed = base64.b64encode(np.packbits(outcome.value["correct"])).decode()
            db.call(trial.set_user_attr, CORRECT, packed)
            db.call(study.tell, trial, outcome.value["value"])
        elif outcome.status == "pruned":
            db.call(study.tell, trial, state=TrialState.PRUNED)
        else:
            db.call(trial.set_user_attr, "error", (outcome.error or "")[-ERROR_CHARS:])
            db.call(study.tell, trial, state=TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        retried = any(
            trial.number in t.system_attrs.get("retry_history", [])
            for t in db.call(study.get_trials, deepcopy=False)
        )
        if not retried:  # our own tell went through; its reply was lost with the connection
            return outcome.status
        if log is not None:
            log.warning(
                "search: trial %d was failed meanwhile (no heartbeat reached the storage); "
                "its result is dropped and its retry runs it again",
                trial.number,
            )
        return "lost"
    return outcome.status


def _counts(trials: list[optuna.trial.FrozenTrial]) -> dict[str, int]:
    counts = dict.fromkeys(COUNTED, 0)
    for trial in trials:
        status = trial_status(trial)
        if status != "waiting":
            counts[status] = counts.get(status, 0) + 1
    return counts


def run_search(
    model: str,
    base_params: Mapping[str, Any],
    options: BuildOptions,
    context: Mapping[str, Any],
    config: SearchConfig,
    log: Any = None,
    role: Role = "stage",
) -> SearchResult:
    """Search ``model``'s hyper-parameters within ``config.timeout_s`` seconds of wall time.

    Parameters
    ----------
    model
        A zoo key (``models/<model>.py``).
    base_params
        The model's configured values; each trial overrides the searched keys.
    options
        Feature set, acceleration, threads and seed of the estimator.
    context
        ``x`` (float32, n x d), ``y`` (int64, n) plus either ``x_val, y_val`` (hold-out) or
        ``folds`` (k pairs of index arrays into ``x``).
    config
        The search's method, space, budget and storage.
    log
        A logger for one line per trial, or None.
    role
        ``stage`` runs trials, then waits (within the budget) for other workers' running trials,
        so its result is the whole study's; ``worker`` stops once the budget is claimed.

    Returns
    -------
    SearchResult
        The best trial of the whole study (all workers), every trial as a table, counts.

    Raises
    ------
    StorageError
        The storage is unreachable for longer than ``config.retry_s``, refuses the connection,
        or holds another experiment under this study's name.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    start = time.monotonic()
    identity = study_identity(
        model, get_spec(model).build.__module__, base_params, context,
        _decides(model, options, config),
    )  # fmt: skip
    db = Db(config.storage, config.retry_s, log)
    storage = open_storage(db, config.heartbeat_s, config.grace_s, log)
    first = _first_trials(config, base_params)
    study = _open_study(db, storage, identity, config, role, first, log)
    n_trials = min(config.n_trials, len(first)) if config.method == "grid" else config.n_trials
    deadline = _round_deadline(db, study, config.timeout_s, log)
    task = tasks.cv_score if "folds" in context else tasks.holdout_score
    me, ran, spent = worker_id(), 0, np.zeros(3)  # Optuna s, SQL s, SQL statements in trials
    with BudgetWorker(dict(context)) as worker:
        while True:
            before = np.array([db.seconds, db.sql_seconds, db.sql_statements])
            if storage is not None:
                db.call(optuna.storages.fail_stale_trials, study)
            trials = db.call(study.get_trials, deepcopy=False)
            if storage is not None and fail_orphans(db, study, trials, config.grace_s, log):
                trials = db.call(study.get_trials, deepcopy=False)
            remaining = deadline - time.time()
            # (Re)starting the fit process (after a killed trial) spends the search's budget,
            # not the next trial's.
            if (
                claimed(trials) < n_trials
                and remaining >= MIN_TRIAL_SECONDS
                and worker.start(remaining)
                and deadline - time.time() >= MIN_TRIAL_SECONDS
            ):
                timeout = min(config.trial_timeout_s, deadline - time.time())
                ran += _run_trial(
                    db, study, storage, worker, task, model, base_params, options, config,
                    n_trials, timeout, me, log,
                )  # fmt: skip
                spent += np.array([db.seconds, db.sql_seconds, db.sql_statements]) - before
                continue
            running = any(t.state == TrialState.RUNNING for t in trials)
            if role == "stage" and running and remaining > -SETTLE_S:
                time.sleep(POLL_S)  # other workers' trials: wait, they may fail and be retried
                continue
            break
    return _result(db, study, identity, base_params, start, ran, spent, first, config.alpha)


def _run_trial(
    db: Db,
    study: optuna.Study,
    storage: optuna.storages.RDBStorage | None,
    worker: BudgetWorker,
    task: Any,
    model: str,
    base_params: Mapping[str, Any],
    options: BuildOptions,
    config: SearchConfig,
    n_trials: int,
    timeout: float,
    me: str,
    log: Any,
) -> int:
    """Ask, run and tell one trial; 1 if it ran, 0 if it was surplus."""
    trial = ask(db, study)
    # trial._trial_id: Optuna's own heartbeat thread identifies the trial the same way.
    with Heartbeat(storage, trial._trial_id, config.heartbeat_s):
        db.call(trial.set_user_attr, WORKER, me)
        if _is_surplus(db.call(study.get_trials, deepcopy=False), trial.number, n_trials):
            db.call(trial.set_user_attr, STATUS, "surplus")
            db.call(study.tell, trial, state=TrialState.FAIL)
            return 0
        params = {**base_params, **db.call(suggest, trial, config)}

        def on_report(step: int, value: float) -> bool:
            try:
                db.call(trial.report, value, step)
                return bool(db.call(trial.should_prune))
            except optuna.exceptions.UpdateFinishedTrialError:
                return True  # failed meanwhile by a heartbeat check: stop fitting it

        outcome = worker.run(
            task,
            {"model": model, "params": params, "options": options, "metric": config.metric},
            timeout=timeout,
            on_report=on_report,
        )
    status = _tell(db, study, trial, outcome, log)
    if log is not None:
        shown = f"{outcome.value['value']:.4f}" if status == "ok" else status
        log.info("search %s: trial %d %s in %.1f s", model, trial.number, shown, outcome.seconds)
    return 1


def _correct(trial: optuna.trial.FrozenTrial) -> np.ndarray | None:
    """The trial's per-row correctness (bool), padded with False to a multiple of 8 rows: the
    padding is wrong for both trials compared, so never discordant."""
    packed = trial.user_attrs.get(CORRECT)
    if packed is None:
        return None
    return np.unpackbits(np.frombuffer(base64.b64decode(packed), np.uint8)).astype(bool)


def _chosen(
    done: list[optuna.trial.FrozenTrial], first: list[dict[str, Any]], alpha: float
) -> tuple[optuna.trial.FrozenTrial, dict[str, Any]]:
    """The trial whose parameters ``train`` fits, and why.

    The best trial (ties: the earliest), unless a search with one first trial (the configured
    values, chosen earlier: Optuna method) finished it and the best is not right on significantly
    more validation rows than it (exact McNemar test, two-sided p >= ``alpha``): then the first
    trial. The test compares correctness whatever ``metric`` the search maximises. Trial scores
    on a subsample differ by less than their noise (six SVM trials on FER2013
    spanned 0.7 points of dev accuracy); adopting such a winner swaps values chosen on all the
    data for a draw of the noise.
    """
    best = max(done, key=lambda t: (t.value, -t.number))
    if len(first) != 1 or alpha >= 1.0:
        return best, {"rule": "best"}
    configured = [t for t in done if t.system_attrs.get("fixed_params") == first[0]]
    if not configured or configured[0].number == best.number:
        return best, {"rule": "best"}
    incumbent = configured[0]
    right_best, right_first = _correct(best), _correct(incumbent)
    if right_best is None or right_first is None:
        return best, {"rule": "best"}  # trials from before correctness was recorded
    only_best, only_first = discordant(right_best, right_first)
    p_value = exact_p_value(only_best, only_first)
    why = {
        "rule": f"first unless p < {alpha}",
        "best_trial": best.number,
        "best_value": best.value,
        "first_trial": incumbent.number,
        "only_best_right": only_best,
        "only_first_right": only_first,
        "p_value": round(p_value, 4),
    }
    if only_best > only_first and p_value < alpha:
        return best, {**why, "kept": "best"}
    return incumbent, {**why, "kept": "first"}


def _result(
    db: Db,
    study: optuna.Study,
    identity: dict[str, Any],
    base_params: Mapping[str, Any],
    start: float,
    ran: int,
    spent: np.ndarray,
    first: list[dict[str, Any]],
    alpha: float,
) -> SearchResult:
    trials = db.call(study.get_trials, deepcopy=False)
    counts = _counts(trials)
    # The packed per-row correctness is for the McNemar rule, not for reading.
    table = db.call(study.trials_dataframe).drop(columns=f"user_attrs_{CORRECT}", errors="ignore")
    workers = len({t.user_attrs[WORKER] for t in trials if WORKER in t.user_attrs})
    common = {
        "trials": table,
        "seconds": time.monotonic() - start,
        "counts": counts,
        "study": study.study_name,
        "storage": db.label,
        "ran": ran,
        "workers": workers,
        "db_seconds": db.seconds,
        "optuna_ms_per_trial": float(1000.0 * spent[0] / ran) if ran else None,
        "sql_ms_per_trial": float(1000.0 * spent[1] / ran) if ran else None,
        "sql_per_trial": float(spent[2] / ran) if ran else None,
        "identity": identity,
    }
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    if done:
        best, choice = _chosen(done, first, alpha)
        return SearchResult(
            "ok", {**base_params, **best.params}, best.value, **common, choice=choice
        )
    unscored = counts["timeout"] or not any(counts.values())
    return SearchResult(
        "budget_exceeded" if unscored else "failed", dict(base_params), None, **common
    )
