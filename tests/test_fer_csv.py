"""Reading Kaggle-format FER2013: exact pixels; a clear error or a reject for every bad input."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fer_data.fer_csv import REASONS, DataError, read_fer2013
from fer_data.readers.result import REJECT_COLUMNS

HEADER = "emotion,pixels,Usage\n"


def _row(emotion: object = 3, pixels: str | None = None, usage: str = "Training") -> str:
    pixels = pixels if pixels is not None else " ".join(["7"] * 2304)
    return f"{emotion},{pixels},{usage}\n"


def _write(tmp_path: Path, text: str, name: str = "fer2013.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_round_trips_real_pixels_exactly(
    fer2013_frame: pd.DataFrame, fer2013_sample_csv: Path
) -> None:
    parsed = read_fer2013(fer2013_sample_csv)
    assert parsed.n_rows == len(fer2013_frame) and parsed.rejects.empty
    expected = np.stack([np.asarray(s.split(), np.uint8) for s in fer2013_frame["pixels"]])
    np.testing.assert_array_equal(parsed.images.reshape(len(expected), -1), expected)
    np.testing.assert_array_equal(parsed.emotion, fer2013_frame["emotion"].to_numpy())
    np.testing.assert_array_equal(parsed.usage, fer2013_frame["Usage"].to_numpy(dtype=object))
    # row_id is the data row of the file being read
    np.testing.assert_array_equal(parsed.row_id, np.arange(len(fer2013_frame)))


def test_gzip_and_plain_give_identical_tables(fer2013_sample_csv: Path, tmp_path: Path) -> None:
    gz = tmp_path / "fer2013.csv.gz"
    gz.write_bytes(gzip.compress(fer2013_sample_csv.read_bytes()))
    plain, packed = read_fer2013(fer2013_sample_csv), read_fer2013(gz)
    np.testing.assert_array_equal(plain.images, packed.images)
    np.testing.assert_array_equal(plain.emotion, packed.emotion)


def test_crlf_quotes_and_bom_are_accepted(tmp_path: Path) -> None:
    pixels = " ".join(str(i % 256) for i in range(2304))
    text = "\ufeff" + HEADER.replace("\n", "\r\n") + f'1,"{pixels}",PublicTest\r\n'
    parsed = read_fer2013(_write(tmp_path, text))
    assert parsed.rejects.empty
    np.testing.assert_array_equal(parsed.images[0].ravel(), np.arange(2304) % 256)
    assert parsed.usage[0] == "PublicTest" and parsed.emotion[0] == 1


def test_missing_file_says_where_to_put_the_download(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"not found.*Kaggle.*put it"):
        read_fer2013(tmp_path / "nope" / "fer2013.csv")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "file is empty"),
        ("\n\n", "file is empty"),
        (HEADER, "no data rows"),
        (
            "emotion,pixels\n" + _row(),
            "no column 'Usage'; expected the header 'emotion,pixels,Usage'",
        ),
        ("label,pixels,Usage\n" + _row(), "no column 'emotion'; expected the header"),
        ("emotion,pixels,Usage,pixels\n" + _row(), "the column 'pixels' 2 times"),
        ("Usage , pixels\n" + _row(), "no column 'emotion'"),
        (_row() + _row(), "header is missing"),
        ("\x00\x01binary\x00junk\n" + _row(), "is not a text CSV"),
    ],
)
def test_file_level_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DataError, match=message) as info:
        read_fer2013(_write(tmp_path, text))
    assert "fer2013.csv" in str(info.value)


def test_truncated_gzip(tmp_path: Path, fer2013_sample_csv: Path) -> None:
    packed = gzip.compress(fer2013_sample_csv.read_bytes())
    path = tmp_path / "fer2013.csv.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataError, match="truncated or corrupt gzip"):
        read_fer2013(path)


BAD_ROWS = {
    "wrong pixel count": (_row(pixels=" ".join(["1"] * 2303)), 6, 2303),
    "too many pixels": (_row(pixels=" ".join(["1"] * 2305)), 6, 2305),
    "non-integer pixel": (_row(pixels=" ".join(["1"] * 2303 + ["1.5"])), 4, None),
    "letter pixel": (_row(pixels="x " + " ".join(["1"] * 2303)), 4, None),
    "negative pixel": (_row(pixels="-1 " + " ".join(["1"] * 2303)), 4, None),
    "pixel above 255": (_row(pixels="256 " + " ".join(["1"] * 2303)), 5, 256),
    "label 7": (_row(emotion=7), 3, 7),
    "label -1": (_row(emotion=-1), 2, None),
    "label text": (_row(emotion="happy"), 2, None),
    "unknown usage": (_row(usage="Validation"), 7, None),
    "missing field": ("3," + " ".join(["1"] * 2304) + "\n", 1, 2),
    "empty line": ("\n", 8, None),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_rows_are_rejected_with_line_and_reason(tmp_path: Path, case: str) -> None:
    bad_row, code, detail = BAD_ROWS[case]
    good = [_row(emotion=i % 7) for i in range(5)]
    text = HEADER + "".join(good[:2]) + bad_row + "".join(good[2:])
    parsed = read_fer2013(_write(tmp_path, text))
    assert parsed.n_rows == 6 and len(parsed.row_id) == 5
    assert parsed.row_id.tolist() == [0, 1, 3, 4, 5]
    reject = parsed.rejects.iloc[0]
    assert len(parsed.rejects) == 1
    assert reject["line"] == 4 and reject["row_id"] == 2  # header is line 1
    assert reject["reason"] == REASONS[code]
    if detail is not None:
        assert reject["detail"] == detail
    assert reject["raw"] == bad_row.rstrip("\n")  # nothing the user gave is lost
    assert list(parsed.rejects.columns) == list(REJECT_COLUMNS)
    assert reject["file"] == str(tmp_path / "fer2013.csv")


def _reordered(frame: pd.DataFrame, path: Path, header: list[str]) -> Path:
    """The sample with its columns in the order (and spelling) of ``header``."""
    columns = {"emotion": "emotion", "pixels": "pixels", "usage": "Usage"}
    keys = [columns[name.strip().strip('"').lower()] for name in header]
    body = frame[keys].astype(str).agg(",".join, axis=1)
    path.write_text(",".join(header) + "\n" + "\n".join(body) + "\n")
    return path


@pytest.mark.parametrize(
    "header",
    [
        ["emotion", " Usage", " pixels"],  # icml_face_data.csv
        ["pixels", "Usage", "emotion"],
        ["Usage ", "EMOTION", '"pixels"'],
    ],
)
def test_any_column_order_reads_exactly_as_fer2013_csv(
    fer2013_frame: pd.DataFrame, fer2013_sample_csv: Path, tmp_path: Path, header: list[str]
) -> None:
    plain = read_fer2013(fer2013_sample_csv)
    other = read_fer2013(_reordered(fer2013_frame, tmp_path / "icml_face_data.csv", header))
    assert other.rejects.empty and other.n_rows == plain.n_rows
    np.testing.assert_array_equal(other.row_id, plain.row_id)
    np.testing.assert_array_equal(other.images, plain.images)
    np.testing.assert_array_equal(other.emotion, plain.emotion)
    np.testing.assert_array_equal(other.usage, plain.usage)


def test_extra_columns_are_ignored_and_reported(tmp_path: Path) -> None:
    pixels = " ".join(["9"] * 2304)
    text = f"subject,emotion,pixels,Usage\ns1,4,{pixels},Training\ns2,5,{pixels}\n"
    parsed = read_fer2013(_write(tmp_path, text))
    assert parsed.notes["ignored_columns"] == ["subject"]
    assert parsed.emotion.tolist() == [4]
    reject = parsed.rejects.iloc[0]
    assert reject["reason"] == "wrong number of fields (expected 4: subject,emotion,pixels,Usage)"
    assert reject["detail"] == 3
