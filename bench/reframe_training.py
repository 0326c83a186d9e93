"""Does training on re-framed faces make the RBF-SVM robust to a face detector's framing? (dev only)

    python bench/reframe_training.py --repo CHECKOUT [--train-size 10000] [--limit 1000]

``CHECKOUT``: a full-FER2013 checkout after ``dvc repro`` whose ``artifacts/models/svm`` was
fitted on train alone (``train.refit_on_dev: false``); its card gives the feature set and the SVM's
parameters, which every variant below keeps. The SVM is refitted on a random ``--train-size``
sample of the Training split with its mirrors (as the default ``augmentation: mirror``), then with
re-framed copies: each image moved by up to ``shift`` of its side across and down and rescaled by
up to ``shift`` (:func:`fer_data.augmentations.reframe_images`, what ``augment.modes: reframe``
makes), either added to the sample and its mirrors (twice the rows: the ``reframe`` mode) or in
their place (the same rows).

Each fit is scored on dev twice: on the 48x48 dev faces, and through the detector path of
``bench/choose_margin.py`` (the first ``--limit`` dev faces pasted into 640x480 frames with its
seed, Haar's boxes, margin 0.0, one crop): "gap" is the accuracy on the 48x48 faces Haar found
minus the accuracy on Haar's crops of them. Also printed: the fit's support vectors and the size of
the model as the train stage saves it. PublicTest/PrivateTest are never read.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

import joblib
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.compose import FrameMaker, match  # noqa: E402
from features.crop import crop_face  # noqa: E402
from features.detect import make_detector  # noqa: E402
from fer_data.augmentations import reframe_images  # noqa: E402
from fer_data.faces import read_faces  # noqa: E402
from models.predictor import load_model  # noqa: E402
from models.spec import BuildOptions  # noqa: E402
from models.svm import build, export  # noqa: E402
from pipeline import paths  # noqa: E402


def _saved_mb(model) -> float:
    """Megabytes of the fitted pipeline as the train stage saves it (compact SVC, joblib)."""
    buffer = io.BytesIO()
    joblib.dump(export(model), buffer)
    return buffer.tell() / 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repo", type=Path, required=True)
    p.add_argument("--train-size", type=int, default=10_000, help="0: every training face")
    p.add_argument("--limit", type=int, default=1000, help="first N dev faces for the path")
    p.add_argument("--shifts", type=float, nargs="+", default=[0.03, 0.05])
    args = p.parse_args()

    reference = load_model(args.repo / paths.MODELS_DIR / "svm")
    features = reference.features  # the card's feature set, as predict computes it
    train = read_faces(args.repo / paths.ingested("train"))
    dev = read_faces(args.repo / paths.ingested("dev"))
    size = args.train_size or len(train.images)
    sample = np.random.default_rng(0).choice(len(train.images), size, replace=False)
    faces, labels = train.images[sample], train.emotion[sample].astype(np.int64)
    print(f"{size} training faces of {args.repo}; SVM parameters {reference.card.params}")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")

    dev_labels = dev.emotion.astype(np.int64)
    pasted, pasted_labels = dev.images[: args.limit], dev_labels[: args.limit]
    maker, haar = FrameMaker(2013), make_detector("haar")  # choose_margin.py's frames
    crops, kept = [], []
    for i, face in enumerate(pasted):
        composed = maker.compose(face)
        box = match(haar.detect(composed.frame), composed.box)
        if box is not None:
            crops.append(crop_face(composed.frame, box, 0.0))
            kept.append(i)
    print(f"Haar found {len(kept)} of {len(pasted)} pasted dev faces")
    dev_x, found_x, crop_x = features(dev.images), features(pasted[kept]), features(np.stack(crops))
    found_y = pasted_labels[kept]

    mirror = faces[:, :, ::-1].copy()
    variants = {"mirror (the default)": (np.r_[faces, mirror], np.r_[labels, labels])}
    for shift in args.shifts:
        rng = np.random.default_rng(1)
        both = np.r_[faces, mirror]
        variants[f"mirror + re-framed copies, {shift}"] = (
            np.r_[faces, mirror, reframe_images(both, shift, rng)],
            np.r_[labels, labels, labels, labels],
        )
        variants[f"re-framed mirror, {shift}"] = (
            np.r_[reframe_images(faces, shift, rng), reframe_images(mirror, shift, rng)],
            np.r_[labels, labels],
        )
    print(
        "\n| training set | rows | dev | 48x48 faces Haar found | Haar's crops | gap | fit, s | "
        "support vectors | saved, MB |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, (images, y) in variants.items():
        start = time.perf_counter()
        model = build(reference.card.params, BuildOptions()).fit(features(images), y)
        seconds = time.perf_counter() - start
        on_dev = np.mean(model.predict(dev_x) == dev_labels)
        on_found = np.mean(model.predict(found_x) == found_y)
        on_crops = np.mean(model.predict(crop_x) == found_y)
        print(
            f"| {name} | {len(images)} | {100 * on_dev:.2f}% | {100 * on_found:.2f}% | "
            f"{100 * on_crops:.2f}% | {100 * (on_found - on_crops):.2f} | {seconds:.0f} | "
            f"{int(model[-1].n_support_.sum())} | {_saved_mb(model):.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
