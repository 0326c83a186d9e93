"""Which input a run reads: data.path as given, a search of data/raw/**, or (only when the user gave
nothing) the synthetic demo set, saying where it looked. Never a silent substitution."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from fer_data.errors import DataError
from fer_data.source import resolve, search, synthetic_reason
from pipeline.stages import ingest
from tests.stage_helpers import make_params, stage_run

DEFAULT = Path("data/raw")
FERPLUS_HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,"
FERPLUS_HEADER += "unknown,NF\nTraining,fer0000000.png,4,0,0,1,3,2,0,0,0,0\n"


@pytest.fixture()
def raw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with data/raw holding only the repository's README, as in a clone."""
    monkeypatch.chdir(tmp_path)
    DEFAULT.mkdir(parents=True)
    (DEFAULT / "README.md").write_text("# Your FER2013 download goes here\n")
    return DEFAULT


def _put(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _tar_bytes(csv: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("fer2013/fer2013.csv")
        info.size = len(csv)
        tar.addfile(info, io.BytesIO(csv))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def csv_bytes(fer2013_sample_csv: Path) -> bytes:
    return fer2013_sample_csv.read_bytes()


def test_nothing_given_is_the_synthetic_set_saying_where_it_looked(raw: Path) -> None:
    resolved = resolve("auto", DEFAULT, DEFAULT)
    assert resolved.kind == "synthetic" and resolved.looked_in == DEFAULT
    assert synthetic_reason(resolved).startswith("no FER2013 data in data/raw (searched it")
    (DEFAULT / "ferplus").mkdir()
    _put(DEFAULT / "ferplus/fer2013new.csv", FERPLUS_HEADER.encode())  # labels, not faces
    assert resolve("auto", DEFAULT, DEFAULT).kind == "synthetic"
    with pytest.raises(DataError, match=r"data.source: path, but there is no FER2013 data in"):
        resolve("path", DEFAULT, DEFAULT)


def test_synthetic_run_records_where_it_looked(raw: Path) -> None:
    metrics = stage_run(ingest, make_params(raw.parent.parent, {"data.synthetic_rows": 700}))
    assert metrics["data"]["synthetic"] is True
    assert metrics["data"]["looked_in"] == "data/raw"


@pytest.mark.parametrize(
    ("where", "kind"),
    [
        ("fer2013.csv", "csv"),
        ("fer2013/fer2013.csv", "csv"),  # Kaggle's archive unpacked inside data/raw
        ("downloads/icml_face_data.csv", "csv"),
        ("fer2013.csv.gz", "csv"),
        ("fer2013", "archive"),  # an extension-less tar
        ("kaggle/archive.bin", "archive"),
    ],
)
def test_the_only_input_under_data_raw_is_used(
    raw: Path, csv_bytes: bytes, where: str, kind: str
) -> None:
    data = csv_bytes
    if where.endswith(".gz"):
        data = gzip.compress(csv_bytes, compresslevel=1)
    elif kind == "archive":
        data = _tar_bytes(csv_bytes)
    _put(DEFAULT / where, data)
    _put(DEFAULT / "ferplus/fer2013new.csv", FERPLUS_HEADER.encode())
    resolved = resolve("auto", DEFAULT, DEFAULT)
    assert (resolved.kind, resolved.path) == (kind, DEFAULT / where)
    assert resolved.found_by == "search of data/raw"


def test_image_folder_under_data_raw_is_found_without_descending(raw: Path) -> None:
    for name in ("train/happy/Training_1.png", "test/happy/PublicTest_2.png"):
        _put(DEFAULT / "fer2013_images" / name, b"png")
    found = search(DEFAULT)
    assert [(r.kind, r.path) for r in found] == [("image_folder", DEFAULT / "fer2013_images")]


def test_several_inputs_are_an_error_naming_each(raw: Path, csv_bytes: bytes) -> None:
    _put(DEFAULT / "fer2013.tar.gz", gzip.compress(_tar_bytes(csv_bytes), compresslevel=1))
    _put(DEFAULT / "fer2013/fer2013.csv", csv_bytes)
    with pytest.raises(DataError) as info:
        resolve("auto", DEFAULT, DEFAULT)
    message = str(info.value)
    assert message.startswith("data.path=data/raw: found 2 FER2013 inputs under it: ")
    assert "data/raw/fer2013.tar.gz (archive)" in message
    assert "data/raw/fer2013/fer2013.csv (CSV)" in message
    assert "set data.path to it" in message


def test_a_broken_file_named_fer2013_is_read_not_passed_over(raw: Path) -> None:
    _put(DEFAULT / "fer2013.csv", b"3,1 2 3,Training\n")
    resolved = resolve("auto", DEFAULT, DEFAULT)
    assert resolved.kind == "csv"  # the reader then says the header is missing


@pytest.mark.parametrize("source", ["auto", "path"])
def test_an_explicit_path_that_does_not_exist_is_an_error(raw: Path, source: str) -> None:
    _put(DEFAULT / "fer2013.csv.gz", b"\x1f\x8b")
    with pytest.raises(DataError) as info:
        resolve(source, DEFAULT / "fer2013.csv", DEFAULT)
    assert str(info.value).startswith("data.path=data/raw/fer2013.csv: no such file or folder")
    assert "fer2013.csv.gz" in str(info.value)  # what is there instead
    with pytest.raises(DataError, match=r"data.path=/no/such/typo.csv: no such file or folder"):
        resolve(source, Path("/no/such/typo.csv"), DEFAULT)


def test_an_explicit_folder_is_an_image_folder_or_searched(raw: Path, csv_bytes: bytes) -> None:
    mine = Path("mine")
    (mine / "Train").mkdir(parents=True)
    assert resolve("auto", mine, DEFAULT).kind == "image_folder"
    empty = Path("empty")
    empty.mkdir()
    with pytest.raises(DataError, match=r"data.path=empty: this folder holds no FER2013 data"):
        resolve("auto", empty, DEFAULT)
    _put(empty / "sub/icml_face_data.csv", csv_bytes)
    assert resolve("auto", empty, DEFAULT).path == empty / "sub/icml_face_data.csv"


def test_synthetic_source_ignores_the_data(raw: Path, csv_bytes: bytes) -> None:
    _put(DEFAULT / "fer2013.csv", csv_bytes)
    assert resolve("synthetic", DEFAULT, DEFAULT).kind == "synthetic"
