"""Stage ``features``: pixels, HOG and dlib landmarks for every split, row-aligned with its table.

Reads ``data/ingested/{train,dev,test}.feather`` and ``data/augmented/<mode>.feather``; writes the
feature store described in :mod:`features.store` plus ``metrics/features.json`` (timings, shapes).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
from tqdm import tqdm

from features.hog import hog_features
from features.landmarks import landmark_features
from features.records import FeatureMetrics, SplitFeatures
from features.store import save_array, save_rows
from fer_data.faces import FaceTable, read_faces
from fer_data.logs import get_logger, log_read, log_wrote, stage
from fer_data.records import DataSource
from pipeline import paths
from pipeline.params import FeatureParams, Params
from pipeline.runner import run_stage


def split_sources(params: Params) -> dict:
    sources = {name: paths.ingested(name) for name in paths.SPLITS}
    for mode in params.augment.modes:
        sources[f"aug_{mode}"] = paths.augmented(mode)
    return sources


def extract(
    table: FaceTable, params: FeatureParams, label: str
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Feature arrays of one table, computed batch by batch with a progress bar."""
    hog_p, lm_p = params.hog, params.landmarks
    parts: dict[str, list[np.ndarray]] = {"hog": [], "landmarks": []}
    seconds = {"hog": 0.0, "landmarks": 0.0}
    with tqdm(total=len(table), desc=f"features {label}", unit="img", leave=False) as bar:
        for start in range(0, len(table), params.batch_size):
            batch = table.images[start : start + params.batch_size]
            t0 = time.perf_counter()
            parts["hog"].append(
                hog_features(
                    batch, hog_p.orientations, hog_p.pixels_per_cell, hog_p.cells_per_block
                )
            )
            t1 = time.perf_counter()
            parts["landmarks"].append(
                landmark_features(
                    batch, lm_p.upscale, lm_p.normalise, backend=lm_p.backend, n_jobs=params.n_jobs
                )
            )
            t2 = time.perf_counter()
            seconds["hog"] += t1 - t0
            seconds["landmarks"] += t2 - t1
            bar.update(len(batch))
    arrays = {name: np.concatenate(chunks) for name, chunks in parts.items()}
    arrays["pixels"] = table.images.reshape(len(table), -1)
    return arrays, seconds


def run(params: Params) -> FeatureMetrics:
    splits: dict[str, SplitFeatures] = {}
    totals = {"hog": 0.0, "landmarks": 0.0}
    source = None
    started = time.perf_counter()
    for split, path in split_sources(params).items():
        table = read_faces(path)
        log_read(path, f"{len(table)} images")
        source = source or DataSource(**table.meta)
        arrays, seconds = extract(table, params.features, split)
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
            rows=len(table), **{f"{k}_dim": int(v.shape[1]) for k, v in arrays.items()}
        )
        for key, value in seconds.items():
            totals[key] += value
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
