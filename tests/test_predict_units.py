"""The pieces of ``ferbench predict`` that need no trained model: face detection on a real
photograph, FER2013-style crops, media reading, tracking, and the compact RBF-SVM."""

from __future__ import annotations

import io

import cv2
import joblib
import numpy as np
import pytest
from skimage import data as skdata
from skimage.feature import hog

from features.crop import CropViews, crop_box, crop_face, crop_views, resize_face, to_gray
from features.detect import (
    DETECTORS,
    Box,
    DetectorChain,
    DlibSettings,
    HaarSettings,
    MmodSettings,
    RegionTracker,
    make_detector,
)
from features.media import VideoSource, expand_inputs, read_image
from fer_data.errors import DataError
from models.svm import CompactRBFSVC, build, export
from models.tracking import FaceTracker
from tests.stage_helpers import repo_params

# The astronaut's face in skimage.data.astronaut() (512 x 512), by eye: forehead to chin.
ASTRONAUT_FACE = Box(170, 60, 110, 125)


@pytest.mark.parametrize("name", DETECTORS)
def test_the_astronaut_photo_has_exactly_one_face_where_her_face_is(name: str) -> None:
    gray = to_gray(skdata.astronaut(), "rgb")
    boxes = make_detector(name).detect(gray)
    assert len(boxes) == 1
    (box,) = boxes
    assert box.iou(ASTRONAUT_FACE) > 0.4, box
    assert 60 <= box.w <= 140 and 0.8 <= box.h / box.w <= 1.25


def test_detection_on_a_shrunk_copy_finds_the_same_face() -> None:
    gray = to_gray(skdata.astronaut(), "rgb")
    full = make_detector("haar").detect(gray)[0]
    small = make_detector("haar", HaarSettings(detect_width=256)).detect(gray)[0]
    assert small.iou(full) > 0.7


def test_detector_defaults_are_the_params_yaml_values() -> None:
    predict = repo_params().predict
    haar = predict.haar.model_dump(exclude={"margin"})
    assert HaarSettings(**{**haar, "cascades": tuple(haar["cascades"])}) == HaarSettings()
    assert DlibSettings(**predict.dlib.model_dump(exclude={"margin"})) == DlibSettings()
    assert MmodSettings(**predict.mmod.model_dump(exclude={"margin"})) == MmodSettings()


def test_the_mmod_fallback_finds_faces_the_haar_cascades_miss(
    real_faces: tuple[np.ndarray, np.ndarray],
) -> None:
    from bench.compose import FrameMaker, match

    haar = make_detector("haar")
    chain = DetectorChain([haar, make_detector("mmod")])
    assert chain.name == "haar+mmod"
    maker = FrameMaker(seed=8)
    frames = [maker.compose(face) for face in real_faces[0][:24]]
    missed = [c for c in frames if match(haar.detect(c.frame), c.box) is None]
    assert missed, "Haar found all 24 faces: pick frames it misses"
    rescued = 0
    for composed in missed:
        if match(chain.detect(composed.frame), composed.box) is not None:
            assert chain.found_by == "mmod"
            rescued += 1
    assert rescued >= 0.5 * len(missed)  # ~80% of the faces Haar misses (README)
    assert chain.detect(np.zeros((120, 160), np.uint8)) == [] and chain.found_by == "haar"


class _Counting:
    """A detector that counts whole-frame calls (those on images of the frame's size)."""

    def __init__(self, inner, frame_shape: tuple[int, int]) -> None:
        self.inner, self.frame_shape, self.whole = inner, frame_shape, 0
        self.name, self.tracking_side = inner.name, inner.tracking_side

    def detect(self, gray: np.ndarray) -> list[Box]:
        self.whole += gray.shape == self.frame_shape
        return self.inner.detect(gray)


def _drifting(face: np.ndarray, frames: int, start: int = 0) -> list[tuple[np.ndarray, Box]]:
    """640x480 frames of the astronaut's face, 150 px, moving 4 px right and 2 down a frame."""
    big = cv2.resize(face, (150, 150), interpolation=cv2.INTER_AREA)
    out = []
    for i in range(start, start + frames):
        frame = np.full((480, 640), 90, np.uint8)
        x, y = 60 + 4 * i, 80 + 2 * i
        frame[y : y + 150, x : x + 150] = big
        out.append((frame, Box(x, y, 150, 150)))
    return out


def test_the_region_tracker_follows_a_face_and_looks_at_whole_frames_every_n() -> None:
    gray = to_gray(skdata.astronaut(), "rgb")
    face = gray[40:220, 135:315]  # the astronaut's head with some margin
    frames = _drifting(face, 25)
    counting = _Counting(make_detector("haar"), (480, 640))
    tracker = RegionTracker(counting, redetect_every=10)
    whole_frame = make_detector("haar")
    for frame, truth in frames:
        (tracked,) = tracker.detect(frame)
        (full,) = whole_frame.detect(frame)
        assert tracked.iou(full) > 0.6  # what a whole-frame search finds, at a fraction of the cost
        assert truth.x < tracked.x + tracked.w / 2 < truth.x + truth.w  # and it moves with the face
        assert truth.y < tracked.y + tracked.h / 2 < truth.y + truth.h
    assert counting.whole == 3  # frames 0, 10 and 20


def test_the_region_tracker_finds_a_new_face_at_the_next_whole_frame_and_drops_a_lost_one() -> None:
    gray = to_gray(skdata.astronaut(), "rgb")
    face = cv2.resize(gray[40:220, 135:315], (150, 150), interpolation=cv2.INTER_AREA)
    counting = _Counting(make_detector("haar"), (480, 640))
    tracker = RegionTracker(counting, redetect_every=5)
    blank = np.full((480, 640), 90, np.uint8)
    with_face = blank.copy()
    with_face[100:250, 300:450] = face
    assert tracker.detect(blank) == []  # nothing known: every frame is searched whole
    assert tracker.detect(blank) == [] and counting.whole == 2
    assert len(tracker.detect(with_face)) == 1 and counting.whole == 3
    assert len(tracker.detect(with_face)) == 1 and counting.whole == 3  # the region only
    assert tracker.detect(blank) == [] and counting.whole == 3  # lost in its region ...
    assert tracker.detect(blank) == [] and counting.whole == 4  # ... so the next is whole
    with pytest.raises(ValueError, match="redetect_every"):
        RegionTracker(counting, redetect_every=0)


def test_the_cascade_chain_finds_faces_the_frontal_cascade_misses(
    real_faces: tuple[np.ndarray, np.ndarray],
) -> None:
    from bench.compose import FrameMaker, match

    frontal = make_detector("haar", HaarSettings(cascades=("frontalface_default",)))
    chain = make_detector("haar", HaarSettings())
    maker = FrameMaker(seed=5)
    frames = [maker.compose(face) for face in real_faces[0][:200]]
    found = [match(frontal.detect(c.frame), c.box) is not None for c in frames]
    rescued = [
        not hit and match(chain.detect(c.frame), c.box) is not None
        for hit, c in zip(found, frames, strict=True)
    ]
    assert sum(rescued) >= 0.05 * len(frames)  # about 12% of pasted FER2013 test faces


def test_the_profile_cascade_finds_faces_turned_either_way(
    real_faces: tuple[np.ndarray, np.ndarray],
) -> None:
    from bench.compose import FrameMaker, match

    profile = make_detector("haar", HaarSettings(cascades=("profileface",)))
    maker = FrameMaker(seed=5)
    both = 0
    for face in real_faces[0][:200]:
        composed = maker.compose(face)
        if match(profile.detect(composed.frame), composed.box) is None:
            continue
        # OpenCV's profile cascade finds faces turned one way; the detector also runs it on the
        # mirror image, so the mirrored frame gives the mirrored face.
        mirror = np.ascontiguousarray(composed.frame[:, ::-1])
        t = composed.box
        assert match(profile.detect(mirror), Box(mirror.shape[1] - t.x - t.w, t.y, t.w, t.h))
        both += 1
    assert both >= 10


def test_an_unknown_cascade_is_named() -> None:
    with pytest.raises(ValueError, match="frontalface_cat"):
        make_detector("haar", HaarSettings(cascades=("frontalface_cat",)))


def test_crops_frame_the_box_and_pad_at_the_border() -> None:
    assert crop_box(Box(100, 100, 50, 50), 0.2) == Box(90, 90, 70, 70)
    gray = np.arange(200 * 300, dtype=np.int64).reshape(200, 300).astype(np.uint8)
    assert crop_face(gray, Box(10, 20, 96, 96), 0.0).shape == (48, 48)
    # A box at the corner: the part outside repeats the border pixels.
    corner = crop_face(np.full((100, 100), 7, np.uint8), Box(-20, -20, 60, 60), 0.1)
    assert corner.shape == (48, 48) and (corner == 7).all()
    # An exact 2x enlargement crops back to the original face.
    face = np.random.default_rng(0).integers(0, 256, (48, 48)).astype(np.uint8)
    big = np.kron(face, np.ones((2, 2), np.uint8))
    assert np.array_equal(crop_face(big, Box(0, 0, 96, 96), 0.0), face)
    assert np.array_equal(resize_face(big), face)
    assert resize_face(np.zeros((30, 80), np.uint8)).shape == (48, 48)


def test_crop_views_frame_the_face_around_the_box() -> None:
    gray = np.random.default_rng(3).integers(0, 256, (300, 400), dtype=np.uint8)
    box = Box(100, 80, 96, 90)
    # The default reads the one crop crop_face cuts.
    single = crop_views(gray, box, 0.1, CropViews())
    assert single.shape == (1, 48, 48) and np.array_equal(single[0], crop_face(gray, box, 0.1))
    views = CropViews(shift=0.02, scales=(0.96, 1.0, 1.04))
    assert len(views) == 15 and len(CropViews(0.0, (0.9, 1.1))) == 2
    square = crop_box(box, 0.1)
    squares = views.boxes(square)
    assert len(squares) == 15 and squares[5] == square  # scale 1.0, not shifted
    # Scale by scale: the square, then moved left, right, up, down by 2% of the crop's side.
    d = round(0.02 * square.w)
    assert [(b.x - square.x, b.y - square.y) for b in squares[5:10]] == [
        (0, 0),
        (-d, 0),
        (d, 0),
        (0, -d),
        (0, d),
    ]
    assert {b.w for b in squares} == {round(square.w * s) for s in (0.96, 1.0, 1.04)}
    crops = crop_views(gray, box, 0.1, views)
    assert crops.shape == (15, 48, 48) and np.array_equal(crops[5], single[0])
    assert crops.dtype == np.uint8 and not np.array_equal(crops[6], crops[5])


@pytest.mark.parametrize(
    ("shift", "scales", "expected"),
    [(0.3, (1.0,), "shift must be within"), (0.0, (), "scales"), (0.0, (1.0, 4.0), "scales")],
)
def test_bad_crop_views_are_refused(shift: float, scales: tuple, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        CropViews(shift, scales)


def test_to_gray_takes_the_channel_order_into_account() -> None:
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0] = 255  # red
    assert to_gray(rgb, "rgb")[0, 0] == 76 and to_gray(rgb, "bgr")[0, 0] == 29
    with pytest.raises(ValueError, match="uint8"):
        to_gray(np.zeros((4, 4), np.float32))


def test_unreadable_files_are_data_errors_naming_the_file(tmp_path) -> None:
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    with pytest.raises(DataError, match=r"corrupt\.jpg: not a readable image"):
        read_image(corrupt)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="empty file"):
        read_image(empty)
    with pytest.raises(DataError, match=r"clip\.mp4: OpenCV cannot open"):
        VideoSource(tmp_path / "clip.mp4")


def test_inputs_expand_folders_recursively_and_globs(tmp_path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/1.jpg", "a/b/2.png", "a/b/notes.txt", "c.mp4"):
        (tmp_path / name).write_bytes(b"x")
    found = expand_inputs([tmp_path / "a", str(tmp_path / "*.mp4"), tmp_path / "nope.jpg"])
    assert [p.name for p in found.files] == ["1.jpg", "2.png", "c.mp4"]
    assert [p.name for p in found.skipped] == ["notes.txt"]
    assert found.missing == [str(tmp_path / "nope.jpg")]


def test_tracks_follow_moving_faces_and_smooth_their_scores() -> None:
    tracker = FaceTracker(min_iou=0.3, max_missed=1, smoothing=0.5)
    a, b = Box(0, 0, 50, 50), Box(200, 0, 50, 50)
    first = tracker.update([a, b], np.array([[1.0, 0.0], [0.0, 1.0]]))
    moved = tracker.update([Box(205, 2, 50, 50), Box(4, 4, 50, 50)], np.array([[1.0, 0], [0, 1]]))
    assert [t.track for t in first] == [0, 1] and [t.track for t in moved] == [1, 0]
    assert np.allclose(moved[0].smoothed, [0.5, 0.5]) and np.allclose(moved[1].smoothed, [0.5, 0.5])
    tracker.update([], np.zeros((0, 2)))
    tracker.update([], np.zeros((0, 2)))  # missed twice: both tracks end
    assert tracker.update([a], np.array([[1.0, 0.0]]))[0].track == 2


@pytest.fixture(scope="module")
def svm_data(real_faces) -> tuple[np.ndarray, ...]:
    images, labels = real_faces
    x = np.stack([hog(i, 9, (8, 8), (2, 2)) for i in images]).astype(np.float32)
    return x[:1200], labels[:1200], x[1200:]


@pytest.mark.parametrize("accelerate", [True, False])
def test_the_compact_svm_predicts_exactly_as_the_fitted_svc(svm_data, accelerate: bool) -> None:
    from models.spec import BuildOptions

    x, y, x_test = svm_data
    params = {"C": 10.0, "gamma": "scale", "landmark_weight": 1.0, "appearance_power": 1.0}
    params |= {"class_weight": None, "tol": 1e-3, "cache_size": 200.0}
    fitted = build(params, BuildOptions("hog", accelerate)).fit(x, y)
    compact = export(fitted)
    assert isinstance(compact[-1], CompactRBFSVC)
    assert np.array_equal(compact.predict(x_test), fitted.predict(x_test))
    ovr = compact.decision_function(x_test)
    assert np.allclose(ovr, fitted.decision_function(x_test), atol=1e-3)
    saved, full = io.BytesIO(), io.BytesIO()
    joblib.dump(compact, saved)
    joblib.dump(fitted, full)
    assert saved.getbuffer().nbytes < full.getbuffer().nbytes
    # Saved and loaded (the float64 working copy is not saved), it still predicts the same.
    saved.seek(0)
    again = joblib.load(saved)
    assert "_wide" not in again[-1].__dict__
    assert np.array_equal(again.predict(x_test), fitted.predict(x_test))


def test_a_video_written_with_opencv_reads_back_frame_by_frame(tmp_path) -> None:
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    for i in range(5):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    with VideoSource(path) as source:
        frames = list(source.frames())
        assert source.fps == pytest.approx(10.0)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert [f.time_s for f in frames] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4], abs=1e-3)
