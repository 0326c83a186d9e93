"""The Optuna study behind a search: its name (the experiment's identity), its storage, and the
machinery that lets several machines share it safely.

Identity
    A study's name is ``<model>-<12 hex digits>``, a BLAKE2b digest of everything that decides
    its trials (:func:`study_identity`): the model, feature set and augmentation, a fingerprint of
    the exact rows a trial fits and scores on (feature matrix bytes, labels, folds), the
    configured parameters, the grid or space, the metric, the CV protocol, the seed and subsample,
    the sampler and pruner settings, and the source of the code that fits a trial. Two different
    experiments therefore never share a study, and the same experiment finds its own again.
    Budgets (``n_trials``, time limits), thread counts and the storage itself are not part of it:
    they decide how many trials run and where, not what one trial computes.

Storage
    Any SQLAlchemy URL Optuna's :class:`optuna.storages.RDBStorage` takes; ferbench supports
    SQLite and PostgreSQL (psycopg 3, ``postgresql+psycopg://``). Trials record a heartbeat; one
    whose worker died (no heartbeat for ``grace_s``) is failed by whichever process looks next and
    retried once as a new trial (Optuna's ``RetryHeartbeatStaleTrialCallback``). Lost connections
    (a database restart) are retried for ``retry_s`` seconds with back-off, then reported as one
    :class:`StorageError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import json
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import optuna
import sqlalchemy
from optuna.exceptions import StorageInternalError
from optuna.storages import RetryHeartbeatStaleTrialCallback

from fer_data.errors import DataError

# The modules whose source decides what one trial computes (besides the model's own module).
TRIAL_CODE = ("models.tasks", "models.scaling", "models.spec", "models.hyper")
NAME_DIGITS = 12
# SQLSTATE classes of a lost or refused connection: 08 connection exception, 57 operator
# intervention (admin shutdown, "the database system is starting up"), 53 too many connections.
TRANSIENT_SQLSTATE = ("08", "57", "53")
# Connection errors without SQLSTATE that no retry can cure (PostgreSQL's FATAL replies, SQLite).
PERMANENT_HINTS = (
    "authentication failed",
    "does not exist",
    "no pg_hba.conf entry",
    "permission denied",
    "no password supplied",
    "unable to open database file",
    "no such table",
)
# Concurrent CREATE TABLE / TYPE: duplicate table, duplicate object, unique violation.
DUPLICATE_SQLSTATE = ("42P07", "42710", "23505")
SCHEMA_ATTEMPTS = 5
BACKOFF_S = (0.25, 0.5, 1.0, 2.0, 4.0)  # then every 4 s until retry_s is spent


class StorageError(DataError):
    """The study's storage is unreachable, refuses us, or holds another experiment under our
    name; the message names the storage (without its password) and what went wrong."""


def masked(url: str | None) -> str:
    """``url`` with its password replaced by ``***`` (what logs and records may show)."""
    if url is None:
        return "in-memory"
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return "<unparsable storage URL>"


# --- identity -------------------------------------------------------------------------------------


def _digest(*parts: bytes) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def fingerprint(*arrays: Any) -> str:
    """A digest of arrays' dtypes, shapes and bytes (lists of index arrays included, for folds).

    Parameters
    ----------
    *arrays
        ``np.ndarray`` of any shape and dtype, or (nested) lists / tuples of them.

    Returns
    -------
    str
        32 hex digits (BLAKE2b, ``hashlib``); equal arrays give equal digests on every machine.
    """
    parts: list[bytes] = []

    def add(value: Any) -> None:
        if isinstance(value, list | tuple):
            parts.append(f"seq{len(value)}".encode())
            for item in value:
                add(item)
            return
        array = np.ascontiguousarray(value)
        parts.append(f"{array.dtype.str}{array.shape}".encode())
        parts.append(array.tobytes())

    for value in arrays:
        add(value)
    return _digest(*parts)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr, separators=(",", ":"))


def code_fingerprint(model_module: str) -> str:
    """Digest of the source of ``model_module`` and :data:`TRIAL_CODE`: what fits and scores."""
    sources = [
        inspect.getsource(importlib.import_module(name)).encode()
        for name in (model_module, *TRIAL_CODE)
    ]
    return _digest(*sources)


def study_identity(
    model: str,
    model_module: str,
    base_params: Mapping[str, Any],
    context: Mapping[str, Any],
    decides: Mapping[str, Any],
) -> dict[str, Any]:
    """Everything that decides a search's trials, as a JSON-able mapping.

    Parameters
    ----------
    model, model_module
        The zoo key (``lightgbm``) and the module that builds it (``models.lightgbm``).
    base_params
        The configured hyper-parameters (the searched ones are overridden per trial).
    context
        The search's data: ``x`` (float32, n x d), ``y`` (int64, n) and either ``x_val, y_val``
        or ``folds`` (k pairs of index arrays).
    decides
        Small settings that decide trials: feature set, augmentation, subsample, CV folds,
        metric, seed, method, grid / space, sampler and pruner settings.

    Returns
    -------
    dict
        Small values as they are, large ones as digests: ``data`` (the rows fitted and scored),
        ``params``, ``code``.
    """
    held_out = ("folds",) if "folds" in context else ("x_val", "y_val")
    return {
        "model": model,
        **{key: decides[key] for key in sorted(decides)},
        "params": _digest(_canonical(dict(base_params)).encode()),
        "data": fingerprint(*(context[k] for k in ("x", "y", *held_out))),
        "code": code_fingerprint(model_module),
    }


def study_name(identity: Mapping[str, Any]) -> str:
    """``<model>-<digest>``: the name every process computing ``identity`` agrees on."""
    return f"{identity['model']}-{_digest(_canonical(dict(identity)).encode())[:NAME_DIGITS]}"


def differing(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> list[str]:
    """The identity components in which two studies differ (for a helpful log line)."""
    return sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))


# --- a database that may go away ------------------------------------------------------------------


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def is_transient(exc: BaseException) -> bool:
    """True for a lost, refused or busy connection (worth retrying); False for anything else
    (a wrong password, a missing driver, a bad URL, a bug)."""
    for err in _chain(exc):
        if isinstance(err, sqlalchemy.exc.DBAPIError):
            if err.connection_invalidated:
                return True
            code = getattr(err.orig, "sqlstate", None)
            if code:
                return str(code)[:2] in TRANSIENT_SQLSTATE
            # No SQLSTATE: the connection could not be made (refused, or the server said why:
            # psycopg reports a wrong password without one), or SQLite is locked or missing.
            if any(hint in str(err.orig) for hint in PERMANENT_HINTS):
                return False
            return isinstance(err, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError)
    return False


def _reason(exc: BaseException) -> str:
    for err in _chain(exc):
        if isinstance(err, sqlalchemy.exc.DBAPIError) and err.orig is not None:
            text = str(err.orig)
            break
    else:
        text = str(exc) or type(exc).__name__
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


class Db:
    """Calls into the storage with retries on transient failures, and what they cost.

    ``seconds``: wall time inside Optuna calls made through :meth:`call` (storage, and the
    sampler's and pruner's own work, retries included). ``sql_seconds`` and ``sql_statements``:
    the SQL statements those calls sent, timed from execute to result (the database round trips),
    counted once :meth:`watch` has seen the engine; the heartbeat thread's are left out.
    """

    def __init__(self, url: str | None, retry_s: float, log: Any = None) -> None:
        self.url = url
        self.label = masked(url)
        self.retry_s = retry_s
        self.log = log
        self.seconds = 0.0
        self.calls = 0
        self.retries = 0
        self.sql_seconds = 0.0
        self.sql_statements = 0
        self._thread = threading.get_ident()

    def watch(self, engine: sqlalchemy.engine.Engine) -> None:
        """Time every SQL statement this thread sends through ``engine`` (SQLAlchemy events)."""

        def before(conn: Any, *_: Any) -> None:
            conn.info["ferbench_t0"] = time.perf_counter()

        def after(conn: Any, *_: Any) -> None:
            started = conn.info.pop("ferbench_t0", None)
            if started is not None and threading.get_ident() == self._thread:
                self.sql_seconds += time.perf_counter() - started
                self.sql_statements += 1

        sqlalchemy.event.listen(engine, "before_cursor_execute", before)
        sqlalchemy.event.listen(engine, "after_cursor_execute", after)

    def error(self, exc: BaseException, what: str) -> StorageError:
        return StorageError(f"search storage {self.label}: {what}: {_reason(exc)}")

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``, retried on transient database errors for ``retry_s``.

        Raises
        ------
        StorageError
            The database stayed unreachable for ``retry_s`` seconds, or failed otherwise.
        """
        start = time.monotonic()
        attempt = 0
        try:
            while True:
                try:
                    with warnings.catch_warnings():
                        # Heartbeats outside Study.optimize and fail_stale_trials are Optuna's
                        # documented mechanism, marked experimental; the ask/tell loop is ours.
                        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                        warnings.filterwarnings("ignore", message="Heartbeat of storage")
                        return fn(*args, **kwargs)
                except (sqlalchemy.exc.SQLAlchemyError, StorageInternalError) as exc:
                    waited = time.monotonic() - start
                    if not is_transient(exc):
                        raise self.error(exc, "failed") from exc
                    if waited >= self.retry_s:
                        raise self.error(
                            exc, f"unreachable for {waited:.0f} s (search.retry_s)"
                        ) from exc
                    if attempt == 0 and self.log is not None:
                        self.log.warning(
                            "search storage %s: %s; retrying for up to %.0f s",
                            self.label,
                            _reason(exc),
                            self.retry_s,
                        )
                    pause = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
                    time.sleep(min(pause, max(self.retry_s - waited, 0.0) + 0.01))
                    attempt += 1
                    self.retries += 1
                except ImportError as exc:
                    raise StorageError(
                        f"search storage {self.label}: no database driver for this URL ({exc}); "
                        "ferbench supports sqlite:/// and postgresql+psycopg:// URLs"
                    ) from exc
                except sqlalchemy.exc.ArgumentError as exc:
                    raise StorageError(f"search storage {self.label}: bad URL: {exc}") from exc
        finally:
            self.seconds += time.monotonic() - start
            self.calls += 1


# --- storage and heartbeats -----------------------------------------------------------------------


class LostTrialCallback:
    """Optuna's stale-trial callback: log the lost trial, then retry it once as a new trial."""

    def __init__(self, log: Any = None) -> None:
        self.log = log
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._retry = RetryHeartbeatStaleTrialCallback(max_retry=1)

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if self.log is not None:
            worker = trial.user_attrs.get("worker", "?")
            self.log.warning(
                "search %s: trial %d of worker %s sent no heartbeat: failed, retried once",
                study.study_name,
                trial.number,
                worker,
            )
        self._retry(study, trial)


def open_storage(
    db: Db, heartbeat_s: int, grace_s: int, log: Any = None
) -> optuna.storages.RDBStorage | None:
    """An :class:`optuna.storages.RDBStorage` on ``db.url`` with heartbeats; None in memory.

    PostgreSQL connections are checked before use (``pool_pre_ping``), so a restarted server
    costs one reconnect instead of a failed call; SQLite waits up to 60 s on a locked file.
    """
    if db.url is None:
        return None
    url = db.url
    if url.startswith(("postgresql://", "postgres://")):  # SQLAlchemy would pick psycopg2
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    engine: dict[str, Any] = (
        {"connect_args": {"timeout": 60}}
        if url.startswith("sqlite")
        else {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    )
    for attempt in range(SCHEMA_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = db.call(
                    optuna.storages.RDBStorage,
                    url,
                    engine_kwargs=engine,
                    heartbeat_interval=heartbeat_s,
                    grace_period=grace_s,
                    heartbeat_stale_trial_callback=LostTrialCallback(log),
                )
            db.watch(storage.engine)
            return storage
        except StorageError as exc:
            # Workers starting together on an empty database race to create Optuna's tables;
            # the losers' CREATE fails on the winner's rows. The tables exist now: try again.
            if attempt + 1 == SCHEMA_ATTEMPTS or not _schema_race(exc):
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _schema_race(exc: BaseException) -> bool:
    for err in _chain(exc):
        if isinstance(err, sqlalchemy.exc.IntegrityError):
            return True
        code = getattr(getattr(err, "orig", None), "sqlstate", None)
        if code in DUPLICATE_SQLSTATE:
            return True
    return False


class Heartbeat:
    """Record a trial's heartbeat every ``interval`` seconds from a thread, while it runs.

    A failed beat (the database is restarting) is skipped: the next one may succeed, and the
    grace period covers several missed beats.
    """

    def __init__(
        self, storage: optuna.storages.RDBStorage | None, trial_id: int, interval: float
    ) -> None:
        self._storage = storage
        self._trial_id = trial_id
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _beat(self) -> None:
        assert self._storage is not None
        while True:
            # A missed beat (the database restarts) is retried at the next interval.
            with contextlib.suppress(Exception):
                self._storage.record_heartbeat(self._trial_id)
            if self._stop.wait(self._interval):
                return

    def __enter__(self) -> Heartbeat:
        if self._storage is not None:
            self._thread = threading.Thread(
                target=self._beat, daemon=True, name="ferbench-heartbeat"
            )
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
