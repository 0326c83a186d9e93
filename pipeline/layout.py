"""Where the pipeline's generated files live (relative to the repository root, where DVC runs).

Generated files never land in code folders: data under ``data/``, models under ``artifacts/``,
metrics JSON under ``metrics/``, the HTML report and plots under ``results/``.
"""

from __future__ import annotations

import json
from pathlib import Path

DATA_DIR = Path("data")
RAW_DIR = DATA_DIR / "raw"
INGESTED_DIR = DATA_DIR / "ingested"
AUGMENTED_DIR = DATA_DIR / "augmented"
FEATURES_DIR = DATA_DIR / "features"
ARTIFACTS_DIR = Path("artifacts")
MODELS_DIR = ARTIFACTS_DIR / "models"
SEARCH_DIR = ARTIFACTS_DIR / "search"
METRICS_DIR = Path("metrics")
RESULTS_DIR = Path("results")
SOURCE_FILE = INGESTED_DIR / "source.json"


def data_source(path: Path = SOURCE_FILE) -> dict:
    """What the ingested data came from: ``{"source", "synthetic", "notice", "path"}``.

    Every metrics file copies this so that numbers from the synthetic demo set say so.
    """
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run `dvc repro ingest` first")
    return json.loads(path.read_text())
