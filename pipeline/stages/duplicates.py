"""Stage ``duplicates``: which test images have an exact or near copy in train + dev.

Reads ``data/ingested/{train,dev,test}.feather``. Writes ``data/duplicates/test_copies.csv`` (one
row per test image: ``row_id, usage, exact_copy, near_copy, nearest_distance, nearest_row_id``;
the evaluate and cnn stages score every model also on the rows with neither kind of copy) and
``metrics/duplicates.json`` (counts per Usage, the hash and the threshold). Exact: identical
pixels; near: a perceptual hash (``duplicates.hash``, ``duplicates.hash_size``) within
``duplicates.max_distance`` bits of a training image's (:mod:`fer_data.duplicates`).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from fer_data.duplicates import DuplicatesMetrics, copy_counts, find_copies, write_copies
from fer_data.errors import DataError
from fer_data.faces import read_faces
from fer_data.logs import get_logger, log_read, log_wrote, stage
from fer_data.records import DataSource
from pipeline import paths
from pipeline.params import Params
from pipeline.runner import run_stage


def run(params: Params) -> DuplicatesMetrics:
    cfg = params.duplicates
    tables = {}
    for split in paths.SPLITS:
        tables[split] = read_faces(paths.ingested(split))
        log_read(paths.ingested(split), f"{len(tables[split])} rows")
    training = [tables["train"], tables["dev"]]
    train_images = np.concatenate([t.images for t in training])
    if len(train_images) == 0:
        raise DataError(
            f"{paths.ingested('train')} and {paths.ingested('dev')} hold no images to compare "
            "the test split with"
        )
    test = tables["test"]
    start = time.perf_counter()
    copies = find_copies(
        test.images,
        test.row_id,
        test.usage,
        train_images,
        np.concatenate([t.row_id for t in training]),
        cfg.hash,
        cfg.hash_size,
        cfg.max_distance,
        cfg.n_jobs,
    )
    seconds = time.perf_counter() - start
    paths.DUPLICATES_DIR.mkdir(parents=True, exist_ok=True)
    log_wrote(write_copies(copies, paths.DUPLICATES_TABLE), f"{len(copies.row_id)} test rows")
    metrics = DuplicatesMetrics(
        data=DataSource(**test.meta),
        hash=cfg.hash,
        hash_bits=cfg.hash_size**2,
        max_distance=cfg.max_distance,
        training_images=len(train_images),
        counts=copy_counts(copies),
        seconds=round(seconds, 3),
    )
    log_wrote(metrics.write(paths.stage_metrics("duplicates")))
    return metrics


def main(params: Params) -> None:
    with stage("duplicates") as log:
        metrics = run(params)
        for usage, counts in metrics.counts.items():
            log.info(
                "duplicates %s: %d test images, %d exact copies, %d near copies (%s <= %d of "
                "%d bits), %d with none",
                usage,
                counts.test,
                counts.exact,
                counts.near,
                metrics.hash,
                metrics.max_distance,
                metrics.hash_bits,
                counts.clean,
            )
        get_logger().info(
            "duplicates: %d test x %d training images in %.1f s",
            metrics.counts["all"].test,
            metrics.training_images,
            metrics.seconds,
        )


def cli(argv: list[str] | None = None) -> int:
    return run_stage("duplicates", main, argv)


if __name__ == "__main__":
    sys.exit(cli())
