"""Benchmarks of ``ferbench predict``: model sizes and load times, frames per second on video, and
accuracy through the whole detect-crop-classify path. Tables print as Markdown.

    python bench/bench_predict.py --repo CHECKOUT [--model NAME ...] [--frames 150] [--faces 0]

``CHECKOUT``: a checkout after ``dvc repro`` (full FER2013) or ``bench/small_models.py``'s scratch
repo; its ``artifacts/models`` and ``data/ingested/test.feather`` are read, settings come from
this code's params.yaml (``predict:``). Sections:

``sizes``    every trained model's weights file and the time to load it and predict one face.
``speed``    a 640x480 video with one face (a test face, 160 px, drifting over a photograph),
             written with OpenCV, run through ``pipeline.predict.run_video`` per detector and
             model: frames per second end to end, and detection / classification milliseconds,
             with ``predict.redetect_frames`` (whole-frame detection every N frames, the faces
             searched near where they were in between) and with whole-frame detection on every
             frame. Baseline in the same run: the naive per-frame path (full-size detection with
             OpenCV's default smallest window, per-face scikit-image HOG and dlib landmark loop,
             one face at a time into the model). ``--svm-support-vectors N`` also times the
             RBF-SVM's decision at the full model's size (random support vectors; the decision
             costs the same for any values).
``accuracy`` FER2013 test faces enlarged to 96-192 px and pasted into 640x480 frames at random
             positions and backgrounds (:mod:`bench.compose`, a different seed from the margin
             choice): detection rate per detector (Haar; dlib's HOG; Haar then dlib's CNN, MMOD,
             where Haar finds no face: ``predict.fallback``, what photos get), and accuracy
             through the whole path (missed faces count as wrong) beside the direct 48x48 score
             of the same faces, each face read as one crop and at ``predict.jitter``'s
             framings (scores averaged, what photos get). MMOD alone is not run: ~3 s a frame
             on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from functools import partial
from pathlib import Path

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.compose import FrameMaker, match  # noqa: E402
from features.crop import CropViews, crop_face, crop_views, to_gray  # noqa: E402
from features.detect import Box, found_by  # noqa: E402
from features.media import VideoSource  # noqa: E402
from fer_data.faces import read_faces  # noqa: E402
from models.predictor import ClassicalPredictor, load_model  # noqa: E402
from models.svm import CompactRBFSVC  # noqa: E402
from pipeline import paths  # noqa: E402
from pipeline.params import load_params  # noqa: E402
from pipeline.predict import (  # noqa: E402
    Annotations,
    Applier,
    Settings,
    Summary,
    run_video,
    trained_cards,
)
from pipeline.predict_rows import RowWriter  # noqa: E402


def _machine() -> str:
    load = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"


# --- sizes ----------------------------------------------------------------------------------------


def sizes(models_dir: Path, names: list[str], face: np.ndarray) -> None:
    """Weights, load time, and the time to classify one face read once and at the photo views."""
    jitter = Settings.from_params(
        load_params(REPO_ROOT / paths.PARAMS_FILE).predict, None, False, None
    ).photo_views
    frame = cv2.resize(face, (96, 96), interpolation=cv2.INTER_CUBIC)
    read = crop_views(frame, Box(24, 24, 48, 48), 0.0, jitter)[None]
    print(
        f"\n| model | weights file | MB | load + first face, s | ms / face, 1 view | "
        f"ms / face, {len(jitter)} views |\n| --- | --- | --- | --- | --- | --- |"
    )
    for name in names:
        start = time.perf_counter()
        model = load_model(models_dir / name)
        model.predict_faces(face)
        seconds = time.perf_counter() - start
        mb = model.weights.stat().st_size / 1e6
        one = _per_call(lambda m=model: m.predict_faces(face))
        many = _per_call(lambda m=model: m.predict_views(read))
        print(
            f"| {name} | {model.card.weights} | {mb:.1f} | {seconds:.2f} | {1000 * one:.1f} | "
            f"{1000 * many:.1f} |"
        )


def _per_call(call, repeats: int = 10) -> float:
    """Median seconds of ``call()`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


# --- speed ----------------------------------------------------------------------------------------


def write_video(path: Path, face: np.ndarray, frames: int, fps: float = 30.0) -> None:
    background = FrameMaker(seed=5).photos[0]  # brick
    background = cv2.resize(background, (640, 480))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (640, 480))
    big = cv2.resize(face, (160, 160), interpolation=cv2.INTER_CUBIC)
    for i in range(frames):
        frame = background.copy()
        x, y = 100 + (i * 2) % 300, 120 + (i % 60)
        frame[y : y + 160, x : x + 160] = big
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()


def timed_path(video: Path, model, settings: Settings) -> Summary:
    """``ferbench predict``'s own video loop, rows written to a CSV beside the video."""
    summary = Summary()
    writer = RowWriter(video.with_suffix(".csv"), model.classes, False)
    start = time.perf_counter()
    try:
        with VideoSource(video) as source:
            run_video(source, Applier(model, settings, summary), writer, Annotations(None))
    finally:
        writer.close()
    summary.wall_s = time.perf_counter() - start
    return summary


def detectable_face(faces: np.ndarray) -> np.ndarray:
    """The first test face that both detectors find when enlarged to 160 px in a plain frame."""
    from features.detect import make_detector

    detectors = [make_detector("haar"), make_detector("dlib")]
    for face in faces:
        frame = np.full((480, 640), 128, np.uint8)
        frame[120:280, 100:260] = cv2.resize(face, (160, 160), interpolation=cv2.INTER_CUBIC)
        if all(len(d.detect(frame)) == 1 for d in detectors):
            return face
    raise SystemExit("no test face is found by both detectors")


def naive_path(video: Path, model, detector_name: str, margin: float) -> Summary:
    """Per frame: full-size detection with OpenCV's default smallest window (or dlib as is),
    crops, the per-face reference features (skimage HOG, dlib's predictor loop) and the model
    on one face at a time."""
    import dlib
    from skimage.feature import hog

    from features.landmarks import shape_model_path

    summary = Summary()
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    hog_detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(shape_model_path()))
    spec = model.card.features if isinstance(model, ClassicalPredictor) else None
    start = time.perf_counter()
    with VideoSource(video) as source:
        for frame in source.frames():
            summary.frames += 1
            gray = to_gray(frame.image)
            t0 = time.perf_counter()
            if detector_name == "haar":
                boxes = [Box(*map(int, b)) for b in cascade.detectMultiScale(gray, 1.1, 5)]
            else:
                boxes = [
                    Box(r.left(), r.top(), r.width(), r.height()) for r in hog_detector(gray, 0)
                ]
            t1 = time.perf_counter()
            summary.detect_s += t1 - t0
            for box in boxes:
                face = crop_face(gray, box, margin)
                if spec is None:
                    model.predict_faces(face)
                else:
                    h, lm = spec.hog, spec.landmarks
                    columns = [
                        hog(
                            face, h.orientations, (h.pixels_per_cell,) * 2, (h.cells_per_block,) * 2
                        )
                    ]
                    big = cv2.resize(
                        face, None, fx=lm.upscale, fy=lm.upscale, interpolation=cv2.INTER_LINEAR
                    )
                    rect = dlib.rectangle(0, 0, big.shape[1] - 1, big.shape[0] - 1)
                    points = predictor(big, rect).parts()
                    columns.append(
                        np.array([(p.x, p.y) for p in points], np.float32).ravel() / lm.upscale
                    )
                    model.pipeline.predict(np.hstack(columns)[None].astype(np.float32))
                summary.faces += 1
            summary.classify_s += time.perf_counter() - t1
    summary.wall_s = time.perf_counter() - start
    return summary


def speed(models_dir: Path, names: list[str], face: np.ndarray, frames: int, sv: int) -> None:
    params = load_params(REPO_ROOT / paths.PARAMS_FILE).predict
    print(f"\nspeed: 640x480 video, one face, {frames} frames; {_machine()}")
    print("\n| detector | model | path | fps | detect ms/frame | classify ms/face | faces |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "one_face.mp4"
        write_video(video, face, frames)
        for detector in ("haar", "dlib"):
            settings = Settings.from_params(params, detector, True, None)
            every_frame = replace(settings, redetect_frames=1)
            for name in names:
                model = load_model(models_dir / name)
                model.warm_up()
                runs = [
                    (f"ferbench, whole frame every {settings.redetect_frames}", None),
                    ("ferbench, whole frame every frame", every_frame),
                ]
                runs = [
                    (label, partial(timed_path, video, model, s or settings)) for label, s in runs
                ]
                if model.card.kind == "cnn":
                    centre = partial(_centre, models_dir / name, video, settings)
                    runs.append(("ferbench, centre crop", centre))
                margin = settings.margins[detector]
                baseline = partial(naive_path, video, model, detector, margin)
                runs.append(("naive baseline", baseline))
                for label, run in runs:
                    s = run()
                    fps = s.frames / s.wall_s
                    classify = 1000 * s.classify_s / max(s.faces, 1)
                    print(
                        f"| {detector} | {name} | {label} | {fps:.1f} | "
                        f"{1000 * s.detect_s / s.frames:.1f} | {classify:.1f} | {s.faces} |"
                    )
    if sv:
        svm_at_size(sv, face)


def _centre(directory: Path, video: Path, settings: Settings) -> Summary:
    model = load_model(directory)
    model.views = "center_crop"
    model.warm_up()
    return timed_path(video, model, settings)


def svm_at_size(n_sv: int, face: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    compact = CompactRBFSVC()
    compact.support_vectors_ = rng.standard_normal((n_sv, 1036)).astype(np.float32)
    compact.n_support_ = np.full(7, n_sv // 7)
    compact.n_support_[-1] += n_sv - compact.n_support_.sum()
    compact.dual_coef_ = rng.standard_normal((6, n_sv))
    compact.intercept_ = np.zeros(21)
    compact.gamma_, compact.classes_, compact.n_features_in_ = 0.001, np.arange(7), 1036
    x = rng.standard_normal((1, 1036))
    compact.predict(x)
    start = time.perf_counter()
    for _ in range(20):
        compact.predict(x)
    ms = 1000 * (time.perf_counter() - start) / 20
    mb = compact.support_vectors_.nbytes / 1e6
    print(
        f"\nRBF-SVM decision at {n_sv} support vectors ({mb:.0f} MB float32): {ms:.1f} ms per face"
    )


# --- accuracy -------------------------------------------------------------------------------------


def accuracy(models_dir: Path, names: list[str], faces: np.ndarray, labels: np.ndarray) -> None:
    params = load_params(REPO_ROOT / paths.PARAMS_FILE).predict
    models = {name: load_model(models_dir / name) for name in names}
    direct = {n: m.predict_faces(faces).labels == labels for n, m in models.items()}
    print(f"\naccuracy: {len(faces)} test faces pasted into 640x480 frames; {_machine()}")
    print(
        "\n| detector | margin | detected (by) | ms / frame | model | views | direct 48x48 | "
        "whole path | on detected faces |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    chained = Settings.from_params(params, "haar", True, None)
    detectors = {
        "haar": Settings.from_params(
            params.model_copy(update={"fallback": "none"}), "haar", True, None
        ),
        "dlib": Settings.from_params(
            params.model_copy(update={"fallback": "none"}), "dlib", True, None
        ),
        chained.for_images().name: chained,  # haar, then mmod where haar finds no face
    }
    for label, settings in detectors.items():
        detector = settings.for_images()
        readings = {"1": CropViews(), str(len(settings.photo_views)): settings.photo_views}
        maker = FrameMaker(seed=99)
        crops: dict[str, list[np.ndarray]] = {k: [] for k in readings}
        kept, by = [], Counter()
        start = time.perf_counter()
        for i, face in enumerate(faces):
            composed = maker.compose(face)
            box = match(detector.detect(composed.frame), composed.box)
            if box is not None:
                name = found_by(detector)
                by[name] += 1
                margin = settings.margins[name]
                for key, views in readings.items():
                    crops[key].append(crop_views(composed.frame, box, margin, views))
                kept.append(i)
        seconds = (time.perf_counter() - start) / len(faces)
        rate = len(kept) / len(faces)
        margins = ", ".join(f"{n} {settings.margins[n]}" for n in by) or "-"
        for name, model in models.items():
            for key in readings:
                right = (
                    model.predict_views(np.stack(crops[key])).labels == labels[kept] if kept else []
                )
                whole = float(np.sum(right)) / len(faces)
                on_found = float(np.mean(right)) if len(kept) else float("nan")
                print(
                    f"| {label} | {margins} | {100 * rate:.1f}% ({dict(by)}) | "
                    f"{1000 * seconds:.0f} | {name} | {key} | {100 * direct[name].mean():.2f}% | "
                    f"{100 * whole:.2f}% | {100 * on_found:.2f}% |",
                    flush=True,
                )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repo", type=Path, required=True)
    p.add_argument("--model", action="append", help="default: every trained model")
    p.add_argument("--frames", type=int, default=150)
    p.add_argument("--faces", type=int, default=0, help="test faces for accuracy (0: all)")
    p.add_argument("--svm-support-vectors", type=int, default=0)
    p.add_argument("--only", choices=("sizes", "speed", "accuracy"), action="append")
    args = p.parse_args()
    models_dir = args.repo / paths.MODELS_DIR
    names = args.model or list(trained_cards(models_dir))
    test = read_faces(args.repo / paths.ingested("test"))
    faces, labels = test.images, test.emotion.astype(np.int64)
    if args.faces:
        faces, labels = faces[: args.faces], labels[: args.faces]
    sections = args.only or ["sizes", "speed", "accuracy"]
    print(f"models of {models_dir}: {', '.join(names)}")
    if "sizes" in sections:
        sizes(models_dir, names, faces[0])
    if "speed" in sections:
        face = detectable_face(faces)
        speed(models_dir, names, face, args.frames, args.svm_support_vectors)
    if "accuracy" in sections:
        accuracy(models_dir, names, faces, labels)


if __name__ == "__main__":
    main()
