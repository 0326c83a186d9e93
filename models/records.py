"""The model stages' records: search result, training record, test metrics, competency cells.

One status vocabulary for all of them (:data:`Status`):

- ``ok``: the step ran and its numbers are in the record;
- ``skipped``: a search that is off (the configured parameters are used);
- ``disabled``: the model is off (``models.<name>.enabled: false``);
- ``failed``: the step raised; ``error`` holds the traceback;
- ``budget_exceeded``: the step was killed at its time budget.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from fer_data.records import DataSource, Record

Status = Literal["ok", "skipped", "disabled", "failed", "budget_exceeded"]


class ScaleRecord(Record):
    """How a stage scaled params.yaml's sizes and budgets to the data (pipeline/scale.py)."""

    train_rows: int  # rows of the training split
    reference_rows: int  # scale.reference_rows
    by_data: bool  # scale.by_data
    factor: float  # min(1, train_rows / reference_rows), or 1 when by_data is false
    changed: dict[str, list[float]]  # params key -> [as written, as used], for changed values


class ClassScores(Record):
    """Precision, recall, F1 (0-1) and support (rows) of one emotion class."""

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
    # Both halves without the images that have an exact or near copy in train + dev (the
    # duplicates stage): None when no image is left; absent in records made without the table.
    clean: Scores | None = None


class ExternalScores(Record):
    """One model on one external test set (:func:`models.external.score_external_set`)."""

    path: str  # the set as the user gave it
    n_images: int  # faces scored: those of the model's classes
    n_subjects: int | None  # distinct subjects among them; None: the set names none
    bootstrap: Literal["subjects", "images"]  # what the intervals resample
    dropped: dict[str, int]  # faces of classes the model does not have, per class
    scores: Scores | None  # None when prediction failed
    status: Status
    error: str | None = None


class FoldScores(Record):
    """One fold of k-fold cross-validation: its held-out faces' scores (0-1)."""

    status: Status  # ok, or budget_exceeded / failed (then no scores)
    train_rows: int  # fitted: the other folds' faces plus their augmented copies
    test_rows: int  # held out: this fold's faces (originals only)
    accuracy: float | None = None
    macro_f1: float | None = None
    fit_seconds: float | None = None
    error: str | None = None


class KFoldScores(Record):
    """``evaluate.protocol: kfold``: stratified k-fold over train + dev (:mod:`models.kfold`).

    Means and sample standard deviations (ddof=1) only when every fold ran (``status`` ok).
    """

    status: Status  # ok; budget_exceeded / failed (a fold; ``error`` says which); skipped
    reason: str | None = None  # why it was skipped, e.g. "not run (CNN)"
    protocol: str | None = None  # what was folded and how (models.kfold.PROTOCOL)
    k: int | None = None  # evaluate.folds
    seed: int | None = None
    faces: int | None = None  # train + dev faces split into the folds
    augmentation: str | None = None  # mode of the copies added to the training folds
    augmented_rows: int | None = None  # copies available (each used in its face's training folds)
    fit_timeout_s: float | None = None  # each fold's budget (the model's fit_timeout_s)
    folds: dict[str, FoldScores] = Field(default_factory=dict)  # "1".."k"
    accuracy_mean: float | None = None
    accuracy_sd: float | None = None
    macro_f1_mean: float | None = None
    macro_f1_sd: float | None = None
    error: str | None = None


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
    # Cross-dataset: one entry per evaluate.external set (absent when none is configured).
    external: dict[str, ExternalScores] = Field(default_factory=dict)
    # evaluate.protocol kfold: k-fold scores over train + dev (absent with holdout).
    kfold: KFoldScores | None = None

    @property
    def ok(self) -> bool:
        """Whether the model ran and has scores for all test rows."""
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
    scale: ScaleRecord | None = None  # n_trials, timeout_s, subsample scaled to the data
    # How the parameters were chosen among the trials: {"rule": "best"}, or the McNemar rule's
    # two trials, their discordant rows, p-value and which was kept (search.alpha)
    choice: dict[str, Any] = Field(default_factory=dict)


class DevScores(Record):
    """A model's dev scores (fitted without dev) and how they were made."""

    n: int
    accuracy: float
    macro_f1: float
    fitted_on: str  # e.g. "train + mirror" or "train (centre crop, dev-chosen epoch)"


class ExportCheck(Record):
    """The fitted model saved in another form (the SVM's compact RBF decision): proof on dev
    rows that the saved form predicts exactly what the fitted estimator predicts."""

    form: str  # what was saved instead of the fitted estimator
    rows_checked: int
    disagreements: int  # rows whose predicted class differs (0 for identical predictions)


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
    # The same parameters fitted on train (plus augmentation) alone, scored on dev: what
    # `ferbench predict` ranks models by (never the test split). None: no dev split to score.
    dev: DevScores | None = None
    exported: ExportCheck | None = None  # the saved form of the model, when it differs (SVM)


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
    dev: DevScores | None = None  # the saved weights on dev with predict's views (10-crop)
    scale: ScaleRecord | None = None  # epochs scaled to the data


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
    scale: ScaleRecord | None = None  # train_rows scaled to the data


# --- a trained model's self-description (what `ferbench predict` reads) -------------------------

LabelSource = Literal["fer2013", "ferplus"]
ScoreKind = Literal["probability", "ovr_decision"]


class HogSpec(Record):
    orientations: int
    pixels_per_cell: int
    cells_per_block: int


class LandmarkSpec(Record):
    upscale: int
    normalise: bool
    backend: str  # numba or dlib: identical points, speed only


class LbpSpec(Record):
    points: int
    radius: float
    method: str  # uniform or nri_uniform
    grid: int
    norm: str  # l1 or sqrt


class SiftSpec(Record):
    step: int
    size: float
    words: int
    pyramid: list[int]
    assignment: str  # hard or soft
    soft_sigma: float
    power: float
    norm: str  # l2 or none
    vocabulary_images: int  # training faces the vocabulary was learnt from
    vocabulary: str  # file name of the vocabulary, float32 (words, 128), in the card's directory


class HogMultiSpec(Record):
    orientations: int
    pixels_per_cell: list[int]
    cells_per_block: int


class FeatureSpec(Record):
    """How a classical model's input columns are computed from a 48x48 face."""

    feature_set: str  # one of features.names.FEATURE_SETS (a composite: its parts in order)
    hog: HogSpec | None  # None: the feature set has no HOG columns
    landmarks: LandmarkSpec | None  # None: no landmark columns
    lbp: LbpSpec | None = None  # None: no LBP columns
    sift: SiftSpec | None = None  # None: no dense-SIFT bag-of-words columns
    hog_multi: HogMultiSpec | None = None  # None: no multi-scale HOG columns


class CnnSpec(Record):
    """How a CNN's input is made from a 48x48 face."""

    arch: str
    crop: int  # side of the centre crop (and of each of the ten crops)
    mean: float  # normaliser: (pixel - mean) / std, fitted on the training pixels
    std: float
    dropout: float
    views: Literal["ten_crop", "center_crop"]  # what its test score used


class ModelCard(Record):
    """``artifacts/models/<model>/model_card.json``: everything needed to apply a trained model.

    Written by the train and cnn stages beside the weights; ``ferbench predict`` and
    :func:`models.predictor.load_model` read only the card's directory. ``classes`` is a list
    (index = the model's output column) so that an 8-class FER+ model fits the same card.
    """

    FILE: ClassVar[str] = "model_card.json"

    ferbench_version: str  # the code version that wrote it; predict refuses another version
    model: str  # knn, svm, ..., cnn_mini_xception
    kind: Literal["classical", "cnn"]
    weights: str  # file name of the weights, inside the card's directory
    weights_bytes: int
    classes: list[str]
    label_source: LabelSource
    score_kind: ScoreKind  # what the per-class scores are: probabilities or SVC's ovr decision
    image_side: int  # faces are (image_side, image_side) grayscale uint8
    features: FeatureSpec | None = None  # classical models
    cnn: CnnSpec | None = None  # CNNs
    params: dict[str, Any]  # hyper-parameters (classical) or recipe (CNN)
    augmentation: str
    refit_on_dev: bool
    train_rows: int
    dev: DevScores | None  # what the default model is chosen by
    data: DataSource
    commit: str  # git commit of the code that trained it (or why unknown)
