"""``params.yaml``: its schema, and validation on load with the key path of every bad value.

``params.yaml`` is the single source of every value: the schema below holds types and ranges,
never defaults, so a key missing from the file is an error that names it. Every stage loads the
whole file through :func:`load_params`, so a bad value anywhere fails before any work starts, with
a message such as::

    params.yaml: invalid parameters
      - data.dev_fraction: got 1.5; Input should be less than 1

Checks that need a model's own module (its hyper-parameters' names and ranges, declared beside
the estimator) live in :mod:`pipeline.model_checks`: they run for the model a stage reads, and
``ferbench check`` runs them for every model.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from features.names import FEATURE_SETS, STORED_SETS, stored_parts
from models.cnn.names import ARCHITECTURES, MIN_CROP, TARGET_SCHEMES, model_name
from models.names import MODEL_NAMES
from pipeline import paths

DEFAULT_PARAMS = paths.PARAMS_FILE
# A hyper-parameter value as params.yaml can hold it.
Scalar = bool | int | float | str | None
AUGMENT_MODES = ("balanced", "full", "mirror", "reframe")
AUGMENT_OPS = ("flip", "brightness", "contrast")
# Class names an extra training source may add: FER2013's seven and FER+'s contempt (ingest checks
# that they are in the label space of data.labels).
EXTRA_CLASSES = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral", "Contempt")
MAIN_ORIGIN = "fer2013"  # the origin of the data.path input's rows (fer_data.faces.MAIN_ORIGIN)


def _unique_entries(value: list[str]) -> list[str]:
    if len(set(value)) != len(value):
        raise ValueError(f"entries must be unique, got {value}")
    return value


# A list whose entries may each appear once (modes, operations, feature sets, architectures).
Unique = AfterValidator(_unique_entries)


class ParamsError(ValueError):
    """``params.yaml`` is missing, unreadable or has bad values; the message names each key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Fraction = Annotated[float, Field(gt=0.0, lt=1.0)]


class ExtraSourceParams(_Section):
    """One extra training source (``data.extra_train.<name>``)."""

    # A FER2013-shaped CSV (plain or gzip; `emotion`, `pixels`), an image folder (<label>/<image>)
    # or a tar/zip archive of either: read as evaluate.external's sets are.
    path: Path
    # Their label -> a class name (any case) or null (drop, counted). null (no map): the labels
    # must be FER2013 codes 0-6 or class names (a folder named disgust/).
    label_map: Annotated[dict[str, str | None], Field(min_length=1)] | None
    # The classes whose faces join the train split (the others are dropped, counted).
    classes: Annotated[list[str], Field(min_length=1), Unique]
    # At most this many faces join (a seeded draw stratified over `classes`).
    max_rows: Annotated[int, Field(ge=1)]
    resize_images: bool  # images not 48x48: resize them (counted) instead of rejecting them

    @field_validator("label_map", mode="before")
    @classmethod
    def _labels_as_text(cls, value: object) -> object:
        # YAML reads `0: Angry` with an int key; labels are compared as text.
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    @field_validator("classes")
    @classmethod
    def _class_names(cls, value: list[str]) -> list[str]:
        names = {c.lower(): c for c in EXTRA_CLASSES}
        bad = [c for c in value if c.strip().lower() not in names]
        if bad:
            raise ValueError(f"{bad}: expected class names ({', '.join(EXTRA_CLASSES)}, any case)")
        return [names[c.strip().lower()] for c in value]


class DataParams(_Section):
    # auto: the data at `path` when there is any, else the synthetic demo set (only when `path` is
    # the default and nothing is found there); path: require it; synthetic: always the demo set.
    source: Literal["auto", "path", "synthetic"]
    # What the user points at: a FER2013 CSV (plain or gzip), a tar/zip archive, an image folder
    # (train/ and test/), or a folder holding one of them (default: data/raw).
    path: Path
    # Image folders: resize images that are not 48x48 (counted) instead of rejecting them.
    resize_images: bool
    # Image folders: processes decoding images.
    n_jobs: Annotated[int, Field(ge=1, le=64)]
    synthetic_rows: Annotated[int, Field(ge=70, le=200_000)]
    dev_fraction: Fraction
    # An image whose pixel standard deviation is at most this is blank (all-black, constant).
    blank_std_max: Annotated[float, Field(ge=0.0)]
    keep_blank_in_test: bool
    # The stage fails when more than this fraction of data rows is rejected.
    max_reject_fraction: Annotated[float, Field(ge=0.0, le=1.0)]
    # fer2013: the CSV's own 7 labels. ferplus: FER+'s 8 majority labels (Barsoum et al. 2016)
    # from the vote file at ferplus_path, row-aligned with the FER2013 CSV (checked).
    labels: Literal["fer2013", "ferplus"]
    # The FER+ vote file fer2013new.csv, or a folder holding it (read only when labels: ferplus).
    ferplus_path: Path
    # Extra training sources ({}: none): named inputs whose faces of chosen classes join the
    # train split only, after the dev split is drawn (README, Extra training sources).
    extra_train: dict[str, ExtraSourceParams]

    @field_validator("extra_train", mode="before")
    @classmethod
    def _extra_names(cls, value: object) -> object:
        value = _identifier_keys(value, "data.extra_train", "a source's name")
        if isinstance(value, dict) and MAIN_ORIGIN in value:
            raise PydanticCustomError(
                "cross_field",
                f"data.extra_train.{MAIN_ORIGIN}: '{MAIN_ORIGIN}' names the data.path input's rows "
                "in the face tables' origin column; choose another name",
            )
        return value


class AugmentParams(_Section):
    # Which augmented training sets to build; a model chooses one of them (or none).
    # mirror: one left-right mirror of every image, nothing else (the copy the flip op makes at
    # random, made deterministic: the RBF-SVM's default training set). reframe: the mirror, and a
    # re-framed copy (moved, rescaled by up to `reframe`) of every image and of its mirror.
    modes: Annotated[list[Literal["balanced", "full", "mirror", "reframe"]], Unique]
    ops: Annotated[list[Literal["flip", "brightness", "contrast"]], Unique]
    # balanced: top each class up to this fraction of the largest class.
    balance_target: Annotated[float, Field(gt=0.0, le=1.0)]
    # balanced: at most this many augmented copies of any one image.
    max_copies_per_image: Annotated[int, Field(ge=1, le=50)]
    # full: augmented copies made of every training image.
    copies_per_image: Annotated[int, Field(ge=1, le=20)]
    brightness: Annotated[float, Field(ge=0.0, le=128.0)]  # max additive shift (gray levels)
    contrast: Annotated[float, Field(ge=0.0, lt=1.0)]  # max relative change of contrast
    reframe: Annotated[float, Field(gt=0.0, le=0.25)]  # reframe: max move (of the side) and rescale


class LandmarkParams(_Section):
    upscale: Annotated[int, Field(ge=1, le=8)]
    normalise: bool
    backend: Literal["numba", "dlib"]


class HogParams(_Section):
    orientations: Annotated[int, Field(ge=1, le=36)]
    pixels_per_cell: Annotated[int, Field(ge=2, le=24)]
    cells_per_block: Annotated[int, Field(ge=1, le=6)]


class LbpParams(_Section):
    points: Annotated[int, Field(ge=1, le=24)]  # P: circle samples
    radius: Annotated[float, Field(gt=0.0, le=8.0)]  # R: circle radius, pixels
    method: Literal["uniform", "nri_uniform"]
    grid: Annotated[int, Field(ge=1, le=24)]  # cells per side of the face
    norm: Literal["l1", "sqrt"]


class SiftParams(_Section):
    step: Annotated[int, Field(ge=1, le=24)]  # dense keypoint spacing, pixels
    size: Annotated[float, Field(gt=0.0, le=48.0)]  # OpenCV keypoint size (patch ~6 x size px)
    words: Annotated[int, Field(ge=2, le=8192)]  # vocabulary size
    pyramid: Annotated[list[Annotated[int, Field(ge=1, le=8)]], Field(min_length=1), Unique]
    assignment: Literal["hard", "soft"]
    soft_sigma: Annotated[float, Field(gt=0.0)]  # soft assignment's kernel width
    power: Annotated[float, Field(gt=0.0, le=1.0)]  # histogram ** power, then norm
    norm: Literal["l2", "none"]
    vocabulary_images: Annotated[int, Field(ge=10)]  # training faces the k-means sees


class HogMultiParams(_Section):
    orientations: Annotated[int, Field(ge=1, le=36)]
    pixels_per_cell: Annotated[
        list[Annotated[int, Field(ge=2, le=24)]], Field(min_length=1), Unique
    ]
    cells_per_block: Annotated[int, Field(ge=1, le=6)]


class FeatureParams(_Section):
    # Stored sets the features stage builds; every model's and competency's set needs its parts.
    sets: Annotated[list[Literal[STORED_SETS]], Field(min_length=1), Unique]
    hog: HogParams
    landmarks: LandmarkParams
    lbp: LbpParams
    sift: SiftParams
    hog_multi: HogMultiParams
    n_jobs: Annotated[int, Field(ge=1, le=256)]
    batch_size: Annotated[int, Field(ge=64)]


# --- the model zoo: search, train, evaluate, competency -----------------------------------------

FeatureSet = Literal[FEATURE_SETS]
Seconds = Annotated[float, Field(gt=0.0, le=86_400.0)]
SEARCH_METRICS = ("accuracy", "balanced_accuracy", "macro_f1")


class FloatDistribution(_Section):
    type: Literal["float"]
    low: float
    high: float
    # Optional, as in Optuna's suggest_float (the only defaults in this schema: Optuna's own).
    log: bool = False
    step: Annotated[float, Field(gt=0.0)] | None = None


class IntDistribution(_Section):
    type: Literal["int"]
    low: int
    high: int
    log: bool = False  # optional, as in Optuna's suggest_int
    step: Annotated[int, Field(ge=1)] = 1


class CategoricalDistribution(_Section):
    type: Literal["categorical"]
    choices: Annotated[list[Scalar], Field(min_length=1)]


Distribution = Annotated[
    FloatDistribution | IntDistribution | CategoricalDistribution, Field(discriminator="type")
]


class ModelSearchParams(_Section):
    enabled: bool
    method: Literal["optuna", "grid"]
    n_trials: Annotated[int, Field(ge=1, le=100_000)]
    timeout_s: Seconds  # the whole search, enforced: trials are killed at the deadline
    trial_timeout_s: Seconds  # one trial (fit + dev prediction)
    subsample: Annotated[int, Field(ge=0)]  # stratified training rows a trial fits; 0: all
    prune_warmup_steps: Annotated[int, Field(ge=0)]  # iterations before a trial may be pruned
    grid: dict[str, list[Scalar]]
    space: dict[str, Distribution]


class ModelParams(_Section):
    enabled: bool
    feature_set: FeatureSet
    augmentation: str  # none, or one of augment.modes
    accelerate: bool  # scikit-learn-intelex SVC / KNN (ignored by the other models)
    fit_timeout_s: Seconds  # the train stage's fit, enforced
    params: dict[str, Scalar]  # hyper-parameters; unset ones keep the built-in defaults
    search: ModelSearchParams


# An Optuna storage URL here overrides search.storage (it may hold a password; params.yaml may not).
STORAGE_ENV = "FERBENCH_OPTUNA_STORAGE"
STORAGE_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg", "postgres")


def storage_problems(url: str, where: str, allow_password: bool) -> list[str]:
    """What is wrong with an Optuna storage URL (never echoing it: it may hold a password)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError as exc:
        return [f"{where}: not a URL ({exc})"]
    if parts.scheme not in STORAGE_SCHEMES:
        return [
            f"{where}: scheme {parts.scheme!r} is not supported; expected sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST[:PORT]/DATABASE"
        ]
    if password and not allow_password:
        return [
            f"{where}: the URL holds a password and params.yaml is committed; put the URL in the "
            f"environment variable {STORAGE_ENV} instead"
        ]
    return []


class SearchParams(_Section):
    metric: Literal[SEARCH_METRICS]
    # 1: fit on train, score on dev. k > 1: stratified k-fold on train (augmented copies stay
    # with their original's fold).
    cv_folds: Annotated[int, Field(ge=1, le=20)]
    # Optuna storage URL; "{dir}" stands for the model's folder artifacts/search/<model>. The
    # environment variable STORAGE_ENV overrides it.
    storage: Annotated[str, Field(min_length=1)]
    n_startup_trials: Annotated[int, Field(ge=0)]  # random trials before TPE; no pruning before
    prune: bool
    # The best trial replaces the configured values (the first trial) only when it is right on
    # significantly more validation rows: exact McNemar, two-sided p < alpha. 1: always the best.
    alpha: Annotated[float, Field(gt=0.0, le=1.0)]
    heartbeat_s: Annotated[int, Field(ge=1, le=3600)]  # a running trial's heartbeat period
    grace_s: Annotated[int, Field(ge=2, le=86_400)]  # no heartbeat this long: its worker died
    retry_s: Seconds  # how long a lost database connection is retried before the search stops

    @model_validator(mode="after")
    def _storage_and_heartbeat(self) -> SearchParams:
        problems = storage_problems(self.storage, "search.storage", allow_password=False)
        if self.grace_s <= self.heartbeat_s:
            problems.append(
                f"search.grace_s: got {self.grace_s}; must exceed search.heartbeat_s "
                f"({self.heartbeat_s}), or a live worker's trial is failed between two beats"
            )
        if problems:
            raise PydanticCustomError("cross_field", "\n".join(problems))
        return self


class TrainParams(_Section):
    refit_on_dev: bool  # fit the final model on train + dev (after choosing on dev)
    # With the refit: the dev-scored fit before it uses a stratified subsample of this many
    # training rows (0: all of them).
    dev_score_rows: Annotated[int, Field(ge=0)]


class ExternalSetParams(_Section):
    """One external test set (``evaluate.external.<name>``)."""

    # A CSV (plain or gzip; label column `emotion`, `pixels`), an image folder (<label>/<image>)
    # or a tar/zip archive of either.
    path: Path
    # Their label -> a class name (any case; contempt included) or null (drop, counted). Every
    # label found in the set must be a key; the external stage checks the targets.
    label_map: Annotated[dict[str, str | None], Field(min_length=1)]
    subject_column: Annotated[str, Field(min_length=1)] | None  # CSV: the person per face
    # Images: a regular expression searched in each image's path; its group 1 is the person
    # (CK+'s file names: 'S(\d+)_'). null: no subjects (the bootstrap resamples images).
    subject_pattern: str | None
    resize_images: bool  # images not 48x48: resize them (counted) instead of rejecting them

    @field_validator("subject_pattern")
    @classmethod
    def _one_group(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                groups = re.compile(value).groups
            except re.error as exc:
                raise ValueError(f"not a regular expression ({exc})") from None
            if groups < 1:
                raise ValueError("needs a group, (...), capturing the subject")
        return value

    @field_validator("label_map", mode="before")
    @classmethod
    def _labels_as_text(cls, value: object) -> object:
        # YAML reads `0: Angry` with an int key; labels are compared as text.
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value


def _identifier_keys(
    value: object, where: str = "evaluate.external", what: str = "a set's name"
) -> object:
    if isinstance(value, dict):
        bad = [str(k) for k in value if not str(k).isidentifier()]
        if bad:
            raise PydanticCustomError(
                "cross_field",
                "\n".join(
                    f"{where}.{k}: {what} must be an identifier (letters, digits "
                    "and _, not starting with a digit): it names files and report columns"
                    for k in bad
                ),
            )
    return value


class EvaluateParams(_Section):
    n_boot: Annotated[int, Field(ge=0, le=100_000)]  # bootstrap resamples for the 95% CIs
    timeout_s: Seconds  # predicting the test split, enforced
    # holdout: test scores only; kfold: also stratified k-fold over train + dev (models/kfold.py)
    protocol: Literal["holdout", "kfold"]
    folds: Annotated[int, Field(ge=2, le=100)]  # k of kfold
    # Cross-dataset evaluation: named external test sets every model is scored on ({}: none).
    external: dict[str, ExternalSetParams]

    @field_validator("external", mode="before")
    @classmethod
    def _external_names(cls, value: object) -> object:
        return _identifier_keys(value)


class CompetencyParams(_Section):
    feature_sets: Annotated[list[FeatureSet], Field(min_length=1), Unique]
    train_rows: Annotated[int, Field(ge=70)]  # stratified training subsample per cell
    cell_timeout_s: Seconds  # one model on one feature set, enforced
    model_timeout_s: Seconds  # all of one model's cells, enforced


class ScaleParams(_Section):
    """How sizes and budgets set for FER2013 shrink on a smaller training split (scale.py)."""

    by_data: bool  # false: every value as written, whatever the data's size
    reference_rows: Annotated[int, Field(ge=1)]  # training rows from which nothing shrinks
    min_seconds: Annotated[float, Field(gt=0.0)]  # no scaled time budget goes below this


class DuplicatesParams(_Section):
    """Test images with a copy in train + dev (the duplicates stage; README: Leakage-aware
    scores)."""

    hash: Literal["phash", "dhash", "average_hash"]  # the imagehash function
    # Side of the hash's bit grid (hash_size**2 bits, a multiple of 64).
    hash_size: Annotated[int, Field(ge=8, le=32, multiple_of=8)]
    # A test image is a near copy when a training image's hash lies within this many bits.
    max_distance: Annotated[int, Field(ge=0, le=1024)]
    n_jobs: Annotated[int, Field(ge=1, le=256)]  # processes hashing, threads searching

    @model_validator(mode="after")
    def _within_hash(self) -> DuplicatesParams:
        if self.max_distance > self.hash_size**2:
            raise ValueError(
                f"max_distance {self.max_distance} exceeds the hash's "
                f"{self.hash_size**2} bits (hash_size {self.hash_size})"
            )
        return self


class ComputeParams(_Section):
    n_jobs: Annotated[int, Field(ge=1, le=256)]  # threads for LightGBM, XGBoost, RF, KNN


# --- the CNN stage (one `cnn <arch>` stage per entry of cnn.archs) -------------------------------

Architecture = Literal[ARCHITECTURES]


class CnnArchParams(_Section):
    """How one architecture trains: its whole recipe (``cnn.<arch>`` in params.yaml)."""

    epochs: Annotated[int, Field(ge=1, le=10_000)]
    batch_size: Annotated[int, Field(ge=2, le=65_536)]
    lr: Annotated[float, Field(gt=0.0, le=10.0)]  # cosine annealing, per step, from lr ...
    lr_min: Annotated[float, Field(ge=0.0)]  # ... to lr_min at the last step
    momentum: Annotated[float, Field(ge=0.0, lt=1.0)]
    nesterov: bool
    weight_decay: Annotated[float, Field(ge=0.0, le=1.0)]
    label_smoothing: Annotated[float, Field(ge=0.0, lt=1.0)]
    class_weights: Literal["none", "balanced"]
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)]  # before the classifier
    crop: Annotated[int, Field(ge=16, le=48)]  # random crops to train; centre, 10-crop to test
    flip: bool  # random horizontal mirrors in training
    augmentation: str  # none, or one of augment.modes: its copies join the training split
    finetune_epochs: Annotated[int, Field(ge=0, le=10_000)]  # then train on train + dev ...
    finetune_lr: Annotated[float, Field(gt=0.0, le=10.0)]  # ... at this constant rate
    # FER+ training targets (models.cnn.targets): majority (hard cross-entropy), probability
    # (a label drawn from the vote distribution each epoch), crossentropy (soft-target
    # cross-entropy), multi_target (multi-label BCE). FER2013 labels: majority only.
    targets: Literal[TARGET_SCHEMES]
    # random zoom of each training crop by a factor in [1 - j, 1 + j]; 0 = off
    scale_jitter: Annotated[float, Field(ge=0.0, le=0.3)]


class CnnParams(_Section):
    archs: Annotated[list[Architecture], Field(min_length=1), Unique]
    device: Literal["auto", "cpu", "cuda"]  # auto: CUDA when torch sees it, else the CPU
    threads: Annotated[int, Field(ge=1, le=256)]  # CPU threads
    bf16: bool  # bf16 autocast on CUDA, and on CPUs with native bf16 (AVX512-BF16, AMX)
    channels_last: bool
    eval_batch_size: Annotated[int, Field(ge=1)]
    checkpoint_every_s: Annotated[float, Field(ge=0.0)]  # save to resume at most this often
    mini_xception: CnnArchParams
    vgg: CnnArchParams
    resnet18: CnnArchParams
    alexnet: CnnArchParams
    lenet: CnnArchParams
    resnet34: CnnArchParams
    mobilenet_v2: CnnArchParams
    vgg16: CnnArchParams
    vgg_small: CnnArchParams

    def arch(self, name: str) -> CnnArchParams:
        if name not in ARCHITECTURES:
            expected = ", ".join(ARCHITECTURES)
            raise ParamsError(f"unknown CNN architecture {name!r}; expected one of {expected}")
        return getattr(self, name)


def _cnn_problems(cnn: CnnParams, augment_modes: list[str], labels: str) -> list[str]:
    problems = []
    for arch in ARCHITECTURES:
        cfg, where = cnn.arch(arch), f"cnn.{arch}"
        if labels != "ferplus" and cfg.targets != "majority":
            problems.append(
                f"{where}.targets: got {cfg.targets!r}; with data.labels: {labels} only "
                "'majority' is possible (the other schemes need FER+ votes: data.labels: ferplus)"
            )
        if cfg.targets == "multi_target" and cfg.label_smoothing > 0:
            problems.append(
                f"{where}.label_smoothing: got {cfg.label_smoothing}; targets: multi_target trains "
                "with a multi-label BCE, which has no label smoothing (set it to 0.0)"
            )
        if cfg.crop < MIN_CROP[arch]:
            least = MIN_CROP[arch]
            problems.append(f"{where}.crop: got {cfg.crop}; {arch} needs at least {least}")
        if cfg.lr_min > cfg.lr:
            problems.append(f"{where}.lr_min: got {cfg.lr_min}; must not exceed lr ({cfg.lr})")
        if cfg.augmentation != "none" and cfg.augmentation not in augment_modes:
            modes = ", ".join(repr(m) for m in ["none", *augment_modes])
            problems.append(
                f"{where}.augmentation: got {cfg.augmentation!r}; "
                f"expected one of {modes} (augment.modes)"
            )
    return problems


# --- applying a model (`ferbench predict`) -------------------------------------------------------


HaarCascade = Literal[
    "frontalface_default",
    "frontalface_alt",
    "frontalface_alt2",
    "frontalface_alt_tree",
    "profileface",
]


class HaarDetectParams(_Section):
    scale_factor: Annotated[float, Field(gt=1.0, le=2.0)]
    min_neighbors: Annotated[int, Field(ge=0, le=100)]
    min_size: Annotated[int, Field(ge=1)]  # pixels of the original image
    detect_width: Annotated[int, Field(ge=0)]  # detect on a copy at most this wide; 0 = full size
    margin: Annotated[float, Field(gt=-0.5, le=2.0)]  # crop margin, chosen on dev
    cascades: Annotated[list[HaarCascade], Field(min_length=1)]  # tried in this order


class DlibDetectParams(_Section):
    upsample: Annotated[int, Field(ge=0, le=4)]
    detect_width: Annotated[int, Field(ge=0)]
    margin: Annotated[float, Field(gt=-0.5, le=2.0)]


class JitterParams(_Section):
    shift: Annotated[float, Field(ge=0.0, le=0.25)]  # of the crop's side; 0 = no shifted views
    scales: Annotated[list[Annotated[float, Field(ge=0.5, le=2.0)]], Field(min_length=1)]
    video: bool  # also on video frames (len(views) x the classification per face)


class PredictParams(_Section):
    model: Annotated[str, Field(min_length=1)]  # best_dev, or a trained model's name
    detector: Literal["haar", "dlib", "mmod"]
    fallback: Literal["none", "haar", "dlib", "mmod"]  # photos: tried when detector finds none
    redetect_frames: Annotated[int, Field(ge=1, le=10_000)]  # video: whole-frame detection period
    haar: HaarDetectParams
    dlib: DlibDetectParams
    mmod: DlibDetectParams
    cnn_views: Literal["ten_crop", "center_crop"]
    jitter: JitterParams  # photos: each face read at several framings, scores averaged
    smoothing: Annotated[float, Field(ge=0.0, lt=1.0)]  # EMA weight of the past; 0 = off
    track_iou: Annotated[float, Field(gt=0.0, le=1.0)]
    track_max_missed: Annotated[int, Field(ge=0)]
    n_jobs: Annotated[int, Field(ge=1, le=256)]


# --- the stacking ensemble (models/ensemble.py) ---------------------------------------------------


class EnsembleParams(_Section):
    # "all": every classical model and every CNN of cnn.archs that finished ok; or a list of
    # model names (classical keys, cnn_<arch>). A listed member that failed or is off is skipped
    # and named in the metrics.
    members: Literal["all"] | Annotated[list[str], Unique, Field(min_length=1)]
    # forward: greedy forward selection of the members by out-of-fold dev accuracy (a member that
    # lowers it is left out and named); none: stack every member.
    selection: Literal["forward", "none"]
    cv_folds: Annotated[int, Field(ge=2, le=20)]  # stratified folds on dev that choose C
    c_grid: Annotated[list[Annotated[float, Field(gt=0.0)]], Unique, Field(min_length=1)]
    max_iter: Annotated[int, Field(ge=10, le=100_000)]  # lbfgs iterations of the meta-learner


def _ensemble_problems(ensemble: EnsembleParams, archs: list[str]) -> list[str]:
    """Listed members must be models this run can train."""
    if ensemble.members == "all":
        return []
    known = [*MODEL_NAMES, *(model_name(arch) for arch in archs)]
    unknown = [name for name in ensemble.members if name not in known]
    if not unknown:
        return []
    return [
        f"ensemble.members: unknown {', '.join(repr(n) for n in unknown)}; expected 'all' or "
        f"names among {', '.join(known)} (a CNN must be in cnn.archs)"
    ]


# --- the HTML report ------------------------------------------------------------------------------


class ReportParams(_Section):
    rank_by: Literal["accuracy", "macro_f1", "balanced_accuracy"]  # leaderboard order
    top_models: Annotated[int, Field(ge=2, le=20)]  # McNemar tests between these best-ranked
    alpha: Annotated[float, Field(gt=0.0, lt=1.0)]  # significance, Holm-adjusted
    gallery_faces: Annotated[int, Field(ge=0, le=200)]  # test faces shown right, as many wrong


class Params(_Section):
    seed: Annotated[int, Field(ge=0)]
    data: DataParams
    augment: AugmentParams
    features: FeatureParams
    compute: ComputeParams
    models: dict[str, ModelParams]
    search: SearchParams
    train: TrainParams
    evaluate: EvaluateParams
    duplicates: DuplicatesParams
    competency: CompetencyParams
    scale: ScaleParams
    cnn: CnnParams
    predict: PredictParams
    ensemble: EnsembleParams
    report: ReportParams

    @field_validator("models", mode="before")
    @classmethod
    def _every_model(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value  # the type check names the problem
        unknown = sorted(set(value) - set(MODEL_NAMES))
        missing = [name for name in MODEL_NAMES if name not in value]
        if unknown or missing:
            raise ValueError(
                f"expected exactly the zoo's models {', '.join(MODEL_NAMES)}"
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
                + (f"; missing: {', '.join(missing)}" if missing else "")
            )
        return value

    @model_validator(mode="after")
    def _cross_check(self) -> Params:
        problems = []
        modes = list(self.augment.modes)
        for name, model in self.models.items():
            if model.augmentation != "none" and model.augmentation not in modes:
                expected = " or ".join(repr(m) for m in ["none", *modes])
                problems.append(
                    f"models.{name}.augmentation: got {model.augmentation!r}; expected "
                    f"{expected} (see augment.modes)"
                )
        problems += _feature_set_problems(self)
        problems += _cnn_problems(self.cnn, modes, self.data.labels)
        problems += _ensemble_problems(self.ensemble, list(self.cnn.archs))
        if self.data.labels == "ferplus" and self.data.source == "synthetic":
            problems.append(
                "data.labels: got 'ferplus' with data.source: synthetic; the synthetic demo set "
                "has FER2013's 7 labels only (FER+ labels need the real FER2013 CSV)"
            )
        if problems:
            raise PydanticCustomError("cross_field", "\n".join(problems))
        return self


def _feature_set_problems(params: Params) -> list[str]:
    """Every feature set a model or competency reads must be built by the features stage."""
    built = set(params.features.sets)
    wanted = [
        (f"models.{name}.feature_set", model.feature_set)
        for name, model in params.models.items()
        if model.enabled
    ] + [("competency.feature_sets", fs) for fs in params.competency.feature_sets]
    problems = []
    for key, feature_set in wanted:
        missing = [part for part in stored_parts(feature_set) if part not in built]
        if missing:
            problems.append(
                f"{key}: {feature_set} needs {', '.join(missing)}, which features.sets "
                f"({', '.join(params.features.sets)}) does not build; add it there"
            )
    return problems


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "<top level>"
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key (check its spelling; params.yaml lists every key)"
    if error["type"] == "missing":
        return f"{where}: required key is missing"
    if error["type"] == "cross_field":  # already "key.path: problem" lines
        return "\n  - ".join(message.splitlines())
    return f"{where}: got {error.get('input')!r}; {message}"


def parse_params(raw: object, origin: str = str(paths.PARAMS_FILE)) -> Params:
    """Validate an already-parsed mapping; raise :class:`ParamsError` listing every bad key."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(
            f"{origin}: expected a mapping of sections at the top level, got {type(raw).__name__}"
        )
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        lines = "\n".join(f"  - {_describe(e)}" for e in exc.errors())
        raise ParamsError(f"{origin}: invalid parameters\n{lines}") from None


def load_params(path: str | os.PathLike[str] = DEFAULT_PARAMS) -> Params:
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: parameters file not found (run from the repository root)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    return parse_params(raw, origin=str(path))
