"""The fit process: a fresh interpreter per BudgetWorker, started early by `prelaunch` so its
start-up overlaps the stage's own, and never left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from models import worker
from models.worker import BudgetWorker, prelaunch
from pipeline.model_checks import start_fit_process
from tests.stage_helpers import REPO_ROOT, repo_params


def _pid_and_modules(context: dict, reporter: object) -> tuple[int, bool]:
    return os.getpid(), "sklearn.pipeline" in sys.modules


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_next_worker_runs_its_tasks_in_the_prelaunched_process() -> None:
    prelaunch()
    spare_pid = worker._spare[0][0].pid
    with BudgetWorker() as fits:
        outcome = fits.run(_pid_and_modules, {}, timeout=60)
    # The process started early, with scikit-learn imported before the first task came.
    assert outcome.status == "ok" and outcome.value == (spare_pid, True)
    assert worker._spare is None and not _alive(spare_pid)


def test_a_prelaunched_process_started_elsewhere_is_not_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prelaunch()
    spare_pid = worker._spare[0][0].pid
    monkeypatch.chdir(tmp_path)  # a task's relative paths would resolve elsewhere in it
    with BudgetWorker() as fits:
        outcome = fits.run(_pid_and_modules, {}, timeout=60)
    assert outcome.status == "ok" and outcome.value[0] != spare_pid
    time.sleep(0.1)
    assert not _alive(spare_pid)


def test_a_prelaunched_process_no_worker_takes_ends_with_the_stage() -> None:
    code = "from models import worker; worker.prelaunch(); print(worker._spare[0][0].pid)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert not _alive(int(done.stdout))


def test_a_prelaunched_process_started_with_other_thread_settings_is_not_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prelaunch()
    spare_pid = worker._spare[0][0].pid
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    with BudgetWorker() as fits:
        outcome = fits.run(_pid_and_modules, {}, timeout=60)
    assert outcome.status == "ok" and outcome.value[0] != spare_pid


def test_a_fit_process_that_dies_at_start_up_is_an_error_with_its_exit_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A child that exits before it says ready stands for any start-up failure (a failed import).
    monkeypatch.setattr(
        worker, "_child_command", lambda fd: ([sys.executable, "-c", "raise SystemExit(3)"], {})
    )
    with BudgetWorker() as fits:
        outcome = fits.run(_pid_and_modules, {}, timeout=60)
    assert outcome.status == "error"
    assert outcome.error == "the fit process exited at start-up (exit code 3)"


def test_a_stage_starts_a_fit_process_early_only_for_an_enabled_model() -> None:
    params = repo_params({"models": {"local_svm": {"enabled": False}, "knn": {"enabled": True}}})
    start_fit_process(params, "local_svm")
    assert worker._spare is None  # a disabled model fits nothing
    start_fit_process(params, "knn")
    assert worker._spare is not None
    worker._kill_spare()
