"""FER2013 as image folders (train/<emotion>/*, test/<emotion>/*): same tables as the CSV, the same
strictness (every bad file a counted reject with its name and reason), deterministic order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fer_data.errors import DataError
from fer_data.faces import read_faces
from fer_data.fer_csv import read_fer2013
from fer_data.readers import image_folder
from fer_data.readers.image_folder import REASONS, natural_key, read_image_folder
from pipeline import paths
from pipeline.stages import ingest
from tests.readers_helpers import face_multiset, write_csv, write_image_folder
from tests.stage_helpers import make_params, stage_run


@pytest.fixture(scope="module")
def small_frame(fer2013_frame: pd.DataFrame) -> pd.DataFrame:
    """About 400 real rows, stratified by Usage and emotion, in CSV row order."""
    groups = fer2013_frame.groupby(["Usage", "emotion"])
    picked = pd.concat([g.head(max(2, len(g) // 5)) for _, g in groups])
    return picked.sort_index()


@pytest.fixture(scope="module")
def sample_folder(small_frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_folder(small_frame, tmp_path_factory.mktemp("folder") / "fer2013")


@pytest.fixture(scope="module")
def sample_csv(small_frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(small_frame, tmp_path_factory.mktemp("csv") / "fer2013.csv")


def _gray(value: int = 100, size: tuple[int, int] = (48, 48)) -> Image.Image:
    return Image.fromarray(np.full(size[::-1], value, np.uint8))


def _layout(root: Path) -> Path:
    for part in ("train", "test"):
        (root / part).mkdir(parents=True, exist_ok=True)
    return root


def test_reads_the_same_faces_as_the_csv(sample_folder: Path, sample_csv: Path) -> None:
    parsed = read_image_folder(sample_folder, n_jobs=1)
    csv = read_fer2013(sample_csv)
    assert parsed.rejects.empty and parsed.n_rows == csv.n_rows
    assert parsed.reader == "image_folder"
    np.testing.assert_array_equal(parsed.row_id, np.arange(parsed.n_rows))
    for usage in ("Training", "PublicTest", "PrivateTest"):  # prefixes give the test halves
        mine, theirs = parsed.usage == usage, csv.usage == usage
        assert face_multiset(parsed.images[mine], parsed.emotion[mine]) == face_multiset(
            csv.images[theirs], csv.emotion[theirs]
        )
    # train/ first, then test/
    n_train = int((csv.usage == "Training").sum())
    assert set(parsed.usage[:n_train]) == {"Training"}
    assert parsed.notes["test_usage"] == {
        "PrivateTest_ prefix": int((csv.usage == "PrivateTest").sum()),
        "PublicTest_ prefix": int((csv.usage == "PublicTest").sum()),
    }


def test_ingest_gives_the_csv_splits(
    sample_folder: Path, sample_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same train / dev / test faces (by pixels and label: row ids differ) from both copies."""
    splits = {}
    for name, source in (("csv", sample_csv), ("folder", sample_folder)):
        work = tmp_path / name
        work.mkdir()
        monkeypatch.chdir(work)
        metrics = stage_run(ingest, make_params(work, {"data.path": str(source)}))
        assert metrics["data"]["source"] == ("csv" if name == "csv" else "image_folder")
        splits[name] = {
            split: face_multiset(t.images, t.emotion)
            for split in paths.SPLITS
            for t in [read_faces(paths.ingested(split))]
        }
        splits[name]["usage"] = sorted(read_faces(paths.ingested("test")).usage.tolist())
    assert splits["csv"] == splits["folder"]


@pytest.mark.slow
def test_dvc_repro_on_an_image_folder_gives_the_csv_splits(
    sample_folder: Path, sample_csv: Path, tmp_path: Path
) -> None:
    from bench.checkout import copy_checkout

    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    found = {}
    for name, source in (("csv", sample_csv), ("folder", sample_folder)):
        repo = copy_checkout(tmp_path / name, jit_cache=True)
        cmd = [sys.executable, "-m", "dvc", "repro", "ingest"]
        params = repo / "params.yaml"
        params.write_text(params.read_text().replace("path: data/raw ", f"path: {source} ", 1))
        done = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads((repo / "metrics/ingest.json").read_text())["data"]["path"] == str(source)
        found[name] = {
            split: face_multiset(t.images, t.emotion)
            for split in paths.SPLITS
            for t in [read_faces(repo / paths.ingested(split))]
        }
    assert found["csv"] == found["folder"]


def test_colour_images_become_luma_gray(tmp_path: Path) -> None:
    root = _layout(tmp_path / "set")
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    (root / "train/happy").mkdir()
    Image.fromarray(rgb).save(root / "train/happy/rgb.png")
    Image.fromarray(np.dstack([rgb[..., 0]] * 3)).save(root / "train/happy/grey_rgb.png")
    Image.fromarray(np.dstack([rgb, np.full((48, 48), 255, np.uint8)])).save(
        root / "train/happy/rgba.png"
    )
    (root / "test/sad").mkdir()
    _gray(7).save(root / "test/sad/PublicTest_1.png")
    parsed = read_image_folder(root, n_jobs=1)
    assert parsed.rejects.empty
    r, g, b = (rgb[..., i].astype(np.int64) for i in range(3))
    luma = ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)  # ITU-R 601-2
    by_name = dict(zip(["grey_rgb", "rgb", "rgba", "test"], parsed.images, strict=True))
    np.testing.assert_array_equal(by_name["rgb"], luma)
    np.testing.assert_array_equal(by_name["rgba"], luma)
    np.testing.assert_array_equal(by_name["grey_rgb"], rgb[..., 0])  # equal channels: exact
    assert parsed.notes["converted_to_gray"] == {"RGB": 2, "RGBA": 1}


def test_every_bad_file_is_a_counted_reject_with_name_and_reason(tmp_path: Path) -> None:
    root = _layout(tmp_path / "set")
    for folder in ("train/Angry", "train/contempt", "train/happy/extra", "test/HAPPY"):
        (root / folder).mkdir(parents=True)
    _gray().save(root / "train/Angry/ok.png")
    _gray(size=(64, 64)).save(root / "train/Angry/big.png")
    _gray().save(root / "train/contempt/c.png")
    _gray().save(root / "train/loose.png")
    _gray().save(root / "train/happy/extra/deep.png")
    (root / "train/Angry/broken.png").write_bytes(b"not an image at all")
    Image.fromarray(np.full((48, 48), 4000, np.uint16)).save(root / "train/Angry/deep16.png")
    (root / "train/Angry/.DS_Store").write_bytes(b"\0\0")
    _gray().save(root / "test/HAPPY/PrivateTest_3.png")

    parsed = read_image_folder(root, n_jobs=1)
    rejects = parsed.rejects.set_index("file")
    expected = {
        "train/Angry/big.png": (REASONS[2], "64x64"),
        "train/Angry/broken.png": (REASONS[1], None),
        "train/Angry/deep16.png": (REASONS[3], None),
        "train/contempt/c.png": (REASONS["folder"], "contempt"),
        "train/loose.png": (REASONS["place"], ""),
        "train/happy/extra/deep.png": (REASONS["place"], "happy/extra"),
    }
    assert sorted(rejects.index) == sorted(str(root / f) for f in expected)
    for name, (reason, detail) in expected.items():
        row = rejects.loc[str(root / name)]
        assert row["reason"] == reason and pd.isna(row["line"]) and row["raw"] == ""
        if detail is not None:
            assert row["detail"] == detail
    assert (
        "cannot identify image file" in rejects.loc[str(root / "train/Angry/broken.png"), "detail"]
    )
    assert parsed.n_rows == 8 and len(parsed.row_id) == 2  # ok.png and the test image
    assert sorted([*parsed.row_id, *parsed.rejects["row_id"]]) == list(range(8))
    assert parsed.usage.tolist() == ["Training", "PrivateTest"]
    assert parsed.emotion.tolist() == [0, 3]  # Angry, Happy: folder names in any case
    assert parsed.notes["hidden_files_skipped"] == 1


def test_other_sizes_are_resized_only_when_asked(tmp_path: Path) -> None:
    root = _layout(tmp_path / "set")
    (root / "train/fear").mkdir()
    (root / "test/fear").mkdir()
    face = np.random.default_rng(1).integers(0, 256, (96, 80), dtype=np.uint8)
    Image.fromarray(face).save(root / "train/fear/a.png")
    _gray().save(root / "test/fear/b.png")
    assert len(read_image_folder(root, resize=False, n_jobs=1).rejects) == 1
    parsed = read_image_folder(root, resize=True, n_jobs=1)
    assert parsed.rejects.empty and parsed.notes["resized"] == {"80x96": 1}
    expected = np.asarray(Image.fromarray(face).resize((48, 48), Image.Resampling.LANCZOS))
    np.testing.assert_array_equal(parsed.images[0], expected)


def test_unprefixed_test_images_are_public_and_order_is_natural(tmp_path: Path) -> None:
    root = _layout(tmp_path / "set")
    (root / "train/sad").mkdir()
    (root / "test/sad").mkdir()
    for i in (10, 2, 1):
        _gray(i).save(root / f"train/sad/im{i}.png")
        _gray(100 + i).save(root / f"test/sad/im{i}.png")
    parsed = read_image_folder(root, n_jobs=1)
    assert parsed.images[:, 0, 0].tolist() == [1, 2, 10, 101, 102, 110]
    assert parsed.usage.tolist() == ["Training"] * 3 + ["PublicTest"] * 3
    assert parsed.notes["test_usage"] == {"no prefix: PublicTest": 3}
    assert natural_key("a/im2.png") < natural_key("a/im10.png")


def test_missing_test_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / "set/Train/happy").mkdir(parents=True)
    with pytest.raises(DataError, match=r"needs a train/ and a test/ folder .*; test/ is missing"):
        read_image_folder(tmp_path / "set")


def test_worker_processes_give_the_same_result(
    sample_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = read_image_folder(sample_folder, n_jobs=1)
    monkeypatch.setattr(image_folder, "PARALLEL_MIN", 10)
    monkeypatch.setattr(image_folder, "CHUNK", 64)
    two = read_image_folder(sample_folder, n_jobs=2)
    np.testing.assert_array_equal(one.images, two.images)
    np.testing.assert_array_equal(one.row_id, two.row_id)
    np.testing.assert_array_equal(one.emotion, two.emotion)
