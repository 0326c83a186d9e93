"""Choose the crop margin that matches FER2013's framing, on dev (never test).

    python bench/choose_margin.py --repo CHECKOUT [--model NAME ...] [--limit N]

For every dev face of ``CHECKOUT`` (a checkout after ``dvc repro``, or ``bench/small_models.py``'s
scratch repo): enlarge it to a random 96-192 px square, paste it into a random 640x480 frame
(:mod:`bench.compose`), detect faces (Haar and dlib), and crop the matched detection with each
candidate margin (:func:`features.crop.crop_face`). Each trained model that never saw dev (its
card's ``refit_on_dev`` is false: with the default parameters the CNN; ``small_models.py`` trains
every model so), or each ``--model``, classifies every crop; the margin with the best mean dev
accuracy over the models is the one to set as ``predict.<detector>.margin`` in params.yaml.
Prints, per detector, the detection rate, the detected box's side relative to the pasted square,
and accuracy per margin and model beside each model's accuracy on the 48x48 dev faces. Then, at
the chosen margin, the accuracy of each candidate ``predict.jitter`` (each face read at several
framings around the box, the model's scores averaged: :class:`features.crop.CropViews`).
``--framing`` first prints how much each model depends on FER2013's exact framing: accuracy on
the pasted square itself (no detector), and on it moved or resized by a few percent of its side.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.compose import FrameMaker, match  # noqa: E402
from features.crop import CropViews, crop_face, crop_views, reframe_box  # noqa: E402
from features.detect import DETECTORS, make_detector  # noqa: E402
from fer_data.faces import read_faces  # noqa: E402
from models.predictor import load_model  # noqa: E402
from pipeline import paths  # noqa: E402
from pipeline.predict import trained_cards  # noqa: E402

MARGINS = (-0.05, 0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35)
# predict.jitter candidates: (shift of the side, scales)
JITTERS = tuple(
    CropViews(shift, scales)
    for scales in ((1.0,), (0.96, 1.0, 1.04))
    for shift in (0.0, 0.02, 0.04)
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repo", type=Path, required=True)
    p.add_argument("--model", action="append", help="default: every trained model")
    p.add_argument("--detector", action="append", choices=DETECTORS)
    p.add_argument("--limit", type=int, default=0, help="first N dev faces (0: all)")
    p.add_argument("--margins", type=float, nargs="*", default=list(MARGINS))
    p.add_argument("--seed", type=int, default=2013)
    p.add_argument("--framing", action="store_true", help="also the framing sensitivity table")
    args = p.parse_args()

    dev = read_faces(args.repo / paths.ingested("dev"))
    faces, labels = dev.images, dev.emotion.astype(np.int64)
    if args.limit:
        faces, labels = faces[: args.limit], labels[: args.limit]
    models_dir = args.repo / paths.MODELS_DIR
    cards = trained_cards(models_dir)
    names = args.model or [name for name, card in cards.items() if not card.refit_on_dev]
    if not names:
        raise SystemExit(f"{models_dir}: no trained model that never saw dev; name one (--model)")
    for name in names:
        if cards[name].refit_on_dev:
            print(f"warning: {name} was refitted on train + dev: its dev scores are optimistic")
    models = {name: load_model(models_dir / name) for name in names}
    load = os.getloadavg()
    print(f"dev: {len(faces)} faces of {args.repo}; models: {', '.join(names)}")
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f}")
    direct = {n: float(np.mean(m.predict_faces(faces).labels == labels)) for n, m in models.items()}
    print("direct 48x48 dev accuracy: " + ", ".join(f"{n} {a:.4f}" for n, a in direct.items()))
    if args.framing:
        framing(models, faces, labels, args.seed)

    for detector_name in args.detector or ["haar", "dlib"]:
        detector = make_detector(detector_name)
        maker = FrameMaker(args.seed)  # the same frames for every detector
        found, kept, ratios = [], [], []
        start = time.perf_counter()
        for i, face in enumerate(faces):
            composed = maker.compose(face)
            box = match(detector.detect(composed.frame), composed.box)
            if box is not None:
                found.append((composed, box))
                kept.append(i)
                ratios.append(composed.box.w / max(box.w, box.h))
        seconds = time.perf_counter() - start
        rate = len(found) / len(faces)
        ratio = float(np.median(ratios)) if ratios else float("nan")
        print(
            f"\n{detector_name}: detected {len(found)} of {len(faces)} ({100 * rate:.1f}%) in "
            f"{seconds:.1f} s; pasted side / box side: median {ratio:.3f} "
            f"(margin {(ratio - 1) / 2:.3f} would restore the pasted square)"
        )
        truth = labels[kept]
        header = "margin  " + "  ".join(f"{n:>18}" for n in names) + "      mean"
        print(header)
        best = (-1.0, None)
        for margin in args.margins:
            crops = np.stack([crop_face(c.frame, box, margin) for c, box in found])
            accs = [float(np.mean(m.predict_faces(crops).labels == truth)) for m in models.values()]
            mean = float(np.mean(accs))
            best = max(best, (mean, margin))
            print(f"{margin:6.2f}  " + "  ".join(f"{a:18.4f}" for a in accs) + f"  {mean:8.4f}")
        same = [
            float(np.mean(m.predict_faces(faces[kept]).labels == truth)) for m in models.values()
        ]
        print("48x48   " + "  ".join(f"{a:18.4f}" for a in same) + f"  {np.mean(same):8.4f}")
        print(
            f"chosen: predict.{detector_name}.margin: {best[1]} (mean dev accuracy {best[0]:.4f})"
        )
        choose_jitter(models, found, truth, best[1])


# (label, shift across, shift down, side factor) of the pasted square, in fractions of its side
REFRAMINGS = (
    ("pasted square", 0.0, 0.0, 1.0),
    ("moved 3% across", 0.03, 0.0, 1.0),
    ("moved 6% across", 0.06, 0.0, 1.0),
    ("moved 3% down", 0.0, 0.03, 1.0),
    ("moved 6% down", 0.0, 0.06, 1.0),
    ("3% smaller", 0.0, 0.0, 0.97),
    ("3% larger", 0.0, 0.0, 1.03),
)


def framing(models: dict, faces: np.ndarray, labels: np.ndarray, seed: int) -> None:
    """Accuracy on the pasted square (FER2013's own framing, enlarged and cut back to 48x48)
    and on it moved or resized: how much each model depends on the exact framing."""
    maker = FrameMaker(seed)
    composed = [maker.compose(face) for face in faces]
    print("\nframing (no detector): " + "  ".join(models))
    for label, across, down, factor in REFRAMINGS:
        crops = [
            crop_face(c.frame, reframe_box(c.box, across, down, factor), 0.0) for c in composed
        ]
        accs = [
            float(np.mean(m.predict_faces(np.stack(crops)).labels == labels))
            for m in models.values()
        ]
        print(f"{label:>16}: " + "  ".join(f"{a:.4f}" for a in accs))


def choose_jitter(models: dict, found: list, truth: np.ndarray, margin: float) -> None:
    """Dev accuracy of each model when every face is read at each candidate set of views."""
    print(f"\nviews at margin {margin}: shift  scales  (crops)  " + "  ".join(models) + "  mean")
    best = (-1.0, None)
    for views in JITTERS:
        crops = np.stack([crop_views(c.frame, box, margin, views) for c, box in found])
        accs = [float(np.mean(m.predict_views(crops).labels == truth)) for m in models.values()]
        mean = float(np.mean(accs))
        best = max(best, (mean, views), key=lambda pair: pair[0])
        print(
            f"{views.shift:5.2f}  {list(views.scales)}  ({len(views)})  "
            + "  ".join(f"{a:.4f}" for a in accs)
            + f"  {mean:.4f}"
        )
    mean, views = best
    print(
        f"chosen: predict.jitter: shift {views.shift}, scales {list(views.scales)} "
        f"(mean dev accuracy {mean:.4f})"
    )


if __name__ == "__main__":
    main()
