"""Benchmark: every hand-crafted feature set on the full FER2013, extraction time and dev accuracy.

    nice -n 10 python bench/bench_features.py [--csv ../shared/data/fer2013/fer2013.csv.gz]
        [--train-rows 10000] [--limit N]

Extraction: each stored set (hog, landmarks, lbp, sift_bovw with its vocabulary, hog_multi) on all
faces, computed as the features stage computes them (``features.sets.compute_set``, the
``params.yaml`` settings, ``features.batch_size`` batches, ``features.n_jobs`` threads), one after
the other in the same run so that the existing HOG and landmark timings are the baseline. The SIFT
vocabulary is learnt on the training split only (``data.dev_fraction``, ``seed``: the pipeline's
train / dev split of Training).

Accuracy: the zoo's RBF-SVM (``models.svm``: scikit-learn-intelex, C and landmark_weight from
params.yaml, gamma "scale" so every width gets its own) fitted on a stratified, seeded subsample of
the training split and scored on the whole dev split, per feature set, hog and hog_landmarks first
as the baselines. The test split is never scored.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from features.names import FEATURE_SETS, STORED_SETS, stored_parts  # noqa: E402
from features.sets import compute_set  # noqa: E402
from features.sift import learn_vocabulary  # noqa: E402
from fer_data.fer_csv import read_fer2013  # noqa: E402
from fer_data.splits import dev_split  # noqa: E402
from models.registry import build_model  # noqa: E402
from models.spec import BuildOptions  # noqa: E402
from pipeline.params import load_params  # noqa: E402
from pipeline.stages.features import bovw_config, feature_config  # noqa: E402

DEFAULT_CSV = REPO.parent / "shared/data/fer2013/fer2013.csv.gz"
EXTRACTED = ("hog", "landmarks", "lbp", "sift_bovw", "hog_multi")
# Every appearance set and its landmark composite (pixels and landmarks alone are not scored).
SCORED = tuple(s for s in FEATURE_SETS if s not in ("pixels", "landmarks"))


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def extract(name, images, config, batch_size, n_jobs) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    chunks = []
    for first in tqdm(range(0, len(images), batch_size), desc=name, unit="batch", leave=False):
        chunks.append(compute_set(name, images[first : first + batch_size], config, n_jobs))
    return np.concatenate(chunks).astype(np.float32, copy=False), time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--train-rows", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=0, help="first N faces only (smoke runs)")
    args = parser.parse_args(argv)

    params = load_params(REPO / "params.yaml")
    fp = params.features.model_copy(update={"sets": list(STORED_SETS)})
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average at start {load()}; n_jobs {fp.n_jobs}")  # fmt: skip
    parsed = read_fer2013(args.csv)
    images, emotion, usage = parsed.images, parsed.emotion.astype(np.int64), parsed.usage
    if args.limit:
        images, emotion, usage = images[: args.limit], emotion[: args.limit], usage[: args.limit]
    training = np.flatnonzero(usage == "Training")
    train_idx, dev_idx = dev_split(emotion[training], params.data.dev_fraction, params.seed)
    train, dev = training[train_idx], training[dev_idx]
    print(f"# {len(images)} faces: train {len(train)}, dev {len(dev)}")

    seconds: dict[str, float] = {}
    start = time.perf_counter()
    vocabulary = learn_vocabulary(
        images[train], bovw_config(fp.sift), fp.sift.vocabulary_images, params.seed, fp.n_jobs
    )
    seconds["sift_vocabulary"] = time.perf_counter() - start
    config = feature_config(fp, vocabulary)
    arrays: dict[str, np.ndarray] = {}
    for name in EXTRACTED:
        arrays[name], seconds[name] = extract(name, images, config, fp.batch_size, fp.n_jobs)
        print(f"extracted {name:10s} {arrays[name].shape[1]:5d} columns in {seconds[name]:7.1f} s"
              f" (load {load()})", flush=True)  # fmt: skip

    rows = min(args.train_rows, len(train))
    subsample = (
        train
        if rows == len(train)
        else train_test_split(
            train, train_size=rows, stratify=emotion[train], random_state=params.seed
        )[0]
    )
    svm = params.models["svm"].params
    hyper = {**svm, "gamma": "scale"}
    results = []
    for feature_set in SCORED:
        x = np.hstack([arrays[part] for part in stored_parts(feature_set)])
        model = build_model("svm", hyper, BuildOptions(feature_set, True, fp.n_jobs, params.seed))
        t0 = time.perf_counter()
        model.fit(x[subsample], emotion[subsample])
        fit = time.perf_counter() - t0
        accuracy = float((model.predict(x[dev]) == emotion[dev]).mean())
        results.append((feature_set, x.shape[1], accuracy, fit))
        print(f"svm on {feature_set:20s} dev accuracy {accuracy:.4f} (fit {fit:.1f} s, "
              f"load {load()})", flush=True)  # fmt: skip

    print(f"\n## Extraction, all {len(images)} faces ({fp.n_jobs} threads), load {load()}\n")
    print("| set | columns | seconds |\n|---|---:|---:|")
    for name in EXTRACTED:
        print(f"| {name} | {arrays[name].shape[1]} | {seconds[name]:.1f} |")
    print(f"| sift vocabulary ({fp.sift.vocabulary_images} train faces) | - | "
          f"{seconds['sift_vocabulary']:.1f} |")  # fmt: skip
    print(f"\n## RBF-SVM (C={svm['C']}, gamma scale, landmark_weight {svm['landmark_weight']}), "
          f"{len(subsample)} train rows, dev {len(dev)}\n")  # fmt: skip
    print("| feature set | columns | dev accuracy | fit s |\n|---|---:|---:|---:|")
    for feature_set, width, accuracy, fit in results:
        print(f"| {feature_set} | {width} | {accuracy:.4f} | {fit:.1f} |")


if __name__ == "__main__":
    main()
