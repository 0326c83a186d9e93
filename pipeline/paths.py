"""Every path the pipeline reads or writes, declared once (relative to the repository root, where
DVC runs the stages). No other module holds a path literal: stages ask here and hand the paths
down to ``features``, ``models`` and ``reports``, which take them as arguments.

Generated files never land in code folders: data under ``data/``, models and searches under
``artifacts/``, metrics JSON under ``metrics/``, the HTML report and plots under ``results/``.
"""

from __future__ import annotations

from pathlib import Path

PARAMS_FILE = Path("params.yaml")
DVC_FILE = Path("dvc.yaml")
DVC_LOCK = Path("dvc.lock")

# --- data -----------------------------------------------------------------------------------------
DATA_DIR = Path("data")
RAW_DIR = DATA_DIR / "raw"  # the default data.path: searched for FER2013 (data/raw/**)
DEFAULT_CSV = RAW_DIR / "fer2013.csv"  # where the README tells users to put the download
# The default data.ferplus_path: a folder where users put the FER+ vote file (README, FER+ labels).
FERPLUS_DIR = DATA_DIR / "ferplus"
FERPLUS_FILE_NAME = "fer2013new.csv"  # the vote file's name in Microsoft's FERPlus repository
INGESTED_DIR = DATA_DIR / "ingested"
SOURCE_FILE = INGESTED_DIR / "source.json"
# Where extra training sources (data.extra_train) are kept: the ingest stage depends on it.
EXTRA_DIR = DATA_DIR / "extra"
REJECTS_FILE = INGESTED_DIR / "rejects.csv"
# An ingest that fails on too many rejects lists them here, leaving data/ingested as it was.
FAILED_REJECTS_FILE = DATA_DIR / "ingest-failed" / "rejects.csv"
AUGMENTED_DIR = DATA_DIR / "augmented"
FEATURES_DIR = DATA_DIR / "features"
# Cross-dataset test sets (evaluate.external): one parquet per set, and what was read and dropped.
EXTERNAL_DIR = DATA_DIR / "external"
EXTERNAL_MANIFEST = EXTERNAL_DIR / "manifest.json"
EXTERNAL_REJECTS = EXTERNAL_DIR / "rejects.csv"
# Test images with an exact or near copy in train + dev (the duplicates stage), one row each.
DUPLICATES_DIR = DATA_DIR / "duplicates"
DUPLICATES_TABLE = DUPLICATES_DIR / "test_copies.csv"
SIFT_VOCABULARY = FEATURES_DIR / "sift_vocabulary.npy"  # learnt on train (features.sets: sift_bovw)
SPLITS = ("train", "dev", "test")

# --- generated outputs ----------------------------------------------------------------------------
ARTIFACTS_DIR = Path("artifacts")
MODELS_DIR = ARTIFACTS_DIR / "models"
SEARCH_DIR = ARTIFACTS_DIR / "search"
SCORES_DIR = ARTIFACTS_DIR / "scores"  # per model: per-class test scores (the ensemble's input)
METRICS_DIR = Path("metrics")
MODEL_METRICS_DIR = METRICS_DIR / "models"
RESULTS_DIR = Path("results")
PLOTS_DIR = RESULTS_DIR / "plots"
COMPETENCY_DIR = RESULTS_DIR / "competency"
COMPETENCY_TABLE = RESULTS_DIR / "competency.csv"
REPORT_DIR = RESULTS_DIR / "report"
REPORT_FILE = REPORT_DIR / "index.html"
LEADERBOARD_FILE = METRICS_DIR / "leaderboard.json"
COMPARE_FILE = RESULTS_DIR / "compare" / "index.html"  # `ferbench compare`'s default output

# What a run rewrites: these never make the code differ from its commit.
GENERATED = (DATA_DIR, ARTIFACTS_DIR, METRICS_DIR, RESULTS_DIR, DVC_LOCK)


def ingested(split: str) -> Path:
    """``data/ingested/<split>.feather``: ``train``, ``dev`` or ``test``."""
    return INGESTED_DIR / f"{split}.feather"


def augmented(mode: str) -> Path:
    """``data/augmented/<mode>.feather``: one augmented training set per ``augment.modes`` entry."""
    return AUGMENTED_DIR / f"{mode}.feather"


def external_set(name: str) -> Path:
    """``data/external/<name>.parquet``: one ``evaluate.external`` set, labels mapped."""
    return EXTERNAL_DIR / f"{name}.parquet"


def stage_metrics(stage: str) -> Path:
    """``metrics/<stage>.json`` of the data stages (ingest, augment, features, duplicates)."""
    return METRICS_DIR / f"{stage}.json"


# --- per model (classical model keys, or cnn_<arch>) ----------------------------------------------


def search_dir(model: str) -> Path:
    return SEARCH_DIR / model


def best_params(model: str) -> Path:
    return search_dir(model) / "best_params.json"


def trials(model: str) -> Path:
    return search_dir(model) / "trials.csv"


def model_dir(model: str) -> Path:
    return MODELS_DIR / model


def model_file(model: str) -> Path:
    """The fitted classical pipeline (joblib)."""
    return model_dir(model) / "model.joblib"


def model_vocabulary(model: str) -> Path:
    """A sift_bovw model's copy of the feature store's vocabulary (predict re-encodes with it)."""
    return model_dir(model) / SIFT_VOCABULARY.name


def cnn_weights(model: str) -> Path:
    """The CNN's weights chosen on dev (or fine-tuned from them), with its crop and normaliser."""
    return model_dir(model) / "model.pt"


def cnn_checkpoint(model: str) -> Path:
    """Where an interrupted CNN run resumes from."""
    return model_dir(model) / "checkpoint.pt"


def train_record(model: str) -> Path:
    return model_dir(model) / "train.json"


def model_card(model: str) -> Path:
    """What ``ferbench predict`` reads (models.records.ModelCard; its file name is the card's)."""
    return model_dir(model) / "model_card.json"


def dev_scored_model(model: str) -> Path:
    """With ``train.refit_on_dev``: the fit on the training rows alone that ``dev_scores`` come
    from (joblib), which evaluate scores on test for the ensemble; the saved model is the refit."""
    return model_dir(model) / "dev_scored.joblib"


def dev_scores(model: str) -> Path:
    """Per-class dev scores of a fit that never saw dev (models.member_scores; the ensemble's
    training rows)."""
    return model_dir(model) / "dev_scores.npz"


def scores_dir(model: str) -> Path:
    """``artifacts/scores/<model>/``: the evaluate (or cnn) stage's per-class test scores."""
    return SCORES_DIR / model


def test_scores(model: str) -> Path:
    """Per-class test scores (models.member_scores) of the fit that ``dev_scores`` come from:
    the ensemble's inputs."""
    return scores_dir(model) / "test.npz"


def metrics(model: str) -> Path:
    return MODEL_METRICS_DIR / f"{model}.json"


def confusion(model: str) -> Path:
    """Per-image test predictions (DVC's confusion-matrix plot reads them)."""
    return PLOTS_DIR / "confusion" / f"{model}.csv"


def cnn_history(arch: str) -> Path:
    return PLOTS_DIR / "cnn" / f"{arch}_history.csv"


def competency(model: str) -> Path:
    return COMPETENCY_DIR / f"{model}.json"
