"""Stage ``features``: the sets listed in ``features.sets`` for every split, row-aligned with it.

Reads ``data/ingested/{train,dev,test}.feather`` and ``data/augmented/<mode>.feather``; writes the
feature store described in :mod:`features.store` plus ``metrics/features.json`` (timings, shapes).
``sift_bovw`` first learns its vocabulary on the training split alone.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
from tqdm import tqdm

from features.records import FeatureMetrics, SplitFeatures
from features.sets import (
    FeatureConfig,
    HogConfig,
    HogMultiConfig,
    LandmarkConfig,
    LbpConfig,
    compute_set,
)
from features.sift import BovwConfig, learn_vocabulary
from features.store import save_array, save_rows, save_vocabulary
from fer_data.faces import FaceTable, read_faces
from fer_data.logs import get_logger, log_read, log_wrote, stage
from fer_data.records import DataSource
from pipeline import paths
from pipeline.params import FeatureParams, Params, SiftParams
from pipeline.runner import run_stage


def split_sources(params: Params) -> dict:
    sources = {name: paths.ingested(name) for name in paths.SPLITS}
    for mode in params.augment.modes:
        sources[f"aug_{mode}"] = paths.augmented(mode)
    return sources


def bovw_config(sift: SiftParams) -> BovwConfig:
    """The encoding settings of ``features.sift`` (all but ``vocabulary_images``)."""
    values = sift.model_dump(exclude={"vocabulary_images"})
    return BovwConfig(**{**values, "pyramid": tuple(values["pyramid"])})


def feature_config(params: FeatureParams, vocabulary: np.ndarray | None = None) -> FeatureConfig:
    """Plain settings of every set the features stage builds (``features.sets``)."""
    built = set(params.sets)
    hm = params.hog_multi
    return FeatureConfig(
        hog=HogConfig(**params.hog.model_dump()) if "hog" in built else None,
        landmarks=LandmarkConfig(**params.landmarks.model_dump()) if "landmarks" in built else None,
        lbp=LbpConfig(**params.lbp.model_dump()) if "lbp" in built else None,
        sift=bovw_config(params.sift) if "sift_bovw" in built else None,
        vocabulary=vocabulary,
        hog_multi=HogMultiConfig(hm.orientations, tuple(hm.pixels_per_cell), hm.cells_per_block)
        if "hog_multi" in built
        else None,
    )


def extract(
    table: FaceTable, params: FeatureParams, label: str, config: FeatureConfig | None = None
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """The ``features.sets`` arrays of one table, batch by batch with a progress bar."""
    config = config or feature_config(params)
    names = list(params.sets)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    seconds = dict.fromkeys(names, 0.0)
    with tqdm(total=len(table), desc=f"features {label}", unit="img", leave=False) as bar:
        for start in range(0, len(table), params.batch_size):
            batch = table.images[start : start + params.batch_size]
            for name in names:
                t0 = time.perf_counter()
                parts[name].append(compute_set(name, batch, config, params.n_jobs))
                seconds[name] += time.perf_counter() - t0
            bar.update(len(batch))
    arrays = {
        name: np.concatenate(chunks) if chunks else compute_set(name, table.images, config)
        for name, chunks in parts.items()
    }
    return arrays, seconds


def vocabulary_of(params: Params) -> tuple[np.ndarray, float]:
    """The dense-SIFT vocabulary of the training split (never dev or test), saved; seconds."""
    started = time.perf_counter()
    path = paths.ingested("train")
    table = read_faces(path)
    sift = params.features.sift
    log_read(path, f"{len(table)} images for the SIFT vocabulary")
    vocabulary = learn_vocabulary(
        table.images, bovw_config(sift), sift.vocabulary_images, params.seed, params.features.n_jobs
    )
    log_wrote(save_vocabulary(paths.SIFT_VOCABULARY, vocabulary), f"{len(vocabulary)} words")
    return vocabulary, time.perf_counter() - started


def run(params: Params) -> FeatureMetrics:
    splits: dict[str, SplitFeatures] = {}
    totals: dict[str, float] = {}
    source = None
    started = time.perf_counter()
    vocabulary = None
    if "sift_bovw" in params.features.sets:
        vocabulary, totals["sift_vocabulary"] = vocabulary_of(params)
    config = feature_config(params.features, vocabulary)
    for split, path in split_sources(params).items():
        table = read_faces(path)
        log_read(path, f"{len(table)} images")
        source = source or DataSource(**table.meta)
        arrays, seconds = extract(table, params.features, split, config)
        out_dir = paths.FEATURES_DIR / split
        for name, array in arrays.items():
            save_array(out_dir, name, array)
        rows = pd.DataFrame(
            {
                "row_id": table.row_id,
                "aug": table.aug_index,
                "emotion": table.emotion,
                "usage": table.usage,
            }
        )
        save_rows(out_dir, rows)
        log_wrote(out_dir, ", ".join(f"{k} {v.shape}" for k, v in arrays.items()))
        splits[split] = SplitFeatures(
            rows=len(table), dims={k: int(v.shape[1]) for k, v in arrays.items()}
        )
        for key, value in seconds.items():
            totals[key] = totals.get(key, 0.0) + value
    metrics = FeatureMetrics(
        splits=splits,
        seconds={k: round(v, 2) for k, v in totals.items()}
        | {"total": round(time.perf_counter() - started, 2)},
        data=source,
        landmarks=params.features.landmarks.model_dump(),
    )
    log_wrote(metrics.write(paths.stage_metrics("features")))
    return metrics


def main(params: Params) -> None:
    with stage("features"):
        metrics = run(params)
        get_logger().info("features: %s", metrics.seconds)


def cli(argv: list[str] | None = None) -> int:
    return run_stage("features", main, argv)


if __name__ == "__main__":
    sys.exit(cli())
