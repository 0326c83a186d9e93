"""Benchmark: ingest and HOG + landmarks on the full FER2013, each beside its naive baseline.

    python bench/bench_ingest_features.py [--csv ../shared/data/fer2013/fer2013.csv.gz] [--limit N]

Ingest: ferbench's ingest stage (numba parser, blank/duplicate checks, feather writes) vs pandas
``read_csv`` with a per-row ``str.split`` (archives and image folders: ``bench/bench_readers.py``).
Features: ferbench's batch HOG + numba landmarks on both cores vs a per-image loop of skimage
``hog`` and dlib's shape predictor, with the outputs compared.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from features.hog import hog_features  # noqa: E402
from features.landmarks import detect_landmarks  # noqa: E402
from fer_data.fer_csv import read_fer2013  # noqa: E402
from pipeline.params import parse_params  # noqa: E402
from pipeline.stages import ingest  # noqa: E402

DEFAULT_CSV = REPO.parent / "shared/data/fer2013/fer2013.csv.gz"


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def baseline_ingest(csv: Path) -> np.ndarray:
    frame = pd.read_csv(csv)
    return np.stack([np.array(s.split(), dtype=np.uint8).reshape(48, 48) for s in frame["pixels"]])


def ferbench_ingest(csv: Path) -> None:
    csv = csv.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            raw = yaml.safe_load((REPO / "params.yaml").read_text())
            raw["data"].update({"source": "path", "path": str(csv)})
            ingest.run(parse_params(raw))
        finally:
            os.chdir(cwd)


def baseline_features(images: np.ndarray, upscale: int) -> tuple[np.ndarray, np.ndarray]:
    from skimage.feature import hog

    hogs = np.stack(
        [
            hog(
                im,
                orientations=9,
                pixels_per_cell=(8, 8),
                cells_per_block=(2, 2),
                block_norm="L2-Hys",
            )
            for im in images
        ]
    )
    points = detect_landmarks(images, upscale=upscale, backend="dlib", n_jobs=1)
    return hogs.astype(np.float32), points


def ferbench_features(
    images: np.ndarray, upscale: int, n_jobs: int
) -> tuple[np.ndarray, np.ndarray]:
    return hog_features(images), detect_landmarks(
        images, upscale=upscale, backend="numba", n_jobs=n_jobs
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument(
        "--limit", type=int, default=0, help="use only the first N images for features"
    )
    parser.add_argument("--upscale", type=int, default=parse_params({}).features.landmarks.upscale)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    if not args.csv.exists():
        print(f"FER2013 not found at {args.csv}: put ../shared beside the repository or pass --csv")
        return
    print(
        f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} at start"
    )

    read_fer2013(
        args.csv
    )  # warm numba's compiled-code cache; the first run in a new install compiles
    _, ours = timed(ferbench_ingest, args.csv)
    baseline_images, base = timed(baseline_ingest, args.csv)
    print(f"\ningest, {len(baseline_images)} rows (target <= 3 s)")
    print(f"  baseline pandas + per-row split : {base:7.2f} s")
    print(f"  ferbench ingest stage           : {ours:7.2f} s   ({base / ours:.1f}x faster)")

    images = baseline_images[: args.limit] if args.limit else baseline_images
    ferbench_features(images[:64], args.upscale, args.n_jobs)  # warm-up (numba cache, model load)
    (hog_ours, lm_ours), ours = timed(ferbench_features, images, args.upscale, args.n_jobs)
    (hog_base, lm_base), base = timed(baseline_features, images, args.upscale)
    print(
        f"\nHOG + landmarks (upscale {args.upscale}), {len(images)} images "
        "(target <= 15 s on 2 cores)"
    )
    print(f"  baseline per-image skimage + dlib: {base:7.2f} s")
    print(
        f"  ferbench batch HOG + numba ERT   : {ours:7.2f} s   "
        f"({base / ours:.1f}x faster, n_jobs={args.n_jobs})"
    )
    hog_equal = np.array_equal(hog_ours, hog_base)
    lm_equal = (lm_ours == lm_base).all(axis=(1, 2))
    print(
        f"  HOG identical to skimage: {hog_equal} "
        f"(max abs diff {np.abs(hog_ours - hog_base).max():.2e})"
    )
    print(f"  landmarks identical to dlib: {lm_equal.sum()} of {len(images)} images")
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end (other work slows both sides)")


if __name__ == "__main__":
    main()
