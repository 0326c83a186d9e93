"""data.extra_train: real FER2013 faces from outside the test sample, written as an image folder,
join the train split only; dev and test never change; leaks are rejected, every face counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fer_data.errors import DataError
from fer_data.extra import LEAK_REASON, stratified_draw
from fer_data.faces import EMOTIONS, MAIN_ORIGIN, read_faces
from pipeline import paths
from pipeline.params import EXTRA_CLASSES, ParamsError
from pipeline.params import MAIN_ORIGIN as PARAMS_MAIN_ORIGIN
from pipeline.stages import augment, ingest
from reports import sections
from tests.conftest import FER2013_GZ
from tests.stage_helpers import make_params, repo_params, stage_run

DISGUST, HAPPY = EMOTIONS.index("Disgust"), EMOTIONS.index("Happy")
NEW_DISGUST, NEW_HAPPY = 40, 5  # faces from outside the sample


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _image(pixels: str) -> np.ndarray:
    return np.asarray(pixels.split(), np.uint8).reshape(48, 48)


@pytest.fixture(scope="module")
def outside_faces(fer2013_frame: pd.DataFrame) -> dict[int, list[np.ndarray]]:
    """Real Training faces of Disgust and Happy that are not in the test sample."""
    head = pd.read_csv(FER2013_GZ, nrows=6000, dtype={"pixels": "string"})
    head = head[(head["Usage"] == "Training") & ~head.index.isin(fer2013_frame.index)]
    sample = {p for p in fer2013_frame["pixels"]}
    head = head[~head["pixels"].isin(sample)].drop_duplicates("pixels")
    return {
        code: [_image(p) for p in head.loc[head["emotion"] == code, "pixels"].iloc[:n]]
        for code, n in ((DISGUST, NEW_DISGUST), (HAPPY, NEW_HAPPY))
    }


def _png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image, mode="L").save(path)


def _source(root: Path, outside, train: np.ndarray, held_out: np.ndarray) -> Path:
    """disgust/: 40 new faces, 2 FER2013 train faces, 3 dev/test faces (leaks), 1 blank,
    1 unreadable file; happy/: 5 new faces (a class not chosen)."""
    for i, image in enumerate(outside[DISGUST]):
        _png(root / "disgust" / f"new_{i}.png", image)
    for i, image in enumerate(outside[HAPPY]):
        _png(root / "happy" / f"new_{i}.png", image)
    for i, image in enumerate(train[:2]):
        _png(root / "disgust" / f"train_copy_{i}.png", image)
    for i, image in enumerate(held_out[:3]):
        _png(root / "disgust" / f"leak_{i}.png", image)
    _png(root / "disgust" / "blank.png", np.zeros((48, 48), np.uint8))
    (root / "disgust" / "broken.png").write_bytes(b"not a png")
    return root


def _extra(path: Path, max_rows: int, classes=("disgust",), label_map=None) -> dict:
    return {
        "disgust_topup": {
            "path": str(path),
            "label_map": label_map,
            "classes": list(classes),
            "max_rows": max_rows,
            "resize_images": False,
        }
    }


def test_extra_faces_join_train_only_with_every_face_counted(
    workdir: Path, fer2013_sample_csv: Path, outside_faces
) -> None:
    base = {
        "data.path": str(fer2013_sample_csv),
        "data.dev_fraction": 0.2,
        "data.max_reject_fraction": 0.05,  # the one unreadable file of 52
    }
    stage_run(ingest, make_params(workdir, base))
    before = {s: read_faces(paths.ingested(s)) for s in ("train", "dev", "test")}
    held_out = np.concatenate([before["dev"].images[:1], before["test"].images[:2]])
    source = _source(workdir / "data/extra/topup", outside_faces, before["train"].images, held_out)
    max_rows = 30
    metrics = stage_run(
        ingest, make_params(workdir, {**base, "data.extra_train": _extra(source, max_rows)})
    )
    after = {s: read_faces(paths.ingested(s)) for s in ("train", "dev", "test")}

    for split in ("dev", "test"):  # unchanged, row for row
        np.testing.assert_array_equal(after[split].row_id, before[split].row_id)
        np.testing.assert_array_equal(after[split].images, before[split].images)
        assert set(after[split].origins) == {MAIN_ORIGIN}
    n_main = len(before["train"])
    np.testing.assert_array_equal(after["train"].images[:n_main], before["train"].images)
    added = after["train"].take(np.arange(n_main, len(after["train"])))
    assert len(added) == max_rows and set(added.origins) == {"disgust_topup"}
    assert set(added.emotion.tolist()) == {DISGUST} and set(added.usage) == {"Training"}
    assert added.row_id.min() > before["test"].row_id.max()  # ids never collide
    assert len(set(after["train"].row_id.tolist())) == len(after["train"])

    info = metrics["extra_train"]["disgust_topup"]
    assert info["rows_read"] == NEW_DISGUST + NEW_HAPPY + 2 + 3 + 2
    assert info["rejected_by_reason"] == {LEAK_REASON: 3, "unreadable image": 1}
    assert info["dropped"]["class not chosen"] == {"Happy": NEW_HAPPY}
    assert info["dropped"]["blank image"] == {"Disgust": 1}
    assert info["dropped"]["over max_rows"] == {"Disgust": NEW_DISGUST + 2 - max_rows}
    assert info["added"]["Disgust"] == max_rows == info["added"]["total"]
    train_keys = {i.tobytes() for i in before["train"].images}
    assert info["identical_to_fer2013_training"] == sum(
        i.tobytes() in train_keys for i in added.images
    )
    # every face read is accounted for exactly once
    dropped = sum(sum(c.values()) for c in info["dropped"].values())
    assert info["rows_read"] == info["rejected"] + dropped + info["added"]["total"]
    assert metrics["train_by_origin"]["disgust_topup"]["Disgust"] == max_rows
    assert metrics["splits"]["train"]["total"] == n_main + max_rows
    assert metrics["splits"]["dev"] == stage_run_counts(before["dev"])

    rejects = pd.read_csv(paths.REJECTS_FILE)
    leaks = rejects[rejects["reason"] == LEAK_REASON]
    assert len(leaks) == 3 and set(leaks["source"]) == {"disgust_topup"}
    assert all("leak_" in f for f in leaks["file"])

    # The report's data section shows the source per class.
    shown = sections.data(metrics, None, None)["extra"]
    assert shown["table"].loc["Disgust", "disgust_topup"] == max_rows
    assert ("rejected: " + LEAK_REASON, 3) in shown["sources"]["disgust_topup"]

    # Augmentation keeps the origins apart and records them.
    aug = stage_run(augment, make_params(workdir, base))  # modes: balanced, mirror
    balanced = read_faces(paths.augmented("balanced"))
    mirror = read_faces(paths.augmented("mirror"))
    assert int(np.sum(mirror.origins == "disgust_topup")) == max_rows
    by_origin = aug["modes"]["balanced"]["added_by_origin"]
    assert by_origin["disgust_topup"]["total"] == int(np.sum(balanced.origins == "disgust_topup"))
    assert sum(v["total"] for v in by_origin.values()) == len(balanced)
    assert aug["train_by_origin"]["disgust_topup"]["Disgust"] == max_rows


def stage_run_counts(table) -> dict[str, int]:
    counts = np.bincount(table.emotion, minlength=7)
    return {c: int(n) for c, n in zip(EMOTIONS, counts, strict=True)} | {"total": len(table)}


def test_the_seeded_draw_is_stratified_and_reproducible() -> None:
    emotion = np.repeat([1, 3, 5], [50, 30, 20])
    first = stratified_draw(emotion, 10, np.random.default_rng([7, 1]))
    again = stratified_draw(emotion, 10, np.random.default_rng([7, 1]))
    np.testing.assert_array_equal(first, again)
    assert np.bincount(emotion[first], minlength=6).tolist() == [0, 5, 0, 3, 0, 2]
    assert len(stratified_draw(emotion, 500, np.random.default_rng(0))) == 100


def test_a_labelled_csv_with_a_label_map(workdir: Path, fer2013_sample_csv, outside_faces) -> None:
    lines = ["emotion,pixels"] + [
        f"yuck,{' '.join(map(str, i.ravel()))}" for i in outside_faces[DISGUST][:6]
    ]
    lines += [f"joy,{' '.join(map(str, i.ravel()))}" for i in outside_faces[HAPPY][:2]]
    csv = workdir / "data/extra/other.csv"
    csv.parent.mkdir(parents=True)
    csv.write_text("\n".join(lines) + "\n")
    base = {"data.path": str(fer2013_sample_csv)}
    extra = _extra(csv, 100, label_map={"yuck": "Disgust", "joy": None})
    metrics = stage_run(ingest, make_params(workdir, {**base, "data.extra_train": extra}))
    info = metrics["extra_train"]["disgust_topup"]
    assert info["reader"] == "csv" and info["added"]["Disgust"] == 6
    assert info["dropped"] == {"label mapped to null": {"joy": 2}}

    unmapped = _extra(csv, 100, label_map={"yuck": "Disgust"})
    with pytest.raises(DataError, match=r"extra_train.disgust_topup.label_map: no entry .*joy"):
        ingest.run(make_params(workdir, {**base, "data.extra_train": unmapped}))
    with pytest.raises(DataError, match=r"disgust_topup: the labels 'joy' .*'yuck' .* neither"):
        ingest.run(make_params(workdir, {**base, "data.extra_train": _extra(csv, 100)}))


def test_bad_sources_fail_naming_the_key_and_leave_the_outputs(
    workdir: Path, fer2013_sample_csv
) -> None:
    base = {"data.path": str(fer2013_sample_csv)}
    stage_run(ingest, make_params(workdir, base))
    before = paths.ingested("train").read_bytes()
    missing = _extra(workdir / "nowhere", 10)
    with pytest.raises(DataError, match=r"^data.extra_train.disgust_topup.path=.*nowhere: no such"):
        ingest.run(make_params(workdir, {**base, "data.extra_train": missing}))
    contempt = _extra(workdir, 10, classes=["contempt"])
    with pytest.raises(DataError, match=r"disgust_topup.classes: Contempt not in the label space"):
        ingest.run(make_params(workdir, {**base, "data.extra_train": contempt}))
    assert paths.ingested("train").read_bytes() == before


def test_params_are_checked_on_load() -> None:
    assert PARAMS_MAIN_ORIGIN == MAIN_ORIGIN and EXTRA_CLASSES[:7] == EMOTIONS
    assert repo_params().data.extra_train == {}
    ok = repo_params({"data": {"extra_train": _extra(Path("x"), 5, classes=["DISGUST"])}})
    assert ok.data.extra_train["disgust_topup"].classes == ["Disgust"]
    with pytest.raises(ParamsError, match=r"data.extra_train.disgust_topup.classes"):
        repo_params({"data": {"extra_train": _extra(Path("x"), 5, classes=["disgusted"])}})
    with pytest.raises(ParamsError, match=r"data.extra_train.disgust_topup.max_rows"):
        repo_params({"data": {"extra_train": _extra(Path("x"), 0)}})
    with pytest.raises(ParamsError, match=r"data.extra_train.fer2013: 'fer2013' names"):
        repo_params({"data": {"extra_train": {"fer2013": _extra(Path("x"), 5)["disgust_topup"]}}})
