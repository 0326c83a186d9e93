"""Benchmark: does normalising dlib landmarks help a classifier? (and upscale 1 vs 2)

Data: the real FER2013 Training rows only. A stratified 10% of them is held out as a dev set and
every score below is on that dev set; PublicTest/PrivateTest are never read, since choosing a
default here is a tuning decision. Classifiers are trained on a stratified subsample of the rest
(``--train-size``, default 10,000; 0 = all ~23k) to keep the RBF-SVC fits short.

Variants (features -> classifier):
  landmarks raw         x, y in pixels (136)
  landmarks normalised  centred on the mean point, divided by the inter-ocular distance (136)
  HOG + landmarks       the 900 HOG values next to either landmark variant (1036)
Classifiers: RBF-SVC (standardised features, C=10, gamma="scale") and LightGBM (200 trees).
Upscale 1 vs 2 is compared with LightGBM on both landmark variants.

Each comparison also gets a paired bootstrap 95% interval of the accuracy difference on the same
dev faces, so a gap can be read against the dev-set noise (one accuracy on ~2,900 faces has a
~0.9% standard error).

Usage: python bench/landmark_normalisation.py [--train-size N] [--seed S] [--n-jobs J]
       [--lgbm-jobs J]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from features.landmarks import detect_landmarks, normalise_landmarks  # noqa: E402

DATA = Path(os.environ.get("FERBENCH_FER2013", REPO.parent / "shared/data/fer2013/fer2013.csv.gz"))


def load_training(path: Path) -> tuple[np.ndarray, np.ndarray]:
    frame = pd.read_csv(path, usecols=["emotion", "pixels", "Usage"])
    frame = frame[frame["Usage"] == "Training"]
    pixels = np.array(" ".join(frame["pixels"]).split(), dtype=np.uint8)
    return pixels.reshape(-1, 48, 48), frame["emotion"].to_numpy(np.int64)


def hog(images: np.ndarray) -> np.ndarray:
    try:
        from features.hog import hog_features
    except ImportError:  # the project's batch HOG is optional here; skimage is the reference
        from skimage.feature import hog as sk_hog

        def hog_features(batch: np.ndarray) -> np.ndarray:
            return np.stack(
                [
                    sk_hog(img, 9, (8, 8), (2, 2), block_norm="L2-Hys", feature_vector=True)
                    for img in batch
                ]
            ).astype(np.float32)

    return hog_features(images)


def split_indices(labels: np.ndarray, train_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    fit_idx, dev_idx = train_test_split(idx, test_size=0.1, stratify=labels, random_state=seed)
    if 0 < train_size < len(fit_idx):
        fit_idx, _ = train_test_split(
            fit_idx, train_size=train_size, stratify=labels[fit_idx], random_state=seed
        )
    return np.sort(fit_idx), np.sort(dev_idx)


def make_classifier(name: str, seed: int, n_jobs: int):  # -> sklearn estimator
    if name == "svc":
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC

        return make_pipeline(StandardScaler(), SVC(C=10, gamma="scale", cache_size=1000))
    from lightgbm import LGBMClassifier

    # One OpenMP thread by default: on a busy shared 2-core machine, LightGBM's spinning threads
    # made 2-thread fits up to 10x slower than 1 thread.
    return LGBMClassifier(n_estimators=200, random_state=seed, n_jobs=n_jobs, verbose=-1)


def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, pred, average="macro"))


def paired_bootstrap(
    y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, seed: int, n_boot: int = 2000
) -> tuple[float, float, float]:
    """Accuracy(b) - accuracy(a) and its 95% bootstrap interval over dev faces."""
    diff = (pred_b == y).astype(np.float64) - (pred_a == y)
    rng = np.random.default_rng(seed)
    boots = diff[rng.integers(0, len(diff), (n_boot, len(diff)))].mean(axis=1)
    return float(diff.mean()), float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-size", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2, help="landmark threads")
    parser.add_argument("--lgbm-jobs", type=int, default=1, help="LightGBM threads")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"FER2013 not found at {DATA} (put ../shared beside the repo); nothing to do.")
        return 0

    t0 = time.perf_counter()
    images, labels = load_training(DATA)
    fit_idx, dev_idx = split_indices(labels, args.train_size, args.seed)
    print(
        f"FER2013 Training: {len(images)} faces -> fit on {len(fit_idx)}, "
        f"score on dev {len(dev_idx)} (stratified 10% of Training)"
        f"  [{time.perf_counter() - t0:.1f} s]"
    )
    order = np.concatenate([fit_idx, dev_idx])  # only the rows we use: fit rows, then dev rows
    images, labels = images[order], labels[order]
    fit_idx, dev_idx = np.arange(len(fit_idx)), np.arange(len(fit_idx), len(images))
    t0 = time.perf_counter()
    raw = {up: detect_landmarks(images, upscale=up, n_jobs=args.n_jobs) for up in (1, 2)}
    hog_all = hog(images)
    print(f"features: landmarks (upscale 1, 2) + HOG  [{time.perf_counter() - t0:.1f} s]")

    def landmarks(up: int, norm: bool) -> np.ndarray:
        points = normalise_landmarks(raw[up]) if norm else raw[up]
        return points.reshape(len(points), -1)

    variants = {
        ("landmarks", 1, False): lambda: landmarks(1, False),
        ("landmarks", 1, True): lambda: landmarks(1, True),
        ("hog+landmarks", 1, False): lambda: np.hstack([hog_all, landmarks(1, False)]),
        ("hog+landmarks", 1, True): lambda: np.hstack([hog_all, landmarks(1, True)]),
        ("landmarks", 2, False): lambda: landmarks(2, False),
        ("landmarks", 2, True): lambda: landmarks(2, True),
    }
    runs = [(clf, key) for clf in ("svc", "lgbm") for key in list(variants)[:4]]
    runs += [("lgbm", key) for key in list(variants)[4:]]

    y_fit, y_dev = labels[fit_idx], labels[dev_idx]
    preds: dict[tuple, np.ndarray] = {}
    print(
        f"\n{'classifier':<6} {'features':<14} {'upscale':>7} {'landmarks':<11} "
        f"{'dev acc':>8} {'macro-F1':>8} {'fit s':>7}"
    )
    for clf_name, key in runs:
        features = variants[key]()
        clf = make_classifier(clf_name, args.seed, args.lgbm_jobs)
        t0 = time.perf_counter()
        clf.fit(features[fit_idx], y_fit)
        pred = clf.predict(features[dev_idx])
        seconds = time.perf_counter() - t0
        preds[(clf_name, *key)] = pred
        kind, up, norm = key
        print(
            f"{clf_name:<6} {kind:<14} {up:>7} {'normalised' if norm else 'raw':<11} "
            f"{np.mean(pred == y_dev):>8.4f} {macro_f1(y_dev, pred):>8.4f} {seconds:>7.1f}",
            flush=True,
        )

    print("\npaired accuracy difference on dev (b - a), bootstrap 95% CI:")
    comparisons = [
        (
            f"{clf}: {kind} normalised vs raw (upscale 1)",
            (clf, kind, 1, False),
            (clf, kind, 1, True),
        )
        for clf in ("svc", "lgbm")
        for kind in ("landmarks", "hog+landmarks")
    ]
    comparisons += [
        (
            f"lgbm: landmarks {'normalised' if norm else 'raw'} upscale 2 vs 1",
            ("lgbm", "landmarks", 1, norm),
            ("lgbm", "landmarks", 2, norm),
        )
        for norm in (False, True)
    ]
    for label, a, b in comparisons:
        mean, lo, hi = paired_bootstrap(y_dev, preds[a], preds[b], args.seed)
        print(f"  {label:<52} {mean:+.4f}  [{lo:+.4f}, {hi:+.4f}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
