"""FER+ labels: strict reading, checked row alignment with FER2013, and the four label schemes of
Barsoum et al. (2016) as the FERPlus reference code applies them; on the real vote file and case."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from fer_data.errors import DataError
from fer_data.faces import EMOTIONS, USAGES
from fer_data.ferplus import (
    DROP_REASONS,
    FER2013_TO_FERPLUS,
    FERPLUS_CLASSES,
    FERPLUS_TO_FER2013,
    HEADER,
    LOW_COVER_30,
    LOW_COVER_TOP,
    NO_IMAGE,
    NO_MAJORITY,
    NO_VOTES,
    SCHEMES,
    TIE_OVER_3,
    TOP_NOT_A_FACE,
    TOP_UNKNOWN,
    check_alignment,
    class_counts,
    draw_labels,
    make_labels,
    read_votes,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FERBENCH_SHARED", REPO_ROOT.parent / "shared"))
VOTES_CSV = SHARED / "data/ferplus/fer2013new.csv"
FER2013_GZ = SHARED / "data/fer2013/fer2013.csv.gz"
CASE_CSV = SHARED / "cases/ferplus-labels/fer2013new.csv"
HEADER_LINE = ",".join(HEADER)
N_ROWS = 35_887


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not found (set FERBENCH_SHARED or put ../shared beside the repo)")
    return path


@pytest.fixture(scope="module")
def votes():
    return read_votes(_need(VOTES_CSV))


@pytest.fixture(scope="module")
def fer2013_usage_emotion() -> tuple[np.ndarray, np.ndarray]:
    """Usage (object) and emotion (int64) of every row of the real FER2013, in file order."""
    from isal import igzip

    lines = igzip.decompress(_need(FER2013_GZ).read_bytes()).split(b"\n")[1:]
    if not lines[-1]:
        lines.pop()
    usage = np.array([line[line.rfind(b",") + 1 :].decode().strip() for line in lines], object)
    emotion = np.array([int(line[: line.find(b",")]) for line in lines], np.int64)
    return usage, emotion


def _write(tmp_path: Path, rows: list[str], name: str = "fer2013new.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER_LINE, *rows]) + "\n")
    return path


# --- the case: the small vote file of ../shared/cases/ferplus-labels ------------------------------


def test_case_not_a_face_row_is_dropped_and_counted_in_every_scheme() -> None:
    case = read_votes(_need(CASE_CSV))
    assert case.n_rows == len(case) == 70 and case.rejects.empty
    assert case.image_name[4] == "" and case.votes[4, -1] == 10
    for scheme in SCHEMES:
        labels = make_labels(case, scheme)
        assert not labels.keep[4] and labels.drop_reason[4] == TOP_NOT_A_FACE
        assert labels.counts[TOP_NOT_A_FACE] == 1 and labels.majority[4] == -1
        assert not labels.targets[4].any()
        assert labels.counts["kept"] + sum(labels.counts[r] for r in DROP_REASONS[scheme]) == 70
    majority = make_labels(case, "majority")
    # Votes (neutral, happiness) = (n, 10 - n): 5/5 has no majority; 1/9 loses its single vote.
    assert majority.counts[NO_MAJORITY] == 7 and majority.counts["kept"] == 62
    assert majority.majority[3] == FERPLUS_CLASSES.index("happiness")  # 3 / 7
    assert majority.majority[7] == FERPLUS_CLASSES.index("neutral")  # 7 / 3
    soft = make_labels(case, "crossentropy")
    np.testing.assert_allclose(soft.targets[3, :2], [0.3, 0.7])  # 30% + 70%: both taken
    np.testing.assert_allclose(soft.targets[2, :2], [0.0, 1.0])  # 8 votes reach 75% alone


# --- the full vote file ---------------------------------------------------------------------------


def test_full_file_is_read_whole_and_strictly(votes) -> None:
    assert votes.n_rows == len(votes) == N_ROWS and votes.rejects.empty
    np.testing.assert_array_equal(votes.row_id, np.arange(N_ROWS))
    assert votes.votes.shape == (N_ROWS, 10) and votes.votes.dtype == np.int16
    assert {u: int(np.sum(votes.usage == u)) for u in USAGES} == {
        "Training": 28_709,
        "PublicTest": 3_589,
        "PrivateTest": 3_589,
    }
    no_image = votes.image_name == ""
    assert no_image.sum() == 173 and (votes.votes[no_image, -1] == 10).all()  # as its README says


def test_full_file_aligns_with_the_real_fer2013(votes, fer2013_usage_emotion) -> None:
    usage, emotion = fer2013_usage_emotion
    report = check_alignment(votes, usage, len(usage), emotion=emotion, source=str(FER2013_GZ))
    assert report.n_rows == report.usage_rows == N_ROWS
    assert report.agreement_checked and report.agreement_rows == 31_264
    assert 0.67 < report.agreement < 0.69  # 21,220 of 31,264; misaligned rows give ~18%


def test_majority_class_counts_per_usage(votes) -> None:
    """FER+ majority labels per Usage. Neither the FERPlus README nor the paper publishes per-class
    counts to compare with; these equal what FERPlus's own reader rules give on this file (checked
    row by row against a transcription of src/ferplus.py while writing fer_data/ferplus.py)."""
    table = class_counts(make_labels(votes, "majority"))
    assert list(table.columns) == [*FERPLUS_CLASSES, "total"]
    assert table.loc["Training"].tolist() == [8740, 7287, 3149, 3014, 2100, 119, 532, 119, 25060]
    assert table.loc["PublicTest"].tolist() == [1182, 865, 415, 351, 287, 24, 62, 13, 3199]
    assert table.loc["PrivateTest"].tolist() == [1090, 893, 396, 384, 273, 18, 83, 16, 3153]
    assert table.loc["all", "total"] == 31_412


@pytest.mark.parametrize(
    ("scheme", "kept", "dropped"),
    [
        ("majority", 31_412, {NO_MAJORITY: 4_200, TOP_UNKNOWN: 99, TOP_NOT_A_FACE: 176}),
        (
            "crossentropy",
            34_966,
            {TOP_UNKNOWN: 222, TOP_NOT_A_FACE: 177, TIE_OVER_3: 127, LOW_COVER_TOP: 395},
        ),
        ("multi_target", 34_615, {TOP_UNKNOWN: 164, TOP_NOT_A_FACE: 177, LOW_COVER_30: 931}),
    ],
)
def test_each_scheme_keeps_drops_and_counts_every_row(votes, scheme, kept, dropped) -> None:
    labels = make_labels(votes, scheme)
    assert labels.classes == FERPLUS_CLASSES and labels.targets.shape == (N_ROWS, 8)
    assert labels.targets.dtype == np.float32 and labels.majority.dtype == np.int8
    expected = {"rows": N_ROWS, "kept": kept} | {r: 0 for r in DROP_REASONS[scheme]} | dropped
    assert labels.counts == expected
    np.testing.assert_array_equal(labels.keep, labels.drop_reason == "")
    assert not labels.targets[~labels.keep].any()
    on = labels.targets[labels.keep]
    if scheme == "multi_target":
        assert set(np.unique(on)) == {0.0, 1.0} and (on.sum(axis=1) >= 1).all()
        assert (on.sum(axis=1) > 1).sum() > 1000  # really multi-label, not one-hot in disguise
    else:
        np.testing.assert_allclose(on.sum(axis=1), 1.0, rtol=1e-6)
    # The majority labels are the same whatever the scheme (they are FER+'s test labels).
    assert (labels.majority >= 0).sum() == 31_412


def test_probability_and_crossentropy_share_one_distribution(votes) -> None:
    pld, cel = make_labels(votes, "probability"), make_labels(votes, "crossentropy")
    np.testing.assert_array_equal(pld.targets, cel.targets)
    assert ((cel.targets > 0) & (cel.targets < 1)).any(axis=1).sum() > 10_000  # soft, not one-hot


def test_majority_targets_are_one_hot_of_the_codes(votes) -> None:
    labels = make_labels(votes, "majority")
    kept = labels.keep
    np.testing.assert_array_equal(labels.keep, labels.majority >= 0)
    np.testing.assert_array_equal(labels.targets[kept].argmax(axis=1), labels.majority[kept])
    np.testing.assert_array_equal(labels.targets[kept].sum(axis=1), 1.0)


# --- alignment failures ---------------------------------------------------------------------------


def test_shifted_copy_fails_alignment_naming_the_first_rows(
    votes, fer2013_usage_emotion, tmp_path: Path
) -> None:
    lines = VOTES_CSV.read_text().splitlines()
    shifted = _write(tmp_path, [*lines[2:], lines[-1]])  # first row lost, last row doubled
    usage, _ = fer2013_usage_emotion
    with pytest.raises(DataError, match=r"Usage differs from .* on 2 of 35,887 rows") as err:
        check_alignment(read_votes(shifted), usage, len(usage))
    assert "data row 28708 (line 28710): FER+ 'PublicTest', FER2013 'Training'" in str(err.value)
    assert str(shifted) in str(err.value)


def test_row_count_mismatch_fails_alignment(fer2013_usage_emotion, tmp_path: Path) -> None:
    lines = VOTES_CSV.read_text().splitlines()
    usage, _ = fer2013_usage_emotion
    with pytest.raises(DataError, match=r"35,886 data rows, but fer2013.csv.gz has 35,887"):
        check_alignment(
            read_votes(_write(tmp_path, lines[1:-1])), usage, len(usage), source="fer2013.csv.gz"
        )


def test_rows_reordered_inside_their_usage_fail_on_the_labels(votes, fer2013_usage_emotion) -> None:
    """An image-folder copy has each Usage block in class order: Usage matches row by row, so only
    the label agreement can tell the rows are not FER+'s."""
    usage, emotion = fer2013_usage_emotion
    block = np.array([USAGES.index(u) for u in usage])
    order = np.lexsort((emotion, block))
    np.testing.assert_array_equal(usage[order], usage)  # blocks are contiguous: Usage unchanged
    with pytest.raises(DataError, match=r"agree with the FER\+ majority on only 1\d\.\d% of"):
        check_alignment(votes, usage, len(usage), emotion=emotion[order])


def test_alignment_on_a_sample_uses_its_row_ids(votes, fer2013_usage_emotion) -> None:
    usage, emotion = fer2013_usage_emotion
    rows = np.random.default_rng(0).choice(N_ROWS, 500, replace=False)
    report = check_alignment(votes, usage[rows], N_ROWS, row_id=rows, emotion=emotion[rows])
    assert report.usage_rows == 500 and report.agreement_checked and report.agreement > 0.55
    with pytest.raises(DataError, match="agree with the FER"):
        check_alignment(votes, usage[rows], N_ROWS, row_id=rows, emotion=np.roll(emotion, 1)[rows])
    tiny = check_alignment(
        votes, usage[rows[:20]], N_ROWS, row_id=rows[:20], emotion=np.roll(emotion, 1)[rows[:20]]
    )
    assert not tiny.agreement_checked  # too few rows to judge: reported, not held to the bound


# --- the rules, row by row ------------------------------------------------------------------------

# (votes neutral..NF, {scheme: expected}); expected is a drop reason or the 8 targets.
RULES = [
    # Single votes are removed everywhere; with nothing left the row is dropped.
    ("1,1,1,1,1,1,1,1,1,1", dict.fromkeys(SCHEMES, NO_VOTES)),
    # 5 of 10 is no majority, but 5 of the 5 left after single-vote removal is.
    (
        "5,1,1,1,1,1,0,0,0,0",
        {"majority": [1, 0, 0, 0, 0, 0, 0, 0], "crossentropy": [1, 0, 0, 0, 0, 0, 0, 0]},
    ),
    # The first row of fer2013new.csv: 4,3,2 left; no majority; top groups 4 then 3 reach 75%.
    (
        "4,0,0,1,3,2,0,0,0,0",
        {
            "majority": NO_MAJORITY,
            "crossentropy": [4 / 7, 0, 0, 0, 3 / 7, 0, 0, 0],
            "multi_target": [1, 0, 0, 0, 1, 0, 0, 0],
        },
    ),
    # A tie has no majority; a tie group is taken whole.
    (
        "4,4,2,0,0,0,0,0,0,0",
        {
            "majority": NO_MAJORITY,
            "probability": [0.5, 0.5, 0, 0, 0, 0, 0, 0],
            "multi_target": [1, 1, 0, 0, 0, 0, 0, 0],
        },
    ),
    ("4,3,3,0,0,0,0,0,0,0", {"crossentropy": [0.4, 0.3, 0.3, 0, 0, 0, 0, 0]}),
    # A tie group that makes more than 3 tags; five tags tie and none reaches 30%.
    (
        "4,2,2,2,0,0,0,0,0,0",
        {"majority": NO_MAJORITY, "probability": TIE_OVER_3, "multi_target": LOW_COVER_30},
    ),
    (
        "2,2,2,2,2,0,0,0,0,0",
        {"majority": NO_MAJORITY, "probability": TIE_OVER_3, "multi_target": LOW_COVER_30},
    ),
    # Unknown and NF reached after an emotion are left out.
    (
        "6,0,0,0,0,0,0,0,2,2",
        {"majority": [1, 0, 0, 0, 0, 0, 0, 0], "crossentropy": [1, 0, 0, 0, 0, 0, 0, 0]},
    ),
    (
        "4,0,0,0,0,0,0,0,4,2",
        {
            "majority": NO_MAJORITY,
            "crossentropy": LOW_COVER_TOP,
            "multi_target": [1, 0, 0, 0, 0, 0, 0, 0],
        },
    ),
    (
        "3,0,0,0,0,0,0,0,4,3",
        {"majority": NO_MAJORITY, "crossentropy": TOP_UNKNOWN, "multi_target": TOP_UNKNOWN},
    ),
    ("2,0,0,0,0,0,0,0,6,2", dict.fromkeys(SCHEMES, TOP_UNKNOWN)),
    ("0,0,0,0,0,0,0,0,0,10", dict.fromkeys(SCHEMES, TOP_NOT_A_FACE)),
    # Multi-target takes every tag with >= 30%; contempt is a class of its own.
    (
        "5,0,3,0,0,0,2,0,0,0",
        {
            "multi_target": [1, 0, 1, 0, 0, 0, 0, 0],
            "crossentropy": [5 / 8, 0, 3 / 8, 0, 0, 0, 0, 0],
        },
    ),
    (
        "2,0,0,0,0,0,0,8,0,0",
        {"majority": [0, 0, 0, 0, 0, 0, 0, 1], "crossentropy": [0, 0, 0, 0, 0, 0, 0, 1]},
    ),
]


def test_label_rules_row_by_row(tmp_path: Path) -> None:
    path = _write(tmp_path, [f"Training,fer{i:07d}.png,{v}" for i, (v, _) in enumerate(RULES)])
    votes = read_votes(path)
    labels = {scheme: make_labels(votes, scheme) for scheme in SCHEMES}
    for row, (text, expected) in enumerate(RULES):
        for scheme, want in expected.items():
            got = labels[scheme]
            where = f"votes {text}, {scheme}"
            if isinstance(want, str):
                assert got.drop_reason[row] == want, where
                assert not got.keep[row], where
            else:
                assert got.keep[row], f"{where}: dropped ({got.drop_reason[row]})"
                np.testing.assert_allclose(got.targets[row], want, rtol=1e-6, err_msg=where)


def test_a_face_row_without_fer_plus_image_is_dropped_and_counted(tmp_path: Path) -> None:
    votes = read_votes(
        _write(
            tmp_path,
            ["Training,,10,0,0,0,0,0,0,0,0,0", "Training,fer0000001.png,10,0,0,0,0,0,0,0,0,0"],
        )
    )
    for scheme in SCHEMES:
        labels = make_labels(votes, scheme)
        assert labels.drop_reason.tolist() == [NO_IMAGE, ""] and labels.counts[NO_IMAGE] == 1
        assert labels.majority.tolist() == [-1, 0]


# --- strict reading -------------------------------------------------------------------------------


def test_bad_rows_are_counted_rejects_with_line_and_reason(tmp_path: Path) -> None:
    good = "Training,fer0000000.png,10,0,0,0,0,0,0,0,0,0"
    rows = [
        good,
        "Training,fer0000001.png,10,0,0,0,0,0,0,0,0",  # 11 fields
        "Training,fer0000002.png,x,0,0,0,0,0,0,0,0,10",
        "Training,fer0000003.png,2.5,0,0,0,0,0,0,0,0,7",
        "PublicTest,fer0000004.png,0,0,0,0,0,0,0,0,0,100",
        "PublicTest,fer0000005.png,10,0,0,0,0,0,-1,0,0,1",
        "Test,fer0000006.png,10,0,0,0,0,0,0,0,0,0",
        "",
        ' PrivateTest , "fer0000008.png" , 0 , 10 ,0,0,0,0,0,0,0,0\r',
        "PrivateTest,fer0000009.png,11,0,0,0,0,0,0,0,0,0",
    ]
    votes = read_votes(_write(tmp_path, rows))
    assert votes.n_rows == 10 and votes.row_id.tolist() == [0, 8]
    assert votes.usage.tolist() == ["Training", "PrivateTest"]
    assert votes.image_name.tolist() == ["fer0000000.png", "fer0000008.png"]
    rejects = votes.rejects
    assert rejects["line"].tolist() == [3, 4, 5, 6, 7, 8, 9, 11]
    assert rejects["row_id"].tolist() == [1, 2, 3, 4, 5, 6, 7, 9]
    reasons = rejects["reason"].tolist()
    assert reasons[0].startswith("11 fields; expected 12")
    assert reasons[1] == "vote in neutral is not a non-negative integer: 'x'"
    assert reasons[2] == "vote in neutral is not a non-negative integer: '2.5'"
    assert reasons[3] == "vote in NF above 10 (FER+ has 10 taggers): 100"
    assert reasons[4] == "negative vote in fear: '-1'"
    assert reasons[5].startswith("unknown Usage 'Test'")
    assert reasons[6] == "empty line"
    assert reasons[7] == "vote in neutral above 10 (FER+ has 10 taggers): 11"
    assert rejects["raw"].iloc[1] == rows[2]


def test_gzip_copy_reads_the_same(tmp_path: Path) -> None:
    plain = _need(CASE_CSV)
    packed = tmp_path / "fer2013new.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    a, b = read_votes(plain), read_votes(packed)
    np.testing.assert_array_equal(a.votes, b.votes)
    np.testing.assert_array_equal(a.usage, b.usage)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"FER\+ vote file not found.*microsoft/FERPlus"),
        (b"", r"file is empty"),
        (b"emotion,pixels,Usage\n0,1 2 3,Training\n", r"this is the FER2013 image file"),
        (b"Usage,Image name,neutral,happy\n", r"expected the FER\+ header"),
        (HEADER_LINE.encode() + b"\n", r"has the header but no data rows"),
        (
            HEADER_LINE.encode() + b"\nTraining,a,b\n",
            r"none of the 1 data rows is a valid FER\+ vote row \(line 2: 3 fields",
        ),
        (b"\x1f\x8b\x08\x00garbage", r"truncated or corrupt gzip"),
        (b"\xff\xfe\x00U\x00s", r"not UTF-8 text"),
    ],
)
def test_file_level_problems_are_data_errors_naming_the_file(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "fer2013new.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message) as err:
        read_votes(path)
    assert str(path) in str(err.value)


def test_a_folder_is_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a folder"):
        read_votes(tmp_path)


# --- classes, drawing, schemes --------------------------------------------------------------------


def test_class_maps_between_fer2013_and_fer_plus() -> None:
    fer_name = {"Angry": "anger", "Happy": "happiness", "Sad": "sadness"}
    for code, name in enumerate(EMOTIONS):
        plus = FER2013_TO_FERPLUS[code]
        assert FERPLUS_CLASSES[plus] == fer_name.get(name, name.lower())
        assert FERPLUS_TO_FER2013[plus] == code
    assert FERPLUS_TO_FER2013[FERPLUS_CLASSES.index("contempt")] == -1


def test_draw_labels_follows_the_distribution(votes) -> None:
    labels = make_labels(votes, "probability")
    targets = labels.targets[:2000]
    rng = np.random.default_rng(7)
    draws = np.stack([draw_labels(targets, rng) for _ in range(400)])  # 400 epochs
    kept = labels.keep[:2000]
    assert (draws[:, ~kept] == -1).all() and (draws[:, kept] >= 0).all()
    drawn = draws[:, kept]
    assert (np.take_along_axis(targets[kept], drawn.T.astype(np.int64), axis=1) > 0).all()
    frequency = np.stack([(drawn == c).mean(axis=0) for c in range(8)], axis=1)
    assert np.abs(frequency - targets[kept]).max() < 0.125  # 400 draws: 5 sd at p = 0.5


def test_unknown_scheme_is_refused(votes) -> None:
    with pytest.raises(ValueError, match="unknown FER\\+ label scheme 'soft'"):
        make_labels(votes, "soft")
