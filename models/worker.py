"""Run fits in a child process with a wall-clock deadline: a task past it is killed, not awaited.

Native fit loops (libsvm, oneDAL, LightGBM) cannot be interrupted from Python, so a time budget
is only enforceable from outside the process. A :class:`BudgetWorker` keeps one child process (the
fit process, :mod:`models.fit_process`) that holds the shared data (sent once) and runs one task at
a time; a task that misses its deadline takes the child down with it, and the next task starts a
fresh child.

Iterative tasks send intermediate scores through :class:`PipeReporter`; the parent answers each
with prune / go on, so Optuna's pruner runs in the parent next to its study.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, Pipe
from pathlib import Path
from typing import Any, Literal

import joblib

from models.openmp import openmp_wait_settings
from models.spec import Pruned

Status = Literal["ok", "error", "timeout", "pruned"]
# on_report(step, value) -> True to prune
OnReport = Callable[[int, float], bool]


@dataclass(frozen=True)
class Outcome:
    """How one task ended: status, its return value or error text, and wall-clock seconds."""

    status: Status
    value: Any = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def report_status(self) -> str:
        """The status a metrics file records: ok, budget_exceeded (timeout) or failed."""
        return {"ok": "ok", "timeout": "budget_exceeded"}.get(self.status, "failed")


class PipeReporter:
    """The child's end: send a score, await the parent's verdict, raise :class:`Pruned` if told."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def report(self, step: int, value: float) -> None:
        """Send ``(step, value)`` to the parent and wait for its answer.

        Raises
        ------
        models.spec.Pruned
            If the parent answers "prune".
        """
        self._conn.send(("report", int(step), float(value)))
        if self._conn.recv():
            raise Pruned(f"pruned at step {step} (value {value:.4f})")


def serve(conn: Connection) -> None:
    """The fit process's loop: take the parent's ``sys.path`` and the shared context, say ready,
    then run tasks until told to stop.

    Tasks run under joblib's threading backend, so a model's ``n_jobs`` are threads of this one
    process; joblib's default (loky) would start worker processes of its own, each importing
    scikit-learn again (and sets ``n_jobs=1`` inside a daemonic child: RandomForest fitted on one
    core of two, measured in the train stage's log when the child was one).
    """
    sys.path[:0] = [entry for entry in conn.recv() if entry not in sys.path]
    # Every task fits or applies a scikit-learn pipeline: import it (~1 s) before the context
    # arrives, while a prelaunched process's parent is still setting up (see `prelaunch`).
    import sklearn.pipeline  # noqa: F401

    context = conn.recv()
    conn.send(("ready",))
    reporter = PipeReporter(conn)
    while True:
        task = conn.recv()
        if task is None:
            return
        fn, kwargs = task
        try:
            with joblib.parallel_config(backend="threading"):
                value = fn(context, reporter, **kwargs)
            conn.send(("ok", value))
        except Pruned as exc:
            conn.send(("pruned", str(exc)))
        except BaseException:
            conn.send(("error", traceback.format_exc()))


def _child_env() -> dict[str, str]:
    """The environment a fit process starts with: this one, OpenMP's wait settings (read when
    OpenMP loads, :mod:`models.openmp`) and the project on ``PYTHONPATH``."""
    root = str(Path(__file__).resolve().parents[1])  # where the models package lives
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        **openmp_wait_settings(),
        "PYTHONPATH": root if not path else os.pathsep.join((root, path)),
    }


def _child_command(fd: int) -> tuple[list[str], dict[str, str]]:
    """Command line and environment of a fit process that talks over file descriptor ``fd``.

    A fresh interpreter (``python -m models.fit_process``), not a ``multiprocessing`` spawn: a
    spawned child first re-imports the parent's ``__main__`` (the whole stage module), and a fork
    would copy the parent's OpenMP / TBB thread pools in a broken state.
    """
    from models import fit_process  # its module name; imported here, as it imports this module

    return [sys.executable, "-m", fit_process.__name__, str(fd)], _child_env()


# A fit process and the parent's end of its pipe.
Child = tuple["subprocess.Popen[bytes]", Connection]
# Started by `prelaunch`, taken by the next BudgetWorker: the process, and what it was started
# with (`_launch_settings`), which the taker's must equal.
_spare: tuple[Child, tuple[str, list[str], list[str | None]]] | None = None


# The environment variables a spare must have been started with: how its threads run and where
# it imports from. Others may change on the way (OpenCV's import sets LD_LIBRARY_PATH).
_SETTINGS_ENV = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "PYTHONPATH")


def _launch_settings() -> tuple[str, list[str], list[str | None]]:
    """What a fit process started now would inherit: working directory, sys.path and the
    environment variables of ``_SETTINGS_ENV``."""
    env = _child_env()
    return os.getcwd(), list(sys.path), [env.get(name) for name in _SETTINGS_ENV]


def _launch() -> Child:
    """Start a fit process and send it ``sys.path`` (small: it needs it to unpickle anything)."""
    parent, child = Pipe()  # duplex, over a socket pair
    command, env = _child_command(child.fileno())
    try:  # POSIX only (pass_fds), as the whole project
        process = subprocess.Popen(
            command, pass_fds=(child.fileno(),), env=env, stdin=subprocess.DEVNULL
        )
    except BaseException:
        parent.close()
        raise
    finally:
        child.close()
    with contextlib.suppress(OSError):  # it died already: `BudgetWorker.start` reports how
        parent.send(sys.path)
    return process, parent


def _kill_spare() -> None:
    global _spare
    if _spare is not None:
        ((process, conn), _), _spare = _spare, None
        process.kill()
        process.wait()
        conn.close()


def prelaunch() -> None:
    """Start a fit process now, for the next :class:`BudgetWorker` of this process to take.

    A fit process's start-up (a fresh interpreter importing scikit-learn, ~1.2 s on a 2-core
    machine) then runs beside the stage's own (checking its parameters, reading its data) instead
    of after it. One that no worker takes is killed when this process exits.
    """
    global _spare
    if _spare is None:
        _spare = _launch(), _launch_settings()
        atexit.register(_kill_spare)


def _take_spare() -> Child | None:
    """The prelaunched fit process, if any is alive and was started as one would be now (the same
    :func:`_launch_settings`); otherwise it is killed."""
    global _spare
    if _spare is None:
        return None
    child, settings = _spare
    if child[0].poll() is not None or settings != _launch_settings():
        _kill_spare()
        return None
    _spare = None
    atexit.unregister(_kill_spare)
    return child


class BudgetWorker:
    """A child process that runs ``fn(context, reporter, **kwargs)`` tasks with deadlines.

    Large payloads (the context, a task's arrays) are sent from a helper thread, so the caller
    only ever waits with a deadline: a child that is slow to start or to read is killed on time.
    """

    def __init__(self, context: dict[str, Any] | None = None) -> None:
        self._context = context or {}
        self._process: subprocess.Popen[bytes] | None = None
        self._start_error: str | None = None  # why the last start failed, if the child exited
        self._conn: Connection | None = None
        self._sender: threading.Thread | None = None

    def __enter__(self) -> BudgetWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send_in_background(self, payload: object) -> None:
        conn = self._conn

        def send() -> None:
            with contextlib.suppress(OSError, ValueError):  # the child was killed meanwhile
                conn.send(payload)

        self._sender = threading.Thread(target=send, daemon=True, name="ferbench-send")
        self._sender.start()

    def start(self, timeout: float) -> bool:
        """Start the child and hand it the context; False (and no child) if not ready in time.

        Parameters
        ----------
        timeout : float
            Seconds to wait for the child to load the context and say ready.

        Returns
        -------
        bool
            True if a child is ready (also when one was already running).
        """
        if self._process is not None:
            return True
        self._start_error = None
        self._process, self._conn = _take_spare() or _launch()
        atexit.register(self.kill)  # like a daemonic child: never outlives the stage
        self._send_in_background(self._context)
        parent = self._conn
        try:
            if parent.poll(max(timeout, 0.0)) and parent.recv() == ("ready",):
                return True
        except (EOFError, OSError):  # the child exited (or is exiting) before it was ready
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self._process.wait(timeout=5)
                self._start_error = f"the fit process exited at start-up (exit code {code})"
        self.kill()
        return False

    def kill(self) -> None:
        """Kill the child now (if any) and drop its pipe; the next task starts a fresh one."""
        if self._process is not None:
            atexit.unregister(self.kill)
            self._process.kill()
            self._process.wait()
        if self._sender is not None:  # its send fails now that the child is gone
            self._sender.join(timeout=5)
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn, self._sender = None, None, None

    def close(self) -> None:
        """Ask a live child to exit, wait up to 5 s, then :meth:`kill` whatever is left.

        While a payload is still being sent (a task abandoned by an exception), the child is
        killed at once: a second message would interleave with it on the pipe.
        """
        sending = self._sender is not None and self._sender.is_alive()
        if (
            not sending
            and self._process is not None
            and self._process.poll() is None
            and self._conn is not None
        ):
            try:
                self._conn.send(None)
                self._process.wait(timeout=5)
            except (BrokenPipeError, OSError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def run(
        self,
        fn: Callable[..., Any],
        kwargs: dict[str, Any],
        timeout: float,
        on_report: OnReport | None = None,
    ) -> Outcome:
        """Run ``fn`` in the child; give up (and kill the child) after ``timeout`` seconds.

        The deadline includes starting the child when none is running, so a caller's budget holds;
        call :meth:`start` first to keep the start out of a task's time.

        Parameters
        ----------
        fn : callable
            A module-level task ``fn(context, reporter, **kwargs)`` (see :mod:`models.tasks`);
            it and ``kwargs`` must pickle.
        kwargs : dict
            Keyword arguments of the task.
        timeout : float
            Wall-clock budget in seconds, from this call to the task's result.
        on_report : callable, optional
            ``on_report(step, value) -> bool`` for each intermediate score; True prunes the
            task. None never prunes.

        Returns
        -------
        Outcome
            ``ok`` with the task's return value; ``pruned``; ``timeout`` (the child is killed);
            or ``error`` with the child's traceback text, or "the fit process died" when the
            child exited. Exceptions inside the task never propagate to the caller.
        """
        begin = time.monotonic()
        deadline = begin + timeout
        if not self.start(timeout):
            if self._start_error is not None:
                return Outcome("error", error=self._start_error, seconds=time.monotonic() - begin)
            return Outcome(
                "timeout",
                error=f"the fit process did not start within {timeout:.0f} s",
                seconds=time.monotonic() - begin,
            )
        assert self._conn is not None
        try:
            self._send_in_background((fn, kwargs))
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._conn.poll(remaining):
                    self.kill()
                    return Outcome(
                        "timeout",
                        error=f"exceeded {timeout:.0f} s",
                        seconds=time.monotonic() - begin,
                    )
                kind, *payload = self._conn.recv()
                if kind == "report":
                    self._conn.send(bool(on_report(*payload)) if on_report else False)
                    continue
                seconds = time.monotonic() - begin
                if kind == "ok":
                    return Outcome("ok", value=payload[0], seconds=seconds)
                if kind == "pruned":
                    return Outcome("pruned", error=payload[0], seconds=seconds)
                return Outcome("error", error=payload[0], seconds=seconds)
        except (EOFError, OSError):
            code = None
            if self._process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    code = self._process.wait(timeout=1)
            self.kill()
            return Outcome(
                "error",
                error=f"the fit process died (exit code {code})",
                seconds=time.monotonic() - begin,
            )
