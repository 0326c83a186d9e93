"""The model stages' records: search result, training record, test metrics, competency cells.

One status vocabulary for all of them (:data:`Status`):

- ``ok``: the step ran and its numbers are in the record;
- ``skipped``: a search that is off (the configured parameters are used);
- ``disabled``: the model is off (``models.<name>.enabled: false``);
- ``failed``: the step raised; ``error`` holds the traceback;
- ``budget_exceeded``: the step was killed at its time budget.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from fer_data.records import DataSource, Record

Status = Literal["ok", "skipped", "disabled", "failed", "budget_exceeded"]


class ClassScores(Record):
    precision: float
    recall: float
    f1: float
    support: int


class Scores(Record):
    """Scores of one test subset (see :func:`models.metrics.score_subset`)."""

    n: int
    accuracy: float
    accuracy_ci95: list[float] | None  # 95% bootstrap interval; None with evaluate.n_boot = 0
    balanced_accuracy: float
    macro_f1: float
    macro_f1_ci95: list[float] | None
    weighted_precision: float
    weighted_recall: float
    weighted_f1: float
    per_class: dict[str, ClassScores]  # by emotion name
    confusion_matrix: list[list[int]]  # rows actual, columns predicted


class TestScores(Record):
    """PublicTest + PrivateTest (``all``), and each half; a half with no rows is ``None``."""

    all: Scores | None
    public: Scores | None
    private: Scores | None


class ModelMetrics(Record):
    """``metrics/models/<model>.json``: one model's test scores, classical or CNN."""

    data: DataSource
    model: str
    feature_set: str
    augmentation: str
    params: dict[str, Any]
    fit_seconds: float | None
    model_bytes: int | None
    predict_ms_per_image: float | None
    test: TestScores | None
    test_center_crop: TestScores | None = None  # CNNs: the centre crop alone (test is 10-crop)
    status: Status
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.test is not None and self.test.all is not None


class SearchRecord(Record):
    """``artifacts/search/<model>/best_params.json``: what ``train`` fits, and how it was chosen."""

    model: str
    params: dict[str, Any]  # the configured parameters updated with the best trial's
    best_value: float | None
    status: Status
    reason: str | None = None  # why a search was skipped
    metric: str | None = None
    scored_on: str | None = None  # "dev" or "k-fold CV on train"
    method: str | None = None  # optuna or grid
    searched: list[str] = Field(default_factory=list)  # the hyper-parameters searched
    # the study's trials per outcome: ok, pruned, timeout, error; lost (its worker died),
    # surplus, running when any
    trials: dict[str, int] = Field(default_factory=dict)
    seconds: float | None = None
    budget_s: float | None = None
    study: str | None = None  # the Optuna study's name: <model>-<digest of its identity>
    storage: str | None = None  # its storage URL, password masked
    workers: int | None = None  # processes (any machine) that ran the study's trials
    ran_here: int | None = None  # trials the stage itself ran (the rest: search-workers)
    # Per trial the stage ran: wall time in Optuna calls (storage, sampler, pruner), of it the
    # database's round trips, and how many SQL statements they were.
    optuna_ms_per_trial: float | None = None
    sql_ms_per_trial: float | None = None
    sql_per_trial: float | None = None


class TrainRecord(Record):
    """``artifacts/models/<model>/train.json`` of a classical model."""

    model: str
    feature_set: str
    augmentation: str
    params: dict[str, Any]
    params_from: Literal["search", "configured"]
    refit_on_dev: bool
    fit_seconds: float | None
    model_bytes: int | None
    train_rows: int | None = None
    status: Status
    error: str | None = None


class CnnTrainRecord(Record):
    """``artifacts/models/cnn_<arch>/train.json``: the CNN's training run."""

    model: str
    status: Status
    params: dict[str, Any]  # the architecture's recipe, parameter count and device
    fit_seconds: float
    model_bytes: int
    train_rows: int
    epochs_run: int
    resumed_at_epoch: int | None
    best_epoch: int
    best_dev_accuracy: float
    predict_ms_per_image: dict[str, float]  # ten_crop, center_crop


class CompetencyCell(Record):
    """One model, untuned, on one feature set."""

    feature_set: str
    status: Status
    train_rows: int | None = None
    error: str | None = None
    accuracy: float | None = None
    public_accuracy: float | None = None
    private_accuracy: float | None = None
    balanced_accuracy: float | None = None
    macro_f1: float | None = None
    fit_seconds: float | None = None
    predict_seconds: float | None = None


class CompetencyRecord(Record):
    """``results/competency/<model>.json``: every feature set's cell of one model."""

    data: DataSource
    model: str
    params: dict[str, Any]  # the built-in defaults the cells were fitted with
    train_rows: int
    cells: list[CompetencyCell]
