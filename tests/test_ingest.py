"""The ingest stage on real FER2013 rows: splits, blanks, rejects, atomic writes, fallback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fer_data.errors import DataError
from fer_data.faces import EMOTIONS, read_faces
from fer_data.records import DataSource
from pipeline import paths
from pipeline.stages import ingest
from tests.stage_helpers import make_params, stage_run


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _sample_with(frame: pd.DataFrame, path: Path, extra_lines: list[str]) -> Path:
    lines = ["emotion,pixels,Usage"] + [
        f"{e},{p},{u}" for e, p, u in frame[["emotion", "pixels", "Usage"]].itertuples(index=False)
    ]
    path.write_text("\n".join(lines + extra_lines) + "\n")
    return path


def test_real_sample_splits_are_stratified_disjoint_and_exact(
    workdir: Path, fer2013_frame, fer2013_sample_csv
) -> None:
    params = make_params(workdir, {"data.path": str(fer2013_sample_csv), "data.dev_fraction": 0.2})
    metrics = stage_run(ingest, params)
    tables = {name: read_faces(paths.ingested(name)) for name in ("train", "dev", "test")}

    ids = [set(t.row_id.tolist()) for t in tables.values()]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert sum(map(len, ids)) == len(fer2013_frame) - metrics["blank_images"]["training_dropped"]

    # Every table holds exactly the source pixels of its row ids.
    pixels = fer2013_frame["pixels"].to_numpy()
    for table in tables.values():
        for k in (0, len(table) // 2, len(table) - 1):
            expected = np.asarray(pixels[table.row_id[k]].split(), np.uint8).reshape(48, 48)
            np.testing.assert_array_equal(table.images[k], expected)

    # dev is a stratified fraction of Training: class shares match train's within a row or two.
    train_share = np.bincount(tables["train"].emotion, minlength=7) / len(tables["train"])
    dev_share = np.bincount(tables["dev"].emotion, minlength=7) / len(tables["dev"])
    np.testing.assert_allclose(dev_share, train_share, atol=0.02)
    assert abs(len(tables["dev"]) / (len(tables["dev"]) + len(tables["train"])) - 0.2) < 0.01
    assert set(tables["test"].usage) == {"PublicTest", "PrivateTest"}
    assert set(tables["train"].usage) == set(tables["dev"].usage) == {"Training"}

    counts = metrics["splits"]
    assert (
        counts["test"]["total"] == counts["test_public"]["total"] + counts["test_private"]["total"]
    )
    assert list(counts["train"])[:7] == list(EMOTIONS)
    assert metrics["data"]["synthetic"] is False
    assert json.loads((workdir / "metrics/ingest.json").read_text())["rows"]["read"] == len(
        fer2013_frame
    )


def test_blank_images_dropped_from_train_and_kept_in_test_by_choice(
    workdir: Path, fer2013_frame
) -> None:
    black, grey = " ".join(["0"] * 2304), " ".join(["128"] * 2304)
    extra = [f"3,{black},Training", f"4,{grey},Training", f"5,{black},PublicTest"]
    csv = _sample_with(fer2013_frame, workdir / "fer.csv", extra)
    n = len(fer2013_frame)

    metrics = ingest.run(make_params(workdir, {"data.path": str(csv)}))
    assert metrics["blank_images"]["training_dropped"] >= 2
    train_dev = np.concatenate([read_faces(paths.ingested(s)).row_id for s in ("train", "dev")])
    assert n not in train_dev and n + 1 not in train_dev
    assert n + 2 in read_faces(paths.ingested("test")).row_id

    metrics = ingest.run(
        make_params(workdir, {"data.path": str(csv), "data.keep_blank_in_test": False})
    )
    assert n + 2 not in read_faces(paths.ingested("test")).row_id
    assert metrics["blank_images"]["test_blank_kept"] is False


def test_duplicates_are_counted_across_splits(workdir: Path, fer2013_frame) -> None:
    test_row = fer2013_frame[fer2013_frame["Usage"] == "PublicTest"].iloc[0]
    extra = [
        f"{test_row['emotion']},{test_row['pixels']},Training"
    ] * 2  # a test image copied into Training
    csv = _sample_with(fer2013_frame, workdir / "fer.csv", extra)
    base = ingest.run(make_params(workdir, {"data.path": str(csv)}))["duplicates"]
    assert base["groups_straddling_train_and_test"] >= 1
    assert base["test_rows_with_a_copy_in_train"] >= 1
    assert base["rows_in_groups"] >= 3


def test_rejects_are_written_and_counted(workdir: Path, fer2013_frame) -> None:
    bad = ["9," + " ".join(["1"] * 2304) + ",Training", "3,1 2 3,PublicTest"]
    csv = _sample_with(fer2013_frame, workdir / "fer.csv", bad)
    metrics = ingest.run(make_params(workdir, {"data.path": str(csv)}))
    rejects = pd.read_csv(paths.REJECTS_FILE)
    assert metrics["rows"]["rejected"] == 2 == len(rejects)
    assert rejects["line"].tolist() == [len(fer2013_frame) + 2, len(fer2013_frame) + 3]
    assert metrics["rows"]["accepted"] + metrics["rows"]["rejected"] == metrics["rows"]["read"]


def test_too_many_rejects_fail_the_stage_with_the_rejects_file_kept(
    workdir: Path, fer2013_frame
) -> None:
    bad = ["3,1 2 3,Training"] * 40  # ~2% of the sample
    csv = _sample_with(fer2013_frame, workdir / "fer.csv", bad)
    with pytest.raises(DataError, match=r"40 of .* rejected, above data.max_reject_fraction=0.01"):
        ingest.run(make_params(workdir, {"data.path": str(csv)}))
    assert len(pd.read_csv(paths.REJECTS_FILE)) == 40
    ingest.run(make_params(workdir, {"data.path": str(csv), "data.max_reject_fraction": 0.05}))


def test_interrupted_write_leaves_previous_output_intact(
    workdir: Path, fer2013_sample_csv, monkeypatch
) -> None:
    params = make_params(workdir, {"data.path": str(fer2013_sample_csv)})
    stage_run(ingest, params)
    before = (paths.ingested("test")).read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("pyarrow.feather.write_feather", crash)
    with pytest.raises(KeyboardInterrupt):
        ingest.run(make_params(workdir, {"data.path": str(fer2013_sample_csv), "seed": 7}))
    assert (paths.ingested("test")).read_bytes() == before
    assert not [p for p in paths.INGESTED_DIR.iterdir() if p.name.endswith(".tmp")]


def test_auto_falls_back_to_synthetic_and_says_so(workdir: Path) -> None:
    params = make_params(workdir, {"data.synthetic_rows": 700})  # data.path: data/raw, empty
    metrics = stage_run(ingest, params)
    assert metrics["data"]["synthetic"] is True and "not FER2013" in metrics["data"]["notice"]
    assert read_faces(paths.ingested("train")).meta["synthetic"] is True
    assert metrics["data"]["notice"].startswith("SYNTHETIC DEMO DATA")
    assert DataSource.read(paths.SOURCE_FILE).synthetic is True


def test_csv_source_requires_the_file(workdir: Path) -> None:
    params = make_params(workdir, {"data.source": "csv", "data.path": "data/raw/fer2013.csv"})
    with pytest.raises(DataError, match=r"data/raw/fer2013\.csv: FER2013 file not found"):
        stage_run(ingest, params)


def test_auto_finds_the_gzip_beside_the_configured_name(workdir: Path, fer2013_sample_csv) -> None:
    import gzip

    (workdir / "data/raw").mkdir(parents=True)
    (workdir / "data/raw/fer2013.csv.gz").write_bytes(
        gzip.compress(fer2013_sample_csv.read_bytes())
    )
    metrics = ingest.run(make_params(workdir, {"data.path": "data/raw/fer2013.csv"}))
    assert metrics["data"]["source"] == "csv" and metrics["data"]["path"].endswith(".gz")
