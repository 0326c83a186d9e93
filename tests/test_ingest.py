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


def _outputs() -> dict[str, bytes]:
    """Every file ingest writes, by path: to check that a failed run changed none of them."""
    files = [*paths.INGESTED_DIR.iterdir(), paths.stage_metrics("ingest")]
    return {str(p): p.read_bytes() for p in sorted(files)}


def test_too_many_rejects_fail_the_stage_leaving_the_outputs_unchanged(
    workdir: Path, fer2013_frame, fer2013_sample_csv
) -> None:
    stage_run(ingest, make_params(workdir, {"data.path": str(fer2013_sample_csv)}))
    before = _outputs()
    bad = ["3,1 2 3,Training"] * 40  # ~2% of the sample
    csv = _sample_with(fer2013_frame, workdir / "fer.csv", bad)
    with pytest.raises(
        DataError,
        match=r"40 of .* rejected, above data.max_reject_fraction=0.01 \(40 x wrong pixel count"
        r".*listed with its reason in data/ingest-failed/rejects.csv \(data/ingested is unchanged",
    ):
        ingest.run(make_params(workdir, {"data.path": str(csv)}))
    assert _outputs() == before
    assert len(pd.read_csv(paths.FAILED_REJECTS_FILE)) == 40
    ingest.run(make_params(workdir, {"data.path": str(csv), "data.max_reject_fraction": 0.05}))
    assert len(pd.read_csv(paths.REJECTS_FILE)) == 40
    assert not paths.FAILED_REJECTS_FILE.exists()  # the stale list goes with the failure


def _drop(frame: pd.DataFrame, usage: str | None = None, keep_one_of: int | None = None):
    """The sample without ``usage`` rows, or with one Training row left of class ``keep_one_of``."""
    if usage is not None:
        return frame[frame["Usage"] != usage]
    rows = frame[(frame["Usage"] == "Training") & (frame["emotion"] == keep_one_of)]
    return frame.drop(rows.index[1:])


@pytest.mark.parametrize(
    ("change", "overrides", "message"),
    [
        (
            {"keep_one_of": 1},
            {},
            r"^data.dev_fraction=0.1: cannot stratify the dev split: Disgust has a single "
            r"Training row \(each class needs 2: .*Disgust 1, ",
        ),
        (
            {},
            {"data.dev_fraction": 0.999},
            r"^data.dev_fraction=0.999 of 1\d\d\d Training rows leaves 1 train rows, fewer than "
            r"the 7 classes; set data.dev_fraction to at most 0.99",
        ),
        ({"usage": "Training"}, {}, r"fer.csv: no Training rows \(rows per Usage: Training 0, "),
        (
            {"usage": "PrivateTest"},
            {"data.path": "FILTERED_PUBLIC"},
            r"fer.csv: no test rows \(rows per Usage: Training 1\d\d\d, PublicTest 0, "
            r"PrivateTest 0\); evaluation needs PublicTest or PrivateTest rows",
        ),
    ],
)
def test_degenerate_data_is_one_line_and_changes_no_output(
    workdir: Path, fer2013_frame, fer2013_sample_csv, change, overrides, message
) -> None:
    stage_run(ingest, make_params(workdir, {"data.path": str(fer2013_sample_csv)}))
    before = _outputs()
    frame = _drop(fer2013_frame, **change)
    if overrides.pop("data.path", None):  # no test rows at all
        frame = frame[frame["Usage"] == "Training"]
    csv = _sample_with(frame, workdir / "fer.csv", [])
    with pytest.raises(DataError, match=message) as info:
        ingest.run(make_params(workdir, {"data.path": str(csv), **overrides}))
    assert "\n" not in str(info.value)
    assert _outputs() == before


def test_all_blank_test_rows_dropped_is_an_error(workdir: Path, fer2013_frame) -> None:
    black = " ".join(["0"] * 2304)
    frame = fer2013_frame[fer2013_frame["Usage"] == "Training"]
    csv = _sample_with(frame, workdir / "fer.csv", [f"3,{black},PublicTest"])
    with pytest.raises(DataError, match=r"^data.keep_blank_in_test=false drops all 1 test rows"):
        ingest.run(make_params(workdir, {"data.path": str(csv), "data.keep_blank_in_test": False}))


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


def test_path_source_requires_the_data(workdir: Path) -> None:
    params = make_params(workdir, {"data.source": "path"})
    with pytest.raises(
        DataError, match=r"data.source: path, but there is no FER2013 data in data/raw"
    ):
        stage_run(ingest, params)
    params = make_params(workdir, {"data.path": "data/raw/fer2013.csv"})
    with pytest.raises(
        DataError, match=r"^data.path=data/raw/fer2013\.csv: no such file or folder"
    ):
        stage_run(ingest, params)


def test_auto_finds_the_gzip_in_data_raw(workdir: Path, fer2013_sample_csv) -> None:
    import gzip

    (workdir / "data/raw").mkdir(parents=True)
    (workdir / "data/raw/fer2013.csv.gz").write_bytes(
        gzip.compress(fer2013_sample_csv.read_bytes(), compresslevel=1)
    )
    metrics = ingest.run(make_params(workdir, {}))
    assert metrics["data"]["source"] == "csv" and metrics["data"]["path"].endswith(".gz")
    assert metrics["data"]["found_by"] == "search of data/raw"


def test_a_class_absent_from_training_is_a_loud_warning(workdir: Path, fer2013_frame) -> None:
    frame = fer2013_frame.drop(
        fer2013_frame.index[
            (fer2013_frame["Usage"] == "Training") & (fer2013_frame["emotion"] == 1)
        ]
    )
    csv = _sample_with(frame, workdir / "fer.csv", [])
    metrics = ingest.run(make_params(workdir, {"data.path": str(csv)}))
    assert metrics["class_coverage"] == {"missing_in_training": ["Disgust"], "missing_in_test": []}
    assert metrics["warnings"][0].startswith("no Training rows for Disgust: no model can learn it")
    assert metrics["splits"]["train"]["Disgust"] == 0 < metrics["splits"]["test"]["Disgust"]
