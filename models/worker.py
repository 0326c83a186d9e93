"""Run fits in a child process with a wall-clock deadline: a task past it is killed, not awaited.

Native fit loops (libsvm, oneDAL, LightGBM) cannot be interrupted from Python, so a time budget
is only enforceable from outside the process. A :class:`BudgetWorker` keeps one spawned child that
holds the shared data (sent once) and runs one task at a time; a task that misses its deadline
takes the child down with it, and the next task starts a fresh child.

Iterative tasks send intermediate scores through :class:`PipeReporter`; the parent answers each
with prune / go on, so Optuna's pruner runs in the parent next to its study.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Literal

import joblib

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


def _serve(conn: Connection) -> None:
    """Child loop: receive the shared context once, say ready, then run tasks until told to stop.

    Tasks run under joblib's threading backend: the child is daemonic, and joblib's default (loky)
    backend then sets ``n_jobs=1`` for every parallel loop (scikit-learn's RandomForest fitted
    and predicted on one core of two, measured in the train stage's log).
    """
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


@contextlib.contextmanager
def _child_environment() -> Iterator[None]:
    """Environment for the child (read by OpenMP when it loads, so it must be set before spawn).

    OpenMP threads spin while they wait; on a busy 2-core machine LightGBM with 2 threads then ran
    50 rounds in 196 s instead of 35 s (measured). Passive waiting avoids that; a value the user
    set wins.
    """
    previous = os.environ.get("OMP_WAIT_POLICY")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("OMP_WAIT_POLICY", None)


class BudgetWorker:
    """A spawned child process that runs ``fn(context, reporter, **kwargs)`` tasks with deadlines.

    Large payloads (the context, a task's arrays) are sent from a helper thread, so the caller
    only ever waits with a deadline: a child that is slow to start or to read is killed on time.
    """

    def __init__(self, context: dict[str, Any] | None = None) -> None:
        self._context = context or {}
        self._process: mp.process.BaseProcess | None = None
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
        # spawn, not fork: the parent may hold OpenMP / TBB thread pools that a fork would corrupt.
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child,), daemon=True, name="ferbench-fit")
        with _child_environment():
            self._process.start()
        child.close()
        self._conn = parent
        self._send_in_background(self._context)
        try:
            if parent.poll(max(timeout, 0.0)) and parent.recv() == ("ready",):
                return True
        except (EOFError, OSError):
            pass
        self.kill()
        return False

    def kill(self) -> None:
        """Kill the child now (if any) and drop its pipe; the next task starts a fresh one."""
        if self._process is not None:
            self._process.kill()
            self._process.join()
        if self._sender is not None:  # its send fails now that the child is gone
            self._sender.join(timeout=5)
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn, self._sender = None, None, None

    def close(self) -> None:
        """Ask a live child to exit, wait up to 5 s, then :meth:`kill` whatever is left."""
        if self._process is not None and self._process.is_alive() and self._conn is not None:
            try:
                self._conn.send(None)
                self._process.join(timeout=5)
            except (BrokenPipeError, OSError):
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
                self._process.join(timeout=1)
                code = self._process.exitcode
            self.kill()
            return Outcome(
                "error",
                error=f"the fit process died (exit code {code})",
                seconds=time.monotonic() - begin,
            )
