"""FER2013 read from the archive it came in (tar, tar.gz, zip, extension-less), found by content."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fer_data.errors import DataError
from fer_data.fer_csv import read_fer2013
from fer_data.readers.archive import read_archive
from fer_data.readers.sniff import file_kind
from tests.readers_helpers import write_csv

README = b"Kaggle's FER2013\n"


def _tar(path: Path, members: dict[str, bytes], mode: str = "w:gz") -> Path:
    level = {"w:gz": {"compresslevel": 1}, "w:xz": {"preset": 0}}.get(mode, {})
    with tarfile.open(path, mode, **level) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.fixture(scope="module")
def small_csv(fer2013_frame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """150 real rows of every Usage: small enough to compress in a blink."""
    rows = fer2013_frame.groupby("Usage").head(50)
    return write_csv(rows, tmp_path_factory.mktemp("archive") / "fer2013.csv")


@pytest.fixture(scope="module")
def csv_bytes(small_csv: Path) -> bytes:
    return small_csv.read_bytes()


def _kaggle_members(csv: bytes) -> dict[str, bytes]:
    return {
        "fer2013/README": README,
        "fer2013/fer2013.bib": b"@inproceedings{fer2013}\n",
        "fer2013/fer2013.csv": csv,
    }


@pytest.mark.parametrize(
    ("name", "writer"),
    [
        ("fer2013.tar.gz", lambda p, m: _tar(p, m, "w:gz")),
        ("fer2013", lambda p, m: _tar(p, m, "w")),  # what some unpackers leave
        ("fer2013.tar.xz", lambda p, m: _tar(p, m, "w:xz")),
        ("fer2013.zip", _zip),
        ("download.csv", _zip),  # a zip with a misleading name: content decides
    ],
)
def test_archives_read_exactly_as_the_csv_inside(
    tmp_path: Path, small_csv: Path, csv_bytes: bytes, name: str, writer
) -> None:
    path = writer(tmp_path / name, _kaggle_members(csv_bytes))
    kind = file_kind(path)
    assert kind in ("tar", "zip")
    parsed = read_archive(path, kind)
    assert parsed.n_rows == 150
    plain = read_fer2013(small_csv)
    assert parsed.reader == "archive" and parsed.member == "fer2013/fer2013.csv"
    assert parsed.origin == f"{path} [fer2013/fer2013.csv]"
    np.testing.assert_array_equal(parsed.images, plain.images)
    np.testing.assert_array_equal(parsed.row_id, plain.row_id)
    np.testing.assert_array_equal(parsed.usage, plain.usage)


def test_plain_and_gzip_csv_are_not_archives(tmp_path: Path, csv_bytes: bytes) -> None:
    plain = tmp_path / "fer2013.csv"
    plain.write_bytes(csv_bytes)
    packed = tmp_path / "fer2013.tar.gz"  # a gzipped CSV with a misleading name
    packed.write_bytes(gzip.compress(csv_bytes, compresslevel=1))
    assert file_kind(plain) == "csv" and file_kind(packed) == "csv"


def test_kaggle_zip_with_other_csvs_picks_the_fer2013_shaped_one(
    tmp_path: Path, csv_bytes: bytes
) -> None:
    icml = csv_bytes.replace(b"emotion,pixels,Usage", b"emotion, pixels, Usage", 1)
    path = _zip(
        tmp_path / "challenges.zip",
        {
            "example_submission.csv": b"id,emotion\n1,0\n",
            "train.csv": b"emotion,pixels\n0,1 2 3\n",
            "test.csv": b"pixels\n1 2 3\n",
            "fer2013.tar.gz": b"nested archives are not opened",
            "icml_face_data.csv": icml,
        },
    )
    parsed = read_archive(path, "zip")
    assert parsed.member == "icml_face_data.csv" and parsed.rejects.empty


def test_two_candidates_are_an_error_listing_them(tmp_path: Path, csv_bytes: bytes) -> None:
    path = _zip(
        tmp_path / "two.zip", {"a/fer2013.csv": csv_bytes, "b/icml_face_data.csv": csv_bytes}
    )
    with pytest.raises(
        DataError,
        match=r"two\.zip: this zip archive holds 2 FER2013 CSVs "
        r"\(a/fer2013\.csv, b/icml_face_data\.csv\); unpack it and set data\.path",
    ):
        read_archive(path, "zip")
    tar = _tar(tmp_path / "two.tar.gz", {"x.csv": csv_bytes, "y.csv": csv_bytes})
    with pytest.raises(DataError, match=r"holds 2 FER2013 CSVs \(x\.csv, y\.csv\)"):
        read_archive(tar, "tar")


def test_no_candidate_is_an_error_listing_the_members(tmp_path: Path) -> None:
    path = _tar(
        tmp_path / "fer2013.tar.gz",
        {"fer2013/README": README, "fer2013/train.csv": b"emotion,pixels\n0,1\n"},
    )
    with pytest.raises(DataError) as info:
        read_archive(path, "tar")
    message = str(info.value)
    assert "this tar archive holds no FER2013 CSV" in message
    assert "Its members: fer2013/README, fer2013/train.csv" in message


def test_an_archived_image_folder_says_to_unpack_it(tmp_path: Path) -> None:
    path = _zip(tmp_path / "archive.zip", {"train/angry/im0.png": b"x", "test/happy/im1.png": b"x"})
    with pytest.raises(DataError, match=r"holds an image-folder data set .* unpack it"):
        read_archive(path, "zip")


def test_truncated_tar_gz_is_a_clear_error(tmp_path: Path, csv_bytes: bytes) -> None:
    whole = _tar(tmp_path / "whole.tar.gz", _kaggle_members(csv_bytes)).read_bytes()
    cut = tmp_path / "fer2013.tar.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    assert file_kind(cut) == "tar"  # the start is intact
    with pytest.raises(DataError, match=r"fer2013\.tar\.gz: truncated or corrupt tar archive"):
        read_archive(cut, "tar")
