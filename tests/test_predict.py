"""``ferbench predict`` end to end, with models trained in this session by the pipeline's own
stages on the real FER2013 sample: Gaussian NB and 1-NN on HOG + landmarks, and a one-epoch
Mini-Xception. Photos, composed frames with known faces, a video written here, a camera stood in
for by that video, ``--no-detect``, a blank image and a corrupt file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import joblib
import numpy as np
import pandas as pd
import pytest
from skimage import data as skdata

from features.crop import CropViews, crop_box, crop_face, crop_views, to_gray
from features.detect import Box, DetectorChain, make_detector
from features.media import VideoSource
from features.store import load_xy
from fer_data.faces import EMOTIONS, read_faces
from fer_data.logs import get_logger
from fer_data.version import ferbench_version
from models.data import training_data
from models.predictor import load_model
from models.records import ModelCard, TrainRecord
from models.registry import build_model
from models.spec import BuildOptions
from pipeline import paths
from pipeline.cli import main as cli_main
from pipeline.params import Params
from pipeline.predict import Settings, open_model
from pipeline.stages import augment, cnn, features, ingest, search, train
from tests.stage_helpers import make_params, stage_run

MODELS = ("gnb", "knn")


@pytest.fixture(scope="module")
def trained(fer2013_sample_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder where ingest -> features -> train (GNB, KNN) and a 1-epoch CNN ran."""
    root = tmp_path_factory.mktemp("predict")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        params = make_params(
            root,
            {
                "data.path": str(fer2013_sample_csv),
                "augment.modes": ["mirror"],
                "models.gnb.search.enabled": False,
                "models.knn.search.enabled": False,
                "train.refit_on_dev": True,  # the saved model is the train + dev fit
                "evaluate.n_boot": 20,
                "cnn.threads": 1,
                "cnn.mini_xception.epochs": 1,
            },
        )
        for module in (ingest, augment, features):
            stage_run(module, params)
        for model in MODELS:
            stage_run(search, params, model)
            stage_run(train, params, model)
        stage_run(cnn, params, "mini_xception")
    return root


@pytest.fixture()
def workdir(trained: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(trained)
    return trained


def _params(root: Path) -> Params:
    from pipeline.params import load_params

    return load_params(root / "params.yaml")


def _run(root: Path, *args: str) -> int:
    return cli_main(["--params", str(root / "params.yaml"), "predict", *args])


def _face(root: Path, index: int = 0, split: str = "test") -> tuple[np.ndarray, int]:
    table = read_faces(root / paths.ingested(split))
    return table.images[index], int(table.emotion[index])


# --- the trained models describe themselves -------------------------------------------------------


def test_train_writes_a_model_card_and_a_dev_score_and_the_saved_model_is_unchanged(
    workdir: Path,
) -> None:
    params = _params(workdir)
    card = ModelCard.read(paths.model_card("gnb"))
    assert card.ferbench_version == ferbench_version() and card.kind == "classical"
    assert card.classes == list(EMOTIONS) and card.label_source == "fer2013"
    assert card.features.feature_set == "hog_landmarks"
    assert card.features.hog.model_dump() == params.features.hog.model_dump()
    lm = params.features.landmarks
    assert card.features.landmarks.model_dump() == lm.model_dump()
    assert card.data.source == "csv" and not card.data.synthetic and card.commit
    assert card.weights == paths.model_file("gnb").name and card.score_kind == "probability"
    record = TrainRecord.read(paths.train_record("gnb"))
    assert 0.2 < record.dev.accuracy < 0.9 and card.dev == record.dev
    assert record.dev.n == len(read_faces(paths.ingested("dev")))
    # The saved model is the train + dev fit it always was: the dev scoring changed nothing.
    cfg = params.models["gnb"]
    x, y, _ = training_data(paths.FEATURES_DIR, cfg.feature_set, cfg.augmentation, True)
    x_test, _, _ = load_xy(paths.FEATURES_DIR, "test", cfg.feature_set)
    options = BuildOptions(cfg.feature_set, cfg.accelerate, params.compute.n_jobs, params.seed)
    direct = build_model("gnb", record.params, options).fit(x, y)
    saved = joblib.load(paths.model_file("gnb"))
    assert np.array_equal(saved.predict(x_test), direct.predict(x_test))


def test_the_predictor_computes_the_features_the_pipeline_stored(workdir: Path) -> None:
    model = load_model(paths.model_dir("gnb"))
    images = read_faces(paths.ingested("test")).images
    x_test, _, _ = load_xy(paths.FEATURES_DIR, "test", "hog_landmarks")
    assert np.array_equal(model.features(images), x_test)
    expected = joblib.load(paths.model_file("gnb")).predict(x_test)
    result = model.predict_faces(images)
    assert np.array_equal(result.labels, expected)
    assert result.scores.shape == (len(images), 7) and result.scores.dtype == np.float32
    assert np.allclose(result.scores.sum(axis=1), 1.0, atol=1e-4)


def test_the_cnn_predictor_reproduces_the_stage_s_ten_crop_predictions(workdir: Path) -> None:
    model = load_model(paths.model_dir("cnn_mini_xception"))
    assert model.card.kind == "cnn" and model.card.cnn.views == "ten_crop"
    images = read_faces(paths.ingested("test")).images
    stage = pd.read_csv(paths.confusion("cnn_mini_xception"))["predicted"].tolist()
    assert model.predict_faces(images).emotions == stage
    assert model.card.dev is not None and model.card.dev.n == len(read_faces(paths.ingested("dev")))


def test_a_card_from_another_version_or_none_is_a_clear_error(workdir: Path, tmp_path) -> None:
    copy = tmp_path / "gnb"
    copy.mkdir()
    card = json.loads(paths.model_card("gnb").read_text())
    (copy / ModelCard.FILE).write_text(json.dumps(card | {"ferbench_version": "0.0.1"}))
    (copy / card["weights"]).write_bytes(paths.model_file("gnb").read_bytes())
    image = tmp_path / "face.png"
    cv2.imwrite(str(image), _face(workdir)[0])
    messages = _capture_log()
    assert _run(workdir, "--model", str(copy), str(image)) == 2
    assert "trained by ferbench 0.0.1" in messages[-1] and ferbench_version() in messages[-1]
    (copy / ModelCard.FILE).unlink()
    assert _run(workdir, "--model", str(copy), str(image)) == 2
    assert "no model_card.json" in messages[-1]


def _capture_log() -> list[str]:
    messages: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger = get_logger()
    for handler in [h for h in logger.handlers if type(h).__name__ == "Keep"]:
        logger.removeHandler(handler)
    logger.addHandler(Keep())
    return messages


# --- photos ---------------------------------------------------------------------------------------


def test_the_default_model_is_the_best_on_dev_and_is_named(workdir: Path, tmp_path) -> None:
    cards = {m: ModelCard.read(paths.model_card(m)) for m in (*MODELS, "cnn_mini_xception")}
    best = max(cards, key=lambda m: (cards[m].dev.accuracy, -ord(m[0])))
    photo = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(photo), cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR))
    messages = _capture_log()
    out = tmp_path / "rows.csv"
    assert _run(workdir, str(photo), "--out", str(out), "--annotate", str(tmp_path / "ann")) == 0
    rows = pd.read_csv(out)
    assert len(rows) == 1 and rows["model"].iloc[0] == best
    assert any(f"model {best} (best dev accuracy" in m for m in messages)
    row = rows.iloc[0]
    assert row["status"] == "face" and row["detector"] == "haar" and row["emotion"] in EMOTIONS
    assert Box(row["x"], row["y"], row["w"], row["h"]).iou(Box(170, 60, 110, 125)) > 0.4
    annotated = cv2.imread(str(tmp_path / "ann" / photo.relative_to(photo.anchor)))
    if annotated is None:  # absolute inputs keep only their name
        annotated = cv2.imread(str(tmp_path / "ann" / photo.name))
    assert annotated.shape == (512, 512, 3)
    assert not np.array_equal(annotated, cv2.imread(str(photo)))


def _stable(model, faces: np.ndarray) -> np.ndarray:
    """Faces whose prediction stays the same when the 48x48 framing shifts by up to 2 pixels
    and grows or shrinks by up to 4 (what a crop box within IoU 0.8 of the original does)."""
    base = model.predict_faces(faces).labels
    keep = np.ones(len(faces), bool)
    pad = 6
    padded = np.stack(
        [cv2.copyMakeBorder(f, pad, pad, pad, pad, cv2.BORDER_REPLICATE) for f in faces]
    )
    for dy in (-2, 0, 2):
        for dx in (-2, 0, 2):
            for grow in (-4, 0, 4):
                top, left, side = pad + dy - grow // 2, pad + dx - grow // 2, 48 + grow
                crops = [
                    cv2.resize(
                        p[top : top + side, left : left + side],
                        (48, 48),
                        interpolation=cv2.INTER_AREA,
                    )
                    for p in padded
                ]
                keep &= model.predict_faces(np.stack(crops)).labels == base
    return keep


def test_composed_frames_give_the_known_boxes_and_the_48x48_emotion(workdir: Path) -> None:
    params = _params(workdir).predict
    model, _ = open_model("gnb", params)
    detector = make_detector("haar")
    images = read_faces(paths.ingested("test")).images[:120]
    stable = images[_stable(model, images)]
    rng = np.random.default_rng(7)
    overlaps, same = [], 0
    for face in stable:
        side = 144  # 3x
        frame = (rng.normal(110, 25, (480, 640)).clip(0, 255)).astype(np.uint8)
        frame = cv2.GaussianBlur(frame, (0, 0), 3)
        x, y = int(rng.integers(0, 640 - side)), int(rng.integers(0, 480 - side))
        big = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
        frame[y : y + side, x : x + side] = big
        results = model.predict_image(frame, detector, params.haar.margin)
        if len(results) != 1:  # the detector misses some faces; the benchmark counts them
            continue
        (found,) = results
        overlap = crop_box(found.box, params.haar.margin).iou(Box(x, y, side, side))
        overlaps.append(overlap)
        if overlap >= 0.8:  # framed as FER2013 framed it: the 48x48 face's emotion
            assert found.emotion == model.predict_faces(face).emotions[0]
            same += 1
    # Haar's box now and then holds only part of a face (the benchmark counts those too).
    assert len(overlaps) >= 8 and np.median(overlaps) > 0.7
    assert np.mean(np.array(overlaps) > 0.5) >= 0.8 and same >= 3


def test_a_photo_s_faces_are_read_at_the_jitter_views_and_their_scores_averaged(
    workdir: Path, tmp_path
) -> None:
    import yaml

    from bench.compose import FrameMaker, match

    params = _params(workdir).predict
    jitter = CropViews(params.jitter.shift, tuple(params.jitter.scales))
    assert len(jitter) > 1 and not params.jitter.video
    settings = Settings.from_params(params, None, True, None)
    assert settings.photo_views == jitter and settings.video_views == CropViews()
    both = params.model_copy(update={"jitter": params.jitter.model_copy(update={"video": True})})
    assert Settings.from_params(both, None, True, None).video_views == jitter
    model, _ = open_model("gnb", params)
    haar = make_detector("haar")
    maker = FrameMaker(seed=5)
    for face in read_faces(workdir / paths.ingested("test")).images[:40]:
        composed = maker.compose(face)
        box = match(haar.detect(composed.frame), composed.box)
        if box is None:
            continue
        views = crop_views(composed.frame, box, params.haar.margin, jitter)
        each = model.predict_faces(views)
        # the views disagree, so the mean is not any one view's
        if len(set(each.labels)) > 1:
            break
    else:
        pytest.fail("no pasted test face among the first 40 whose views disagree")
    mean = each.scores.mean(axis=0)
    (found,) = model.predict_image(composed.frame, haar, params.haar.margin, views=jitter)
    assert np.allclose(found.scores, mean, atol=1e-6) and found.label == int(mean.argmax())
    assert np.array_equal(found.face, crop_face(composed.frame, box, params.haar.margin))
    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), composed.frame)
    out = tmp_path / "rows.csv"
    messages = _capture_log()
    assert _run(workdir, "--model", "gnb", str(photo), "--out", str(out)) == 0
    assert any("each face read at 15 framing(s) on photos, 1 on video" in m for m in messages)
    (row,) = pd.read_csv(out).to_dict("records")
    scores = np.array([row[f"score_{c}"] for c in model.classes])
    assert np.allclose(scores, mean, atol=1e-5) and row["emotion"] == model.classes[mean.argmax()]
    # One view (shift 0, scale 1) is the plain crop's prediction.
    raw = yaml.safe_load((workdir / "params.yaml").read_text())
    raw["predict"]["jitter"] |= {"shift": 0.0, "scales": [1.0]}
    single = tmp_path / "params.yaml"
    single.write_text(yaml.safe_dump(raw))
    args = ["--params", str(single), "predict", "--model", "gnb", str(photo), "--out", str(out)]
    assert cli_main(args) == 0
    (row,) = pd.read_csv(out).to_dict("records")
    plain = model.predict_faces(crop_face(composed.frame, box, params.haar.margin)).scores[0]
    assert np.allclose([row[f"score_{c}"] for c in model.classes], plain, atol=1e-5)


# --- video, camera, and what is not a face --------------------------------------------------------


def _write_video(path: Path, faces: list[np.ndarray], n_frames: int, fps: float = 10.0) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (640, 480))
    for i in range(n_frames):
        frame = np.full((480, 640), 120, np.uint8)
        for k, face in enumerate(faces):
            x, y = 40 + 320 * k + 3 * i, 120 + 2 * i  # each face drifts slowly
            big = cv2.resize(face, (144, 144), interpolation=cv2.INTER_CUBIC)
            frame[y : y + 144, x : x + 144] = big
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()


def _video_with_faces(root: Path, path: Path, n_faces: int, n_frames: int) -> list[np.ndarray]:
    """Write a video of ``n_faces`` test faces that the Haar cascade finds in every decoded
    frame (it misses some FER2013 faces, and some in some frames: the benchmark counts those)."""
    detector = make_detector("haar")
    candidates = iter(read_faces(root / paths.ingested("test")).images)

    def found_in_every_frame(faces: list[np.ndarray]) -> bool:
        _write_video(path, faces, n_frames)
        with VideoSource(path) as source:
            return all(
                len(detector.detect(to_gray(f.image))) == len(faces) for f in source.frames()
            )

    chosen: list[np.ndarray] = []
    while len(chosen) < n_faces:
        face = next(candidates)
        if found_in_every_frame([*chosen, face]):
            chosen.append(face)
    return chosen


def test_a_video_gives_one_row_per_face_per_frame(workdir: Path, tmp_path) -> None:
    video = tmp_path / "clip.mp4"
    _video_with_faces(workdir, video, 2, n_frames=8)
    out = tmp_path / "rows.jsonl"
    ann = tmp_path / "ann"
    code = _run(
        workdir,
        "--model",
        "knn",
        str(video),
        "--out",
        str(out),
        "--annotate",
        str(ann),
        "--smooth",
        "0.5",
    )
    assert code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 16 and {r["status"] for r in rows} == {"face"}
    assert [r["frame"] for r in rows] == [i // 2 for i in range(16)]
    assert rows[2]["time_s"] == pytest.approx(0.1, abs=1e-3) and rows[0]["kind"] == "video"
    # Two faces, two tracks, each kept for the whole clip.
    assert {r["track"] for r in rows[0::2]} | {r["track"] for r in rows[1::2]} == {0, 1}
    assert len({r["track"] for r in rows[0::2]}) == 1
    assert set(rows[0]["scores"]) == set(EMOTIONS) and rows[0]["score_kind"] == "probability"
    assert rows[0]["smoothed_emotion"] in EMOTIONS and set(rows[0]["smoothed_scores"]) == set(
        EMOTIONS
    )
    annotated = list(ann.rglob("*.mp4"))
    assert len(annotated) == 1
    capture = cv2.VideoCapture(str(annotated[0]))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 8
    capture.release()


def test_a_camera_stood_in_for_by_a_video_writes_its_table(workdir: Path, tmp_path) -> None:
    video = tmp_path / "camera.mp4"
    _video_with_faces(workdir, video, 1, n_frames=6)
    out = tmp_path / "camera.csv"
    assert _run(workdir, "--camera", str(video), "--max-frames", "4", "--out", str(out)) == 0
    rows = pd.read_csv(out)
    assert list(rows["frame"]) == [0, 1, 2, 3] and set(rows["kind"]) == {"camera"}
    assert (rows["time_s"].diff().dropna() >= 0).all() and set(rows["status"]) == {"face"}


def test_no_detect_takes_a_face_of_any_size_whole(workdir: Path, tmp_path) -> None:
    face, _ = _face(workdir, 3)
    path = tmp_path / "face96.png"
    cv2.imwrite(str(path), np.kron(face, np.ones((2, 2), np.uint8)))  # exactly 2x
    out = tmp_path / "rows.csv"
    assert _run(workdir, "--model", "gnb", "--no-detect", str(path), "--out", str(out)) == 0
    (row,) = pd.read_csv(out).to_dict("records")
    assert (row["detector"], row["x"], row["y"], row["w"], row["h"]) == ("none", 0, 0, 96, 96)
    expected = load_model(paths.model_dir("gnb")).predict_faces(face)
    assert row["emotion"] == expected.emotions[0]
    assert row["score_Happy"] == pytest.approx(float(expected.scores[0, 3]), abs=1e-6)


def test_a_photo_haar_misses_falls_back_to_mmod_unless_the_fallback_is_off(
    workdir: Path, tmp_path
) -> None:
    import yaml

    from bench.compose import FrameMaker, match

    haar, mmod = make_detector("haar"), make_detector("mmod")
    maker = FrameMaker(seed=21)
    for face in read_faces(workdir / paths.ingested("test")).images[:40]:
        composed = maker.compose(face)
        if match(haar.detect(composed.frame), composed.box) is None and match(
            mmod.detect(composed.frame), composed.box
        ):
            break
    else:
        pytest.fail("no test face that Haar misses and MMOD finds among the first 40")
    photo = tmp_path / "turned.png"
    cv2.imwrite(str(photo), composed.frame)
    out = tmp_path / "rows.csv"
    assert _run(workdir, "--model", "gnb", str(photo), "--out", str(out)) == 0
    (row,) = pd.read_csv(out).to_dict("records")
    assert row["status"] == "face" and row["detector"] == "mmod"
    box = Box(row["x"], row["y"], row["w"], row["h"])
    assert match([box], composed.box)
    # The Python API does the same, cropping with the margin of the detector that found the face.
    params = _params(workdir).predict
    model, _ = open_model("gnb", params)
    margins = {"haar": params.haar.margin, "mmod": params.mmod.margin}
    (found,) = model.predict_image(composed.frame, DetectorChain([haar, mmod]), margins)
    assert found.box == box and params.mmod.margin != params.haar.margin
    assert np.array_equal(found.face, crop_face(composed.frame, box, params.mmod.margin))

    raw = yaml.safe_load((workdir / "params.yaml").read_text())
    raw["predict"]["fallback"] = "none"
    off = tmp_path / "params.yaml"
    off.write_text(yaml.safe_dump(raw))
    code = cli_main(
        ["--params", str(off), "predict", "--model", "gnb", str(photo), "--out", str(out)]
    )
    assert code == 0
    (row,) = pd.read_csv(out).to_dict("records")
    assert row["status"] == "no_face" and row["detector"] == "haar"


def test_blank_corrupt_and_unsupported_inputs_are_rows_and_the_run_goes_on(
    workdir: Path, tmp_path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "blank.png"), np.full((300, 400, 3), 200, np.uint8))
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    (folder / "notes.txt").write_text("not an image")
    photo = folder / "z_astronaut.png"
    cv2.imwrite(str(photo), cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR))
    clip = tmp_path / "clip.xyz"
    clip.write_bytes(b"x")
    out = tmp_path / "rows.csv"
    code = _run(
        workdir,
        "--model",
        "gnb",
        str(folder),
        str(clip),
        str(tmp_path / "gone.png"),
        "--out",
        str(out),
    )
    assert code == 1  # some inputs were errors; the others were done
    rows = pd.read_csv(out).set_index("source")
    assert rows.loc[str(folder / "blank.png"), "status"] == "no_face"
    assert rows.loc[str(folder / "corrupt.jpg"), "status"] == "error"
    assert "not a readable image" in rows.loc[str(folder / "corrupt.jpg"), "error"]
    assert "unsupported file type '.xyz'" in rows.loc[str(clip), "error"]
    assert "no such file" in rows.loc[str(tmp_path / "gone.png"), "error"]
    assert rows.loc[str(photo), "status"] == "face"
    assert str(folder / "notes.txt") not in rows.index  # not media: skipped, and logged
