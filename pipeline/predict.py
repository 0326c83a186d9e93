"""``ferbench predict``: a trained model on photos, folders, globs, video files or a camera.

::

    ferbench predict [--model NAME|DIR] [--detector haar|dlib|mmod | --no-detect]
                     [--out FILE.csv|.jsonl] [--annotate DIR] [--smooth A]
                     INPUT... | --camera N [--max-frames N]

Every face gets a row (see :mod:`pipeline.predict_rows`); an image without a face gets a
``no_face`` row; an input that cannot be read gets an ``error`` row, is counted, and the run goes
on. The default model is the trained model with the best dev accuracy (never chosen on test),
named in the log. Settings come from ``predict:`` in params.yaml (detector, the fallback detector
for photos, crop margins chosen on dev, the framings a photo's faces are read at, smoothing); the
flags override them. On video the detector searches the whole frame every ``redetect_frames``
frames and, in between, only around the faces it knows (:class:`features.detect.RegionTracker`).
Exit code 0, or 1 when some input was an error, or 2 for a bad command line, parameters or model.

The Python API: :func:`open_model` (a model by name, as ``--model``) and
:mod:`models.predictor` (``load_model(directory)``, ``predict_faces``, ``predict_views``,
``predict_image``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from features.crop import CropViews, crop_views, resize_face, to_gray
from features.detect import (
    DETECTORS,
    Box,
    DetectorChain,
    DlibSettings,
    FaceDetector,
    HaarSettings,
    MmodSettings,
    RegionTracker,
    found_by,
    make_detector,
)
from features.media import VideoSource, expand_inputs, media_kind, read_image
from fer_data.errors import DataError
from fer_data.logs import get_logger
from fer_data.records import RecordError
from models.names import ENSEMBLE_NAME
from models.predictor import Predictor, load_model, read_card
from models.records import ModelCard
from models.tracking import FaceTracker
from pipeline import paths
from pipeline.params import Params, ParamsError, PredictParams, load_params
from pipeline.predict_rows import Row, RowWriter
from reports.annotate import Label, VideoWriter, draw, image_target, write_image

BEST_DEV = "best_dev"


# --- which model ----------------------------------------------------------------------------------


def trained_cards(models_dir: Path = paths.MODELS_DIR) -> dict[str, ModelCard]:
    """The usable trained models under ``models_dir`` by name (cards this version can read)."""
    cards = {}
    if models_dir.is_dir():
        for folder in sorted(p for p in models_dir.iterdir() if p.is_dir()):
            if (folder / ModelCard.FILE).exists():
                try:
                    cards[folder.name] = read_card(folder)
                except DataError as exc:
                    get_logger().warning("predict: skipping %s", exc)
    return cards


def best_on_dev(models_dir: Path = paths.MODELS_DIR) -> tuple[str, str]:
    """The name of the trained model with the best dev accuracy, and a sentence saying so.

    Raises
    ------
    DataError
        No trained model has a card with a dev score.
    """
    scored = {n: c.dev.accuracy for n, c in trained_cards(models_dir).items() if c.dev}
    if not scored:
        raise DataError(
            f"{models_dir}: no trained model with a model card and a dev score; train one "
            "(dvc repro) or name one with --model DIR"
        )
    ranked = sorted(scored.items(), key=lambda item: (-item[1], item[0]))
    name, accuracy = ranked[0]
    others = ", ".join(f"{n} {a:.4f}" for n, a in ranked[1:4])
    why = f"best dev accuracy {accuracy:.4f} of {len(ranked)} trained models"
    return name, why + (f" (next: {others})" if others else "")


def model_directory(name: str, models_dir: Path = paths.MODELS_DIR) -> Path:
    """``name`` as a directory holding a card, else ``<models_dir>/<name>``.

    Raises
    ------
    DataError
        Neither exists; the message lists the trained models.
    """
    given = Path(name)
    if given.is_dir() and (given / ModelCard.FILE).exists():
        return given
    folder = models_dir / name
    if folder.is_dir():
        return folder
    if name == ENSEMBLE_NAME:
        raise DataError(
            f"--model {name}: the stacking ensemble cannot predict new faces: it combines the "
            "per-class scores of its members, each computed on its own features by its own "
            "saved model, and is fitted only to score the test split (metrics/models/"
            f"{name}.json); name one of its members instead (trained: "
            f"{', '.join(trained_cards(models_dir)) or 'none'})"
        )
    known = ", ".join(trained_cards(models_dir)) or "none"
    raise DataError(f"--model {name}: no such model directory or trained model (trained: {known})")


def open_model(
    name: str | None = None,
    params: PredictParams | None = None,
    models_dir: Path = paths.MODELS_DIR,
) -> tuple[Predictor, str]:
    """A model as ``--model`` names it: a name, a directory, or ``None`` for ``predict.model``
    (``best_dev``: the best on dev). Returns the model and why it was chosen."""
    params = params or load_params().predict
    name = name or params.model
    why = "named"
    if name == BEST_DEV:
        name, why = best_on_dev(models_dir)
    model = load_model(model_directory(name, models_dir), n_jobs=params.n_jobs)
    if model.card.kind == "cnn":
        model.views = params.cnn_views
    return model, why


# --- settings and counts --------------------------------------------------------------------------


Detector = FaceDetector | DetectorChain | RegionTracker


@dataclass(frozen=True)
class Settings:
    detector: FaceDetector | None  # None: --no-detect (each input is one face)
    fallback: FaceDetector | None  # photos: tried when ``detector`` finds no face
    margins: dict[str, float]  # crop margin per detector name, chosen on dev
    photo_views: CropViews  # the framings a face of a photo is read at (predict.jitter)
    video_views: CropViews  # ... and of a video frame
    redetect_frames: int
    smoothing: float
    track_iou: float
    track_max_missed: int

    @property
    def detector_name(self) -> str:
        return self.detector.name if self.detector else "none"

    def for_images(self) -> Detector | None:
        """The detector of a photo: ``detector``, then ``fallback`` when it finds nothing."""
        if self.detector is None or self.fallback is None:
            return self.detector
        return DetectorChain([self.detector, self.fallback])

    def for_video(self) -> Detector | None:
        """A fresh detector for one video: whole frames every ``redetect_frames`` frames."""
        if self.detector is None:
            return None
        return RegionTracker(self.detector, self.redetect_frames)

    @classmethod
    def from_params(
        cls, params: PredictParams, detector: str | None, detect: bool, smoothing: float | None
    ) -> Settings:
        name = detector or params.detector
        h, d, m = params.haar, params.dlib, params.mmod
        haar = HaarSettings(
            h.scale_factor, h.min_neighbors, h.min_size, h.detect_width, tuple(h.cascades)
        )
        dlib, mmod = (
            DlibSettings(d.upsample, d.detect_width),
            MmodSettings(m.upsample, m.detect_width),
        )
        found = make_detector(name, haar, dlib, mmod) if detect else None
        jitter = CropViews(params.jitter.shift, tuple(params.jitter.scales))
        fallback = None
        if detect and params.fallback not in ("none", name):
            fallback = make_detector(params.fallback, haar, dlib, mmod)
        return cls(
            found,
            fallback,
            {"haar": h.margin, "dlib": d.margin, "mmod": m.margin},
            jitter,
            jitter if params.jitter.video else CropViews(),
            params.redetect_frames,
            params.smoothing if smoothing is None else smoothing,
            params.track_iou,
            params.track_max_missed,
        )


@dataclass
class Summary:
    """What a run read and found, and where its time went."""

    images: int = 0
    videos: int = 0
    frames: int = 0
    faces: int = 0
    no_face: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    read_s: float = 0.0  # decoding images and frames
    detect_s: float = 0.0
    classify_s: float = 0.0  # crops, features and the model
    wall_s: float = 0.0

    def describe(self) -> str:
        parts = [f"{self.images} images", f"{self.videos} videos ({self.frames} frames)"]
        parts += [f"{self.faces} faces", f"{self.no_face} without a face"]
        parts.append(f"{len(self.errors)} errors")
        seen = self.images + self.frames
        if seen:
            parts.append(f"detection {1000 * self.detect_s / seen:.1f} ms per image or frame")
        if self.faces:
            parts.append(f"classification {1000 * self.classify_s / self.faces:.1f} ms per face")
        if self.frames and self.wall_s:
            parts.append(f"{seen / self.wall_s:.1f} images or frames per second overall")
        return ", ".join(parts)


# --- the work -------------------------------------------------------------------------------------


class Applier:
    """Detects, crops and classifies the faces of one image or frame, and keeps the counts."""

    def __init__(self, model: Predictor, settings: Settings, summary: Summary) -> None:
        self.model, self.settings, self.summary = model, settings, summary

    def faces(
        self, bgr: np.ndarray, detector: Detector | None, views: CropViews
    ) -> tuple[str, list[Box], np.ndarray]:
        """The detector that found them, boxes and the 48x48 crops of the faces of a BGR image
        at each framing of ``views``, uint8 (n, len(views), 48, 48) (the whole image, one view,
        when ``detector`` is None: --no-detect)."""
        gray = to_gray(bgr)
        side = self.model.card.image_side
        if detector is None:
            box = Box(0, 0, gray.shape[1], gray.shape[0])
            return "none", [box], resize_face(gray, side)[None, None]
        start = time.perf_counter()
        boxes = detector.detect(gray)
        self.summary.detect_s += time.perf_counter() - start
        name = found_by(detector)
        margin = self.settings.margins[name]
        if not boxes:
            return name, boxes, np.zeros((0, len(views), side, side), np.uint8)
        return name, boxes, np.stack([crop_views(gray, b, margin, views, side) for b in boxes])

    def rows(
        self,
        base: dict,
        bgr: np.ndarray,
        detector: Detector | None,
        views: CropViews,
        tracker: FaceTracker | None = None,
    ) -> tuple[list[Row], list[Label]]:
        by, boxes, faces = self.faces(bgr, detector, views)
        common = {
            **base,
            "detector": by,
            "model": self.model.name,
            "score_kind": self.model.score_kind,
        }
        if not boxes:
            self.summary.no_face += 1
            if tracker is not None:
                tracker.update([], np.zeros((0, len(self.model.classes))))
            return [Row(**common, status="no_face")], []
        start = time.perf_counter()
        found = self.model.predict_views(faces)
        self.summary.classify_s += time.perf_counter() - start
        self.summary.faces += len(boxes)
        tracks = tracker.update(boxes, found.scores) if tracker is not None else None
        rows, labels = [], []
        classes = self.model.classes
        for i, box in enumerate(boxes):
            extra = {}
            emotion, label = classes[found.labels[i]], int(found.labels[i])
            if tracks is not None:
                extra["track"] = tracks[i].track
                if self.settings.smoothing > 0:
                    smoothed = tracks[i].smoothed
                    label = int(np.nanargmax(smoothed))
                    extra |= {"smoothed": smoothed, "smoothed_emotion": classes[label]}
            rows.append(
                Row(
                    **common,
                    status="face",
                    face=i,
                    box=box,
                    emotion=emotion,
                    scores=found.scores[i],
                    **extra,
                )
            )
            text = extra.get("smoothed_emotion", emotion)
            labels.append(Label((box.x, box.y, box.w, box.h), text, label))
        return rows, labels


class Window:
    """A window showing annotated camera frames, where OpenCV has a GUI and there is a display
    (``opencv-python-headless`` has none: then the run goes on without a window)."""

    TITLE = "ferbench predict (q or Esc to stop)"

    def __init__(self, wanted: bool) -> None:
        self.open = False
        if not wanted:
            return
        if sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        ):
            get_logger().info("predict: no display, so no window; the table is written")
            return
        try:
            cv2.namedWindow(self.TITLE, cv2.WINDOW_NORMAL)
            self.open = True
        except cv2.error:
            get_logger().info(
                "predict: this OpenCV build has no GUI (opencv-python-headless), so no window; "
                "the table is written"
            )

    def show(self, frame: np.ndarray) -> bool:
        """Show ``frame``; False when the user asked to stop."""
        if not self.open:
            return True
        cv2.imshow(self.TITLE, frame)
        return cv2.waitKey(1) & 0xFF not in (ord("q"), 27)

    def close(self) -> None:
        if self.open:
            cv2.destroyWindow(self.TITLE)


class Annotations:
    """Where annotated copies go (``--annotate DIR``): one per input, names kept unique."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._used: set[Path] = set()

    def target(self, source: str, suffix: str | None = None) -> Path | None:
        if self.directory is None:
            return None
        path = Path(source)
        relative = path if not path.is_absolute() and ".." not in path.parts else Path(path.name)
        target = self.directory / relative
        target = target.with_suffix(suffix) if suffix else image_target(target)
        stem, n = target.with_suffix(""), 2
        while target in self._used:
            target = Path(f"{stem}-{n}{target.suffix}")
            n += 1
        self._used.add(target)
        return target


def run_image(path: Path, applier: Applier, writer: RowWriter, annotations: Annotations) -> None:
    start = time.perf_counter()
    bgr = read_image(path)
    applier.summary.read_s += time.perf_counter() - start
    applier.summary.images += 1
    rows, labels = applier.rows(
        {"source": str(path), "kind": "image"},
        bgr,
        applier.settings.for_images(),
        applier.settings.photo_views,
    )
    for row in rows:
        writer.write(row)
    target = annotations.target(str(path))
    if target is not None:
        write_image(target, draw(bgr, labels))


def run_video(
    source: VideoSource,
    applier: Applier,
    writer: RowWriter,
    annotations: Annotations,
    max_frames: int | None = None,
    window: Window | None = None,
) -> None:
    """Every frame of ``source`` (at most ``max_frames``), rows written as they come."""
    settings = applier.settings
    tracker = FaceTracker(settings.track_iou, settings.track_max_missed, settings.smoothing)
    detector = settings.for_video()
    kind = "camera" if source.camera else "video"
    target = annotations.target(source.name.replace(":", "_"), ".mp4")
    video: VideoWriter | None = None
    total = (
        source.frame_count
        if max_frames is None
        else min(source.frame_count or max_frames, max_frames)
    )
    frames = source.frames()
    with tqdm(total=total, desc=source.name, unit="frame", leave=False) as bar:
        try:
            while max_frames is None or bar.n < max_frames:
                start = time.perf_counter()
                frame = next(frames, None)
                applier.summary.read_s += time.perf_counter() - start
                if frame is None:
                    break
                base = {"source": source.name, "kind": kind}
                base |= {"frame": frame.index, "time_s": frame.time_s}
                rows, labels = applier.rows(
                    base, frame.image, detector, settings.video_views, tracker
                )
                for row in rows:
                    writer.write(row)
                applier.summary.frames += 1
                bar.update()
                if target is not None or window is not None:
                    drawn = draw(frame.image, labels)
                    if target is not None:
                        if video is None:
                            size = (frame.image.shape[1], frame.image.shape[0])
                            video = VideoWriter(target, source.fps or 25.0, size)
                        video.write(drawn)
                    if window is not None and not window.show(drawn):
                        break
                if source.camera:
                    writer.flush()
        finally:
            if video is not None:
                video.close()
    if applier.summary.frames == 0 and not source.camera:
        raise DataError(f"{source.name}: no frame could be decoded")


def _error(writer: RowWriter, applier: Applier, source: str, kind: str, message: str) -> None:
    applier.summary.errors.append(message)
    get_logger().error("predict: %s", message)
    writer.write(
        Row(
            source=source,
            kind=kind,
            status="error",
            detector=applier.settings.detector_name,
            model=applier.model.name,
            score_kind=applier.model.score_kind,
            error=message,
        )
    )


def run_inputs(
    inputs: Sequence[str],
    applier: Applier,
    writer: RowWriter,
    annotations: Annotations,
) -> None:
    """Every file ``inputs`` name, in order; errors become rows and the run goes on."""
    found = expand_inputs(inputs)
    applier.summary.skipped = [str(p) for p in found.skipped]
    if found.skipped:
        get_logger().warning(
            "predict: skipped %d files in the folders given that are neither images nor videos: %s",
            len(found.skipped),
            ", ".join(map(str, found.skipped[:10])) + (" ..." if len(found.skipped) > 10 else ""),
        )
    for missing in found.missing:
        _error(writer, applier, missing, "missing", f"{missing}: no such file, folder or match")
    for path in tqdm(found.files, desc="predict", unit="file", disable=len(found.files) < 2):
        kind = media_kind(path)
        try:
            if kind == "image":
                run_image(path, applier, writer, annotations)
            elif kind == "video":
                with VideoSource(path) as source:
                    applier.summary.videos += 1
                    run_video(source, applier, writer, annotations)
            else:
                raise DataError(
                    f"{path}: unsupported file type {path.suffix or '(no suffix)'!r}; expected "
                    "an image (jpg, png, bmp, tif, webp, pgm, ...) or a video (mp4, avi, mkv, "
                    "webm, mov)"
                )
        except DataError as exc:
            _error(writer, applier, str(path), kind or "unsupported", str(exc))


# --- the command ----------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ferbench predict",
        description="Predict the emotion of every face in images, folders, globs, videos or a "
        "camera, with a trained model (default: the best on dev).",
    )
    p.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="image or video files, folders, globs"
    )
    p.add_argument("--camera", metavar="N", help="read camera N (an index or a device path)")
    p.add_argument("--max-frames", type=int, metavar="N", help="stop a camera after N frames")
    p.add_argument("--no-window", action="store_true", help="never open a camera window")
    p.add_argument(
        "--model", metavar="NAME|DIR", help=f"a trained model (default: predict.model, {BEST_DEV})"
    )
    p.add_argument("--detector", choices=DETECTORS, help="face detector (predict.detector)")
    p.add_argument(
        "--no-detect", action="store_true", help="each input is one already cropped face"
    )
    p.add_argument(
        "--out", type=Path, metavar="FILE", help="table as .csv or .jsonl (default: CSV to stdout)"
    )
    p.add_argument(
        "--annotate", type=Path, metavar="DIR", help="write copies with boxes and labels here"
    )
    p.add_argument(
        "--smooth",
        type=float,
        metavar="A",
        help="video: EMA of each face's scores, 0 <= A < 1 (predict.smoothing)",
    )
    p.add_argument("--params", default=str(paths.PARAMS_FILE), help="parameters file")
    return p


def _camera_source(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def predict(args: argparse.Namespace, params: Params) -> Summary:
    """Run ``ferbench predict`` as parsed; the summary. Raises DataError for a bad model or
    output (per-input problems are rows)."""
    log = get_logger()
    if args.smooth is not None and not 0.0 <= args.smooth < 1.0:
        raise DataError(f"--smooth {args.smooth}: expected 0 <= A < 1")
    if args.no_detect and args.detector:
        raise DataError("--no-detect and --detector exclude each other")
    model, why = open_model(args.model, params.predict)
    log.info(
        "predict: model %s (%s) from %s; scores: %s",
        model.name,
        why,
        model.directory,
        model.score_kind,
    )
    settings = Settings.from_params(params.predict, args.detector, not args.no_detect, args.smooth)
    if settings.detector is not None:
        log.info(
            "predict: each face read at %d framing(s) on photos, %d on video, scores averaged "
            "(predict.jitter)",
            len(settings.photo_views),
            len(settings.video_views),
        )
    summary = Summary()
    applier = Applier(model, settings, summary)
    writer = RowWriter(args.out, model.classes, settings.smoothing > 0)
    annotations = Annotations(args.annotate)
    start = time.perf_counter()
    try:
        if args.camera is not None:
            window = Window(not args.no_window)
            try:
                with (
                    VideoSource(_camera_source(args.camera), camera=True) as source,
                    contextlib.suppress(KeyboardInterrupt),
                ):
                    run_video(source, applier, writer, annotations, args.max_frames, window)
            finally:
                window.close()
        run_inputs(args.inputs, applier, writer, annotations)
    finally:
        summary.wall_s = time.perf_counter() - start
        writer.close()
    log.info("predict: %s", summary.describe())
    if args.out is not None:
        log.info("wrote %s: %d rows", args.out, writer.count)
    return summary


def cli(argv: Sequence[str] | None = None) -> int:
    """``ferbench predict``: 0, 1 when some inputs were errors, 2 for a bad command or model."""
    args = parser().parse_args(argv)
    if not args.inputs and args.camera is None:
        parser().error("give at least one INPUT, or --camera N")
    try:
        params = load_params(args.params)
        summary = predict(args, params)
    except (ParamsError, DataError, RecordError) as exc:
        get_logger().error("%s", exc)
        return 2
    return 1 if summary.errors else 0


if __name__ == "__main__":
    sys.exit(cli())
